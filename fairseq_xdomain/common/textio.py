"""Checked text input: missing/empty files and invalid UTF-8 become clear one-line errors."""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import UserError

BAD_UTF8_POLICIES = ("skip", "replace", "fail")


def require_file(path, what: str = "input file") -> None:
    """Raise UserError unless ``path`` is an existing, non-empty regular file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserError(f"{path}: {what} does not exist")
    if os.path.isdir(path):
        raise UserError(f"{path}: {what} is a directory, expected a file")
    if os.path.getsize(path) == 0:
        raise UserError(f"{path}: {what} is empty")


@dataclass
class LineStats:
    """Counts kept while reading, so nothing is dropped silently."""

    read: int = 0
    bad_utf8: int = 0


def iter_lines(path, on_bad_utf8: str = "skip", stats: LineStats | None = None) -> Iterator[str]:
    """Yield the lines of ``path`` without their newline, decoding UTF-8 line by line.

    ``on_bad_utf8``: ``skip`` drops a line with invalid bytes, ``replace`` keeps it with U+FFFD,
    ``fail`` raises a UserError naming the file and line. ``stats`` counts both.
    """
    if on_bad_utf8 not in BAD_UTF8_POLICIES:
        raise UserError(f"--on-bad-utf8 must be one of {', '.join(BAD_UTF8_POLICIES)}")
    require_file(path)
    stats = stats if stats is not None else LineStats()
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, 1):
            stats.read += 1
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                stats.bad_utf8 += 1
                if on_bad_utf8 == "fail":
                    raise UserError(
                        f"{path}: invalid UTF-8 on line {lineno} (byte {err.start}); "
                        "use --on-bad-utf8 skip|replace to continue"
                    ) from None
                if on_bad_utf8 == "skip":
                    continue
                line = raw.decode("utf-8", errors="replace")
            yield line.rstrip("\r\n")
