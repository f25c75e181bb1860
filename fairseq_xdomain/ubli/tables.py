"""The UBLI result tables of one language pair (paper Tables 2 and 3), and a test-dictionary helper.

``python -m fairseq_xdomain.ubli.tables table`` reads what ``recipes/ubli.sh`` produced (the two
grid summaries, the copy and identical-strings baselines, the STDM record) and writes
``table.md`` (Table 2: separate vs joint vs delta; Table 3: method vs copying baseline vs delta vs
STDM), ``table.csv`` and ``table.json`` in one folder. Missing inputs show as ``n/a``, never as 0.

``python -m fairseq_xdomain.ubli.tables dict`` builds a MUSE-format test dictionary from a
bilingual word list (``src<TAB>tgt`` per line, e.g. FreeDict) and two tokenized corpora: the N
source words with a translation that are most frequent in *both* corpora (ranked by the worse of
the source word's rank in the source corpus and its best translation's rank in the target corpus),
each with every translation seen at least ``--min-count`` times in the target corpus.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
from collections import Counter
from pathlib import Path

from ..common.atomic import read_json, write_json, write_text
from ..common.errors import UserError, cli_entry
from ..common.textio import LineStats, iter_lines, require_file
from ..common.whitespace import split_tokens

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- reading records


def p_at_1(rec, method="csls"):
    """P@1 in percent from a grid summary, an align/baseline record, or None."""
    if rec is None:
        return None
    if isinstance(rec.get("p1"), dict) and rec["p1"].get(method) is not None:
        return float(rec["p1"][method])
    for key in (f"{method}_p@1", "copy_p@1", "p@1", "precision_at_1", "acc1"):
        if rec.get(key) is not None:
            return float(rec[key])
    for sub in ("evaluation", "eval", "result", "selected_record"):
        if isinstance(rec.get(sub), dict):
            val = p_at_1(rec[sub], method)
            if val is not None:
                return val
    return None


def _get(rec, key):
    if rec is None:
        return None
    if rec.get(key) is not None:
        return rec[key]
    for sub in ("evaluation", "eval", "result", "selected_record"):
        if isinstance(rec.get(sub), dict) and rec[sub].get(key) is not None:
            return rec[sub][key]
    return None


def _load(path):
    if not path:
        return None
    p = Path(path)
    if not p.is_file():
        logger.warning("%s: missing, shown as n/a", p)
        return None
    try:
        return read_json(p)
    except (OSError, ValueError) as err:
        raise UserError(f"{p}: not a readable JSON file ({err})") from err


def _fmt(x, signed=False, nd=1):
    if x is None:
        return "n/a"
    return f"{x:+.{nd}f}" if signed else f"{x:.{nd}f}"


def _diff(a, b):
    return None if a is None or b is None else a - b


# ----------------------------------------------------------------------------- tables


def build_rows(pair, domains, grid_sep, grid_joint, copy, ident_sep, ident_joint, stdm):
    """Rows of Table 2 and Table 3 as dicts (numbers in percent, None when not available)."""
    sep, joint = p_at_1(grid_sep), p_at_1(grid_joint)
    copy_p1 = p_at_1(copy, "copy")
    stdm_v = None if stdm is None else stdm.get("stdm")
    t2 = [
        {"table": 2, "row": f"{domains}", "init": "separate", "method": "muse", "p1_csls": sep,
         "p1_nn": p_at_1(grid_sep, "nn"), "coverage": _get(grid_sep, "coverage"),
         "criterion": _get(grid_sep, "criterion"),
         "configuration": _get(grid_sep, "selected_configuration")},
        {"table": 2, "row": f"{domains} w/ Joint Pre-training", "init": "joint", "method": "muse",
         "p1_csls": joint, "p1_nn": p_at_1(grid_joint, "nn"),
         "coverage": _get(grid_joint, "coverage"), "criterion": _get(grid_joint, "criterion"),
         "configuration": _get(grid_joint, "selected_configuration")},
        {"table": 2, "row": "delta", "p1_csls": _diff(joint, sep),
         "p1_nn": _diff(p_at_1(grid_joint, "nn"), p_at_1(grid_sep, "nn"))},
    ]
    t3 = []
    for label, init, rec in (
            ("Søgaard et al. (2018): identical strings", "separate", ident_sep),
            ("Identical strings, joint embeddings", "joint", ident_joint),
            ("Joint pre-training (MUSE grid)", "joint", grid_joint),
            ("Separate pre-training (MUSE grid)", "separate", grid_sep)):
        if rec is None and init == "joint" and label.startswith("Identical"):
            continue  # optional row
        acc = p_at_1(rec)
        t3.append({"table": 3, "row": label, "init": init, "p1_csls": acc,
                   "copy_p1": copy_p1, "delta": _diff(acc, copy_p1), "stdm": stdm_v,
                   "coverage": _get(rec, "coverage")})
    return {"pair": pair, "domains": domains, "table2": t2, "table3": t3,
            "copy": copy, "stdm": stdm}


def to_markdown(res) -> str:
    pair, dom = res["pair"], res["domains"]
    t2 = {r["init"] if "init" in r else "delta": r for r in res["table2"]}
    lines = [f"# UBLI {pair}: {dom}", "",
             "## Table 2: retrieval accuracy@1 (CSLS), MUSE grid selected by the unsupervised "
             "criterion", "",
             f"| Source Domain-Target Domain | {pair} | NN P@1 | coverage | criterion | selected "
             "(seed, epochs, refinement) |", "|---|---:|---:|---:|---:|---|"]
    for key in ("separate", "joint", "delta"):
        r = t2[key]
        cfgd = r.get("configuration")
        cfg_s = (f"{cfgd['seed']}, {cfgd['epochs']}, {cfgd['refinement']}" if cfgd else "")
        cov = r.get("coverage")
        lines.append(
            f"| {r['row'] if key != 'delta' else '∆'} | {_fmt(r['p1_csls'], key == 'delta')} | "
            f"{_fmt(r['p1_nn'], key == 'delta')} | "
            f"{'' if key == 'delta' else ('n/a' if cov is None else f'{100 * cov:.1f}%')} | "
            f"{'' if key == 'delta' else _fmt(r.get('criterion'), nd=4)} | {cfg_s} |")
    lines += ["", "## Table 3: accuracy@1 vs the copying baseline, and STDM", "",
              "| Method | Language Pair | Src/Tgt Domain | Acc@1 | Copying Baseline | ∆ | STDM |",
              "|---|---|---|---:|---:|---:|---:|"]
    for r in res["table3"]:
        lines.append(f"| {r['row']} | {pair} | {dom.replace(' - ', '/')} | {_fmt(r['p1_csls'])} | "
                     f"{_fmt(r['copy_p1'])} | {_fmt(r['delta'], True)} | "
                     f"{_fmt(r['stdm'], nd=2)} |")
    copy = res.get("copy") or {}
    copy = copy.get("evaluation", copy)
    stdm = res.get("stdm") or {}
    notes = ["", "Acc@1 = CSLS P@1 in percent over the covered test words (coverage in Table 2)."]
    if copy:
        notes.append(f"Copying baseline: coverage {100 * copy.get('coverage', 0):.1f}% of "
                     f"{copy.get('n_source_words', '?')} source words; over all source words "
                     f"{_fmt(copy.get('copy_p@1_all'))}.")
    if stdm:
        notes.append(f"STDM compares `{stdm.get('corpus1')}` and `{stdm.get('corpus2')}` (the "
                     "target language in both domains, as Shen et al. 2021).")
    else:
        notes.append("STDM n/a: it needs a second corpus in the target language from the source "
                     "domain (`--stdm-corpus`).")
    return "\n".join(lines + notes) + "\n"


def to_csv(res) -> str:
    buf = io.StringIO()
    fields = ["table", "row", "init", "pair", "domains", "p1_csls", "p1_nn", "copy_p1", "delta",
              "stdm", "coverage", "criterion"]
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in res["table2"] + res["table3"]:
        w.writerow({**r, "pair": res["pair"], "domains": res["domains"]})
    return buf.getvalue()


def write_tables(out, **kw):
    res = build_rows(**kw)
    out = Path(out)
    write_json(out / "table.json", {k: v for k, v in res.items()})
    write_text(out / "table.csv", to_csv(res))
    md = to_markdown(res)
    write_text(out / "table.md", md)
    return res, md


# ----------------------------------------------------------------------------- test dictionary


def _counts(path):
    """Word counts of a tokenized corpus: the words fastText sees (``common/whitespace.py``)."""
    require_file(path)
    c = Counter()
    stats = LineStats()
    for line in iter_lines(path, stats=stats, hint="", what="corpus"):
        c.update(split_tokens(line))
    _log_skipped(path, stats)
    return c


def _log_skipped(path, stats):
    if stats.bad_utf8:
        logger.warning("%s: skipped %d line(s) with invalid UTF-8", path, stats.bad_utf8)


def frequent_dictionary(pairs_tsv, src_corpus, tgt_corpus, n=1500, min_count=5, lowercase=True):
    """Return (lines "src tgt", stats): the ``n`` source words frequent in both corpora."""
    cs, ct = _counts(src_corpus), _counts(tgt_corpus)
    rank_s = {w: i for i, (w, _) in enumerate(cs.most_common())}
    rank_t = {w: i for i, (w, _) in enumerate(ct.most_common())}
    trans: dict = {}
    n_lines = n_multi = 0
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
        if cs.get(s, 0) >= min_count and ct.get(t, 0) >= min_count:
            trans.setdefault(s, [])
            if t not in trans[s]:
                trans[s].append(t)
    _log_skipped(pairs_tsv, stats)
    if not trans:
        raise UserError(f"{pairs_tsv}: no pair has both words in the corpora "
                        f"(>= {min_count} times each)")
    score = {s: max(rank_s[s], min(rank_t[t] for t in ts)) for s, ts in trans.items()}
    chosen = sorted(score, key=lambda s: (score[s], s))[:n]
    out = [f"{s} {t}" for s in chosen for t in sorted(trans[s], key=lambda t: rank_t[t])]
    stats = {"pairs_file_lines": n_lines, "multiword_or_empty_skipped": n_multi,
             "candidate_source_words": len(trans), "source_words": len(chosen),
             "lines": len(out), "identical_pairs": sum(1 for s in chosen if s in trans[s]),
             "worst_rank": max(score[s] for s in chosen)}
    if len(chosen) < n:
        logger.warning("only %d source words qualify (asked for %d)", len(chosen), n)
    return out, stats


# ----------------------------------------------------------------------------- command line


def _parser():
    p = argparse.ArgumentParser(prog="python -m fairseq_xdomain.ubli.tables",
                                description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="Tables 2 and 3 of one pair from the recipe's JSON files")
    t.add_argument("--pair", required=True)
    t.add_argument("--domains", required=True, help='e.g. "Wiki - UN"')
    t.add_argument("--grid-separate")
    t.add_argument("--grid-joint")
    t.add_argument("--copy")
    t.add_argument("--identical-separate")
    t.add_argument("--identical-joint")
    t.add_argument("--stdm")
    t.add_argument("--out", required=True, help="folder for table.md/.csv/.json")
    d = sub.add_parser("dict", help="MUSE-format test dictionary of words frequent in both corpora")
    d.add_argument("--pairs", required=True, help="src<TAB>tgt word list")
    d.add_argument("--src-corpus", required=True)
    d.add_argument("--tgt-corpus", required=True)
    d.add_argument("-n", type=int, default=1500)
    d.add_argument("--min-count", type=int, default=5)
    d.add_argument("-o", "--output", required=True)
    return p


@cli_entry
def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.cmd == "table":
        _, md = write_tables(
            args.out, pair=args.pair, domains=args.domains,
            grid_sep=_load(args.grid_separate), grid_joint=_load(args.grid_joint),
            copy=_load(args.copy), ident_sep=_load(args.identical_separate),
            ident_joint=_load(args.identical_joint), stdm=_load(args.stdm))
        print(md)
        return 0
    lines, stats = frequent_dictionary(args.pairs, args.src_corpus, args.tgt_corpus, args.n,
                                       args.min_count)
    write_text(args.output, "\n".join(lines) + "\n")
    write_json(str(args.output) + ".json", stats)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
