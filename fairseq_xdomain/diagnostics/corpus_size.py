"""Corpus sizes against the paper's: lines, running words (tokens) and word types per corpus.

The paper (section 2) trains on 5M lines per corpus (:data:`PAPER_LINES`). Tokens are the
words fastText sees (``common.whitespace.split_tokens`` after ``normalize_line``), so give the
tokenized corpora the run will train on.

Risk cut points (:func:`size_finding`), on the smaller corpus: below 10% of the paper's lines
``high`` (separately trained spaces never aligned on the real en-de corpora of
docs/real-en-de.md, 1-1.3% of the paper's lines), below 50% ``medium`` (nothing was measured
between those sizes and the paper's: a guess), else ``low``.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from ..common.textio import iter_lines
from ..common.whitespace import normalize_line, split_tokens
from .finding import Finding

#: lines per corpus in the paper (section 2: 5M lines of each language and domain)
PAPER_LINES = 5_000_000
HIGH_RISK_SHARE = 0.10
MEDIUM_RISK_SHARE = 0.50


@dataclass
class CorpusSize:
    """``lines``: all lines of the file; ``tokens``/``types``: running words and distinct words
    of the lines read (all, unless ``max_lines`` stopped the count: then ``complete`` is False
    and ``tokens`` is scaled up to all lines); ``counts``: word -> count of the lines read."""

    path: str
    lines: int
    tokens: int
    types: int
    lines_read: int
    complete: bool
    counts: Counter = field(default_factory=Counter, repr=False)

    def to_dict(self) -> dict:
        return {"path": self.path, "lines": self.lines, "tokens": self.tokens,
                "types": self.types, "lines_read": self.lines_read, "complete": self.complete,
                "share_of_paper_lines": self.lines / PAPER_LINES}


def _count_newlines(path) -> int:
    n, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def corpus_size(path, max_lines: int | None = None, on_bad_utf8: str = "skip") -> CorpusSize:
    """Count ``path`` (a text corpus, one sentence per line) in one pass; ``max_lines``: count
    words on the first lines only (lines are always counted in full). Missing or non-text file:
    ``UserError`` (``common.textio``)."""
    counts: Counter = Counter()
    read = 0
    for line in iter_lines(path, on_bad_utf8=on_bad_utf8, what="corpus", hint=""):
        if max_lines is not None and read >= max_lines:
            break
        counts.update(split_tokens(normalize_line(line)))
        read += 1
    complete = max_lines is None or read < max_lines
    lines = read if complete else _count_newlines(path)
    tokens = sum(counts.values())
    if not complete and read:
        tokens = round(tokens * lines / read)
    return CorpusSize(os.fspath(path), lines, tokens, len(counts), read, complete, counts)


def size_finding(sizes: dict[str, CorpusSize], paper_lines: int = PAPER_LINES) -> Finding:
    """One finding for the corpora ``{label: CorpusSize}`` (e.g. ``{"en": ..., "de": ...}``)."""
    smallest = min(sizes, key=lambda k: sizes[k].lines)
    share = sizes[smallest].lines / paper_lines
    risk = ("high" if share < HIGH_RISK_SHARE else "medium" if share < MEDIUM_RISK_SHARE
            else "low")
    parts = ", ".join(f"{k} {s.lines:,} lines / {s.tokens:,} tokens" for k, s in sizes.items())
    meaning = {
        "high": "far below the paper's size, where separately trained spaces did not align in "
                "any of our runs (docs/real-en-de.md); prefer joint training or a seed dictionary",
        "medium": "below the paper's size; nothing was measured at this size",
        "low": "about the paper's size",
    }[risk]
    return Finding(
        "corpus_size",
        {"corpora": {k: s.to_dict() for k, s in sizes.items()}, "paper_lines": paper_lines,
         "smallest_share_of_paper": share},
        f"Corpus sizes {parts}: the smallest is {100 * share:.1f}% of the paper's "
        f"{paper_lines:,} lines, {meaning}.", risk)
