"""How a driver's run uses its plan (issue 23): the ETA printed at the start, the warning for the
paper preset on a CPU, the live line of each step (:mod:`fairseq_xdomain.common.step_progress`)
and the data diagnostics a UBLI plan includes (:mod:`fairseq_xdomain.diagnostics`).

The ETA at the start of a run is that of the last ``--plan`` of the same results folder
(``plan.json``), when there is one: a plan measures the real shapes and takes up to minutes, too
long to repeat before every run; without one the run says so and how to make one. The exception
is ``--preset paper`` on a machine without a GPU: there the plan is made first (its cost is
small against the run's) and its ETA printed as a warning before anything starts.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..common.step_progress import enabled, live_factory
from .plan import announce, fmt_s, has_gpu


def start_estimates(args: argparse.Namespace, res, plan_fn) -> dict[str, float]:
    """At the start of a run (not a plan): ``{step: est_s}`` for the live lines, after printing
    the ETA (:func:`.plan.announce`). With ``--preset paper`` and no GPU, the plan is made
    first with ``plan_fn(args with plan=True)`` (-> a :class:`.plan.Plan`) and its ETA printed
    as a warning on stderr."""
    if getattr(args, "preset", None) == "paper" and not has_gpu():
        plan = plan_fn(argparse.Namespace(**{**vars(args), "plan": True}))
        print(f"warning: --preset paper on a machine without a GPU: the plan estimates "
              f"{fmt_s(plan.total_est_s)} for this run (peak RAM "
              f"~{plan.to_dict()['peak_ram_mb']} MiB); --preset cpu is the CPU-sized one",
              file=sys.stderr, flush=True)
    return announce(res)


def live_progress(runner, args: argparse.Namespace, estimates: dict[str, float],
                  logs: dict[str, Path] | None = None,
                  updates: dict[str, int | None] | None = None,
                  epochs: dict[str, int | None] | None = None) -> None:
    """Give ``runner`` the live line of each step unless ``--no-progress`` (or ``TQDM_DISABLE``,
    ``XDOMAIN_PROGRESS=0``): the plan's estimate ``estimates`` and the step's log (``logs``
    {step: path}, else ``WORK/logs/STEP.log`` when it exists by then, else
    ``WORK/logs/grid.NAME.log`` / ``beyond.METHOD_INIT.log`` as the UBLI steps name theirs);
    ``updates``: {step: fairseq updates it runs} where known (the percent from its log), else
    ``epochs``: {step: its fairseq ``max_epoch``}."""
    if not enabled(getattr(args, "no_progress", False)) or not hasattr(runner, "live_line"):
        return
    logs = logs or {}

    def log_for(name: str):
        if name in logs:
            return logs[name]
        folder = Path(runner.work_dir) / "logs"
        if name.startswith("beyond."):
            _, method, init = name.split(".", 2)
            return folder / f"beyond.{method}_{init}.log"
        if name.startswith(("grid.", "baseline.", "stdm")):
            return folder / f"{name}.log"
        return None

    runner.live = live_factory(estimates, log_for, lambda name: (updates or {}).get(name),
                               epochs_for=lambda name: (epochs or {}).get(name))


def ubli_diagnostics(src_txt, tgt_txt, stdm_txt, separate_vecs, runner, grid: dict,
                     stdm: dict, langs: tuple[str, str]) -> dict | None:
    """The data diagnostics of a UBLI plan (``fairseq_xdomain.diagnostics.diagnose``): sizes
    against the paper's, lexical overlap, STDM (with ``stdm_txt``), and the isomorphism of the
    separate spaces when their vectors exist already. Corpora not made yet (tokenized forms)
    are read in the form given. Returns the report as a dict with ``_stdm_s`` (the STDM's
    seconds, which the plan reuses for the STDM step), or None when the module is missing."""
    try:
        from ..diagnostics import DiagnosticsConfig, diagnose
    except ImportError:  # pragma: no cover - the module is part of the package
        return None
    from .plan_probes import COUNT_LINES

    def existing(path):
        path = str(path) if path else None
        while path and not Path(path).exists() and path in runner.derived:
            path = runner.derived[path]
        return path

    vecs = [str(v) for v in separate_vecs]
    have_vecs = all(Path(v).is_file() for v in vecs)
    from ..ubli.data import MAX_VOCAB

    cfg = DiagnosticsConfig(top_n=grid.get("max_vocab") or MAX_VOCAB, max_lines=COUNT_LINES,
                            stdm_docs_per_corpus=stdm["docs_per_corpus"],
                            stdm_lines_per_doc=stdm["lines_per_doc"],
                            stdm_svd_dim=stdm["svd_dim"])
    report = diagnose(existing(src_txt), existing(tgt_txt), stdm_corpus=existing(stdm_txt),
                      src_vectors=vecs[0] if have_vecs else None,
                      tgt_vectors=vecs[1] if have_vecs else None, cfg=cfg, labels=langs)
    out = report.to_dict()
    out["_stdm_s"] = report.seconds.get("stdm")
    return out
