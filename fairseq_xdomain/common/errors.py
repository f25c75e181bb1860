"""User-facing errors: one line naming the file and what is wrong, never a raw traceback."""
from __future__ import annotations

import functools
import sys

#: fairseq is not an install requirement (its torchaudio requirement would pull a CUDA torch)
FAIRSEQ_MISSING = ("fairseq is not installed: pip install --no-deps ve-fairseq==0.12.3 "
                   "(or -r requirements-fairseq.txt, checked by sha256; README, 'Install')")


class UserError(Exception):
    """A mistake in the user's input or command line. Printed as one line; exit status 2."""


def cli_entry(main):
    """Wrap a console-script ``main`` so that a UserError becomes a one-line message.

    A missing fairseq (not an install requirement, see README "Install") is one line too.
    Anything else is a bug in our code and keeps its traceback.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
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
