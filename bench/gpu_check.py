"""The GPU check: what a lent GPU must run, in one go (at most about 8 minutes on one GPU).

Prints one JSON object (also written to ``--out``), one entry per part; a part that fails
records its error and the others still run:

- ``ubli_grid``: the paper's UBLI grid (4 seeds x epochs 1/3/5 x refinements 1/3/5, batched) on
  a synthetic 20k x 300 embedding pair, ``--precision auto``; adversarial samples/s.
- ``csls_knn``: CSLS top-10 of every source word over 20k targets, with faiss (faiss-gpu when
  present) and with the torch fallback.
- ``xlm_mlm`` and ``unmt_xdomain``: 100 updates each of the paper-size models (``xlm_encoder_base``,
  ``unmt_transformer``) with ``--fp16`` on a cipher language pair; words/s and the loss.
- ``unmt_ddp_ws1``: ``unmt_xdomain`` through fairseq's distributed initialisation with world size 1
  (nccl): the process group and nccl come up (fairseq wraps the model in DDP only for world
  size > 1; the wrappers themselves are tested on CPU in tests/test_distributed.py).

``--tiny`` is the CPU form run by the test suite (small sizes, tiny models, 3 updates,
``--memory-efficient-fp16`` instead of ``--fp16``, gloo), so that this script cannot rot.

    python bench/gpu_check.py [--tiny] [--out gpu_check.json]
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
USER_DIR = str(REPO / "fairseq_xdomain")

from unmt_cipher import make_cipher_data  # noqa: E402


def _part(out, name, fn):
    t0 = time.perf_counter()
    try:
        out[name] = fn()
    except Exception as err:  # one failing part must not hide the others
        out[name] = {"error": f"{type(err).__name__}: {err}"[-2000:]}
    out[name]["wall_s"] = round(time.perf_counter() - t0, 2)
    return out[name]


def ubli_grid(tmp: Path, n: int, dim: int, epoch_size: int, dis_hid: int):
    from fairseq_xdomain.ubli.commands.grid import add_grid_arguments, grid_config, run_args
    from fairseq_xdomain.ubli.synthetic_emb import write_pair

    write_pair(tmp, n, dim)
    args = add_grid_arguments(argparse.ArgumentParser()).parse_args([
        "--src-emb", str(tmp / "src.vec"), "--tgt-emb", str(tmp / "tgt.vec"),
        "--dico-eval", str(tmp / "dico.txt"), "--out", str(tmp / "grid"),
        "--epoch-size", str(epoch_size), "--dis-hid-dim", str(dis_hid),
        "--dis-most-frequent", str(min(n, 75000)), "--precision", "auto", "--no-progress"])
    adv = grid_config(args).adversarial_config()
    t0 = time.perf_counter()
    summary, _ = run_args(args)
    secs = time.perf_counter() - t0
    samples = len(args.seeds) * max(args.epochs) * epoch_size
    return {"words": n, "dim": dim, "epoch_size": epoch_size, "seeds": len(args.seeds),
            "grid_s": round(secs, 2), "samples_per_s": round(samples / secs, 1),
            "precision": adv.precision,
            "selected_csls_p@1": summary["selected_record"].get("csls_p@1")}


def csls_knn(n: int, dim: int, device: str):
    from fairseq_xdomain.ubli.csls import csls_topk, normalize

    g = torch.Generator().manual_seed(0)
    src = normalize(torch.randn(n, dim, generator=g)).to(device)
    tgt = normalize(torch.randn(n, dim, generator=g)).to(device)
    res = {"n": n, "dim": dim, "device": device}
    for backend in ("faiss", "torch"):
        try:
            t0 = time.perf_counter()
            _, idx = csls_topk(src, tgt, backend=backend)
            if device == "cuda":
                torch.cuda.synchronize()
            res[f"{backend}_s"] = round(time.perf_counter() - t0, 3)
            res[f"{backend}_top1_checksum"] = int(idx[:, 0].long().sum())
        except Exception as err:
            res[f"{backend}_error"] = f"{type(err).__name__}: {err}"[-500:]
    try:
        import faiss

        res["faiss_gpus"] = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    except ImportError:
        res["faiss_gpus"] = None
    return res


def _fairseq_train(args, log: Path):
    cmd = [sys.executable, "-m", "fairseq_cli.train", *map(str, args)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    secs = time.perf_counter() - t0
    log.write_text(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"fairseq-train failed ({proc.returncode}): {proc.stdout[-1500:]}")
    last = [ln for ln in proc.stdout.splitlines() if "| train |" in ln or "train_inner" in ln]
    fields = dict(re.findall(r"(\w+)[= ]([-\d.]+)", last[-1].split("|", 3)[-1])) if last else {}
    keep = ("loss", "wps", "ups", "num_updates", "train_wall", "bt_sec", "step_sec")
    return {"process_s": round(secs, 2), **{k: float(v) for k, v in fields.items() if k in keep}}


def train_task(task, data, save, tiny, precision, updates, extra=()):
    if task == "xlm_mlm":
        args = [data, "--task", "xlm_mlm", "--langs", "aa,bb", "--criterion", "xlm_mlm_loss",
                "--arch", "xlm_encoder_tiny" if tiny else "xlm_encoder_base",
                "--tokens-per-sample", "64" if tiny else "256",
                "--max-tokens", "2048" if tiny else "8192", "--disable-validation"]
    else:
        args = [data, "--task", "unmt_xdomain", "--langs", "aa,bb", "--criterion", "cross_entropy",
                "--arch", "unmt_transformer_tiny" if tiny else "unmt_transformer",
                "--max-tokens", "1000" if tiny else "2000", "--lambda-dae", "1", "--lambda-bt", "1",
                "--disable-validation"]
    args += ["--user-dir", USER_DIR, "--optimizer", "adam", "--lr", "1e-4", "--max-update",
             str(updates), "--save-dir", save, "--no-save", "--seed", "1", "--num-workers", "0",
             "--log-format", "simple", "--log-interval", str(max(1, updates // 4)), *precision,
             *extra]
    return _fairseq_train(args, Path(str(save) + ".log"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="CPU form for the test suite")
    p.add_argument("--out", help="also write the JSON here")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cuda = torch.cuda.is_available() and not a.tiny
    out = {"tiny": a.tiny, "torch": torch.__version__, "cuda": torch.version.cuda,
           "device": torch.cuda.get_device_name(0) if cuda else "cpu"}
    if a.tiny:
        sizes = dict(n=400, dim=32, epoch_size=320, dis_hid=64, updates=3, n_train=400)
        precision = ["--cpu", "--memory-efficient-fp16"]
        backend = "gloo"
    else:
        sizes = dict(n=20000, dim=300, epoch_size=100000, dis_hid=2048, updates=100, n_train=20000)
        precision = ["--fp16"] if cuda else ["--cpu"]
        backend = "nccl" if cuda else "gloo"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _part(out, "ubli_grid", lambda: ubli_grid(tmp, sizes["n"], sizes["dim"],
                                                  sizes["epoch_size"], sizes["dis_hid"]))
        _part(out, "csls_knn", lambda: csls_knn(sizes["n"], sizes["dim"],
                                                "cuda" if cuda else "cpu"))
        data = make_cipher_data(tmp / "cipher", n_train=sizes["n_train"], n_valid=40,
                                vocab_size=60 if a.tiny else 300, seed=1)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ddp = ["--distributed-world-size", "1", "--distributed-rank", "0", "--distributed-no-spawn",
               "--distributed-init-method", f"tcp://127.0.0.1:{port}",
               "--distributed-backend", backend]
        runs = {
            "xlm_mlm": lambda: train_task("xlm_mlm", data, tmp / "mlm", a.tiny, precision,
                                          sizes["updates"]),
            "unmt_xdomain": lambda: train_task("unmt_xdomain", data, tmp / "unmt", a.tiny,
                                               precision, sizes["updates"]),
            "unmt_ddp_ws1": lambda: {"backend": backend, **train_task(
                "unmt_xdomain", data, tmp / "ddp", a.tiny, precision, sizes["updates"], ddp)},
        }
        # on the GPU one after the other (clean timings); --tiny side by side (start-up bound)
        with ThreadPoolExecutor(max_workers=len(runs) if a.tiny else 1) as pool:
            parts = {name: pool.submit(_part, {}, name, fn) for name, fn in runs.items()}
        for name, fut in parts.items():
            out[name] = fut.result()
    out["ok"] = not any(isinstance(v, dict) and "error" in v for v in out.values())
    text = json.dumps(out)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
