"""Benchmark of the UBLI grid: 36 configurations one by one against the shared-prefix batched grid.

Both sides get the same input (a synthetic embedding pair with real structure, see
``fairseq_xdomain.ubli.synthetic_emb``) and the same hyperparameters (MUSE's, except the sizes
given by the flags, reduced so that the naive side's 108 adversarial epochs fit a CPU):

* ``naive_s``: every configuration (seed, E epochs, R refinements) of the paper's grid
  (seeds 123/456/789/321 x E 1/3/5 x R 1/3/5) run alone, as 36 separate MUSE runs would be:
  ``fairseq_xdomain.ubli.grid.run_configuration`` (train E epochs, refine R times, select, evaluate);
* ``shared_s``: ``fairseq_xdomain.ubli.grid`` over the same grid (4 seeds trained as one batched
  model for 5 epochs, branches after epochs 1/3/5, refinements scored after 1/3/5).

Also ``*_cpu_s`` (process CPU time, which other load on the machine changes less) and whether
both sides select the same configuration. Prints one JSON object. Target: ``speedup`` >= 8.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

from fairseq_xdomain.ubli.commands.grid import add_grid_arguments, grid_config, run_args
from fairseq_xdomain.ubli.evaluation import load_dictionary
from fairseq_xdomain.ubli.grid import (
    PAPER_EPOCHS,
    PAPER_REFINEMENTS,
    PAPER_SEEDS,
    run_configuration,
)
from fairseq_xdomain.ubli.grid_summary import select
from fairseq_xdomain.ubli.synthetic_emb import write_pair


def _inputs(d: Path, n: int, dim: int):
    write_pair(d, n, dim)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--words", type=int, default=3000)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--dis-hid", type=int, default=1024)
    p.add_argument("--epoch-size", type=int, default=1600, help="samples per epoch (50 iterations)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    b = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(b.threads)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _inputs(d, b.words, b.dim)
        flags = ["--src-emb", str(d / "src.vec"), "--tgt-emb", str(d / "tgt.vec"),
                 "--dico-eval", str(d / "dico.txt"), "--out", str(d / "grid"),
                 "--epoch-size", str(b.epoch_size), "--dis-hid-dim", str(b.dis_hid),
                 "--threads", str(b.threads), "--precision", b.precision, "--no-progress"]
        args = add_grid_arguments(argparse.ArgumentParser()).parse_args(flags)
        cfg = grid_config(args)
        adv_cfg, ref_cfg = cfg.adversarial_config(), cfg.refinement_config()
        w0, c0 = time.perf_counter(), time.process_time()
        summary, _ = run_args(args)
        shared_s, shared_cpu = time.perf_counter() - w0, time.process_time() - c0

        from fairseq_xdomain.embeddings.vecio import load_vec

        src, tgt = load_vec(d / "src.vec"), load_vec(d / "tgt.vec")
        dico = load_dictionary(d / "dico.txt")
        s_t, t_t = torch.from_numpy(src.vectors), torch.from_numpy(tgt.vectors)
        w0, c0 = time.perf_counter(), time.process_time()
        naive = []
        for seed in PAPER_SEEDS:
            for e in PAPER_EPOCHS:
                for r in PAPER_REFINEMENTS:
                    rec, _ = run_configuration(s_t, t_t, seed, e, r, adv_cfg, ref_cfg,
                                               src_w2i=src.word2id,
                                               tgt_w2i=tgt.word2id, dico=dico,
                                               backend=args.knn_backend)
                    naive.append(rec)
        naive_s, naive_cpu = time.perf_counter() - w0, time.process_time() - c0
    sel_naive, _ = select(naive)
    sel_grid = summary["selected_configuration"]
    out = {
        "naive_s": round(naive_s, 2), "shared_s": round(shared_s, 2),
        "speedup": round(naive_s / shared_s, 2),
        "naive_cpu_s": round(naive_cpu, 2), "shared_cpu_s": round(shared_cpu, 2),
        "speedup_cpu": round(naive_cpu / shared_cpu, 2),
        "configurations": len(naive), "adversarial_epochs_naive": sum(r["epochs"] for r in naive),
        "adversarial_epochs_shared": max(PAPER_EPOCHS) * len(PAPER_SEEDS),
        "selected_same": sel_naive["seed"] == sel_grid["seed"]
        and sel_naive["epochs"] == sel_grid["epochs"]
        and sel_naive["refinement"] == sel_grid["refinement"],
        "selected": sel_grid, "selected_csls_p@1": summary["selected_record"].get("csls_p@1"),
        "words": b.words, "dim": b.dim, "dis_hid_dim": b.dis_hid, "epoch_size": b.epoch_size,
        "iterations_per_epoch": b.epoch_size // adv_cfg.batch_size, "threads": b.threads,
        "precision": b.precision, "torch": torch.__version__,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
