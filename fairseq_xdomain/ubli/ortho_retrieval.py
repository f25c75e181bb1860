"""Orthography-aware retrieval for any map (issue 16, point 4): CSLS combined with character
n-gram similarity, after Riley & Gildea (2018, ACL), "Orthographic features for bilingual lexicon
induction" (their similarity adjustment; reimplemented, with our n-gram cosine).

The score of source word ``s`` and target word ``t`` is

    combined(s, t) = (1 - w) * CSLS(s, t) + w * ngram(s, t)

with CSLS over the mapped embeddings (Conneau et al. 2018: ``2 cos - r_S(s) - r_T(t)``, ``r``
the mean cosine to the ``k`` nearest neighbours in the other space, over the full vocabularies)
and ``ngram`` the cosine of the character n-gram count vectors of the two strings
(:func:`~fairseq_xdomain.ubli.orthography.ngram_matrices`, the one implementation also used by
the orthographic baseline). ``w = 0`` is plain CSLS retrieval, ``w = 1`` the orthographic
baseline.

The weight is chosen without the test dictionary by :func:`select_ortho_weight`: among the
most frequent ``max_rank`` words of each side, for every ``w`` of a small grid, the *mutual
nearest-neighbour share* of the combined score (the fraction of source words whose best target
has that source word as its own best source, both by the combined score). It is unsupervised
and scale-free (CSLS and the n-gram cosine live on different scales, so a mean of best scores
would simply favour the larger one); ties go to the smaller weight. Every weight's value is
recorded.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import torch

from .csls import mean_knn_sim, normalize
from .evaluation import TOPKS, Dictionary, _inverse, _scores, honest_metrics, require_coverage
from .orthography import ngram_matrices

logger = logging.getLogger(__name__)

WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
METHOD = "csls_ortho"


def parse_ortho_weight(text: str) -> str | float:
    """``"auto"`` or a float in [0, 1] (argparse ``type``); raises ``ArgumentTypeError``."""
    if text == "auto":
        return "auto"
    try:
        w = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected auto or a number in [0, 1]") from None
    if not 0.0 <= w <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: the weight must be in [0, 1]")
    return w


def add_ortho_arguments(p: argparse.ArgumentParser) -> None:
    """``--ortho-weight auto|0|FLOAT`` (default 0: off)."""
    p.add_argument("--ortho-weight", type=parse_ortho_weight, default=0.0,
                   help="also retrieve by (1 - w) CSLS + w character n-gram similarity "
                        "(Riley & Gildea 2018); auto: w chosen from "
                        f"{', '.join(map(str, WEIGHT_GRID))} by the mutual nearest-neighbour "
                        "share over the most frequent words (no test dictionary); 0: off")


def _word_list(words: Sequence[str] | dict[str, int]) -> list[str]:
    if isinstance(words, dict):
        return [w for w, _ in sorted(words.items(), key=lambda kv: kv[1])]
    return list(words)


def combined_topk(mapped_src: torch.Tensor, tgt: torch.Tensor, src_words: Sequence[str],
                  tgt_words: Sequence[str], queries: Sequence[int], weight: float,
                  k_csls: int = 10, topn: int = max(TOPKS), backend: str = "auto",
                  block: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``topn`` targets of each query by the combined score (module docstring).

    ``mapped_src [n_src, d]``, ``tgt [n_tgt, d]`` (normalised here), ``src_words``/``tgt_words``
    their rows' words, ``queries`` source rows. Returns (scores ``[n_q, topn]``, target rows
    ``[n_q, topn]``), best first; ``topn`` is clamped to ``n_tgt``. ``r_T`` is over all mapped
    source words, ``r_S`` over all target words, as in :func:`~.csls.csls_topk`."""
    src_n, tgt_n = normalize(mapped_src.float()), normalize(tgt.float())
    q = torch.as_tensor(list(queries), dtype=torch.long, device=src_n.device)
    topn = min(topn, tgt_n.shape[0])
    r_tgt = mean_knn_sim(tgt_n, src_n, k_csls, backend)
    r_src = mean_knn_sim(src_n[q], tgt_n, k_csls, backend)
    Q, T = ngram_matrices([src_words[i] for i in q.tolist()], tgt_words)
    Tt = T.T.tocsc()
    vals, idx = [], []
    for s in range(0, q.numel(), block):
        cos = src_n[q[s:s + block]] @ tgt_n.T
        csls = cos.mul_(2).sub_(r_src[s:s + block, None]).sub_(r_tgt[None, :])
        ng = torch.from_numpy((Q[s:s + block] @ Tt).toarray()).to(csls.device)
        v, i = ((1 - weight) * csls + weight * ng).topk(topn, dim=1)
        vals.append(v)
        idx.append(i)
    return torch.cat(vals), torch.cat(idx)


def select_ortho_weight(mapped_src: torch.Tensor, tgt: torch.Tensor, src_words: Sequence[str],
                        tgt_words: Sequence[str], grid: Sequence[float] = WEIGHT_GRID,
                        max_rank: int = 10000, k_csls: int = 10, backend: str = "auto",
                        block: int = 1024) -> dict:
    """The weight of the grid with the largest mutual nearest-neighbour share of the combined
    score among the ``max_rank`` most frequent words of each side (rows in frequency order;
    CSLS's ``r`` within those words). Uses no dictionary.

    Returns ``{"weight": float, "criterion": "mutual_nn_share", "values": {str(w): share in
    [0, 1]}, "max_rank": int}``. Raises ``ValueError`` for an empty grid or vocabulary."""
    if not grid or min(mapped_src.shape[0], tgt.shape[0], max_rank) < 1:
        raise ValueError("empty weight grid or vocabulary")
    n_s, n_t = min(max_rank, mapped_src.shape[0]), min(max_rank, tgt.shape[0])
    s_n, t_n = normalize(mapped_src[:n_s].float()), normalize(tgt[:n_t].float())
    r_s = mean_knn_sim(s_n, t_n, k_csls, backend)
    r_t = mean_knn_sim(t_n, s_n, k_csls, backend)
    Q, T = ngram_matrices(list(src_words[:n_s]), list(tgt_words[:n_t]))
    Tt = T.T.tocsc()
    dev = s_n.device
    fwd = {w: torch.empty(n_s, dtype=torch.long, device=dev) for w in grid}
    col_v = {w: torch.full((n_t,), float("-inf"), device=dev) for w in grid}
    col_i = {w: torch.zeros(n_t, dtype=torch.long, device=dev) for w in grid}
    for s in range(0, n_s, block):
        csls = (s_n[s:s + block] @ t_n.T).mul_(2).sub_(r_s[s:s + block, None]).sub_(r_t[None])
        ng = torch.from_numpy((Q[s:s + block] @ Tt).toarray()).to(dev)
        for w in grid:
            comb = (1 - w) * csls + w * ng
            fwd[w][s:s + block] = comb.argmax(dim=1)
            v, i = comb.max(dim=0)
            better = v > col_v[w]  # strict: the earlier (more frequent) source keeps a tie
            col_v[w] = torch.where(better, v, col_v[w])
            col_i[w] = torch.where(better, i + s, col_i[w])
    rows = torch.arange(n_s, device=dev)
    values = {str(w): (col_i[w][fwd[w]] == rows).float().mean().item() for w in grid}
    best = max(grid, key=lambda w: (values[str(w)], -w))
    logger.info("ortho weight: mutual-NN share per weight %s -> w = %s", values, best)
    return {"weight": float(best), "criterion": "mutual_nn_share", "values": values,
            "max_rank": min(n_s, n_t)}


def ortho_evaluation(mapped_src: torch.Tensor, tgt: torch.Tensor,
                     src_words: Sequence[str] | dict[str, int],
                     tgt_words: Sequence[str] | dict[str, int], dico: Dictionary,
                     weight: str | float, k_csls: int = 10, max_rank: int = 10000,
                     backend: str = "auto") -> tuple[dict, dict | None]:
    """(metrics, selection): P@1/5/10 of the combined retrieval on ``dico`` with the honest
    metrics (keys prefixed ``csls_ortho_``: ``csls_ortho_p@{k}`` in % of the covered source
    words, ``_p@{k}_all`` in % of all, ``csls_ortho_p@1_nonident`` in %,
    ``csls_ortho_self_top1`` in [0, 1]) and ``ortho_weight`` (the weight used); the selection is
    :func:`select_ortho_weight`'s record for ``weight="auto"`` (chosen before the dictionary is
    looked at), else None. Raises ``UserError`` when no dictionary pair is covered."""
    src_list, tgt_list = _word_list(src_words), _word_list(tgt_words)
    src_w2i = {w: i for i, w in enumerate(src_list)}
    tgt_w2i = {w: i for i, w in enumerate(tgt_list)}
    result: dict = {}
    sel = None
    if weight == "auto":
        sel = select_ortho_weight(mapped_src, tgt, src_list, tgt_list, max_rank=max_rank,
                                  k_csls=k_csls, backend=backend)
        weight = sel["weight"]
    result["ortho_weight"] = float(weight)
    covered, _ = require_coverage(dico, src_w2i, tgt_w2i)
    _, idx = combined_topk(mapped_src, tgt, src_list, tgt_list, [c[0] for c in covered],
                           float(weight), k_csls=k_csls, backend=backend)
    preds = idx.cpu().tolist()
    for key, val in _scores(preds, [c[1] for c in covered], len(dico.gold)).items():
        result[f"{METHOD}_{key}"] = val
    result.update(honest_metrics(METHOD, preds, covered, src_w2i, tgt_w2i, dico,
                                 (_inverse(src_w2i), _inverse(tgt_w2i))))
    return result, sel


__all__ = ["METHOD", "WEIGHT_GRID", "add_ortho_arguments", "combined_topk", "ortho_evaluation",
           "parse_ortho_weight", "select_ortho_weight"]
