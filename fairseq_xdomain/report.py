"""One Markdown report from all experiment results, laid out like the paper's Tables 2-6.

``xdomain-report RESULTS_DIR [--out REPORT.md]`` reads every ``RESULTS_DIR/**/*.json`` that is a
JSON object with a ``"kind"`` field, and lays the records out next to the paper's own figures
(``fairseq_xdomain/data/paper_numbers.json``) where the same row exists. It also writes
``report.json`` (the tables as data, plus a ``headline`` summary) and BLEU-vs-epoch plots (PNG).
Files that are not JSON objects, have no known kind, or lack the fields below are skipped and
counted in the report; nothing is dropped silently. A folder with no usable result at all (no
record of a known kind with the fields below) is a one-line error (exit status 2), not an empty
report.

Fields read per kind (first name found wins; everything else is ignored):

``ubli`` (one record per run, or per grid configuration)
    ``pair`` (``"en-es"``: source-target), ``domains`` (``"Wiki-UN"``; ``"src_domain"`` +
    ``"tgt_domain"`` also work), ``init`` (``"separate"`` | ``"joint"``; default separate),
    ``method`` (``"muse"`` | ``"identical"`` | ``"copy"``; default muse), P@1 in percent from
    ``p1`` | ``precision_at_1`` | ``acc1`` | ``csls_p@1`` | ``copy_p@1`` (a ``{"csls": x, "nn": y}``
    dict gives csls; also inside ``evaluation`` or ``selected_record``). Also read without
    ``kind``: the ``table.json`` of ``python -m fairseq_xdomain.ubli.tables`` (``pair``,
    ``domains``, ``table2``/``table3`` rows with ``init``, ``p1_csls``, ``copy_p1``, ``stdm``).
    Records of kind ``ubli_config`` (single grid configurations),
    ``synthetic`` and ``report`` are intermediate: counted, not tabulated. When several
    records share (pair, domains, init, method), the one with ``"selected": true`` wins, else the one
    with the highest unsupervised ``criterion`` (the paper's selection rule), else the last one.
``stdm``
    ``stdm``, ``corpus1``, ``corpus2``, optional ``pair`` and ``domains`` labels (used to fill the
    STDM column of Table 3).
``unmt``
    ``direction`` | ``pair`` (``"en-fr"``), ``init`` (``"baseline"`` | ``"joint"``), ``data`` (label
    of the monolingual data, e.g. ``"En Wiki, Fr UN"``; default ``"-"``), BLEU per epoch from
    ``bleu`` | ``bleu_per_epoch`` (a list, or a dict ``{epoch: bleu}``), or ``epochs`` as a list of
    ``{"epoch": e, "bleu": b}``. Also read without ``kind``: the ``bleu.json`` of
    ``recipes/unmt.sh``, ``{"run", "config", "curves": {"baseline": [{"epoch", "bleu_en_fr",
    "bleu_fr_en"}], "joint": [...]}}`` (data label = ``data`` or the run name).
``wordsim`` (as written by ``xdomain-wordsim --json``)
    ``pair``, ``setting`` (``"Wiki-Wiki"``, ``"UN-Wiki w/o Joint PT"``, ``"UN-Wiki w/ Joint PT"``
    or any label; a label mentioning *joint* without *w/o*/*without*/*no* counts as joint),
    ``harmonic_mean``, ``space``, ``coverage``.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

from .common.atomic import write_json, write_text
from .common.errors import UserError, cli_entry
from .common.markdown import table

log = logging.getLogger(__name__)

KINDS = ("ubli", "stdm", "unmt", "wordsim")
#: records of other parts that are intermediate (one grid configuration, the data generator, ...)
IGNORED_KINDS = ("ubli_config", "synthetic", "report")
PAPER_NUMBERS = Path(__file__).with_name("data") / "paper_numbers.json"
REPORT_FILES = {"report.json"}


def load_paper_numbers() -> dict:
    with open(PAPER_NUMBERS, encoding="utf-8") as handle:
        return json.load(handle)


# --------------------------------------------------------------------------- discovery


def discover(results_dir) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """All records by kind (each with ``_file``), and counts of what was skipped and why."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"{root}: results folder does not exist")
    records: dict[str, list[dict]] = {k: [] for k in KINDS}
    skipped: dict[str, int] = defaultdict(int)
    for path in sorted(root.rglob("*.json")):
        if path.name in REPORT_FILES or path.name.startswith("."):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                rec = json.load(handle)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            log.warning("%s: not readable JSON (%s); skipped", path, err)
            skipped["unreadable JSON"] += 1
            continue
        if isinstance(rec, dict) and "kind" not in rec and _is_bleu_curves(rec):
            rec = {**rec, "kind": "unmt"}  # recipes/unmt.sh bleu.json
        if isinstance(rec, dict) and "kind" not in rec and _is_ubli_table(rec):
            for sub in _expand_ubli_table(rec):  # fairseq_xdomain.ubli.tables table.json
                sub["_file"] = os.fspath(path.relative_to(root))
                records[sub["kind"]].append(sub)
            continue
        if not isinstance(rec, dict) or "kind" not in rec:
            skipped["no 'kind' field"] += 1
            continue
        if rec["kind"] in IGNORED_KINDS:
            skipped[f"intermediate record (kind {rec['kind']!r})"] += 1
            continue
        if rec["kind"] not in KINDS:
            skipped[f"kind {rec['kind']!r}"] += 1
            continue
        rec = dict(rec)
        rec["_file"] = os.fspath(path.relative_to(root))
        records[rec["kind"]].append(rec)
    return records, dict(skipped)


def _is_ubli_table(rec) -> bool:
    return isinstance(rec.get("table2"), list) and isinstance(rec.get("table3"), list) and \
        rec.get("pair") is not None


def _expand_ubli_table(rec: dict) -> list[dict]:
    """``table.json`` of ``python -m fairseq_xdomain.ubli.tables`` -> ubli (and stdm) records."""
    base = {"kind": "ubli", "pair": rec["pair"], "domains": rec.get("domains"), "selected": True}
    out = []
    for row in rec["table2"]:
        if isinstance(row, dict) and row.get("init") in ("separate", "joint"):
            out.append({**base, "init": row["init"], "method": "muse", "p1": row.get("p1_csls"),
                        "criterion": row.get("criterion")})
    copy = None
    for row in rec["table3"]:
        if not isinstance(row, dict):
            continue
        label = str(row.get("row", "")).lower()
        if "identical" in label:
            out.append({**base, "init": row.get("init", "separate"), "method": "identical",
                        "p1": row.get("p1_csls")})
        if row.get("copy_p1") is not None:
            copy = row["copy_p1"]
    if copy is not None:
        out.append({**base, "init": "separate", "method": "copy", "p1": copy})
    if isinstance(rec.get("stdm"), dict) and rec["stdm"].get("stdm") is not None:
        out.append({**rec["stdm"], "kind": "stdm", "pair": rec["stdm"].get("pair") or rec["pair"],
                    "domains": rec["stdm"].get("domains") or rec.get("domains")})
    return [r for r in out if r["kind"] != "ubli" or r.get("p1") is not None]


def _p1(rec: dict):
    """P@1 (percent) of a ubli record, looking into ``evaluation``/``selected_record`` too."""
    val = _num(_first(rec, "p1", "precision_at_1", "acc1", "P@1", "csls_p@1", "copy_p@1", "p@1"))
    if val is None:
        for sub in ("evaluation", "selected_record"):
            if isinstance(rec.get(sub), dict):
                val = _p1(rec[sub])
                if val is not None:
                    break
    return val


def _is_bleu_curves(rec) -> bool:
    curves = rec.get("curves")
    return isinstance(curves, dict) and any(k in curves for k in ("baseline", "joint"))


def _first(rec: dict, *keys, default=None):
    for key in keys:
        if key in rec and rec[key] is not None:
            return rec[key]
    return default


def _num(x):
    if isinstance(x, dict):
        x = _first(x, "csls", "CSLS", "nn", "NN")
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _norm(s) -> str:
    return re.sub(r"[^a-z0-9]+", "", str(s).lower())


def _domains(rec: dict) -> str:
    dom = _first(rec, "domains", "domain")
    if dom is None and ("src_domain" in rec or "tgt_domain" in rec):
        dom = f"{rec.get('src_domain', '?')}-{rec.get('tgt_domain', '?')}"
    return str(dom) if dom is not None else "-"


def _canon_domains(dom: str) -> str:
    """'wiki-un', 'Wiki/UN', 'wiki_un' -> 'Wiki-UN' (paper spelling) where recognisable."""
    parts = [p for p in re.split(r"[-/_ ,]+", dom) if p]
    names = {"wiki": "Wiki", "un": "UN", "europarl": "Europarl"}
    return "-".join(names.get(p.lower(), p) for p in parts) if parts else dom


# --------------------------------------------------------------------------- tables


def _fmt(x, digits=1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _delta(a, b, digits=1) -> str:
    return "–" if a is None or b is None else f"{a - b:+.{digits}f}"


def select_ubli(records: list[dict]) -> tuple[dict, int]:
    """{(pair, domains, init, method): record} with the selection rule; and skipped count."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    bad = 0
    for rec in records:
        p1 = _p1(rec)
        pair = _first(rec, "pair")
        if p1 is None or pair is None:
            bad += 1
            continue
        key = (str(pair).lower(), _canon_domains(_domains(rec)),
               str(_first(rec, "init", default="separate")).lower(),
               str(_first(rec, "method", default="muse")).lower())
        groups[key].append({**rec, "_p1": p1})
    chosen = {}
    for key, recs in groups.items():
        sel = [r for r in recs if r.get("selected") is True]
        if sel:
            chosen[key] = sel[-1]
            continue
        with_crit = [r for r in recs if _num(r.get("criterion")) is not None]
        chosen[key] = max(with_crit, key=lambda r: _num(r["criterion"])) if with_crit else recs[-1]
    return chosen, bad


def table2(ubli: dict, paper: dict) -> tuple[list[str], list[dict]]:
    """Separate vs joint (MUSE method) per pair and domains, with the paper's Table 2."""
    p2 = paper["table2"]
    rows, data = [], []
    keys = sorted({(k[0], k[1]) for k in ubli if k[3] == "muse"})
    for pair, dom in keys:
        sep = ubli.get((pair, dom, "separate", "muse"))
        joint = ubli.get((pair, dom, "joint", "muse"))
        s = sep["_p1"] if sep else None
        j = joint["_p1"] if joint else None
        ps = p2["rows"].get(dom, {}).get(pair)
        pj = p2["rows"].get(f"{dom} w/ Joint Pre-training", {}).get(pair)
        rows.append([pair, dom, _fmt(s), _fmt(j), _delta(j, s), _fmt(ps), _fmt(pj),
                     _delta(pj, ps)])
        data.append({"pair": pair, "domains": dom, "separate": s, "joint": j,
                     "paper_separate": ps, "paper_joint": pj})
    head = ["pair", "domains", "separate", "joint", "Δ", "paper separate", "paper joint",
            "paper Δ"]
    return (table(head, rows) if rows else []), data


def table3(ubli: dict, stdm_recs: list[dict], paper: dict) -> tuple[list[str], list[dict]]:
    """Identical-words seed method and joint pre-training vs the copying baseline, with STDM."""
    stdm_by_pair = {}
    for rec in stdm_recs:
        if rec.get("pair") is not None and _num(rec.get("stdm")) is not None:
            stdm_by_pair[str(rec["pair"]).lower()] = _num(rec["stdm"])
    paper_rows = {(r["method"], r["pair"]): r for r in paper["table3"]["rows"]}
    rows, data = [], []
    for pair, dom in sorted({(k[0], k[1]) for k in ubli}):
        copy = ubli.get((pair, dom, "separate", "copy")) or ubli.get((pair, dom, "joint", "copy"))
        c = copy["_p1"] if copy else None
        st = stdm_by_pair.get(pair)
        for label, key in (("identical-words seed (Søgaard et al.)", (pair, dom, "separate",
                                                                       "identical")),
                           ("joint pre-training", (pair, dom, "joint", "muse"))):
            rec = ubli.get(key)
            if rec is None:
                continue
            method = "identical" if "identical" in label else "joint"
            pr = paper_rows.get((method, pair))
            paper_txt = (f"{pr['acc1']:.1f} / {pr['copy_baseline']:.1f} / {pr['delta']:+.1f} / "
                         f"{pr['stdm']:.2f}" if pr else "–")
            rows.append([label, pair, dom, _fmt(rec["_p1"]), _fmt(c), _delta(rec["_p1"], c),
                         _fmt(st, 2), paper_txt])
            data.append({"method": method, "pair": pair, "domains": dom, "acc1": rec["_p1"],
                         "copy_baseline": c, "stdm": st, "paper": pr})
    head = ["method", "pair", "domains", "Acc@1", "copying baseline", "Δ", "STDM",
            "paper (Acc@1 / copy / Δ / STDM)"]
    return (table(head, rows) if rows else []), data


def _bleu_curve(rec: dict) -> list[float] | None:
    val = _first(rec, "bleu", "bleu_per_epoch")
    if val is None and isinstance(rec.get("epochs"), list):
        pts = [(e.get("epoch"), _num(e.get("bleu"))) for e in rec["epochs"] if isinstance(e, dict)]
        pts = sorted((int(e), b) for e, b in pts if e is not None and b is not None)
        return [b for _, b in pts] or None
    if isinstance(val, dict):
        try:
            items = sorted((int(k), _num(v)) for k, v in val.items())
        except ValueError:
            return None
        return [v for _, v in items if v is not None] or None
    if isinstance(val, list):
        curve = [_num(v) for v in val]
        return curve if curve and all(v is not None for v in curve) else None
    b = _num(val)
    return [b] if b is not None else None


def _expand_curves(rec: dict) -> list[dict]:
    """``{"curves": {"baseline": [{"epoch": 1, "bleu_en_fr": x, ...}], "joint": [...]}}`` (the
    ``recipes/unmt.sh`` layout) -> one plain record per (variant, direction)."""
    if not _is_bleu_curves(rec):
        return [rec]
    cfg = rec.get("config") if isinstance(rec.get("config"), dict) else {}
    data = _first(rec, "data", default=None) or cfg.get("data") or _first(rec, "run") or \
        cfg.get("run") or "-"
    out = []
    for variant, rows in rec["curves"].items():
        if not isinstance(rows, list):
            continue
        keys = sorted({k for r in rows if isinstance(r, dict) for k in r
                       if re.fullmatch(r"bleu_[^_]+_[^_]+", k)})
        for key in keys:
            _, a, b = key.split("_")
            out.append({"kind": "unmt", "init": variant, "data": data, "direction": f"{a}-{b}",
                        "epochs": [{"epoch": r.get("epoch"), "bleu": r.get(key)} for r in rows
                                   if isinstance(r, dict)], "_file": rec.get("_file")})
    return out or [rec]


def unmt_groups(records: list[dict]) -> tuple[dict, int]:
    """{(data, direction): {"baseline": curve, "joint": curve}}; and skipped count."""
    groups: dict[tuple, dict] = defaultdict(dict)
    bad = 0
    for rec in [r for raw in records for r in _expand_curves(raw)]:
        curve = _bleu_curve(rec)
        direction = _first(rec, "direction", "pair")
        if curve is None or direction is None:
            bad += 1
            continue
        init = str(_first(rec, "init", default="baseline")).lower()
        init = "joint" if "joint" in init else "baseline"
        groups[(str(_first(rec, "data", default="-")), str(direction).lower())][init] = curve
    return dict(groups), bad


def _paper_unmt(paper: dict, data: str, direction: str):
    for tname in ("table4", "table5"):
        for row in paper[tname]["rows"]:
            if _norm(row["data"]) == _norm(data) and row["direction"] == direction:
                return tname, row
    return None, None


def unmt_tables(groups: dict, paper: dict) -> tuple[list[str], list[dict]]:
    lines, data = [], []
    for (mono, direction), curves in sorted(groups.items()):
        n = max(len(c) for c in curves.values())
        base, joint = curves.get("baseline"), curves.get("joint")
        lines.append(f"**{direction}**, monolingual data: {mono}\n")

        def row(label, curve, n=n):
            return [label, *(_fmt(curve[e], 2) if curve and e < len(curve) else "–"
                             for e in range(n))]

        rows = [row("UNMT baseline", base), row("w/ joint pre-training", joint)]
        if base and joint:
            rows.append(["Δ", *(_delta(joint[e], base[e], 2) if e < min(len(base), len(joint))
                                else "–" for e in range(n))])
        tname, prow = _paper_unmt(paper, mono, direction)
        if prow:
            rows.append(row(f"paper {tname[-1]} baseline", prow["baseline"]))
            rows.append(row(f"paper {tname[-1]} joint", prow["joint"]))
        lines.extend(table(["", *(str(e + 1) for e in range(n))], rows))
        lines.append("")
        data.append({"data": mono, "direction": direction, "baseline": base, "joint": joint,
                     "paper_table": tname})
    return lines, data


def _setting_canon(setting: str | None, space: str | None) -> str:
    s = (setting or "").lower()
    joint = ("joint" in s and not re.search(r"w/o|without|\bno\b", s)) or (
        not s and space == "joint")
    if "wiki-wiki" in s.replace(" ", "") or "matched" in s and "mismatched" not in s:
        return "Wiki-Wiki"
    return "UN-Wiki w/ Joint PT" if joint else "UN-Wiki w/o Joint PT"


def table6(records: list[dict], paper: dict) -> tuple[list[str], list[dict], int]:
    cells: dict[tuple, dict] = {}
    bad = 0
    for rec in records:
        hm = _num(rec.get("harmonic_mean"))
        if hm is None or rec.get("pair") is None:
            bad += 1
            continue
        label = rec.get("setting") or _setting_canon(None, rec.get("space"))
        cells[(str(label), str(rec["pair"]).lower())] = {**rec, "_hm": hm}
    if not cells:
        return [], [], bad
    pairs = sorted({p for _, p in cells})
    labels = sorted({lab for lab, _ in cells}, key=lambda s: (
        ["Wiki-Wiki", "UN-Wiki w/o Joint PT", "UN-Wiki w/ Joint PT"].index(_setting_canon(s, None)),
        s))
    rows, data = [], []
    for lab in labels:
        canon = _setting_canon(lab, None)
        out = []
        for p in pairs:
            rec = cells.get((lab, p))
            ours = rec["_hm"] if rec else None
            pv = paper["table6"]["rows"].get(canon, {}).get(p)
            cov = f" [{rec['coverage']:.0%} cov., {rec.get('space', '?')}]" if rec and \
                _num(rec.get("coverage")) is not None else ""
            out.append(f"{_fmt(ours, 3)}{cov} ({_fmt(pv, 2)})")
            data.append({"setting": lab, "canonical": canon, "pair": p, "harmonic_mean": ours,
                         "paper": pv})
        rows.append([lab, *out])
    return table(["setting", *(f"{p} (paper)" for p in pairs)], rows), data, bad


def stdm_table(records: list[dict]) -> tuple[list[str], int]:
    rows, bad = [], 0
    for rec in sorted(records, key=lambda r: r["_file"]):
        v = _num(rec.get("stdm"))
        if v is None:
            bad += 1
            continue
        rows.append([rec.get("pair") or "-", rec.get("domains") or "-",
                     rec.get("corpus1", "?"), rec.get("corpus2", "?"), f"{v:.3f}"])
    head = ["pair", "domains", "corpus 1", "corpus 2", "STDM"]
    return (table(head, rows) if rows else []), bad


def plot_unmt(groups: dict, out_dir: Path) -> list[Path]:
    """One PNG per (data, direction): BLEU vs epoch, baseline vs joint."""
    if not groups:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for (mono, direction), curves in sorted(groups.items()):
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for init, style in (("baseline", "o--"), ("joint", "s-")):
            if init in curves:
                c = curves[init]
                ax.plot(range(1, len(c) + 1), c, style, label=init)
        ax.set_xlabel("epoch")
        ax.set_ylabel("BLEU")
        ax.set_title(f"{direction} ({mono})")
        ax.legend()
        fig.tight_layout()
        slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{direction}_{mono}").strip("_")
        path = out_dir / f"bleu_{slug}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp, dpi=100)
        plt.close(fig)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def headline(t2: list[dict], t6: list[dict], unmt: list[dict]) -> list[str]:
    """Joint vs separate/baseline in one small table (what the demo prints)."""
    rows = []
    for r in t2:
        if r["separate"] is not None and r["joint"] is not None:
            rows.append([f"UBLI P@1 ({r['domains']})", r["pair"], f"{r['separate']:.1f}",
                         f"{r['joint']:.1f}", f"{r['joint'] - r['separate']:+.1f}"])
    by_pair = defaultdict(dict)
    for r in t6:
        if r["harmonic_mean"] is not None:
            by_pair[r["pair"]][r["canonical"]] = r["harmonic_mean"]
    for pair, vals in sorted(by_pair.items()):
        s, j = vals.get("UN-Wiki w/o Joint PT"), vals.get("UN-Wiki w/ Joint PT")
        if s is not None and j is not None:
            rows.append(["word similarity (UN-Wiki)", pair, f"{s:.3f}", f"{j:.3f}", f"{j - s:+.3f}"])
    for r in unmt:
        if r["baseline"] and r["joint"]:
            b, j = max(r["baseline"]), max(r["joint"])
            rows.append([f"UNMT best BLEU ({r['data']})", r["direction"], f"{b:.2f}", f"{j:.2f}",
                         f"{j - b:+.2f}"])
    head = ["experiment", "pair", "separate / baseline", "joint", "Δ"]
    return table(head, rows) if rows else []


def build_report(results_dir, out=None, plots: bool = True) -> dict:
    """Write the Markdown report, report.json and plots; return {"report", "json", "plots",
    "headline", "counts"}."""
    root = Path(results_dir)
    records, skipped = discover(root)
    paper = load_paper_numbers()
    out = Path(out) if out else root / "report.md"
    ubli, bad_ubli = select_ubli(records["ubli"])
    t2_lines, t2 = table2(ubli, paper)
    t3_lines, t3 = table3(ubli, records["stdm"], paper)
    groups, bad_unmt = unmt_groups(records["unmt"])
    u_lines, u_data = unmt_tables(groups, paper)
    t6_lines, t6, bad_ws = table6(records["wordsim"], paper)
    s_lines, bad_stdm = stdm_table(records["stdm"])
    for name, n in (("ubli record without pair/P@1", bad_ubli),
                    ("unmt record without direction/BLEU", bad_unmt),
                    ("wordsim record without pair/harmonic_mean", bad_ws),
                    ("stdm record without stdm", bad_stdm)):
        if n:
            skipped[name] = n
    usable = (ubli or groups or len(records["wordsim"]) > bad_ws
              or len(records["stdm"]) > bad_stdm)
    if not usable:
        why = ("no *.json result file" if not skipped else "skipped: " + ", ".join(
            f"{n} × {why}" for why, n in sorted(skipped.items())))
        raise UserError(f"{root}: no result to report ({why})")
    png = plot_unmt(groups, out.parent / "plots") if plots else []
    head = headline(t2, t6, u_data)
    md = ["# fairseq-xdomain results", "",
          f"Results folder `{root}`: {sum(len(v) for v in records.values())} records "
          f"({', '.join(f'{len(v)} {k}' for k, v in records.items())}). "
          "Paper figures in parentheses or in the *paper* columns (from "
          "`fairseq_xdomain/data/paper_numbers.json`).", ""]
    if head:
        md += ["## Headline: joint pre-training vs separate / baseline", "", *head, ""]

    def section(title, lines, note=""):
        md.extend([f"## {title}", ""])
        md.extend(lines if lines else ["(no results)"])
        if note and lines:
            md.extend(["", note])
        md.append("")

    section("Table 2: UBLI P@1 (%), separate vs joint pre-training", t2_lines,
            "Selected configuration per run: the record marked selected, else the best "
            "unsupervised CSLS criterion.")
    section("Table 3: method vs copying baseline, with STDM", t3_lines)
    section("Tables 4/5: UNMT BLEU per epoch, baseline vs joint pre-training", u_lines)
    if png:
        md.extend([f"![{p.stem}]({os.path.relpath(p, out.parent)})" for p in png] + [""])
    section("Table 6: cross-lingual word similarity (harmonic mean of Pearson and Spearman)",
            t6_lines, "Each cell: ours [coverage, space] (paper).")
    section("STDM", s_lines)
    if skipped:
        md.extend(["## Skipped files", ""] + [f"- {n} × {why}" for why, n in sorted(skipped.items())]
                  + [""])
    write_text(out, "\n".join(md))
    json_path = out.with_name("report.json")
    write_json(json_path, {"kind": "report", "results_dir": os.fspath(root), "table2": t2,
                           "table3": t3, "unmt": u_data, "table6": t6, "headline": head,
                           "skipped": skipped, "plots": [os.fspath(p) for p in png]})
    return {"report": out, "json": json_path, "plots": png, "headline": head,
            "counts": {k: len(v) for k, v in records.items()}, "skipped": skipped}


@cli_entry
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="xdomain-report", description=__doc__.split("\n\n")[0])
    p.add_argument("results_dir")
    p.add_argument("--out", default=None, help="report path (default RESULTS_DIR/report.md)")
    p.add_argument("--no-plots", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s | %(levelname)s | %(message)s",
                        stream=sys.stderr)
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
