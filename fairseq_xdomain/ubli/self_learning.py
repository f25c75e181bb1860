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

Cost (:func:`csls_union`): per iteration one ``vocab x vocab`` similarity product in row blocks,
one transpose, top-k passes for CSLS's ``r`` and the stochastic choice, drawn per row as a
geometric number of skipped candidates instead of a random mask over the matrix (the same
distribution, one random number per row); ``bench/self_learning.py`` measures it.

Randomness comes only from a ``torch.Generator`` seeded with ``seed``: same seed, same result
(on the same device and thread count).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field

import torch

logger = logging.getLogger(__name__)


@dataclass
class SelfLearningConfig:
    """Settings of :func:`self_learning` (defaults: the paper's)."""

    # metadata: the --sl-* flags of xdomain-ubli align (common/dataclass_args.py)
    vocab: int = field(default=20000, metadata={
        "help": "most frequent words in the dictionary induction"})
    init_vocab: int = field(default=4000, metadata={
        "help": "most frequent words of the initial (similarity-distribution) dictionary"})
    k_csls: int = field(default=10, metadata={"flag": "csls", "help": "CSLS neighbourhood k"})
    p0: float = field(default=0.1, metadata={
        "help": "initial keep probability of stochastic dictionary induction"})
    patience: int = field(default=50, metadata={
        "help": "iterations without improvement before the keep probability doubles"})
    reweight: float = field(default=0.5, metadata={
        "help": "symmetric re-weighting exponent of the final step (0 = off)"})
    eps: float = field(default=1e-6, metadata={"help": "improvement threshold of the objective"})
    max_iter: int = field(default=10000, metadata={"help": "safety cap on iterations"})

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


def sorted_similarity(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``sqrt(x x^T) = U S U^T`` (``x [n, d] = U S V^T``), each sorted, then normalised
    by :func:`normalize_sl`: ``[n, n]``, invariant to any rotation of ``x``."""
    u, s, _ = torch.linalg.svd(x.double(), full_matrices=False)
    m = (u * s) @ u.T
    m, _ = m.sort(dim=1)
    return normalize_sl(m)


# tail probability of the geometric skip that the top-k depth of _stochastic_argmax covers;
# rows beyond it are redone exactly (a few per iteration), so the result does not depend on it
_DEPTH_TAIL = 0.02


def _stochastic_argmax(c: torch.Tensor, keep: float, gen: torch.Generator | None,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of ``c [b, m]``, the largest entry among those kept with probability ``keep``
    (independently; dropped ones cannot be chosen): (values ``[b]``, column indices ``[b]``).

    Drawn without a mask: the kept maximum is the row's entry of rank ``G + 1`` (descending)
    where ``G ~ Geometric(keep)`` counts the dropped entries above the first kept one, the same
    distribution as masking every entry. One uniform number per row (``gen``); a row with no
    kept entry (``G >= m``) takes its smallest entry."""
    if keep >= 1:
        return c.max(dim=1)
    b, m = c.shape
    u = torch.rand(b, generator=gen, device=c.device, dtype=torch.float64)
    skips = torch.floor(torch.log1p(-u) / math.log1p(-keep)).long().clamp_(max=m - 1)
    depth = min(m, max(1, math.ceil(math.log(_DEPTH_TAIL) / math.log1p(-keep))))
    vals, idx = c.topk(depth, dim=1)
    pick = skips.clamp(max=depth - 1)[:, None]
    v, i = vals.gather(1, pick)[:, 0], idx.gather(1, pick)[:, 0]
    deep = (skips >= depth).nonzero()[:, 0]
    if deep.numel():  # rare: redo those rows to the depth they need
        dv, di = c[deep].topk(int(skips[deep].max()) + 1, dim=1)
        sel = skips[deep][:, None]
        v[deep], i[deep] = dv.gather(1, sel)[:, 0], di.gather(1, sel)[:, 0]
    return v, i


def _topk_mean_rows(a: torch.Tensor, k: int) -> torch.Tensor:
    return a.topk(min(k, a.shape[1]), dim=1).values.mean(dim=1)


def csls_union(a: torch.Tensor, b: torch.Tensor, k: int, keep: float = 1.0,
               gen: torch.Generator | None = None, block: int = 4096,
               ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """CSLS dictionary induction on ``sim = a [n, d] @ b [m, d]^T`` (Conneau et al. 2018 CSLS,
    Artetxe et al. 2018 stochastic induction): the union of the forward (row -> best column)
    and backward (column -> best row) pairs, each similarity entry kept with probability
    ``keep`` (see :func:`_stochastic_argmax`).

    Returns (rows ``[n + m]``, cols ``[n + m]``, objective: the mean best CSLS of both
    directions). ``sim`` is built once in row blocks of ``block`` (one float32 GEMM; ``sim`` and
    its transpose are held: ``2 n m`` floats, 3.2 GB at 20k x 20k); ``r`` (mean similarity to
    the ``k`` nearest) of the rows comes from the row blocks, that of the columns from the
    blocks of the transpose, which also give the backward choice; then one pass over the row
    blocks gives the forward choice. Same ``gen`` state, same result."""
    n, m = a.shape[0], b.shape[0]
    sim = torch.empty(n, m, dtype=torch.float32, device=a.device)
    r_row = torch.empty(n, device=a.device)
    for s in range(0, n, block):
        blk = torch.mm(a[s:s + block], b.T, out=sim[s:s + block])
        r_row[s:s + block] = _topk_mean_rows(blk, k)
    sim_t = sim.T.contiguous()  # one full transpose: column slices of sim are slow to copy
    r_col = torch.empty(m, device=a.device)
    bwd_v = torch.empty(m, device=a.device)
    bwd_i = torch.empty(m, dtype=torch.long, device=a.device)
    for s in range(0, m, block):
        blk_t = sim_t[s:s + block]
        r = _topk_mean_rows(blk_t, k)
        r_col[s:s + block] = r
        v, i = _stochastic_argmax(blk_t.mul_(2).sub_(r_row[None, :]), keep, gen)
        bwd_v[s:s + block], bwd_i[s:s + block] = v - r, i
    del sim_t
    fwd_v = torch.empty(n, device=a.device)
    fwd_i = torch.empty(n, dtype=torch.long, device=a.device)
    for s in range(0, n, block):
        c = sim[s:s + block].mul_(2).sub_(r_col[None, :])
        v, i = _stochastic_argmax(c, keep, gen)
        fwd_v[s:s + block], fwd_i[s:s + block] = v - r_row[s:s + block], i
    rows = torch.cat([torch.arange(n, device=a.device), bwd_i])
    cols = torch.cat([fwd_i, torch.arange(m, device=a.device)])
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
    rows, cols, _ = csls_union(xs.float(), zs.float(), k_csls)
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
    ``"init_time_s"`` (the initial dictionary), ``"time_s"`` (all), in seconds}. Raises ``ValueError`` when the dimensions differ."""
    cfg = cfg or SelfLearningConfig()
    if x.shape[1] != z.shape[1]:
        raise ValueError(f"dimensions differ: {x.shape[1]} vs {z.shape[1]}")
    t0 = time.perf_counter()
    gen = torch.Generator(device=x.device)
    gen.manual_seed(seed)
    rows, cols = initial_dictionary(x, z, cfg.init_vocab, cfg.k_csls)
    init_time = time.perf_counter() - t0
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
        rows, cols, obj = csls_union(xv @ W, zv, cfg.k_csls, keep, gen)
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
            "init_time_s": init_time, "time_s": time.perf_counter() - t0}
