"""CSLS (cross-domain similarity local scaling, Conneau et al. 2018) and the batched
k-nearest-neighbour search by inner product it is built on.

Two back ends compute the same thing: faiss (``IndexFlatIP``; a GPU index when faiss has GPUs and
CUDA is available) and an exact torch fallback that tiles the query x key product so memory stays
bounded (never an ``n x n`` matrix). Vectors are expected unit-normalised, so inner product is
cosine similarity.

CSLS(x, y) = 2 cos(x, y) - r_T(x) - r_S(y), with r the mean cosine to the k nearest neighbours in
the other space. Ranking target words by CSLS for a query only needs ``2 cos - r_S``, which is one
inner product of augmented vectors ``[2x, -1] . [y, r_S(y)]``: the same kNN search finds it.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from ..common.progress import progress

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "faiss", "torch")


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _faiss():
    """faiss, or None when it is not installed. faiss's loader logs at INFO every CPU build it
    tries and cannot load (``ModuleNotFoundError ... swigfaiss_avx512``): noise in the user's log
    whatever the machine, so its logger is raised to WARNING (real failures still show)."""
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        import faiss  # noqa: F401
    except ImportError:  # pragma: no cover - faiss is in requirements
        return None
    return faiss


def resolve_backend(backend: str) -> str:
    """``"faiss"`` or ``"torch"`` for one of ``BACKENDS`` (``auto``: faiss when installed).

    Raises ``ValueError`` for another name."""
    if backend not in BACKENDS:
        raise ValueError(f"knn backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "faiss" if _faiss() is not None else "torch"
    return backend


def _merge_topk(vals, idx, new_vals, new_idx, k):
    vals = torch.cat([vals, new_vals], dim=1)
    idx = torch.cat([idx, new_idx], dim=1)
    top, pos = vals.topk(min(k, vals.shape[1]), dim=1)
    return top, idx.gather(1, pos)


def topk_torch(queries: torch.Tensor, keys: torch.Tensor, k: int,
               key_bias: torch.Tensor | None = None, q_block: int = 1024,
               k_block: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k of ``queries [nq, d] @ keys[nk, d].T (+ key_bias [nk])`` per query row,
    tiled in both dimensions; returns (values float32 ``[nq, min(k, nk)]``, indices int64).
    A search of more than one block of queries shows a bar (:func:`_blocks`)."""
    nq, nk = queries.shape[0], keys.shape[0]
    k = min(k, nk)
    out_v = torch.empty(nq, k, dtype=torch.float32, device=queries.device)
    out_i = torch.empty(nq, k, dtype=torch.int64, device=queries.device)
    with _blocks(nq, nk, q_block) as bar:
        for qs in range(0, nq, q_block):
            q = queries[qs:qs + q_block]
            best_v = best_i = None
            for ks in range(0, nk, k_block):
                s = q @ keys[ks:ks + k_block].T
                if key_bias is not None:
                    s += key_bias[ks:ks + k_block]
                v, i = s.topk(min(k, s.shape[1]), dim=1)
                i += ks
                if best_v is None:
                    best_v, best_i = v, i
                else:
                    best_v, best_i = _merge_topk(best_v, best_i, v, i, k)
            out_v[qs:qs + q_block], out_i[qs:qs + q_block] = best_v, best_i
            bar.update(q.shape[0])
    return out_v, out_i


#: kNN searches of at least this many query x key products show a bar (smaller ones take well
#: under a second)
BAR_MIN_PRODUCTS = 10**8


def _blocks(nq: int, nk: int, q_block: int):
    """A bar over the query blocks of one kNN search (``common.progress``; counts queries; a
    context manager that closes it), for a search of more than one block and at least
    :data:`BAR_MIN_PRODUCTS` products; else a bar that shows nothing. On a terminal it appears
    after a second (short searches never show)."""
    return progress(total=nq, desc=f"kNN {nq:,} x {nk:,}", unit=" queries", unit_scale=False,
                    disable=nq <= q_block or nq * nk < BAR_MIN_PRODUCTS, delay=1.0)


def _faiss_index(dim, use_gpu):
    faiss = _faiss()
    index = faiss.IndexFlatIP(dim)
    if use_gpu and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        res = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(res, 0, index)
        index._res = res  # keep the resources alive with the index
    return index


def topk_faiss(queries: torch.Tensor, keys: torch.Tensor, k: int,
               key_bias: torch.Tensor | None = None,
               q_block: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`topk_torch` with faiss (``IndexFlatIP``, on GPU when there is one); ``key_bias``
    is folded in through one extra dimension. Results are on ``queries``' device."""
    q = queries.detach().float().cpu().numpy()
    kk = keys.detach().float().cpu().numpy()
    if key_bias is not None:
        q = np.concatenate([q, np.ones((q.shape[0], 1), np.float32)], axis=1)
        kk = np.concatenate([kk, key_bias.detach().float().cpu().numpy()[:, None]], axis=1)
    index = _faiss_index(kk.shape[1], torch.cuda.is_available())
    index.add(np.ascontiguousarray(kk))
    k = min(k, kk.shape[0])
    vals, idx = [], []
    with _blocks(q.shape[0], kk.shape[0], q_block) as bar:
        for s in range(0, q.shape[0], q_block):
            v, i = index.search(np.ascontiguousarray(q[s:s + q_block]), k)
            vals.append(v)
            idx.append(i)
            bar.update(v.shape[0])
    dev = queries.device
    return (torch.from_numpy(np.concatenate(vals)).to(dev),
            torch.from_numpy(np.concatenate(idx)).long().to(dev))


def topk(queries: torch.Tensor, keys: torch.Tensor, k: int, key_bias: torch.Tensor | None = None,
         backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k (values ``[nq, min(k, nk)]``, indices) of ``queries [nq, d] @ keys [nk, d].T +
    key_bias [nk]`` for every query row, best first. Raises ``ValueError`` for an unknown
    ``backend``."""
    if resolve_backend(backend) == "faiss":
        return topk_faiss(queries, keys, k, key_bias)
    return topk_torch(queries, keys, k, key_bias)


def mean_knn_sim(queries: torch.Tensor, keys: torch.Tensor, k: int = 10,
                 backend: str = "auto") -> torch.Tensor:
    """r(x) ``[nq]``: mean similarity of each query row to its ``k`` nearest keys."""
    vals, _ = topk(queries, keys, k, backend=backend)
    return vals.mean(dim=1)


def csls_topk(src: torch.Tensor, tgt: torch.Tensor, k_csls: int = 10, topn: int = 10,
              queries: torch.Tensor | list[int] | None = None, r_src: torch.Tensor | None = None,
              r_tgt: torch.Tensor | None = None, backend: str = "auto",
              tgt_limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CSLS top-``topn`` target indices for ``queries`` (source row indices; default all).

    ``src [n_src, d]``/``tgt [n_tgt, d]`` are unit-normalised mapped source and target
    embeddings. ``r_tgt`` (for each
    target word, mean cosine to its k nearest mapped source words) and ``r_src`` (for each query)
    are computed over the full vocabularies unless given. ``tgt_limit`` restricts the candidate
    targets to the first ``tgt_limit`` (most frequent) words. Returns (scores, indices), both
    ``[n_queries, topn]``, best first, with the full CSLS score ``2 cos - r_T(x) - r_S(y)``
    (in [-4, 4]). Raises ``ValueError`` for an unknown ``backend``.
    """
    qidx = torch.arange(src.shape[0]) if queries is None else torch.as_tensor(queries)
    q = src[qidx.to(src.device)]
    cand = tgt if tgt_limit is None else tgt[:tgt_limit]
    if r_tgt is None:
        r_tgt = mean_knn_sim(cand, src, k_csls, backend)
    else:
        r_tgt = r_tgt[: cand.shape[0]]
    if r_src is None:
        r_src = mean_knn_sim(q, tgt, k_csls, backend)
    vals, idx = topk(2 * q, cand, topn, key_bias=-r_tgt, backend=backend)
    return vals - r_src[:, None], idx
