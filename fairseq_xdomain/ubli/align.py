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

Selection rule (issue 16, see :mod:`.selection`): every epoch also records the criterion of W's
nearest orthogonal matrix and how far W is from orthogonal; training and its lr schedule follow
MUSE's criterion under both rules, and the rule only decides which map refinement starts from
(:meth:`~.history.SeedHistory.start`, :func:`select_run`). :func:`select_run` also adds the
identity candidate (W = I and its refinements) when asked to.
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
from .selection import (
    best_stage,
    first_maximum,
    is_nonorthogonal,
    mean_cosine_criterion,
    nearest_orthogonal,
    orthogonality,
)

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
    complete_histories(history, src_d, tgt_d, crit_max_rank, k_csls, backend)
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
            crit, polar = score_epoch(src_d, tgt_d, W, crit_max_rank, k_csls, backend)
            h.add_epoch(crit, W, float(trainer.map_lr[i]), t / S, polar_criterion=polar)
            orth = h.orthogonality[-1]
            logger.info("seed %d epoch %d: criterion %.5f, of the nearest orthogonal map %.5f; "
                        "singular values %.3g..%.3g%s (%.0f samples/s)", h.seed, epoch + 1, crit,
                        polar, orth["sv_min"], orth["sv_max"],
                        " (far from orthogonal)" if is_nonorthogonal(orth) else "",
                        n_iter * trainer.samples_per_iteration * S / max(t, 1e-9))
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


def score_epoch(src: torch.Tensor, tgt: torch.Tensor, W: torch.Tensor, crit_max_rank: int = 10000,
                k_csls: int = 10, backend: str = "auto") -> tuple[float, float]:
    """(criterion of ``W [d, d]``, criterion of its nearest orthogonal matrix): what each rule of
    :mod:`.selection` scores an adversarial epoch by. ``src``/``tgt`` as in
    :func:`adversarial_train`. Raises ``ValueError`` for an unknown ``backend``."""
    def crit(M):
        return mean_cosine_criterion(src @ M, tgt, max_rank=crit_max_rank, k_csls=k_csls,
                                     backend=backend)

    return crit(W), crit(nearest_orthogonal(W))


def complete_histories(histories: Sequence[SeedHistory], src: torch.Tensor, tgt: torch.Tensor,
                       crit_max_rank: int = 10000, k_csls: int = 10, backend: str = "auto",
                       ) -> None:
    """Compute, in place, the polar-factor criterion of every recorded epoch that lacks it (a
    history read from a checkpoint written before issue 16); a no-op otherwise."""
    for h in histories:
        for e, value in enumerate(h.polar_criterion):
            if value is None:
                W = nearest_orthogonal(h.epoch_W[e].to(src.device))
                h.polar_criterion[e] = mean_cosine_criterion(
                    src @ W, tgt, max_rank=crit_max_rank, k_csls=k_csls, backend=backend)


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
    ``{"iteration", "criterion", "n_pairs", "orthogonality"}`` per iteration run). Refinement may stop before
    ``ref_cfg.n_refinement`` iterations (see ``refinement``). Raises ``ValueError`` for an
    unknown ``backend``.
    """
    bar = (progress_bar(total=ref_cfg.n_refinement, desc="refinement", unit="it",
                        unit_scale=False) if progress else None)
    steps = refine(src, tgt, W0, ref_cfg, backend=backend, progress=bar)
    if bar is not None:
        bar.close()
    records = [{"iteration": it, "criterion": crit, "n_pairs": n_pairs,
                "orthogonality": orthogonality(W)}
               for it, (W, crit, n_pairs) in enumerate(steps, 1)]
    best_it, best_crit = best_stage(crit0, [crit for _, crit, _ in steps])
    return (W0 if best_it == 0 else steps[best_it - 1][0]), best_crit, best_it, records


def select_run(src: torch.Tensor, tgt: torch.Tensor, history: SeedHistory, n_epochs: int,
               ref_cfg: RefinementConfig, rule: str = "orthogonal", identity: bool = False,
               backend: str = "auto", progress: bool = False) -> tuple[torch.Tensor, dict]:
    """The end of one run (``xdomain-ubli align``) after adversarial training: the best of the
    first ``n_epochs`` epochs by ``rule`` (``selection.SELECTION_RULES``), refined and selected
    (:func:`refine_and_select`); with ``identity``, W = I refined the same way is a second
    candidate and the better criterion wins (the identity on a tie: no mapping is the simpler
    map, and it is listed first in the grid too).

    Returns (W ``[d, d]``, record fields): ``selection_rule``, ``candidate``
    (``adversarial``|``identity``), ``selected_epoch`` / ``adversarial_criterion`` (of the rule),
    ``refinement`` (records of the adversarial candidate's iterations), ``selected_refinement``
    (of the winning candidate), ``criterion`` and ``orthogonality`` (of the returned W),
    ``source_orthogonality`` / ``flagged_nonorthogonal`` (the selected epoch's W before any
    projection; flagged: a singular value outside ``selection.ORTHOGONAL_SV_RANGE``),
    ``criterion_per_epoch_polar``, ``adversarial_orthogonality`` (per epoch),
    ``flagged_epochs`` (1-based) and ``identity`` (the identity candidate's record, or None).
    Raises ``ValueError`` when no epoch ran or for an unknown rule or backend.
    """
    e, crit_e, W0 = history.start(n_epochs, rule)
    W, crit, ref_it, ref_records = refine_and_select(src, tgt, W0.to(src.device), crit_e, ref_cfg,
                                                     backend=backend, progress=progress)
    orth = history.orthogonality[:n_epochs]
    fields = {
        "selection_rule": rule, "candidate": "adversarial", "selected_epoch": e,
        "adversarial_criterion": crit_e, "refinement": ref_records,
        "selected_refinement": ref_it, "criterion": crit,
        "source_orthogonality": orth[e - 1], "flagged_nonorthogonal": is_nonorthogonal(orth[e - 1]),
        "criterion_per_epoch_polar": history.polar_criterion[:n_epochs],
        "adversarial_orthogonality": orth,
        "flagged_epochs": [i + 1 for i, o in enumerate(orth) if is_nonorthogonal(o)],
        "identity": None,
    }
    if identity:
        eye = torch.eye(src.shape[1], device=src.device, dtype=src.dtype)
        crit_i0 = mean_cosine_criterion(src, tgt, max_rank=ref_cfg.criterion_max_rank,
                                        k_csls=ref_cfg.k_csls, backend=backend)
        W_i, crit_i, it_i, rec_i = refine_and_select(src, tgt, eye, crit_i0, ref_cfg,
                                                     backend=backend, progress=progress)
        fields["identity"] = {"start_criterion": crit_i0, "criterion": crit_i,
                              "selected_refinement": it_i, "refinement": rec_i}
        if first_maximum([crit_i, crit]) == 0:
            W, fields["criterion"], fields["selected_refinement"] = W_i, crit_i, it_i
            fields.update(candidate="identity", source_orthogonality=orthogonality(eye),
                          flagged_nonorthogonal=False)
    fields["orthogonality"] = orthogonality(W)
    logger.info("selected (--selection %s): %s candidate, criterion %.5f, singular values "
                "%.3g..%.3g", rule, fields["candidate"], fields["criterion"],
                fields["orthogonality"]["sv_min"], fields["orthogonality"]["sv_max"])
    return W, fields


def selection_blocks(fields: dict) -> tuple[dict, dict]:
    """Split :func:`select_run`'s fields into a result's ``selected`` block (epoch, refinement,
    adversarial criterion, rule, candidate, orthogonality numbers, flag) and ``details`` (per-epoch
    polar criteria and orthogonality, flagged epochs, refinement records, identity candidate).
    ``selected["epoch"]`` is None when the identity candidate won (``details["adversarial_epoch"]``
    keeps the adversarial candidate's)."""
    adversarial = fields["candidate"] == "adversarial"
    selected = {"epoch": fields["selected_epoch"] if adversarial else None,
                "refinement": fields["selected_refinement"],
                "adversarial_criterion": fields["adversarial_criterion"],
                **{k: fields[k] for k in ("selection_rule", "candidate", "orthogonality",
                                          "source_orthogonality", "flagged_nonorthogonal")}}
    details = {"adversarial_epoch": fields["selected_epoch"],
               **{k: fields[k] for k in ("refinement", "criterion_per_epoch_polar",
                                         "adversarial_orthogonality", "flagged_epochs",
                                         "identity")}}
    return selected, details


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
