"""Read and write word vectors: the fastText/word2vec text format (``N D`` header) and fastText ``.bin``.

``load_vec(path, max_vocab=None)`` returns a :class:`WordVectors` with ``words`` (file order,
i.e. frequency order), ``vectors`` (float32 ``[n, d]``) and ``word2id``. The text parse is
vectorised (one ``split`` over the whole block of rows, one ``np.array`` conversion), so 200k x 300
vectors load in seconds. Bad input raises a one-line :class:`UserError` naming the file: header
disagreeing with the rows, rows of the wrong dimension, NaN/inf values, a word the format cannot
hold (``ra de``), a file that is not text (a ``.bin`` named ``.vec``). Duplicate words keep their
first occurrence; the count of dropped duplicates is in ``n_duplicates`` and logged.

This is the one reader of ``.vec`` files (``xdomain-ubli``, the grid, the ``muse_ubli`` task,
``xdomain-wordsim``, ``--reload-emb``): a leading BOM and CRLF line ends give the same vectors as
the plain file. Words with non-ASCII white space (U+00A0 ...) are read and written verbatim:
the policy is in :mod:`fairseq_xdomain.common.whitespace`.
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..common.atomic import atomic_open
from ..common.errors import UserError
from ..common.textio import check_is_text, require_file
from ..common.whitespace import ASCII_SPACES, bad_vec_word, has_unicode_space

logger = logging.getLogger(__name__)

_BOM_BYTES = b"\xef\xbb\xbf"
_ASCII_SPACE_RE = re.compile(f"[{re.escape(ASCII_SPACES)}]")


@dataclass
class WordVectors:
    """Words in file (frequency) order, their float32 vectors and the word -> row index map."""

    words: list
    vectors: np.ndarray
    word2id: dict = field(default_factory=dict)
    path: str = ""
    n_duplicates: int = 0
    n_bad_utf8: int = 0
    n_unicode_space_words: int = 0

    def __post_init__(self):
        if not self.word2id:
            self.word2id = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def _dedup(path, words, vectors):
    """Keep the first row of every word; return (words, vectors, word2id, n_dropped)."""
    word2id = {}
    keep = []
    for i, w in enumerate(words):
        if w not in word2id:
            word2id[w] = len(keep)
            keep.append(i)
    n_dup = len(words) - len(keep)
    if n_dup:
        logger.warning("%s: %d duplicate words, kept the first occurrence of each", path, n_dup)
        words = [words[i] for i in keep]
        vectors = vectors[np.asarray(keep)]
    return words, vectors, word2id, n_dup


def _check_finite(path, words, vectors, first_line: int):
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise UserError(
            f"{path}: {int(bad.sum())} vectors contain NaN or inf (first: {words[i]!r} on line "
            f"{i + first_line})"
        )


def load_vec(path, max_vocab: int | None = None) -> WordVectors:
    """Load a ``.vec`` text file (or a fastText ``.bin``, by extension), first ``max_vocab`` rows.

    Text rules (``common/textio.py``, ``common/whitespace.py``): a leading byte-order mark and
    CR line ends are ignored; a file that is mostly not text is a one-line error; a row whose
    word has invalid UTF-8 keeps its vector, the bad bytes replaced by U+FFFD (counted, logged);
    words with non-ASCII white space inside are kept verbatim (counted, logged); a word that the
    format cannot hold (empty, or with ASCII white space inside such as ``ra de``) is an error
    here, so that writing the vectors back later cannot fail. The header's word count must
    equal the number of rows in the file whatever ``max_vocab`` (a truncated or concatenated
    file is an error, never read short).
    """
    path = os.fspath(path)
    if path.endswith(".bin"):
        return load_bin(path, max_vocab)
    require_file(path, "embedding file")
    check_is_text(path, "embedding file")
    if max_vocab is not None and max_vocab <= 0:
        raise UserError(f"{path}: --max-vocab must be positive, got {max_vocab}")
    with open(path, "rb") as handle:
        header = handle.readline()
        if header.startswith(_BOM_BYTES):
            header = header[len(_BOM_BYTES):]
        try:
            n_header, dim = (int(x) for x in header.split())
        except ValueError:
            raise UserError(
                f"{path}: first line must be the header 'N D' (word count, dimension), got "
                f"{header[:60].decode('utf-8', 'replace').strip()!r}"
            ) from None
        if dim <= 0 or n_header < 0:
            raise UserError(f"{path}: bad header '{n_header} {dim}'")
        n_want = n_header if max_vocab is None else min(max_vocab, n_header)
        raw_lines = []
        for _ in range(n_want):
            line = handle.readline()
            if not line:
                break
            raw_lines.append(line)
        # the header is checked against the whole file whatever max_vocab: the rows past
        # max_vocab are counted (not parsed)
        n_rows = len(raw_lines) + sum(1 for line in handle if line.strip())
    if n_rows != n_header:
        raise UserError(f"{path}: header says {n_header} words but the file has {n_rows} rows")
    lines, n_bad_utf8 = _decode_rows(path, raw_lines)
    # One split per row (the word is the first field; fastText writes a trailing space, and a
    # CRLF file a CR), then numpy's C text parser over the numeric parts of all rows at once.
    split_rows = [line.rstrip().split(" ", 1) for line in lines]
    words = [r[0] for r in split_rows]
    rests = [r[1] if len(r) == 2 else "" for r in split_rows]
    try:
        with warnings.catch_warnings():  # rows without values: the shape check below says so
            warnings.simplefilter("ignore", UserWarning)
            vectors = (np.loadtxt(rests, dtype=np.float32, delimiter=" ", ndmin=2, comments=None)
                       if rests else np.zeros((0, dim), dtype=np.float32))
    except ValueError:
        vectors = None
    if vectors is None or vectors.shape != (len(rests), dim):
        _raise_row_error(path, words, rests, dim)
    _check_words(path, words)
    wv = _finish(path, words, vectors)
    wv.n_bad_utf8 = n_bad_utf8
    wv.n_unicode_space_words = _count_unicode_space_words(path, wv.words)
    return wv


def _decode_rows(path, raw_lines):
    """Decode the rows at once (fast path), or row by row with U+FFFD for invalid UTF-8."""
    try:
        return b"".join(raw_lines).decode("utf-8").split("\n")[: len(raw_lines)], 0
    except UnicodeDecodeError:
        pass
    lines, bad = [], []
    for i, raw in enumerate(raw_lines):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("utf-8", errors="replace"))
            bad.append(i + 2)
    logger.warning("%s: %d rows have invalid UTF-8 (first on line %d): the bad bytes of their words "
                   "are replaced by U+FFFD, their vectors kept", path, len(bad), bad[0])
    return lines, len(bad)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _raise_row_error(path, words, rests, dim):
    """The one-line error for the first row that does not parse as WORD + ``dim`` numbers."""
    for i, rest in enumerate(rests):
        values = rest.split(" ") if rest else []
        if len(values) > dim and not all(_is_number(v) for v in values[: len(values) - dim]):
            word = " ".join([words[i], *values[: len(values) - dim]])
            raise UserError(
                f"{path}: line {i + 2}: the word {word!r} contains a space, which a .vec row cannot "
                "hold (the word ends at the first space); remove or rename that row"
            )
        if len(values) != dim:
            raise UserError(
                f"{path}: line {i + 2} has {len(values)} values, expected {dim} (from the header)"
            )
        if not all(_is_number(v) for v in values):
            raise UserError(f"{path}: line {i + 2} has a value that is not a number")
    raise UserError(f"{path}: could not parse the vectors")


def _check_words(path, words):
    """Refuse, at read time, a word that ``save_vec`` could not write back (see whitespace.py)."""
    if all(words) and not _ASCII_SPACE_RE.search("".join(words)):
        return  # the fast path: one regex over all words
    for i, word in enumerate(words):
        why = bad_vec_word(word)
        if why:
            raise UserError(f"{path}: line {i + 2}: the word {word!r} {why}, which a .vec row "
                            "cannot hold; remove or rename that row")


def _count_unicode_space_words(path, words) -> int:
    """Count (and log) the words with non-ASCII white space inside, kept verbatim."""
    if not has_unicode_space("".join(words)):
        return 0
    found = [w for w in words if has_unicode_space(w)]
    logger.info("%s: %d words contain non-ASCII white space (e.g. %r), kept verbatim", path,
                len(found), found[0])
    return len(found)


def _finish(path, words, vectors) -> WordVectors:
    _check_finite(path, words, vectors, first_line=2)
    words, vectors, word2id, n_dup = _dedup(path, words, vectors)
    return WordVectors(words=words, vectors=np.ascontiguousarray(vectors, dtype=np.float32),
                       word2id=word2id, path=path, n_duplicates=n_dup)


def save_vec(path, words, vectors) -> None:
    """Write ``words``/``vectors`` in the ``.vec`` text format, atomically (6 significant digits).

    Words are written verbatim, non-ASCII white space included (lossless for ``load_vec``); an
    empty word or one with ASCII white space inside is a UserError (``load_vec`` and fastText
    training never produce one, see ``common/whitespace.py``)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(words) != vectors.shape[0]:
        raise ValueError(f"{len(words)} words but vectors of shape {vectors.shape}")
    bad = [w for w in words if bad_vec_word(w)] if not all(words) or _ASCII_SPACE_RE.search(
        "".join(words)) else []
    if bad:
        raise UserError(f"{path}: {len(bad)} words cannot be written to a .vec (first: {bad[0]!r} "
                        f"{bad_vec_word(bad[0])})")
    n, d = vectors.shape
    with atomic_open(path, "w") as handle:
        handle.write(f"{n} {d}\n")
        fmt = " ".join(["%.6g"] * d)
        for word, row in zip(words, vectors.tolist()):
            handle.write(f"{word} {fmt % tuple(row)}\n")


def load_bin(path, max_vocab: int | None = None) -> WordVectors:
    """Load the vocabulary (frequency order, without ``</s>``) and word vectors of a fastText ``.bin``."""
    require_file(path, "fastText model")
    import fasttext

    try:
        model = fasttext.load_model(os.fspath(path))
    except ValueError as err:
        raise UserError(f"{path}: not a fastText .bin model ({err})") from None
    words, _ = model.get_words(include_freq=True)
    words = [w for w in words if w != "</s>"]  # fastText's end-of-line token is not a word
    if max_vocab is not None:
        words = words[:max_vocab]
    vectors = np.stack([model.get_word_vector(w) for w in words]).astype(np.float32)
    return _finish(os.fspath(path), words, vectors)
