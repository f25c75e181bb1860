"""The plan of a run (issue 23): a recording step runner, the table of steps with their estimated
time and memory, the machine it is for, and the ``plan.json`` / ``plan.md`` writer.

A driver run with ``--plan`` goes through its steps as the run would, but with a
:class:`PlanRunner` in place of :class:`~fairseq_xdomain.steps.Runner`: every input and setting is
checked (the same code paths build the steps), each step is recorded with whether it is already
up to date (its stamp matches, as the runner would skip it), and nothing is called. The caller
estimates each recorded step (the experiment drivers: :mod:`fairseq_xdomain.experiments.plan`;
the preprocessing pipeline: :mod:`fairseq_xdomain.preprocess.plan`), then :func:`check_fit` and
:func:`write_plan` (``plan.json`` and ``plan.md``).

``plan.json``: ``{"kind": "plan", "total_est_s" (s, the steps not done), "total_all_s" (every
step), "peak_ram_mb", "peak_gpu_mb", "machine": {...}, "fits": bool, "steps": [{name, est_s,
est_peak_ram_mb, est_peak_gpu_mb, done, fits, how}], "diagnostics": {...} | null}``. Memory in
MiB, peak resident set of the process that runs the step (an in-process step: the driver's).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .common.atomic import read_json, write_json, write_text
from .common.markdown import table
from .steps import Runner, ShaCache, package_version

PLAN_FILE = "plan.json"


@dataclass
class StepPlan:
    """One step of a plan: ``est_s`` wall seconds, ``est_peak_ram_mb`` / ``est_peak_gpu_mb``
    MiB (None: no device), ``done`` (up to date: the run skips it), ``fits`` (memory below the
    machine's), ``how``: how the estimate was made (the probe and the extrapolation)."""

    name: str
    done: bool
    est_s: float = 0.0
    est_peak_ram_mb: float = 0.0
    est_peak_gpu_mb: float | None = None
    fits: bool = True
    how: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["est_s"] = round(self.est_s, 1)
        d["est_peak_ram_mb"] = round(self.est_peak_ram_mb)
        if self.est_peak_gpu_mb is not None:
            d["est_peak_gpu_mb"] = round(self.est_peak_gpu_mb)
        return d


class PlanRunner(Runner):
    """A :class:`~fairseq_xdomain.steps.Runner` that records its steps instead of running them.

    ``step`` returns the record ``{step, status ("skipped" | "planned"), params, inputs,
    outputs, hint}`` without calling ``fn``; a step is ``skipped`` when every input exists and
    its stamp matches, exactly as the real runner decides. Nothing is written and no folder is
    locked. ``hints``: what a driver says about a step for its estimate (:func:`hint`)."""

    def __init__(self, work_dir, force: bool = False, total: int | None = None, **_):
        self.work_dir = Path(work_dir)
        self.stamps = self.work_dir / ".stamps"
        self.sha = ShaCache(self.stamps / "sha256.json")
        self.force = force
        self.total = total
        self.progress = lambda line: None
        self.version = package_version()
        from .steps import NOT_IN_KEY

        self.not_in_key = NOT_IN_KEY
        self.records: list[dict] = []
        self.hints: dict[str, dict] = {}
        #: file a step makes -> the file it is made from (a corpus's tokenized form -> the
        #: corpus), for the sizes of files that do not exist yet
        self.derived: dict[str, str] = {}

    def key(self, name: str, params: dict, inputs: list) -> str:
        """The runner's key when every input exists; otherwise a stand-in (the inputs are
        made by earlier steps of this plan)."""
        if all(os.path.exists(p) for p in inputs):
            return super().key(name, params, inputs)
        text = json.dumps({"plan": name, "params": params, "inputs": [str(p) for p in inputs]},
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def step(self, name, inputs, params, fn, outputs=None) -> dict:
        key_params = params if outputs is None else {
            **params, "_outputs": [os.path.abspath(p) for p in outputs]}
        done = False
        if all(os.path.exists(p) for p in inputs):
            done = self._up_to_date(self.stamp_path(name), self.key(name, key_params, inputs)) \
                is not None
        record = {"step": name, "status": "skipped" if done else "planned", "params": params,
                  "inputs": [str(p) for p in inputs],
                  "outputs": [str(p) for p in outputs or []], "hint": self.hints.get(name, {})}
        self.records.append(record)
        return record

    def command(self, name, inputs, params, cmd, outputs, log_path=None, env=None, cwd=None):
        self.hints.setdefault(name, {"kind": "command", "cmd": [str(c) for c in cmd]})
        return self.step(name, inputs, params, lambda: None, outputs=outputs)


def hint(runner, name: str, kind: str, **info) -> None:
    """Tell a :class:`PlanRunner` what step ``name`` is (``kind``: ``fasttext``, ``grid``,
    ``fairseq``, ...) and what its estimate needs; nothing for a real runner."""
    if isinstance(runner, PlanRunner):
        runner.hints[name] = {"kind": kind, **info}


def derive(runner, made: str, source: str) -> None:
    """Tell a :class:`PlanRunner` that file ``made`` (of a later step) is made from ``source``."""
    if isinstance(runner, PlanRunner):
        runner.derived[str(made)] = str(source)


def make_runner(plan: bool, work_dir, **kwargs) -> Runner:
    """A :class:`PlanRunner` with ``plan``, else a :class:`~fairseq_xdomain.steps.Runner`."""
    return (PlanRunner if plan else Runner)(work_dir, **kwargs)


# ----------------------------------------------------------------------------- machine

def machine() -> dict:
    """``{cpus, ram_total_mb, ram_available_mb, gpu: name | None, gpu_mem_mb}`` of this host."""
    info = {"cpus": len(os.sched_getaffinity(0)), "ram_total_mb": None, "ram_available_mb": None,
            "gpu": None, "gpu_mem_mb": None}
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            mem = {line.split(":")[0]: int(line.split()[1]) for line in handle}
        info["ram_total_mb"] = mem["MemTotal"] // 1024
        info["ram_available_mb"] = mem.get("MemAvailable", mem["MemTotal"]) // 1024
    except (OSError, KeyError, ValueError):
        pass
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info["gpu"] = props.name
            info["gpu_mem_mb"] = props.total_memory // 2**20
    except Exception:  # noqa: BLE001 - no torch or a broken driver: no GPU
        pass
    return info


def has_gpu() -> bool:
    """Whether torch sees a CUDA device."""
    return machine()["gpu"] is not None


# ----------------------------------------------------------------------------- output

def fmt_s(seconds: float | None) -> str:
    """``3h05m``, ``12m30s``, ``45s``."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


@dataclass
class Plan:
    """A whole plan: the steps, the machine, the diagnostics (``diagnostics.DiagnosticsReport``
    as a dict, or None) and the plan's own cost ``plan_s``."""

    title: str
    steps: list[StepPlan]
    machine: dict
    diagnostics: dict | None = None
    plan_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total_est_s(self) -> float:
        return sum(s.est_s for s in self.steps if not s.done)

    @property
    def fits(self) -> bool:
        return all(s.fits for s in self.steps)

    def to_dict(self) -> dict:
        todo = [s for s in self.steps if not s.done]
        gpu = [s.est_peak_gpu_mb for s in todo if s.est_peak_gpu_mb is not None]
        return {"kind": "plan", "title": self.title, "version": package_version(),
                "total_est_s": round(self.total_est_s, 1),
                "total_all_s": round(sum(s.est_s for s in self.steps), 1),
                "peak_ram_mb": round(max((s.est_peak_ram_mb for s in todo), default=0)),
                "peak_gpu_mb": round(max(gpu)) if gpu else None,
                "fits": self.fits, "machine": self.machine, "plan_s": round(self.plan_s, 1),
                "made_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "steps": [s.to_dict() for s in self.steps], "notes": self.notes,
                "diagnostics": self.diagnostics}

    def markdown(self) -> str:
        gpu = any(s.est_peak_gpu_mb is not None for s in self.steps)
        head = ["step", "est. wall", "peak RAM MiB", *(["peak GPU MiB"] if gpu else []),
                "done", "fits", "how"]
        rows = [[s.name, fmt_s(s.est_s), round(s.est_peak_ram_mb),
                 *([round(s.est_peak_gpu_mb) if s.est_peak_gpu_mb is not None else "-"]
                   if gpu else []), "yes" if s.done else "no", "yes" if s.fits else "NO",
                 s.how] for s in self.steps]
        d = self.to_dict()
        m = self.machine
        lines = [f"# Plan: {self.title}", "",
                 f"Machine: {m['cpus']} CPU(s), {m['ram_available_mb']} of {m['ram_total_mb']} "
                 f"MiB RAM available, GPU {m['gpu'] or 'none'}"
                 + (f" ({m['gpu_mem_mb']} MiB)" if m["gpu"] else "") + ".", "",
                 *table(head, rows, "lrr" + ("r" if gpu else "") + "lll"), "",
                 f"**Total ETA {fmt_s(d['total_est_s'])}** for the steps not done "
                 f"({fmt_s(d['total_all_s'])} for all); peak RAM {d['peak_ram_mb']} MiB"
                 + (f", peak GPU {d['peak_gpu_mb']} MiB" if d["peak_gpu_mb"] else "")
                 + f"; plan made in {fmt_s(self.plan_s)}."]
        if not self.fits:
            lines += ["", "**Memory: steps marked NO will not fit on this machine.**"]
        lines += [f"- {n}" for n in self.notes]
        if self.diagnostics:
            lines += ["", f"## Data diagnostics (risk: {self.diagnostics.get('risk')})", ""]
            lines += [f"- [{f['risk']}] {f['sentence']}"
                      for f in self.diagnostics.get("findings", [])]
        return "\n".join(lines) + "\n"


def write_plan(plan: Plan, folder) -> Path:
    """Print ``plan`` and write ``FOLDER/plan.json`` and ``plan.md`` (atomically); returns the
    JSON's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PLAN_FILE
    write_json(path, plan.to_dict())
    md = plan.markdown()
    write_text(folder / "plan.md", md)
    print(md, flush=True)
    print(f"plan: {path}", flush=True)
    return path


def check_fit(steps: list[StepPlan], mach: dict) -> list[str]:
    """Set each step's ``fits`` against the machine's available RAM and GPU memory; returns
    one warning line per step that does not fit."""
    warnings = []
    for s in steps:
        ram = mach.get("ram_available_mb")
        if ram and s.est_peak_ram_mb > ram:
            s.fits = False
            warnings.append(f"{s.name}: needs ~{s.est_peak_ram_mb:.0f} MiB RAM, "
                            f"{ram} MiB available")
        gpu = mach.get("gpu_mem_mb")
        if gpu and s.est_peak_gpu_mb and s.est_peak_gpu_mb > gpu:
            s.fits = False
            warnings.append(f"{s.name}: needs ~{s.est_peak_gpu_mb:.0f} MiB GPU memory, the GPU "
                            f"has {gpu} MiB")
    return warnings


def previous_plan(folder) -> dict | None:
    """``FOLDER/plan.json`` of an earlier ``--plan`` of this run, or None."""
    path = Path(folder) / PLAN_FILE
    if not path.is_file():
        return None
    try:
        plan = read_json(path)
    except (ValueError, OSError):
        return None
    return plan if plan.get("kind") == "plan" else None


def announce(folder, out=print) -> dict[str, float]:
    """At the start of a run: print the ETA of the ``--plan`` made earlier for this folder
    (``FOLDER/plan.json``), or say there is none; returns ``{step: est_s}`` for the live
    progress lines (empty without a plan)."""
    plan = previous_plan(folder)
    if plan is None:
        out(f"ETA: unknown (no plan; `--plan` first estimates every step, writing "
            f"{Path(folder) / PLAN_FILE})")
        return {}
    out(f"ETA: {fmt_s(plan['total_est_s'])} for the steps not done when the plan was made "
        f"({plan.get('made_at', '?')}; {Path(folder) / PLAN_FILE}), peak RAM "
        f"~{plan.get('peak_ram_mb')} MiB")
    return {s["name"]: s["est_s"] for s in plan.get("steps", [])}
