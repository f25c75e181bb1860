"""Russian lemmatization with pymorphy3 (the paper lemmatizes all Russian UBLI data).

Input is tokenized text (tokens separated by spaces). Every token that contains a Cyrillic letter
is replaced by the normal form (lemma) of pymorphy3's first (most probable) parse, which is
lowercase; every other token (Latin words, numbers, punctuation) is kept unchanged. Lemmas are
cached per token type, so a repeated word costs one dict lookup.
"""
from __future__ import annotations

import logging
import re

from fairseq_xdomain.common.atomic import atomic_open
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.progress import progress
from fairseq_xdomain.common.textio import LineStats, iter_lines, require_file

logger = logging.getLogger("xdomain-prep.lemmatize")

SUPPORTED_LEMMA_LANGS = ("ru",)
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_ANALYZERS: dict = {}  # one pymorphy3 analyzer per language and process (loading takes ~0.2 s)


def _analyzer(lang: str):
    if lang not in _ANALYZERS:
        import pymorphy3

        _ANALYZERS[lang] = pymorphy3.MorphAnalyzer(lang=lang)
    return _ANALYZERS[lang]


class Lemmatizer:
    """Token -> lemma with a per-type cache (``cache_hits``/``cache_misses`` are counted)."""

    def __init__(self, lang: str = "ru"):
        if lang not in SUPPORTED_LEMMA_LANGS:
            raise UserError(
                f"unknown lemmatizer language '{lang}' (supported: {', '.join(SUPPORTED_LEMMA_LANGS)})"
            )
        self.morph = _analyzer(lang)
        self.cache: dict[str, str] = {}
        self.cache_misses = 0

    def lemma(self, token: str) -> str:
        lemma = self.cache.get(token)
        if lemma is None:
            self.cache_misses += 1
            if _CYRILLIC.search(token):
                parses = self.morph.parse(token)
                lemma = parses[0].normal_form if parses else token
            else:
                lemma = token
            self.cache[token] = lemma
        return lemma

    def line(self, line: str) -> str:
        return " ".join([self.lemma(tok) for tok in line.split()])


def lemmatize_file(input_path, output_path, lang: str = "ru", on_bad_utf8: str = "skip") -> dict:
    """Lemmatize a tokenized file into ``output_path`` (atomically); return counts."""
    require_file(input_path)
    try:
        lem = Lemmatizer(lang)
    except UserError as err:
        raise UserError(f"{input_path}: {err}") from None
    stats = LineStats()
    tokens = 0
    written = 0
    with atomic_open(output_path) as out:
        for line in progress(iter_lines(input_path, on_bad_utf8=on_bad_utf8, stats=stats),
                             desc=f"lemmatize {input_path}"):
            out.write(lem.line(line))
            out.write("\n")
            tokens += len(line.split())
            written += 1
    if stats.bad_utf8:
        verb = "replaced invalid bytes in" if on_bad_utf8 == "replace" else "skipped"
        logger.warning("%s: %s %d line(s) with invalid UTF-8", input_path, verb, stats.bad_utf8)
    logger.info("%s: %d lines, %d tokens, %d word types lemmatized -> %s", input_path, written,
                tokens, lem.cache_misses, output_path)
    return {"read": stats.read, "bad_utf8": stats.bad_utf8, "written": written, "tokens": tokens,
            "types": lem.cache_misses}
