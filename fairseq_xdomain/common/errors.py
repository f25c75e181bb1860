"""User-facing errors: one line naming the file and what is wrong, never a raw traceback."""
from __future__ import annotations

import functools
import sys


class UserError(Exception):
    """A mistake in the user's input or command line. Printed as one line; exit status 2."""


def cli_entry(main):
    """Wrap a console-script ``main`` so that a UserError becomes a one-line message.

    Anything else is a bug in our code and keeps its traceback.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    return wrapper
