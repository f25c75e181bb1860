"""Read and write word vectors: the fastText/word2vec text format (``N D`` header) and fastText ``.bin``.

``load_vec(path, max_vocab=None)`` returns a :class:`WordVectors` with ``words`` (file order,
i.e. frequency order), ``vectors`` (float32 ``[n, d]``) and ``word2id``. The text parse is
vectorised (one ``split`` over the whole block of rows, one ``np.array`` conversion), so 200k x 300
vectors load in seconds. Bad input raises a one-line :class:`UserError` naming the file: header
disagreeing with the rows, rows of the wrong dimension, NaN/inf values. Duplicate words keep their
first occurrence; the count of dropped duplicates is in ``n_duplicates`` and logged.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from ..common.atomic import atomic_open
from ..common.errors import UserError
from ..common.textio import require_file

logger = logging.getLogger(__name__)


@dataclass
class WordVectors:
    """Words in file (frequency) order, their float32 vectors and the word -> row index map."""

    words: list
    vectors: np.ndarray
    word2id: dict = field(default_factory=dict)
    path: str = ""
    n_duplicates: int = 0

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
    """Load a ``.vec`` text file (or a fastText ``.bin``, by extension), first ``max_vocab`` rows."""
    path = os.fspath(path)
    if path.endswith(".bin"):
        return load_bin(path, max_vocab)
    require_file(path, "embedding file")
    if max_vocab is not None and max_vocab <= 0:
        raise UserError(f"{path}: --max-vocab must be positive, got {max_vocab}")
    with open(path, "rb") as handle:
        header = handle.readline()
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
        rest_nonempty = handle.readline().strip() != b"" if max_vocab is None else False
    if len(raw_lines) < n_want:
        raise UserError(f"{path}: header says {n_header} words but the file has {len(raw_lines)} rows")
    if rest_nonempty:
        raise UserError(f"{path}: header says {n_header} words but the file has more rows")
    try:
        lines = b"".join(raw_lines).decode("utf-8").split("\n")[: len(raw_lines)]
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: invalid UTF-8 ({err.reason} at byte {err.start} of the vectors)") from None
    # One split per row (the word is the first field; fastText writes a trailing space), then
    # numpy's C text parser over the numeric parts of all rows at once.
    split_rows = [line.rstrip().split(" ", 1) for line in lines]
    words = [r[0] for r in split_rows]
    rests = [r[1] if len(r) == 2 else "" for r in split_rows]
    try:
        vectors = np.loadtxt(rests, dtype=np.float32, delimiter=" ", ndmin=2, comments=None)
    except ValueError:
        vectors = None
    if vectors is None or vectors.shape != (len(rests), dim):
        for i, rest in enumerate(rests):
            values = rest.split(" ") if rest else []
            if len(values) != dim:
                raise UserError(
                    f"{path}: line {i + 2} has {len(values)} values, expected {dim} (from the header)"
                )
            try:
                np.array(values, dtype=np.float32)
            except ValueError:
                raise UserError(f"{path}: line {i + 2} has a value that is not a number") from None
        raise UserError(f"{path}: could not parse the vectors")
    return _finish(path, words, vectors)


def _finish(path, words, vectors) -> WordVectors:
    _check_finite(path, words, vectors, first_line=2)
    words, vectors, word2id, n_dup = _dedup(path, words, vectors)
    return WordVectors(words=words, vectors=np.ascontiguousarray(vectors, dtype=np.float32),
                       word2id=word2id, path=path, n_duplicates=n_dup)


def save_vec(path, words, vectors) -> None:
    """Write ``words``/``vectors`` in the ``.vec`` text format, atomically (6 significant digits)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(words) != vectors.shape[0]:
        raise ValueError(f"{len(words)} words but vectors of shape {vectors.shape}")
    bad = [w for w in words if not w or any(c.isspace() for c in w)]
    if bad:
        raise UserError(f"{path}: {len(bad)} words are empty or contain whitespace (first: {bad[0]!r})")
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
