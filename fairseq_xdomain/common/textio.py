"""Checked text input: the one reader of user text files.

Every reader of text the user gives us (corpora, dictionaries, word-similarity pairs and gold
files, ``.vec`` files, configs, parallel dev/test sets) goes through this module, so that every
file is decoded the same way:

- a leading UTF-8 byte-order mark (U+FEFF) is dropped, and a line end is ``\\n`` or ``\\r\\n``
  (the ``\\r`` is dropped too): the same content gives the same numbers with or without them;
- a line that is not valid UTF-8 follows the ``on_bad_utf8`` policy (``skip``, ``replace`` with
  U+FFFD, or ``fail``) and is counted in :class:`LineStats`;
- a file that is mostly not text (more than half of its first lines invalid UTF-8, or NUL
  bytes in its first block) is a one-line :class:`UserError` naming the file, whatever the policy;
- parallel files (two sides of a dev/test set) are read in lockstep by
  :func:`iter_parallel_lines`: a pair with a bad line on either side is dropped on both sides
  (``skip``), never shifted.

Missing, empty and directory paths, and pipes/devices (read more than once here, which a pipe
cannot give), are one-line errors too (:func:`require_file`). What happens
to non-ASCII white space (U+00A0 ...) inside tokens is the one policy of
:mod:`fairseq_xdomain.common.whitespace`.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import UserError

BAD_UTF8_POLICIES = ("skip", "replace", "fail")
BOM = "\ufeff"
#: how many leading lines decide whether a file is text at all
SNIFF_LINES = 200
#: the ``hint`` of tools that have no ``--on-bad-utf8`` flag (dictionaries, word-similarity pairs)
FIX_LINE_HINT = "the file must be UTF-8: fix that line"


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a pipe or FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def require_file(path, what: str = "input file") -> None:
    """Raise UserError unless ``path`` is an existing, non-empty regular file.

    A pipe (``/dev/stdin``, ``<(...)``), a device or a socket is refused for what it is: the
    readers check a file before reading it (and parallel files are counted), so they read it
    more than once, which a pipe cannot give.
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(f"{path}: {what} does not exist") from None
    except NotADirectoryError:
        raise UserError(f"{path}: {what} does not exist (a part of the path is a file)") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{path}: {what} is a directory, expected a file")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path}: {what} is not a regular file ({_file_kind(st.st_mode)}); "
                        "save the data to a file first (e.g. cat ... > corpus.txt)")
    if st.st_size == 0:
        raise UserError(f"{path}: {what} is empty")


@dataclass
class LineStats:
    """Counts kept while reading, so nothing is dropped silently.

    ``read``: physical lines read; ``bad_utf8``: lines with invalid UTF-8 (skipped or replaced,
    per the policy); ``bom``: 1 when the file started with a byte-order mark that was dropped;
    ``crlf``: lines that ended in ``\\r\\n``.
    """

    read: int = 0
    bad_utf8: int = 0
    bom: int = 0
    crlf: int = 0


def check_policy(on_bad_utf8: str) -> None:
    if on_bad_utf8 not in BAD_UTF8_POLICIES:
        raise UserError(f"--on-bad-utf8 must be one of {', '.join(BAD_UTF8_POLICIES)}")


#: compressed formats recognised by their first bytes (refused with how to decompress them)
_COMPRESSED = ((b"\x1f\x8b", "gzip", "zcat"), (b"BZh", "bzip2", "bzcat"),
               (b"\xfd7zXZ\x00", "xz", "xzcat"), (b"(\xb5/\xfd", "zstd", "zstdcat"),
               (b"PK\x03\x04", "zip", "unzip -p"))


def check_is_text(path, what: str = "text file") -> None:
    """Raise UserError if ``path`` does not look like UTF-8 text at all.

    A NUL byte in the first 64 KiB, or more than half of the first :data:`SNIFF_LINES` lines
    invalid UTF-8, means a binary or wrongly encoded file (say a ``.bin``, a gzip, a Latin-1
    corpus): no policy for single bad lines makes sense for it.
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    for magic, name, tool in _COMPRESSED:
        if head.startswith(magic) and (name != "bzip2" or head[4:10] == b"1AY&SY"):
            raise UserError(f"{path}: {what} is {name}-compressed, not text; decompress it first "
                            f"({tool} {os.path.basename(path)} > FILE.txt)")
    if b"\x00" in head:
        raise UserError(f"{path}: not a UTF-8 {what} (binary data: NUL bytes near the start)")
    lines = head.split(b"\n")
    if len(head) == 1 << 16 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle of a character
    lines = [ln for ln in lines[:SNIFF_LINES] if ln.strip()]
    if not lines:
        return
    bad = 0
    for raw in lines:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    if bad * 2 > len(lines):
        raise UserError(
            f"{path}: not a UTF-8 {what} ({bad} of its first {len(lines)} lines are not valid "
            "UTF-8; convert it, e.g. iconv -f latin1 -t utf-8)"
        )


def decode_line(raw: bytes, lineno: int, path, on_bad_utf8: str, stats: LineStats,
                hint: str = "use --on-bad-utf8 skip|replace to continue") -> str | None:
    """Decode one raw line (with or without its line end) by the rules of this module.

    Returns the text without BOM (on line 1) and line end, or None when the line is skipped.
    ``hint`` is appended to the ``fail`` error; pass one that names only flags the calling tool
    has (or "" for none).
    """
    stats.read += 1
    if raw.endswith(b"\r\n"):
        stats.crlf += 1
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        stats.bad_utf8 += 1
        if on_bad_utf8 == "fail":
            tail = f"; {hint}" if hint else ""
            raise UserError(
                f"{path}: invalid UTF-8 on line {lineno} (byte {err.start}){tail}"
            ) from None
        if on_bad_utf8 == "skip":
            return None
        line = raw.decode("utf-8", errors="replace")
    if lineno == 1 and line.startswith(BOM):
        stats.bom = 1
        line = line[1:]
    return line.rstrip("\r\n")


def iter_lines(path, on_bad_utf8: str = "skip", stats: LineStats | None = None,
               hint: str = "use --on-bad-utf8 skip|replace to continue",
               what: str = "input file") -> Iterator[str]:
    """Yield the lines of ``path`` without BOM and line end, decoding UTF-8 line by line.

    ``on_bad_utf8``: ``skip`` drops a line with invalid bytes, ``replace`` keeps it with U+FFFD,
    ``fail`` raises a UserError naming the file and line (plus ``hint``). ``stats`` counts lines
    read, bad lines, BOM and CRLF. A file that is mostly not text is a UserError
    (:func:`check_is_text`), as are missing/empty files.
    """
    check_policy(on_bad_utf8)
    require_file(path, what)
    check_is_text(path, what)
    stats = stats if stats is not None else LineStats()
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, 1):
            line = decode_line(raw, lineno, path, on_bad_utf8, stats, hint)
            if line is not None:
                yield line


def read_text(path, what: str = "text file") -> str:
    """The whole of a small text file (a config), BOM and CR dropped; bad UTF-8 is an error."""
    return "".join(line + "\n" for line in iter_lines(path, on_bad_utf8="fail", hint="", what=what))


@dataclass
class ParallelStats:
    """Counts of a lockstep read: pairs read, pairs dropped because a side had bad UTF-8."""

    pairs: int = 0
    dropped_bad_utf8: int = 0
    replaced_bad_utf8: int = 0


def iter_parallel_lines(paths, on_bad_utf8: str = "skip", stats: ParallelStats | None = None,
                        hint: str = "use --on-bad-utf8 skip|replace to continue",
                        what: str = "parallel input file") -> Iterator[tuple[str, ...]]:
    """Yield tuples of aligned lines from parallel files (e.g. ``valid.en``, ``valid.fr``).

    Lines are read in lockstep. A pair where any side has invalid UTF-8 is dropped on every side
    (``skip``, counted in ``stats.dropped_bad_utf8``), kept with U+FFFD (``replace``), or an error
    (``fail``). Files with different line counts are a UserError naming both files and counts.
    """
    check_policy(on_bad_utf8)
    paths = [os.fspath(p) for p in paths]
    for p in paths:
        require_file(p, what)
        check_is_text(p, what)
    stats = stats if stats is not None else ParallelStats()
    per_file = [LineStats() for _ in paths]
    handles = [open(p, "rb") for p in paths]  # noqa: SIM115 (closed below)
    try:
        lineno = 0
        while True:
            raws = [h.readline() for h in handles]
            ended = [r == b"" for r in raws]
            if all(ended):
                return
            lineno += 1
            if any(ended):
                counts = [_count_lines(p) for p in paths]
                desc = ", ".join(f"{p} has {n}" for p, n in zip(paths, counts))
                raise UserError(f"{paths[0]}: parallel files differ in length ({desc} lines)")
            policy = "replace" if on_bad_utf8 == "skip" else on_bad_utf8
            lines = []
            bad = False
            for p, raw, st in zip(paths, raws, per_file):
                before = st.bad_utf8
                lines.append(decode_line(raw, lineno, p, policy, st, hint))
                bad = bad or st.bad_utf8 > before
            stats.pairs += 1
            if bad:
                if on_bad_utf8 == "skip":
                    stats.dropped_bad_utf8 += 1
                    continue
                stats.replaced_bad_utf8 += 1
            yield tuple(lines)
    finally:
        for h in handles:
            h.close()


def _count_lines(path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)
