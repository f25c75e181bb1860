"""Benchmark of the ``xlm_mlm`` task + ``xlm_encoder`` model against fairseq's built-in MLM.

Generates a seeded two-language token corpus (Zipfian unigrams over disjoint vocabularies),
binarizes it twice with ``fairseq-preprocess`` (same dictionary, same sentences): per language in
the layout of docs/design.md for ``xlm_mlm``, and as one concatenated corpus for fairseq's
``masked_lm`` task, and trains both systems

* ours:    ``--task xlm_mlm --arch xlm_encoder --criterion xlm_mlm_loss``
* builtin: ``--task masked_lm --arch roberta --criterion masked_lm``

with the same model size (layers, dim, heads, FFN, GELU, dropout, post-norm, tied LM head), the
same ``--tokens-per-sample`` streams (break mode none), batch size, optimizer and thread count.

``--mode api`` (default): both fairseq ``Trainer``s are built in this process from the same
command lines fairseq-train would parse, and alternate chunks of ``--log-interval`` updates
(after one warm-up chunk each), so a change of machine load hits both; words per second =
tokens / wall time of ``Trainer.train_step`` including data loading, per chunk.
``--mode cli``: ``--repeats`` real ``fairseq-train`` runs each, alternating, wps parsed from
fairseq's ``train_inner`` log lines (the first interval dropped). Each system's number is the
median over its chunks (or runs).

Prints one JSON object: ``ours_wps``, ``builtin_wps``, ``ratio`` = ours/builtin (should be
>= 0.9), the per-chunk numbers and the configuration. ``--out FILE`` also writes it (atomically).
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
import time
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


def build_trainer(kind, data, cfg):
    """A fairseq Trainer for one system, built from the same command line fairseq-train gets."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.trainer import Trainer

    if kind == "ours":
        task_args = ["--user-dir", USER_DIR, "--task", "xlm_mlm", "--langs", "en,fr",
                     "--arch", "xlm_encoder", "--criterion", "xlm_mlm_loss"]
    else:
        task_args = ["--task", "masked_lm", "--arch", "roberta", "--criterion", "masked_lm"]
    argv = [str(a) for a in [data, *task_args, *model_args(cfg), *common_args(cfg, "/nonexistent")]]
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    fcfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(fcfg.task)
    task.load_dataset("train")
    model = task.build_model(fcfg.model)
    criterion = task.build_criterion(fcfg.criterion)
    trainer = Trainer(fcfg, task, model, criterion)
    state = {"epoch_itr": trainer.get_train_iterator(epoch=1, load_dataset=False)}
    state["itr"] = state["epoch_itr"].next_epoch_itr(shuffle=True)

    def steps(n):
        """Run n updates; return (tokens, seconds)."""
        tokens, start = 0, time.perf_counter()
        for _ in range(n):
            if not state["itr"].has_next():
                state["epoch_itr"] = trainer.get_train_iterator(
                    state["epoch_itr"].next_epoch_idx, load_dataset=False)
                state["itr"] = state["epoch_itr"].next_epoch_itr(shuffle=True)
            sample = next(state["itr"])
            tokens += int(sample["ntokens"])
            trainer.train_step([sample])
        return tokens, time.perf_counter() - start

    return steps


def bench_api(ours_data, builtin_data, cfg):
    """Both systems in this process, alternating chunks of updates (same load for both)."""
    import fairseq  # noqa: F401
    import torch

    import fairseq_xdomain

    fairseq_xdomain.register()
    torch.set_num_threads(cfg.threads)
    systems = {"ours": build_trainer("ours", ours_data, cfg),
               "builtin": build_trainer("builtin", builtin_data, cfg)}
    for steps in systems.values():  # warm-up, not timed
        steps(cfg.log_interval)
    chunks = {"ours": [], "builtin": []}
    n_chunks = max(1, cfg.updates // cfg.log_interval)
    for c in range(n_chunks):
        order = ("ours", "builtin") if c % 2 == 0 else ("builtin", "ours")
        for kind in order:
            tokens, seconds = systems[kind](cfg.log_interval)
            chunks[kind].append(tokens / seconds)
    return chunks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # the integer options: (flag, default, help)
    for flag, default, help_text in (
        ("--sentences", 4000, "sentences per language"),
        ("--vocab", 1000, "words per language"),
        ("--dim", 128, None), ("--layers", 2, None), ("--heads", 4, None),
        ("--tokens-per-sample", 64, None), ("--batch-size", 16, None),
        ("--updates", 200, None), ("--log-interval", 25, None),
        ("--repeats", 2, "runs of each system, alternating"),
        ("--threads", 1, "OMP/torch threads per run"),
        ("--seed", 1, None),
    ):
        parser.add_argument(flag, type=int, default=default, help=help_text)
    parser.add_argument("--mode", choices=("api", "cli"), default="api",
                        help="api: both Trainers in this process, alternating chunks of "
                             "--log-interval updates (robust under load); cli: fairseq-train runs")
    parser.add_argument("--out", help="also write the JSON here (atomically)")
    cfg = parser.parse_args(argv)

    env = dict(os.environ, OMP_NUM_THREADS=str(cfg.threads), MKL_NUM_THREADS=str(cfg.threads))
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    runs = {"ours": [], "builtin": []}
    with tempfile.TemporaryDirectory(prefix="bench_mlm_") as tmp:
        tmp = Path(tmp)
        generate(tmp / "raw", cfg.sentences, cfg.vocab, cfg.seed)
        ours_data, builtin_data = binarize(tmp / "raw", tmp / "bin")
        for r in range(cfg.repeats if cfg.mode == "cli" else 0):
            order = ("ours", "builtin") if r % 2 == 0 else ("builtin", "ours")
            for kind in order:
                data = ours_data if kind == "ours" else builtin_data
                wps = train_wps(kind, data, cfg, tmp / f"ckpt_{kind}", env)
                runs[kind].append(statistics.median(wps))
                print(f"run {r + 1}/{cfg.repeats} {kind}: median wps {runs[kind][-1]:.0f}",
                      file=sys.stderr)
        if cfg.mode == "api":
            runs = bench_api(ours_data, builtin_data, cfg)
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
