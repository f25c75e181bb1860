"""One Markdown report from all experiment results, laid out like the paper's Tables 2-6.

``xdomain-report RESULTS_DIR [--out REPORT.md]`` reads every ``RESULTS_DIR/**/*.json`` through
:func:`fairseq_xdomain.results.read_result` (the one schema of results: ``fairseq_xdomain/results.py``,
fields and units in ``docs/wordsim-report.md``), and lays the results out next to the paper's own
figures (``fairseq_xdomain/data/paper_numbers.json``) where the same row exists. It also writes
``report.json`` (the tables as data, plus a ``headline`` summary) and BLEU-vs-epoch plots (PNG).
A JSON file that is not a valid result (unreadable, no ``kind``, an intermediate record such as a
grid configuration, an unknown field...) is skipped, counted by reason and listed in the report;
nothing is dropped silently. A folder with no usable result is a one-line error (exit status 2),
not an empty report.

What each table takes (nothing is guessed: a result without what its table needs is counted as
skipped):

Table 2 (separate vs joint pre-training) and Table 3 (vs the copying baseline, with STDM)
    ``ubli`` results with ``pair``, ``domains``, ``init`` and ``p_at_1`` (CSLS P@1 in %);
    ``method`` ``muse`` gives Table 2 and the MUSE rows of Table 3, ``identical`` and ``copy``
    the baseline rows; ``stdm`` results with a ``pair`` fill Table 3's STDM column. When two
    results share (pair, domains, init, method), the one with the best unsupervised
    ``criterion`` is kept (the paper's selection rule) and the other is counted as a duplicate.
    A per-pair folder of ``recipes/ubli.sh`` (grid results for separate and joint, baselines,
    STDM) therefore gives that pair's Tables 2 and 3.
UBLI, every method (the paper's and beyond it)
    every tabulated ``ubli`` result, one row per (pair, domains, method, init), under the
    ``method`` its producer wrote and the label of the one method table
    (``fairseq_xdomain/ubli_methods.py``; a ``+ortho`` method shows the orthography-aware
    retrieval's P@1): P@1 over all test pairs and over the non-identical ones, wall time.
Tables 4/5 (UNMT)
    ``unmt`` curves, grouped by (``data``, ``direction``), ``init`` baseline vs joint.
Table 6 (word similarity)
    ``wordsim`` results with ``pair``, ``domains``, ``init`` and ``harmonic_mean``; the row is
    ``domains`` for matched domains (``Wiki-Wiki``), else ``"{domains} w/ Joint PT"`` (init
    joint) or ``"{domains} w/o Joint PT"`` (init separate), the paper's row names. Results of
    several seeds (``config["seed"]``: ``xdomain-run wordsim --seeds``) of one row and pair give
    mean ± sd in the cell and each seed's value in a table of their own.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

from .common.atomic import write_json, write_text
from .common.cli import ArgumentParser, setup_logging
from .common.errors import UserError, cli_entry
from .common.markdown import table
from .provenance import portable_cell, portable_path
from .results import (
    SELECTORS,
    NotAResult,
    STDMResult,
    UBLIResult,
    UNMTCurve,
    WordsimResult,
    read_result,
)
from .significance import (
    bootstrap_p_at_1,
    format_mean_sd,
    mcnemar_exact,
    mean_sd,
    paired_bootstrap_bleu,
)
from .ubli_methods import METHODS

log = logging.getLogger(__name__)

KINDS = ("ubli", "stdm", "unmt", "wordsim")
PAPER_NUMBERS = Path(__file__).with_name("data") / "paper_numbers.json"
REPORT_FILES = {"report.json"}
#: skipped files listed by name in the report, per reason
LIST_SKIPPED = 20


def load_paper_numbers() -> dict:
    """The paper's figures (``fairseq_xdomain/data/paper_numbers.json``)."""
    with open(PAPER_NUMBERS, encoding="utf-8") as handle:
        return json.load(handle)


# --------------------------------------------------------------------------- discovery


def discover(results_dir) -> tuple[dict[str, list[tuple[str, object]]], dict[str, list[str]]]:
    """({kind: [(file relative to results_dir, result)]}, {reason: [skipped files]}).

    Raises ``UserError`` when ``results_dir`` is not a folder."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"{root}: results folder does not exist")
    records: dict[str, list[tuple[str, object]]] = {k: [] for k in KINDS}
    skipped: dict[str, list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*.json")):
        if path.name in REPORT_FILES or path.name.startswith("."):
            continue
        rel = os.fspath(path.relative_to(root))
        try:
            res = read_result(path)
        except NotAResult as err:
            log.warning("skipped %s", err)
            skipped[err.reason].append(rel)
            continue
        records[res.kind].append((rel, res))
    return records, dict(skipped)


# --------------------------------------------------------------------------- tables


def _fmt(x, digits=1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _delta(a, b, digits=1) -> str:
    return "–" if a is None or b is None else f"{a - b:+.{digits}f}"


def _crit_key(res: UBLIResult) -> float:
    return res.criterion if res.criterion is not None else float("-inf")


def select_ubli(records: list[tuple[str, UBLIResult]]) -> tuple[dict, dict[str, list[str]]]:
    """{(pair, domains, init, method): result} of the tabulable ubli results (``method`` as its
    producer wrote it, a name of :data:`~fairseq_xdomain.ubli_methods.METHODS`), and the files
    left out by reason (no pair/domains/init/P@1; a duplicate with a lower criterion). A result
    of a method with an ``ortho_row`` that was scored with orthography-aware retrieval too
    (``csls_ortho_p@1`` in its metrics) also fills that row."""
    groups: dict[tuple, list[tuple[str, UBLIResult]]] = defaultdict(list)
    left: dict[str, list[str]] = defaultdict(list)
    for rel, res in records:
        if None in (res.pair, res.domains, res.init, res.p_at_1):
            left["ubli result without pair/domains/init/P@1 (not tabulated)"].append(rel)
            continue
        groups[(res.pair, res.domains, res.init, res.method)].append((rel, res))
    chosen = {}
    for key, items in groups.items():
        best = max(range(len(items)), key=lambda i: (_crit_key(items[i][1]), i))
        chosen[key] = items[best][1]
        left["ubli duplicate (same pair, domains, init, method; lower criterion)"] += [
            rel for i, (rel, _) in enumerate(items) if i != best]
        second = METHODS[key[3]].ortho_row
        if second and "csls_ortho_p@1" in chosen[key].metrics:
            chosen[(*key[:3], second)] = chosen[key]
    return chosen, {k: v for k, v in left.items() if v}


def table2(ubli: dict, paper: dict) -> tuple[list[str], list[dict]]:
    """Separate vs joint (MUSE method) per pair and domains, with the paper's Table 2."""
    p2 = paper["table2"]
    rows, data = [], []
    keys = sorted({(k[0], k[1]) for k in ubli if k[3] == "muse"})
    for pair, dom in keys:
        sep = ubli.get((pair, dom, "separate", "muse"))
        joint = ubli.get((pair, dom, "joint", "muse"))
        s = sep.p_at_1 if sep else None
        j = joint.p_at_1 if joint else None
        ps = p2["rows"].get(dom, {}).get(pair)
        pj = p2["rows"].get(f"{dom} w/ Joint Pre-training", {}).get(pair)
        rows.append([pair, dom, _fmt(s), _fmt(j), _delta(j, s), _fmt(ps), _fmt(pj),
                     _delta(pj, ps)])
        data.append({"pair": pair, "domains": dom, "separate": s, "joint": j,
                     "paper_separate": ps, "paper_joint": pj})
    head = ["pair", "domains", "separate", "joint", "Δ", "paper separate", "paper joint",
            "paper Δ"]
    return (table(head, rows, "llrrrrrr") if rows else []), data


def _selected_text(sel: dict) -> str:
    if {"seed", "epochs", "refinement"} <= set(sel):
        return f"seed {sel['seed']}, {sel['epochs']} epochs, {sel['refinement']} refinement"
    return ", ".join(f"{k} {v}" for k, v in sel.items() if k in ("epoch", "refinement"))


#: P@1 over the test pairs whose two words differ, by the retrieval the result's P@1 is of
NONIDENT_KEYS = ("csls_p@1_nonident", "ortho_p@1_nonident")

def _p1(res: UBLIResult, method: str) -> tuple:
    """(P@1, P@1 over the non-identical test pairs) in % of a result tabulated as ``method``:
    the orthography-aware retrieval's for ``+ortho``, 0 over non-identical pairs for copying
    (by definition); None where unknown."""
    m = res.metrics
    if METHODS[method].ortho:
        return m.get("csls_ortho_p@1"), m.get("csls_ortho_p@1_nonident")
    if res.method == "copy":
        return res.p_at_1, 0.0
    return res.p_at_1, next((m[k] for k in NONIDENT_KEYS if k in m), None)


def _notes(res: UBLIResult, method: str) -> str:
    """What was selected or done: the grid's configuration and rule, the map scored, the
    orthography weight, the words reallocation split, the self-learning iterations."""
    sel, notes = res.selected, []
    if _selected_text(sel):
        notes.append(_selected_text(sel))
    if sel.get("selection_rule"):
        notes.append(f"rule {sel['selection_rule']}")
    if sel.get("candidate"):
        notes.append(f"candidate {sel['candidate']}")
    if method.startswith("evaluate") and res.config.get("mapping"):
        path = Path(res.config["mapping"])
        notes.append(f"map {path.parent.name}/{path.name}")
    if METHODS[method].ortho and res.metrics.get("ortho_weight") is not None:
        notes.append(f"w = {res.metrics['ortho_weight']:g}")
    split = res.details.get("reallocation") if res.method == "reallocate" else None
    if isinstance(split, dict) and "n_shared" in split:
        notes.append(f"{split.get('n_src_specific', 0)}+{split.get('n_tgt_specific', 0)} of "
                     f"{split['n_shared']} shared words split")
    if res.method == "self-learning" and res.details.get("n_iterations") is not None:
        notes.append(f"{res.details['n_iterations']} iterations")
    return "; ".join(notes)


def _per_word(res: UBLIResult, method: str) -> dict | None:
    """{covered source word: 1/0 (CSLS top-1 correct)} of a result (``per_word_top1`` that
    ``ubli/evaluation.py`` writes, in ``details`` or ``metrics``), or None (none stored, or a
    row whose P@1 is not plain CSLS: orthography-aware retrieval, copying)."""
    if METHODS[method].ortho or res.method == "copy":
        return None
    pw = res.details.get("per_word_top1") or res.metrics.get("per_word_top1")
    if not isinstance(pw, dict) or not isinstance(pw.get("csls"), list):
        return None
    return dict(zip(pw["words"], pw["csls"]))


def ubli_significance(ubli: dict) -> dict:
    """{result key: {"ci": bootstrap 95% interval of its P@1, "mcnemar": exact McNemar test vs
    the best paper method of its (pair, domains) on their common test words, "vs": that
    method's label}} for the results that store per-word correctness (``significance.py``)."""
    out = {}
    best: dict[tuple, tuple] = {}
    for key, res in ubli.items():
        if METHODS[key[3]].beyond is None and _per_word(res, key[3]) is not None:
            cur = best.get(key[:2])
            if cur is None or (res.p_at_1 or 0) > (ubli[cur].p_at_1 or 0):
                best[key[:2]] = key
    for key, res in ubli.items():
        pw = _per_word(res, key[3])
        if pw is None:
            continue
        entry = {"ci": bootstrap_p_at_1(list(pw.values()), seed=0).to_dict()}
        ref = best.get(key[:2])
        if ref is not None and ref != key:
            rw = _per_word(ubli[ref], ref[3])
            common = [w for w in pw if w in rw]
            if common:
                entry["mcnemar"] = mcnemar_exact([rw[w] for w in common],
                                                 [pw[w] for w in common]).to_dict()
                entry["vs"] = f"{METHODS[ref[3]].label}, {ref[2]}"
        out[key] = entry
    return out


def ubli_details(ubli: dict) -> tuple[list[str], list[dict]]:
    """Every tabulated ubli result, every method (the paper's and beyond it; rows in the order
    of :data:`~fairseq_xdomain.ubli_methods.METHODS`): P@1 (%) over all test pairs and over the non-identical ones (in
    a joint space an identical string is trivially its own neighbour), NN P@1, coverage,
    criterion, what was selected, wall time (s). Returns (Markdown lines, rows as data)."""
    order = {m: i for i, m in enumerate(METHODS)}
    sig = ubli_significance(ubli)
    rows, data = [], []
    for (pair, dom, init, method), res in sorted(
            ubli.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][3], len(order)),
                                          kv[0][3], kv[0][2])):
        m = res.metrics
        cov = m.get("coverage")
        p1, nonident = _p1(res, method)
        label, notes = METHODS[method].label, portable_cell(_notes(res, method))
        s = sig.get((pair, dom, init, method), {})
        ci = f"{s['ci']['lower']:.1f}–{s['ci']['upper']:.1f}" if "ci" in s else "–"
        mc = (f"{s['mcnemar']['p_value']:.3f} ({s['mcnemar']['c']}+/{s['mcnemar']['b']}−)"
              if "mcnemar" in s else "–")
        rows.append([pair, dom, label, init, _fmt(p1), ci, mc, _fmt(nonident),
                     _fmt(m.get("nn_p@1")), "–" if cov is None else f"{100 * cov:.1f}%",
                     _fmt(res.criterion, 4), notes, _fmt(res.wall_s)])
        data.append({"pair": pair, "domains": dom, "method": method, "label": label,
                     "init": init, "p_at_1": p1, "p_at_1_nonident": nonident,
                     "criterion": res.criterion, "notes": notes, "wall_s": res.wall_s,
                     "significance": s})
    head = ["pair", "domains", "method", "vectors", "P@1", "P@1 95% CI",
            "McNemar p vs best paper method (+/− words)", "P@1 non-identical", "NN P@1",
            "coverage", "criterion", "selected / notes", "wall s"]
    return (table(head, rows, "llllrrrrrrrlr") if rows else []), data


#: Table 3 rows: (label, report key, init, method, key of the paper's row or None)
TABLE3_ROWS = (
    ("identical strings (Søgaard et al. 2018)", "identical", "separate", "identical", "identical"),
    ("identical strings, joint embeddings", "identical_joint", "joint", "identical", None),
    ("joint pre-training (MUSE grid)", "joint", "joint", "muse", "joint"),
    ("separate pre-training (MUSE grid)", "separate", "separate", "muse", None),
    ("orthographic: character n-grams, no embeddings (beyond the paper)", "ortho", "separate",
     "ortho", None),
)


def table3(ubli: dict, stdm_recs: list[tuple[str, STDMResult]],
           paper: dict) -> tuple[list[str], list[dict]]:
    """Identical-words seed method and joint pre-training vs the copying baseline, with STDM."""
    stdm_by_pair = {res.pair: res.stdm for _, res in stdm_recs if res.pair is not None}
    paper_rows = {(r["method"], r["pair"]): r for r in paper["table3"]["rows"]}
    rows, data = [], []
    for pair, dom in sorted({(k[0], k[1]) for k in ubli}):
        copy = ubli.get((pair, dom, "separate", "copy")) or ubli.get((pair, dom, "joint", "copy"))
        c = copy.p_at_1 if copy else None
        st = stdm_by_pair.get(pair)
        for label, method, init, ubli_method, paper_key in TABLE3_ROWS:
            res = ubli.get((pair, dom, init, ubli_method))
            if res is None:
                continue
            pr = paper_rows.get((paper_key, pair)) if paper_key else None
            paper_txt = (f"{pr['acc1']:.1f} / {pr['copy_baseline']:.1f} / {pr['delta']:+.1f} / "
                         f"{pr['stdm']:.2f}" if pr else "–")
            rows.append([label, pair, dom, _fmt(res.p_at_1), _fmt(c), _delta(res.p_at_1, c),
                         _fmt(st, 2), paper_txt])
            data.append({"method": method, "pair": pair, "domains": dom, "acc1": res.p_at_1,
                         "copy_baseline": c, "stdm": st, "paper": pr})
    head = ["method", "pair", "domains", "Acc@1", "copying baseline", "Δ", "STDM",
            "paper (Acc@1 / copy / Δ / STDM)"]
    return (table(head, rows, "lllrrrrl") if rows else []), data


def _same_label(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def unmt_groups(records: list[tuple[str, UNMTCurve]]) -> tuple[dict, dict[str, list[str]]]:
    """{(data, direction): {init: {seed: curve}}} (seed None for a curve without one); and
    duplicates left out (a later file of the same (data, direction, init, seed))."""
    groups: dict[tuple, dict] = defaultdict(lambda: defaultdict(dict))
    left: dict[str, list[str]] = defaultdict(list)
    for rel, res in records:
        cell = groups[(res.data, res.direction)][res.init]
        if res.seed in cell:
            left["unmt duplicate (same data, direction, init, seed)"].append(rel)
            continue
        cell[res.seed] = res
    return {k: dict(v) for k, v in groups.items()}, dict(left)


def _seed_key(seed) -> tuple:
    return (seed is None, seed if seed is not None else 0)


def _curve_values(curve: UNMTCurve) -> list[float]:
    """The per-epoch curve of the tables and plots: dev BLEU, or round-trip BLEU without a
    parallel dev set."""
    return list(curve.bleu or curve.rt_bleu)


def _first(by_seed: dict | None) -> UNMTCurve | None:
    return by_seed[sorted(by_seed, key=_seed_key)[0]] if by_seed else None


def _paper_unmt(paper: dict, data: str, direction: str):
    for tname in ("table4", "table5"):
        for row in paper[tname]["rows"]:
            if _same_label(row["data"], data) and row["direction"] == direction:
                return tname, row
    return None, None


def unmt_tables(groups: dict, paper: dict) -> tuple[list[str], list[dict]]:
    """One table per (data, direction): the per-epoch curve (dev BLEU, or round-trip BLEU
    without a parallel dev set) of each init and seed, Δ (one seed), the paper's rows; the
    selected checkpoint's epoch marked ``*``."""
    lines, data = [], []
    for (mono, direction), inits in sorted(groups.items()):
        seeds = sorted({s for by in inits.values() for s in by}, key=_seed_key)
        curves = {init: _first(by) for init, by in inits.items()}
        n = max(len(c.epochs) for by in inits.values() for c in by.values())
        kind = "dev BLEU" if any(c.bleu for by in inits.values() for c in by.values()) \
            else "round-trip BLEU (no parallel dev set)"
        lines.append(f"**{direction}**, monolingual data: {mono}; {kind} per epoch\n")

        def row(label, values, chosen=None, n=n):
            return [label, *((_fmt(values[e], 2) + ("*" if chosen == e + 1 else ""))
                             if values and e < len(values) else "–" for e in range(n))]

        rows = []
        for init, label in (("baseline", "UNMT baseline"), ("joint", "w/ joint pre-training")):
            for seed in seeds:
                c = inits.get(init, {}).get(seed)
                if c is None:
                    continue
                name = f"{label} (seed {seed})" if len(seeds) > 1 else label
                rows.append(row(name, _curve_values(c), c.selected_epoch))
        base, joint = curves.get("baseline"), curves.get("joint")
        b = _curve_values(base) if base else None
        j = _curve_values(joint) if joint else None
        if b and j and len(seeds) == 1:
            rows.append(["Δ", *(_delta(j[e], b[e], 2) if e < min(len(b), len(j)) else "–"
                                for e in range(n))])
        tname, prow = _paper_unmt(paper, mono, direction)
        if prow:
            rows.append(row(f"paper {tname[-1]} baseline", prow["baseline"]))
            rows.append(row(f"paper {tname[-1]} joint", prow["joint"]))
        lines.extend(table(["", *(str(e + 1) for e in range(n))], rows, "l" + "r" * n))
        sig = next((c.signature for by in inits.values() for c in by.values() if c.signature),
                   None)
        if sig:
            lines.append(f"\nBLEU signature: `{sig}`")
        lines.append("")
        data.append({"data": mono, "direction": direction, "baseline": b, "joint": j,
                     "curve": "dev BLEU" if kind == "dev BLEU" else "round-trip BLEU",
                     "paper_table": tname, "signature": sig,
                     "seeds": {init: {str(s): _curve_values(c) for s, c in by.items()}
                               for init, by in inits.items()}})
    return lines, data


def _selector_label(curves) -> str:
    names = sorted({c.selector for c in curves if c.selector})
    return " / ".join(SELECTORS.get(x, x) for x in names) or "not recorded"


def _paired_bootstrap(base: UNMTCurve, joint: UNMTCurve) -> dict | None:
    """Paired bootstrap (joint vs baseline) on the same test references, or None."""
    tb, tj = base.details.get("test"), joint.details.get("test")
    if not (isinstance(tb, dict) and isinstance(tj, dict)) or \
            tb.get("references") != tj.get("references") or not tb.get("references"):
        return None
    from .bleu_meter import resolve_tokenize

    tgt = base.direction.split("-")[1]
    quiet = logging.getLogger("sacrebleu")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # sacrebleu logs every resampling step at INFO
    try:
        test = paired_bootstrap_bleu(tb["hypotheses"], tj["hypotheses"], tb["references"],
                                     tokenize=resolve_tokenize("auto", tgt))
    finally:
        quiet.setLevel(level)
    return test.to_dict()


def unmt_test_table(groups: dict) -> tuple[list[str], list[dict]]:
    """Test BLEU of the checkpoint each run selected without the test set (dev BLEU, or
    round-trip BLEU without a parallel dev set): mean ± sd over seeds and each seed's value,
    baseline vs joint, Δ of the means, the paired bootstrap p-value of joint vs baseline (per
    seed, sacrebleu's)."""
    rows, data = [], []
    for (mono, direction), inits in sorted(groups.items()):
        base, joint = inits.get("baseline", {}), inits.get("joint", {})
        tb = {s: c.test_bleu for s, c in base.items() if c.test_bleu is not None}
        tj = {s: c.test_bleu for s, c in joint.items() if c.test_bleu is not None}
        if not tb and not tj:
            continue
        allc = [*base.values(), *joint.values()]
        mb = mean_sd(list(tb.values())) if tb else None
        mj = mean_sd(list(tj.values())) if tj else None
        tests = {}
        for seed in sorted(set(base) & set(joint), key=_seed_key):
            t = _paired_bootstrap(base[seed], joint[seed])
            if t is not None:
                tests[str(seed)] = t
        per_seed = "; ".join(
            f"seed {s}: {_fmt(tb.get(s), 2)} / {_fmt(tj.get(s), 2)}"
            for s in sorted(set(tb) | set(tj), key=_seed_key))
        pvals = ", ".join(f"{t['p_value']:.3f}" for t in tests.values()) or "–"
        epochs = "; ".join(
            (f"seed {seed}: " if seed is not None else "") + " / ".join(
                str(by[seed].selected_epoch) if seed in by and by[seed].selected_epoch
                else "–" for by in (base, joint))
            for seed in sorted(set(base) | set(joint), key=_seed_key))
        rows.append([mono, direction, format_mean_sd(mb, 2) if mb else "–",
                     format_mean_sd(mj, 2) if mj else "–",
                     _delta(mj.mean if mj else None, mb.mean if mb else None, 2), pvals,
                     _selector_label(allc), epochs or "–", per_seed])
        data.append({"data": mono, "direction": direction,
                     "baseline": mb.to_dict() if mb else None,
                     "joint": mj.to_dict() if mj else None, "selector": _selector_label(allc),
                     "paired_bootstrap": tests,
                     "signature": next((c.signature for c in allc if c.signature), None)})
    head = ["monolingual data", "direction", "baseline test BLEU", "joint test BLEU", "Δ",
            "paired bootstrap p (joint vs baseline)", "selected by",
            "selected epoch (baseline / joint)",
            "each seed (baseline / joint)"]
    return (table(head, rows, "llrrrrlll") if rows else []), data


def table6_row(res: WordsimResult) -> str:
    """The paper's Table 6 row of a result: ``domains`` when both domains are the same
    (``Wiki-Wiki``), else ``"{domains} w/ Joint PT"`` (init joint) / ``"... w/o Joint PT"``."""
    src, _, tgt = res.domains.partition("-")
    if src == tgt:
        return res.domains
    return f"{res.domains} w/ Joint PT" if res.init == "joint" else f"{res.domains} w/o Joint PT"


def _wordsim_seed(res: WordsimResult) -> int | None:
    """The seed of the run that trained a word-similarity result's vectors (``config["seed"]``,
    written by ``xdomain-run wordsim --seeds``); None for a run without one."""
    seed = res.config.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def table6(records: list[tuple[str, WordsimResult]],
           paper: dict) -> tuple[list[str], list[dict], dict[str, list[str]]]:
    """Word similarity per (row, pair) with the paper's Table 6; and the results left out.

    Results of several seeds (``xdomain-run wordsim --seeds``) of one (row, pair) make one cell,
    mean ± sample sd over the seeds (:func:`~fairseq_xdomain.significance.mean_sd`); its data
    entry adds ``mean_sd`` and ``seeds`` ({seed: {harmonic_mean, pearson, spearman,
    coverage}}, for :func:`table6_seeds`) and its ``harmonic_mean`` is the mean. One result per
    cell: the cell and its entry as without seeds."""
    cells: dict[tuple, dict] = {}
    left: dict[str, list[str]] = defaultdict(list)
    for rel, res in records:
        if None in (res.pair, res.domains, res.init, res.harmonic_mean):
            left["wordsim result without pair/domains/init/harmonic_mean"].append(rel)
            continue
        by_seed = cells.setdefault((table6_row(res), res.pair), {})
        seed = _wordsim_seed(res)
        if seed in by_seed:
            left["wordsim duplicate (same row and pair)" if seed is None else
                 "wordsim duplicate (same row, pair and seed)"].append(rel)
            continue
        by_seed[seed] = res
    if not cells:
        return [], [], dict(left)
    pairs = sorted({p for _, p in cells})
    order = list(paper["table6"]["rows"])
    labels = sorted({lab for lab, _ in cells},
                    key=lambda s: (order.index(s) if s in order else len(order), s))
    rows, data = [], []
    for lab in labels:
        out = []
        for p in pairs:
            by_seed = cells.get((lab, p), {})
            pv = paper["table6"]["rows"].get(lab, {}).get(p)
            if len(by_seed) > 1:
                seeds = sorted(by_seed, key=_seed_key)
                summary = mean_sd([by_seed[s].harmonic_mean for s in seeds])
                covs = "/".join(dict.fromkeys(f"{by_seed[s].coverage:.0%}" for s in seeds))
                spaces = "/".join(dict.fromkeys(by_seed[s].space for s in seeds))
                out.append(f"{format_mean_sd(summary, 3)} [{covs} cov., {spaces}] "
                           f"({_fmt(pv, 2)})")
                data.append({"setting": lab, "canonical": lab, "pair": p,
                             "harmonic_mean": summary.mean, "paper": pv,
                             "mean_sd": summary.to_dict(),
                             "seeds": {str(s): {"harmonic_mean": by_seed[s].harmonic_mean,
                                                "pearson": by_seed[s].pearson,
                                                "spearman": by_seed[s].spearman,
                                                "coverage": by_seed[s].coverage}
                                       for s in seeds}})
                continue
            res = next(iter(by_seed.values()), None)
            ours = res.harmonic_mean if res else None
            cov = f" [{res.coverage:.0%} cov., {res.space}]" if res else ""
            out.append(f"{_fmt(ours, 3)}{cov} ({_fmt(pv, 2)})")
            data.append({"setting": lab, "canonical": lab, "pair": p, "harmonic_mean": ours,
                         "paper": pv})
        rows.append([lab, *out])
    return table(["setting", *(f"{p} (paper)" for p in pairs)], rows), data, dict(left)


def table6_seeds(t6: list[dict]) -> list[str]:
    """Each seed's word-similarity scores of the Table 6 cells that have several seeds (the
    entries of :func:`table6`); no lines when none has."""
    rows = [[r["setting"], r["pair"], seed, _fmt(v["harmonic_mean"], 3), _fmt(v["pearson"], 3),
             _fmt(v["spearman"], 3), f"{v['coverage']:.0%}"]
            for r in t6 for seed, v in r.get("seeds", {}).items()]
    head = ["setting", "pair", "seed", "harmonic mean", "Pearson", "Spearman", "coverage"]
    return table(head, rows, "llrrrrr") if rows else []


def stdm_table(records: list[tuple[str, STDMResult]]) -> list[str]:
    """Every STDM result: pair, domains, the two corpora, STDM."""
    rows = [[res.pair or "-", res.domains or "-", portable_cell(res.corpus1),
             portable_cell(res.corpus2), f"{res.stdm:.3f}"]
            for _, res in sorted(records, key=lambda x: x[0])]
    head = ["pair", "domains", "corpus 1", "corpus 2", "STDM"]
    return table(head, rows, "llllr") if rows else []


def plot_unmt(groups: dict, out_dir: Path, ylabel: str | dict = "dev BLEU") -> list[Path]:
    """One figure per (data, direction): BLEU vs epoch, baseline vs joint (``plots.py``: PNG at
    2x and SVG, integer epochs, labels, legend). ``groups``: {(data, direction): {init: values}};
    ``ylabel``: one label, or one per group key; returns the PNG paths."""
    from .plots import new_figure, save_figure, style_epoch_axes

    paths = []
    for (mono, direction), curves in sorted(groups.items()):
        fig, ax = new_figure()
        for init, style in (("baseline", "o--"), ("joint", "s-")):
            if curves.get(init):
                c = curves[init]
                ax.plot(range(1, len(c) + 1), c, style, label=init)
        label = ylabel.get((mono, direction), "BLEU") if isinstance(ylabel, dict) else ylabel
        style_epoch_axes(ax, ylabel=label, title=f"{direction} ({mono})")
        slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{direction}_{mono}").strip("_")
        paths.append(save_figure(fig, out_dir / f"bleu_{slug}")[0])
    return paths


def headline(t2: list[dict], t6: list[dict], unmt: list[dict]) -> list[str]:
    """Joint vs separate/baseline in one small table (what the demo prints). Every number is
    selected without the test set: UBLI's P@1 of the configuration the unsupervised criterion
    picked, word similarity of the (unsupervised) selected space, UNMT's test BLEU of the
    checkpoint dev BLEU (or round-trip BLEU) picked, never a maximum over epochs. ``unmt``: the
    rows of :func:`unmt_test_table`; mean ± sd where there are several seeds (UNMT, and word
    similarity: :func:`table6`'s ``mean_sd``)."""
    rows = []
    for r in t2:
        if r["separate"] is not None and r["joint"] is not None:
            rows.append([f"UBLI P@1 ({r['domains']}; unsupervised selection)", r["pair"],
                         f"{r['separate']:.1f}", f"{r['joint']:.1f}",
                         f"{r['joint'] - r['separate']:+.1f}"])
    by_pair = defaultdict(dict)
    for r in t6:
        if r["harmonic_mean"] is not None:
            by_pair[r["pair"]][r["canonical"]] = r

    def ws_cell(r):  # mean ± sd over seeds (table6's mean_sd entry), else the one value
        return format_mean_sd(mean_sd(r["mean_sd"]["values"]), 3) if "mean_sd" in r else \
            f"{r['harmonic_mean']:.3f}"

    for pair, vals in sorted(by_pair.items()):
        s, j = vals.get("UN-Wiki w/o Joint PT"), vals.get("UN-Wiki w/ Joint PT")
        if s is not None and j is not None:
            rows.append(["word similarity (UN-Wiki; unsupervised selection)", pair, ws_cell(s),
                         ws_cell(j), f"{j['harmonic_mean'] - s['harmonic_mean']:+.3f}"])
    for r in unmt:
        if r["baseline"] and r["joint"]:
            b, j = r["baseline"], r["joint"]

            def cell(x):
                return format_mean_sd(mean_sd(x["values"]), 2) if x["n"] > 1 else \
                    f"{x['mean']:.2f}"

            rows.append([f"UNMT test BLEU ({r['data']}; checkpoint by {r['selector']})",
                         r["direction"], cell(b), cell(j), f"{j['mean'] - b['mean']:+.2f}"])
    head = ["experiment", "pair", "separate / baseline", "joint", "Δ"]
    return table(head, rows) if rows else []


def build_report(results_dir, out=None, plots: bool = True) -> dict:
    """Write the Markdown report (default ``RESULTS_DIR/report.md``), ``report.json`` next to it
    and the UNMT plots (``plots/``); return {"report", "json", "plots", "headline", "counts",
    "skipped"} (``skipped``: {reason: number of files}). Raises ``UserError`` when the folder
    does not exist or holds no usable result."""
    root = Path(results_dir)
    records, skipped_files = discover(root)
    paper = load_paper_numbers()
    out = Path(out) if out else root / "report.md"
    ubli, left_ubli = select_ubli(records["ubli"])
    t2_lines, t2 = table2(ubli, paper)
    d_lines, details = ubli_details(ubli)
    t3_lines, t3 = table3(ubli, records["stdm"], paper)
    groups, left_unmt = unmt_groups(records["unmt"])
    u_lines, u_data = unmt_tables(groups, paper)
    ut_lines, ut_data = unmt_test_table(groups)
    t6_lines, t6, left_ws = table6(records["wordsim"], paper)
    t6s_lines = table6_seeds(t6)
    s_lines = stdm_table(records["stdm"])
    for left in (left_ubli, left_unmt, left_ws):
        for why, files in left.items():
            skipped_files.setdefault(why, []).extend(files)
    skipped = {why: len(files) for why, files in skipped_files.items()}
    usable = ubli or groups or t6 or records["stdm"]
    if not usable:
        why = ("no *.json result file" if not skipped else "skipped: " + ", ".join(
            f"{n} × {why}" for why, n in sorted(skipped.items())))
        raise UserError(f"{root}: no result to report ({why})")
    plot_groups = {k: {init: _curve_values(_first(by)) for init, by in inits.items()}
                   for k, inits in groups.items()}
    labels = {(u["data"], u["direction"]): u["curve"] for u in u_data}
    png = plot_unmt(plot_groups, out.parent / "plots", labels) if plots else []
    head = headline(t2, t6, ut_data)
    md = ["# fairseq-xdomain results", "",
          f"Results folder `{portable_path(root)}`: {sum(len(v) for v in records.values())} results "
          f"({', '.join(f'{len(v)} {k}' for k, v in records.items())}). "
          "Paper figures in parentheses or in the *paper* columns (from "
          "`fairseq_xdomain/data/paper_numbers.json`). P@1 / Acc@1 in %, coverage of the test "
          "dictionary in %, BLEU 0-100.", ""]
    if head:
        md += ["## Headline: joint pre-training vs separate / baseline", "", *head, ""]

    def section(title, lines, note=""):
        md.extend([f"## {title}", ""])
        md.extend(lines if lines else ["(no results)"])
        if note and lines:
            md.extend(["", note])
        md.append("")

    section("Table 2: UBLI P@1 (%), separate vs joint pre-training", t2_lines,
            "P@1: CSLS P@1 of the configuration selected by the unsupervised criterion.")
    if d_lines:
        section("UBLI, every method: the paper's and beyond the paper, with wall time",
                d_lines,
                "P@1: CSLS P@1 (copy/ortho: their own P@1; orthography-aware retrieval: the "
                "combined score's; NN P@1 stays plain nearest-neighbour retrieval), over the "
                "covered test words, with its 95% bootstrap interval (1000 resamples of the test "
                "words) and the exact McNemar test against the best of the paper's methods on "
                "the same words (+/−: words only this row / only that method gets right); "
                "P@1 non-identical: over the "
                "test pairs whose two words differ (in a joint space an identical string is "
                "trivially its own neighbour; copying scores 0 there by definition). vectors: "
                "separately or jointly trained fastText. wall s: the method's own time "
                "(fastText not included; seconds on different machines or loads do not "
                "compare).")
    section("Table 3: method vs copying baseline, with STDM", t3_lines)
    section("UNMT: test BLEU of the selected checkpoint, baseline vs joint pre-training",
            ut_lines, "Each run's checkpoint is selected without the test set (the maximum of "
            "dev BLEU, or of round-trip BLEU on monolingual valid text when there is no parallel "
            "dev set; Lample et al. 2018); mean ± sample sd over seeds; p: paired bootstrap "
            "resampling (sacrebleu, 1000 resamples), per seed.")
    section("Tables 4/5: UNMT BLEU per epoch, baseline vs joint pre-training", u_lines,
            "The paper's per-epoch dev curves; `*` marks the selected checkpoint. The summary "
            "numbers are the test BLEU above, not the maximum of these curves.")
    if png:
        md.extend([f"![{p.stem}]({os.path.relpath(p, out.parent)})" for p in png] + [""])
    section("Table 6: cross-lingual word similarity (harmonic mean of Pearson and Spearman)",
            t6_lines, "Each cell: ours [coverage, space] (paper)"
            + ("; ours over several seeds: mean ± sample sd (n seeds), each seed below." if
               t6s_lines else "."))
    if t6s_lines:
        section("Table 6, each seed (xdomain-run wordsim --seeds)", t6s_lines,
                "The harmonic mean of Pearson and Spearman, and the two, of each seed's run "
                "(its fastText vectors trained with that seed).")
    section("STDM", s_lines)
    if skipped:
        md.extend(["## Skipped files", ""])
        for why, files in sorted(skipped_files.items()):
            more = f", … ({len(files) - LIST_SKIPPED} more)" if len(files) > LIST_SKIPPED else ""
            md.append(f"- {len(files)} × {why}: "
                      + ", ".join(f"`{f}`" for f in files[:LIST_SKIPPED]) + more)
        md.append("")
    write_text(out, "\n".join(md))
    json_path = out.with_name("report.json")
    write_json(json_path, {"kind": "report", "results_dir": os.fspath(root), "table2": t2,
                           "ubli_methods": details, "table3": t3, "unmt": u_data,
                           "unmt_test": ut_data, "table6": t6, "headline": head,
                           "skipped": skipped_files, "plots": [os.fspath(p) for p in png]})
    return {"report": out, "json": json_path, "plots": png, "headline": head,
            "counts": {k: len(v) for k, v in records.items()}, "skipped": skipped}


@cli_entry
def main(argv=None) -> int:
    p = ArgumentParser(prog="xdomain-report", description=__doc__.split("\n\n")[0])
    p.add_argument("results_dir", help="folder searched for result files (RESULTS_DIR/**/*.json)")
    p.add_argument("--out", "-o", "--output", dest="out", default=None,
                   help="report path (default RESULTS_DIR/report.md)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    args = p.parse_args(argv)
    setup_logging()
    res = build_report(args.results_dir, args.out, plots=not args.no_plots)
    print(f"report: {res['report']}")
    if res["headline"]:
        print("\n".join(res["headline"]))
    else:
        print("(no joint-vs-separate pairs found for a headline table)")
    if res["skipped"]:
        print("skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(res["skipped"].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
