"""Build a MUSE-format test dictionary of words frequent in both corpora.

``xdomain-ubli dictionary --pairs en-de.tsv --src-corpus A --tgt-corpus B -n 1500
[--min-count 5] [--drop-identical] [--lemmatize-tgt ru] -o dico.txt`` (the command,
:mod:`fairseq_xdomain.ubli.commands.dictionary`; formerly ``python -m
fairseq_xdomain.ubli.eval_dictionary dict``) builds a test dictionary from a bilingual word list (``src<TAB>tgt`` per line, e.g. FreeDict) and
two tokenized corpora: the N source words with a translation that are most frequent in *both*
corpora (ranked by the worse of the source word's rank in the source corpus and its best
translation's rank in the target corpus), each with every translation seen at least
``--min-count`` times in the target corpus. Writes ``dico.txt`` (``src tgt`` lines, as
:func:`fairseq_xdomain.ubli.evaluation.load_dictionary` reads) and ``dico.txt.json`` (the counts).

``--drop-identical`` leaves out pairs whose two words are the same string (after lower-casing
and lemmatization; counted in the log and the counts, ``identical_dropped``): in a joint space an
identical string is trivially its own neighbour (issue 16). ``--lemmatize-tgt ru`` replaces each
target word by its pymorphy3 lemma (``fairseq_xdomain.preprocess.lemmatize``, the lemmatizer of
``xdomain-prep lemmatize``), so the dictionary matches a lemmatized target corpus (the paper
lemmatizes all Russian UBLI data); translations that become the same lemma are merged.
"""
from __future__ import annotations

import logging
from collections import Counter

from ..common.errors import UserError
from ..common.textio import LineStats, iter_lines, require_file
from ..common.whitespace import split_tokens

logger = logging.getLogger(__name__)


def _counts(path) -> Counter:
    """Word counts of a tokenized corpus: the words fastText sees (``common/whitespace.py``)."""
    require_file(path)
    c: Counter = Counter()
    stats = LineStats()
    for line in iter_lines(path, stats=stats, hint="", what="corpus"):
        c.update(split_tokens(line))
    _log_skipped(path, stats)
    return c


def _log_skipped(path, stats: LineStats) -> None:
    if stats.bad_utf8:
        logger.warning("%s: skipped %d line(s) with invalid UTF-8", path, stats.bad_utf8)


def frequent_dictionary(pairs_tsv, src_corpus, tgt_corpus, n: int = 1500, min_count: int = 5,
                        lowercase: bool = True, drop_identical: bool = False,
                        lemmatize_tgt: str | None = None) -> tuple[list[str], dict]:
    """Return (lines ``"src tgt"``, counts): the ``n`` source words frequent in both corpora.

    ``pairs_tsv``: ``src<TAB>tgt`` lines (a line without a tab is not a pair and is not
    counted; multi-word entries are counted and left out). ``drop_identical``: leave out pairs
    whose two words are the same string (counted, ``identical_dropped``). ``lemmatize_tgt``: a
    language of :data:`fairseq_xdomain.preprocess.lemmatize.SUPPORTED_LEMMA_LANGS` (``"ru"``):
    target words replaced by their lemma first (``tgt_lemmatized`` counts the changed ones).
    Raises ``UserError`` for a missing file, an unsupported language or when no pair qualifies.
    """
    lemmatizer = None
    if lemmatize_tgt:
        from ..preprocess.lemmatize import Lemmatizer

        lemmatizer = Lemmatizer(lemmatize_tgt)
    cs, ct = _counts(src_corpus), _counts(tgt_corpus)
    rank_s = {w: i for i, (w, _) in enumerate(cs.most_common())}
    rank_t = {w: i for i, (w, _) in enumerate(ct.most_common())}
    trans: dict[str, list[str]] = {}
    n_lines = n_multi = n_ident = n_lemma = 0
    require_file(pairs_tsv)
    stats = LineStats()
    for line in iter_lines(pairs_tsv, stats=stats, hint="", what="word list"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            continue
        n_lines += 1
        s, t = parts[0].strip(), parts[1].strip()
        if lowercase:
            s, t = s.lower(), t.lower()
        if len(s.split()) != 1 or len(t.split()) != 1:  # any white space, U+00A0 included
            n_multi += 1
            continue
        if lemmatizer is not None:
            lemma = lemmatizer.lemma(t)
            n_lemma += lemma != t
            t = lemma
        if drop_identical and s == t:
            n_ident += 1
            continue
        if cs.get(s, 0) >= min_count and ct.get(t, 0) >= min_count:
            trans.setdefault(s, [])
            if t not in trans[s]:
                trans[s].append(t)
    _log_skipped(pairs_tsv, stats)
    if drop_identical:
        logger.info("%s: %d identical pair(s) dropped (--drop-identical)", pairs_tsv, n_ident)
    if lemmatizer is not None:
        logger.info("%s: %d target word(s) lemmatized (%s)", pairs_tsv, n_lemma, lemmatize_tgt)
    if not trans:
        raise UserError(f"{pairs_tsv}: no pair has both words in the corpora "
                        f"(>= {min_count} times each)")
    score = {s: max(rank_s[s], min(rank_t[t] for t in ts)) for s, ts in trans.items()}
    chosen = sorted(score, key=lambda s: (score[s], s))[:n]
    out = [f"{s} {t}" for s in chosen for t in sorted(trans[s], key=lambda t: rank_t[t])]
    counts = {"pairs_file_lines": n_lines, "multiword_or_empty_skipped": n_multi,
              "identical_dropped": n_ident, "tgt_lemmatized": n_lemma,
              "candidate_source_words": len(trans), "source_words": len(chosen),
              "lines": len(out), "identical_pairs": sum(1 for s in chosen if s in trans[s]),
              "worst_rank": max(score[s] for s in chosen)}
    if len(chosen) < n:
        logger.warning("only %d source words qualify (asked for %d)", len(chosen), n)
    return out, counts


__all__ = ["frequent_dictionary"]


if __name__ == "__main__":  # the command moved (same flags, ``dict`` dropped)
    import sys

    print("error: python -m fairseq_xdomain.ubli.eval_dictionary dict ...: moved, use "
          "`xdomain-ubli dictionary ...` (the same flags)", file=sys.stderr)
    sys.exit(2)
