"""Procrustes refinement: induce a CSLS dictionary with the current map, solve Procrustes, repeat.

Each iteration builds the dictionary among the ``max_rank`` (15k) most frequent words from the
unit-normalised mapped embeddings and solves Procrustes on the embeddings themselves (as MUSE).
The criterion is recorded after every iteration so callers can select the best iteration.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from .criterion import mean_cosine_criterion
from .dictionary import build_dictionary
from .procrustes import procrustes

logger = logging.getLogger(__name__)


@dataclass
class RefinementConfig:
    n_refinement: int = 5
    dico_build: str = "S2T"
    dico_method: str = "csls"
    dico_max_rank: int = 15000
    k_csls: int = 10
    criterion_max_rank: int = 10000

    def to_dict(self):
        return asdict(self)


def procrustes_from_pairs(src, tgt, pairs):
    return procrustes(src[pairs[:, 0]], tgt[pairs[:, 1]])


def refine(src, tgt, W, cfg: RefinementConfig, backend="auto", progress=None):
    """Run ``cfg.n_refinement`` iterations from ``W``; return the list of (W, criterion, n_pairs)
    after each iteration (the criterion of the map it produced)."""
    out = []
    for it in range(cfg.n_refinement):
        pairs = build_dictionary(src @ W, tgt, cfg.dico_build, max_rank=cfg.dico_max_rank,
                                 method=cfg.dico_method, k_csls=cfg.k_csls, backend=backend)
        if pairs.shape[0] < 2:
            logger.warning("refinement %d: induced dictionary has %d pairs, stopping", it + 1,
                           pairs.shape[0])
            break
        W = procrustes_from_pairs(src, tgt, pairs.to(src.device))
        crit = mean_cosine_criterion(src @ W, tgt, max_rank=cfg.criterion_max_rank,
                                     k_csls=cfg.k_csls, backend=backend)
        logger.info("refinement %d: %d pairs, criterion %.5f", it + 1, pairs.shape[0], crit)
        out.append((W.clone(), crit, int(pairs.shape[0])))
        if progress is not None:
            progress.update(1)
    return out



