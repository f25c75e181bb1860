"""The command-line conventions (docs/design.md, "CLI conventions"), checked on every parser of
every console tool declared in setup.py, subcommands included: ``--version``; a help text for
every option and positional, ending with its default where it has one; ``common/cli.py``'s log
format; every ``docs/X.md`` that a help or error text names is a page the package ships
(``xdomain-docs X``). A tool or option added without these fails here (the checker's own test
below shows that it does)."""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import re
from pathlib import Path

import pytest
from conftest import REPO, run

import fairseq_xdomain
from fairseq_xdomain import paths

ENTRY = re.compile(r'"(xdomain-[\w-]+)=([\w.]+):(\w+)"')
TOOLS = ENTRY.findall((REPO / "setup.py").read_text(encoding="utf-8"))


class _Captured(Exception):
    pass


def parser_of(main) -> argparse.ArgumentParser:
    """The parser ``main(["--help"])`` builds (captured before it parses)."""
    seen = {}

    def capture(self, args=None, namespace=None):
        seen["parser"] = self
        raise _Captured

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(argparse.ArgumentParser, "parse_args", capture)
        mp.setattr(argparse.ArgumentParser, "parse_known_args", capture)
        with contextlib.suppress(_Captured), contextlib.redirect_stdout(io.StringIO()):
            main(["--help"])
    return seen["parser"]


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def convention_problems(parser: argparse.ArgumentParser, where: str) -> list[str]:
    """What in ``parser`` (and its subcommands) breaks a convention, one line each."""
    problems = []
    if not any(isinstance(a, argparse._VersionAction) for a in parser._actions):
        problems.append(f"{where}: no --version")
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction
                      | argparse._SubParsersAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        if not (action.help or "").strip():
            problems.append(f"{where} {name}: no help")
            continue
        if (action.option_strings and not action.required
                and action.default not in (None, False, argparse.SUPPRESS)):
            text = formatter._get_help_string(action)
            if "default" not in text:
                problems.append(f"{where} {name}: its help does not show the default")
    for sub_name, sub in _subparsers(parser):
        problems += convention_problems(sub, f"{where} {sub_name}")
    return problems


def _main(module: str, func: str):
    return getattr(importlib.import_module(module), func)


def test_every_tool_is_checked():
    names = {name for name, _, _ in TOOLS}
    assert {"xdomain-ubli", "xdomain-wordsim", "xdomain-prep", "xdomain-embed", "xdomain-run",
            "xdomain-docs", "xdomain-recipe", "xdomain-train", "xdomain-synth"} <= names


@pytest.mark.parametrize("tool,module,func", TOOLS, ids=[t for t, _, _ in TOOLS])
def test_parser_conventions(tool, module, func):
    parser = parser_of(_main(module, func))
    problems = convention_problems(parser, tool)
    if tool == "xdomain-ubli":  # grid parses its own flags (it is listed as a subcommand too)
        from fairseq_xdomain.ubli.commands import grid

        problems += convention_problems(grid.build_parser(), "xdomain-ubli grid (own)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("tool,module,func", TOOLS, ids=[t for t, _, _ in TOOLS])
def test_version(tool, module, func, capsys):
    with pytest.raises(SystemExit) as exit_:
        _main(module, func)(["--version"])
    assert exit_.value.code in (0, None)
    assert capsys.readouterr().out.strip() == f"{tool} {fairseq_xdomain.__version__}"


def test_the_checker_fails_on_a_missing_help_default_or_version():
    from fairseq_xdomain.common.cli import ArgumentParser

    good = ArgumentParser(prog="t")
    good.add_argument("--n", type=int, default=3, help="a count")
    assert convention_problems(good, "t") == []
    bad = ArgumentParser(prog="t")
    sub = bad.add_subparsers().add_parser("s")
    sub.add_argument("--new-option", type=int, default=5)
    assert convention_problems(bad, "t") == ["t s --new-option: no help"]
    plain = argparse.ArgumentParser(prog="p")
    plain.add_argument("--k", type=int, default=7, help="k")
    assert convention_problems(plain, "p") == [
        "p: no --version", "p --k: its help does not show the default"]


def test_help_shows_defaults_and_aliases():
    out = run(["xdomain-ubli", "evaluate", "--help"]).stdout
    assert "--src-emb SRC_EMB, --src_emb SRC_EMB" in out
    assert "(default: auto)" in out and "--mapping-format" in out
    out = run(["xdomain-synth", "mismatched", "--help"]).stdout
    assert "(default: 0.85)" in out  # --domain-focus


def test_one_log_format(tmp_path):
    from fairseq_xdomain.common.cli import LOG_FORMAT

    proc = run(["xdomain-synth", "cipher", "--out", tmp_path / "c", "--n-train", "50",
                "--n-valid", "5", "--n-test", "5", "--vocab-size", "100"])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| (INFO|WARNING) \| ", line)
                         for line in lines), lines[:3]
    assert LOG_FORMAT == "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


def test_comma_separated_languages_in_embed_joint():
    from fairseq_xdomain.common.cli import split_list

    assert split_list("en,fr") == split_list(["en", "fr"]) == split_list(["en,fr"]) == ["en", "fr"]
    from fairseq_xdomain.embeddings.cli import build_parser

    a = build_parser().parse_args(["joint", "--inputs", "x", "y", "--langs", "en,fr", "--out", "o"])
    assert split_list(a.langs) == ["en", "fr"] and a.output_dir == "o"


def _cited_docs() -> dict[str, set[str]]:
    """docs/X.md named in the package's sources and recipes (help, errors, docstrings)."""
    cited: dict[str, set[str]] = {}
    files = [*(REPO / "fairseq_xdomain").rglob("*.py"), *(REPO / "recipes").glob("*.sh")]
    for f in files:
        for name in re.findall(r"docs/([a-z][a-z0-9-]*)\.md", f.read_text(encoding="utf-8")):
            cited.setdefault(name, set()).add(str(f.relative_to(REPO)))
    return cited


def test_every_cited_doc_is_shipped_and_opens():
    cited = _cited_docs()
    assert len(cited) >= 5
    missing = {n: sorted(w) for n, w in cited.items() if not (REPO / "docs" / f"{n}.md").is_file()}
    assert not missing, missing
    setup = (REPO / "setup.py").read_text(encoding="utf-8")
    assert '"fairseq_xdomain.docs": "docs"' in setup and '"fairseq_xdomain.docs": ["*.md"]' in setup
    for name in cited:
        assert paths.doc_path(f"docs/{name}.md") == paths.docs_dir() / f"{name}.md"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        paths.docs_main(["embeddings-ubli"])
    assert text.getvalue() == (REPO / "docs" / "embeddings-ubli.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [p.stem for p in sorted((REPO / "recipes").glob("*.sh"))])
def test_recipe_help(name, capsys):
    assert paths.recipe_main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.strip() and not re.search(r"recipes/\w+\.sh", out)  # names, not paths
    if "usage:" in out:
        assert f"usage: xdomain-recipe {name}" in out
    proc = run(["bash", REPO / "recipes" / f"{name}.sh", "--help"])  # run directly, too
    assert proc.stdout.strip() and "unbound variable" not in proc.stderr


def test_shipped_config_is_found(capsys):
    assert paths.recipe_main(["--path", "prep_en_fr.yaml"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "prep_en_fr.yaml" and path.is_file()
    assert paths.recipe_main(["prep_en_fr"]) == 0
    assert capsys.readouterr().out == path.read_text(encoding="utf-8")


def test_plugin_silences_only_the_known_hydra_warnings():
    """fairseq's own config build (Hydra compose) with the plugin loaded prints no Hydra
    warning; a Hydra warning of another kind still shows."""
    code = (
        "import warnings\n"
        "from fairseq import options\n"
        "from fairseq.dataclass.utils import convert_namespace_to_omegaconf\n"
        "import fairseq_xdomain\n"
        "fairseq_xdomain.register()\n"
        "p = options.get_training_parser()\n"
        "a = options.parse_args_and_arch(p, ['data', '--task', 'translation', '--arch', "
        "'transformer'])\n"
        "convert_namespace_to_omegaconf(a)\n"
        "from hydra._internal.deprecation_warning import deprecation_warning\n"
        "deprecation_warning('some other Hydra deprecation')\n"
    )
    proc = run(["python", "-c", code])
    hydra_lines = [line for line in proc.stderr.splitlines()
                   if "hydra" in line.lower() and "Warning" in line]
    assert len(hydra_lines) == 1 and "some other Hydra deprecation" in hydra_lines[0], \
        proc.stderr[-2000:]
