"""Moses punctuation normalisation + tokenization (sacremoses), on all cores, order preserved.

Each line goes through ``MosesPunctNormalizer(lang).normalize`` then
``MosesTokenizer(lang).tokenize(escape=False)`` (``&``, ``<``, ``'`` ... stay readable instead of
becoming ``&amp;`` ...; ``--escape`` restores the Moses default) and optionally ``str.lower``.

Input is read by ``fairseq_xdomain.common.textio`` (a leading BOM and the CR of CRLF dropped,
invalid UTF-8 per ``--on-bad-utf8``, counted) and, before tokenization, every non-ASCII white-space
character (U+00A0, U+202F, ...) becomes an ASCII space and a stray U+FEFF is dropped, counted and
logged: one policy with fastText training and ``.vec`` files (``common/whitespace.py``).

A language is *supported* when sacremoses has a Moses nonbreaking-prefix list for it (the
prefixes decide where a period ends a sentence or an abbreviation). sacremoses itself silently
falls back to English for any other code; we refuse it instead (``SUPPORTED_LANGS``).

``workers == 1`` runs in this process with no pool at all. ``workers > 1`` forks a pool whose
workers build their tokenizer once and tokenize chunks of ``chunk_size`` lines; at most
``4 * workers`` chunks are in flight, so memory stays bounded and output keeps the input order.
"""
from __future__ import annotations

import collections
import itertools
import logging
import multiprocessing
import os
from collections.abc import Iterable, Iterator

from fairseq_xdomain.common.atomic import atomic_open
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.progress import progress
from fairseq_xdomain.common.textio import LineStats, iter_lines, require_file
from fairseq_xdomain.common.whitespace import SpaceStats, normalize_line

logger = logging.getLogger("xdomain-prep.tokenize")

DEFAULT_CHUNK = 2000


def supported_langs() -> list[str]:
    """Language codes with a Moses nonbreaking-prefix list in sacremoses."""
    from sacremoses.corpus import NonbreakingPrefixes

    return sorted(set(NonbreakingPrefixes().available_langs.values()))


def check_lang(lang: str, path=None) -> None:
    """Raise a one-line UserError for a language sacremoses has no rules for."""
    supported = supported_langs()
    if lang not in supported:
        where = f"{path}: " if path is not None else ""
        raise UserError(
            f"{where}unknown tokenizer language '{lang}' "
            f"(supported Moses languages: {', '.join(supported)})"
        )


def default_workers() -> int:
    """All CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LineTokenizer:
    """normalize -> tokenize -> (lowercase) for one line; build once, call many times."""

    def __init__(self, lang: str, lowercase: bool = False, escape: bool = False,
                 aggressive_dash_splits: bool = False):
        from sacremoses import MosesPunctNormalizer, MosesTokenizer

        self.normalizer = MosesPunctNormalizer(lang=lang)
        self.tokenizer = MosesTokenizer(lang=lang)
        self.lowercase = lowercase
        self.escape = escape
        self.aggressive_dash_splits = aggressive_dash_splits

    def __call__(self, line: str) -> str:
        text = self.tokenizer.tokenize(
            self.normalizer.normalize(line), escape=self.escape, return_str=True,
            aggressive_dash_splits=self.aggressive_dash_splits,
        )
        return text.lower() if self.lowercase else text

    def chunk(self, lines: list[str]) -> str:
        """Tokenize a list of lines into one newline-terminated block of text."""
        return "".join([self(line) + "\n" for line in lines])


_WORKER: LineTokenizer | None = None


def _init_worker(kwargs: dict) -> None:
    global _WORKER
    _WORKER = LineTokenizer(**kwargs)


def _work(lines: list[str]) -> str:
    return _WORKER.chunk(lines)


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def tokenize_blocks(lines: Iterable[str], lang: str, lowercase: bool = False, workers: int = 1,
                    escape: bool = False, chunk_size: int = DEFAULT_CHUNK) -> Iterator[str]:
    """Yield blocks of tokenized, newline-terminated text, in input order."""
    kwargs = dict(lang=lang, lowercase=lowercase, escape=escape)
    if workers <= 1:
        tok = LineTokenizer(**kwargs)
        for chunk in _chunks(lines, chunk_size):
            yield tok.chunk(chunk)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(workers, initializer=_init_worker, initargs=(kwargs,)) as pool:
        pending: collections.deque = collections.deque()
        for chunk in _chunks(lines, chunk_size):
            pending.append(pool.apply_async(_work, (chunk,)))
            if len(pending) >= 4 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def tokenize_file(input_path, output_path, lang: str, lowercase: bool = False,
                  workers: int | None = None, escape: bool = False,
                  on_bad_utf8: str = "skip", chunk_size: int = DEFAULT_CHUNK,
                  hint: str = "use --on-bad-utf8 skip|replace to continue") -> dict:
    """Tokenize ``input_path`` into ``output_path`` (atomically); return counts.

    ``hint`` ends the error of ``on_bad_utf8="fail"``: name only flags the caller has.
    """
    require_file(input_path)
    check_lang(lang, input_path)
    workers = default_workers() if not workers or workers < 1 else workers
    stats = LineStats()
    spaces = SpaceStats()
    lines = (normalize_line(line, spaces) for line in
             iter_lines(input_path, on_bad_utf8=on_bad_utf8, stats=stats, hint=hint))
    written = 0
    logger.info("%s: tokenizing (%s, lowercase=%s, %d worker(s))", input_path, lang, lowercase,
                workers)
    blocks = tokenize_blocks(lines, lang, lowercase=lowercase, workers=workers, escape=escape,
                             chunk_size=chunk_size)
    try:
        with atomic_open(output_path) as out:
            first = next(blocks, None)  # the pool is forked before tqdm may start its thread
            with progress(desc=f"tokenize {input_path}") as bar:
                has_token = False
                for block in itertools.chain([first] if first is not None else [], blocks):
                    out.write(block)
                    count = block.count("\n")
                    written += count
                    has_token = has_token or bool(block.strip())
                    bar.update(count)
            if not has_token:  # refused at the first step that sees it (no output left)
                raise UserError(f"{input_path}: no token in its {written} readable line(s) "
                                "(every line is empty or blank)")
    finally:
        blocks.close()  # stops the worker pool, also on errors
    if stats.bad_utf8:
        verb = "replaced invalid bytes in" if on_bad_utf8 == "replace" else "skipped"
        logger.warning("%s: %s %d line(s) with invalid UTF-8", input_path, verb, stats.bad_utf8)
    if spaces.describe():
        logger.info("%s: %s", input_path, spaces.describe())
    logger.info("%s: %d lines tokenized -> %s", input_path, written, output_path)
    return {"read": stats.read, "bad_utf8": stats.bad_utf8, "written": written,
            "unicode_spaces": spaces.unicode_spaces, "stray_bom": spaces.stray_bom,
            "lang": lang, "lowercase": lowercase, "workers": workers}
