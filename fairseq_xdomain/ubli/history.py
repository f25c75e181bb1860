"""The record of one seed's adversarial training (``align.adversarial_train``), epoch by epoch.

Written by ``align.adversarial_train``; read by ``xdomain-ubli align`` (``cli.py``) and the grid
(``grid.py``), which branch from its per-epoch snapshots. It is saved in their checkpoints
(``checkpoint.pt``, ``adv/state.pt``) as the plain dict of :meth:`SeedHistory.to_dict`;
:meth:`SeedHistory.from_dict` reads it back, including the dicts that checkpoints written before
this class existed hold (same keys), so a half-finished run resumes without a rerun.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import torch

from .selection import best_epoch


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

    @property
    def epochs_run(self) -> int:
        return len(self.criterion)

    def add_epoch(self, criterion: float, W: torch.Tensor, lr: float, time_s: float) -> bool:
        """Record the epoch just trained (its map ``W [d, d]``, the lr it ran with); return
        whether it is the new best epoch (then ``best_*`` point at it)."""
        self.criterion.append(criterion)
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
        Raises ``KeyError`` when a key is missing."""
        return cls(**{f.name: d[f.name] for f in fields(cls)})


def new_histories(seeds: list[int], W: torch.Tensor) -> list[SeedHistory]:
    """Empty histories of ``seeds``; ``W [S, d, d]`` holds their initial maps."""
    return [SeedHistory(seed=s, best_W=W[i].cpu().clone()) for i, s in enumerate(seeds)]


def histories_to_dicts(histories: list[SeedHistory]) -> list[dict]:
    return [h.to_dict() for h in histories]


def histories_from_dicts(dicts: list[dict]) -> list[SeedHistory]:
    return [SeedHistory.from_dict(d) for d in dicts]


__all__ = ["SeedHistory", "new_histories", "histories_to_dicts", "histories_from_dicts"]
