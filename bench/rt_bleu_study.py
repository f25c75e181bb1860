"""How well round-trip BLEU selects UNMT checkpoints (issue 24, docs/unmt.md): the demo's UNMT pair.

    python bench/rt_bleu_study.py [--out rt_study] [--epochs 24]

The demo's UNMT world (``experiments/demo.py``: ``UNMT_WORLD``, its preprocessing, the Wiki-only
baseline MLM data), with 300 held-out lines of each training corpus as monolingual ``valid``
text (removed from training). ``xdomain-run unmt --preset tiny`` then trains both variants (dev
BLEU selects, round-trip BLEU is logged; one epoch: it trains the MLMs), then one fairseq-train
per variant with the driver's UNMT arguments, ``--epochs`` epochs and a checkpoint each epoch
gives the dev, round-trip and test BLEU of every epoch. Printed and
written to ``OUT/study.json``: per variant, the epochs' dev BLEU, rt BLEU and test BLEU (mean of
the two directions), Pearson and Spearman of rt vs dev BLEU over the epochs, and the test BLEU of
the epoch each metric picks (vs the best test epoch).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def sh(cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def prepare(out: Path, n_heldout: int) -> tuple[Path, Path]:
    from fairseq_xdomain.experiments.demo import L1, L2, UNMT_SPM_VOCAB, UNMT_WORLD, prep_config
    from fairseq_xdomain.preprocess.pipeline import run_pipeline

    data = out / "data_unmt"
    if not data.is_dir():
        sh([BIN / "xdomain-synth", "mismatched", "--out", data, "--langs", f"{L1},{L2}",
            *[x for k, v in UNMT_WORLD.items() for x in (f"--{k}", v)]])
    held = {}
    for lang, dom in ((L1, "wiki"), (L2, "un")):
        lines = (data / f"{lang}.{dom}.txt").read_text(encoding="utf-8").splitlines()
        (out / f"{lang}.{dom}.train.txt").write_text("\n".join(lines[:-n_heldout]) + "\n")
        held[lang] = out / f"{lang}.{dom}.heldout.txt"
        held[lang].write_text("\n".join(lines[-n_heldout:]) + "\n")
    cfg = prep_config(data, out, UNMT_SPM_VOCAB)
    for lang, dom in ((L1, "wiki"), (L2, "un")):
        cfg = cfg.replace(f"train: {data / f'{lang}.{dom}.txt'}",
                          f"train: {out / f'{lang}.{dom}.train.txt'}, valid: {held[lang]}")
    (out / "prep.yaml").write_text(cfg)
    bin_joint, bin_wiki = out / "bin_joint", out / "bin_wiki"
    if not (bin_joint / "dict.txt").is_file():
        run_pipeline(out / "prep.yaml")
    prep = out / "work" / "prep_joint"
    if not (bin_wiki / "dict.txt").is_file():
        sh([BIN / "xdomain-prep", "binarize", "--spm-model", prep / "spm.model",
            "--train", f"{L1}={prep / f'{L1}.spm.txt'}",
            "--train", f"{L2}={prep / f'{L2}.wiki.spm.txt'}", "-o", bin_wiki])
    return bin_joint, bin_wiki


def pick(epochs, values) -> int:
    """The epoch fairseq keeps for a maximised metric: the last one reaching the maximum."""
    best = max(values)
    return max(e for e, v in zip(epochs, values) if v == best)


def correlations(dev, rt, test) -> dict:
    """Pearson and Spearman of round-trip BLEU against dev and against test BLEU over the
    epochs; {} when rt or dev BLEU is constant (no correlation is defined)."""
    from scipy.stats import pearsonr, spearmanr

    if len(set(rt)) < 2 or len(set(dev)) < 2:
        return {}
    return {"pearson_rt_dev": float(pearsonr(rt, dev)[0]),
            "spearman_rt_dev": float(spearmanr(rt, dev)[0]),
            "pearson_rt_test": float(pearsonr(rt, test)[0]),
            "spearman_rt_test": float(spearmanr(rt, test)[0])}


def valid_rows(log: str) -> list[dict]:
    from fairseq_xdomain.fairseq_log import parse_valid

    return parse_valid(log, fields=("epoch", "bleu", "rt_bleu"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="rt_study")
    ap.add_argument("--epochs", type=int, default=24)
    ap.add_argument("--heldout", type=int, default=300)
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    bin_joint, bin_wiki = prepare(out, args.heldout)
    sh([BIN / "xdomain-run", "unmt", "--run", "study", "--langs", "aa,bb", "--mlm-baseline",
        bin_wiki, "--mlm-joint", bin_joint, "--epochs", 1, "--mlm-updates", 300,
        "--results", out / "results", "--work", out / "work", "--jobs", 2, "--preset", "tiny"])
    import numpy as np

    from fairseq_xdomain.eval_bleu import translate_subset
    from fairseq_xdomain.paths import user_dir

    study, procs = {}, {}
    from fairseq_xdomain.experiments import cli
    from fairseq_xdomain.experiments.unmt import unmt_settings
    from fairseq_xdomain.presets import fairseq_arguments

    drv = cli.build_parser().parse_args([
        "unmt", "--preset", "tiny", "--run", "study", "--langs", "aa,bb", "--mlm-baseline",
        str(bin_wiki), "--mlm-joint", str(bin_joint), "--epochs", str(args.epochs),
        "--mlm-updates", "300"])
    unmt, _mlm = unmt_settings(drv)
    for variant in ("baseline", "joint"):
        save = out / "epochs" / variant
        save.mkdir(parents=True, exist_ok=True)
        mlm = out / "work" / "study" / variant / "mlm" / "checkpoint_last.pt"
        log = save / "train.log"
        if not log.is_file() or len(valid_rows(log.read_text())) < args.epochs:
            # the driver's UNMT arguments, with a checkpoint every epoch
            cmd = [BIN / "fairseq-train", bin_joint, "--user-dir", user_dir(), "--task",
                   "unmt_xdomain", "--langs", "aa,bb", "--init-from-mlm", mlm,
                   *fairseq_arguments(unmt, has_gpu=False), "--seed", "1", "--save-dir", save,
                   "--max-epoch", str(args.epochs),  # resumes from checkpoint_last.pt
                   "--best-checkpoint-metric", "bleu", "--maximize-best-checkpoint-metric",
                   "--log-format", "simple", "--log-interval", "50", "--log-file",
                   save / "train.log"]
            procs[variant] = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
    for variant, proc in procs.items():
        if proc.wait() != 0:
            raise SystemExit(f"fairseq-train {variant} failed")
    import sacrebleu

    for variant in ("baseline", "joint"):
        save = out / "epochs" / variant
        rows = list({int(r["epoch"]): r for r in valid_rows((save / "train.log").read_text())
                     }.values())[:args.epochs]
        epochs = [int(r["epoch"]) for r in rows]
        cache_path = save / "test_bleu.json"
        cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
        dev = [r["bleu"] for r in rows]
        rt = [r["rt_bleu"] for r in rows]
        test = []
        for e in epochs:
            if str(e) in cache:
                test.append(cache[str(e)])
                continue
            scores = []
            for d in ("aa-bb", "bb-aa"):
                hyps, refs = translate_subset(str(save / f"checkpoint{e}.pt"), d, str(bin_joint),
                                              "test", cpu=True)
                scores.append(sacrebleu.corpus_bleu(hyps, [refs]).score)
            test.append(round(float(np.mean(scores)), 2))
            cache[str(e)] = test[-1]
            cache_path.write_text(json.dumps(cache))

        e_dev, e_rt = pick(epochs, dev), pick(epochs, rt)
        study[variant] = {
            "epochs": epochs, "dev_bleu": dev, "rt_bleu": rt, "test_bleu": test,
            **correlations(dev, rt, test),
            "epoch_by_dev": e_dev, "test_at_dev_pick": test[epochs.index(e_dev)],
            "epoch_by_rt": e_rt, "test_at_rt_pick": test[epochs.index(e_rt)],
            "best_test": max(test), "epoch_best_test": pick(epochs, test)}
        print(variant, json.dumps({k: v for k, v in study[variant].items()
                                   if not isinstance(v, list)}), flush=True)
    (out / "study.json").write_text(json.dumps(study, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
