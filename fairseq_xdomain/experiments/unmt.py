"""``xdomain-run unmt``: one row of the paper's Tables 4/5. MLM pre-training twice (baseline: the
MLM data of one domain; joint: both domains), then UNMT (denoising + online back-translation,
Lample et al. 2018) for N epochs from each MLM, BLEU per epoch on the dev set.

    xdomain-run unmt --run wiki-un-en-fr --langs en,fr --mlm-baseline DATA_WIKI \\
        --mlm-joint DATA_WIKI_UN [--unmt-data DATA_WIKI_UN] [--epochs 10] [--preset tiny|cpu|paper]

Every DATA folder is in the layout of docs/design.md (``xdomain-prep binarize``) and all of them
share one ``dict.txt`` (one joint vocabulary, checked), so the MLMs map onto the UNMT model. An
MLM trains on the languages of ``--langs`` that have ``{lang}/train.bin`` in its folder.

Steps per variant (``baseline``, ``joint``; ``fairseq_xdomain/steps.py``, each skipped when its
settings, its inputs' checksums and the package version are unchanged): ``V.mlm.fasttext``
(``--emb-init fasttext``: skipgram on the MLM's own text, joint over its languages, as
``xdomain-embed binarized``), ``V.mlm.train`` (``fairseq-train --task xlm_mlm``), ``V.unmt.train``
(``fairseq-train --task unmt_xdomain --init-from-mlm``). A killed fairseq run resumes from its
``checkpoint_last.pt``; a changed setting or input trains again from scratch
(:func:`fairseq_xdomain.experiments.mlm.fairseq_step`). ``--jobs 2`` trains the two variants side
by side, ``JOB_THREADS`` (default 1) threads each.

Model selection (:func:`validation_metric`): dev BLEU when the UNMT data has a parallel
``valid`` set, else round-trip BLEU on its monolingual ``{lang}/valid`` (``round_trip.py``);
printed, and recorded in each curve with the test BLEU of the selected checkpoint
(:func:`add_test_scores`). ``--seeds S1,S2``: the whole run once per seed, under
``RESULTS/RUN/seed-S`` and ``WORK/RUN/seed-S``.

Outputs: ``RESULTS/RUN/bleu.{init}.{src-tgt}.json`` (+ ``.md``): one
:class:`fairseq_xdomain.results.UNMTCurve` per variant and direction (BLEU per epoch, the
selector, selected epoch and its test BLEU with the sacrebleu signature, data labels,
configuration, wall time), ``RESULTS/RUN/bleu.md`` (the run's table), the BLEU-vs-epoch
plots of ``xdomain-report`` (``bleu_*.png``, :func:`fairseq_xdomain.report.plot_unmt`) and
``RESULTS/RUN/run.json`` (configuration, seed, package version, wall time, steps). Checkpoints,
vectors, logs and step stamps go to ``WORK/RUN/{baseline,joint}/``.

Settings: ``fairseq_xdomain/configs/unmt/PRESET.yaml`` (its ``mlm:`` key names the MLM preset,
``configs/mlm/``), ``--set SECTION.KEY=VALUE`` for the UNMT preset and ``--set
mlm.SECTION.KEY=VALUE`` for the MLM one, ``--epochs`` (``fairseq.max_epoch``), ``--mlm-updates``
(the MLM's ``fairseq.max_update``), ``--emb-init``; arguments after ``--`` go to the UNMT
fairseq-train, last.
"""
from __future__ import annotations

import argparse
import copy
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..common.atomic import read_json, write_text
from ..common.errors import UserError
from ..common.markdown import table
from ..common.textio import read_text
from ..fairseq_log import parse_valid
from ..results import SELECTORS, UNMTCurve, unmt_curves, unmt_file_name, write_result
from ..steps import Runner, write_run_record
from .common import apply_override, parse_seeds, resolve_preset, run_each_seed
from .mlm import (
    add_common_arguments,
    check_int_options,
    fairseq_step,
    has_gpu,
    language_dirs,
    mlm_settings,
    parse_langs,
    pretrain,
    say,
)
from .plan import make_runner
from .plan_probes import finish_plan
from .plan_run import live_progress, start_estimates
from .train_args import check_driver_arguments

logger = logging.getLogger("xdomain-run.unmt")

DESCRIPTION = ("UNMT from a baseline and a joint MLM, BLEU per epoch (paper Tables 4-5): MLM "
               "pre-training x2, UNMT x2, curves, plot")
VARIANTS = ("baseline", "joint")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``xdomain-run unmt``."""
    g = parser.add_argument_group("data")
    g.add_argument("--run", required=True, help="run name: RESULTS/RUN, WORK/RUN")
    g.add_argument("--langs", default="en,fr", help="the UNMT pair, src,tgt (default en,fr)")
    g.add_argument("--mlm-baseline", required=True,
                   help="binarized folder the baseline MLM trains on (one domain, e.g. Wiki)")
    g.add_argument("--mlm-joint", required=True,
                   help="binarized folder the joint MLM trains on (both domains, e.g. Wiki + UN)")
    g.add_argument("--unmt-data", default=None,
                   help="binarized folder of the UNMT training and dev data (default: "
                        "--mlm-joint); its dev set is the parallel valid.SRC-TGT.*")
    g = parser.add_argument_group("labels for xdomain-report")
    g.add_argument("--data-label", default=None,
                   help='the UNMT data, the row of Tables 4/5, e.g. "En Wiki, Fr UN" '
                        "(default: the run name)")
    g.add_argument("--mlm-baseline-label", default=None,
                   help='what the baseline MLM saw, e.g. "En Wiki, Fr Wiki" (default: from '
                        "DATA/manifest.json of xdomain-prep pipeline, else the folder and its "
                        "languages)")
    g.add_argument("--mlm-joint-label", default=None, help="the same for the joint MLM")
    g = parser.add_argument_group("output")
    g.add_argument("--results", default="results/unmt", help="results folder (RESULTS/RUN)")
    g.add_argument("--work", default="work/unmt",
                   help="work folder: checkpoints, vectors, logs, step stamps (WORK/RUN)")
    g = parser.add_argument_group("settings")
    g.add_argument("--epochs", type=int, default=None,
                   help="UNMT epochs (fairseq.max_epoch; preset default: the paper's 10)")
    g.add_argument("--mlm-updates", type=int, default=None,
                   help="MLM updates (the MLM preset's fairseq.max_update)")
    g.add_argument("--jobs", type=int, default=1,
                   help="2: train the baseline and joint variants side by side, JOB_THREADS "
                        "(default 1) threads each; 1 (default): one after the other")
    add_common_arguments(g, default_preset=None)


# ----------------------------------------------------------------------------- settings

def unmt_settings(args: argparse.Namespace) -> tuple[dict, dict]:
    """(UNMT settings, MLM settings): the UNMT preset ``args.preset``, the MLM preset it names,
    ``--set`` overrides (``mlm.`` prefix: the MLM's), ``--epochs``, ``--mlm-updates``,
    ``--emb-init``. UserError for a malformed or unknown value."""
    from ..presets import load_preset

    unmt = copy.deepcopy(load_preset("unmt", args.preset))
    mlm_overrides = [text[4:] for text in args.overrides if text.startswith("mlm.")]
    for text in args.overrides:
        if not text.startswith("mlm."):
            apply_override(unmt, text)
    if args.epochs is not None:
        unmt["fairseq"]["max_epoch"] = args.epochs
    mlm = mlm_settings(unmt["mlm"], mlm_overrides, args.emb_init, args.mlm_updates)
    return unmt, mlm


def check_args(args: argparse.Namespace) -> None:
    """Option values and data folders, before anything runs (UserError, one line)."""
    check_int_options(args)
    if args.jobs not in (1, 2):
        raise UserError(f"--jobs must be 1 or 2, got {args.jobs}")
    for flag in ("epochs", "mlm_updates"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UserError(f"--{flag.replace('_', '-')} must be a positive integer, got {value}")
    if args.emb_init is not None and args.emb_init not in ("fasttext", "random"):
        raise UserError(f"--emb-init must be fasttext or random, got {args.emb_init}")
    langs = parse_langs(args.langs, "--langs")
    if len(langs) != 2:
        raise UserError(f"--langs '{args.langs}': expected two languages, src,tgt")
    unmt_data = Path(args.unmt_data or args.mlm_joint)
    reference = unmt_data / "dict.txt"
    folders = [Path(folder) for folder in (args.mlm_baseline, args.mlm_joint, unmt_data)]
    for folder in folders:  # every one exists before any is compared with the reference
        if not (folder / "dict.txt").is_file():
            raise UserError(f"{folder / 'dict.txt'}: binarized data folder expected")
    for folder in folders:
        path = folder / "dict.txt"
        if path.read_bytes() != reference.read_bytes():
            raise UserError(f"{path}: differs from {reference} (one joint vocabulary needed)")


def mlm_langs(folder: Path, langs: list[str], required: bool = True) -> list[str]:
    """The languages of ``langs`` that have ``{lang}/train.bin`` in ``folder``: what an MLM on
    that folder trains on (UserError if none and ``required``)."""
    used = [lang for lang in langs if (folder / lang / "train.bin").is_file()]
    if required and not used:
        raise UserError(f"{folder}: no {{lang}}/train.bin for {','.join(langs)}")
    return used


def mlm_data(folder: Path, langs: list[str], label: str | None) -> dict:
    """What an MLM was trained on: ``{"label", "folder", "langs", "corpora"}``: its languages,
    the corpora (``lang.domain``) of the folder's ``manifest.json`` (``xdomain-prep pipeline``)
    if there is one (else None), and ``label`` if given, else one made from those."""
    used = mlm_langs(folder, langs, required=False)
    corpora = None
    if (folder / "manifest.json").is_file():
        cfg = read_json(folder / "manifest.json").get("config") or {}
        corpora = [f"{c['lang']}.{c['domain']}" for c in cfg.get("corpora", [])
                   if c.get("lang") in used and c.get("domain")] or None
    auto = (", ".join(c.replace(".", " ") for c in corpora) if corpora
            else f"{folder.name}: {','.join(used)}")
    return {"label": label or auto, "folder": str(folder), "langs": used, "corpora": corpora}


def unmt_inputs(data: Path, langs: list[str]) -> list[str]:
    """The files UNMT training reads (its step's inputs): the dictionary (and sentencepiece
    model), every language's train/valid ``.bin``/``.idx`` and the parallel dev set."""
    files = [data / "dict.txt", data / "spm.model"]
    for lang in langs:
        files += [data / lang / f"{split}.{ext}" for split in ("train", "valid")
                  for ext in ("bin", "idx")]
    pair = "-".join(sorted(langs))
    files += [data / f"valid.{pair}.{lang}.{ext}" for lang in langs for ext in ("bin", "idx")]
    return [str(f) for f in files if f.is_file()]


# ----------------------------------------------------------------------------- one variant

def run_variant(variant: str, args: argparse.Namespace, unmt: dict, mlm: dict, work: Path,
                gpu: bool | None, env: dict | None) -> Runner:
    """MLM pre-training then UNMT for one variant (``baseline`` | ``joint``) under
    ``WORK/RUN/VARIANT``; returns its runner (steps and times)."""
    from ..paths import user_dir
    from ..presets import fairseq_arguments

    langs = parse_langs(args.langs, "--langs")
    data = Path(args.mlm_baseline if variant == "baseline" else args.mlm_joint)
    unmt_data = Path(args.unmt_data or args.mlm_joint)
    used = mlm_langs(data, langs)
    vdir = work / variant
    runner = make_runner(getattr(args, "plan", False), vdir, force=args.force,
                         total=2 + (mlm["emb_init"] == "fasttext"), progress=say)
    live_progress(runner, args, getattr(args, "_estimates", {}),
                  logs={f"{variant}.mlm.train": vdir / "mlm" / "stdout.log",
                        f"{variant}.unmt.train": vdir / "unmt" / "stdout.log"},
                  updates={f"{variant}.mlm.train": mlm["fairseq"].get("max_update"),
                           f"{variant}.unmt.train": unmt["fairseq"].get("max_update")},
                  epochs={f"{variant}.unmt.train": unmt["fairseq"].get("max_epoch")})
    dirs = language_dirs(data, used, None, warn=not mlm["fairseq"].get("disable_validation"))
    checkpoint = pretrain(runner, f"{variant}.mlm", data, used, dirs, vdir / "mlm", mlm,
                          args.seed, args.nproc, fasttext_dir=vdir / "fasttext", gpu=gpu, env=env)
    save = vdir / "unmt"
    train_args = [str(unmt_data), "--user-dir", str(user_dir()), "--task", "unmt_xdomain",
                  "--langs", ",".join(langs), "--init-from-mlm", str(checkpoint),
                  # an MLM of fewer languages (the baseline's): their embeddings start random,
                  # asked for by name (mlm_checkpoint.py refuses a silent partial load)
                  *(["--init-from-mlm-partial", "langs"] if list(used) != list(langs) else []),
                  *fairseq_arguments(unmt, has_gpu=gpu), "--seed", str(args.seed),
                  "--save-dir", str(save), "--no-epoch-checkpoints",
                  "--best-checkpoint-metric", validation_metric(unmt_data, langs),
                  "--maximize-best-checkpoint-metric",
                  "--log-format", "simple", "--log-interval", "50",
                  "--log-file", str(save / "train.log"), *args.fairseq_args]
    fairseq_step(runner, f"{variant}.unmt.train", [*unmt_inputs(unmt_data, langs), str(checkpoint)],
                 {"fairseq": train_args[3:], "nproc": args.nproc}, save, train_args, args.nproc,
                 env)
    say(f"== [{variant}] done")
    return runner


# ----------------------------------------------------------------------------- results

def bleu_rows(log_path: Path, langs: list[str]) -> list[dict]:
    """``[{epoch, bleu_src_tgt, bleu_tgt_src, bleu, ...}]``: the validations of a UNMT run's
    ``--log-file`` (fairseq ``--log-format simple``; :func:`fairseq_xdomain.fairseq_log.parse_valid`),
    BLEU 0-100, in log order (a resumed run's log holds every epoch)."""
    src, tgt = langs
    fields = ("epoch", f"bleu_{src}_{tgt}", f"bleu_{tgt}_{src}", "bleu", "num_updates", "loss",
              "rt_bleu", f"rt_bleu_{src}", f"rt_bleu_{tgt}")
    return parse_valid(read_text(log_path, what="fairseq log"), fields=fields)


def validation_metric(data: Path, langs: list[str]) -> str:
    """The metric that selects the UNMT checkpoint (``--best-checkpoint-metric``): ``bleu``
    (dev BLEU) when DATA has the parallel ``valid.{a}-{b}``, else ``rt_bleu`` (round-trip BLEU
    on the monolingual ``DATA/{lang}/valid``, Lample et al. 2018). UserError when there is
    neither (nothing could select a checkpoint)."""
    pair = "-".join(sorted(langs))
    if all((Path(data) / f"valid.{pair}.{lang}.bin").is_file() for lang in langs):
        return "bleu"
    if all((Path(data) / lang / "valid.bin").is_file() for lang in langs):
        return "rt_bleu"
    raise UserError(f"{data}: neither a parallel dev set (valid.{pair}.*) nor monolingual "
                    f"{{lang}}/valid for every language: nothing to select a checkpoint by "
                    "(xdomain-prep: a corpus' valid text, or --parallel valid)")


def add_test_scores(curves: list[UNMTCurve], work: Path, data, gpu: bool | None) -> None:
    """Fill each curve's ``test_bleu`` (sacrebleu, the target language's tokenizer), signature
    and ``details["test"]`` (hypotheses, references) from its variant's ``checkpoint_best.pt``
    (the selector's maximum) on DATA's parallel ``test`` set (none: test_bleu stays None and
    the signature is the validation BLEU's; ``data`` None: no test set)."""
    from ..bleu_meter import resolve_tokenize, signature
    from ..eval_bleu import translate_subset

    for curve in curves:
        src, tgt = curve.direction.split("-")
        pair = "-".join(sorted((src, tgt)))
        curve.signature = signature("auto", tgt)
        if data is None or not (Path(data) / f"test.{pair}.{src}.bin").is_file():
            continue
        checkpoint = work / curve.init / "unmt" / "checkpoint_best.pt"
        hyps, refs = translate_subset(str(checkpoint), curve.direction, str(data), "test",
                                      cpu=not gpu)
        import sacrebleu

        curve.test_bleu = round(sacrebleu.corpus_bleu(
            hyps, [refs], tokenize=resolve_tokenize("auto", tgt)).score, 2)
        curve.details["test"] = {"sentences": len(hyps), "hypotheses": hyps, "references": refs}


def collect(res: Path, work: Path, langs: list[str], data_label: str,
            mlm_info: dict[str, dict], config: dict, wall_s: dict[str, float]) -> list[UNMTCurve]:
    """The curves of both variants (``WORK/{variant}/unmt/train.log``) written through
    :func:`fairseq_xdomain.results.write_result` to ``RES/bleu.{init}.{dir}.json`` (+ ``.md``),
    the run's table ``RES/bleu.md`` and the plots (:func:`fairseq_xdomain.report.plot_unmt`,
    ``RES/bleu_*.png``). ``mlm_info``: :func:`mlm_data` per variant; ``wall_s``: seconds per
    variant. Returns the curves. UserError when a log is missing or a BLEU is."""
    from ..report import plot_unmt

    curves: list[UNMTCurve] = []
    for variant in VARIANTS:
        info = mlm_info[variant]
        curves += unmt_curves(
            bleu_rows(work / variant / "unmt" / "train.log", langs), langs=tuple(langs),
            init=variant, data=data_label, mlm_data=info["label"], config=config,
            wall_s=round(wall_s[variant], 1), selector=config.get("selector"),
            seed=config.get("seed"), details={"run": config.get("run", res.name), "mlm": info})
    if not curves:
        raise UserError(f"{work}: no BLEU in the UNMT logs (no validation ran)")
    add_test_scores(curves, work, config.get("unmt_data"), config.get("gpu"))
    for curve in curves:
        write_result(res / unmt_file_name(curve), curve)
    directions = sorted({c.direction for c in curves})
    by = {(c.init, c.direction): c for c in curves}
    rows = []
    for variant in VARIANTS:
        epochs = sorted({e for c in curves if c.init == variant for e in c.epochs})
        for e in epochs:
            cells = []
            for d in directions:
                c = by.get((variant, d))
                cells.append(f"{c.bleu[c.epochs.index(e)]:.2f}" if c and c.bleu and
                             e in c.epochs else "-")
            c = by.get((variant, directions[0]))
            rt = f"{c.rt_bleu[c.epochs.index(e)]:.2f}" if c and c.rt_bleu else "-"
            mark = "*" if c and c.selected_epoch == e else ""
            rows.append([variant, f"{e}{mark}", *cells, rt])
    selector = config.get("selector")
    tests = [f"- {c.init} {c.direction}: test BLEU {c.test_bleu:.2f} at epoch "
             f"{c.selected_epoch}" for c in curves if c.test_bleu is not None]
    md = [f"# UNMT BLEU per epoch: {config.get('run', res.name)}", "",
          f"Data: {data_label}. MLM data: baseline {mlm_info['baseline']['label']}; joint "
          f"{mlm_info['joint']['label']}. Seed {config.get('seed')}.", "",
          *table(["variant", "epoch", *(f"dev BLEU {d}" for d in directions),
                  "round-trip BLEU"], rows, "lr" + "r" * (len(directions) + 1)), "",
          f"\\* the checkpoint selected by {SELECTORS.get(selector, selector)} (`{selector}`), "
          "without the test set.", "", *tests, "",
          f"BLEU: sacrebleu, {curves[0].signature}."]
    write_text(res / "bleu.md", "\n".join(md) + "\n")
    groups: dict[tuple, dict] = {}
    for c in curves:
        groups.setdefault((data_label, c.direction), {})[c.init] = list(c.bleu or c.rt_bleu)
    plot_unmt(groups, res, ylabel="dev BLEU" if curves[0].bleu else "round-trip BLEU")
    return curves


# ----------------------------------------------------------------------------- driver

def run_plan(args: argparse.Namespace):
    """The plan of ``args`` (``--plan``), read back from its ``plan.json``."""
    from .mlm import _Plan
    from .plan import previous_plan

    run(args)
    return _Plan(previous_plan(Path(args.results) / args.run))


def run(args: argparse.Namespace) -> int:
    """Run (or resume) one UNMT row (module docstring); 0. With ``--seeds``: once per seed,
    under ``RESULTS/RUN/seed-S`` and ``WORK/RUN/seed-S``."""
    seeds = parse_seeds(args)
    if seeds is not None:
        run_each_seed(args, seeds, run, _seed_dir=None)
        return 0
    started = time.time()
    check_args(args)
    preset_line = resolve_preset(args)
    unmt, mlm = unmt_settings(args)
    plan = getattr(args, "plan", False)
    langs = parse_langs(args.langs, "--langs")
    work, res = Path(args.work) / args.run, Path(args.results) / args.run
    work, res = work / getattr(args, "_seed_dir", ""), res / getattr(args, "_seed_dir", "")
    res.mkdir(parents=True, exist_ok=True)
    selector = validation_metric(Path(args.unmt_data or args.mlm_joint), langs)
    gpu = has_gpu() if "auto" in (unmt["device"], mlm["device"]) else False
    env = None
    if args.jobs == 2:
        # side by side, one thread each (tiny models use 2 cores better this way than 2 threads
        # each; an inherited OMP_NUM_THREADS=2 would oversubscribe the cores 2x, 3-4x slower)
        threads = os.environ.get("JOB_THREADS", "1")
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    print(f"xdomain-run unmt {args.run}: {preset_line} (MLM {unmt['mlm']}), langs "
          f"{args.langs}, seed {args.seed}, embeddings {mlm['emb_init']}; work {work}, results "
          f"{res}" + ("; --plan: nothing is trained" if plan else ""), flush=True)
    print(f"model selection: {SELECTORS[selector]} ({selector})"
          + ("" if selector == "bleu" else ": no parallel dev set, the monolingual valid text")
          + "; summary numbers: test BLEU of the selected checkpoint", flush=True)
    if not plan:
        args._estimates = start_estimates(args, res, run_plan)
    from ..presets import fairseq_arguments  # budgets and limits before any step (kind 2)
    check_driver_arguments("unmt_xdomain", args.unmt_data or args.mlm_joint, langs,
                           [*fairseq_arguments(unmt, has_gpu=gpu), *args.fairseq_args])
    if plan:
        runners = [run_variant(v, args, unmt, mlm, work, gpu, env) for v in VARIANTS]
        finish_plan(f"xdomain-run unmt {args.run} ({preset_line})", runners, res,
                    notes=(["--jobs 2: the two variants run side by side (the total is their "
                            "sum on one core each)"] if args.jobs == 2 else []))
        return 0
    if args.jobs == 2:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {v: pool.submit(run_variant, v, args, unmt, mlm, work, gpu, env)
                       for v in VARIANTS}
            errors = [f.exception() for f in futures.values() if f.exception() is not None]
            if errors:
                raise errors[0]
            runners = {v: f.result() for v, f in futures.items()}
    else:
        runners = {v: run_variant(v, args, unmt, mlm, work, gpu, env) for v in VARIANTS}
    mlm_info = {"baseline": mlm_data(Path(args.mlm_baseline), langs, args.mlm_baseline_label),
                "joint": mlm_data(Path(args.mlm_joint), langs, args.mlm_joint_label)}
    config = {"driver": "unmt", "run": args.run, "langs": langs, "preset": args.preset,
              "mlm_preset": unmt["mlm"], "emb_init": mlm["emb_init"],
              "epochs": unmt["fairseq"].get("max_epoch"),
              "mlm_updates": mlm["fairseq"].get("max_update"), "seed": args.seed,
              "mlm_baseline": str(args.mlm_baseline), "mlm_joint": str(args.mlm_joint),
              "unmt_data": str(args.unmt_data or args.mlm_joint), "nproc": args.nproc,
              "jobs": args.jobs, "unmt_settings": unmt, "mlm_settings": mlm,
              "fairseq_args": list(args.fairseq_args), "selector": selector, "gpu": gpu}
    wall = {v: sum(r.get("seconds") or 0.0 for r in runners[v].records) for v in VARIANTS}
    curves = collect(res, work, langs, args.data_label or args.run, mlm_info, config, wall)
    write_run_record(res / "run.json", config, args.seed, started, None,
                     steps=[s for v in VARIANTS for s in runners[v].summary()],
                     mlm_data=mlm_info, results=[unmt_file_name(c) for c in curves])
    print(f"wrote {len(curves)} curves, {res / 'bleu.md'} and the plots under {res}", flush=True)
    return 0
