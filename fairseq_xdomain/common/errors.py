"""User-facing errors: one line naming the file and what is wrong, never a raw traceback."""
from __future__ import annotations

import errno
import functools
import sys

#: fairseq is not an install requirement (its torchaudio requirement would pull a CUDA torch)
FAIRSEQ_MISSING = ("fairseq is not installed: pip install --no-deps ve-fairseq==0.12.3 "
                   "(or -r requirements-fairseq.txt, checked by sha256; README, 'Install')")


class UserError(Exception):
    """A mistake in the user's input or command line. Printed as one line; exit status 2."""


#: failures of the machine or file system, not of our code: one line naming the path, exit 2
MACHINE_ERRNOS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file-size limit, ulimit -f, or the file system's)",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def is_machine_error(err: BaseException) -> bool:
    """Is ``err`` an OSError of :data:`MACHINE_ERRNOS` (disk full, size limit, read-only, ...)?"""
    return isinstance(err, OSError) and err.errno in MACHINE_ERRNOS


def os_error_message(err: OSError, path=None, what: str = "cannot write") -> str:
    """``PATH: WHAT: CAUSE`` for an OSError (``path`` defaults to the error's own file name).

    E.g. ``OUT/a.tok: cannot write: file too large (the file-size limit, ulimit -f, ...)``.
    """
    path = path if path is not None else (err.filename or "output")
    cause = MACHINE_ERRNOS.get(err.errno) or (err.strerror or str(err)).lower()
    return f"{path}: {what}: {cause}"


def cli_entry(main):
    """Wrap a console-script ``main`` so that a UserError becomes a one-line message.

    A missing fairseq (not an install requirement, see README "Install") is one line too, and so
    is an OSError of :data:`MACHINE_ERRNOS` (disk full, file-size limit, read-only folder, output
    path below a file): ``error: PATH: cannot write: CAUSE``, exit 2; atomic writes
    (``common/atomic.py``) have removed their temporary file by then.
    Anything else is a bug in our code and keeps its traceback.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        except OSError as err:
            if not is_machine_error(err):
                raise
            # disk full, file-size limit, read-only folder, output below a file: the machine's
            what = "cannot read or write" if err.errno in (errno.EACCES, errno.EPERM) else "cannot write"
            print(f"error: {os_error_message(err, what=what)}", file=sys.stderr)
            sys.exit(2)
        except ModuleNotFoundError as err:
            if err.name not in ("fairseq", "fairseq_cli"):
                raise
            # fairseq is installed apart from the package (--no-deps, see README "Install")
            print(f"error: {FAIRSEQ_MISSING}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    return wrapper


def check_minimums(checks, note: str = "") -> None:
    """Refuse option values below their minimum before any work: ``checks`` holds
    ``(flag, value, minimum)`` triples; the first violation is a UserError ``FLAG V: must be >= M``
    (plus ``note``, e.g. what 0 means for that flag)."""
    for flag, value, low in checks:
        if value < low:
            raise UserError(f"{flag} {value}: must be >= {low}" + (note if "rank" in flag else ""))


def check_choice(flag: str, value, choices) -> None:
    """Refuse a value outside ``choices`` before any work: ``FLAG 'V': expected one of ...``."""
    if value not in choices:
        raise UserError(f"{flag} {value!r}: expected one of {', '.join(map(str, choices))}")
