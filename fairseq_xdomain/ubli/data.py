"""Loading an embedding pair for alignment: checks, MUSE's optional normalisation, size clamping."""
from __future__ import annotations

import logging
import os

import torch

from ..common.errors import UserError
from ..embeddings.case import lowercase_vectors
from ..embeddings.vecio import load_vec

logger = logging.getLogger(__name__)

#: words read from each ``.vec`` (MUSE's default ``--max_vocab``); the one declaration of it
MAX_VOCAB = 200000
MAX_VOCAB_HELP = "words read from each .vec (most frequent first)"


def add_max_vocab_argument(parser) -> None:
    """``--max-vocab`` (default :data:`MAX_VOCAB`), shared by every ``xdomain-ubli`` command."""
    parser.add_argument("--max-vocab", "--max_vocab", type=int, default=MAX_VOCAB,
                        help=f"{MAX_VOCAB_HELP} (default {MAX_VOCAB})")


LOWERCASE_HELP = ("lowercase the embedding words as MUSE does (of words equal once lowercased, "
                  "the first, most frequent, keeps its vector)")


def add_lowercase_argument(parser) -> None:
    """``--lowercase`` (MUSE lowercases embedding words at load): every pair command."""
    parser.add_argument("--lowercase", action="store_true", help=LOWERCASE_HELP)


NORMALIZATIONS = ("", "center", "renorm", "center,renorm", "renorm,center,renorm")


def normalize_embeddings(x: torch.Tensor, how: str) -> torch.Tensor:
    """MUSE's ``--normalize_embeddings`` of ``x [n, d]``: comma-separated steps ``center`` (subtract
    the mean row) / ``renorm`` (unit rows). Raises ``UserError`` for another step."""
    for step in [s for s in how.split(",") if s]:
        if step == "center":
            x = x - x.mean(dim=0, keepdim=True)
        elif step == "renorm":
            x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        else:
            raise UserError(f"--normalize-embeddings: unknown step {step!r} (center, renorm)")
    return x


def load_pair(src_path: str | os.PathLike, tgt_path: str | os.PathLike,
              max_vocab: int | None = None, normalize: str = "", lowercase: bool = False):
    """Load both ``.vec`` files (the first ``max_vocab`` words of each); return (src_wv, tgt_wv,
    src ``[n_src, d]``, tgt ``[n_tgt, d]``): the word vectors (``embeddings.vecio``) and their
    float32 tensors, normalised by ``normalize`` (see :func:`normalize_embeddings`). With
    ``lowercase`` the words are lowercased after reading (``embeddings.case.lowercase_vectors``:
    the first of colliding words keeps its vector), so ``max_vocab`` counts the file's rows.

    Raises ``UserError`` when the dimensions differ or a file cannot be read."""
    src = load_vec(src_path, max_vocab)
    tgt = load_vec(tgt_path, max_vocab)
    if lowercase:
        src, tgt = lowercase_vectors(src)[0], lowercase_vectors(tgt)[0]
    if src.dim != tgt.dim:
        raise UserError(
            f"{tgt_path}: dimension {tgt.dim} does not match the source embeddings "
            f"{src_path} (dimension {src.dim})"
        )
    logger.info("loaded %d source and %d target vectors of dimension %d", len(src), len(tgt), src.dim)
    src_t = normalize_embeddings(torch.from_numpy(src.vectors), normalize)
    tgt_t = normalize_embeddings(torch.from_numpy(tgt.vectors), normalize)
    return src, tgt, src_t, tgt_t


def clamp_rank(name: str, value: int, n_src: int, n_tgt: int) -> int:
    """Shrink a most-frequent-words limit (flag ``name``) to the vocabulary sizes, with a
    warning (0 = all)."""
    limit = min(n_src, n_tgt)
    if value > limit:
        logger.warning("%s=%d but the vocabularies have %d/%d words: using %d", name, value,
                       n_src, n_tgt, limit)
        return limit
    return value
