"""Vocabulary reallocation for joint embedding spaces (issue 16, point 5), after the idea of
Wang, Xie, Xu, Yang, Neubig & Carbonell (2020, ICLR), "Cross-lingual alignment vs joint
training: a comparative study and a simple unified framework" (reimplemented from the idea, not
from their code).

In a jointly trained space every string has one vector, so a word that both corpora contain but
use very unevenly (frequency ratio beyond a threshold, e.g. an English word quoted now and then
in a German corpus) gets a vector that reflects only the corpus that uses it most; the other
language's view of that string is wrong. Reallocation gives such words language-specific
vectors, then the space is refined by alignment:

1. ``ratio(w) = ((c_src(w) + 1) / N_src) / ((c_tgt(w) + 1) / N_tgt)`` over the words in both
   vocabularies (``c``: corpus counts, ``N``: the corpus' total count; add-one smoothing). A word
   with ``ratio >= threshold`` is *source-specific* (its joint vector stays the source's; the
   target side is reallocated), one with ``ratio <= 1 / threshold`` *target-specific*; the
   others are *balanced*.
2. The reallocated side of an uneven word takes that language's own vector from its separate
   (monolingual) model, mapped into the joint space by orthogonal Procrustes fitted on the
   balanced shared words (unit rows; the mapped vector keeps the norm of the joint vector it
   replaces); without a separate model, or when the separate model lacks the word, the word is
   dropped from that side's vocabulary. Nothing is dropped silently: every list is counted.
3. ``xdomain-ubli reallocate`` (:mod:`.reallocation_run`) then runs the Procrustes/CSLS refinement of ``align``
   (:func:`~fairseq_xdomain.ubli.align.refine_and_select`) from the identity, keeping the best
   stage by the unsupervised criterion.

Counts files: one ``word count`` per line (fairseq's ``dict.txt``, or any frequency list); words
of a vocabulary that a counts file lacks count 0.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..common.errors import UserError
from ..common.textio import iter_lines
from .procrustes import procrustes

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 10.0


@dataclass
class Reallocation:
    """A reallocated pair of spaces: the words and vectors of each side (frequency order kept),
    and what happened to the shared words (lists of words, in source order)."""

    src_words: list[str]
    src: torch.Tensor
    tgt_words: list[str]
    tgt: torch.Tensor
    threshold: float
    n_shared: int = 0
    src_specific: list[str] = field(default_factory=list)  # used mostly by the source corpus
    tgt_specific: list[str] = field(default_factory=list)  # used mostly by the target corpus
    replaced_src: list[str] = field(default_factory=list)  # source vector from the separate model
    replaced_tgt: list[str] = field(default_factory=list)
    dropped_src: list[str] = field(default_factory=list)   # removed from the source vocabulary
    dropped_tgt: list[str] = field(default_factory=list)
    n_anchors_src: int = 0  # balanced words the source separate model was fitted on
    n_anchors_tgt: int = 0

    def summary(self, n_examples: int = 20) -> dict:
        """Counts (and the first ``n_examples`` words of each list), JSON-able."""
        out: dict = {"threshold": self.threshold, "n_shared": self.n_shared,
                     "n_src_words": len(self.src_words), "n_tgt_words": len(self.tgt_words),
                     "n_anchors_src": self.n_anchors_src, "n_anchors_tgt": self.n_anchors_tgt}
        for name in ("src_specific", "tgt_specific", "replaced_src", "replaced_tgt",
                     "dropped_src", "dropped_tgt"):
            words = getattr(self, name)
            out[f"n_{name}"] = len(words)
            out[f"{name}_examples"] = words[:n_examples]
        out["n_balanced"] = self.n_shared - len(self.src_specific) - len(self.tgt_specific)
        return out


def read_counts(path: str | os.PathLike) -> dict[str, int]:
    """``word count`` lines -> ``{word: count}`` (a repeated word's counts add up). Lines that are
    not two fields with a non-negative integer count are skipped, counted and logged. Raises
    ``UserError`` for a missing/unreadable file or one without a valid line."""
    counts: dict[str, int] = {}
    bad = 0
    for line in iter_lines(path, on_bad_utf8="fail", what="counts file"):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            bad += 1
            continue
        counts[parts[0]] = counts.get(parts[0], 0) + int(parts[1])
    if bad:
        logger.warning("%s: %d lines are not 'word count' and were skipped", path, bad)
    if not counts:
        raise UserError(f"{path}: no 'word count' line (expected e.g. fairseq's dict.txt)")
    return counts


def frequency_ratio(word: str, src_counts: dict[str, int], tgt_counts: dict[str, int],
                    n_src: int, n_tgt: int) -> float:
    """``((c_src + 1) / n_src) / ((c_tgt + 1) / n_tgt)`` (relative frequencies, add-one)."""
    return ((src_counts.get(word, 0) + 1) / n_src) / ((tgt_counts.get(word, 0) + 1) / n_tgt)


def _fit_separate(sep_words: Sequence[str], sep: torch.Tensor, joint_w2i: dict[str, int],
                  joint: torch.Tensor, anchors: Sequence[str],
                  side: str = "") -> tuple[torch.Tensor | None, int]:
    """Procrustes map ``[d, d]`` of a separate model into the joint space on the anchor words
    both have (unit rows), and the number of anchors used (None if there is none)."""
    sep_w2i = {w: i for i, w in enumerate(sep_words)}
    use = [w for w in anchors if w in sep_w2i]
    if not use:
        return None, 0
    if len(use) < sep.shape[1]:
        logger.warning("reallocation: only %d anchor words for a %d-d Procrustes fit of the "
                       "%sseparate model", len(use), sep.shape[1], f"{side} " if side else "")
    a = torch.nn.functional.normalize(sep[[sep_w2i[w] for w in use]].float(), dim=1)
    b = torch.nn.functional.normalize(joint[[joint_w2i[w] for w in use]].float(), dim=1)
    return procrustes(a, b).float(), len(use)


def _reallocate_side(words: list[str], vecs: torch.Tensor, uneven: list[str],
                     anchors: list[str], sep: tuple[Sequence[str], torch.Tensor] | None,
                     side: str = "",
                     ) -> tuple[list[str], torch.Tensor, list[str], list[str], int]:
    w2i = {w: i for i, w in enumerate(words)}
    vecs = vecs.clone()
    replaced, dropped, n_anchors = [], [], 0
    W = None
    if sep is not None and uneven:
        if sep[1].shape[1] != vecs.shape[1]:
            raise ValueError(f"separate model of dimension {sep[1].shape[1]}, joint "
                             f"{vecs.shape[1]}")
        W, n_anchors = _fit_separate(sep[0], sep[1], w2i, vecs, anchors, side)
    sep_w2i = {w: i for i, w in enumerate(sep[0])} if sep is not None else {}
    for w in uneven:
        if W is not None and w in sep_w2i:
            row = w2i[w]
            v = torch.nn.functional.normalize(sep[1][sep_w2i[w]].float(), dim=0) @ W
            vecs[row] = v * vecs[row].norm()
            replaced.append(w)
        else:
            dropped.append(w)
    if dropped:
        gone = set(dropped)
        keep = [i for i, w in enumerate(words) if w not in gone]
        words, vecs = [words[i] for i in keep], vecs[keep]
    return words, vecs, replaced, dropped, n_anchors


def reallocate(src_words: Sequence[str], src: torch.Tensor, tgt_words: Sequence[str],
               tgt: torch.Tensor, src_counts: dict[str, int], tgt_counts: dict[str, int],
               threshold: float = DEFAULT_THRESHOLD,
               src_sep: tuple[Sequence[str], torch.Tensor] | None = None,
               tgt_sep: tuple[Sequence[str], torch.Tensor] | None = None) -> Reallocation:
    """Reallocate the unevenly used shared words of a joint pair (module docstring, steps 1-2).

    ``src [n_src, d]``/``tgt [n_tgt, d]``: the joint model's vectors of each side's words;
    ``src_counts``/``tgt_counts``: corpus counts; ``threshold > 1``: the frequency ratio beyond
    which a shared word is uneven; ``src_sep``/``tgt_sep``: (words, vectors ``[n, d]``) of each
    side's separate model, or None (then uneven words are dropped from that side). A
    source-specific word is reallocated on the target side and vice versa. Raises
    ``ValueError`` for ``threshold <= 1``, empty counts, or a separate model of another
    dimension."""
    if threshold <= 1:
        raise ValueError(f"threshold {threshold}: must be > 1")
    n_src, n_tgt = sum(src_counts.values()), sum(tgt_counts.values())
    if n_src <= 0 or n_tgt <= 0:
        raise ValueError("empty counts")
    src_words, tgt_words = list(src_words), list(tgt_words)
    tgt_set = set(tgt_words)
    shared = [w for w in src_words if w in tgt_set]
    src_spec, tgt_spec, balanced = [], [], []
    for w in shared:
        r = frequency_ratio(w, src_counts, tgt_counts, n_src, n_tgt)
        (src_spec if r >= threshold else tgt_spec if r <= 1 / threshold else balanced).append(w)
    new_tgt_words, new_tgt, rep_t, drop_t, anc_t = _reallocate_side(
        tgt_words, tgt, src_spec, balanced, tgt_sep, "target")
    new_src_words, new_src, rep_s, drop_s, anc_s = _reallocate_side(
        src_words, src, tgt_spec, balanced, src_sep, "source")
    res = Reallocation(new_src_words, new_src, new_tgt_words, new_tgt, threshold, len(shared),
                       src_spec, tgt_spec, rep_s, rep_t, drop_s, drop_t, anc_s, anc_t)
    s = res.summary(0)
    logger.info("reallocation: %d shared words, %d balanced, %d source-specific, %d "
                "target-specific; replaced %d/%d (src/tgt), dropped %d/%d", s["n_shared"],
                s["n_balanced"], s["n_src_specific"], s["n_tgt_specific"], s["n_replaced_src"],
                s["n_replaced_tgt"], s["n_dropped_src"], s["n_dropped_tgt"])
    return res


__all__ = ["DEFAULT_THRESHOLD", "Reallocation", "frequency_ratio", "read_counts", "reallocate"]
