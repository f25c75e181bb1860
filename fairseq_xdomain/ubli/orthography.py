"""Orthographic baseline: translate a word by the target word with the most similar spelling.

No embeddings: only the two vocabularies (issue 16, point 4). A word ``w`` is the bag of its
character n-grams, the characters of ``w`` (n = 1) and the n-grams (n = 2, 3) of ``^w$``, with
``^``/``$`` as word-boundary markers, counted with multiplicity; the similarity of two words is the
cosine of their n-gram count vectors. Character n-gram similarity as an orthographic signal for
lexicon induction follows Riley & Gildea (2018, ACL), "Orthographic features for bilingual
lexicon induction"; this is its embedding-free version, a companion of the copying baseline.

Retrieval is a sparse matrix product (``scipy.sparse``) in chunks of query rows with a top-k per
row (``torch.topk``), so 20k x 20k words take seconds. Equal scores go to the more frequent
target word (smaller row) among the ``k`` kept.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from .evaluation import TOPKS, Dictionary, _scores, honest_metrics, require_coverage

NGRAM_RANGE = (1, 3)


def char_ngrams(word: str, ngram_range: tuple[int, int] = NGRAM_RANGE) -> Counter:
    """The n-gram counts of ``word``: its characters for n = 1, the n-grams of ``^word$`` for
    n >= 2 (``dog`` -> d, o, g, ^d, do, og, g$, ^do, dog, og$)."""
    grams: Counter = Counter()
    lo, hi = ngram_range
    padded = f"^{word}$"
    for n in range(lo, hi + 1):
        s = word if n == 1 else padded
        grams.update(s[i:i + n] for i in range(len(s) - n + 1))
    return grams


def _ngram_rows(words: Sequence[str], index: dict[str, int],
                ngram_range: tuple[int, int] = NGRAM_RANGE) -> tuple:
    """CSR parts (data, indices, indptr) of the L2-normalised n-gram count rows of ``words``;
    new n-grams are added to ``index`` (shared by both sides, so no n-gram leaves a norm)."""
    indptr, cols, vals = [0], [], []
    for w in words:
        grams = char_ngrams(w, ngram_range)
        norm = np.sqrt(sum(c * c for c in grams.values())) or 1.0
        for g, c in grams.items():
            cols.append(index.setdefault(g, len(index)))
            vals.append(c / norm)
        indptr.append(len(cols))
    return (np.asarray(vals, np.float32), np.asarray(cols, np.int64),
            np.asarray(indptr, np.int64))


def ngram_matrices(queries: Sequence[str], targets: Sequence[str],
                   ngram_range: tuple[int, int] = NGRAM_RANGE,
                   ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """L2-normalised n-gram count matrices ``[n_q, G]``, ``[n_t, G]`` (float32, CSR) over the
    ``G`` n-grams of both word lists: ``Q @ T.T`` is the cosine similarity."""
    index: dict[str, int] = {}
    t_parts = _ngram_rows(targets, index, ngram_range)
    q_parts = _ngram_rows(queries, index, ngram_range)
    width = max(len(index), 1)
    return (sp.csr_matrix(q_parts, shape=(len(queries), width)),
            sp.csr_matrix(t_parts, shape=(len(targets), width)))


def ortho_topk(queries: Sequence[str], targets: Sequence[str], k: int = max(TOPKS),
               chunk: int = 2048, ngram_range: tuple[int, int] = NGRAM_RANGE,
               ) -> tuple[np.ndarray, np.ndarray]:
    """(scores ``[n_q, k]`` cosine in [0, 1], target rows ``[n_q, k]``) of the ``k`` targets with
    the most similar spelling to each query, best first (ties: smaller target row first).
    ``k`` is clamped to ``len(targets)``. Raises ``ValueError`` when ``targets`` is empty."""
    if not targets:
        raise ValueError("no target words")
    k = min(k, len(targets))
    Q, T = ngram_matrices(queries, targets, ngram_range)
    Tt = T.T.tocsc()
    scores = np.zeros((len(queries), k), np.float32)
    rows = np.zeros((len(queries), k), np.int64)
    for s in range(0, len(queries), chunk):
        sim = (Q[s:s + chunk] @ Tt).toarray()  # [chunk, n_tgt]
        part = torch.from_numpy(sim).topk(k, dim=1).indices.numpy()  # [chunk, k], unordered ties
        vals = np.take_along_axis(sim, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)  # by score desc, then row asc
        rows[s:s + chunk] = np.take_along_axis(part, order, axis=1)
        scores[s:s + chunk] = np.take_along_axis(vals, order, axis=1)
    return scores, rows


def ortho_baseline(dico: Dictionary, src_words: Sequence[str] | dict[str, int],
                   tgt_words: Sequence[str] | dict[str, int]) -> dict:
    """Each covered source word translated as the target word (of ``tgt_words``) spelled most
    like it: ``ortho_p@{1,5,10}`` in % of the covered source words, ``ortho_p@{k}_all`` in % of
    all, ``ortho_p@1_nonident`` over the covered words none of whose translations is spelled
    like them, ``n_nonident``, ``ortho_self_top1`` in [0, 1], ``coverage`` in [0, 1] and counts
    (the same coverage as the embedding methods, for the same table). Raises ``UserError`` when
    no pair is covered."""
    src_w2i = src_words if isinstance(src_words, dict) else {w: i for i, w in enumerate(src_words)}
    tgt_w2i = tgt_words if isinstance(tgt_words, dict) else {w: i for i, w in enumerate(tgt_words)}
    covered, n_pairs_oov = require_coverage(dico, src_w2i, tgt_w2i)
    src_i2w = {i: w for w, i in src_w2i.items()}
    tgt_list = [w for w, _ in sorted(tgt_w2i.items(), key=lambda x: x[1])]
    n_all = len(dico.gold)
    _, rows = ortho_topk([src_i2w[s] for s, _ in covered], tgt_list)
    # rows index tgt_list, whose i-th word has row tgt_w2i order: map back to word2id rows
    tgt_ids = np.asarray([tgt_w2i[w] for w in tgt_list])
    preds = tgt_ids[rows].tolist()
    gold = [g for _, g in covered]
    result = {"dictionary": dico.path, "method": "ortho", "n_source_words": n_all,
              "n_covered": len(covered), "coverage": len(covered) / n_all,
              "n_pairs_oov": n_pairs_oov, "ngram_range": list(NGRAM_RANGE)}
    for key, val in _scores(preds, gold, n_all).items():
        result[f"ortho_{key}"] = val
    result.update(honest_metrics("ortho", preds, covered, src_w2i, tgt_w2i, dico))
    return result


__all__ = ["NGRAM_RANGE", "char_ngrams", "ngram_matrices", "ortho_baseline", "ortho_topk"]
