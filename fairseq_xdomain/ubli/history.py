"""The record of one seed's adversarial training (``align.adversarial_train``), epoch by epoch.

Written by ``align.adversarial_train``; read by ``xdomain-ubli align`` (``cli.py``) and the grid
(``grid.py``), which branch from its per-epoch snapshots. It is saved in their checkpoints
(``checkpoint.pt``, ``adv/state.pt``) as the plain dict of :meth:`SeedHistory.to_dict`;
:meth:`SeedHistory.from_dict` reads it back, including the dicts that checkpoints written before
this class existed hold (same keys), so a half-finished run resumes without a rerun (the
fields added for issue 16, ``polar_criterion`` and ``orthogonality``, are rebuilt: the second
from the saved maps, the first by ``align.complete_histories``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import torch

from .selection import best_epoch, candidate_map, orthogonality


@dataclass
class SeedHistory:
    """One seed's adversarial training so far. Lists have one entry per epoch run.

    ``criterion``: the unsupervised criterion (mean cosine, see ``selection``) after each epoch;
    ``epoch_W``: the map ``[d, d]`` (CPU) after each epoch; ``lr``: the mapping learning rate
    each epoch ran with; ``epoch_time_s``: seconds per epoch (this seed's share of the batch).
    ``best_criterion`` / ``best_epoch`` (1-based) / ``best_W``: the best epoch so far by
    ``selection.best_epoch`` (``best_W`` is the initial map and ``best_epoch`` None before the
    first epoch). ``decrease_lr``: the criterion has dropped once (the next drop halves the lr).
    ``stopped``: the lr fell under ``min_lr``; then ``stopped_epoch`` is the last epoch trained
    and ``stop_lr`` the lr that fell under the floor (both None for a seed that did not stop).

    ``polar_criterion``: the criterion of each epoch's nearest orthogonal map (polar factor,
    ``selection.nearest_orthogonal``; None while not computed), what ``--selection orthogonal``
    selects by; ``orthogonality``: ``selection.orthogonality`` of each epoch's W (``fro_dev``,
    ``sv_min``, ``sv_max``). ``best_*`` and the lr schedule follow MUSE's criterion under both
    rules, so the adversarial training itself does not depend on the rule.
    """

    seed: int
    best_W: torch.Tensor
    criterion: list[float] = field(default_factory=list)
    epoch_W: list[torch.Tensor] = field(default_factory=list)
    best_criterion: float = -math.inf
    best_epoch: int | None = None
    lr: list[float] = field(default_factory=list)
    decrease_lr: bool = False
    stopped: bool = False
    stopped_epoch: int | None = None
    stop_lr: float | None = None
    epoch_time_s: list[float] = field(default_factory=list)
    polar_criterion: list[float | None] = field(default_factory=list)
    orthogonality: list[dict] = field(default_factory=list)

    @property
    def epochs_run(self) -> int:
        return len(self.criterion)

    def add_epoch(self, criterion: float, W: torch.Tensor, lr: float, time_s: float,
                  polar_criterion: float | None = None) -> bool:
        """Record the epoch just trained (its map ``W [d, d]``, the lr it ran with, the criterion
        of W and of its polar factor); return whether it is the new best epoch by MUSE's
        criterion (then ``best_*`` point at it)."""
        self.criterion.append(criterion)
        self.polar_criterion.append(polar_criterion)
        self.orthogonality.append(orthogonality(W))
        self.epoch_W.append(W.cpu().clone())
        self.epoch_time_s.append(time_s)
        self.lr.append(lr)
        if best_epoch(self.criterion) != self.epochs_run:
            return False
        self.best_criterion, self.best_epoch, self.best_W = criterion, self.epochs_run, \
            self.epoch_W[-1]
        return True

    def stop(self, lr: float) -> None:
        """Mark this seed stopped after its last epoch: its mapping lr ``lr`` fell under the
        floor (``min_lr``)."""
        self.stopped, self.stopped_epoch, self.stop_lr = True, self.epochs_run, lr

    def prefix(self, n_epochs: int) -> tuple[list[float], int]:
        """(criteria of epochs 1..E actually run, best of those epochs, 1-based): the run of
        ``n_epochs`` = E epochs (a seed that stopped early has fewer). Raises ``ValueError``
        when no epoch ran."""
        crits = list(self.criterion[:n_epochs])
        return crits, best_epoch(crits)

    def criteria(self, rule: str) -> list[float | None]:
        """The per-epoch criteria ``rule`` selects by: MUSE's (``muse``) or the polar factor's
        (``orthogonal``)."""
        return list(self.criterion) if rule == "muse" else list(self.polar_criterion)

    def start(self, n_epochs: int, rule: str) -> tuple[int, float, torch.Tensor]:
        """(best epoch among the first ``n_epochs`` by ``rule``, 1-based; its criterion; the map
        refinement starts from, ``[d, d]`` on CPU: that epoch's W (``muse``) or its polar factor
        (``orthogonal``)). Raises ``ValueError`` when no epoch ran or for an unknown rule."""
        crits = self.criteria(rule)[:n_epochs]
        e = best_epoch(crits)
        return e, crits[e - 1], candidate_map(self.epoch_W[e - 1], rule)

    def lr_stop(self, n_epochs: int) -> dict | None:
        """``{"epoch", "lr"}`` when training stopped within the first ``n_epochs`` epochs because
        the mapping lr fell under ``min_lr``, else None (what the JSON records carry)."""
        if self.stopped_epoch is None or self.stopped_epoch > n_epochs:
            return None
        return {"epoch": self.stopped_epoch, "lr": self.stop_lr}

    def to_dict(self) -> dict:
        """Plain dict (tensors kept) for ``torch.save`` in a checkpoint."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> SeedHistory:
        """Inverse of :meth:`to_dict`; also reads the dicts of older checkpoints (same keys).
        Raises ``KeyError`` when a key is missing (but the issue-16 fields, rebuilt as the module
        docstring says)."""
        h = cls(**{f.name: d[f.name] for f in fields(cls)
                   if f.name not in ("polar_criterion", "orthogonality")})
        h.polar_criterion = list(d.get("polar_criterion") or [None] * h.epochs_run)
        h.orthogonality = list(d.get("orthogonality") or [orthogonality(W) for W in h.epoch_W])
        return h


def new_histories(seeds: list[int], W: torch.Tensor) -> list[SeedHistory]:
    """Empty histories of ``seeds``; ``W [S, d, d]`` holds their initial maps."""
    return [SeedHistory(seed=s, best_W=W[i].cpu().clone()) for i, s in enumerate(seeds)]


def histories_to_dicts(histories: list[SeedHistory]) -> list[dict]:
    return [h.to_dict() for h in histories]


def histories_from_dicts(dicts: list[dict]) -> list[SeedHistory]:
    return [SeedHistory.from_dict(d) for d in dicts]


__all__ = ["SeedHistory", "new_histories", "histories_to_dicts", "histories_from_dicts"]
