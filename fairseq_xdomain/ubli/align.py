"""The UBLI pipelines: unsupervised (adversarial + criterion + refinement), supervised Procrustes
(seed dictionary or identical strings) + refinement. Plain functions over torch tensors.

``adversarial_train`` trains S seeds together and records, for every seed, the criterion after
every epoch, a snapshot of W after every epoch (so callers can branch, e.g. the grid search), the
selected (best-criterion) epoch, and MUSE's learning-rate schedule (decay 0.98 per epoch; from the
second drop of the criterion on, also halve; stop under ``min_lr``).

The stop: after each epoch's update of the mapping lr, a seed whose lr is under ``cfg.min_lr``
(``--min-lr``, default 1e-6 as in MUSE) trains no further epoch. It is logged and recorded in its
history as ``stopped_epoch`` (the last epoch it trained) and ``stop_lr`` (the lr that fell under
the floor); both stay ``None`` for a seed that ran all its epochs. (MUSE also floors the 0.98
decay itself at ``min_lr``, so only a halving can stop it; here decay alone stops a run too, after
~570 epochs at lr 0.1: no difference for any real schedule.)
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch

from ..common.atomic import atomic_open
from ..common.errors import UserError, check_choice, check_minimums
from .adversarial import PRECISIONS, AdversarialConfig, BatchedAdversarial
from .criterion import mean_cosine_criterion
from .procrustes import procrustes
from .refinement import RefinementConfig, refine

logger = logging.getLogger(__name__)


def check_adversarial_config(cfg: AdversarialConfig) -> AdversarialConfig:
    """Refuse flag values that would only fail (or silently do nothing) once training runs."""
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


def _tqdm(total, desc, enabled):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="it", dynamic_ncols=True, mininterval=1.0)


def adversarial_train(src, tgt, seeds, cfg: AdversarialConfig, crit_max_rank=10000, k_csls=10,
                      backend="auto", progress=True, device=None, on_epoch=None, trainer=None,
                      start_epoch=0, history=None):
    """Train len(seeds) adversarial runs; return one result dict per seed.

    ``on_epoch(epoch, trainer, history)`` is called after each epoch (checkpointing, branching).
    ``trainer``/``start_epoch``/``history`` resume a run (from ``trainer.state_dict()``).
    """
    trainer = trainer or BatchedAdversarial(src, tgt, seeds, cfg, device=device)
    S = trainer.S
    if history is None:
        history = [{"seed": s, "criterion": [], "epoch_W": [], "best_criterion": -float("inf"),
                    "best_epoch": None, "best_W": trainer.W[i].cpu().clone(), "lr": [],
                    "decrease_lr": False, "stopped": False, "stopped_epoch": None,
                    "stop_lr": None, "epoch_time_s": []}
                   for i, s in enumerate(trainer.seeds)]
    src_d, tgt_d = trainer.src, trainer.tgt
    n_iter = trainer.iterations_per_epoch()
    for epoch in range(start_epoch, cfg.n_epochs):
        if all(h["stopped"] for h in history):
            break
        bar = _tqdm(n_iter, f"adversarial epoch {epoch + 1}/{cfg.n_epochs}", progress)
        t = trainer.run_epoch(bar, n_iter)
        if bar is not None:
            bar.close()
        for i, h in enumerate(history):
            if h["stopped"]:
                continue
            W = trainer.W[i]
            crit = mean_cosine_criterion(src_d @ W, tgt_d, max_rank=crit_max_rank, k_csls=k_csls,
                                         backend=backend)
            h["criterion"].append(crit)
            h["epoch_W"].append(W.cpu().clone())
            h["epoch_time_s"].append(t / S)
            h["lr"].append(float(trainer.map_lr[i]))
            logger.info("seed %d epoch %d: criterion %.5f (%.0f samples/s)", h["seed"], epoch + 1,
                        crit, n_iter * trainer.samples_per_iteration * S / max(t, 1e-9))
            if crit > h["best_criterion"]:
                h["best_criterion"], h["best_epoch"], h["best_W"] = crit, epoch + 1, W.cpu().clone()
            # MUSE's schedule: decay each epoch; from the second drop on, shrink too.
            trainer.map_lr[i] *= cfg.lr_decay
            if cfg.lr_shrink < 1 and crit < h["best_criterion"]:
                if h["decrease_lr"]:
                    trainer.map_lr[i] *= cfg.lr_shrink
                h["decrease_lr"] = True
            if trainer.map_lr[i] < cfg.min_lr:
                _stop(h, epoch + 1, float(trainer.map_lr[i]), cfg.min_lr)
        if on_epoch is not None:
            on_epoch(epoch + 1, trainer, history)
    return history


def _stop(h, epoch, lr, min_lr):
    """Mark one seed's history as stopped after ``epoch`` (its lr fell under ``min_lr``)."""
    logger.info("seed %d: mapping learning rate %.3g is under min_lr %g after epoch %d: "
                "adversarial training stops", h["seed"], lr, min_lr, epoch)
    h["stopped"], h["stopped_epoch"], h["stop_lr"] = True, epoch, lr


def refine_and_select(src, tgt, W0, crit0, ref_cfg: RefinementConfig, backend="auto",
                      progress=False):
    """Refine from ``W0`` (whose criterion is ``crit0``); keep the best W by the criterion.

    Returns (best_W, best_criterion, best_iteration (0 = W0), per-iteration records)."""
    bar = _tqdm(ref_cfg.n_refinement, "refinement", progress)
    steps = refine(src, tgt, W0, ref_cfg, backend=backend, progress=bar)
    if bar is not None:
        bar.close()
    best = (W0, crit0, 0)
    records = []
    for it, (W, crit, n_pairs) in enumerate(steps, 1):
        records.append({"iteration": it, "criterion": crit, "n_pairs": n_pairs})
        if crit > best[1]:
            best = (W, crit, it)
    return best[0], best[1], best[2], records


def supervised_procrustes(src, tgt, pairs):
    """W from a seed dictionary of (source id, target id) pairs."""
    if len(pairs) == 0:
        raise ValueError("empty seed dictionary")
    p = torch.as_tensor(pairs, dtype=torch.long, device=src.device)
    return procrustes(src[p[:, 0]], tgt[p[:, 1]])


def identical_pairs(src_words, tgt_words):
    """Seed dictionary of every word present in both vocabularies (Søgaard et al. 2018)."""
    tgt_w2i = {w: i for i, w in enumerate(tgt_words)}
    return [(i, tgt_w2i[w]) for i, w in enumerate(src_words) if w in tgt_w2i]


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def lr_stop(history, n_epochs):
    """``{"epoch", "lr"}`` when one seed's adversarial training stopped within its first
    ``n_epochs`` epochs because the mapping lr fell under ``min_lr`` (see ``align``), else None."""
    epoch = history.get("stopped_epoch")
    if epoch is None or epoch > n_epochs:
        return None
    return {"epoch": epoch, "lr": history.get("stop_lr")}


def save_mapping(path, W) -> None:
    """Write a mapping W (applied as ``x @ W``) as .npy, atomically."""
    with atomic_open(path, "wb") as handle:
        np.save(handle, W.detach().cpu().float().numpy())
