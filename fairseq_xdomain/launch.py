"""``xdomain-train``: run ``fairseq-train`` in N data-parallel processes, on CPUs or GPUs.

    xdomain-train --nproc 2 --cpu -- DATA --user-dir ... --task unmt_xdomain ...
    xdomain-train --nproc 8 -- DATA --user-dir ... --task unmt_xdomain --fp16 ...

``--cpu``: fairseq 0.12.3's own launch modes do not work without GPUs (``--distributed-world-size``
asserts CUDA devices; torchrun divides by ``cuda.device_count()``). This launcher starts one
``fairseq-train`` per rank with ``--distributed-rank R --distributed-world-size N
--distributed-init-method tcp://127.0.0.1:PORT --distributed-no-spawn --distributed-backend gloo
--cpu`` (a free port; ``--ddp-backend legacy_ddp`` unless the arguments name another backend),
shows rank 0's output and the other ranks' lines prefixed with ``[rank R]``, stops every rank as
soon as one fails, and exits with the status of the first rank that failed (0 when all succeed).
Threads: ``OMP_NUM_THREADS`` if set, else the CPU count divided by N.

GPUs (no ``--cpu``): fairseq's own launch, one process per GPU of this machine
(``fairseq-train ... --distributed-world-size N``, nccl, DDP backend as given, fairseq's default
``pytorch_ddp`` otherwise). Several machines: see docs/distributed.md.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from .common.cli import ArgumentParser
from .common.errors import UserError, cli_entry

# Flags the launcher sets itself; given among the fairseq arguments they would contradict it.
OWN_FLAGS = ("--distributed-world-size", "--distributed-rank", "--distributed-init-method",
             "--distributed-no-spawn", "--distributed-backend", "--distributed-port",
             "--node-rank", "--distributed-num-procs")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has_flag(args, flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


def _flag_value(args, flag: str):
    """The value of ``flag`` in ``args`` (``--flag V`` or ``--flag=V``; the last one), or None."""
    value = None
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def check_user_dir(train_args) -> None:
    """``--user-dir`` of the fairseq-train arguments, checked once before any rank starts: it must
    be a folder with ``__init__.py`` (relative to here, or to fairseq's package, as fairseq looks
    it up). UserError naming the folder and how to get the plugin's (``xdomain-user-dir``)."""
    import importlib.util

    value = _flag_value(train_args, "--user-dir")
    if value is None:
        return
    how = 'the plugin\'s folder is printed by xdomain-user-dir: --user-dir "$(xdomain-user-dir)"'
    candidates = [os.path.abspath(value)]
    spec = importlib.util.find_spec("fairseq")
    if spec is not None and spec.origin and not os.path.isabs(value):
        candidates.append(os.path.join(os.path.dirname(spec.origin), value))
    found = next((c for c in candidates if os.path.isdir(c)), None)
    if found is None:
        raise UserError(f"--user-dir {value}: no such folder (looked in {os.getcwd()}); {how}")
    if not os.path.isfile(os.path.join(found, "__init__.py")):
        raise UserError(f"--user-dir {value}: {found} is not a Python package (no __init__.py); "
                        f"{how}")


def fairseq_train_command() -> list[str]:
    """``fairseq-train`` of this Python environment."""
    return [sys.executable, "-m", "fairseq_cli.train"]


def cpu_rank_args(train_args, nproc: int, rank: int, port: int) -> list[str]:
    """fairseq-train arguments of one CPU rank (gloo, one process per rank)."""
    args = list(train_args)
    if not _has_flag(args, "--cpu"):
        args.append("--cpu")
    if not _has_flag(args, "--ddp-backend"):
        args += ["--ddp-backend", "legacy_ddp"]
    return args + [
        "--distributed-world-size", str(nproc), "--distributed-rank", str(rank),
        "--distributed-init-method", f"tcp://127.0.0.1:{port}", "--distributed-no-spawn",
        "--distributed-backend", "gloo",
    ]


def _pump(stream, out, prefix: str) -> None:
    for line in iter(stream.readline, ""):
        out.write(prefix + line)
        out.flush()
    stream.close()


def _stop(procs, grace_s: float = 10.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_cpu_ranks(train_args, nproc: int, port: int | None = None) -> int:
    """Start ``nproc`` CPU ranks; return the first failing rank's exit status (0: all ran)."""
    port = port or free_port()
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    cmd = fairseq_train_command()
    procs, pumps = [], []
    try:
        for rank in range(nproc):
            p = subprocess.Popen(cmd + cpu_rank_args(train_args, nproc, rank, port), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 bufsize=1)
            procs.append(p)
            t = threading.Thread(target=_pump, args=(p.stdout, sys.stdout,
                                                     "" if rank == 0 else f"[rank {rank}] "),
                                 daemon=True)
            t.start()
            pumps.append(t)
        status = 0
        while True:  # until every rank is done or one fails
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                rank, status = failed[0]
                print(f"xdomain-train: rank {rank} exited with status {status}; stopping the "
                      "other ranks", file=sys.stderr)
                break
            if all(c == 0 for c in codes):
                break
            time.sleep(0.2)
    finally:
        _stop(procs)
        for t in pumps:
            t.join(timeout=5)
    return status if status >= 0 else 128 - status  # killed by signal S: 128 + S, as a shell


def run_gpus(train_args, nproc: int) -> int:
    """fairseq's own single-machine launch: one process per GPU (nccl)."""
    import torch

    ngpu = torch.cuda.device_count()
    if ngpu == 0:
        raise UserError("no CUDA device visible: add --cpu to train in CPU processes")
    if nproc > ngpu:
        raise UserError(f"--nproc {nproc}: only {ngpu} CUDA device(s) visible")
    args = list(train_args)
    if nproc > 1:
        args += ["--distributed-world-size", str(nproc)]
    return subprocess.call(fairseq_train_command() + args)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="xdomain-train",
        description="Run fairseq-train in N data-parallel processes (CPU ranks over gloo, or "
                    "one process per GPU). Arguments after '--' go to fairseq-train.",
        usage="xdomain-train --nproc N [--cpu] [--port PORT] -- FAIRSEQ_TRAIN_ARGS...",
    )
    p.add_argument("--nproc", type=int, required=True, help="number of processes (ranks)")
    p.add_argument("--cpu", action="store_true", help="CPU ranks (gloo); default: one per GPU")
    p.add_argument("--port", type=int, default=0, help="rendezvous port of CPU ranks (default: a free one)")
    return p


@cli_entry
def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        if "-h" in argv or "--help" in argv or "--version" in argv:
            build_parser().parse_args(argv)  # prints the usage (or version) and exits 0
        raise UserError("give fairseq-train's arguments after '--': xdomain-train --nproc N "
                        "[--cpu] -- DATA --task ...")
    split = argv.index("--")
    opts = build_parser().parse_args(argv[:split])
    train_args = argv[split + 1:]
    if opts.nproc < 1:
        raise UserError(f"--nproc must be >= 1, got {opts.nproc}")
    if not train_args:
        raise UserError("no fairseq-train arguments after '--'")
    given = [f for f in OWN_FLAGS if _has_flag(train_args, f)]
    if given and opts.nproc > 1:
        raise UserError(f"{given[0]}: set by xdomain-train itself; leave it out (or run "
                        "fairseq-train directly)")
    check_user_dir(train_args)  # once, before any rank starts
    if opts.cpu:
        if opts.nproc == 1:
            cpu = [] if _has_flag(train_args, "--cpu") else ["--cpu"]
            code = subprocess.call(fairseq_train_command() + train_args + cpu)
        else:
            code = run_cpu_ranks(train_args, opts.nproc, opts.port or None)
    else:
        code = run_gpus(train_args, opts.nproc)
    sys.exit(code)


if __name__ == "__main__":
    main()
