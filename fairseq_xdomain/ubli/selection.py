"""MUSE's unsupervised model selection: the criterion, and the one rule that selects by it.

The criterion ("mean_cosine-csls_knn_10-S2T-10000" in MUSE): build the S2T CSLS (k = 10)
dictionary of the 10k most frequent source words (candidates among the 10k most frequent target
words) and return the mean cosine of its pairs, in [-1, 1]; higher is better. It needs no gold
dictionary, so it is what picks the adversarial epoch, the refinement iteration and the grid
configuration.

The rule (:func:`first_maximum`): the candidate with the largest criterion wins; on a tie the
earliest one; NaN (a map whose dictionary has no pair) ranks below every number. Everything
that selects by the criterion goes through it: the best adversarial epoch (:func:`best_epoch`,
used by ``align.adversarial_train`` while it trains and by the grid on epoch prefixes), the
stage a run ends with after refinement (:func:`best_stage`, used by ``align.refine_and_select``
and the grid), and the grid's configuration (``grid.select``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .csls import normalize
from .dictionary import build_dictionary


def mean_cosine_criterion(mapped_src: torch.Tensor, tgt: torch.Tensor, max_rank: int = 10000,
                          k_csls: int = 10, backend: str = "auto") -> float:
    """The criterion of the map that produced ``mapped_src`` (see the module docstring).

    ``mapped_src [n_src, d]`` (source embeddings already mapped, ``src @ W``) and ``tgt
    [n_tgt, d]`` in frequency order, not necessarily normalised; ``max_rank``: most frequent
    words on each side (0: all). Returns the mean cosine in [-1, 1], NaN when the dictionary is
    empty. Raises ``ValueError`` for an unknown ``backend``.
    """
    src_n, tgt_n = normalize(mapped_src), normalize(tgt)
    pairs = build_dictionary(src_n, tgt_n, "S2T", max_rank=max_rank, method="csls",
                             k_csls=k_csls, backend=backend).to(src_n.device)
    if pairs.numel() == 0:
        return float("nan")
    cos = (src_n[pairs[:, 0]] * tgt_n[pairs[:, 1]]).sum(dim=1)
    return float(cos.mean())


def rank_key(criterion: float | None) -> float:
    """The criterion as a sort key: NaN and None rank below every number."""
    return -math.inf if criterion is None or math.isnan(criterion) else criterion


def first_maximum(criteria: Sequence[float | None]) -> int:
    """0-based index of the best criterion: the largest, the earliest on a tie, NaN lowest.

    Raises ``ValueError`` when ``criteria`` is empty.
    """
    if len(criteria) == 0:
        raise ValueError("no criterion to select from")
    return max(range(len(criteria)), key=lambda i: (rank_key(criteria[i]), -i))


def best_epoch(criteria: Sequence[float]) -> int:
    """1-based adversarial epoch with the best criterion among ``criteria`` (one per epoch run).

    Raises ``ValueError`` when no epoch ran.
    """
    return first_maximum(criteria) + 1


def best_stage(start_criterion: float, refinement_criteria: Sequence[float]) -> tuple[int, float]:
    """(iteration, criterion) a run ends with: 0 keeps the map refinement started from (whose
    criterion is ``start_criterion``), r >= 1 the map after refinement iteration r. A refinement
    iteration wins only when it is strictly better than the start and every earlier iteration."""
    candidates = [start_criterion, *refinement_criteria]
    best = first_maximum(candidates)
    return best, candidates[best]
