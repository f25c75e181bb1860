"""``--plan`` of the experiment drivers (issue 23): the option, and the names of
:mod:`fairseq_xdomain.planning` (the recording runner, the table and the file format) the
drivers use. The estimates and :func:`.plan_probes.finish_plan` are in :mod:`.plan_probes`.
"""
from __future__ import annotations

from ..planning import (
    PLAN_FILE,
    Plan,
    PlanRunner,
    StepPlan,
    announce,
    check_fit,
    derive,
    fmt_s,
    has_gpu,
    hint,
    machine,
    make_runner,
    previous_plan,
    write_plan,
)

__all__ = ["PLAN_FILE", "Plan", "PlanRunner", "StepPlan", "add_plan_argument", "announce",
           "check_fit", "derive", "fmt_s", "has_gpu", "hint", "machine",
           "make_runner", "previous_plan", "write_plan"]


def add_plan_argument(parser) -> None:
    """``--plan`` and ``--no-progress``."""
    parser.add_argument("--plan", action="store_true",
                        help="train nothing: check every input and setting, measure each step's "
                             "cost at the real shapes on this machine (short probes), print "
                             "the estimated wall time and peak memory per step and the total "
                             "ETA, and write plan.json beside run.json (docs/presets.md)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no live progress line per step (tqdm's TQDM_DISABLE=1 does the same)")
