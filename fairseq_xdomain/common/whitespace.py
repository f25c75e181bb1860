"""White space inside tokens: the one policy, from tokenization to ``.vec`` files.

Python's ``str.split()`` splits on every Unicode white-space character (U+00A0 NO-BREAK SPACE,
U+202F, U+2007, U+2009, U+3000, U+0085, U+2028, ...), while fastText and the ``.vec`` format
split on ASCII white space only. Left alone, a word like ``new<U+00A0>york`` is one word for
fastText and two for Python, so tools disagree about it. The policy:

1. **Text that becomes tokens** (raw corpora tokenized by ``xdomain-prep tokenize``, corpora
   given to fastText by ``xdomain-embed train|joint|binarized``, corpora counted for the test
   dictionary): every non-ASCII white-space character (:data:`UNICODE_SPACES`) is a *token
   separator*. It is replaced by an ASCII space before any other work, and a stray byte-order
   mark (U+FEFF inside the text, e.g. from concatenated files) is dropped; both are counted
   (:class:`SpaceStats`) and logged. So no word learnt by fastText or written to a ``.vec`` by
   us contains white space, and :func:`split_tokens` gives the words fastText sees.
2. **Word vector files** (``.vec``): a row is ``WORD v1 ... vD``, the word ending at the first
   ASCII space. A word may contain non-ASCII white space (fastText's own ``wiki.*.vec`` files
   have ``<U+00A0>`` as a word): it is read verbatim, counted in the log, and written back
   verbatim by ``save_vec``, so a read/map/write round trip is lossless. A word that the
   format cannot hold (empty, or with ASCII white space inside, e.g. ``ra de``) is a one-line
   error naming the file and line *when the file is read*, before any expensive work; it can
   never fail later at export.
3. **Word lists matched against vectors** (MUSE dictionaries, word-similarity pairs): words are
   looked up verbatim, so ``new<U+00A0>york`` in a dictionary finds the ``.vec`` row
   ``new<U+00A0>york``. Dictionary columns are separated by ASCII white space
   (:func:`split_fields`); a line that only has two columns when non-ASCII white space separates
   too is read that way (as MUSE does) and counted. Word-similarity terms not found verbatim or
   lower-cased are looked up as multi-word terms split on any white space.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: the separators of fastText's reader (C ``isspace`` plus NUL) and of the ``.vec`` format
ASCII_SPACES = " \t\n\v\f\r\x00"
#: every character ``str.isspace()`` accepts that fastText does not split on (Python 3.11)
UNICODE_SPACES = ("\x1c\x1d\x1e\x1f\x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200b))
                  + "\u2028\u2029\u202f\u205f\u3000")
BOM = "\ufeff"

_UNICODE_SPACE_RE = re.compile(f"[{re.escape(UNICODE_SPACES)}]")
_ASCII_SPLIT_RE = re.compile(f"[{re.escape(ASCII_SPACES)}]+")


@dataclass
class SpaceStats:
    """What :func:`normalize_line` changed: non-ASCII spaces made separators, stray BOMs dropped,
    and the lines that had either."""

    unicode_spaces: int = 0
    stray_bom: int = 0
    lines: int = 0

    def describe(self) -> str:
        """One log phrase, or "" when nothing was changed."""
        if not (self.unicode_spaces or self.stray_bom):
            return ""
        parts = []
        if self.unicode_spaces:
            parts.append(f"{self.unicode_spaces} non-ASCII white-space character(s) (e.g. U+00A0) "
                         "treated as token separators")
        if self.stray_bom:
            parts.append(f"{self.stray_bom} stray byte-order mark(s) U+FEFF dropped")
        return f"{' and '.join(parts)} on {self.lines} line(s)"


def normalize_line(line: str, stats: SpaceStats | None = None) -> str:
    """``line`` with every non-ASCII white-space character replaced by an ASCII space and every
    U+FEFF removed (policy 1 of the module docstring); counts go to ``stats``."""
    out, n_space = _UNICODE_SPACE_RE.subn(" ", line)
    n_bom = 0 if out.isascii() else out.count(BOM)
    if n_bom:
        out = out.replace(BOM, "")
    if stats is not None and (n_space or n_bom):
        stats.unicode_spaces += n_space
        stats.stray_bom += n_bom
        stats.lines += 1
    return out


def split_tokens(line: str) -> list[str]:
    """The tokens of a line of text under policy 1: what fastText sees after normalisation."""
    return split_fields(normalize_line(line))


def split_fields(line: str) -> list[str]:
    """Fields of a line separated by ASCII white space only (non-ASCII white space stays inside)."""
    return [f for f in _ASCII_SPLIT_RE.split(line) if f]


def has_unicode_space(word: str) -> bool:
    """True when ``word`` contains a non-ASCII white-space character."""
    return _UNICODE_SPACE_RE.search(word) is not None


def bad_vec_word(word: str) -> str:
    """Why ``word`` cannot be a ``.vec`` word ("" if it can): empty, or ASCII white space inside."""
    if not word:
        return "is empty"
    for ch in word:
        if ch in ASCII_SPACES:
            name = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a carriage return",
                    "\v": "a vertical tab", "\f": "a form feed", "\x00": "a NUL"}[ch]
            return f"contains {name}"
    return ""
