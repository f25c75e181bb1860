"""Translation dictionaries induced from embeddings (CSLS or nearest neighbour), for refinement.

MUSE's ``build_dictionary``: S2T pairs for the ``max_rank`` most frequent source words, ranked by
the margin between best and second-best candidate; T2S symmetrically; combined as S2T, T2S,
their intersection (``S2T&T2S``, mutual nearest neighbours) or union (``S2T|T2S``). Candidate
targets are limited to the ``max_rank`` most frequent words too (MUSE searches all targets and
then drops pairs ranked above ``max_rank``; we search only those, the same pairs except that a
query whose best target is rarer gets its best frequent candidate instead of being dropped).
"""
from __future__ import annotations

import torch

from .csls import csls_topk, normalize, topk

DICO_BUILDS = ("S2T", "T2S", "S2T&T2S", "S2T|T2S")
DICO_METHODS = ("csls", "nn")


def _candidates(q_emb, t_emb, max_rank, method, k_csls, backend):
    nq = min(max_rank, q_emb.shape[0]) if max_rank > 0 else q_emb.shape[0]
    nt = min(max_rank, t_emb.shape[0]) if max_rank > 0 else t_emb.shape[0]
    if method == "nn":
        vals, idx = topk(q_emb[:nq], t_emb[:nt], 2, backend=backend)
    else:
        vals, idx = csls_topk(q_emb, t_emb, k_csls=k_csls, topn=2, queries=torch.arange(nq),
                              backend=backend, tgt_limit=nt)
    pairs = torch.stack([torch.arange(nq, device=idx.device), idx[:, 0]], dim=1)
    margin = vals[:, 0] - vals[:, 1] if vals.shape[1] > 1 else vals[:, 0]
    order = margin.argsort(descending=True)
    return pairs[order].cpu()


def build_dictionary(src: torch.Tensor, tgt: torch.Tensor, build: str = "S2T",
                     max_rank: int = 15000, method: str = "csls", k_csls: int = 10,
                     backend: str = "auto") -> torch.Tensor:
    """Pairs (source row, target row) ``LongTensor [n, 2]`` (CPU, best margin first) from mapped
    source ``[n_src, d]`` / target ``[n_tgt, d]`` embeddings (normalised here); ``max_rank``:
    most frequent words on each side (0: all). Raises ``ValueError`` for an unknown ``build``,
    ``method`` or ``backend``."""
    if build not in DICO_BUILDS:
        raise ValueError(f"dico build must be one of {DICO_BUILDS}, got {build!r}")
    if method not in DICO_METHODS:
        raise ValueError(f"dico method must be one of {DICO_METHODS}, got {method!r}")
    src, tgt = normalize(src), normalize(tgt)
    s2t = t2s = None
    if "S2T" in build:
        s2t = _candidates(src, tgt, max_rank, method, k_csls, backend)
    if "T2S" in build:
        t2s = _candidates(tgt, src, max_rank, method, k_csls, backend).flip(1)
    if build == "S2T":
        return s2t
    if build == "T2S":
        return t2s
    return combine_pairs(s2t, t2s, build)


def combine_pairs(s2t: torch.Tensor, t2s: torch.Tensor, build: str) -> torch.Tensor:
    """Intersection (``S2T&T2S``) or union (``S2T|T2S``) of two ``[n, 2]`` pair tensors.

    Pairs keep the order of ``s2t`` (best margin first); the union appends the pairs found only
    by ``t2s`` in their order. Always a ``LongTensor [n, 2]``, ``n`` possibly 0. Raises
    ``ValueError`` for another ``build``.
    """
    s2t_pairs = [tuple(p) for p in s2t.tolist()]
    t2s_pairs = [tuple(p) for p in t2s.tolist()]
    in_s2t, in_t2s = set(s2t_pairs), set(t2s_pairs)
    if build == "S2T&T2S":
        ordered = [p for p in s2t_pairs if p in in_t2s]
    elif build == "S2T|T2S":
        ordered = s2t_pairs + [p for p in t2s_pairs if p not in in_s2t]
    else:
        raise ValueError(f"cannot combine pairs for dico build {build!r}")
    if not ordered:
        return torch.zeros(0, 2, dtype=torch.long)
    return torch.tensor(ordered, dtype=torch.long)
