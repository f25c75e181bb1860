"""Vocabulary overlap and the share of identical strings between the two languages' corpora.

Over the ``top_n`` most frequent word types of each corpus that contain a letter
(``str.isalpha`` on some character: numbers and punctuation, identical in every language, are
left out), with ``S``/``T`` those types and ``c_s``/``c_t`` their counts:

* ``vocab_jaccard`` = |S ∩ T| / |S ∪ T| (types);
* ``identical_token_share`` = (Σ_{w ∈ S∩T} c_s(w) + c_t(w)) / (Σ_{w ∈ S} c_s(w) + Σ_{w ∈ T}
  c_t(w)): the share of the running words (of those types) whose string is also a frequent word
  of the other language. These are the anchors a jointly trained space shares and the seed of
  the identical-strings baseline (Søgaard et al. 2018).

The token share is inflated by a few very frequent homographs (en/de: ``in``, ``a``, ``die``,
``was``), which are no useful anchors; the type overlap is not. Risk cut points
(:func:`lexical_finding`), on ``vocab_jaccard``: below 0.01 ``high``, below 0.03 ``medium``, else
``low``. Basis: the three real en-de settings of docs/real-en-de.md (see its diagnostics
section): Jaccard 0.005 / 0.013 / 0.064 where joint-space P@1 was 1.1 / 3.5 / 13.3; with three
points these cut points are a coarse guide, not a calibration.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from .finding import Finding

HIGH_RISK_JACCARD = 0.01
MEDIUM_RISK_JACCARD = 0.03


def _has_letter(word: str) -> bool:
    return any(ch.isalpha() for ch in word)


def word_counts(counts: Counter, top_n: int) -> dict[str, int]:
    """The ``top_n`` most frequent words of ``counts`` that contain a letter (ties: string
    order), with their counts."""
    ranked = sorted(((w, c) for w, c in counts.items() if _has_letter(w)),
                    key=lambda wc: (-wc[1], wc[0]))
    return dict(ranked[:top_n])


@dataclass
class LexicalOverlap:
    """See the module docstring; ``top_shared``: the most frequent shared strings (by
    ``c_s + c_t``), as examples."""

    top_n: int
    n_src: int
    n_tgt: int
    shared: int
    vocab_jaccard: float
    identical_token_share: float
    top_shared: list

    def to_dict(self) -> dict:
        return asdict(self)


def lexical_overlap(src_counts: Counter, tgt_counts: Counter, top_n: int = 20000,
                    n_examples: int = 10) -> LexicalOverlap:
    """Overlap of two corpora's word counts (``Counter``: word -> running count). Raises
    ``ValueError`` when either has no word with a letter."""
    s, t = word_counts(src_counts, top_n), word_counts(tgt_counts, top_n)
    if not s or not t:
        raise ValueError("a corpus has no word that contains a letter")
    shared = s.keys() & t.keys()
    union = len(s) + len(t) - len(shared)
    total = sum(s.values()) + sum(t.values())
    ident = sum(s[w] + t[w] for w in shared)
    examples = sorted(shared, key=lambda w: (-(s[w] + t[w]), w))[:n_examples]
    return LexicalOverlap(top_n, len(s), len(t), len(shared), len(shared) / union,
                          ident / total, examples)


def lexical_finding(overlap: LexicalOverlap) -> Finding:
    share, jac = overlap.identical_token_share, overlap.vocab_jaccard
    risk = "high" if jac < HIGH_RISK_JACCARD else "medium" if jac < MEDIUM_RISK_JACCARD else "low"
    meaning = {"high": "few anchors for a joint space or an identical-strings seed",
               "medium": "some anchors for a joint space or an identical-strings seed",
               "low": "many anchors for a joint space or an identical-strings seed"}[risk]
    examples = ", ".join(overlap.top_shared[:5])
    return Finding(
        "lexical_overlap", overlap.to_dict(),
        f"{overlap.shared:,} of the {overlap.top_n:,} most frequent word types per side are "
        f"spelled identically in both languages (Jaccard {jac:.3f}; {100 * share:.1f}% of the "
        f"running words, e.g. {examples}): {meaning}.", risk)
