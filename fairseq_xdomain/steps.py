"""The one step runner: "is this step done?" for the preprocessing pipeline, the demo and every
experiment driver (``xdomain-prep pipeline``, ``xdomain-run ...``).

A step is ``runner.step(name, inputs, params, fn)``: ``fn() -> (outputs, counts)`` makes the
files (or folders) ``outputs`` from the files ``inputs`` under the settings ``params``. After
``fn`` returns, a stamp ``WORK/.stamps/NAME.json`` is written atomically; it holds

- ``key`` = sha256 of (step name, ``params`` less :data:`NOT_IN_KEY`, sha256 of every input,
  the package version), and
- the path, size and sha256 of every output (a folder: a digest over its files' names and
  sha256s).

A step is skipped when its stamp's key equals the current key and every output still has the
recorded checksum; otherwise it runs again. A changed setting therefore recomputes its step, and
every later step whose inputs changed as a result (their checksums are in their keys), and
nothing else; a rerun with nothing changed skips everything; a stamp written by another version
of the package is not reused; a step killed mid-way has no stamp and runs again (its outputs
must be written under temporary names and renamed, as ``common/atomic.py`` does, or be
overwritten as a whole by the rerun). Checksums are cached per (path, size, mtime) in
``WORK/.stamps/sha256.json``.

Every step prints one progress line, ``[i/n] NAME: running`` (then ``finished in Ns``) or
``[i/n] NAME: up to date``. :func:`run_logged` runs a console tool of this installation (its
``bin`` folder first on ``PATH``) with its output in a log file; :func:`write_run_record` writes
a driver's ``run.json`` (configuration, seed, package version, wall time, steps).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .common.atomic import read_json, write_json
from .common.errors import UserError
from .common.folder_lock import LOCK_NAME, own_folder
from .common.textio import require_file
from .provenance import provenance

logger = logging.getLogger("xdomain.steps")

#: parameters that do not change results (parallelism), left out of a step's key
NOT_IN_KEY = frozenset({"workers", "threads"})

#: lines of a failed command's log shown on stderr
LOG_TAIL_LINES = 20


def package_version() -> str:
    """The version of this package (``fairseq_xdomain.__version__``), part of every step's key."""
    from . import __version__

    return str(__version__)


def bin_dir() -> Path:
    """The folder of this interpreter's console scripts (``xdomain-*``, ``fairseq-train``)."""
    return Path(sys.executable).parent


class ShaCache:
    """sha256 of files (and folders), cached per (path, size, mtime_ns) in a JSON file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.data: dict = {}
        if self.path.exists():
            with contextlib.suppress(ValueError, OSError):
                self.data = read_json(self.path)

    def _file_sha(self, file: str) -> str:
        st = os.stat(file)
        entry = self.data.get(file)
        if entry and entry["size"] == st.st_size and entry["mtime_ns"] == st.st_mtime_ns:
            return entry["sha256"]
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self.data[file] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                           "sha256": digest.hexdigest()}
        return digest.hexdigest()

    def sha(self, path) -> str:
        """sha256 (hex) of a file; of a folder: of its files' relative names and sha256s, in
        name order (hidden temporary files ``.*.tmp`` and a run's lock file left out). OSError if
        ``path`` is missing."""
        path = str(path)
        if not os.path.isdir(path):
            return self._file_sha(path)
        digest = hashlib.sha256()
        for file in sorted(Path(path).rglob("*")):
            if file.is_file() and file.name != LOCK_NAME and not (
                    file.name.startswith(".") and file.name.endswith(".tmp")):
                rel = file.relative_to(path).as_posix()
                digest.update(f"{rel}\0{self._file_sha(str(file))}\n".encode())
        return digest.hexdigest()

    def size(self, path) -> int:
        """Bytes of a file, or of all files under a folder."""
        if os.path.isdir(path):
            return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
        return os.path.getsize(path)

    def describe(self, path) -> dict:
        """``{"path", "size" (bytes), "sha256"}`` of a file or folder."""
        return {"path": str(path), "size": self.size(path), "sha256": self.sha(path)}

    def save(self) -> None:
        write_json(self.path, self.data)


class Runner:
    """Runs steps under ``work_dir``, skipping those whose stamp matches (module docstring).

    ``total``: the number of steps the caller will run (for the ``[i/n]`` progress lines; may be
    set later as ``runner.total``). ``progress``: where the progress lines go (default: stdout).
    ``version``: the package version in the keys (default :func:`package_version`).
    ``force``: run every step whatever its stamp.

    One run owns its folder: ``work_dir`` and the folders ``owns`` (e.g. an output folder) are
    locked for this process (:func:`fairseq_xdomain.common.folder_lock.own_folder`) before
    anything is read or written there; a second run on the same folder stops with the UserError
    ``FOLDER: in use by COMMAND (pid N)``.
    """

    def __init__(self, work_dir, force: bool = False, total: int | None = None,
                 progress: Callable[[str], None] | None = None, version: str | None = None,
                 not_in_key: Iterable[str] = NOT_IN_KEY, owns: Iterable = ()):
        self.work_dir = Path(work_dir)
        for folder in (self.work_dir, *owns):
            own_folder(folder)
        self.stamps = self.work_dir / ".stamps"
        self.stamps.mkdir(parents=True, exist_ok=True)
        self.sha = ShaCache(self.stamps / "sha256.json")
        self.force = force
        self.total = total
        self.progress = progress or (lambda line: print(line, flush=True))
        self.version = version if version is not None else package_version()
        self.not_in_key = frozenset(not_in_key)
        self.records: list[dict] = []

    def key(self, name: str, params: dict, inputs: list) -> str:
        """sha256 (hex) of the step name, its params (less ``not_in_key``), the sha256 of every
        input and the package version. UserError when an input is missing or empty."""
        for path in inputs:
            if not os.path.isdir(path):
                require_file(path)
        payload = {"step": name,
                   "params": {k: v for k, v in params.items() if k not in self.not_in_key},
                   "inputs": [self.sha.sha(p) for p in inputs], "version": self.version}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def stamp_path(self, name: str) -> Path:
        return self.stamps / f"{name.replace(os.sep, '_')}.json"

    def _up_to_date(self, stamp_path: Path, key: str) -> dict | None:
        if self.force or not stamp_path.exists():
            return None
        try:
            stamp = read_json(stamp_path)
        except (ValueError, OSError):
            return None
        if stamp.get("key") != key:
            return None
        for out in stamp.get("outputs", []):
            if not os.path.exists(out["path"]) or self.sha.sha(out["path"]) != out["sha256"]:
                return None
        return stamp

    def step(self, name: str, inputs: list, params: dict,
             fn: Callable[[], tuple[list, dict]], outputs: list | None = None) -> dict:
        """Run ``fn() -> (outputs, counts)`` unless up to date; return the step's record.

        ``outputs``: the paths the step writes, where they are known before it runs; they are
        part of the key, so the same step asked to write elsewhere (another ``--results``
        folder) runs again instead of being "up to date" with its files somewhere else.

        The record (also the stamp) has ``step, key, version, params, inputs, outputs`` (each
        ``{path, size, sha256}``), ``counts``, ``seconds``, ``finished_at`` and ``status``
        (``ran`` | ``skipped``). Raises UserError when an input is missing or not a file/folder,
        or when ``fn`` did not write an output it returned.
        """
        index = len(self.records) + 1
        prefix = f"[{index}/{self.total}] {name}" if self.total else f"[{index}] {name}"
        key_params = params if outputs is None else {
            **params, "_outputs": [os.path.abspath(p) for p in outputs]}
        key = self.key(name, key_params, inputs)
        stamp_path = self.stamp_path(name)
        stamp = self._up_to_date(stamp_path, key)
        if stamp is not None:
            self.progress(f"{prefix}: up to date")
            record = {**stamp, "status": "skipped"}
        else:
            self.progress(f"{prefix}: running")
            start = time.time()
            with self.live_line(name, prefix):
                outputs, counts = fn()
            missing = [str(p) for p in outputs if not os.path.exists(p)]
            if missing:
                raise UserError(f"{missing[0]}: step '{name}' did not write this output")
            seconds = round(time.time() - start, 3)
            record = {
                "step": name, "key": key, "version": self.version,
                "params": json.loads(json.dumps(params, default=str)),
                "inputs": [self.sha.describe(p) for p in inputs],
                "outputs": [self.sha.describe(p) for p in outputs],
                "counts": counts, "seconds": seconds,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            write_json(stamp_path, record)
            record = {**record, "status": "ran"}
            self.progress(f"{prefix}: finished in {seconds:.0f}s")
        self.sha.save()
        self.records.append(record)
        return record

    #: ``live(name, prefix)`` -> a context manager showing a running step's live line
    #: (``common/step_progress.py``; set by a driver, none by default)
    live: Callable | None = None

    def live_line(self, name: str, prefix: str):
        """The live progress line of step ``name`` while it runs (:attr:`live`), or nothing."""
        return self.live(name, prefix) if self.live else contextlib.nullcontext()

    def command(self, name: str, inputs: list, params: dict, cmd: list, outputs: list,
                log_path=None, env: dict | None = None, cwd=None) -> dict:
        """A step that runs ``cmd`` through :func:`run_logged` (log: ``log_path``, default
        ``WORK/logs/NAME.log``) and makes ``outputs``; returns the step's record."""
        log_path = log_path or self.work_dir / "logs" / f"{name}.log"

        def fn():
            run_logged(cmd, log_path, env=env, cwd=cwd)
            return [str(p) for p in outputs], {"log": str(log_path)}

        return self.step(name, inputs, params, fn, outputs=outputs)

    def summary(self) -> list[dict]:
        """``[{step, status, seconds}]`` of the steps run so far (for ``run.json``)."""
        return [{"step": r["step"], "status": r["status"], "seconds": r.get("seconds")}
                for r in self.records]


def clean_stale_temps(*dirs) -> int:
    """Remove the temporary files/folders (``.NAME.*.tmp``) a killed run left under ``dirs``;
    returns how many (logged)."""
    removed = 0
    for folder in map(Path, dirs):
        if not folder.is_dir():
            continue
        for path in list(folder.rglob(".*.tmp")):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            removed += 1
    if removed:
        logger.info("removed %d temporary file(s) of an interrupted run", removed)
    return removed


def run_logged(cmd: list, log_path, env: dict | None = None, cwd=None) -> None:
    """Run ``cmd`` with this installation's console tools first on ``PATH``, its stdout and
    stderr in ``log_path`` (the command line first); ``env`` adds/overrides variables.

    A bare tool name (``xdomain-embed``) resolves to this interpreter's ``bin`` folder when it is
    there. On a non-zero exit the last lines of the log go to stderr and a UserError names the
    log and the exit status.
    """
    cmd = [str(c) for c in cmd]
    local = bin_dir() / cmd[0]
    if not os.path.isabs(cmd[0]) and os.sep not in cmd[0] and local.exists():
        cmd[0] = str(local)
    full_env = dict(os.environ)
    full_env.update({k: str(v) for k, v in (env or {}).items()})
    full_env["PATH"] = f"{bin_dir()}{os.pathsep}{full_env.get('PATH', '')}"
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
        print("\n".join("    " + line for line in tail), file=sys.stderr, flush=True)
        raise UserError(f"{log_path}: {Path(cmd[0]).name} failed (exit {proc.returncode}); "
                        f"the log's last lines are above")


def write_run_record(path, config: dict, seed, started: float,
                     runner: Runner | None = None, **extra) -> dict:
    """Write a driver's ``run.json`` atomically: ``{"kind": "run", config, seed, version, wall_s,
    finished_at, steps, **extra}`` (kind ``run``: a record of how results were made, which
    ``xdomain-report`` counts as intermediate, not as a result); ``seed``: the run's seed(s) (int, list or None); ``started``: the
    ``time.time()`` of the run's start; ``provenance``: libraries, device, threads, commit
    (``provenance.provenance()``). Returns the record."""
    record = {"kind": "run", "config": config, "seed": seed, "version": package_version(),
              "wall_s": round(time.time() - started, 1),
              "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "steps": runner.summary() if runner else [], "provenance": provenance(), **extra}
    write_json(path, record)
    return record
