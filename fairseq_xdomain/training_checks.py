"""Budgets, limits and restarts of a ``fairseq-train`` run, checked on its complete configuration
before any work.

A setting can reach fairseq-train as a flag, from a preset (``configs/{mlm,unmt}/*.yaml``), from
``--set fairseq.KEY=VALUE`` or after ``--`` of a driver; only the configuration fairseq has parsed
from all of them is complete. :func:`check_training_config` is the one check of that
configuration. It runs

- inside every ``fairseq-train`` that loads the plugin, once fairseq has parsed its options and
  before the task is set up (``compat.patch_fairseq_run_checks``: fairseq's ``call_main``), and
- in the drivers (``xdomain-run mlm|unmt``) before their first step, on the arguments they are
  about to give fairseq-train (:func:`fairseq_xdomain.experiments.train_args.check_train_arguments`), so that a wrong setting stops the
  driver before fastText or pre-training.

Refused, as one ``UserError`` naming the setting (exit 2):

- a negative ``max_update`` / ``max_epoch`` (fairseq: 0 is "no limit"), and a run with no stop
  criterion at all (both 0, no ``--stop-time-hours``, ``--stop-min-lr`` or ``--patience``);
- ``--max-tokens`` / ``--batch-size`` / ``--update-freq`` / ``--lr`` zero or negative, neither
  ``--max-tokens`` nor ``--batch-size`` given, ``--tokens-per-sample`` below 2;
- ``xlm_mlm``: ``--max-tokens`` below ``--tokens-per-sample`` (a block is ``<s>`` plus up to
  ``tokens_per_sample - 1`` tokens: no block would fit in a batch);
- an explicit ``--restore-file`` (or ``--finetune-from-model``) that does not exist: fairseq would
  silently train from scratch. fairseq's default ``checkpoint_last.pt`` in ``--save-dir`` stays
  optional: that is how a first run starts.
"""
from __future__ import annotations

import os

from .common.errors import UserError

#: fairseq's default ``--restore-file``: resume from ``SAVE_DIR/checkpoint_last.pt`` if it exists
DEFAULT_RESTORE_FILE = "checkpoint_last.pt"


def _get(section, name, default=None):
    """``section.name`` of an omegaconf/dataclass/namespace config, or ``default``."""
    if section is None:
        return default
    try:
        value = getattr(section, name)
    except (AttributeError, KeyError):
        return default
    return default if value is None else value


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    try:
        return list(value)  # omegaconf ListConfig
    except TypeError:
        return [value]


def check_budget(cfg) -> None:
    """Kind 2: budgets and batch limits of ``cfg`` (fairseq's FairseqConfig). UserError if wrong."""
    opt, data, task, ckpt = cfg.optimization, cfg.dataset, cfg.task, cfg.checkpoint
    max_update = int(_get(opt, "max_update", 0))
    max_epoch = int(_get(opt, "max_epoch", 0))
    for flag, key, value in (("--max-update", "max_update", max_update),
                             ("--max-epoch", "max_epoch", max_epoch)):
        if value < 0:
            raise UserError(f"{flag} {value} (fairseq.{key}): must be >= 0 (a number of "
                            f"{'updates' if key == 'max_update' else 'epochs'}; 0 = no limit)")
    stop_hours = float(_get(opt, "stop_time_hours", 0) or 0)
    stop_min_lr = float(_get(opt, "stop_min_lr", -1))
    patience = int(_get(ckpt, "patience", -1))
    validates = not bool(_get(data, "disable_validation", False))
    if (max_update == 0 and max_epoch == 0 and stop_hours <= 0 and stop_min_lr <= 0
            and not (patience > 0 and validates)):
        raise UserError("--max-update 0 and --max-epoch 0 (fairseq.max_update, fairseq.max_epoch):"
                        " no stop criterion, the run would never end; give --max-update N or "
                        "--max-epoch N (or --stop-time-hours H)")
    max_tokens = _get(data, "max_tokens")
    batch_size = _get(data, "batch_size")
    for flag, key, value in (("--max-tokens", "max_tokens", max_tokens),
                             ("--batch-size", "batch_size", batch_size)):
        if value is not None and int(value) <= 0:
            raise UserError(f"{flag} {value} (fairseq.{key}): must be >= 1")
    if max_tokens is None and batch_size is None:
        raise UserError("--max-tokens / --batch-size: neither is given; set at least one "
                        "(fairseq.max_tokens or fairseq.batch_size)")
    for value in _as_list(_get(opt, "update_freq")):
        if int(value) <= 0:
            raise UserError(f"--update-freq {value} (fairseq.update_freq): must be >= 1")
    for value in _as_list(_get(opt, "lr")):
        if float(value) <= 0:
            raise UserError(f"--lr {value} (fairseq.lr): must be > 0")
    tokens_per_sample = _get(task, "tokens_per_sample")
    if tokens_per_sample is not None and int(tokens_per_sample) < 2:
        raise UserError(f"--tokens-per-sample {tokens_per_sample}: must be >= 2 (<s> and a token)")
    if (_get(task, "_name") == "xlm_mlm" and max_tokens is not None
            and tokens_per_sample is not None and int(max_tokens) < int(tokens_per_sample)):
        raise UserError(f"--max-tokens {max_tokens} is smaller than --tokens-per-sample "
                        f"{tokens_per_sample}: no block fits in a batch")


def restore_path(cfg) -> str | None:
    """The file an explicit ``--restore-file`` names, as fairseq will open it (with the
    checkpoint suffix); None for fairseq's default ``checkpoint_last.pt``."""
    ckpt = cfg.checkpoint
    restore = _get(ckpt, "restore_file", DEFAULT_RESTORE_FILE)
    if restore == DEFAULT_RESTORE_FILE:
        return None
    suffix = _get(ckpt, "checkpoint_suffix", "")
    return restore.replace(".pt", suffix + ".pt") if suffix else restore


def check_restart(cfg) -> None:
    """Kind 3: an explicit ``--restore-file`` / ``--finetune-from-model`` must exist."""
    path = restore_path(cfg)
    if path is not None and not os.path.isfile(path):
        what = "does not exist" if not os.path.exists(path) else "is not a file"
        raise UserError(f"{path}: --restore-file {what}; fairseq would train from scratch. "
                        "Give an existing checkpoint, or leave --restore-file out to resume from "
                        f"--save-dir's {DEFAULT_RESTORE_FILE} (or start afresh)")
    finetune = _get(cfg.checkpoint, "finetune_from_model")
    if finetune and not os.path.isfile(finetune):
        raise UserError(f"{finetune}: --finetune-from-model does not exist")


def check_training_config(cfg) -> None:
    """Every check of this module on fairseq's complete config ``cfg``; UserError on the first."""
    check_budget(cfg)
    check_restart(cfg)


