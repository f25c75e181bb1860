"""Training throughput of ``unmt_xdomain`` vs fairseq's built-in ``online_backtranslation``.

Same generated monolingual data (a cipher pair), same model size (transformer, shared
embeddings), same ``--max-tokens``, same number of updates, run one after the other in the same
process tree. Prints one JSON object:

- ``ours_sents_per_s`` / ``builtin_sents_per_s``: training examples (denoising + back-translation
  sentences) per second, from the ``train_inner`` logs after the first interval (``bsz * ups``);
- ``ratio`` = ours / builtin;
- ``ours_bt_share``: fraction of our training wall time spent generating back-translations.

The built-in task needs ``__aa__``-style language tokens in its dictionary and prepends them to
sources and targets; its data folder is built here from ours (same binarized files).

    .venv/bin/python bench/unmt.py [--updates 40] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unmt_cipher import USER_DIR, make_cipher_data, run  # noqa: E402

MODEL = {"dim": 128, "ffn": 512, "heads": 4, "layers": 2}


def builtin_layout(ours: Path, out: Path, langs=("aa", "bb")) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    text = (ours / "dict.txt").read_text(encoding="utf-8")
    (out / "dict.txt").write_text(text + "".join(f"__{lang}__ 1\n" for lang in langs), encoding="utf-8")
    for lang in langs:
        (out / lang).mkdir(exist_ok=True)
        for ext in ("bin", "idx"):
            shutil.copy(ours / lang / f"train.{ext}", out / lang / f"train.{ext}")
    for path in ours.glob("valid.*"):
        shutil.copy(path, out / path.name)
    return out


def inner_rate(log: str) -> tuple[float, int]:
    """Mean of bsz * ups over the train_inner lines, skipping the first (warm-up) interval."""
    rates = []
    for line in log.splitlines():
        if "| train_inner |" not in line:
            continue
        stats = dict(re.findall(r"(\w+)=([-\d.]+)", line))
        rates.append(float(stats["bsz"]) * float(stats["ups"]))
    if len(rates) < 2:
        raise RuntimeError(f"not enough train_inner lines:\n{log[-3000:]}")
    rates = rates[1:]
    return sum(rates) / len(rates), len(rates)


def timed_run(cmd, log_path):
    """Run a command; return (output, CPU seconds of the child: user + sys)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = run(cmd, log_path=log_path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return log, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def total_sents(log: str) -> float:
    stats = epoch_stats(log)
    return stats["bsz"] * stats["num_updates"]


def epoch_stats(log: str) -> dict:
    lines = [ln for ln in log.splitlines() if "| train | epoch" in ln]
    return {k: float(v) for k, v in re.findall(r"\| (\w+) ([-\d.]+)", lines[-1])} if lines else {}


def common_args(save: Path, updates: int, max_tokens: int, seed: int):
    return ["--criterion", "cross_entropy", "--optimizer", "adam", "--lr", "5e-4",
            "--max-tokens", str(max_tokens), "--max-update", str(updates), "--save-dir", save,
            "--no-save", "--disable-validation", "--seed", str(seed), "--cpu", "--num-workers", "0",
            "--log-format", "simple", "--log-interval", str(max(1, updates // 5)),
            "--dropout", "0.1", "--attention-dropout", "0.0", "--lambda-bt", "1", "--lambda-dae", "1"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/bench/unmt")
    ap.add_argument("--updates", type=int, default=40)
    ap.add_argument("--max-tokens", type=int, default=2000)
    ap.add_argument("--n-train", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    out = Path(args.out)
    data = make_cipher_data(out / "data", n_train=args.n_train, n_valid=100, vocab_size=300, seed=args.seed)
    builtin_data = builtin_layout(data, out / "data_builtin")
    m = MODEL
    ours_cmd = ["fairseq-train", data, "--user-dir", USER_DIR, "--task", "unmt_xdomain", "--langs", "aa,bb",
                "--arch", "unmt_transformer", "--encoder-embed-dim", m["dim"],
                "--encoder-ffn-embed-dim", m["ffn"], "--encoder-attention-heads", m["heads"],
                "--encoder-layers", m["layers"], "--decoder-layers", m["layers"],
                "--word-blank", "0.1", "--word-dropout", "0.1", "--word-shuffle", "3",
                *common_args(out / "ckpt_ours", args.updates, args.max_tokens, args.seed)]
    builtin_cmd = ["fairseq-train", builtin_data, "--task", "online_backtranslation",
                   "--mono-langs", "aa,bb", "--valid-lang-pairs", "aa-bb",
                   "--arch", "transformer", "--share-all-embeddings",
                   "--encoder-embed-dim", m["dim"], "--decoder-embed-dim", m["dim"],
                   "--encoder-ffn-embed-dim", m["ffn"], "--decoder-ffn-embed-dim", m["ffn"],
                   "--encoder-attention-heads", m["heads"], "--decoder-attention-heads", m["heads"],
                   "--encoder-layers", m["layers"], "--decoder-layers", m["layers"],
                   "--activation-fn", "gelu", "--word-blanking-prob", "0.1", "--word-dropout-prob", "0.1",
                   "--max-word-shuffle-distance", "3",
                   *common_args(out / "ckpt_builtin", args.updates, args.max_tokens, args.seed)]
    env_note = f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    ours_log, ours_cpu = timed_run(ours_cmd, out / "ours.log")
    builtin_log, builtin_cpu = timed_run(builtin_cmd, out / "builtin.log")
    ours_rate, n1 = inner_rate(ours_log)
    builtin_rate, n2 = inner_rate(builtin_log)
    stats = epoch_stats(ours_log)
    bt_share = stats.get("bt_sec", 0.0) / stats["train_wall"] if stats.get("train_wall") else None
    result = {
        "ours_sents_per_s": round(ours_rate, 2),
        "builtin_sents_per_s": round(builtin_rate, 2),
        "ratio": round(ours_rate / builtin_rate, 3),
        "ours_bt_share": round(bt_share, 3) if bt_share is not None else None,
        # under CPU contention wall-clock rates are noisy: also examples per CPU second of the
        # whole fairseq-train process (start-up included, same for both)
        "ours_sents_per_cpu_s": round(total_sents(ours_log) / ours_cpu, 2),
        "builtin_sents_per_cpu_s": round(total_sents(builtin_log) / builtin_cpu, 2),
        "config": {**vars(args), "model": m, "intervals_measured": [n1, n2], "threads": env_note,
                   "device": "cpu"},
    }
    from fairseq_xdomain.common.atomic import write_json

    write_json(out / "result.json", result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
