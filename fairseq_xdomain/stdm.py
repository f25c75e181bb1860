"""STDM: the Source-Target Domain Mismatch score of two same-language corpora (Shen et al. 2021).

As described in the paper (section 2.4): documents of the two corpora are represented with
TF-IDF fitted on their concatenation, reduced by truncated SVD, ``X ~ U S V``, and every document
is represented by its row of ``U sqrt(S)``. With ``s_AB`` the mean over all document pairs
(a in A, b in B) of the dot product of their representations,

    STDM = (s_12 + s_21) / (s_11 + s_22)

which is 1 for identical corpora and close to 0 for corpora that share no vocabulary.

The mean of ``U_A U_B^T`` over all pairs is the dot product of the row means of ``U_A`` and
``U_B``, so no n x m similarity matrix is ever formed (and ``s_12 == s_21``).

Documents are groups of ``--lines-per-doc`` consecutive lines (the last group of a corpus may be
shorter). ``--docs-per-corpus`` documents are drawn uniformly from each corpus by reservoir
sampling in one streaming pass, so a 5M-line corpus needs memory for the sample only. Both corpora
are sampled with the same random stream: identical files give identical samples, hence exactly
1.0. A corpus with fewer documents than asked for is used whole, with a warning.

A document without any token (only empty or blank lines) carries no TF-IDF information and would
only pull the mean towards 0: it is left out of the sample, counted (``empty_documents``) and
logged. A corpus without any token, or with fewer than 2 documents that have tokens, is a
one-line UserError, never a score.

scikit-learn: ``TfidfVectorizer`` (whitespace tokens, lower-cased) and ``TruncatedSVD``
(randomized, ``random_state=seed``).
Console script: ``xdomain-stdm CORPUS1 CORPUS2 --docs-per-corpus N --lines-per-doc K
--svd-dim D [--seed S] [--json OUT]`` (``--json`` also writes ``OUT`` with ``.md`` suffix).
"""
from __future__ import annotations

import logging
import os
import random
import re
import sys
import time
from dataclasses import dataclass

import numpy as np

from .common.cli import ArgumentParser, setup_logging
from .common.errors import UserError, cli_entry
from .common.progress import progress
from .common.textio import LineStats, iter_lines, require_file
from .preprocess.sample import BottomK
from .results import STDMResult, write_result

log = logging.getLogger(__name__)

#: a token, as the TF-IDF vectorizer reads them (``token_pattern``)
TOKEN_PATTERN = r"(?u)\S+"
_HAS_TOKEN = re.compile(TOKEN_PATTERN)
#: fewest documents (with tokens) per corpus that make a score
MIN_DOCUMENTS = 2


@dataclass
class DocumentSample:
    """Documents drawn from one corpus, with the counts that say what was read."""

    path: str
    docs: list[str]
    n_docs_total: int
    n_lines: int
    bad_utf8: int
    empty_docs: int = 0


def sample_documents(path, n_docs: int, lines_per_doc: int, seed: int = 0,
                     on_bad_utf8: str = "skip", show_progress: bool = False) -> DocumentSample:
    """Reservoir-sample ``n_docs`` documents of ``lines_per_doc`` consecutive lines.

    One pass, memory bounded by the sample (the reservoir of ``xdomain-prep sample``:
    :class:`~fairseq_xdomain.preprocess.sample.BottomK`, one priority from ``random.Random(seed)``
    per document). The random stream depends only on ``seed`` (not on the file), so two
    identical files give the identical sample. Documents keep file order.
    Documents without a token are left out and counted (``empty_docs``); a corpus with fewer
    than :data:`MIN_DOCUMENTS` documents that have tokens is a UserError.
    """
    if n_docs < MIN_DOCUMENTS:
        raise UserError(f"--docs-per-corpus must be at least {MIN_DOCUMENTS}, got {n_docs}")
    if lines_per_doc < 1:
        raise UserError(f"--lines-per-doc must be at least 1, got {lines_per_doc}")
    require_file(path, "corpus")
    rng = random.Random(seed)
    reservoir = BottomK(n_docs)
    stats = LineStats()
    n_doc = 0
    n_empty = 0
    buf: list[str] = []

    def offer(text: str) -> None:
        nonlocal n_doc, n_empty
        if not _HAS_TOKEN.search(text):
            n_empty += 1
            return
        reservoir.offer(rng.random(), n_doc, text)
        n_doc += 1

    lines = progress(iter_lines(path, on_bad_utf8=on_bad_utf8, stats=stats),
                     desc=f"reading {os.path.basename(os.fspath(path))}", disable=not show_progress)
    for line in lines:
        buf.append(line)
        if len(buf) == lines_per_doc:
            offer("\n".join(buf))
            buf = []
    if buf:
        offer("\n".join(buf))
    n_lines = stats.read - (stats.bad_utf8 if on_bad_utf8 == "skip" else 0)
    if n_lines == 0:
        raise UserError(f"{path}: no readable line (all {stats.read} lines are invalid UTF-8)")
    if stats.bad_utf8:
        log.warning("%s: %d lines with invalid UTF-8 %s", path, stats.bad_utf8,
                    "skipped" if on_bad_utf8 == "skip" else "kept with U+FFFD")
    if n_doc == 0:
        raise UserError(f"{path}: no token in its {n_lines} readable lines (every line is empty "
                        "or blank)")
    if n_doc < MIN_DOCUMENTS:
        raise UserError(f"{path}: only {n_doc} document with tokens ({n_lines} lines, "
                        f"{lines_per_doc} per document); STDM needs at least {MIN_DOCUMENTS} "
                        "documents per corpus (give more text or lower --lines-per-doc)")
    if n_empty:
        log.warning("%s: %d of %d documents have no token (only empty or blank lines): left out",
                    path, n_empty, n_doc + n_empty)
    if n_doc < n_docs:
        log.warning("%s: only %d documents of %d lines (%d lines); using all of them instead of "
                    "%d", path, n_doc, lines_per_doc, n_lines, n_docs)
    return DocumentSample(os.fspath(path), reservoir.in_order(), n_doc, n_lines,
                          stats.bad_utf8, n_empty)


def stdm_from_documents(docs1: list[str], docs2: list[str], svd_dim: int, seed: int = 0,
                        min_df: int = 1, max_features: int | None = None) -> dict:
    """STDM and its parts (s11, s12, s21, s22, svd_dim actually used) for two document lists.

    Each list needs at least :data:`MIN_DOCUMENTS` documents with a token (documents without one
    are not counted); otherwise a UserError, not a score.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    for name, docs in (("corpus 1", docs1), ("corpus 2", docs2)):
        n = sum(1 for doc in docs if _HAS_TOKEN.search(doc))
        if n == 0:
            raise UserError(f"{name}: the documents contain no token")
        if n < MIN_DOCUMENTS:
            raise UserError(f"{name}: only {n} document with tokens; STDM needs at least "
                            f"{MIN_DOCUMENTS} per corpus")
    vectorizer = TfidfVectorizer(lowercase=True, token_pattern=TOKEN_PATTERN, min_df=min_df,
                                 max_features=max_features, dtype=np.float64)
    try:
        X = vectorizer.fit_transform(docs1 + docs2)
    except ValueError as err:  # empty vocabulary
        raise UserError(f"the documents contain no token ({err})") from None
    n_docs, n_feat = X.shape
    dim = min(svd_dim, n_feat - 1, n_docs - 1)
    if dim < 1:
        raise UserError(f"too little text for an SVD: {n_docs} documents, {n_feat} distinct tokens")
    if dim < svd_dim:
        log.warning("--svd-dim %d reduced to %d (%d documents, %d distinct tokens)", svd_dim, dim,
                    n_docs, n_feat)
    svd = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=7, random_state=seed)
    US = svd.fit_transform(X)  # = U S
    sing = np.maximum(svd.singular_values_, 1e-12)
    U = US / np.sqrt(sing)[None, :]  # U sqrt(S)
    m1 = U[: len(docs1)].mean(axis=0)
    m2 = U[len(docs1):].mean(axis=0)
    s11, s22, s12 = float(m1 @ m1), float(m2 @ m2), float(m1 @ m2)
    s21 = s12
    denom = s11 + s22
    score = (s12 + s21) / denom if denom > 0 else float("nan")
    return {"stdm": score, "s11": s11, "s22": s22, "s12": s12, "s21": s21, "svd_dim_used": dim,
            "n_features": int(n_feat),
            "explained_variance_ratio": float(svd.explained_variance_ratio_.sum())}


def stdm(corpus1, corpus2, *, docs_per_corpus: int, lines_per_doc: int, svd_dim: int,
         seed: int = 0, on_bad_utf8: str = "skip", min_df: int = 1,
         max_features: int | None = None, progress: bool = False, pair: str | None = None,
         domains: str | None = None) -> dict:
    """Sample both corpora and compute STDM; returns a JSON-ready record (:func:`to_result`
    makes the typed result of it).

    ``pair``/``domains`` are labels for ``xdomain-report`` (e.g. ``en-es``, ``Wiki/UN``)."""
    if svd_dim < 1:
        raise UserError("--svd-dim must be at least 1")
    t0 = time.time()
    samples = [sample_documents(p, docs_per_corpus, lines_per_doc, seed, on_bad_utf8, progress)
               for p in (corpus1, corpus2)]
    log.info("sampled %d + %d documents; TF-IDF + SVD(%d)", len(samples[0].docs),
             len(samples[1].docs), svd_dim)
    result = stdm_from_documents(samples[0].docs, samples[1].docs, svd_dim, seed, min_df,
                                 max_features)
    return {
        "corpus1": os.fspath(corpus1), "corpus2": os.fspath(corpus2),
        "pair": pair, "domains": domains,
        **result,
        "config": {"docs_per_corpus": docs_per_corpus, "lines_per_doc": lines_per_doc,
                   "svd_dim": svd_dim, "seed": seed, "on_bad_utf8": on_bad_utf8,
                   "min_df": min_df, "max_features": max_features,
                   "tfidf": "sklearn TfidfVectorizer(lowercase, whitespace tokens)",
                   "svd": "sklearn TruncatedSVD(randomized, n_iter=7)"},
        "seed": seed,
        "documents": [len(s.docs) for s in samples],
        "documents_available": [s.n_docs_total for s in samples],
        "lines_read": [s.n_lines for s in samples],
        "bad_utf8_lines": [s.bad_utf8 for s in samples],
        "empty_documents": [s.empty_docs for s in samples],
        "seconds": round(time.time() - t0, 3),
    }


#: record keys that are fields of :class:`~fairseq_xdomain.results.STDMResult`; the others go to
#: its ``details``
_RESULT_FIELDS = ("stdm", "corpus1", "corpus2", "pair", "domains", "s11", "s22", "s12",
                  "svd_dim_used", "config")


def to_result(rec: dict) -> STDMResult:
    """The :class:`~fairseq_xdomain.results.STDMResult` of a :func:`stdm` record (its
    ``seconds`` as ``wall_s``; sampling counts in ``details``)."""
    return STDMResult(**{k: rec[k] for k in _RESULT_FIELDS},
                      details={k: v for k, v in rec.items()
                               if k not in _RESULT_FIELDS and k not in ("seconds", "seed")},
                      wall_s=rec["seconds"])


@cli_entry
def main(argv=None) -> int:
    p = ArgumentParser(prog="xdomain-stdm", description=__doc__.split("\n\n")[0])
    p.add_argument("corpus1", help="first corpus (text, one sentence per line)")
    p.add_argument("corpus2", help="second corpus of the same language")
    p.add_argument("--docs-per-corpus", type=int, default=10000,
                   help="documents sampled from each corpus")
    p.add_argument("--lines-per-doc", type=int, default=10,
                   help="consecutive lines that make one document")
    p.add_argument("--svd-dim", type=int, default=100,
                   help="dimension of the truncated SVD of the tf-idf matrix")
    p.add_argument("--seed", type=int, default=0, help="seed of the document sampling and SVD")
    p.add_argument("--min-df", type=int, default=1,
                   help="tf-idf: ignore tokens in fewer documents than this")
    p.add_argument("--max-features", type=int, default=None,
                   help="tf-idf: keep only the most frequent tokens (None: all)")
    p.add_argument("--on-bad-utf8", default="skip", choices=("skip", "replace", "fail"),
                   help="a line with invalid UTF-8: skip it (counted), replace the bytes, or fail")
    p.add_argument("--pair", default=None, help="label for xdomain-report, e.g. en-es")
    p.add_argument("--domains", default=None, help="label for xdomain-report, e.g. Wiki/UN")
    p.add_argument("--json", "-o", "--output", dest="json", default=None,
                   help="write the result (an STDMResult) here, and a .md next to it")
    args = p.parse_args(argv)
    setup_logging()
    rec = stdm(args.corpus1, args.corpus2, docs_per_corpus=args.docs_per_corpus,
               lines_per_doc=args.lines_per_doc, svd_dim=args.svd_dim, seed=args.seed,
               on_bad_utf8=args.on_bad_utf8, min_df=args.min_df, max_features=args.max_features,
               progress=True, pair=args.pair, domains=args.domains)
    if args.json:
        path = write_result(args.json, to_result(rec))
        log.info("wrote %s and %s", path, path.with_suffix(".md"))
    print(f"STDM {rec['stdm']:.4f}  (s11={rec['s11']:.4g} s22={rec['s22']:.4g} "
          f"s12=s21={rec['s12']:.4g}; documents {rec['documents'][0]} + {rec['documents'][1]}, "
          f"SVD dim {rec['svd_dim_used']})")
    if any(rec["empty_documents"]):
        print(f"left out {rec['empty_documents'][0]} + {rec['empty_documents'][1]} documents "
              "without a token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
