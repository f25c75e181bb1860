"""The UBLI pipelines: unsupervised (adversarial + criterion + refinement), supervised Procrustes
(seed dictionary or identical strings) + refinement. Plain functions over torch tensors.

``adversarial_train`` trains S seeds together and records, for every seed, a
:class:`~.history.SeedHistory`: the criterion after every epoch, a snapshot of W after every
epoch (so callers can branch, e.g. the grid search), the selected (best-criterion) epoch, and
MUSE's learning-rate schedule (decay 0.98 per epoch; from the second drop of the criterion on,
also halve; stop under ``min_lr``). The best epoch, and the map ``refine_and_select`` keeps, are
chosen by the one rule of :mod:`.selection`, which the grid applies too.

The stop: after each epoch's update of the mapping lr, a seed whose lr is under ``cfg.min_lr``
(``--min-lr``, default 1e-6 as in MUSE) trains no further epoch. It is logged and recorded in its
history as ``stopped_epoch`` (the last epoch it trained) and ``stop_lr`` (the lr that fell under
the floor); both stay ``None`` for a seed that ran all its epochs. (MUSE also floors the 0.98
decay itself at ``min_lr``, so only a halving can stop it; here decay alone stops a run too, after
~570 epochs at lr 0.1: no difference for any real schedule.)
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..common.atomic import atomic_open
from ..common.errors import UserError, check_choice, check_minimums
from ..common.progress import progress as progress_bar
from .adversarial import PRECISIONS, AdversarialConfig, BatchedAdversarial
from .history import SeedHistory, new_histories
from .procrustes import procrustes
from .refinement import RefinementConfig, refine
from .selection import best_stage, mean_cosine_criterion

logger = logging.getLogger(__name__)


def check_adversarial_config(cfg: AdversarialConfig) -> AdversarialConfig:
    """Refuse flag values that would only fail (or silently do nothing) once training runs.

    Returns ``cfg``; raises ``UserError`` naming the flag."""
    check_choice("--precision", cfg.precision, PRECISIONS)
    check_minimums((("--epochs", cfg.n_epochs, 1), ("--batch-size", cfg.batch_size, 1),
                    ("--dis-hid-dim", cfg.dis_hid_dim, 1),
                    ("--dis-layers", cfg.dis_layers, 0), ("--dis-steps", cfg.dis_steps, 0),
                    ("--dis-most-frequent", cfg.dis_most_frequent, 0)))
    if cfg.epoch_size < cfg.batch_size:
        raise UserError(f"--epoch-size {cfg.epoch_size}: must be >= --batch-size {cfg.batch_size}")
    if not 0 <= cfg.dis_input_dropout < 1:
        raise UserError(f"--dis-input-dropout {cfg.dis_input_dropout}: must be in [0, 1)")
    if not 0 <= cfg.dis_smooth < 0.5:
        raise UserError(f"--dis-smooth {cfg.dis_smooth}: must be in [0, 0.5)")
    for flag, value in (("--dis-lr", cfg.dis_lr), ("--map-lr", cfg.map_lr),
                        ("--lr-decay", cfg.lr_decay), ("--lr-shrink", cfg.lr_shrink)):
        if value <= 0:
            raise UserError(f"{flag} {value}: must be > 0")
    return cfg


def adversarial_train(src: torch.Tensor, tgt: torch.Tensor, seeds: Sequence[int],
                      cfg: AdversarialConfig, crit_max_rank: int = 10000, k_csls: int = 10,
                      backend: str = "auto", progress: bool = True,
                      device: torch.device | None = None,
                      on_epoch: Callable[[int, BatchedAdversarial, list[SeedHistory]], None]
                      | None = None,
                      trainer: BatchedAdversarial | None = None, start_epoch: int = 0,
                      history: list[SeedHistory] | None = None) -> list[SeedHistory]:
    """Train ``len(seeds)`` adversarial runs together for ``cfg.n_epochs`` epochs; return one
    :class:`~.history.SeedHistory` per seed (criterion, map and lr of every epoch, the best
    epoch by ``selection.best_epoch``, the lr stop).

    ``src [n_src, d]`` / ``tgt [n_tgt, d]``: embeddings in frequency order; ``crit_max_rank`` /
    ``k_csls``: of the criterion (``selection.mean_cosine_criterion``); ``progress``: a bar per
    epoch (``common.progress``). ``on_epoch(epoch, trainer, history)`` is called after each epoch
    (1-based; checkpointing, branching). ``trainer``/``start_epoch``/``history`` resume a run
    (from ``trainer.state_dict()`` and ``SeedHistory.from_dict``). Raises ``ValueError`` for an
    unknown ``backend``.
    """
    trainer = trainer or BatchedAdversarial(src, tgt, seeds, cfg, device=device)
    S = trainer.S
    if history is None:
        history = new_histories(trainer.seeds, trainer.W)
    src_d, tgt_d = trainer.src, trainer.tgt
    n_iter = trainer.iterations_per_epoch()
    for epoch in range(start_epoch, cfg.n_epochs):
        if all(h.stopped for h in history):
            break
        bar = (progress_bar(total=n_iter, desc=f"adversarial epoch {epoch + 1}/{cfg.n_epochs}",
                            unit="it", unit_scale=False) if progress else None)
        t = trainer.run_epoch(bar, n_iter)
        if bar is not None:
            bar.close()
        for i, h in enumerate(history):
            if h.stopped:
                continue
            W = trainer.W[i]
            crit = mean_cosine_criterion(src_d @ W, tgt_d, max_rank=crit_max_rank, k_csls=k_csls,
                                         backend=backend)
            h.add_epoch(crit, W, float(trainer.map_lr[i]), t / S)
            logger.info("seed %d epoch %d: criterion %.5f (%.0f samples/s)", h.seed, epoch + 1,
                        crit, n_iter * trainer.samples_per_iteration * S / max(t, 1e-9))
            # MUSE's schedule: decay each epoch; from the second drop on, shrink too.
            trainer.map_lr[i] *= cfg.lr_decay
            if cfg.lr_shrink < 1 and crit < h.best_criterion:
                if h.decrease_lr:
                    trainer.map_lr[i] *= cfg.lr_shrink
                h.decrease_lr = True
            if trainer.map_lr[i] < cfg.min_lr:
                _stop(h, float(trainer.map_lr[i]), cfg.min_lr)
        if on_epoch is not None:
            on_epoch(epoch + 1, trainer, history)
    return history


def _stop(h: SeedHistory, lr: float, min_lr: float) -> None:
    """Stop one seed after its last epoch (its lr ``lr`` fell under ``min_lr``), logged."""
    h.stop(lr)
    logger.info("seed %d: mapping learning rate %.3g is under min_lr %g after epoch %d: "
                "adversarial training stops", h.seed, lr, min_lr, h.stopped_epoch)


def refine_and_select(src: torch.Tensor, tgt: torch.Tensor, W0: torch.Tensor, crit0: float,
                      ref_cfg: RefinementConfig, backend: str = "auto", progress: bool = False,
                      ) -> tuple[torch.Tensor, float, int, list[dict]]:
    """Refine from ``W0 [d, d]`` (whose criterion is ``crit0``); keep the best map by the
    criterion (``selection.best_stage``).

    Returns (best W ``[d, d]``, its criterion, its iteration (0 = ``W0``), one record
    ``{"iteration", "criterion", "n_pairs"}`` per iteration run). Refinement may stop before
    ``ref_cfg.n_refinement`` iterations (see ``refinement``). Raises ``ValueError`` for an
    unknown ``backend``.
    """
    bar = (progress_bar(total=ref_cfg.n_refinement, desc="refinement", unit="it",
                        unit_scale=False) if progress else None)
    steps = refine(src, tgt, W0, ref_cfg, backend=backend, progress=bar)
    if bar is not None:
        bar.close()
    records = [{"iteration": it, "criterion": crit, "n_pairs": n_pairs}
               for it, (_, crit, n_pairs) in enumerate(steps, 1)]
    best_it, best_crit = best_stage(crit0, [crit for _, crit, _ in steps])
    return (W0 if best_it == 0 else steps[best_it - 1][0]), best_crit, best_it, records


def supervised_procrustes(src: torch.Tensor, tgt: torch.Tensor,
                          pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """W ``[d, d]`` (``src @ W ~ tgt``) from a seed dictionary of (source row, target row) pairs.

    Raises ``ValueError`` when ``pairs`` is empty."""
    if len(pairs) == 0:
        raise ValueError("empty seed dictionary")
    p = torch.as_tensor(pairs, dtype=torch.long, device=src.device)
    return procrustes(src[p[:, 0]], tgt[p[:, 1]])


def identical_pairs(src_words: Sequence[str], tgt_words: Sequence[str]) -> list[tuple[int, int]]:
    """Seed dictionary of every word present in both vocabularies (Søgaard et al. 2018), as
    (source row, target row) pairs in source order."""
    tgt_w2i = {w: i for i, w in enumerate(tgt_words)}
    return [(i, tgt_w2i[w]) for i, w in enumerate(src_words) if w in tgt_w2i]


def timed(fn, *args, **kw):
    """(``fn(*args, **kw)``, wall seconds it took)."""
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def save_mapping(path: str | os.PathLike, W: torch.Tensor) -> None:
    """Write a mapping ``W [d, d]`` (applied as ``x @ W``) as float32 .npy, atomically."""
    with atomic_open(path, "wb") as handle:
        np.save(handle, W.detach().cpu().float().numpy())
