"""Cross-lingual word similarity (SemEval-2017 Task 2, subtask 2; the paper's Table 6).

Every pair ``(w1, w2)`` (``w1`` in the source language, ``w2`` in the target language) is scored
by the cosine of their vectors; the predictions are compared with the gold 0-4 scores by Pearson
and Spearman correlation and their harmonic mean ``2 r rho / (r + rho)`` (the task's ranking
score).

The cosine is taken in one shared space, and the output says which (``space``):
``joint`` (one jointly trained model; pass the same ``.vec`` twice), ``aligned`` (separately
trained vectors, the source mapped by a UBLI mapping ``--mapping W.npy|.pt`` applied to row
vectors as ``x @ W``, the convention of ``fairseq_xdomain.ubli``; ``--mapping-format muse``
(older spelling ``--mapping-transpose``) for a MUSE ``best_mapping.pth``, which maps ``W x``;
the one loader and its rule: ``embeddings/mapping_io.py``; or a source ``.vec`` already
mapped), or ``as-given``. ``--lowercase`` lowercases the embedding words as MUSE does.

Input layouts: the SemEval one (``xx-yy.test.data.txt`` with ``w1<TAB>w2``, and
``xx-yy.test.gold.txt`` with one score per line; a ``.gold.txt`` next to a ``.data.txt`` is found
automatically) or one plain file of ``w1<TAB>w2<TAB>score`` lines.

Files are read by ``common/textio.py`` (BOM and CRLF ignored; invalid UTF-8 is a one-line error
naming the line). Lookup of a term: the exact string (a term with a no-break space inside finds a
``.vec`` word spelled the same, see ``common/whitespace.py``), else its lower-cased form (counted),
else, for a multi-word term (words separated by any white space, U+00A0 included, or ``_``), the
average of the vectors of its words that are in the
vocabulary (counted, and counted as partial when some words are missing). A pair with an
unknown term is out of vocabulary (OOV): it gets the fixed ``--oov-score`` (counted; a submission
to the official scorer must score every line) and ``--skip-oov`` adds the covered-only figures.
``--out-scores`` writes one predicted score per line (official scorer input).
``--json X.json`` writes the result, a :class:`fairseq_xdomain.results.WordsimResult` (with
X.md next to it), labelled with ``--pair``, ``--domains`` and ``--init`` for the report's
Table 6 (``--domains UN-Wiki --init joint`` is the row "UN-Wiki w/ Joint PT").

Vectors are read with :func:`fairseq_xdomain.embeddings.vecio.load_vec`.
Console script: ``xdomain-wordsim --src-emb A.vec --tgt-emb B.vec --pairs FILE [--gold FILE]``.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .common.atomic import write_text
from .common.cli import ArgumentParser, setup_logging
from .common.errors import UserError, cli_entry
from .common.textio import FIX_LINE_HINT, iter_lines
from .embeddings.case import case_only_misses, lowercase_vectors
from .embeddings.mapping_io import MAPPING_FORMATS, add_mapping_format_argument, applied_as
from .embeddings.mapping_io import load_mapping as read_mapping
from .results import WordsimResult, write_result

log = logging.getLogger(__name__)

SPACES = ("joint", "aligned", "as-given")


# --------------------------------------------------------------------------- input


def load_pairs(pairs_path, gold_path=None) -> tuple[list[tuple[str, str]], np.ndarray | None]:
    """Read term pairs and gold scores (SemEval two-file layout or plain three-column file).

    Returns ``(pairs, gold)``; ``gold`` is None when there are no scores anywhere.
    """
    pairs: list[tuple[str, str]] = []
    inline: list[float] = []
    n_cols = None
    for lineno, line in enumerate(iter_lines(pairs_path, on_bad_utf8="fail", hint=FIX_LINE_HINT,
                                             what="pairs file"), 1):
        if not line.strip():
            raise UserError(f"{pairs_path}: empty line {lineno}")
        cols = [c.strip() for c in line.split("\t")]
        if len(cols) not in (2, 3) or not cols[0] or not cols[1]:
            raise UserError(f"{pairs_path}: line {lineno} must be 'term1<TAB>term2[<TAB>score]', "
                            f"got {line!r}")
        if n_cols is None:
            n_cols = len(cols)
        elif len(cols) != n_cols:
            raise UserError(f"{pairs_path}: line {lineno} has {len(cols)} columns, line 1 had "
                            f"{n_cols}")
        pairs.append((cols[0], cols[1]))
        if len(cols) == 3:
            inline.append(_score(cols[2], pairs_path, lineno))
    if not pairs:
        raise UserError(f"{pairs_path}: no pairs")
    if gold_path is not None:
        if n_cols == 3:
            raise UserError(f"{gold_path}: --gold given but {pairs_path} already has scores")
        gold_lines = iter_lines(gold_path, on_bad_utf8="fail", hint=FIX_LINE_HINT,
                                what="gold file")
        gold = [_score(line, gold_path, i) for i, line in enumerate(gold_lines, 1)
                if line.strip()]
        if len(gold) != len(pairs):
            raise UserError(f"{gold_path}: {len(gold)} scores for {len(pairs)} pairs in "
                            f"{pairs_path}")
        return pairs, np.asarray(gold, dtype=np.float64)
    if n_cols == 3:
        return pairs, np.asarray(inline, dtype=np.float64)
    return pairs, None


def _score(text: str, path, lineno: int) -> float:
    try:
        value = float(text.strip().split("\t")[0])
    except ValueError:
        raise UserError(f"{path}: line {lineno}: score {text.strip()!r} is not a number") from None
    if not np.isfinite(value):
        raise UserError(f"{path}: line {lineno}: score {text.strip()!r} is not finite")
    return value


def default_gold_path(pairs_path) -> str | None:
    """``xx-yy.test.data.txt`` -> ``xx-yy.test.gold.txt`` when that file exists."""
    p = os.fspath(pairs_path)
    if p.endswith(".data.txt"):
        gold = p[: -len(".data.txt")] + ".gold.txt"
        if os.path.exists(gold):
            return gold
    return None


def load_mapping(path, dim: int, fmt: str = "auto") -> np.ndarray:
    """A ``dim x dim`` UBLI mapping applied as ``x @ W`` (float64), read by the one mapping
    loader (:func:`fairseq_xdomain.embeddings.mapping_io.load_mapping`; ``fmt`` ours|muse|auto)."""
    return read_mapping(path, dim, fmt).astype(np.float64)


# --------------------------------------------------------------------------- scoring


@dataclass
class LookupStats:
    """How terms were found (nothing is dropped silently): counts per way, the first 20 OOV
    terms as examples, and every OOV term (``oov_terms_all``, for the case check)."""

    oov_terms: list = field(default_factory=list)
    oov_terms_all: list = field(default_factory=list)
    exact: int = 0
    lowercased: int = 0
    multiword: int = 0
    multiword_partial: int = 0
    oov: int = 0


def term_vector(term: str, vectors, stats: LookupStats) -> np.ndarray | None:
    """Vector of a term (see module docstring for the lookup order), or None if OOV."""
    w2i = vectors.word2id
    if term in w2i:
        stats.exact += 1
        return vectors.vectors[w2i[term]].astype(np.float64)
    if term.lower() in w2i:
        stats.lowercased += 1
        return vectors.vectors[w2i[term.lower()]].astype(np.float64)
    words = term.replace("_", " ").split()
    if len(words) > 1:
        found = []
        for w in words:
            if w in w2i:
                found.append(w2i[w])
            elif w.lower() in w2i:
                found.append(w2i[w.lower()])
        if found:
            stats.multiword += 1
            if len(found) < len(words):
                stats.multiword_partial += 1
            return vectors.vectors[found].astype(np.float64).mean(axis=0)
    stats.oov += 1
    stats.oov_terms_all.append(term)
    if len(stats.oov_terms) < 20:
        stats.oov_terms.append(term)
    return None


def score_pairs(pairs, src, tgt, *, mapping: np.ndarray | None = None, oov_score: float = 0.0):
    """Cosine per pair in the shared space; returns (scores, covered mask, src stats, tgt stats).

    ``src``/``tgt`` are vecio ``WordVectors``; ``mapping`` (if any) maps source row vectors,
    ``x @ mapping``. OOV pairs get ``oov_score``.
    """
    if src.dim != tgt.dim:
        raise UserError(f"{tgt.path or 'target vectors'}: dimension {tgt.dim} differs from the "
                        f"source vectors' {src.dim}")
    s_stats, t_stats = LookupStats(), LookupStats()
    scores = np.full(len(pairs), float(oov_score))
    covered = np.zeros(len(pairs), dtype=bool)
    for i, (a, b) in enumerate(pairs):
        va = term_vector(a, src, s_stats)
        vb = term_vector(b, tgt, t_stats)
        if va is None or vb is None:
            continue
        if mapping is not None:
            va = va @ mapping
        na, nb = np.linalg.norm(va), np.linalg.norm(vb)
        if na == 0 or nb == 0:
            continue
        scores[i] = float(va @ vb / (na * nb))
        covered[i] = True
    return scores, covered, s_stats, t_stats


def correlations(pred, gold) -> dict:
    """Pearson, Spearman and their harmonic mean (None where undefined, e.g. constant input)."""
    from scipy.stats import pearsonr, spearmanr

    pred = np.asarray(pred, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    if len(pred) < 2 or np.ptp(pred) == 0 or np.ptp(gold) == 0:
        return {"pearson": None, "spearman": None, "harmonic_mean": None, "n": int(len(pred))}
    r = float(pearsonr(pred, gold)[0])
    rho = float(spearmanr(pred, gold)[0])
    hm = 2 * r * rho / (r + rho) if (r + rho) != 0 else 0.0
    return {"pearson": r, "spearman": rho, "harmonic_mean": float(hm), "n": int(len(pred))}


def evaluate(src_emb, tgt_emb, pairs_path, gold_path=None, *, mapping_path=None,
             mapping_transpose: bool = False, oov_score: float = 0.0, skip_oov: bool = False, space: str | None = None,
             max_vocab: int | None = None, pair: str | None = None, domains: str | None = None,
             init: str | None = None, out_scores=None, mapping_format: str = "auto",
             lowercase: bool = False) -> dict:
    """Score a pairs file with two vector files; return a JSON-ready record (its correlations,
    coverage in [0, 1], counts, files; :func:`to_result` makes the typed result of it).
    ``pair``/``domains``/``init`` are labels for the report (``"en-de"``, ``"UN-Wiki"``,
    ``"separate"`` | ``"joint"``). ``mapping_format``: the mapping's convention (``ours``:
    ``x @ W``, ``muse``: MUSE's ``W x``, ``auto``: see ``embeddings/mapping_io.py``);
    ``mapping_transpose`` is the older spelling of ``mapping_format="muse"``. ``lowercase``:
    lowercase the embedding words as MUSE does (``embeddings/case.py``); without it, terms
    missing only because of case are counted in a warning. Raises ``UserError`` for bad input
    files or flags."""
    from .embeddings.vecio import load_vec

    if gold_path is None:
        gold_path = default_gold_path(pairs_path)
    pairs, gold = load_pairs(pairs_path, gold_path)
    same = os.path.realpath(os.fspath(src_emb)) == os.path.realpath(os.fspath(tgt_emb))
    if mapping_format not in MAPPING_FORMATS:
        raise UserError(f"--mapping-format must be one of {', '.join(MAPPING_FORMATS)}")
    if mapping_transpose:
        if mapping_format == "ours":
            raise UserError("--mapping-transpose (= --mapping-format muse) contradicts "
                            "--mapping-format ours")
        mapping_format = "muse"
    src = load_vec(src_emb, max_vocab)
    tgt = src if same else load_vec(tgt_emb, max_vocab)
    if lowercase:
        src = lowercase_vectors(src)[0]
        tgt = src if same else lowercase_vectors(tgt)[0]
    mapping = load_mapping(mapping_path, src.dim, mapping_format) if mapping_path else None
    if space is None:
        space = "aligned" if mapping is not None else ("joint" if same else "as-given")
    if space not in SPACES:
        raise UserError(f"--space must be one of {', '.join(SPACES)}")
    scores, covered, s_stats, t_stats = score_pairs(pairs, src, tgt, mapping=mapping,
                                                    oov_score=oov_score)
    n_cov = int(covered.sum())
    if not lowercase:
        case_lost = {side: case_only_misses(st.oov_terms_all, wv.word2id)
                     for side, st, wv in (("source", s_stats, src), ("target", t_stats, tgt))}
        if any(case_lost.values()):
            log.warning("%s: %d source and %d target terms are out of vocabulary only because "
                        "of case (e.g. 'paris' vs 'Paris'); --lowercase lowercases the embedding "
                        "words as MUSE does", pairs_path, case_lost["source"],
                        case_lost["target"])
    if n_cov == 0:
        raise UserError(f"{pairs_path}: no pair is covered by the vectors ({src_emb}, {tgt_emb}); "
                        f"e.g. OOV {(s_stats.oov_terms + t_stats.oov_terms)[:5]}")
    if out_scores:
        write_text(out_scores, "".join(f"{s:.6f}\n" for s in scores))
    rec = {
        "pair": pair, "domains": domains, "init": init, "space": space,
        "src_emb": os.fspath(src_emb), "tgt_emb": os.fspath(tgt_emb),
        "mapping": os.fspath(mapping_path) if mapping_path else None,
        "mapping_applied_as": applied_as(mapping_format) if mapping_path else None,
        "pairs_file": os.fspath(pairs_path), "gold_file": os.fspath(gold_path) if gold_path else None,
        "n_pairs": len(pairs), "n_covered": n_cov, "n_oov_pairs": len(pairs) - n_cov,
        "coverage": n_cov / len(pairs),
        "terms": {side: {"exact": st.exact, "lowercased": st.lowercased,
                         "multiword": st.multiword, "multiword_partial": st.multiword_partial,
                         "oov": st.oov, "oov_examples": st.oov_terms}
                  for side, st in (("src", s_stats), ("tgt", t_stats))},
        "config": {"oov_score": oov_score, "skip_oov": skip_oov, "max_vocab": max_vocab,
                   "lowercase": lowercase,
                   "similarity": "cosine", "multiword": "mean of word vectors"},
    }
    if gold is not None:
        rec.update(correlations(scores, gold))  # every pair, OOV ones at the fallback score
        if skip_oov:
            rec["covered_only"] = correlations(scores[covered], gold[covered])
    else:
        rec.update({"pearson": None, "spearman": None, "harmonic_mean": None, "n": len(pairs)})
    log.info("%d/%d pairs covered (%.1f%%), space %s", n_cov, len(pairs), 100 * rec["coverage"],
             space)
    return rec


#: record keys that are fields of :class:`~fairseq_xdomain.results.WordsimResult`; the others go
#: to its ``details``
_RESULT_FIELDS = ("pair", "domains", "init", "space", "pearson", "spearman", "harmonic_mean",
                  "coverage", "n_pairs", "n_covered", "covered_only", "config")


def to_result(rec: dict, wall_s: float | None = None) -> WordsimResult:
    """The :class:`~fairseq_xdomain.results.WordsimResult` of an :func:`evaluate` record."""
    return WordsimResult(**{k: rec[k] for k in _RESULT_FIELDS if k in rec},
                         details={k: v for k, v in rec.items() if k not in _RESULT_FIELDS},
                         wall_s=wall_s)


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


@cli_entry
def main(argv=None) -> int:
    p = ArgumentParser(prog="xdomain-wordsim", description=__doc__.split("\n\n")[0])
    p.add_argument("--src-emb", "--src_emb", required=True,
                   help="source .vec/.bin (or the joint one)")
    p.add_argument("--tgt-emb", "--tgt_emb", required=True,
                   help="target .vec/.bin (the same file if joint)")
    p.add_argument("--pairs", required=True, help="xx-yy.test.data.txt or w1<TAB>w2<TAB>score")
    p.add_argument("--gold", default=None, help="xx-yy.test.gold.txt (found next to .data.txt)")
    p.add_argument("--mapping", default=None,
                   help="UBLI mapping W (.npy, or a torch file with --mapping-format), applied "
                        "as x @ W")
    add_mapping_format_argument(p)
    p.add_argument("--mapping-transpose", action="store_true",
                   help="apply the mapping as W x (MUSE's best_mapping.pth): the older spelling "
                        "of --mapping-format muse")
    p.add_argument("--space", default=None, choices=SPACES,
                   help="say which shared space (default: joint if both files are the same, "
                        "aligned with --mapping, else as-given)")
    p.add_argument("--oov-score", type=float, default=0.0, help="fallback score of OOV pairs")
    p.add_argument("--skip-oov", action="store_true", help="also report covered pairs only")
    p.add_argument("--max-vocab", "--max_vocab", type=int, default=None,
                   help="words read from each .vec, most frequent first (None: all)")
    p.add_argument("--lowercase", action="store_true",
                   help="lowercase the embedding words as MUSE does (of words equal once "
                        "lowercased, the first, most frequent, keeps its vector)")
    p.add_argument("--pair", default=None, help="label, e.g. en-de (for xdomain-report)")
    p.add_argument("--domains", default=None,
                   help='label: source-target corpus domains, e.g. "UN-Wiki" (for xdomain-report)')
    p.add_argument("--init", default=None, choices=("separate", "joint"),
                   help="label: separately trained (and aligned) or jointly pre-trained vectors")
    p.add_argument("--seed", type=int, default=None,
                   help="label: the seed of the run that trained the vectors (xdomain-run "
                        "wordsim --seeds), kept in the result's config; xdomain-report gives "
                        "mean ± sd over seeds")
    p.add_argument("--out-scores", default=None, help="write one predicted score per line")
    p.add_argument("--json", "-o", "--output", dest="json", default=None,
                   help="write the result (and a .md next to it)")
    args = p.parse_args(argv)
    setup_logging()
    t0 = time.perf_counter()
    rec = evaluate(args.src_emb, args.tgt_emb, args.pairs, args.gold, mapping_path=args.mapping,
                   mapping_transpose=args.mapping_transpose, oov_score=args.oov_score, skip_oov=args.skip_oov, space=args.space,
                   max_vocab=args.max_vocab, pair=args.pair, domains=args.domains,
                   init=args.init, out_scores=args.out_scores,
                   mapping_format=args.mapping_format, lowercase=args.lowercase)
    if args.seed is not None:
        rec["config"]["seed"] = args.seed
    if args.json:
        write_result(args.json, to_result(rec, time.perf_counter() - t0))
    print(f"space {rec['space']}: Pearson {_fmt(rec['pearson'])}  Spearman "
          f"{_fmt(rec['spearman'])}  harmonic mean {_fmt(rec['harmonic_mean'])}  coverage "
          f"{rec['n_covered']}/{rec['n_pairs']} ({rec['n_oov_pairs']} OOV pairs scored "
          f"{args.oov_score})")
    if "covered_only" in rec:
        c = rec["covered_only"]
        print(f"covered only ({c['n']} pairs): Pearson {_fmt(c['pearson'])}  Spearman "
              f"{_fmt(c['spearman'])}  harmonic mean {_fmt(c['harmonic_mean'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
