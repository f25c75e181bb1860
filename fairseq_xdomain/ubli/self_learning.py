"""Robust fully unsupervised self-learning (Artetxe, Labaka & Agirre 2018, ACL, "A robust
self-learning method for fully unsupervised cross-lingual mappings of word embeddings"),
reimplemented from the paper in plain torch (CPU, or CUDA when the tensors are there).

1. :func:`normalize_sl`: unit length, mean centring, unit length, on both spaces.
2. :func:`initial_dictionary`: for the ``n_init`` most frequent words, ``sqrt(X X^T) = U S U^T``
   (``X = U S V^T``) for each space, every row sorted, normalised the same way; the sorted
   similarity distributions are rotation invariant, so CSLS nearest neighbours between them (both
   directions, union) give a first dictionary without any supervision.
3. :func:`self_learning`: orthogonal Procrustes on the dictionary -> a new dictionary by CSLS
   (``k_csls``) among the ``vocab`` most frequent words in both directions (union), with
   stochastic dictionary induction: each similarity entry is kept with probability ``p`` (dropped
   ones cannot be chosen), ``p`` starts at ``p0`` and doubles when the objective (mean CSLS of
   the chosen pairs, both directions) has not improved by more than ``eps`` for ``patience``
   iterations; with ``p = 1`` that ends the loop.
4. The final step maps with the last dictionary, optionally with symmetric re-weighting
   (``reweight``; the paper's unsupervised setting uses 0.5): with ``U S V^T = svd(X_D^T Z_D)``,
   source ``X U S^r V^T`` and target ``Z V S^r V^T`` (``r = 0``: plain orthogonal ``U V^T``, target
   unchanged). The paper's whitening / de-whitening are not implemented.

Randomness comes only from a ``torch.Generator`` seeded with ``seed``: same seed, same result
(on the same device and thread count).
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import torch

logger = logging.getLogger(__name__)


@dataclass
class SelfLearningConfig:
    """Settings of :func:`self_learning` (defaults: the paper's)."""

    vocab: int = 20000        # most frequent words searched for the dictionary (--sl-vocab)
    init_vocab: int = 4000    # most frequent words of the initial dictionary (--sl-init-vocab)
    k_csls: int = 10          # CSLS neighbourhood (--sl-csls)
    p0: float = 0.1           # initial keep probability (--sl-p0)
    patience: int = 50        # iterations without improvement before p doubles (--sl-patience)
    reweight: float = 0.5     # symmetric re-weighting exponent, 0 = off (--sl-reweight)
    eps: float = 1e-6         # improvement threshold of the objective
    max_iter: int = 10000     # safety cap on iterations

    def check(self) -> SelfLearningConfig:
        """Returns ``self``; raises ``UserError`` naming the flag of a bad value."""
        from ..common.errors import UserError

        for flag, value in (("--sl-vocab", self.vocab), ("--sl-init-vocab", self.init_vocab),
                            ("--sl-csls", self.k_csls), ("--sl-patience", self.patience)):
            if value < 1:
                raise UserError(f"{flag} {value}: must be >= 1")
        if not 0 < self.p0 <= 1:
            raise UserError(f"--sl-p0 {self.p0}: must be in (0, 1]")
        if not 0 <= self.reweight <= 1:
            raise UserError(f"--sl-reweight {self.reweight}: must be in [0, 1]")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def normalize_sl(x: torch.Tensor) -> torch.Tensor:
    """``x [n, d]`` -> unit rows, mean-centred, unit rows again (float32)."""
    x = x.float()
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    x = x - x.mean(dim=0, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _topk_mean(sim: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    return sim.topk(min(k, sim.shape[dim]), dim=dim).values.mean(dim=dim)


def sorted_similarity(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``sqrt(x x^T) = U S U^T`` (``x [n, d] = U S V^T``), each sorted, then normalised
    by :func:`normalize_sl`: ``[n, n]``, invariant to any rotation of ``x``."""
    u, s, _ = torch.linalg.svd(x.double(), full_matrices=False)
    m = (u * s) @ u.T
    m, _ = m.sort(dim=1)
    return normalize_sl(m)


def _csls_union(sim: torch.Tensor, k: int, keep: float = 1.0,
                gen: torch.Generator | None = None, block: int = 2048,
                ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Union of the forward (row -> best column) and backward (column -> best row) CSLS pairs
    of a similarity matrix ``sim [n, m]``; entries are kept with probability ``keep`` (the
    others cannot be chosen). Returns (rows ``[n + m]``, cols ``[n + m]``, objective: mean best
    CSLS of both directions)."""
    sim_t = sim.T.contiguous()
    r_row = _topk_mean(sim, k, 1)  # each row's mean similarity to its k nearest columns
    r_col = _topk_mean(sim_t, k, 1)
    n, m = sim.shape

    def best(mat, r_other, r_self):
        v = torch.empty(mat.shape[0], device=mat.device)
        i = torch.empty(mat.shape[0], dtype=torch.long, device=mat.device)
        for s in range(0, mat.shape[0], block):
            c = mat[s:s + block].mul(2).sub_(r_other[None, :])
            if keep < 1:
                c.masked_fill_(torch.rand(c.shape, generator=gen, device=c.device) >= keep,
                               float("-inf"))
            v[s:s + block], i[s:s + block] = c.max(dim=1)
        return v - r_self, i  # r_self is constant along each row: subtracted after the max

    fwd_v, fwd_i = best(sim, r_col, r_row)
    bwd_v, bwd_i = best(sim_t, r_row, r_col)
    rows = torch.cat([torch.arange(n, device=sim.device), bwd_i])
    cols = torch.cat([fwd_i, torch.arange(m, device=sim.device)])
    objective = (fwd_v.mean().item() + bwd_v.mean().item()) / 2
    return rows, cols, objective


def initial_dictionary(x: torch.Tensor, z: torch.Tensor, n_init: int = 4000,
                       k_csls: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The fully unsupervised initial dictionary (pairs of row indices, ``[n_pairs]`` each)
    from the sorted similarity distributions of the ``n_init`` most frequent words of
    normalised ``x [n_x, d]`` / ``z [n_z, d]``."""
    n = min(n_init, x.shape[0], z.shape[0])
    xs = sorted_similarity(x[:n])
    zs = sorted_similarity(z[:n])
    rows, cols, _ = _csls_union(xs @ zs.T, k_csls)
    return rows, cols


def _orthogonal(x: torch.Tensor, z: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor):
    u, s, vh = torch.linalg.svd(x[rows].double().T @ z[cols].double())
    return u, s, vh


def self_learning(x: torch.Tensor, z: torch.Tensor, cfg: SelfLearningConfig | None = None,
                  seed: int = 0, log_every: int = 25) -> dict:
    """Run the whole method on ``x [n_x, d]`` / ``z [n_z, d]`` (frequency order; normalise them
    with :func:`normalize_sl` first, as the paper does).

    Returns ``{"W_src" [d, d], "W_tgt" [d, d]`` (mapped: ``x @ W_src``, ``z @ W_tgt``; ``W_tgt``
    is the identity without re-weighting), ``"objective"`` (per iteration), ``"keep_prob"`` (per
    iteration), ``"n_iterations"``, ``"n_pairs"`` (final dictionary size, with repeats),
    ``"time_s"``}. Raises ``ValueError`` when the dimensions differ."""
    cfg = cfg or SelfLearningConfig()
    if x.shape[1] != z.shape[1]:
        raise ValueError(f"dimensions differ: {x.shape[1]} vs {z.shape[1]}")
    t0 = time.perf_counter()
    gen = torch.Generator(device=x.device)
    gen.manual_seed(seed)
    rows, cols = initial_dictionary(x, z, cfg.init_vocab, cfg.k_csls)
    nv_x, nv_z = min(cfg.vocab, x.shape[0]), min(cfg.vocab, z.shape[0])
    xv, zv = x[:nv_x], z[:nv_z]
    keep, best, last_improvement = cfg.p0, float("-inf"), 0
    objectives, keeps = [], []
    it = 1
    while True:
        if it - last_improvement > cfg.patience:
            if keep >= 1:
                break
            keep = min(1.0, 2 * keep)
            last_improvement = it
        if it > cfg.max_iter:
            logger.warning("self-learning: stopped at the cap of %d iterations", cfg.max_iter)
            break
        u, _, vh = _orthogonal(x, z, rows, cols)
        W = (u @ vh).float()
        rows, cols, obj = _csls_union((xv @ W) @ zv.T, cfg.k_csls, keep, gen)
        objectives.append(obj)
        keeps.append(keep)
        if obj - best > cfg.eps:
            best, last_improvement = obj, it
        if log_every and it % log_every == 0:
            logger.info("self-learning iteration %d: keep %.2f, objective %.5f", it, keep, obj)
        it += 1
    u, s, vh = _orthogonal(x, z, rows, cols)
    if cfg.reweight > 0:
        sr = (s / s.max()) ** cfg.reweight
        W_src = (u * sr) @ vh
        W_tgt = (vh.T * sr) @ vh
    else:
        W_src = u @ vh
        W_tgt = torch.eye(x.shape[1], dtype=torch.float64, device=x.device)
    return {"W_src": W_src.float(), "W_tgt": W_tgt.float(), "objective": objectives,
            "keep_prob": keeps, "n_iterations": len(objectives), "n_pairs": int(rows.numel()),
            "time_s": time.perf_counter() - t0}
