"""The one check for "is this file a fairseq checkpoint" (``--init-from-mlm``, ``xdomain-eval-bleu``).

``read_checkpoint(path)`` reads the file once and returns its state dict (``model``, ``cfg``,
...), or raises a one-line ``UserError`` naming the file: never an unpickling traceback.
"""
from __future__ import annotations

import os

from .common.errors import UserError


def read_checkpoint(path: str, what: str = "checkpoint", loader=None) -> dict:
    """Read a fairseq checkpoint file, or raise a one-line UserError naming it.

    A missing file, a directory, a text or empty file, a truncated ``.pt`` or a pickle without a
    ``model`` entry is ``FILE: not a fairseq checkpoint (why)`` (``compat``'s trusted loader
    already reports unreadable files the same way; its UserError passes through).
    ``loader(path)`` reads the file (default ``compat.load_trusted_checkpoint``; eval-bleu passes
    fairseq's ``load_checkpoint_to_cpu``, which also applies its overrides). ``what`` names the
    file in the messages (e.g. ``--init-from-mlm checkpoint``).
    """
    from .compat import load_trusted_checkpoint

    check_checkpoint_path(path, what)
    try:
        state = (loader or load_trusted_checkpoint)(path)
    except (UserError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as err:  # an unreadable file, or fairseq's upgrade of a foreign pickle
        if loader is not None:  # say what the file holds instead, if that is the reason
            _check_checkpoint_state(path, load_trusted_checkpoint(path))
        why = (str(err).strip().splitlines() or [""])[0][:120]
        raise UserError(f"{path}: not a fairseq checkpoint ({type(err).__name__}: {why})") from None
    _check_checkpoint_state(path, state)
    return state


def check_checkpoint_path(path: str, what: str = "checkpoint") -> None:
    """What ``read_checkpoint`` checks before reading: ``path`` is an existing, non-empty file.
    Needs neither torch nor fairseq, so a command can refuse a wrong path in a fraction of a
    second, before its imports; raises the same one-line UserError."""
    if os.path.isdir(path):
        raise UserError(f"{path}: is a directory, not a {what} file")
    if not os.path.isfile(path):
        raise UserError(f"{path}: {what} does not exist")
    if os.path.getsize(path) == 0:
        raise UserError(f"{path}: not a fairseq checkpoint (empty file)")


def _check_checkpoint_state(path, state) -> None:
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a fairseq checkpoint (holds a {type(state).__name__}, "
                        "not a dict)")
    if not isinstance(state.get("model"), dict):
        raise UserError(f"{path}: not a fairseq checkpoint (no 'model' entry)")
