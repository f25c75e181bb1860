"""Benchmark of robust self-learning (``ubli/self_learning.py``, Artetxe et al. 2018); prints
one JSON object.

Data: ``synthetic_emb.make_pair(n, dim)`` (a rotated, noisy copy; 20k x 300 = the paper's
dictionary-induction vocabulary and fastText's dimension by default). The run uses the paper's
settings (init vocabulary 4000, CSLS k 10, p0 0.1, patience 50) except ``--max-iter``, which caps
the iterations (the full schedule needs at least ``5 * (patience + 1)`` = 255 of them).

- ``wall_s``: the whole run (initial dictionary + iterations + final map);
  ``init_s``: the initial dictionary; ``s_per_iteration``: (wall - init) / iterations.
- ``projected_min_schedule_s``: ``init_s + 255 * s_per_iteration``: the paper's schedule
  cannot end sooner.
- ``gemm_fp32_gflops``: this machine's fp32 matrix-product rate, measured here on a
  ``[4096, dim] x [dim, n]`` product (the shape of one block of the similarity search), and
  ``gemm_s_per_iteration``: the time one ``n x n x dim`` product takes at that rate (the
  floor of one iteration); ``iteration_over_gemm``: their ratio.
- ``p@1``: nearest-neighbour P@1 (%) of the first 1500 source words after the run (a run
  stopped by ``--max-iter`` early may not have converged).

    python bench/self_learning.py [--n 20000] [--dim 300] [--threads 1] [--max-iter 10]
                                  [--device cpu|cuda] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from fairseq_xdomain.ubli.self_learning import SelfLearningConfig, normalize_sl, self_learning
from fairseq_xdomain.ubli.synthetic_emb import make_pair


def gemm_gflops(n: int, dim: int, device: str, reps: int = 3) -> float:
    a = torch.randn(4096, dim, device=device)
    b = torch.randn(n, dim, device=device)
    out = a @ b.T  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        out = a @ b.T
    if device == "cuda":
        torch.cuda.synchronize()
    del out
    return 2 * 4096 * n * dim * reps / (time.perf_counter() - t) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-iter", type=int, default=10, help="iteration cap (0: full schedule)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    src, tgt, perm, _ = make_pair(n=args.n, dim=args.dim, seed=args.seed)
    x = normalize_sl(torch.from_numpy(src).to(args.device))
    z = normalize_sl(torch.from_numpy(tgt).to(args.device))
    cfg = SelfLearningConfig(max_iter=args.max_iter or SelfLearningConfig().max_iter)
    gflops = gemm_gflops(args.n, args.dim, args.device)
    t = time.perf_counter()
    run = self_learning(x, z, cfg, seed=args.seed)
    wall = time.perf_counter() - t
    its = run["n_iterations"]
    per_it = (wall - run["init_time_s"]) / max(its, 1)
    gemm_s = 2 * args.n * args.n * args.dim / gflops / 1e9
    m = torch.nn.functional.normalize(x[:1500] @ run["W_src"], dim=1)
    t_ = torch.nn.functional.normalize(z @ run["W_tgt"], dim=1)
    p1 = 100.0 * ((m @ t_.T).argmax(1).cpu() == torch.from_numpy(perm[:1500])).float().mean()
    min_its = 5 * (cfg.patience + 1)
    print(json.dumps({
        "n": args.n, "dim": args.dim, "threads": args.threads, "device": args.device,
        "wall_s": round(wall, 2), "init_s": round(run["init_time_s"], 2), "iterations": its,
        "s_per_iteration": round(per_it, 3),
        "projected_min_schedule_s": round(run["init_time_s"] + min_its * per_it, 1),
        "gemm_fp32_gflops": round(gflops, 1), "gemm_s_per_iteration": round(gemm_s, 3),
        "iteration_over_gemm": round(per_it / gemm_s, 2), "p@1": round(float(p1), 1),
        "final_keep_prob": run["keep_prob"][-1] if run["keep_prob"] else None,
    }))


if __name__ == "__main__":
    main()
