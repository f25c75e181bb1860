"""Benchmark of robust self-learning (``ubli/self_learning.py``, Artetxe et al. 2018); prints
one JSON object.

Data: ``synthetic_emb.make_pair(n, dim)`` (a rotated, noisy copy; 20k x 300 = the paper's
dictionary-induction vocabulary and fastText's dimension by default). The run uses the paper's
settings (init vocabulary 4000, CSLS k 10, p0 0.1, patience 50) except ``--max-iter``, which caps
the iterations (the full schedule needs at least ``5 * (patience + 1)`` = 255 of them), and
``--vocab`` (the dictionary-induction vocabulary, default 20000 as the paper's).

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

``--reference-vecmap DIR`` (optional; a checkout of Artetxe's vecmap that you have yourself:
GPL-3, never part of this project) also times the reference on the same data: the pair is
written as ``.vec`` files with a gold dictionary of the first 1500 source words (source words
``s<i>``, target words ``t<i>``: no identical strings), ours runs on the vectors read back from
those files, and ``python DIR/map_embeddings.py --unsupervised -v --seed SEED
[--vocabulary_cutoff VOCAB]`` runs as a subprocess of this one with the same thread count
(``OMP/MKL/OPENBLAS_NUM_THREADS``). Both mapped spaces are scored by our evaluator
(``evaluation.evaluate_translation``: NN and CSLS P@1 in %): ``ours_eval`` / ``vecmap`` in the
output, with vecmap's ``wall_s`` (the whole subprocess: reading, mapping, writing),
``iterations`` (its ``ITERATION`` log lines) and ``wall_ratio_ours_over_vecmap``. Use
``--max-iter 0`` for a like-for-like run (vecmap has no iteration cap). ``--keep DIR`` keeps the
files (default: a temporary folder).

    python bench/self_learning.py [--n 20000] [--dim 300] [--threads 1] [--max-iter 10]
                                  [--device cpu|cuda] [--seed 0] [--vocab 20000]
                                  [--reference-vecmap DIR] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fairseq_xdomain.ubli.self_learning import SelfLearningConfig, normalize_sl, self_learning
from fairseq_xdomain.ubli.synthetic_emb import make_pair

N_EVAL = 1500  # source words scored (the first ones: the most frequent)


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


def write_reference_pair(folder: Path, src: np.ndarray, tgt: np.ndarray, perm: np.ndarray,
                         ) -> tuple[Path, Path, Path]:
    """``src.vec`` (words ``s<i>``), ``tgt.vec`` (row ``perm[i]`` is ``t<i>``) and the gold
    ``dico.txt`` (``s<i> t<i>`` for the first :data:`N_EVAL` words) under ``folder``."""
    from fairseq_xdomain.common.atomic import write_text
    from fairseq_xdomain.embeddings.vecio import save_vec

    tgt_words = [""] * len(perm)
    for i, j in enumerate(perm):
        tgt_words[j] = f"t{i}"
    save_vec(folder / "src.vec", [f"s{i}" for i in range(len(src))], src)
    save_vec(folder / "tgt.vec", tgt_words, tgt)
    write_text(folder / "dico.txt", "".join(f"s{i} t{i}\n" for i in range(min(N_EVAL, len(src)))))
    return folder / "src.vec", folder / "tgt.vec", folder / "dico.txt"


def score(mapped_src: torch.Tensor, mapped_tgt: torch.Tensor, src_w2i: dict, tgt_w2i: dict,
          dico_path: Path) -> dict:
    """Our evaluator's NN and CSLS P@1 (%) of a mapped pair."""
    from fairseq_xdomain.ubli.evaluation import evaluate_translation, load_dictionary

    ev = evaluate_translation(mapped_src.cpu(), mapped_tgt.cpu(), src_w2i, tgt_w2i,
                              load_dictionary(dico_path), backend="torch")
    return {"nn_p@1": round(ev["nn_p@1"], 1), "csls_p@1": round(ev["csls_p@1"], 1),
            "coverage": ev["coverage"]}


def run_vecmap(vecmap_dir: Path, src_vec: Path, tgt_vec: Path, dico: Path, folder: Path,
               threads: int, seed: int, vocab: int) -> dict:
    """Run ``vecmap_dir/map_embeddings.py --unsupervised`` on the pair and score its output."""
    from fairseq_xdomain.ubli.data import load_pair

    script = vecmap_dir / "map_embeddings.py"
    if not script.is_file():
        sys.exit(f"error: {vecmap_dir}: no map_embeddings.py (expected a vecmap checkout)")
    env = dict(os.environ, **{v: str(threads) for v in
                              ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    out_src, out_tgt = folder / "vecmap.src.vec", folder / "vecmap.tgt.vec"
    cmd = [sys.executable, str(script), "--unsupervised", "-v", "--seed", str(seed),
           "--vocabulary_cutoff", str(vocab), str(src_vec), str(tgt_vec), str(out_src),
           str(out_tgt)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=vecmap_dir, capture_output=True, text=True)
    wall = time.perf_counter() - t
    (folder / "vecmap.log").write_text(proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        sys.exit(f"error: {script}: exited with {proc.returncode}: {last}")
    src_wv, tgt_wv, xs, zs = load_pair(out_src, out_tgt)
    return {"wall_s": round(wall, 2), "iterations": proc.stderr.count("ITERATION "),
            "command": " ".join(cmd[1:]),
            **score(xs, zs, src_wv.word2id, tgt_wv.word2id, dico)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-iter", type=int, default=10, help="iteration cap (0: full schedule)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=SelfLearningConfig().vocab,
                    help="dictionary-induction vocabulary (ours: vocab; vecmap: "
                         "--vocabulary_cutoff)")
    ap.add_argument("--reference-vecmap", type=Path, default=None, metavar="DIR",
                    help="your own vecmap checkout: run it too, on the same .vec files")
    ap.add_argument("--keep", type=Path, default=None, metavar="DIR",
                    help="with --reference-vecmap: write the files here (default: a temp dir)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    src, tgt, perm, _ = make_pair(n=args.n, dim=args.dim, seed=args.seed)
    tmp = None
    if args.reference_vecmap is not None:
        if args.keep is None:
            tmp = tempfile.TemporaryDirectory(prefix="bench_sl_")
        folder = args.keep or Path(tmp.name)
        folder.mkdir(parents=True, exist_ok=True)
        from fairseq_xdomain.ubli.data import load_pair

        src_vec, tgt_vec, dico = write_reference_pair(folder, src, tgt, perm)
        src_wv, tgt_wv, xs, zs = load_pair(src_vec, tgt_vec)  # what vecmap reads too
        src, tgt = xs.numpy(), zs.numpy()
        perm = np.array([tgt_wv.word2id[f"t{i}"] for i in range(args.n)])
    x = normalize_sl(torch.from_numpy(src).to(args.device))
    z = normalize_sl(torch.from_numpy(tgt).to(args.device))
    cfg = SelfLearningConfig(vocab=args.vocab,
                             max_iter=args.max_iter or SelfLearningConfig().max_iter)
    gflops = gemm_gflops(args.n, args.dim, args.device)
    t = time.perf_counter()
    run = self_learning(x, z, cfg, seed=args.seed)
    wall = time.perf_counter() - t
    its = run["n_iterations"]
    per_it = (wall - run["init_time_s"]) / max(its, 1)
    gemm_s = 2 * args.n * args.n * args.dim / gflops / 1e9
    m = torch.nn.functional.normalize(x[:N_EVAL] @ run["W_src"], dim=1)
    t_ = torch.nn.functional.normalize(z @ run["W_tgt"], dim=1)
    p1 = 100.0 * ((m @ t_.T).argmax(1).cpu() == torch.from_numpy(perm[:N_EVAL])).float().mean()
    min_its = 5 * (cfg.patience + 1)
    result = {
        "n": args.n, "dim": args.dim, "threads": args.threads, "device": args.device,
        "vocab": args.vocab,
        "wall_s": round(wall, 2), "init_s": round(run["init_time_s"], 2), "iterations": its,
        "s_per_iteration": round(per_it, 3),
        "projected_min_schedule_s": round(run["init_time_s"] + min_its * per_it, 1),
        "gemm_fp32_gflops": round(gflops, 1), "gemm_s_per_iteration": round(gemm_s, 3),
        "iteration_over_gemm": round(per_it / gemm_s, 2), "p@1": round(float(p1), 1),
        "final_keep_prob": run["keep_prob"][-1] if run["keep_prob"] else None,
    }
    if args.reference_vecmap is not None:
        result["ours_capped"] = its >= cfg.max_iter
        result["ours_eval"] = score(x @ run["W_src"], z @ run["W_tgt"], src_wv.word2id,
                                    tgt_wv.word2id, dico)
        result["vecmap"] = run_vecmap(args.reference_vecmap.resolve(), src_vec, tgt_vec, dico,
                                      folder, args.threads, args.seed, args.vocab)
        result["wall_ratio_ours_over_vecmap"] = round(wall / result["vecmap"]["wall_s"], 3)
        if args.keep is not None:
            result["files"] = str(folder)
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
