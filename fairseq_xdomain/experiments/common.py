"""The steps the UBLI and word-similarity drivers share: settings from a preset (+ overrides),
corpus preparation (Moses tokenization, Russian lemmatization), fastText (separate, joint), the
MUSE grid search. Each function adds one step (or two) to a :class:`~fairseq_xdomain.steps.Runner`
and returns the files it makes.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import logging
from pathlib import Path

import yaml

from ..common.atomic import atomic_open
from ..common.cli import LOG_DATEFMT, LOG_FORMAT
from ..common.errors import UserError
from ..presets import load_preset
from ..steps import Runner

logger = logging.getLogger("xdomain-run")

PRESETS = ("tiny", "cpu", "paper")


# ----------------------------------------------------------------------------- settings

def add_sample_argument(parser) -> None:
    """``--sample-lines N``: train on N lines drawn from each corpus (the paper: 5M)."""
    parser.add_argument("--sample-lines", type=int, default=None, metavar="N",
                        help="draw N lines at random from each corpus first (seed 0, empty "
                             "lines dropped; the paper samples 5,000,000); default: all lines")


def add_preset_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--preset``, ``--set SECTION.KEY=VALUE`` (repeatable), ``--force``, ``--plan`` and
    ``--no-progress``. ``default`` None: the hardware's (:func:`resolve_preset`)."""
    parser.add_argument("--preset", default=default, metavar="|".join(PRESETS) + "|FILE.yaml",
                        help=f"settings preset (default {default or 'paper with a GPU, cpu without'}"
                             f"): tiny = the demo's, cpu = "
                             f"real corpora on a CPU (docs/real-en-de.md), paper = the "
                             f"paper's (fairseq_xdomain/configs/KIND/NAME.yaml), or a file of "
                             f"one's own (docs/presets.md)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one preset value (YAML value), e.g. --set fasttext.dim=32 "
                             "--set grid.seeds=[123] --set grid.dis_most_frequent=500")
    parser.add_argument("--force", action="store_true",
                        help="run every step again, whatever was done before")
    from .plan import add_plan_argument

    add_plan_argument(parser)


def resolve_preset(args: argparse.Namespace) -> str:
    """Set ``args.preset`` when it was not given: ``paper`` where torch sees a GPU, ``cpu``
    where not (issue 23). Returns the words for the run's first line, e.g. ``preset cpu
    (default: no GPU)``."""
    if args.preset is not None:
        return f"preset {args.preset}"
    from .plan import has_gpu

    gpu = has_gpu()
    args.preset = "paper" if gpu else "cpu"
    return f"preset {args.preset} (default: {'a GPU is present' if gpu else 'no GPU found'})"


#: preset sections that hold options of a tool by name (any option name may be set)
FREE_SECTIONS = ("fairseq",)


def apply_override(settings: dict, text: str) -> None:
    """Set ``SECTION.KEY=VALUE`` (VALUE parsed as YAML) in ``settings``. UserError if malformed,
    if the section or key is unknown (``grid``: an ``xdomain-ubli grid`` option; a section of
    :data:`FREE_SECTIONS`: any name) or if the value's type differs from the preset's."""
    key, sep, value = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not name:
        raise UserError(f"--set {text}: expected SECTION.KEY=VALUE, e.g. fasttext.dim=32")
    if section not in settings or not isinstance(settings[section], dict):
        known = ", ".join(k for k, v in settings.items() if isinstance(v, dict))
        raise UserError(f"--set {text}: unknown section '{section}' (known: {known})")
    if section == "grid":  # (torch: read only when the grid is overridden)
        from ..ubli.grid_config import flat_names

        known = set(flat_names())
    else:
        known = set(settings[section])
    if name not in known and section not in FREE_SECTIONS:
        raise UserError(f"--set {text}: unknown key '{name}' under '{section}' (known: "
                        f"{', '.join(sorted(known))})")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise UserError(f"--set {text}: cannot parse the value: {err}") from None
    old = settings[section].get(name)
    if old is not None and parsed is not None and not (
            isinstance(parsed, type(old)) or (isinstance(old, float) and isinstance(parsed, int))):
        raise UserError(f"--set {text}: expected a {type(old).__name__} like the preset's "
                        f"{old!r}, got {parsed!r}")
    settings[section][name] = parsed


def load_settings(kind: str, args: argparse.Namespace, shortcuts: dict) -> dict:
    """The preset ``args.preset`` of ``kind``, then ``shortcuts`` ({arg name: (section, key)})
    where the argument was given, then every ``--set``. Returns a new dict."""
    settings = copy.deepcopy(load_preset(kind, args.preset))
    for arg, (section, key) in shortcuts.items():
        value = getattr(args, arg, None)
        if value is not None:
            settings.setdefault(section, {})[key] = value
    for text in args.overrides:
        apply_override(settings, text)
    return settings


def int_list(text: str) -> list[int]:
    """``"1,3,5"`` -> ``[1, 3, 5]`` (argparse type)."""
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("empty list")
    return values


def add_seeds_argument(parser, default: str = "--seed only") -> None:
    """``--seeds S1,S2,...``: the whole run once per seed (UNMT, MLM, word similarity);
    ``default``: what runs without it, for the help."""
    parser.add_argument("--seeds", default=None, metavar="S1,S2,...",
                        help="run everything once per seed, each under its own seed-S folder; "
                             f"xdomain-report gives mean ± sd over them (default: {default})")


def run_each_seed(args: argparse.Namespace, seeds: list[int], run, **folders) -> None:
    """``run`` once per seed on a copy of ``args`` with ``seed`` set and ``seeds`` cleared (the
    drivers' ``--seeds``); each ``folders`` item ``NAME=BASE`` sets ``NAME`` to
    ``BASE/seed-S`` (a string; ``BASE`` None: ``seed-S`` alone)."""
    for seed in seeds:
        one = copy.copy(args)
        one.seed, one.seeds = seed, None
        for name, base in folders.items():
            setattr(one, name, f"seed-{seed}" if base is None else str(Path(base) / f"seed-{seed}"))
        run(one)


def parse_seeds(args: argparse.Namespace) -> list[int] | None:
    """The seeds of ``--seeds`` (distinct non-negative integers), or None without it."""
    text = getattr(args, "seeds", None)
    if not text:
        return None
    try:
        seeds = int_list(text)
    except argparse.ArgumentTypeError as err:
        raise UserError(f"--seeds: {err}") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds '{text}': expected distinct non-negative integers")
    return seeds


def cores(n: int) -> int:
    """``n``, or every core this process may use for 0."""
    from ..preprocess.tokenize import default_workers

    return n if n and n > 0 else default_workers()


# ----------------------------------------------------------------------------- steps

def tokenizer_lang(lang: str) -> str:
    """The Moses rules for ``lang``: its own, else English (logged)."""
    from ..preprocess.tokenize import supported_langs

    if lang in supported_langs():
        return lang
    logger.warning("no Moses rules for '%s': tokenizing it with the English rules", lang)
    return "en"


def prep_steps(lang: str, tokenize: bool, sample: int | None) -> int:
    """How many steps :func:`prep_corpus` adds for one corpus."""
    return bool(sample) + (1 + (lang == "ru") if tokenize else 0)


def prep_corpus(runner: Runner, name: str, lang: str, source, work: Path, tok: dict,
                tokenize: bool = True, sample: int | None = None) -> str:
    """Steps ``sample.NAME`` (``sample`` lines drawn at random, seed 0, empty lines dropped: the
    paper's 5M-line samples), ``tokenize.NAME`` (Moses, ``tok["lowercase"]``,
    ``tok["workers"]``) and, for Russian, ``lemmatize.NAME`` (pymorphy; paper section 2.1);
    returns the text to train on, ``WORK/corpus/NAME.{sample,tok,lem}`` (``source`` itself
    without sampling and with ``tokenize`` False: already tokenized, e.g. generated)."""
    from ..preprocess.lemmatize import lemmatize_file
    from ..preprocess.sample import sample_file
    from ..preprocess.tokenize import tokenize_file
    from .plan import derive, hint

    text = str(source)
    if sample:
        sampled = str(work / "corpus" / f"{name}.sample")
        derive(runner, sampled, text)
        hint(runner, f"sample.{name}", "text")
        runner.step(f"sample.{name}", [text], {"n": sample, "seed": 0, "drop_empty": True},
                    lambda: ([sampled], sample_file(text, sampled, sample, seed=0,
                                                    drop_empty=True, show_progress=False)))
        text = sampled
    if not tokenize:
        if lang == "ru":  # the paper lemmatizes Russian (section 2.1): say it is not done here
            logger.warning("%s: --no-tokenize: the %s corpus is used as given, so it is NOT "
                           "lemmatized (the paper lemmatizes Russian; lemmatize it with "
                           "`xdomain-prep lemmatize`, or drop --no-tokenize)", source, lang)
        return text
    out = str(work / "corpus" / f"{name}.tok")
    derive(runner, out, text)
    rules = tokenizer_lang(lang)
    params = {"lang": rules, "lowercase": bool(tok.get("lowercase", True)),
              "workers": tok.get("workers", 0)}
    runner.step(f"tokenize.{name}", [text], params, lambda: ([out], tokenize_file(
        text, out, rules, lowercase=params["lowercase"], workers=cores(params["workers"]))))
    if lang != "ru":
        return out
    lem = str(work / "corpus" / f"{name}.lem")
    derive(runner, lem, out)
    runner.step(f"lemmatize.{name}", [out], {"lang": lang},
                lambda: ([lem], lemmatize_file(out, lem, lang)))
    return lem


def fasttext_config(ft: dict):
    """A :class:`FastTextConfig` from a preset's ``fasttext`` section (``thread`` 0 = every core)."""
    from ..embeddings.fasttext_train import FastTextConfig

    values = {k: v for k, v in ft.items() if v is not None}  # null: the tool's default
    values["thread"] = cores(values.get("thread", 0))
    for key in ("dim", "min_count", "epoch", "bucket"):
        if key in values and values[key] <= 0:
            raise UserError(f"fasttext.{key} must be positive, got {values[key]}")
    try:
        return FastTextConfig(**values)
    except TypeError as err:
        raise UserError(f"fasttext settings: {err}") from None


def vector_cache(runner: Runner) -> Path:
    """``WORK/vectors``: separate fastText vectors shared by every pair run under one ``--work``
    folder (``WORK/NAME`` is the runner's), one sub-folder per (corpus sha256, settings, version)."""
    return runner.work_dir.parent / "vectors"


def separate_step(runner: Runner, name: str, corpus: str, prefix: Path, ft: dict) -> str:
    """Step ``fasttext.NAME``: skipgram vectors of one corpus -> ``PREFIX.vec`` (no .bin).

    Vectors of the same corpus text under the same settings are trained once per ``--work``
    folder and reused by every pair (e.g. English Wikipedia for en-es, en-fr, en-ru): they are
    kept in :func:`vector_cache` under the key of (corpus checksum, fastText settings, package
    version), and the step copies them; the step's counts say ``reused``."""
    import shutil

    from ..embeddings.fasttext_train import train_separate

    vec = f"{prefix}.vec"

    def fn():
        key = runner.key("fasttext.separate", ft, [corpus])[:16]
        cached = vector_cache(runner) / key
        done = cached / "done"
        reused = done.exists()
        if not reused:  # train into the cache; ``done`` last, so a killed run retrains
            cached.mkdir(parents=True, exist_ok=True)
            train_separate(corpus, cached / "vectors", fasttext_config(ft), save_bin=False)
            done.write_text(corpus + "\n", encoding="utf-8")
        else:
            logger.info("fasttext.%s: reusing %s (same corpus text and settings)", name, cached)
        Path(prefix).parent.mkdir(parents=True, exist_ok=True)
        for ext in (".vec", ".json"):  # copy under a temporary name, then rename (atomic)
            tmp = Path(f"{prefix}{ext}.tmp")
            shutil.copyfile(cached / f"vectors{ext}", tmp)
            tmp.replace(f"{prefix}{ext}")
        n_words = sum(1 for _ in open(vec, encoding="utf-8")) - 1
        return [vec, f"{prefix}.json"], {"n_words": n_words, "reused": reused,
                                         "cache": str(cached)}

    from .plan import hint

    hint(runner, f"fasttext.{name}", "fasttext", corpora=[corpus], ft=ft, vecs=[vec])
    runner.step(f"fasttext.{name}", [corpus], ft, fn)
    return vec


def joint_step(runner: Runner, name: str, corpora: list[str], langs: list[str], out_dir: Path,
               ft: dict) -> list[str]:
    """Step ``fasttext.NAME``: one skipgram model on the concatenated corpora (paper section 2.2,
    joint pre-training), exported per language -> ``OUT_DIR/{lang}.vec``."""
    from ..embeddings.fasttext_train import train_joint

    vecs = [str(out_dir / f"{lang}.vec") for lang in langs]

    def fn():
        info = train_joint(corpora, langs, out_dir, fasttext_config(ft), save_bin=False)
        return [*vecs, str(out_dir / "joint.json")], {
            "joint_vocab_size": info["joint_vocab_size"],
            "n_words": {lang: o["n_words"] for lang, o in info["outputs"].items()}}

    from .plan import hint

    hint(runner, f"fasttext.{name}", "fasttext", corpora=list(corpora), ft=ft, vecs=vecs)
    runner.step(f"fasttext.{name}", corpora, {**ft, "langs": langs}, fn)
    return vecs


@contextlib.contextmanager
def logged_to(log_path: Path):
    """Within the block, this process's log records (INFO and up) also go to ``log_path``
    (written afresh): the log of a step run in process, where a tool's step has its output.
    The root logger's other handlers (the terminal) keep the level they had: INFO records stay
    in the log."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATEFMT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    others = [(h, h.level) for h in root.handlers]
    for h, old in others:
        h.setLevel(max(old, level))
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for h, old in others:
            h.setLevel(old)
        handler.close()


def grid_step(runner: Runner, name: str, src_vec: str, tgt_vec: str, work: Path, grid: dict,
              labels: dict, dico: str | None = None, publish: dict | None = None,
              dim: int | None = None) -> Path:
    """Step ``grid.NAME``: the MUSE grid search (:func:`fairseq_xdomain.ubli.grid.run_grid`,
    in process: seeds x epochs x refinements, selected by the unsupervised criterion) -> its
    folder; ``grid``: the preset's ``grid`` section (flat names of
    :class:`~fairseq_xdomain.ubli.grid_config.GridConfig`), its log in
    ``WORK/logs/grid.NAME.log``.

    The folder is ``WORK/grid/NAME.KEY12`` (KEY12: the step key's first 12 hex digits): a killed
    grid resumes in it, a changed setting or input gets a fresh one (the grid refuses a folder
    holding another configuration). Labels: ``pair``, ``domains``, ``init``. ``dim``: the
    vectors' size (for ``--plan``). ``publish``:
    {file of the grid folder: destination} copied (atomically) as outputs of the step.
    """
    from ..ubli.commands.common import setup_device  # (torch: not at import)
    from ..ubli.grid import run_grid
    from ..ubli.grid_config import GridConfig
    from ..ubli.pair_run import PairFiles

    inputs = [src_vec, tgt_vec, *([dico] if dico else [])]
    params = {**grid, **labels}
    out = work / "grid" / f"{name}.{runner.key(f'grid.{name}', params, inputs)[:12]}"
    publish = publish or {}

    def fn():
        # progress lines into the grid's log, where the runner's live line reads them
        cfg = GridConfig.from_flat({**grid, "no_progress": runner.live is None}).check()
        files = PairFiles(src_emb=str(src_vec), tgt_emb=str(tgt_vec), out=str(out),
                          dico_eval=dico, **labels)
        with logged_to(work / "logs" / f"grid.{name}.log"):
            run_grid(cfg, files, setup_device(cfg.cpu, cfg.threads))
        for file, dest in publish.items():
            copy_file(out / file, dest)
        return [str(out / "summary.json"), str(out / "result.json"), str(out / "selected_W.npy"),
                *map(str, publish.values())], {}

    from .plan import hint

    hint(runner, f"grid.{name}", "grid", src_vec=str(src_vec), tgt_vec=str(tgt_vec), grid=grid,
         dim=dim or 300, joint=labels.get("init") == "joint", dico=dico)
    runner.step(f"grid.{name}", inputs, params, fn, outputs=list(publish.values()))
    return out


def copy_file(src, dest) -> None:
    """Copy ``src`` to ``dest`` atomically."""
    with open(src, "rb") as handle, atomic_open(dest, "wb") as out:
        out.write(handle.read())



def report_step(runner: Runner, results: Path, inputs: list, plots: bool = False) -> Path:
    """Step ``report``: ``xdomain-report`` of ``results`` -> ``RESULTS/report.md`` (+ the UNMT
    plots with ``plots``); ``inputs``: the result files it reads (the step reruns when one
    changes)."""
    from ..report import build_report

    report = results / "report.md"
    runner.step("report", sorted(map(str, inputs)), {"plots": plots}, lambda: (
        [str(report)], {"counts": build_report(results, report, plots=plots)["counts"]}),
        outputs=[report])
    return report


def report_sections(report: Path, *titles: str) -> str:
    """The sections of a Markdown report whose ``## `` heading starts with one of ``titles``."""
    out, keep = [], False
    for line in report.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            keep = line[3:].startswith(titles)
        if keep:
            out.append(line)
    return "\n".join(out).rstrip()
