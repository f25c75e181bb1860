"""Case of embedding words: MUSE's lowercasing at load, and coverage lost only to case.

MUSE lowercases every embedding word when it reads a ``.vec`` (its ``--emb_lowercase`` default)
and its dictionaries are lowercase, so a cased file (fastText's Common Crawl vectors: ``Paris``,
``paris``) against a MUSE dictionary misses every capitalised word. :func:`lowercase_vectors`
does what MUSE does, with its collision rule: the words are in file (frequency) order, and of
the words that become the same (``The``, ``the``, ``THE``) the first, most frequent, keeps its
vector; the others are dropped and counted. :func:`case_only_misses` counts the dictionary
entries that a vocabulary misses only because of case, for the warning the tools print when
``--lowercase`` is not given.
"""
from __future__ import annotations

import logging

from .vecio import WordVectors

logger = logging.getLogger(__name__)


def lowercase_vectors(wv: WordVectors) -> tuple[WordVectors, int]:
    """``wv`` with every word lowercased (``str.lower``); of colliding words the first in file
    order keeps its row. Returns (the new vectors, the number of rows dropped); logs the count."""
    word2id: dict[str, int] = {}
    keep: list[int] = []
    for i, w in enumerate(wv.words):
        low = w.lower()
        if low not in word2id:
            word2id[low] = len(keep)
            keep.append(i)
    dropped = len(wv.words) - len(keep)
    if dropped:
        logger.info("%s: lowercased %d words; %d words that became equal to a more frequent "
                    "one were dropped (the first, most frequent, keeps its vector)",
                    wv.path or "vectors", len(wv.words), dropped)
    out = WordVectors(list(word2id), wv.vectors[keep], word2id, path=wv.path,
                      n_duplicates=wv.n_duplicates, n_bad_utf8=wv.n_bad_utf8,
                      n_unicode_space_words=wv.n_unicode_space_words)
    return out, dropped


def case_only_misses(words, word2id: dict) -> int:
    """How many of ``words`` are missing from ``word2id`` but present in it once both sides are
    lowercased (the coverage that ``--lowercase`` would recover)."""
    lowered = None
    n = 0
    for w in words:
        if w in word2id:
            continue
        if lowered is None:
            lowered = {k.lower() for k in word2id}
        if w.lower() in lowered:
            n += 1
    return n


__all__ = ["lowercase_vectors", "case_only_misses"]
