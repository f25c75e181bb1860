"""The summary of a grid search's folder: the selected configuration (by the unsupervised
criterion) and the oracle (by CSLS P@1, reference only), ``summary.json``, ``selected_W.npy``,
``table.md`` (through ``common/markdown.py``, the one renderer) and the selected configuration as
a :class:`~fairseq_xdomain.results.UBLIResult` (``result.json`` + ``result.md``, method ``muse``).
"""
from __future__ import annotations

import shutil
from collections.abc import Sequence

from ..common.atomic import atomic_open, write_json, write_text
from ..common.markdown import table
from ..results import UBLIResult, write_result
from .selection import first_maximum, rank_key


def select(records: Sequence[dict]) -> tuple[dict, dict | None]:
    """(selected, oracle) among configuration records: the selected one by the unsupervised
    criterion (``selection.first_maximum``: first wins ties); the oracle, for reference only, by
    CSLS P@1 (%), then criterion (None when the records are not evaluated). Raises
    ``ValueError`` when ``records`` is empty."""
    selected = records[first_maximum([r["criterion"] for r in records])]
    oracle = None
    if records and "csls_p@1" in records[0]:
        oracle = max(records, key=lambda r: (r["csls_p@1"], rank_key(r["criterion"])))
    return selected, oracle


def _f(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


#: the columns of ``table.md`` and the record keys of its P@k columns
HEADER = ("seed", "epochs", "refinement", "stage", "criterion", "NN P@1", "NN P@5", "NN P@10",
          "CSLS P@1", "CSLS P@5", "CSLS P@10", "coverage", "wall s")
EVAL_KEYS = ("nn_p@1", "nn_p@5", "nn_p@10", "csls_p@1", "csls_p@5", "csls_p@10")


def to_markdown(summary) -> str:
    """``table.md`` of a grid summary: the selection, the oracle, one row per configuration
    (P@k in %, coverage in %, wall time in s), rendered by ``common/markdown.py``."""
    recs = summary["configurations"]
    sel, orc = summary["selected"], summary.get("oracle")
    has_eval = recs and "csls_p@1" in recs[0]
    lines = [f"# UBLI grid: {summary.get('pair') or ''} {summary.get('domains') or ''} "
             f"{summary.get('init') or ''}".rstrip(), ""]
    lines.append(f"Selected (best unsupervised criterion): seed {sel['seed']}, {sel['epochs']} "
                 f"epochs, {sel['refinement']} refinement -> criterion {sel['criterion']:.5f}"
                 + (f", CSLS P@1 {sel['csls_p@1']:.2f}, NN P@1 {sel['nn_p@1']:.2f}, coverage "
                    f"{100 * sel['coverage']:.1f}%" if has_eval else ""))
    if orc is not None:
        lines.append(f"Oracle (best CSLS P@1, reference only): seed {orc['seed']}, {orc['epochs']} "
                     f"epochs, {orc['refinement']} refinement -> CSLS P@1 {orc['csls_p@1']:.2f} "
                     f"(criterion {orc['criterion']:.5f})")
    rows = []
    for r in recs:
        mark = ""
        if (r["seed"], r["epochs"], r["refinement"]) == (sel["seed"], sel["epochs"],
                                                         sel["refinement"]):
            mark += " **selected**"
        if orc is not None and (r["seed"], r["epochs"], r["refinement"]) == (
                orc["seed"], orc["epochs"], orc["refinement"]):
            mark += " (oracle)"
        cov = f"{100 * r['coverage']:.1f}%" if "coverage" in r else "-"
        rows.append([f"{r['seed']}{mark}", r["epochs"], r["refinement"], r["selected_stage"],
                     f"{r['criterion']:.5f}", *(_f(r.get(k)) for k in EVAL_KEYS), cov,
                     f"{r['wall_s']:.1f}"])
    lines += ["", *table(HEADER, rows, "rrrl" + "r" * 9)]
    lines += ["", f"Stage: `advE` = the best adversarial epoch was kept, `refR` = refinement "
              f"iteration R. Total wall time {summary['wall_s']:.1f} s "
              f"(configurations computed in this run: {summary['n_computed_this_run']})."]
    return "\n".join(lines) + "\n"


#: keys of the selected record (or the summary) copied into the result's ``selected`` block
SELECTION_KEYS = ("selection_rule", "candidate", "orthogonality", "flagged_nonorthogonal")


def grid_result(summary: dict) -> UBLIResult:
    """The selected configuration of a grid ``summary`` as a :class:`UBLIResult` (method
    ``muse``; P@1 = the selected configuration's CSLS P@1 in %, None when not evaluated)."""
    sel = summary["selected_record"]
    # evaluation metrics are the numbers of the record that are not its own bookkeeping (the
    # selection's diagnostics, lists and dicts of the selection rule, stay in ``selected``)
    metrics = {k: v for k, v in sel.items() if k not in _NOT_METRICS
               and isinstance(v, (int, float)) and not isinstance(v, bool)}
    selected = {"seed": sel["seed"], "epochs": sel["epochs"], "refinement": sel["refinement"],
                "stage": sel["selected_stage"], "best_adversarial_epoch":
                sel["best_adversarial_epoch"], "mapping": summary.get("selected_mapping"),
                "oracle": summary["oracle_configuration"], "oracle_p_at_1": (
                    summary["oracle"].get("csls_p@1") if summary["oracle"] else None)}
    for key in SELECTION_KEYS:
        for src in (summary, sel):
            if key in src:
                selected[key] = src[key]
    return UBLIResult(
        method="muse", p_at_1=sel.get("csls_p@1"), pair=summary.get("pair"),
        domains=summary.get("domains"), init=summary.get("init"), metrics=metrics,
        criterion=sel["criterion"], selected=selected,
        details={"n_configurations": len(summary["configurations"]),
                 "n_computed_this_run": summary["n_computed_this_run"],
                 "summary": "summary.json", "per_word_top1": sel.get("per_word_top1")},
        config=summary["config"], wall_s=summary["wall_s"])


#: fields of a configuration record that are not evaluation metrics
_NOT_METRICS = ("kind", "seed", "epochs", "refinement", "criterion", "selected_stage",
                "best_adversarial_epoch", "adversarial_criteria", "refinement_criteria",
                "refinement_pairs", "adversarial_epochs_run", "adversarial_lr_stop", "p1",
                "time_s", "wall_s")


def summarize(grid, config: dict, labels: dict, wall_s: float) -> tuple[dict, str]:
    """``grid``: a :class:`~.grid.Grid` after its run (its records on disk). Write ``summary.json`` (the grid's own record, ``"kind": "ubli_grid"``: the selected
    configuration and its record, the oracle, every record; P@k in %, ``coverage`` in [0, 1]),
    ``selected_W.npy``, ``table.md``, and the selected configuration as a result
    (``result.json`` + ``result.md``, a :class:`~fairseq_xdomain.results.UBLIResult` read by
    ``xdomain-report``) from the records on disk; return (summary, Markdown). Raises
    ``ValueError`` when no configuration is on disk."""
    recs = grid.records()
    sel, orc = select(recs)
    summary = {
        "kind": "ubli_grid", **labels, "method": "muse", "selected": True,
        "criterion": sel["criterion"],
        "p1": sel.get("p1"), "coverage": sel.get("coverage"),
        "selected_configuration": {k: sel[k] for k in ("seed", "epochs", "refinement")},
        "oracle_configuration": ({k: orc[k] for k in ("seed", "epochs", "refinement")}
                                 if orc else None),
        "oracle_p1": orc.get("p1") if orc else None,
        "selected_record": sel, "oracle": orc, "configurations": recs,
        "config": config, "wall_s": round(wall_s, 3),
        "n_computed_this_run": grid.n_computed,
    }
    selected_W = grid.mapping_path(sel["seed"], sel["epochs"], sel["refinement"])
    if selected_W.exists():
        with atomic_open(grid.out / "selected_W.npy", "wb") as handle, open(selected_W, "rb") as src:
            shutil.copyfileobj(src, handle)
        summary["selected_mapping"] = "selected_W.npy"
    write_json(grid.out / "summary.json", summary)
    write_result(grid.out / "result.json", grid_result(summary))
    md = to_markdown({**summary, "selected": sel})
    write_text(grid.out / "table.md", md)
    return summary, md


__all__ = ["select", "to_markdown", "grid_result", "summarize", "SELECTION_KEYS"]
