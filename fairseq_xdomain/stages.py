"""Resumable multi-stage runs (used by `make demo` and the recipes' Python drivers).

A stage is a named command (list of arguments) with declared outputs. A stage is done when
its stamp file exists and records the same command; re-running skips done stages, so a killed
run resumes at the first unfinished stage. Every stage prints one progress line, and its full
output goes to a log file next to the results.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .common.atomic import write_json
from .common.errors import UserError


@dataclass
class Stage:
    name: str
    cmd: list
    outputs: list = field(default_factory=list)
    env: dict = field(default_factory=dict)

    def key(self) -> str:
        text = json.dumps([str(c) for c in self.cmd] + sorted(self.env.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class StageRunner:
    """Run stages in order under ``workdir``; stamps and logs go to ``workdir/.stages``."""

    def __init__(self, workdir, bin_dir=None):
        self.workdir = Path(workdir)
        self.state = self.workdir / ".stages"
        self.state.mkdir(parents=True, exist_ok=True)
        self.bin_dir = Path(bin_dir) if bin_dir else Path(sys.executable).parent
        self.timings: dict[str, float] = {}

    def _stamp(self, stage: Stage) -> Path:
        return self.state / f"{stage.name}.done.json"

    def is_done(self, stage: Stage) -> bool:
        stamp = self._stamp(stage)
        if not stamp.exists():
            return False
        try:
            record = json.loads(stamp.read_text())
        except (OSError, ValueError):
            return False
        outputs_ok = all((self.workdir / out).exists() for out in stage.outputs)
        return record.get("key") == stage.key() and outputs_ok

    def run(self, stage: Stage, index: int, total: int) -> None:
        prefix = f"[{index}/{total}] {stage.name}"
        if self.is_done(stage):
            print(f"{prefix}: done before, reused", flush=True)
            return
        cmd = [str(c) for c in stage.cmd]
        exe = self.bin_dir / cmd[0]
        if not os.path.isabs(cmd[0]) and exe.exists():
            cmd[0] = str(exe)
        print(f"{prefix}: running ...", flush=True)
        env = dict(os.environ)
        env.update({k: str(v) for k, v in stage.env.items()})
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        log_path = self.state / f"{stage.name}.log"
        start = time.time()
        with open(log_path, "w", encoding="utf-8") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            log.flush()
            proc = subprocess.run(cmd, cwd=self.workdir, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        elapsed = time.time() - start
        if proc.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            print("\n".join("    " + line for line in tail), file=sys.stderr)
            raise UserError(f"{log_path}: stage '{stage.name}' failed (exit {proc.returncode})")
        missing = [out for out in stage.outputs if not (self.workdir / out).exists()]
        if missing:
            raise UserError(f"{log_path}: stage '{stage.name}' did not write {missing}")
        self.timings[stage.name] = elapsed
        write_json(self._stamp(stage), {"key": stage.key(), "cmd": cmd, "seconds": elapsed})
        print(f"{prefix}: finished in {elapsed:.0f}s", flush=True)

    def run_all(self, stages: list[Stage]) -> None:
        for i, stage in enumerate(stages, 1):
            self.run(stage, i, len(stages))
