"""Word-translation evaluation on MUSE-format dictionaries, with coverage, and the copy baseline.

A dictionary file has one ``src tgt`` pair per line; a source word may have several lines (any of
its translations counts as correct). A source word is *covered* when it is in the source vocabulary
and at least one of its translations is in the target vocabulary. P@1/5/10 are over the covered
source words (what MUSE reports, since it drops OOV pairs); every score comes with the coverage
(covered / all source words) and the counts, and ``p@k_all`` counts uncovered words as wrong.

Dictionary files are read by ``common/textio.py`` (BOM and CRLF ignored, invalid UTF-8 is a
one-line error). Columns are separated by ASCII white space, so a word with a no-break space
inside (``new<U+00A0>york``) is looked up verbatim in the ``.vec``; a line that only has two
columns when non-ASCII white space separates too is read that way and counted
(``n_unicode_separated``). See ``common/whitespace.py``.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..common.errors import UserError
from ..common.textio import FIX_LINE_HINT, iter_lines
from ..common.whitespace import split_fields
from ..embeddings.case import case_only_misses
from .csls import csls_topk, normalize, topk

logger = logging.getLogger(__name__)

TOPKS = (1, 5, 10)


@dataclass
class Dictionary:
    """Gold translations: source word -> list of target words (file order), plus skipped lines."""

    path: str
    gold: dict
    n_lines: int = 0
    n_bad_lines: int = 0
    n_unicode_separated: int = 0


def load_dictionary(path: str | os.PathLike) -> Dictionary:
    """Read a ``src tgt`` per line dictionary (see the module docstring); bad lines are counted.

    Raises ``UserError`` for a missing file, invalid UTF-8, or a file without any pair."""
    gold: dict = {}
    n = bad = uni = 0
    for line in iter_lines(path, on_bad_utf8="fail", hint=FIX_LINE_HINT, what="dictionary"):
        if not line.strip():
            continue
        n += 1
        parts = split_fields(line)
        if len(parts) != 2 and len(line.split()) == 2:
            parts = line.split()
            uni += 1
        if len(parts) != 2:
            bad += 1
            continue
        gold.setdefault(parts[0], [])
        if parts[1] not in gold[parts[0]]:
            gold[parts[0]].append(parts[1])
    if bad:
        logger.warning("%s: %d lines are not 'src tgt' pairs and were skipped", path, bad)
    if uni:
        logger.warning("%s: %d lines have their two columns separated by non-ASCII white space "
                       "(e.g. U+00A0), read as pairs", path, uni)
    if not gold:
        raise UserError(f"{path}: no 'src tgt' pairs in the dictionary")
    return Dictionary(str(path), gold, n, bad, uni)


def coverage(dico: Dictionary, src_word2id: dict[str, int], tgt_word2id: dict[str, int],
             ) -> tuple[list[tuple[int, list[int]]], int]:
    """(covered source words as (source row, [gold target rows]), number of gold pairs with an
    out-of-vocabulary side)."""
    covered = []
    n_pairs_oov = 0
    for sw, tws in dico.gold.items():
        tids = [tgt_word2id[t] for t in tws if t in tgt_word2id]
        n_pairs_oov += len(tws) - (len(tids) if sw in src_word2id else 0)
        if sw in src_word2id and tids:
            covered.append((src_word2id[sw], tids))
    return covered, n_pairs_oov


def load_checked_dictionary(path, src_word2id: dict[str, int],
                            tgt_word2id: dict[str, int]) -> Dictionary | None:
    """The test dictionary at ``path`` (None if no path), read and checked for coverage up front
    so that a bad dictionary fails before any expensive work (``UserError`` as
    :func:`load_dictionary` and :func:`require_coverage`)."""
    if not path:
        return None
    dico = load_dictionary(path)
    require_coverage(dico, src_word2id, tgt_word2id)
    return dico


#: (dictionary path, vocabulary sizes) already warned about coverage lost to case
_CASE_WARNED: set = set()


def warn_case_only_loss(dico: Dictionary, src_word2id: dict[str, int],
                        tgt_word2id: dict[str, int]) -> int:
    """Warn (once per dictionary and vocabulary sizes) when dictionary words are missing from a
    vocabulary only because of case (``paris`` vs ``Paris``), with the counts per side and the
    option that recovers them (``--lowercase``); returns the number of such words."""
    tgt_words = {t for tws in dico.gold.values() for t in tws}
    n_src = case_only_misses(dico.gold, src_word2id)
    n_tgt = case_only_misses(tgt_words, tgt_word2id)
    key = (dico.path, len(src_word2id), len(tgt_word2id))
    if (n_src or n_tgt) and key not in _CASE_WARNED:
        _CASE_WARNED.add(key)
        logger.warning("%s: %d of %d source words and %d of %d target words are missing from "
                       "the embeddings only because of case (e.g. 'paris' vs 'Paris'); "
                       "--lowercase lowercases the embedding words as MUSE does", dico.path,
                       n_src, len(dico.gold), n_tgt, len(tgt_words))
    return n_src + n_tgt


def require_coverage(dico: Dictionary, src_word2id: dict[str, int], tgt_word2id: dict[str, int],
                     ) -> tuple[list[tuple[int, list[int]]], int]:
    """:func:`coverage` that raises ``UserError`` when no pair is covered (and warns when
    coverage is lost only to case: :func:`warn_case_only_loss`)."""
    warn_case_only_loss(dico, src_word2id, tgt_word2id)
    covered, n_pairs_oov = coverage(dico, src_word2id, tgt_word2id)
    if not covered:
        raise UserError(
            f"{dico.path}: no dictionary pair is covered by the vocabularies "
            f"(0 of {len(dico.gold)} source words have an in-vocabulary source and translation)"
        )
    return covered, n_pairs_oov


def _scores(hits_topk, gold_lists, n_all):
    res = {}
    for k in TOPKS:
        correct = sum(
            1 for preds, g in zip(hits_topk, gold_lists) if set(preds[:k]) & set(g)
        )
        n = len(gold_lists)
        res[f"p@{k}"] = 100.0 * correct / n if n else 0.0
        res[f"p@{k}_all"] = 100.0 * correct / n_all if n_all else 0.0
    return res


def evaluate_translation(mapped_src: torch.Tensor, tgt: torch.Tensor,
                         src_words: Sequence[str] | dict[str, int],
                         tgt_words: Sequence[str] | dict[str, int], dico: Dictionary,
                         methods: Sequence[str] = ("nn", "csls"), k_csls: int = 10,
                         backend: str = "auto") -> dict:
    """P@1/5/10 for each method in ``methods``, with coverage and counts (a JSON-able dict).

    ``mapped_src [n_src, d]`` (``src @ W``), ``tgt [n_tgt, d]``; the words are the rows' words
    (a list, or a word -> row dict). Keys: ``{method}_p@{k}`` in % of the covered source words,
    ``{method}_p@{k}_all`` in % of all, ``coverage`` in [0, 1], ``n_source_words``,
    ``n_covered``, ``n_pairs_oov``, ``n_bad_lines``, ``dictionary``, ``per_word_top1``
    ({"words": covered source words, method: [1 if its top-1 is gold else 0]}: the paired
    data of McNemar's test and the bootstrap interval, ``significance.py``). Raises ``UserError`` when no
    pair is covered, ``ValueError`` for an unknown method or backend."""
    src_w2i = src_words if isinstance(src_words, dict) else {w: i for i, w in enumerate(src_words)}
    tgt_w2i = tgt_words if isinstance(tgt_words, dict) else {w: i for i, w in enumerate(tgt_words)}
    covered, n_pairs_oov = require_coverage(dico, src_w2i, tgt_w2i)
    n_all = len(dico.gold)
    result = {
        "dictionary": dico.path, "n_source_words": n_all, "n_covered": len(covered),
        "coverage": len(covered) / n_all, "n_pairs_oov": n_pairs_oov,
        "n_bad_lines": dico.n_bad_lines,
    }
    q = torch.tensor([c[0] for c in covered], dtype=torch.long)
    gold = [c[1] for c in covered]
    src_n, tgt_n = normalize(mapped_src), normalize(tgt)
    q = q.to(src_n.device)
    inverses = (_inverse(src_w2i), _inverse(tgt_w2i))
    for method in methods:
        if method == "nn":
            _, idx = topk(src_n[q], tgt_n, max(TOPKS), backend=backend)
        elif method == "csls":
            _, idx = csls_topk(src_n, tgt_n, k_csls=k_csls, topn=max(TOPKS), queries=q,
                               backend=backend)
        else:
            raise ValueError(f"unknown method {method}")
        preds = idx.cpu().tolist()
        for key, val in _scores(preds, gold, n_all).items():
            result[f"{method}_{key}"] = val
        result.update(honest_metrics(method, preds, covered, src_w2i, tgt_w2i, dico, inverses))
        # per covered source word, 1 if its top-1 is a gold translation (McNemar, bootstrap CI)
        top1 = result.setdefault("per_word_top1", {
            "words": [inverses[0][int(c[0])] for c in covered]})
        top1[method] = [int(bool(p) and p[0] in g) for p, g in zip(preds, gold)]
    return result


def _inverse(word2id: dict[str, int]) -> dict[int, str]:
    return {i: w for w, i in word2id.items()}


def honest_metrics(method: str, preds: Sequence[Sequence[int]],
                   covered: Sequence[tuple[int, list[int]]], src_w2i: dict[str, int],
                   tgt_w2i: dict[str, int], dico: Dictionary,
                   inverses: tuple[dict[int, str], dict[int, str]] | None = None) -> dict:
    """P@1 over the non-identical queries and the share of self-translations (issue 16, point 6).

    ``preds[i]``: the retrieved target rows of query ``covered[i]`` (best first). A covered
    source word is a *non-identical* query when none of its gold translations is spelled like
    it (``colour -> color`` is, ``hotel -> hotel`` is not; a word with both kinds of translation
    is not). Keys: ``{method}_p@1_nonident`` in % of the non-identical queries (0.0 when there is
    none), ``n_nonident`` (their count), ``{method}_self_top1`` in [0, 1]: the fraction of the
    covered queries whose top-1 target is the query string itself (in a joint space an
    identical string is trivially its own neighbour). ``inverses``: the row -> word dicts of
    both sides when already built."""
    src_i2w, tgt_i2w = inverses or (_inverse(src_w2i), _inverse(tgt_w2i))
    n_non = correct_non = n_self = 0
    for p, (s, g) in zip(preds, covered):
        sw = src_i2w[s]
        top1 = p[0] if p else None
        if top1 is not None and tgt_i2w.get(top1) == sw:
            n_self += 1
        if sw not in dico.gold.get(sw, ()):
            n_non += 1
            correct_non += int(top1 is not None and top1 in g)
    return {
        f"{method}_p@1_nonident": 100.0 * correct_non / n_non if n_non else 0.0,
        "n_nonident": n_non,
        f"{method}_self_top1": n_self / len(covered) if covered else 0.0,
    }


def copy_baseline(dico: Dictionary, src_words: Sequence[str] | dict[str, int],
                  tgt_words: Sequence[str] | dict[str, int]) -> dict:
    """Each source word translated as itself: ``copy_p@1`` in % of the covered source words
    (0.0 when none is covered), ``copy_p@1_all`` in % of all, ``coverage`` in [0, 1], counts."""
    src_w2i = src_words if isinstance(src_words, dict) else {w: i for i, w in enumerate(src_words)}
    tgt_w2i = tgt_words if isinstance(tgt_words, dict) else {w: i for i, w in enumerate(tgt_words)}
    covered, n_pairs_oov = coverage(dico, src_w2i, tgt_w2i)
    n_all = len(dico.gold)
    covered_words = {sw for sw, tws in dico.gold.items()
                     if sw in src_w2i and any(t in tgt_w2i for t in tws)}
    correct_cov = sum(1 for sw in covered_words if sw in dico.gold[sw])
    correct_all = sum(1 for sw, tws in dico.gold.items() if sw in tws)
    return {
        "dictionary": dico.path, "method": "copy", "n_source_words": n_all,
        "n_covered": len(covered), "coverage": len(covered) / n_all, "n_pairs_oov": n_pairs_oov,
        "copy_p@1": 100.0 * correct_cov / len(covered) if covered else 0.0,
        "copy_p@1_all": 100.0 * correct_all / n_all,
    }
