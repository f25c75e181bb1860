"""The one Markdown table renderer of the package (report, STDM, prep manifest, ...).

``table(header, rows, align="lr")`` returns the lines of a GitHub-flavoured Markdown table::

    | a | b |
    |---|---:|
    | x | 1 |

Cells are ``str()``-ed; a ``|`` inside a cell is escaped (``\\|``) and a line break becomes a
space, so a cell never breaks the table; an empty cell renders as ``| |``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

#: separator of a column per alignment letter: l(eft, the default), r(ight), c(enter)
_RULES = {"l": "---", "r": "---:", "c": ":---:"}


def cell(value) -> str:
    """One cell's text: ``str(value)`` with ``|`` escaped and line breaks as spaces."""
    text = str(value)
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def row(cells: Iterable) -> str:
    """One table line ``| a | b |`` (an empty cell is ``| |``)."""
    return "|" + "|".join(f" {c} " if c else " " for c in map(cell, cells)) + "|"


def table(header: Sequence, rows: Iterable[Sequence], align: str = "") -> list[str]:
    """The lines of a Markdown table: header, separator, one line per row.

    ``header``: the column titles (n columns); ``rows``: sequences of n cells each;
    ``align``: one letter per column, ``l`` (default for missing letters), ``r`` or ``c``.
    A row with a different number of cells than the header is a ValueError.
    """
    n = len(header)
    if len(align) > n or set(align) - set(_RULES):
        raise ValueError(f"align {align!r}: at most {n} letters of l, r, c")
    lines = [row(header), "|" + "|".join(_RULES[a] for a in align.ljust(n, "l")) + "|"]
    for cells in rows:
        cells = list(cells)
        if len(cells) != n:
            raise ValueError(f"a table row has {len(cells)} cells, the header {n}: {cells!r}")
        lines.append(row(cells))
    return lines
