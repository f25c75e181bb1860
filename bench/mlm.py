"""Benchmark of the ``xlm_mlm`` task + ``xlm_encoder`` model against fairseq's built-in MLM.

Generates a seeded two-language token corpus (Zipfian unigrams over disjoint vocabularies),
binarizes it twice with ``fairseq-preprocess`` (same dictionary, same sentences): per language in
the layout of docs/design.md for ``xlm_mlm``, and as one concatenated corpus for fairseq's
``masked_lm`` task. Then runs the real ``fairseq-train`` alternately:

* ours:    ``--task xlm_mlm --arch xlm_encoder --criterion xlm_mlm_loss``
* builtin: ``--task masked_lm --arch roberta --criterion masked_lm``

with the same model size (layers, dim, heads, FFN, GELU, dropout, post-norm, tied LM head), the
same ``--tokens-per-sample`` streams (break mode none), batch size, optimizer and thread count.
Words per second come from fairseq's own ``train_inner`` log lines (the first interval of each
run, which includes warm-up, is dropped); each system's number is the median over its runs.

Prints one JSON object: ``ours_wps``, ``builtin_wps``, ``ratio`` = ours/builtin (should be
>= 0.9), every run's numbers and the configuration. ``--out FILE`` also writes it (atomically).
CPU numbers on a shared machine are noisy: the runs alternate so that load changes hit both.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
USER_DIR = str(REPO / "fairseq_xdomain")
sys.path.insert(0, str(REPO))


def generate(root: Path, n_sent: int, vocab: int, seed: int) -> None:
    """Write raw text for en/fr (disjoint Zipfian vocabularies) and a joint dict.txt."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    counts = {}
    for lang in ("en", "fr"):
        words = np.array([f"{lang}{i}" for i in range(vocab)])
        lines = []
        for _ in range(n_sent):
            toks = words[rng.choice(vocab, size=rng.integers(8, 30), p=p)]
            lines.append(" ".join(toks))
            for t in toks:
                counts[t] = counts.get(t, 0) + 1
        for split, part in (("train", lines[: n_sent * 9 // 10]), ("valid", lines[n_sent * 9 // 10:])):
            (root / f"{lang}.{split}").write_text("\n".join(part) + "\n", encoding="utf-8")
    for split in ("train", "valid"):
        text = "".join((root / f"{lang}.{split}").read_text(encoding="utf-8") for lang in ("en", "fr"))
        (root / f"both.{split}").write_text(text, encoding="utf-8")
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    (root / "dict.txt").write_text("".join(f"{w} {c}\n" for w, c in ordered), encoding="utf-8")


def run(cmd, env=None):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(map(str, cmd))}\n{proc.stderr[-4000:]}")
    return proc.stdout + proc.stderr


def binarize(raw: Path, out: Path) -> tuple[Path, Path]:
    ours, builtin = out / "ours", out / "builtin"
    for name, dest in (("en", ours / "en"), ("fr", ours / "fr"), ("both", builtin)):
        run([BIN / "fairseq-preprocess", "--only-source", "--srcdict", raw / "dict.txt",
             "--trainpref", raw / f"{name}.train", "--validpref", raw / f"{name}.valid",
             "--destdir", dest, "--workers", "1"])
    (ours / "dict.txt").write_text((raw / "dict.txt").read_text(encoding="utf-8"), encoding="utf-8")
    return ours, builtin


def model_args(cfg):
    return [
        "--encoder-layers", cfg.layers, "--encoder-embed-dim", cfg.dim,
        "--encoder-ffn-embed-dim", 4 * cfg.dim, "--encoder-attention-heads", cfg.heads,
        "--dropout", "0.1", "--attention-dropout", "0.1", "--activation-fn", "gelu",
        "--max-positions", cfg.tokens_per_sample,
    ]


def common_args(cfg, save_dir):
    return [
        "--tokens-per-sample", cfg.tokens_per_sample, "--sample-break-mode", "none",
        "--batch-size", cfg.batch_size, "--max-update", cfg.updates,
        "--optimizer", "adam", "--lr", "1e-4", "--lr-scheduler", "fixed",
        "--seed", cfg.seed, "--num-workers", "0", "--cpu", "--log-format", "simple",
        "--log-interval", cfg.log_interval, "--disable-validation", "--no-save",
        "--save-dir", save_dir,
    ]


def train_wps(kind, data, cfg, save_dir, env) -> list[float]:
    if kind == "ours":
        task = ["--user-dir", USER_DIR, "--task", "xlm_mlm", "--langs", "en,fr",
                "--arch", "xlm_encoder", "--criterion", "xlm_mlm_loss"]
    else:
        task = ["--task", "masked_lm", "--arch", "roberta", "--criterion", "masked_lm"]
    log = run([BIN / "fairseq-train", data, *task, *model_args(cfg), *common_args(cfg, save_dir)],
              env=env)
    wps = [float(x) for x in re.findall(r"train_inner \|.*?wps=([\d.]+)", log)]
    if len(wps) < 2:
        raise SystemExit(f"{kind}: too few train_inner lines to measure wps:\n{log[-3000:]}")
    return wps[1:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=4000, help="sentences per language")
    parser.add_argument("--vocab", type=int, default=1000, help="words per language")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--tokens-per-sample", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--log-interval", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each system, alternating")
    parser.add_argument("--threads", type=int, default=1, help="OMP/torch threads per run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="also write the JSON here (atomically)")
    cfg = parser.parse_args(argv)

    env = dict(os.environ, OMP_NUM_THREADS=str(cfg.threads), MKL_NUM_THREADS=str(cfg.threads))
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    runs = {"ours": [], "builtin": []}
    with tempfile.TemporaryDirectory(prefix="bench_mlm_") as tmp:
        tmp = Path(tmp)
        generate(tmp / "raw", cfg.sentences, cfg.vocab, cfg.seed)
        ours_data, builtin_data = binarize(tmp / "raw", tmp / "bin")
        for r in range(cfg.repeats):
            order = ("ours", "builtin") if r % 2 == 0 else ("builtin", "ours")
            for kind in order:
                data = ours_data if kind == "ours" else builtin_data
                wps = train_wps(kind, data, cfg, tmp / f"ckpt_{kind}", env)
                runs[kind].append(statistics.median(wps))
                print(f"run {r + 1}/{cfg.repeats} {kind}: median wps {runs[kind][-1]:.0f}",
                      file=sys.stderr)
    ours, builtin = statistics.median(runs["ours"]), statistics.median(runs["builtin"])
    result = {
        "ours_wps": round(ours, 1),
        "builtin_wps": round(builtin, 1),
        "ratio": round(ours / builtin, 3),
        "runs": {k: [round(v, 1) for v in vs] for k, vs in runs.items()},
        "device": "cpu",
        "config": {k: v for k, v in vars(cfg).items() if k != "out"},
        "ours": "xlm_mlm + xlm_encoder + xlm_mlm_loss",
        "builtin": "masked_lm + roberta + masked_lm (fairseq 0.12.3)",
    }
    if cfg.out:
        from fairseq_xdomain.common.atomic import write_json

        write_json(cfg.out, result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
