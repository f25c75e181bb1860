"""``xdomain-run mlm``: joint cross-lingual masked-LM pre-training (XLM-style, Lample & Conneau
2019) from binarized data to a checkpoint (the MLMs of the paper's Tables 4-5).

    xdomain-run mlm DATA en,fr OUT [--preset tiny|cpu|paper] [--seed N] [--nproc N]
                    [--data-per-lang en=DIR,fr=DIR] [--emb-init fasttext|random] [-- FAIRSEQ_ARGS]

``DATA`` is a folder of ``xdomain-prep binarize`` (``DATA/dict.txt``, ``DATA/{lang}/train.bin``,
...; docs/design.md). "Wiki only" (the paper's baseline) and "Wiki + UN" (joint) are the same
command with other data. Steps (``fairseq_xdomain/steps.py``; each skipped when its settings, its
inputs' checksums and the package version are unchanged):

1. ``NAME.fasttext`` (only with ``emb_init: fasttext``): fastText skipgram on the MLM's own
   training text (:func:`fairseq_xdomain.embeddings.fasttext_train.train_on_binarized`, joint
   over its languages) -> ``{lang}.vec``, passed to fairseq as ``--reload-emb``;
2. ``NAME.train``: ``fairseq-train --task xlm_mlm`` (``xdomain-train --nproc N`` for several
   processes) -> ``checkpoint_last.pt``. A killed run resumes from ``checkpoint_last.pt`` (the
   step runs again, fairseq reloads the checkpoint); a changed setting or input starts over (the
   checkpoints of the other setting are removed first: the save folder records the step key).

``OUT`` gets ``checkpoints/checkpoint_{best,last}.pt``, ``checkpoints/train.log`` (fairseq's
``--log-file``, appended across resumes), ``checkpoints/stdout.log`` (everything fairseq printed
in the last run), ``results.{json,md}`` (the last validation: loss, ppl,
masked-token accuracy, overall and per language) and ``run.json`` (configuration, seed, package
version, wall time, steps). Settings: ``fairseq_xdomain/configs/mlm/PRESET.yaml``
(``fairseq_xdomain/presets.py``), ``--set SECTION.KEY=VALUE``, then the arguments after ``--``
(passed to fairseq-train verbatim, last).
"""
from __future__ import annotations

import argparse
import copy
import logging
import os
import re
import shutil
import sys
import threading
import time
from pathlib import Path

from ..common.atomic import write_json, write_text
from ..common.errors import UserError
from ..common.markdown import table
from ..common.textio import read_text
from ..steps import Runner, run_logged, write_run_record
from .common import (
    add_preset_arguments,
    add_seeds_argument,
    apply_override,
    fasttext_config,
    parse_seeds,
    resolve_preset,
    run_each_seed,
)
from .plan import make_runner
from .plan_probes import finish_plan
from .plan_run import live_progress, start_estimates

logger = logging.getLogger("xdomain-run.mlm")

DESCRIPTION = "MLM pre-training (XLM-style xlm_mlm) from binarized data to a checkpoint"
EMB_INITS = ("fasttext", "random")
_LANGS = re.compile(r"^[A-Za-z_-]+(,[A-Za-z_-]+)*$")
#: the file in a fairseq save folder naming the step key its checkpoints were trained under
KEY_FILE = "step_key.txt"
_PRINT_LOCK = threading.Lock()


def say(line: str) -> None:
    """Print one progress line whole (steps may run in two threads: ``xdomain-run unmt --jobs 2``)."""
    with _PRINT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# ----------------------------------------------------------------------------- options

def add_common_arguments(parser: argparse.ArgumentParser, default_preset: str | None) -> None:
    """Options both MLM and UNMT drivers take: the preset and its overrides, ``--seed``,
    ``--nproc``, ``--emb-init`` and the fairseq arguments after ``--``."""
    add_preset_arguments(parser, default=default_preset)
    parser.add_argument("--seed", type=int, default=1, help="fairseq --seed (default 1)")
    add_seeds_argument(parser)
    parser.add_argument("--nproc", type=int, default=1,
                        help="N data-parallel processes per fairseq-train, through xdomain-train "
                             "(one per GPU; N CPU ranks over gloo with a CPU preset or without a "
                             "GPU; docs/distributed.md)")
    parser.add_argument("--emb-init", default=None,
                        help="the MLM's token embeddings: fasttext (skipgram on the MLM's own "
                             "training text) or random (XLM's way); default: the MLM preset's "
                             "emb_init (tiny: fasttext, cpu/paper: random)")
    parser.add_argument("fairseq_args", nargs="*", metavar="-- FAIRSEQ_ARGS",
                        help="arguments after '--' go to fairseq-train verbatim, after the "
                             "preset's (e.g. -- --max-update 50000 --update-freq 2)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``xdomain-run mlm``."""
    parser.add_argument("data", help="binarized folder of xdomain-prep binarize (DATA/dict.txt, "
                                     "DATA/{lang}/train.bin, ...)")
    parser.add_argument("langs", help="comma-separated languages, e.g. en,fr (language ids in "
                                      "this order)")
    parser.add_argument("out", help="output folder: OUT/checkpoints/checkpoint_{best,last}.pt, "
                                    "OUT/checkpoints/train.log, OUT/results.{json,md}, "
                                    "OUT/run.json")
    parser.add_argument("--data-per-lang", default=None, metavar="LANG=DIR,...",
                        help="take a language's data from another folder binarized with the same "
                             "dictionary, e.g. en=WIKI/en,fr=UN/fr")
    add_common_arguments(parser, default_preset=None)


def check_int_options(args: argparse.Namespace) -> None:
    """``--seed`` >= 0 and ``--nproc`` >= 1, else a UserError."""
    if args.seed < 0:
        raise UserError(f"--seed '{args.seed}': expected a non-negative integer")
    if args.nproc < 1:
        raise UserError(f"--nproc '{args.nproc}': expected a positive integer")


def parse_langs(text: str, flag: str = "LANGS") -> list[str]:
    """``"en,fr"`` -> ``["en", "fr"]``; UserError for anything but comma-separated codes."""
    if not _LANGS.match(text or ""):
        raise UserError(f"{flag} '{text}': expected comma-separated language codes, e.g. en,fr")
    langs = text.split(",")
    if len(set(langs)) != len(langs):
        raise UserError(f"{flag} '{text}': a language is named twice")
    return langs


def mlm_settings(preset: str, overrides: list[str], emb_init: str | None = None,
                 max_update: int | None = None) -> dict:
    """The MLM preset ``preset`` (:func:`fairseq_xdomain.presets.load_preset`) with the
    ``--set SECTION.KEY=VALUE`` ``overrides``, ``emb_init`` and ``max_update`` (the number of
    updates, ``fairseq.max_update``) applied where given. Raises UserError for an unknown preset,
    a malformed override or an ``emb_init`` that is not fasttext/random."""

    from ..presets import load_preset

    settings = copy.deepcopy(load_preset("mlm", preset))
    for text in overrides:
        apply_override(settings, text)
    if emb_init is not None:
        settings["emb_init"] = emb_init
    if settings["emb_init"] not in EMB_INITS:
        raise UserError(f"--emb-init must be fasttext or random, got {settings['emb_init']}")
    if max_update is not None:
        settings["fairseq"]["max_update"] = max_update
    return settings


# ----------------------------------------------------------------------------- data

def language_dirs(data: Path, langs: list[str], data_per_lang: str | None,
                  warn: bool = True) -> dict[str, Path]:
    """{lang: folder holding its ``train.{bin,idx}``}: ``DATA/{lang}``, or the folder
    ``--data-per-lang`` names. Checks the dictionary and every training file (UserError naming the
    file); a language without ``valid.bin`` is logged if ``warn`` (it is not validated)."""
    if not data.is_dir():
        raise UserError(f"{data}: data folder not found")
    if not (data / "dict.txt").is_file() or (data / "dict.txt").stat().st_size == 0:
        raise UserError(f"{data / 'dict.txt'}: joint dictionary not found (expected the output "
                        "of 'xdomain-prep binarize')")
    dirs = {lang: data / lang for lang in langs}
    for item in (data_per_lang.split(",") if data_per_lang else []):
        lang, sep, folder = item.partition("=")
        if not sep or not folder:
            raise UserError(f"--data-per-lang: expected LANG=DIR, got '{item}'")
        if lang not in dirs:
            raise UserError(f"--data-per-lang: '{lang}' is not one of LANGS ({','.join(langs)})")
        dirs[lang] = Path(folder)
    for lang, folder in dirs.items():
        for ext in ("bin", "idx"):
            path = folder / f"train.{ext}"
            if not path.is_file() or path.stat().st_size == 0:
                raise UserError(f"{path}: training data of '{lang}' not found")
        if warn and not (folder / "valid.bin").is_file():
            logger.warning("%s: not found: '%s' is not validated", folder / "valid.bin", lang)
    return dirs


def data_files(dirs: dict[str, Path], data: Path) -> list[str]:
    """The files an MLM trains on (its step's inputs): the dictionary and every language's
    ``train``/``valid`` ``.bin``/``.idx`` that exists."""
    files = [str(data / "dict.txt")]
    for folder in dirs.values():
        files += [str(folder / f"{split}.{ext}") for split in ("train", "valid")
                  for ext in ("bin", "idx") if (folder / f"{split}.{ext}").is_file()]
    return files


# ----------------------------------------------------------------------------- training

def train_command(train_args: list[str], nproc: int) -> list[str]:
    """``fairseq-train ARGS``, or ``xdomain-train --nproc N [--cpu] -- ARGS`` for ``nproc`` > 1
    (``--cpu`` when the arguments hold it)."""
    if nproc == 1:
        return ["fairseq-train", *train_args]
    return ["xdomain-train", "--nproc", str(nproc), *(["--cpu"] if "--cpu" in train_args else []),
            "--", *train_args]


def has_gpu() -> bool:
    """Whether torch sees a CUDA device (decides ``--fp16`` vs ``--cpu`` for ``device: auto``)."""
    import torch

    return bool(torch.cuda.is_available())


def fairseq_step(runner: Runner, name: str, inputs: list[str], params: dict, save_dir: Path,
                 train_args: list[str], nproc: int, env: dict | None = None) -> Path:
    """Step ``name``: one ``fairseq-train`` run into ``save_dir`` -> ``checkpoint_last.pt``.

    ``train_args`` must hold ``--save-dir save_dir`` and ``--log-file save_dir/train.log``;
    fairseq's output goes to ``save_dir/stdout.log``. Resuming: ``save_dir/step_key.txt`` holds
    the step key the checkpoints there were trained under; when it is the current key (a run that
    was killed) fairseq resumes from ``checkpoint_last.pt``, otherwise (a changed setting or
    input, or ``--force``) the old checkpoints and log are removed first and training starts
    over. Raises UserError when fairseq-train fails (its log's last lines on stderr).
    """
    key = runner.key(name, params, inputs)
    last = save_dir / "checkpoint_last.pt"

    def fn():
        save_dir.mkdir(parents=True, exist_ok=True)
        key_file = save_dir / KEY_FILE
        old = key_file.read_text(encoding="utf-8").strip() if key_file.is_file() else None
        removed, resumed = 0, False
        if old != key or runner.force:
            stale = [p for p in save_dir.iterdir()
                     if p.name.startswith("checkpoint") or p.name == "train.log"]
            if stale:  # printed, and counted in the step's record
                say(f"  {name}: " + ("--force" if old == key else "settings or inputs changed "
                                     "since the last run") + f": removing {len(stale)} old "
                    "file(s), starting over")
            for path in stale:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            removed = len(stale)
            write_text(key_file, key + "\n")
        elif last.is_file():
            say(f"  {name}: resuming from {last}")
            resumed = True
        run_logged(train_command(train_args, nproc), save_dir / "stdout.log", env=env)
        return [str(last)], {"removed_old_files": removed, "resumed": resumed}

    from .plan import hint

    hint(runner, name, "fairseq", cmd=train_command(train_args, nproc), env=env)
    runner.step(name, inputs, params, fn)
    return last


def pretrain(runner: Runner, name: str, data: Path, langs: list[str], dirs: dict[str, Path],
             save_dir: Path, settings: dict, seed: int, nproc: int = 1,
             data_per_lang: str | None = None, extra: list[str] = (),
             fasttext_dir: Path | None = None, gpu: bool | None = None,
             env: dict | None = None) -> Path:
    """Steps ``NAME.fasttext`` (``emb_init: fasttext``) and ``NAME.train``: pre-train an MLM on
    ``langs`` of ``data`` (``dirs`` from :func:`language_dirs`) with the MLM preset ``settings``
    (:func:`mlm_settings`) -> the path of ``save_dir/checkpoint_last.pt``.

    ``extra``: fairseq-train arguments after the preset's. ``fasttext_dir``: where the fastText
    vectors go (default ``save_dir/../fasttext``). ``gpu``: whether a GPU is there (``device:
    auto``; default: ask torch). ``env``: variables for fairseq (e.g. ``OMP_NUM_THREADS``).
    Raises UserError for fastText with ``--data-per-lang`` and when a tool fails.
    """
    from ..paths import user_dir
    from ..presets import fairseq_arguments
    from .train_args import check_driver_arguments

    if gpu is None and settings["device"] == "auto":
        gpu = has_gpu()
    check_driver_arguments("xlm_mlm", data, langs, [*fairseq_arguments(settings, has_gpu=gpu), *extra])
    reload = []
    fasttext = None
    if settings["emb_init"] == "fasttext":
        if data_per_lang:
            raise UserError("--data-per-lang: fastText initialisation (emb_init fasttext) "
                            "needs every language in DATA; use --emb-init random")
        fasttext = dict(settings["fasttext"])
        out_dir = fasttext_dir or save_dir.parent / "fasttext"
        vecs = [str(out_dir / f"{lang}.vec") for lang in langs]
        train_files = [str(dirs[lang] / f"train.{ext}") for lang in langs for ext in ("bin", "idx")]

        def train_vectors():
            from ..embeddings.fasttext_train import train_on_binarized

            info = train_on_binarized(data, langs, out_dir, fasttext_config(fasttext))
            return vecs, {"n_words": {lang: o["n_words"] for lang, o in info["outputs"].items()}}

        from .plan import hint

        hint(runner, f"{name}.fasttext", "fasttext_binarized", data=str(data), langs=langs,
             ft=fasttext)
        runner.step(f"{name}.fasttext", [str(data / "dict.txt"), *train_files],
                    {**fasttext, "langs": langs}, train_vectors)
        reload = ["--reload-emb", ",".join(vecs)]
    train_args = [str(data), "--user-dir", str(user_dir()), "--task", "xlm_mlm",
                  "--langs", ",".join(langs),
                  *(["--data-per-lang", data_per_lang] if data_per_lang else []),
                  *fairseq_arguments(settings, has_gpu=gpu), *reload,
                  "--seed", str(seed), "--save-dir", str(save_dir), "--no-epoch-checkpoints",
                  "--best-checkpoint-metric", "loss", "--log-format", "simple",
                  "--log-interval", "50", "--log-file", str(save_dir / "train.log"), *extra]
    inputs = data_files(dirs, data) + (reload[1].split(",") if reload else [])
    params = {"fairseq": train_args[3:], "nproc": nproc}  # data, plugin folder: not settings
    return fairseq_step(runner, f"{name}.train", inputs, params, save_dir, train_args, nproc, env)


# ----------------------------------------------------------------------------- results

def last_validation(log_path: Path) -> dict | None:
    """The stats of the last ``valid on '...'`` line of a fairseq ``--log-format simple`` log
    ({name: float}: loss in bits, ppl, accuracy in %, ``loss_{lang}``, ...); None if none."""
    if not log_path.is_file():
        return None
    lines = [ln for ln in read_text(log_path, what="fairseq log").splitlines()
             if "| valid on '" in ln]
    if not lines:
        return None
    return {k: float(v) for k, v in re.findall(r"\| (\S+) ([-\d.]+)", lines[-1])}


def write_summary(out: Path, checkpoint: Path) -> dict:
    """``OUT/results.json`` (the checkpoint to use: ``checkpoint_best.pt`` next to ``checkpoint``
    if there is one; the last validation) and ``OUT/results.md`` (loss/ppl/accuracy overall and
    per language) from ``train.log`` next to ``checkpoint``; returns the JSON record
    (``last_valid`` None, logged, when the log has no validation)."""
    stats = last_validation(checkpoint.parent / "train.log")
    best = checkpoint.with_name("checkpoint_best.pt")
    checkpoint = best if best.is_file() else checkpoint
    write_json(out / "results.json", {"checkpoint": str(checkpoint), "last_valid": stats})
    if stats is None:
        logger.warning("%s: no validation in the log (validation disabled, or no valid split)",
                       checkpoint.parent / "train.log")
        write_text(out / "results.md", "# MLM pre-training\n\nNo validation in the log.\n")
        return {"checkpoint": str(checkpoint), "last_valid": None}
    langs = sorted(k[4:] for k in stats if k.startswith("ppl_"))
    rows = [["all", stats.get("loss"), stats.get("ppl"), stats.get("accuracy")]]
    rows += [[lang, stats.get(f"loss_{lang}"), stats.get(f"ppl_{lang}"),
              stats.get(f"accuracy_{lang}")] for lang in langs]
    md = [f"# MLM pre-training: last validation (update {int(stats.get('num_updates', 0))})", "",
          *table(["language", "loss (bits)", "ppl", "masked acc %"],
                 [[r[0], *("-" if v is None else v for v in r[1:])] for r in rows], "lrrr")]
    write_text(out / "results.md", "\n".join(md) + "\n")
    print("\n".join(md), flush=True)
    return {"checkpoint": str(checkpoint), "last_valid": stats}


# ----------------------------------------------------------------------------- driver

def run_plan(args: argparse.Namespace):
    """The plan of ``args`` (``--plan``; :mod:`.plan`)."""
    from .plan import previous_plan

    run(args)
    return _Plan(previous_plan(Path(args.out)))


class _Plan:
    """A written ``plan.json`` read back, as :func:`.plan_run.start_estimates` uses it."""

    def __init__(self, data: dict | None):
        self.data = data or {"total_est_s": 0, "peak_ram_mb": 0}
        self.total_est_s = self.data["total_est_s"]

    def to_dict(self) -> dict:
        return self.data


def run(args: argparse.Namespace) -> int:
    """Run (or resume) one MLM pre-training (module docstring); 0. With ``--seeds``: once per
    seed, under ``OUT/seed-S``."""
    seeds = parse_seeds(args)
    if seeds is not None:
        run_each_seed(args, seeds, run, out=args.out)
        return 0
    started = time.time()
    check_int_options(args)
    preset_line = resolve_preset(args)
    langs = parse_langs(args.langs)
    data, out = Path(args.data), Path(args.out)
    settings = mlm_settings(args.preset, args.overrides, args.emb_init)
    plan = getattr(args, "plan", False)
    dirs = language_dirs(data, langs, args.data_per_lang)
    try:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError:
        raise UserError(f"{out}: cannot create the output folder") from None
    if not os.access(out, os.W_OK):
        raise UserError(f"{out}: output folder is not writable")
    if settings["device"] == "auto" and not has_gpu():
        logger.warning("no GPU found: %s-preset pre-training on the CPU is very slow (use "
                       "--preset tiny or cpu to try)", args.preset)
    print(f"xdomain-run mlm: {preset_line}, langs {args.langs}, seed {args.seed} -> {out} "
          f"(log: {out / 'checkpoints' / 'train.log'})"
          + ("; --plan: nothing is trained" if plan else ""), flush=True)
    estimates = {} if plan else start_estimates(args, out, run_plan)
    runner = make_runner(plan, out, force=args.force,
                         total=1 + (settings["emb_init"] == "fasttext"))
    live_progress(runner, args, estimates,
                  logs={"mlm.train": out / "checkpoints" / "stdout.log"},
                  updates={"mlm.train": settings["fairseq"].get("max_update")})
    checkpoint = pretrain(runner, "mlm", data, langs, dirs, out / "checkpoints", settings,
                          args.seed, args.nproc, args.data_per_lang, args.fairseq_args,
                          fasttext_dir=out / "fasttext")
    if plan:
        finish_plan(f"xdomain-run mlm {out} ({preset_line})", [runner], out)
        return 0
    summary = write_summary(out, checkpoint)
    config = {"driver": "mlm", "preset": args.preset, "settings": settings,
              "data": str(data.resolve()), "langs": langs, "data_per_lang": args.data_per_lang,
              "nproc": args.nproc, "fairseq_args": list(args.fairseq_args)}
    write_run_record(out / "run.json", config, args.seed, started, runner,
                     last_valid=summary["last_valid"])
    return 0
