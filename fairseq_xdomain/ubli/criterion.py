"""The unsupervised model-selection criterion of MUSE ("mean_cosine-csls_knn_10-S2T-10000").

Build the S2T CSLS (k = 10) dictionary of the 10k most frequent source words (candidates among the
10k most frequent target words) and return the mean cosine of its pairs. Higher is better.
"""
from __future__ import annotations

from .dictionary import build_dictionary
from .knn import normalize


def mean_cosine_criterion(mapped_src, tgt, max_rank=10000, k_csls=10, backend="auto") -> float:
    src_n, tgt_n = normalize(mapped_src), normalize(tgt)
    pairs = build_dictionary(src_n, tgt_n, "S2T", max_rank=max_rank, method="csls",
                             k_csls=k_csls, backend=backend).to(src_n.device)
    if pairs.numel() == 0:
        return float("nan")
    cos = (src_n[pairs[:, 0]] * tgt_n[pairs[:, 1]]).sum(dim=1)
    return float(cos.mean())


def batched_criterion(src, tgt, W, **kw):
    """Criterion for each map of ``W [S, d, d]``."""
    return [mean_cosine_criterion(src @ W[s], tgt, **kw) for s in range(W.shape[0])]



