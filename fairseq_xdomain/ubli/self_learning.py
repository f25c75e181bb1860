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
   stochastic dictionary induction: each entry of the (CSLS-adjusted) similarity matrix is kept
   with probability ``p`` and set to zero otherwise (the paper's rule, ``dropped="zero"``: a
   row whose kept entries are all negative then picks a dropped one, the first in frequency
   order, as an argmax does; ``dropped="excluded"``: dropped entries cannot be chosen). ``p``
   starts at ``p0`` and doubles when the objective has not improved by at least ``eps`` for
   ``patience`` iterations; with ``p = 1`` that ends the loop. The objective is the paper's
   (Artetxe et al. 2017/2018): the mean similarity of every word's nearest neighbour, plain
   cosine, both directions; it does not depend on the random draws.
4. The final step maps with the last dictionary ``(X_D, Z_D)`` in the paper's multi-step
   framework (Artetxe et al. 2018, AAAI): whitening ``W_x1 = (X_D^T X_D)^(-1/2)``, ``W_z1``
   likewise (``whiten``), orthogonal mapping ``U S V^T = svd((X_D W_x1)^T (Z_D W_z1))``,
   symmetric re-weighting by ``S^r`` (``reweight``; the paper's unsupervised setting: 0.5 on
   both sides), de-whitening of each side with its own whitening (``U^T W_x1^-1 U``,
   ``V^T W_z1^-1 V``). Returned as ``W_src = W_x1 U S^r U^T W_x1^-1 U V^T`` and
   ``W_tgt = W_z1 V S^r V^T W_z1^-1`` (the common rotation ``V^T`` changes no similarity).
   Without whitening: ``W_src = U S^r V^T``, ``W_tgt = V S^r V^T`` (``r = 0``: plain
   orthogonal ``U V^T``, target unchanged).

Cost (:func:`csls_union`): per iteration one ``vocab x vocab`` similarity product in row blocks,
one transpose, top-k passes for CSLS's ``r`` (whose first value is the nearest neighbour's, for
the objective) and the stochastic choice, drawn per row as a geometric number of skipped
candidates instead of a random mask over the matrix (the same distribution, one random number
per row, a second one for the dropped entry of ``dropped="zero"``); ``bench/self_learning.py``
measures it (and, with ``--reference-vecmap``, the authors' vecmap beside it).

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

DROPPED = ("zero", "excluded")


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
    whiten: bool = field(default=True, metadata={
        "negatable": True,
        "help": "whitening / de-whitening around the final step (the paper's setting)"})
    dropped: str = field(default="zero", metadata={
        "choices": DROPPED,
        "help": "stochastic induction: a dropped similarity entry is set to zero, as in the "
                "paper (zero), or cannot be chosen (excluded)"})
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
        if self.dropped not in DROPPED:
            raise UserError(f"--sl-dropped {self.dropped}: must be one of {', '.join(DROPPED)}")
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
                       zero: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of ``c [b, m]``, the largest entry after keeping each one with probability
    ``keep`` (independently): (values ``[b]``, column indices ``[b]``).

    ``zero=False``: dropped entries cannot be chosen. ``zero=True`` (Artetxe et al. 2018: dropped
    entries are set to zero): where the kept maximum is negative and the row has a dropped
    entry, the row's maximum is a zero, and the first one in column order (an argmax's first
    maximum) is chosen, with value 0.

    Drawn without a mask: the kept maximum is the row's entry of rank ``G + 1`` (descending)
    where ``G ~ Geometric(keep)`` counts the dropped entries above the first kept one, the same
    distribution as masking every entry. One uniform number per row (``gen``); a row with no
    kept entry (``G >= m``) takes its smallest entry. The first dropped column of ``zero``
    takes a second uniform number per row: ``min(F, first positive column)`` with
    ``F ~ Geometric(1 - keep)`` kept columns in column order (every positive entry was dropped
    there), the masked distribution again."""
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
    if zero:
        # the kept maximum is negative iff every positive entry was dropped; the first dropped
        # column is then the first positive one, unless a non-positive one before it was
        # dropped: min(F, first positive column), F ~ Geometric(1 - keep) over column order
        u2 = torch.rand(b, generator=gen, device=c.device, dtype=torch.float64)
        first = torch.floor(torch.log1p(-u2) / math.log(keep)).long().clamp_(max=m)
        first_pos = torch.where(vals > 0, idx, m).min(dim=1).values  # positives rank on top
        wide = ((v < 0) & (vals[:, -1] > 0)).nonzero()[:, 0]  # more positives than the depth
        if wide.numel():
            cols = torch.arange(m, device=c.device)
            first_pos[wide] = torch.where(c[wide] > 0, cols, m).min(dim=1).values
        first = torch.minimum(first, first_pos)
        neg = (v < 0) & (first < m)  # first == m: every entry kept, no zero in the row
        v = torch.where(neg, torch.zeros_like(v), v)
        i = torch.where(neg, first, i)
    return v, i


def _topk_stats(a: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of ``a``: (mean of the ``k`` largest entries, largest entry)."""
    top = a.topk(min(k, a.shape[1]), dim=1).values
    return top.mean(dim=1), top[:, 0]


def csls_union(a: torch.Tensor, b: torch.Tensor, k: int, keep: float = 1.0,
               gen: torch.Generator | None = None, block: int = 4096, zero: bool = False,
               ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """CSLS dictionary induction on ``sim = a [n, d] @ b [m, d]^T`` (Conneau et al. 2018 CSLS,
    Artetxe et al. 2018 stochastic induction): the union of the forward (row -> best column)
    and backward (column -> best row) pairs, each CSLS entry kept with probability ``keep``
    (dropped ones set to zero with ``zero``, else never chosen; see :func:`_stochastic_argmax`).
    The CSLS score of a row's candidates is ``2 sim - r_col`` (``r``: mean similarity to the
    ``k`` nearest; the row's own ``r`` is a constant of the row), of a column's ``2 sim - r_row``.

    Returns (rows ``[n + m]``, cols ``[n + m]``, objective: the mean plain cosine of every row's
    and every column's nearest neighbour, averaged over the two directions; it does not depend
    on ``keep`` or ``gen``). ``sim`` is built once in row blocks of ``block`` (one float32 GEMM;
    ``sim`` and its transpose are held: ``2 n m`` floats, 3.2 GB at 20k x 20k); ``r`` of the rows
    comes from the row blocks, that of the columns from the blocks of the transpose, which also
    give the backward choice; then one pass over the row blocks gives the forward choice. Same
    ``gen`` state, same result."""
    n, m = a.shape[0], b.shape[0]
    sim = torch.empty(n, m, dtype=torch.float32, device=a.device)
    r_row = torch.empty(n, device=a.device)
    best_row = torch.empty(n, device=a.device)
    for s in range(0, n, block):
        blk = torch.mm(a[s:s + block], b.T, out=sim[s:s + block])
        r_row[s:s + block], best_row[s:s + block] = _topk_stats(blk, k)
    sim_t = sim.T.contiguous()  # one full transpose: column slices of sim are slow to copy
    r_col = torch.empty(m, device=a.device)
    best_col = torch.empty(m, device=a.device)
    bwd_i = torch.empty(m, dtype=torch.long, device=a.device)
    for s in range(0, m, block):
        blk_t = sim_t[s:s + block]
        r_col[s:s + block], best_col[s:s + block] = _topk_stats(blk_t, k)
        _, bwd_i[s:s + block] = _stochastic_argmax(blk_t.mul_(2).sub_(r_row[None, :]), keep,
                                                   gen, zero)
    del sim_t
    fwd_i = torch.empty(n, dtype=torch.long, device=a.device)
    for s in range(0, n, block):
        c = sim[s:s + block].mul_(2).sub_(r_col[None, :])
        _, fwd_i[s:s + block] = _stochastic_argmax(c, keep, gen, zero)
    rows = torch.cat([torch.arange(n, device=a.device), bwd_i])
    cols = torch.cat([fwd_i, torch.arange(m, device=a.device)])
    objective = (best_row.mean().item() + best_col.mean().item()) / 2
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


def _inv_sqrt_and_sqrt(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(m^T m)^(-1/2)`` and ``(m^T m)^(1/2)`` (``[d, d]``) of ``m [n, d]`` (full column rank)."""
    _, sv, vh = torch.linalg.svd(m, full_matrices=False)
    return (vh.T / sv) @ vh, (vh.T * sv) @ vh


def final_mapping(x: torch.Tensor, z: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                  reweight: float = 0.5, whiten: bool = True,
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The final step on the dictionary ``(x[rows], z[cols])`` (see the module docstring, step
    4): whitening (``whiten``), orthogonal mapping, re-weighting by ``S^reweight`` on both
    sides, de-whitening (Artetxe et al. 2018, AAAI, steps 1-4; the ACL 2018 paper's setting:
    ``whiten=True, reweight=0.5``). Returns (``W_src [d, d]``, ``W_tgt [d, d]``) in float32:
    mapped source ``x @ W_src``, mapped target ``z @ W_tgt``; ``W_tgt`` is the identity and
    ``W_src`` orthogonal for ``whiten=False, reweight=0``. Raises ``torch.linalg.LinAlgError``
    when the dictionary's vectors do not span the space (whitening needs full rank)."""
    xd, zd = x[rows].double(), z[cols].double()
    d = x.shape[1]
    if not whiten:
        u, s, vh = _orthogonal(x, z, rows, cols)
        if reweight == 0:
            return (u @ vh).float(), torch.eye(d, device=x.device)
        sr = (s / s.max()) ** reweight
        return ((u * sr) @ vh).float(), ((vh.T * sr) @ vh).float()
    wx1, wx1_inv = _inv_sqrt_and_sqrt(xd)
    wz1, wz1_inv = _inv_sqrt_and_sqrt(zd)
    u, s, vh = torch.linalg.svd((xd @ wx1).T @ (zd @ wz1))
    sr = s.clamp_min(0) ** reweight
    W_src = wx1 @ (u * sr) @ u.T @ wx1_inv @ u @ vh
    W_tgt = wz1 @ (vh.T * sr) @ vh @ wz1_inv
    return W_src.float(), W_tgt.float()


def self_learning(x: torch.Tensor, z: torch.Tensor, cfg: SelfLearningConfig | None = None,
                  seed: int = 0, log_every: int = 25) -> dict:
    """Run the whole method on ``x [n_x, d]`` / ``z [n_z, d]`` (frequency order; normalise them
    with :func:`normalize_sl` first, as the paper does).

    Returns ``{"W_src" [d, d], "W_tgt" [d, d]`` (mapped: ``x @ W_src``, ``z @ W_tgt``; see
    :func:`final_mapping`: ``W_tgt`` is the identity without whitening and re-weighting),
    ``"objective"`` (per iteration: mean nearest-neighbour cosine, see :func:`csls_union`),
    ``"keep_prob"`` (per iteration), ``"n_iterations"``, ``"n_pairs"`` (final dictionary size,
    with repeats), ``"init_time_s"`` (the initial dictionary), ``"time_s"`` (all), in seconds}.
    Raises ``ValueError`` when the dimensions differ."""
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
        rows, cols, obj = csls_union(xv @ W, zv, cfg.k_csls, keep, gen,
                                     zero=cfg.dropped == "zero")
        objectives.append(obj)
        keeps.append(keep)
        if obj - best >= cfg.eps:
            best, last_improvement = obj, it
        if log_every and it % log_every == 0:
            logger.info("self-learning iteration %d: keep %.2f, objective %.5f", it, keep, obj)
        it += 1
    W_src, W_tgt = final_mapping(x, z, rows, cols, cfg.reweight, cfg.whiten)
    return {"W_src": W_src.float(), "W_tgt": W_tgt.float(), "objective": objectives,
            "keep_prob": keeps, "n_iterations": len(objectives), "n_pairs": int(rows.numel()),
            "init_time_s": init_time, "time_s": time.perf_counter() - t0}
