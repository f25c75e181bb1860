"""One run owns its folder: a lock per work/results folder, held while the process runs.

Two runs writing the same folder (two ``xdomain-prep pipeline`` on one config, two drivers on one
``--work``, two ``fairseq-train`` on one ``--save-dir``) delete or overwrite each other's
temporary files and checkpoints. :func:`own_folder` takes an exclusive lock on
``FOLDER/.xdomain.lock`` (``filelock``, i.e. ``flock(2)`` on Linux) without waiting: when another
process holds it, a one-line :class:`UserError` ``FOLDER: in use by COMMAND (pid N) since T``
stops this one before any work (exit 2). The lock file holds its owner (pid, host, command,
start time) for that message.

A run killed with ``kill -9`` (or a crashed machine) leaves the file behind but not the lock: the
kernel drops an ``flock`` with the process, so the next run takes the folder over. The lock is
released, and its file removed, when the process exits. Locks are re-entrant within a process:
owning a folder twice (a driver's step runner and its own check) is a no-op.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from .errors import UserError, os_error_message

#: the lock file in an owned folder (hidden; left out of folder checksums, see steps.ShaCache)
LOCK_NAME = ".xdomain.lock"

_HELD: dict[str, object] = {}
_GUARD = threading.Lock()


def _command() -> str:
    """A short name of this run: the tool and its subcommand (``xdomain-prep pipeline``)."""
    argv = list(sys.argv) or ["python"]
    words = [Path(argv[0]).name]
    if len(argv) > 1 and not argv[1].startswith("-") and "/" not in argv[1]:
        words.append(argv[1])
    return " ".join(words)


def _write_owner(fd: int) -> None:
    """``on_acquired`` of the lock: the owner record, written into the locked file."""
    record = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)


def read_owner(folder) -> dict:
    """The owner record of ``FOLDER/.xdomain.lock`` (``{}`` when absent or being written)."""
    try:
        with open(Path(folder) / LOCK_NAME, encoding="utf-8") as handle:
            record = json.loads(handle.read() or "{}")
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        return {}


def _in_use_message(folder: Path) -> str:
    owner = read_owner(folder)
    who = owner.get("command") or "another run"
    pid = owner.get("pid", "unknown")
    host = owner.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    since = f" since {owner['started']}" if owner.get("started") else ""
    return (f"{folder}: in use by {who} (pid {pid}{where}){since}; wait for it to finish, "
            "or give another folder")


def own_folder(folder) -> Path:
    """Make ``folder`` (parents too) and lock it for this process until it exits.

    Returns the resolved folder. Raises UserError ``FOLDER: in use by COMMAND (pid N)`` when
    another live process holds it, and ``FOLDER: cannot create folder (CAUSE)`` when it cannot be
    made (a regular file on the path, a read-only or full file system).
    """
    from filelock import FileLock, Timeout

    folder = Path(os.path.abspath(os.fspath(folder)))
    key = str(folder)
    with _GUARD:
        if key in _HELD:
            return folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(os_error_message(err, folder, "cannot create folder")) from None
        lock = FileLock(folder / LOCK_NAME, timeout=0, thread_local=False,
                        on_acquired=_write_owner)
        try:
            lock.acquire()
        except Timeout:
            raise UserError(_in_use_message(folder)) from None
        except OSError as err:
            raise UserError(os_error_message(err, folder / LOCK_NAME, "cannot lock folder")) from None
        if not _HELD:
            atexit.register(release_all)
        _HELD[key] = lock
    return folder


def release_folder(folder) -> None:
    """Give ``folder`` up (its lock file is removed); a no-op when this process does not own it."""
    key = os.path.abspath(os.fspath(folder))
    with _GUARD:
        lock = _HELD.pop(key, None)
    if lock is not None:
        # removed while still locked, so that a finished run leaves no file behind
        with contextlib.suppress(OSError):
            os.unlink(lock.lock_file)
        lock.release(force=True)


def release_all() -> None:
    """Give up every folder this process owns (at exit)."""
    for key in list(_HELD):
        try:
            release_folder(key)
        except OSError:  # the folder is gone: nothing left to unlock
            pass


def owned_folders() -> list[str]:
    """The folders this process owns (for tests and logs)."""
    return sorted(_HELD)
