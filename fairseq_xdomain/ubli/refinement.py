"""Procrustes refinement: induce a CSLS dictionary with the current map, solve Procrustes, repeat.

Each iteration builds the dictionary among the ``max_rank`` (15k) most frequent words from the
unit-normalised mapped embeddings and solves Procrustes on the embeddings themselves (as MUSE).
The criterion is recorded after every iteration so callers can select the best iteration.

An induced dictionary with fewer pairs than the embedding dimension (at least 2) cannot determine
a map: Procrustes on it is underdetermined (MUSE crashes on an empty one, its issue #18). Then
refinement stops with a warning that names the count, and the maps of the iterations before it
(the pre-refinement map when it is the first) are what the caller selects from.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import torch

from ..common.errors import check_choice, check_minimums
from .dictionary import DICO_BUILDS, DICO_METHODS, build_dictionary
from .procrustes import procrustes
from .selection import mean_cosine_criterion

logger = logging.getLogger(__name__)


@dataclass
class RefinementConfig:
    """Procrustes refinement and the criterion (MUSE's defaults): iterations, how the dictionary
    is induced (build, method, most frequent words), CSLS k, the criterion's most frequent words."""

    # metadata: the flags of xdomain-ubli align/baseline/grid (common/dataclass_args.py)
    n_refinement: int = field(default=5, metadata={"flag": "refinement",
                                                   "help": "Procrustes iterations",
                                                   "aliases": ("--n_refinement",)})
    dico_build: str = field(default="S2T", metadata={
        "aliases": ("--dico_build",), "choices": DICO_BUILDS, "help": "induced dictionary: source to target, target to source, "
                                        "their intersection (&) or union (|)"})
    dico_method: str = field(default="csls", metadata={
        "aliases": ("--dico_method",), "choices": DICO_METHODS, "help": "retrieval of the induced dictionary"})
    dico_max_rank: int = field(default=15000, metadata={
        "aliases": ("--dico_max_rank",),
        "help": "most frequent words of the induced dictionary (0: all)"})
    k_csls: int = field(default=10, metadata={"flag": "csls-k", "help": "CSLS neighbourhood k"})
    criterion_max_rank: int = field(default=10000, metadata={
        "help": "most frequent source words of the unsupervised criterion (0: all)"})

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> RefinementConfig:
        """Refuse values that would only fail after the expensive work (``UserError``)."""
        check_choice("--dico-build", self.dico_build, DICO_BUILDS)
        check_choice("--dico-method", self.dico_method, DICO_METHODS)
        check_minimums((("--refinement", self.n_refinement, 0),
                        ("--dico-max-rank", self.dico_max_rank, 0),
                        ("--criterion-max-rank", self.criterion_max_rank, 0),
                        ("--csls-k", self.k_csls, 1)), note=" (0: all words)")
        return self


def min_pairs(dim: int) -> int:
    """Fewest induced pairs a refinement step accepts for embeddings of dimension ``dim``."""
    return max(2, int(dim))


def procrustes_from_pairs(src: torch.Tensor, tgt: torch.Tensor, pairs: torch.Tensor,
                          ) -> torch.Tensor:
    """Procrustes W ``[d, d]`` on the rows of ``pairs [n, 2]`` (source row, target row)."""
    return procrustes(src[pairs[:, 0]], tgt[pairs[:, 1]])


def refine(src: torch.Tensor, tgt: torch.Tensor, W: torch.Tensor, cfg: RefinementConfig,
           backend: str = "auto", progress=None) -> list[tuple[torch.Tensor, float, int]]:
    """Run ``cfg.n_refinement`` iterations from ``W [d, d]``; return the list of (W ``[d, d]``,
    criterion, n_pairs) after each iteration (the criterion of the map it produced); shorter
    when an induced dictionary is too small (see the module docstring). ``progress``: a bar
    (``common.progress``) updated once per iteration, or None. Raises ``ValueError`` for an
    unknown ``backend``."""
    out = []
    need = min_pairs(src.shape[1])
    for it in range(cfg.n_refinement):
        pairs = build_dictionary(src @ W, tgt, cfg.dico_build, max_rank=cfg.dico_max_rank,
                                 method=cfg.dico_method, k_csls=cfg.k_csls, backend=backend)
        if pairs.shape[0] < need:
            logger.warning(
                "refinement %d: the induced dictionary (--dico-build %s) has %d pairs, fewer "
                "than the %d a map of dimension %d needs: refinement stops, keeping the map "
                "from before this iteration", it + 1, cfg.dico_build, pairs.shape[0], need,
                src.shape[1])
            break
        W = procrustes_from_pairs(src, tgt, pairs.to(src.device))
        crit = mean_cosine_criterion(src @ W, tgt, max_rank=cfg.criterion_max_rank,
                                     k_csls=cfg.k_csls, backend=backend)
        logger.info("refinement %d: %d pairs, criterion %.5f", it + 1, pairs.shape[0], crit)
        out.append((W.clone(), crit, int(pairs.shape[0])))
        if progress is not None:
            progress.update(1)
    return out



