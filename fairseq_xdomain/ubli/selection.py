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

Which map a candidate is (issue 16, point 1): under ``--selection orthogonal`` (the default) an
adversarial epoch's map W is replaced by its nearest orthogonal matrix, the polar factor U V^T
of W = U S V^T (:func:`nearest_orthogonal`): the criterion is computed on it and refinement starts
from it, which is what MUSE's orthogonality update (W <- (1 + b) W - b W W^T W) intends. A W that
drifted towards a low-rank map (all words mapped near one direction) scores a high mean cosine
under MUSE's own rule and is picked although it translates nothing; its polar factor cannot
collapse. ``--selection muse`` keeps MUSE's rule exactly (criterion on W as is, refinement from
W), to replicate the paper. Every candidate's distance from orthogonality is recorded
(:func:`orthogonality`); a W with a singular value outside :data:`ORTHOGONAL_SV_RANGE` is
flagged (:func:`is_nonorthogonal`).

Identity candidate (issue 16, point 2): when both ``.vec`` files come from one joint model
(:func:`detect_joint_space`), W = I is a candidate too (``--identity-candidate``).
"""
from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Sequence

import numpy as np
import torch

from .csls import normalize
from .dictionary import build_dictionary

logger = logging.getLogger(__name__)


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


# ----------------------------------------------------------------------------- which map is scored

SELECTION_RULES = ("orthogonal", "muse")
IDENTITY_CHOICES = ("auto", "always", "never")
#: A candidate W with a singular value outside this range is flagged ``flagged_nonorthogonal``
#: (the acceptance target of issue 16: a selected map's singular values lie in [0.9, 1.1]).
ORTHOGONAL_SV_RANGE = (0.9, 1.1)
#: Joint-space test (:func:`detect_joint_space`): among the strings both vocabularies share in
#: their ``JOINT_MAX_RANK`` most frequent words, at least ``JOINT_MIN_SHARE`` have vectors with
#: cosine > ``JOINT_MIN_COSINE``, and at least ``JOINT_MIN_SHARED`` strings are shared.
JOINT_MAX_RANK, JOINT_MIN_SHARE, JOINT_MIN_COSINE, JOINT_MIN_SHARED = 10000, 0.95, 0.999, 10


def nearest_orthogonal(W: torch.Tensor) -> torch.Tensor:
    """The polar factor U V^T of ``W [d, d]`` = U S V^T: the orthogonal matrix nearest to W in
    Frobenius norm (computed in float64, returned in W's dtype and device)."""
    u, _, vh = torch.linalg.svd(W.double())
    return (u @ vh).to(W.dtype)


def orthogonality(W: torch.Tensor) -> dict:
    """How far ``W [d, d]`` is from orthogonal: ``{"fro_dev": ||W^T W - I||_F / sqrt(d),
    "sv_min", "sv_max"}`` (smallest and largest singular value; all 0 / 1 / 1 for an orthogonal
    W), plain floats computed in float64."""
    w = W.detach().double().cpu()
    d = w.shape[-1]
    dev = torch.linalg.matrix_norm(w.T @ w - torch.eye(d, dtype=w.dtype)) / math.sqrt(d)
    sv = torch.linalg.svdvals(w)
    return {"fro_dev": float(dev), "sv_min": float(sv.min()), "sv_max": float(sv.max())}


def is_nonorthogonal(orth: dict) -> bool:
    """Whether an :func:`orthogonality` record has a singular value outside
    :data:`ORTHOGONAL_SV_RANGE`."""
    lo, hi = ORTHOGONAL_SV_RANGE
    return orth["sv_min"] < lo or orth["sv_max"] > hi


def candidate_map(W: torch.Tensor, rule: str) -> torch.Tensor:
    """The map an adversarial W stands for under ``rule``: W itself (``muse``) or its polar
    factor (``orthogonal``). Raises ``ValueError`` for another rule."""
    if rule == "muse":
        return W
    if rule == "orthogonal":
        return nearest_orthogonal(W)
    raise ValueError(f"unknown selection rule {rule!r} (expected one of {SELECTION_RULES})")


def add_selection_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--selection`` and ``--identity-candidate`` (shared by ``xdomain-ubli align`` and
    ``grid``); return ``parser``."""
    g = parser.add_argument_group("model selection (issue 16; docs/embeddings-ubli.md)")
    g.add_argument("--selection", default="orthogonal", choices=SELECTION_RULES,
                   help="orthogonal: score and refine from the nearest orthogonal matrix of each "
                        "adversarial W (never picks a collapsed map); muse: MUSE's rule exactly "
                        "(W as is), to replicate the paper")
    g.add_argument("--identity-candidate", default="auto", choices=IDENTITY_CHOICES,
                   help="also score W = I and its refinements: auto = when the two .vec files "
                        "come from one joint model (identical strings, identical vectors)")
    return parser


def detect_joint_space(src_words: Sequence[str], tgt_words: Sequence[str],
                       src_vectors: np.ndarray | torch.Tensor,
                       tgt_vectors: np.ndarray | torch.Tensor,
                       max_rank: int = JOINT_MAX_RANK) -> dict:
    """Whether two embedding tables come from one joint model: identical strings have identical
    vectors (the test of :data:`JOINT_MIN_SHARE` etc., on the raw vectors, before any
    normalisation, among the ``max_rank`` most frequent words of each side; 0: all).

    ``src_vectors [n_src, d]`` / ``tgt_vectors [n_tgt, d]`` in the order of the word lists.
    Returns ``{"joint": bool, "n_shared": shared strings, "n_identical": those with cosine >
    JOINT_MIN_COSINE, "share": n_identical / n_shared in [0, 1] (0 when nothing is shared)}``.
    """
    n_s = len(src_words) if max_rank <= 0 else min(max_rank, len(src_words))
    n_t = len(tgt_words) if max_rank <= 0 else min(max_rank, len(tgt_words))
    tgt_w2i = {w: i for i, w in enumerate(tgt_words[:n_t])}
    pairs = [(i, tgt_w2i[w]) for i, w in enumerate(src_words[:n_s]) if w in tgt_w2i]
    n_identical = 0
    if pairs:
        idx = torch.as_tensor(pairs, dtype=torch.long)
        a = normalize(torch.as_tensor(src_vectors)[idx[:, 0]].double())
        b = normalize(torch.as_tensor(tgt_vectors)[idx[:, 1]].double())
        n_identical = int(((a * b).sum(dim=1) > JOINT_MIN_COSINE).sum())
    share = n_identical / len(pairs) if pairs else 0.0
    return {"joint": len(pairs) >= JOINT_MIN_SHARED and share >= JOINT_MIN_SHARE,
            "n_shared": len(pairs), "n_identical": n_identical, "share": share}


def decide_identity(choice: str, src_words: Sequence[str], tgt_words: Sequence[str],
                    src_vectors: np.ndarray | torch.Tensor, tgt_vectors: np.ndarray | torch.Tensor,
                    ) -> tuple[bool, dict]:
    """(whether W = I is a candidate, the :func:`detect_joint_space` record) for
    ``--identity-candidate choice`` on two raw embedding tables; logs the decision."""
    joint = detect_joint_space(src_words, tgt_words, src_vectors, tgt_vectors)
    identity = resolve_identity(choice, joint)
    logger.info("joint-space test: %d of %d shared strings have identical vectors (%.1f%%): "
                "%s; identity candidate: %s (--identity-candidate %s)", joint["n_identical"],
                joint["n_shared"], 100 * joint["share"], "joint" if joint["joint"] else
                "not joint", "yes" if identity else "no", choice)
    return identity, joint


def resolve_identity(choice: str, detection: dict | None) -> bool:
    """Whether W = I is a candidate: ``always``, ``never``, or ``auto`` = ``detection["joint"]``
    (:func:`detect_joint_space`). Raises ``ValueError`` for another choice."""
    if choice not in IDENTITY_CHOICES:
        raise ValueError(f"unknown --identity-candidate {choice!r}")
    return choice == "always" or (choice == "auto" and bool(detection and detection["joint"]))
