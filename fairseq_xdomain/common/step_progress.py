"""The live line of a running step (issue 23): percent, rate and time left, and the log's path,
while the step's tool writes into its log.

    [5/18] grid.separate: 42% (9 of 21 configurations) 6m10s, ~8m30s left; log work/logs/grid.separate.log

On a terminal the line is rewritten in place (``\\r``) every ``TQDM_MININTERVAL`` seconds (default
1); on other output (a log, a pipe) a plain line is printed every :data:`PLAIN_INTERVAL_S` seconds
(or ``TQDM_MININTERVAL`` if larger). Off with ``--no-progress``, ``TQDM_DISABLE=1`` or
``XDOMAIN_PROGRESS=0``.

Where the done fraction comes from, in order: a parser of the step's log (:data:`PARSERS`:
fairseq updates, grid configurations, fastText's percent), else the elapsed time against the
plan's estimate of the step (``plan.json``, :mod:`fairseq_xdomain.experiments.plan`), else
elapsed time only.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

#: seconds between two plain lines on a non-terminal output
PLAIN_INTERVAL_S = 60.0
#: bytes read from the end of a log to find the progress
TAIL_BYTES = 16384


def enabled(no_progress: bool = False) -> bool:
    """Whether live lines are wanted: not with ``no_progress``, ``TQDM_DISABLE`` set to a true
    value, or ``XDOMAIN_PROGRESS=0``."""
    if no_progress:
        return False
    if os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes"):
        return False
    return os.environ.get("XDOMAIN_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "")


def interval(tty: bool) -> float:
    """Seconds between updates: ``TQDM_MININTERVAL`` (default 1) on a terminal, at least
    :data:`PLAIN_INTERVAL_S` otherwise."""
    try:
        mini = float(os.environ.get("TQDM_MININTERVAL", "1"))
    except ValueError:
        mini = 1.0
    return max(0.1, mini) if tty else max(PLAIN_INTERVAL_S, mini)


def fmt(seconds: float) -> str:
    s = int(max(0, seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _tail(path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


_FAIRSEQ = re.compile(r"num_updates[= ](\d+)")
_FAIRSEQ_EPOCH = re.compile(r"epoch (\d+)")
_GRID_TOTAL = re.compile(r"= (\d+) configurations")
_GRID_DONE = "configuration computed"
_FT = re.compile(r"Progress:\s+([\d.]+)%")


def parse_log(text: str, total_updates: int | None = None) -> tuple[float | None, str]:
    """(fraction done or None, what the log says: ``epoch 3, 1,200 updates``, ``9 of 21
    configurations``, ...) from the end of a step's log."""
    if _GRID_DONE in text or _GRID_TOTAL.search(text):
        total = _GRID_TOTAL.findall(text)
        done = text.count(_GRID_DONE)
        if total:
            n = int(total[-1])
            return (done / n if n else None), f"{done} of {n} configurations"
    ft = _FT.findall(text)
    if ft:
        return float(ft[-1]) / 100, f"fastText {ft[-1]}%"
    upd = _FAIRSEQ.findall(text)
    if upd:
        n = int(upd[-1])
        ep = _FAIRSEQ_EPOCH.findall(text)
        what = (f"epoch {int(ep[-1])}, " if ep else "") + f"{n:,} updates"
        return ((n / total_updates) if total_updates else None), what
    return None, ""


class LiveLine:
    """A thread that shows the live line of one step until :meth:`close` (a context manager).

    ``est_s``: the plan's estimate of the step (None: unknown); ``log``: the step's log (shown,
    and parsed for progress) or None; ``total_updates``: fairseq's updates of the step, when
    known; ``stream``: where the line goes (default stdout)."""

    def __init__(self, prefix: str, est_s: float | None = None, log=None,
                 total_updates: int | None = None, stream=None):
        self.prefix, self.est_s, self.log = prefix, est_s, log
        self.total_updates = total_updates
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = interval(self.tty)
        self.start = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._width = 0

    def line(self) -> str:
        """The line now."""
        elapsed = time.time() - self.start
        frac, what = (None, "")
        if self.log is not None and Path(self.log).is_file():
            frac, what = parse_log(_tail(self.log), self.total_updates)
        basis = "log"
        if frac is None and self.est_s:
            frac, basis = min(0.99, elapsed / self.est_s), "plan"
        parts = [f"{self.prefix}:"]
        if frac is not None:
            parts.append(f"{100 * frac:.0f}%")
        if what:
            parts.append(f"({what})")
        parts.append(fmt(elapsed))
        if frac:
            left = (elapsed / frac - elapsed) if basis == "log" else max(0.0, self.est_s - elapsed)
            parts[-1] += f", ~{fmt(left)} left" + (" (plan)" if basis == "plan" else "")
        if self.log is not None:
            parts.append(f"; log {self.log}")
        return " ".join(parts)

    def _emit(self, final: bool = False) -> None:
        text = self.line()
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad + ("\n" if final else ""))
            self._width = len(text)
        elif not final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._emit()

    def __enter__(self):
        if self.log is not None and not self.tty:
            self.stream.write(f"{self.prefix}: log {self.log}\n")
            self.stream.flush()
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def __exit__(self, *exc):
        self.close()
        return False


def live_factory(estimates: dict[str, float], log_for: Callable[[str], object],
                 updates_for: Callable[[str], int | None] = lambda name: None, stream=None):
    """A ``runner.live(name, prefix)`` for :class:`fairseq_xdomain.steps.Runner`: a
    :class:`LiveLine` with the step's estimate from ``estimates`` ({step: s}) and its log
    ``log_for(name)`` (a path or None)."""
    def live(name: str, prefix: str) -> LiveLine:
        return LiveLine(prefix, estimates.get(name), log_for(name), updates_for(name), stream)
    return live
