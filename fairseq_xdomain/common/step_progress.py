"""The live line of a running step (issue 23): percent, rate and time left, and the log's path,
while the step's tool writes into its log.

    [5/18] grid.separate: 43% (9 of 21 configurations, 1.5 configurations/min; adversarial epoch 3/5 45%) 6m10s, ~8m00s left; log work/logs/grid.separate.log

On a terminal the line is rewritten in place (``\\r``) every ``TQDM_MININTERVAL`` seconds (default
1); on other output (a log, a pipe) a plain line is printed every
:data:`~.progress.PLAIN_INTERVAL_S` seconds (or ``TQDM_MININTERVAL`` if larger). Off with
``--no-progress``, ``TQDM_DISABLE=1`` or ``XDOMAIN_PROGRESS=0``. The settings (:func:`enabled`,
:func:`interval`) are :mod:`.progress`'s, which owns the bars *inside* a step; this module owns
only the runner's line *about* a step. While the line is shown, every bar of this process goes
to the log as plain lines (:func:`.progress.bars_to_log`), not onto the terminal.

Where the done fraction comes from, in order: the step's log, read by :func:`parse_log` (the
plain lines of :mod:`.progress`'s bars: the outermost gives percent, rate and time left, the
innermost open one is shown beside it; else fairseq's updates, the grid's configuration lines of
a log without bars, fastText's percent), else the elapsed time against the plan's estimate of
the step (``plan.json``, :mod:`fairseq_xdomain.experiments.plan`), else elapsed time only.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .progress import bars_to_log, enabled, fmt, interval, parse_lines

#: bytes read from the end of a log to find the progress
TAIL_BYTES = 16384

__all__ = ["LiveLine", "enabled", "interval", "fmt", "parse_log", "live_factory"]


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
#: fairseq's ``simple`` log line within an epoch: ``epoch 002:     10 / 50 loss=...``
_FAIRSEQ_STEP = re.compile(r"epoch (\d+):\s+(\d+) / (\d+)")
_FAIRSEQ_END = re.compile(r"end of epoch (\d+)")
#: seconds of back-translation and of the whole update in a UNMT log line (``unmt_xdomain``)
_BT = re.compile(r"bt_sec[= ]([\d.]+).*?step_sec[= ]([\d.]+)")


def parse_bars(text: str, outer: dict | None = None) -> tuple[dict | None, str]:
    """(the outermost bar's last line, what the bars say) from the plain progress lines of
    ``text`` (:func:`.progress.parse_lines`): ``grid: 9 of 21 configurations, 1.5
    configurations/min`` and, when a deeper bar wrote after it, ``; adversarial epoch 3/5 45%``.
    ``outer``: the outermost line seen before, used when ``text`` (a log's tail) has none."""
    lines = parse_lines(text)
    if not lines:
        return outer, (f"{outer['desc']}: {outer['counts']}" if outer else "")
    top = min(line["depth"] for line in lines)
    if outer is not None and outer["depth"] < top:
        top = outer["depth"]
    at = max((i for i, line in enumerate(lines) if line["depth"] == top), default=None)
    if at is not None:
        outer = lines[at]
    what = f"{outer['desc']}: {outer['counts']}"
    inner = lines[-1]
    if inner["depth"] > outer["depth"] and (at is None or len(lines) - 1 > at):
        what += f"; {inner['desc']}" + (f" {inner['percent']:.0f}%"
                                        if inner["percent"] is not None else "")
    return outer, what


def _epoch_fraction(text: str, total_epochs: int) -> float | None:
    """Epochs done of ``total_epochs`` from fairseq's lines (the last ``epoch E: i / n`` line,
    or a later ``end of epoch E``), None without such a line."""
    step = list(_FAIRSEQ_STEP.finditer(text))
    end = list(_FAIRSEQ_END.finditer(text))
    done = None
    if step:
        e, i, n = (int(g) for g in step[-1].groups())
        done = e - 1 + (i / n if n else 0)
    if end and (not step or end[-1].start() > step[-1].start()):
        done = float(end[-1][1])
    return None if done is None else min(1.0, done / total_epochs)


def parse_log(text: str, total_updates: int | None = None,
              total_epochs: int | None = None) -> tuple[float | None, str]:
    """(fraction done or None, what the log says: ``grid: 9 of 21 configurations, ...``,
    ``epoch 3, 1,200 updates, back-translation 60% of the time``, ...) from the end of a step's
    log (:func:`parse_bars` first). A fairseq run's fraction: updates of ``total_updates``, else
    epochs of ``total_epochs`` (its ``--max-epoch``)."""
    outer, what = parse_bars(text)
    if outer is not None:
        return (outer["percent"] / 100 if outer["percent"] is not None else None), what
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
        bt = _BT.findall(text)
        if bt and float(bt[-1][1]) > 0:
            what += f", back-translation {100 * float(bt[-1][0]) / float(bt[-1][1]):.0f}% of the time"
        frac = (n / total_updates) if total_updates else (
            _epoch_fraction(text, total_epochs) if total_epochs else None)
        return frac, what
    return None, ""


def _count(value) -> int | None:
    """A positive count from a preset value (``200000``, ``"10"``), else None."""
    try:
        return int(value) if value is not None and int(value) > 0 else None
    except (TypeError, ValueError):
        return None


class LiveLine:
    """A thread that shows the live line of one step until :meth:`close` (a context manager).

    ``est_s``: the plan's estimate of the step (None: unknown); ``log``: the step's log (shown,
    and parsed for progress) or None; ``total_updates``: fairseq's updates of the step, when
    known, else ``total_epochs`` (its ``--max-epoch``); ``stream``: where the line goes
    (default stdout)."""

    def __init__(self, prefix: str, est_s: float | None = None, log=None,
                 total_updates: int | None = None, stream=None,
                 total_epochs: int | None = None):
        self.prefix, self.est_s, self.log = prefix, est_s, log
        self.total_updates, self.total_epochs = _count(total_updates), _count(total_epochs)
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = interval(self.tty)
        self.start = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._width = 0
        self._outer = None  # the outermost bar's last line seen in the log
        self._seen = (None, 0.0)  # (that line, when this line first saw it)
        self._to_log = None  # bars_to_log() while the line is shown

    def line(self) -> str:
        """The line now."""
        elapsed = time.time() - self.start
        frac, what, left = None, "", None
        if self.log is not None and Path(self.log).is_file():
            text = _tail(self.log)
            self._outer, what = parse_bars(text, self._outer)
            if self._outer is not None:  # a bar's own rate knows a resumed run's done part
                pct, left = self._outer["percent"], self._outer["left_s"]
                frac = pct / 100 if pct is not None else None
                if self._outer != self._seen[0]:  # a new line: its time left counts down
                    self._seen = (self._outer, time.time())
                if left is not None:
                    left = left - (time.time() - self._seen[1])
                    if left <= 0:  # late against the bar's rate: the step's own rate so far
                        left = (elapsed / frac - elapsed) if frac and frac < 1 else 0.0
            else:
                frac, what = parse_log(text, self.total_updates, self.total_epochs)
        basis = "log"
        if frac is None and self.est_s:
            frac, basis = min(0.99, elapsed / self.est_s), "plan"
        parts = [f"{self.prefix}:"]
        if frac is not None:
            parts.append(f"{100 * frac:.0f}%")
        if what:
            parts.append(f"({what})")
        parts.append(fmt(elapsed))
        if frac or left is not None:
            if left is None:
                left = ((elapsed / frac - elapsed) if basis == "log"
                        else max(0.0, self.est_s - elapsed))
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
        self._to_log = bars_to_log()
        self._to_log.__enter__()
        if self.log is not None and not self.tty:
            self.stream.write(f"{self.prefix}: log {self.log}\n")
            self.stream.flush()
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._to_log is not None:
            self._to_log.__exit__(None, None, None)
            self._to_log = None
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def __exit__(self, *exc):
        self.close()
        return False


def live_factory(estimates: dict[str, float], log_for: Callable[[str], object],
                 updates_for: Callable[[str], int | None] = lambda name: None, stream=None,
                 epochs_for: Callable[[str], int | None] = lambda name: None):
    """A ``runner.live(name, prefix)`` for :class:`fairseq_xdomain.steps.Runner`: a
    :class:`LiveLine` with the step's estimate from ``estimates`` ({step: s}), its log
    ``log_for(name)`` (a path or None) and its fairseq updates / epochs, where known."""
    def live(name: str, prefix: str) -> LiveLine:
        return LiveLine(prefix, estimates.get(name), log_for(name), updates_for(name), stream,
                        epochs_for(name))
    return live
