"""Domain mismatch: STDM (``fairseq_xdomain.stdm``, Shen et al. 2021) between two corpora of one
language from the two domains (e.g. the target corpus and target-language text of the source
domain, as ``xdomain-run ubli --stdm-corpus``).

Risk cut points (:func:`stdm_finding`): below 0.40 ``high``, below 0.60 ``medium``, else
``low``. Basis: two halves of one real corpus scored 0.61 (technical documentation) and 0.79
(Bibles), the mismatched real pair 0.30 (docs/real-en-de.md), a generated mismatched pair 0.51
and two halves of its corpus 0.99 (docs/lab-notes.md).
"""
from __future__ import annotations

import os

from .finding import Finding

HIGH_RISK_STDM = 0.40
MEDIUM_RISK_STDM = 0.60


def stdm_finding(corpus1, corpus2, docs_per_corpus: int = 10000, lines_per_doc: int = 10,
                 svd_dim: int = 100, seed: int = 0) -> Finding:
    """STDM of ``corpus1`` vs ``corpus2`` (same language) with ``stdm.stdm``'s sizes (defaults:
    the ``ubli`` presets'); its ``UserError`` for unusable corpora passes through."""
    from ..stdm import stdm

    rec = stdm(corpus1, corpus2, docs_per_corpus=docs_per_corpus, lines_per_doc=lines_per_doc,
               svd_dim=svd_dim, seed=seed)
    score = rec["stdm"]
    risk = "high" if score < HIGH_RISK_STDM else "medium" if score < MEDIUM_RISK_STDM else "low"
    meaning = {"high": "the domains differ more than two halves of any real corpus we measured "
                       "(0.61-0.79)",
               "medium": "the domains differ somewhat",
               "low": "the domains are about as alike as two halves of one corpus"}[risk]
    numbers = {k: rec[k] for k in ("stdm", "s11", "s22", "s12", "svd_dim_used", "documents")}
    numbers.update(corpus1=os.fspath(corpus1), corpus2=os.fspath(corpus2),
                   docs_per_corpus=docs_per_corpus, lines_per_doc=lines_per_doc)
    name1, name2 = os.path.basename(os.fspath(corpus1)), os.path.basename(os.fspath(corpus2))
    return Finding("stdm", numbers,
                   f"STDM {score:.2f} between {name1} and {name2} (1 = same distribution, "
                   f"{rec['documents'][0]:,} + {rec['documents'][1]:,} documents of "
                   f"{lines_per_doc} lines): {meaning}.", risk)
