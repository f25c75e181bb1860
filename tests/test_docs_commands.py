"""Every console command written in README.md and docs/*.md names a real tool, a real
subcommand and only options that tool has (issue 15, point 10: a documented command must not
silently break). Placeholders (``DIR``, ``...``) are allowed as values; what is checked is the
command's shape against the real argparse parsers, so renaming or dropping a flag without
updating the docs fails here."""
from __future__ import annotations

import argparse
import re
import shlex

import pytest
from conftest import REPO, parser_of

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"```[a-z]*(?: example)?\n(.*?)```", re.S)
INLINE = re.compile(r"`(xdomain-[a-z-]+ [^`]*)`")


def _tools():
    from fairseq_xdomain import eval_bleu, launch, paths, report, stdm, synthetic, wordsim
    from fairseq_xdomain.embeddings import cli as embed_cli
    from fairseq_xdomain.experiments import cli as run_cli
    from fairseq_xdomain.preprocess import cli as prep_cli
    from fairseq_xdomain.ubli.commands import cli as ubli_cli

    return {"xdomain-ubli": ubli_cli.main, "xdomain-embed": embed_cli.main,
            "xdomain-prep": prep_cli.main, "xdomain-wordsim": wordsim.main,
            "xdomain-stdm": stdm.main, "xdomain-report": report.main,
            "xdomain-eval-bleu": eval_bleu.main, "xdomain-synth": synthetic.main,
            "xdomain-train": launch.build_parser, "xdomain-recipe": paths.recipe_main,
            "xdomain-user-dir": paths.user_dir_main, "xdomain-run": run_cli.main,
            "xdomain-docs": paths.docs_main}


def documented_commands():
    """(file, command words) of every ``xdomain-*`` command line in the docs."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        chunks = [b.replace("\\\n", " ") for b in FENCE.findall(text)]
        lines = [ln for chunk in chunks for ln in chunk.splitlines()]
        lines += INLINE.findall(FENCE.sub("", text))
        for line in lines:
            line = line.strip().removeprefix("$ ")
            at = line.find("xdomain-")
            if at != 0:
                continue
            line = line.split(" #", 1)[0].split(" | ", 1)[0].split(" > ", 1)[0]
            line = line.split(" && ", 1)[0].split(" ; ", 1)[0]
            try:
                words = shlex.split(line)
            except ValueError:
                words = line.split()
            found.append((doc.name, words))
    return found


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def _options(parser):
    return {o for a in parser._actions for o in a.option_strings}


COMMANDS = documented_commands()


def test_docs_have_commands():
    tools = {w[0] for _, w in COMMANDS}
    assert {"xdomain-ubli", "xdomain-embed", "xdomain-prep", "xdomain-wordsim"} <= tools


@pytest.mark.parametrize("doc,words", COMMANDS, ids=[" ".join(w)[:60] for _, w in COMMANDS])
def test_documented_command_matches_its_parser(doc, words):
    tools = _tools()
    tool = words[0]
    assert tool in tools, f"{doc}: {tool} is not a console command of this package"
    if tool in ("xdomain-user-dir",):
        return
    if tool == "xdomain-train":
        parser, args = tools[tool](), words[1:words.index("--")] if "--" in words else words[1:]
    elif tool == "xdomain-recipe":
        return  # its arguments go to the recipe
    elif tool == "xdomain-ubli" and len(words) > 1 and words[1] == "grid":
        parser, args = parser_of(tools[tool], ["grid"]), words[2:]
    else:
        parser, args = parser_of(tools[tool]), words[1:]
    while True:
        subs = _subparsers(parser)
        if not subs:
            break
        positional = [a for a in args if not a.startswith("-")]
        if ("--help" in args or "--version" in args) and (
                not positional or positional[0].isupper()):
            return  # `TOOL --help`, `TOOL STEP --help`: any subcommand
        if positional and positional[0] == "...":
            return  # `TOOL ... --plan`: an option every subcommand has
        if positional and "|" in positional[0]:  # `TOOL a|b|c ...`: each of them
            at = args.index(positional[0])
            for name in positional[0].split("|"):
                test_documented_command_matches_its_parser(
                    doc, [tool, *args[:at], name, *args[at + 1:]])
            return
        assert positional and positional[0] in subs, (
            f"{doc}: `{' '.join(words)}`: subcommand must be one of {sorted(subs)}")
        parser, args = subs[positional[0]], args[args.index(positional[0]) + 1:]
    options = _options(parser)
    unknown = [a.split("=", 1)[0] for a in args
               if a.startswith("--") and a.split("=", 1)[0] not in options]
    assert not unknown, f"{doc}: `{' '.join(words)}`: {tool} has no option {unknown}"
