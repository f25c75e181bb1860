"""Benchmark of `xdomain-prep tokenize`: lines/s at --workers 1 and 2 against sacremoses itself.

Generates 100k English-like lines (seeded), then measures, in this order and on the same lines:

* ``sacremoses_lps``: ``MosesPunctNormalizer.normalize`` + ``MosesTokenizer.tokenize``
  (escape=False, what ``xdomain-prep tokenize`` does) called directly in a Python loop;
* ``tokenize_lps_1`` / ``tokenize_lps_2``: the real console command
  ``xdomain-prep tokenize --lang en --workers 1|2 INPUT -o OUTPUT`` run as a subprocess, timed
  wall-clock from start to exit (process start-up, reading and writing the files included).

Wall-clock numbers need an otherwise idle machine. The ``*_per_cpu_s`` fields divide by CPU time
instead (the command's and its workers'), which other processes on the machine barely change.

Prints one JSON object (also the ratios: ``speedup_2_over_1`` should be >= 1.7 and
``ratio_1_over_sacremoses`` >= 0.9 on an otherwise idle 2-core machine).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def english_like_lines(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = ("the of and to in a is that for it as was with be by on not he this are or his "
             "from at which but have an they you were her she there been one all we their has "
             "would when if so no will more what out up said about other into than its time "
             "only could new them man some these then two first may any like now my such make "
             "over our even most me state after also made many did must before back see through "
             "year where years people way government").split()
    caps = ["Mr.", "Dr.", "U.S.", "London", "Paris", "John", "Mary", "Council", "2019", "3.5%"]
    lines = []
    for _ in range(n):
        toks = [rng.choice(words) for _ in range(rng.randint(8, 30))]
        for _ in range(rng.randint(0, 3)):
            toks.insert(rng.randrange(len(toks)), rng.choice(caps))
        for _ in range(rng.randint(0, 2)):
            i = rng.randrange(len(toks))
            toks[i] += rng.choice([",", ";", ":", "'s", ")", "\""])
        if rng.random() < 0.2:
            i = rng.randrange(len(toks))
            toks[i] = "(" + toks[i]
        toks[0] = toks[0].capitalize()
        lines.append(" ".join(toks) + rng.choice([".", ".", ".", "?", "!"]))
    return lines


def sacremoses_lps(lines: list[str]) -> tuple[float, float]:
    """(lines per wall-clock second, lines per CPU second)."""
    from sacremoses import MosesPunctNormalizer, MosesTokenizer

    norm, tok = MosesPunctNormalizer(lang="en"), MosesTokenizer(lang="en")
    start, cpu = time.perf_counter(), time.process_time()
    out = [tok.tokenize(norm.normalize(line), escape=False, return_str=True) for line in lines]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(out) == len(lines)
    return len(lines) / seconds, len(lines) / cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_lps(src: Path, out: Path, workers: int, n: int) -> tuple[float, float]:
    """(lines per wall-clock second, lines per CPU second of the command and its workers)."""
    cmd = [str(BIN / "xdomain-prep"), "-q", "tokenize", "--lang", "en", "--workers",
           str(workers), str(src), "-o", str(out)]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(cmd, check=True, env={**os.environ, "XDOMAIN_PROGRESS": "0"})
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    with open(out, "rb") as handle:
        assert sum(1 for _ in handle) == n
    return n / seconds, n / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    lines = english_like_lines(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "en.txt"
        src.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        base, base_cpu = sacremoses_lps(lines)
        lps1, cpu1 = cli_lps(src, Path(tmp) / "w1.txt", 1, len(lines))
        lps2, cpu2 = cli_lps(src, Path(tmp) / "w2.txt", 2, len(lines))
        same = (Path(tmp) / "w1.txt").read_bytes() == (Path(tmp) / "w2.txt").read_bytes()
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    print(json.dumps({
        "lines": len(lines),
        "tokenize_lps_1": round(lps1, 1),
        "tokenize_lps_2": round(lps2, 1),
        "sacremoses_lps": round(base, 1),
        "speedup_2_over_1": round(lps2 / lps1, 3),
        "ratio_1_over_sacremoses": round(lps1 / base, 3),
        "outputs_identical_1_vs_2": same,
        # per CPU-second (robust to other load on the machine): our overhead over sacremoses at
        # --workers 1, and the CPU cost of parallelism (1.0 = none; speedup ~ 2x this on 2 cores)
        "sacremoses_lps_per_cpu_s": round(base_cpu, 1),
        "tokenize_lps_per_cpu_s_1": round(cpu1, 1),
        "tokenize_lps_per_cpu_s_2": round(cpu2, 1),
        "cpu_ratio_1_over_sacremoses": round(cpu1 / base_cpu, 3),
        "parallel_cpu_efficiency_2": round(cpu2 / cpu1, 3),
        "measured": "xdomain-prep tokenize console command, wall clock incl. start-up and I/O",
        "cpus": cpus,
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
