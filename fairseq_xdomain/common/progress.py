"""The one progress bar of the package (prep steps, STDM reading, BLEU decoding, UBLI grid,
adversarial epochs, refinements, CSLS kNN) and the progress settings every progress display
reads (the step runner's live line, :mod:`.step_progress`, too).

Where a bar goes:

* a terminal (stderr is a TTY): a tqdm bar, refreshed at most once a second;
* anything else (a log file, a pipe), and every bar of a process while the step runner shows its
  live line (:func:`bars_to_log`): plain log lines (logger ``fairseq_xdomain.progress``, INFO)
  every :func:`interval` seconds (default :data:`PLAIN_INTERVAL_S`), in the one format
  :func:`parse_lines` reads back::

      progress 0: grid: 43% (9 of 21 configurations, 1.5 configurations/min) 6m10s, ~8m00s left
      progress 1: adversarial epoch 3/5: 45% (450 of 1,000 it, 2.1 it/s) 3m35s, ~4m22s left

  ``0`` is the bar's nesting depth (the outermost bar open in the process is 0): the step
  runner's live line takes its percent, rate and time left from depth 0 and shows the innermost
  bar beside it. No line for a bar's start, nor for the end of one that lived less than the
  interval (short loops stay out of the log).

Off with ``disable=True`` (a command's ``--no-progress``), within :func:`quiet`, with
``TQDM_DISABLE=1`` or ``XDOMAIN_PROGRESS=0``; ``XDOMAIN_PROGRESS=1`` forces tqdm's own bar even
where stderr is not a terminal (its ``\\r`` refreshes then go into the log). tqdm's own
environment settings (``TQDM_MININTERVAL``, ``TQDM_NCOLS``, ``TQDM_MINITERS``, ...; tqdm >= 4.66)
are respected: a setting given there replaces this bar's default for it; on a non-terminal the
interval is the larger of ``TQDM_MININTERVAL`` and :data:`PLAIN_INTERVAL_S`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time

from tqdm import tqdm

#: seconds between two plain progress lines on a non-terminal output (a log, a pipe)
PLAIN_INTERVAL_S = 30.0

logger = logging.getLogger("fairseq_xdomain.progress")

_state = {"to_log": 0, "quiet": 0}


def enabled(no_progress: bool = False) -> bool:
    """Whether progress is wanted: not with ``no_progress``, within :func:`quiet`, with
    ``TQDM_DISABLE`` set to a true value, or with ``XDOMAIN_PROGRESS=0``."""
    if no_progress or _state["quiet"]:
        return False
    if os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes"):
        return False
    return os.environ.get("XDOMAIN_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "")


def interval(tty: bool) -> float:
    """Seconds between two refreshes: ``TQDM_MININTERVAL`` (default 1) on a terminal, the larger
    of it and :data:`PLAIN_INTERVAL_S` otherwise."""
    try:
        mini = float(os.environ.get("TQDM_MININTERVAL", "1"))
    except ValueError:
        mini = 1.0
    return max(0.1, mini) if tty else max(PLAIN_INTERVAL_S, mini)


def fmt(seconds: float) -> str:
    """A duration for people: ``42s``, ``6m10s``, ``2h05m``."""
    s = int(max(0, seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def parse_duration(text: str) -> float | None:
    """Seconds of a :func:`fmt` duration (``6m10s`` -> 370.0), None when it is not one."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip())
    if not m or not any(m.groups()):
        return None
    h, mi, s = (int(g or 0) for g in m.groups())
    return 3600.0 * h + 60.0 * mi + s


@contextlib.contextmanager
def bars_to_log():
    """Within the block every bar of this process is written as plain log lines, also where
    stderr is a terminal (the step runner's live line owns the terminal then)."""
    _state["to_log"] += 1
    try:
        yield
    finally:
        _state["to_log"] -= 1


@contextlib.contextmanager
def quiet():
    """Within the block no bar of this process shows anything (a command's ``--no-progress``
    for the loops deep inside it, e.g. CSLS's kNN blocks)."""
    _state["quiet"] += 1
    try:
        yield
    finally:
        _state["quiet"] -= 1


class _Null:
    def write(self, _text):
        return None

    def flush(self):
        return None


def _count(value: float, scale: bool = False) -> str:
    """``1,234`` (``scale``: ``1.23k`` from 1000 on); ``2.5`` for a fraction."""
    if scale and abs(value) >= 1000:
        return tqdm.format_sizeof(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3g}"


def _rate(per_s: float, unit: str) -> str:
    """``2.1 it/s``, ``12.3k lines/s``, ``1.5 configurations/min`` (or /h, /day)."""
    for factor, per in ((1, "s"), (60, "min"), (3600, "h")):
        if per_s * factor >= 1:
            value = per_s * factor
            return (f"{tqdm.format_sizeof(value)} {unit}/{per}" if value >= 1000
                    else f"{value:.3g} {unit}/{per}")
    return f"{per_s * 86400:.3g} {unit}/day"


class PlainBar(tqdm):
    """A tqdm bar whose refreshes are plain log lines (the module docstring's format)."""

    monitor_interval = 0  # no tqdm monitor thread: lines only when the loop reports

    def __init__(self, *args, **kwargs):
        self._shown, self._shown_n = False, None
        self._last_line = time.time()
        super().__init__(*args, **kwargs)
        self._depth = abs(self.pos)

    def text(self) -> str:
        """The line now, without the ``progress N:`` prefix."""
        d = self.format_dict
        n, total, elapsed = d["n"], d["total"], d["elapsed"]
        unit = (d["unit"] or "it").strip()
        scale = bool(d["unit_scale"])
        done = n - d.get("initial", 0)
        per_s = done / elapsed if elapsed > 0 and done > 0 else None
        count = (f"{100 * n / total:.0f}% ({_count(n, scale)} of {_count(total, scale)} {unit}"
                 if total else f"({_count(n, scale)} {unit}")
        if per_s:
            count += f", {_rate(per_s, unit)}"
        count += (f", {d['postfix']})" if d.get("postfix") else ")")
        left = (f", ~{fmt((total - n) / per_s)} left" if per_s and total else "")
        return f"{d['prefix'] or 'progress'}: {count} {fmt(elapsed)}{left}"

    def display(self, msg=None, pos=None):  # noqa: ARG002 - tqdm's signature
        if not hasattr(self, "start_t") or msg == "":  # the 0% line at the start; a clear
            return True
        now = self._time()
        if self.disable:  # closing (tqdm sets it first thing in close()): a line unless short
            if (self.n == self._shown_n if self._shown
                    else now - self.start_t < self.mininterval):  # or said already
                return True
        elif now - self._last_line < self.mininterval:  # set_postfix() refreshes at once
            return True
        logger.info("progress %d: %s", self._depth, self.text())
        self._shown, self._shown_n, self._last_line = True, self.n, now
        return True


def progress(iterable=None, desc: str = "", unit: str = " lines", disable: bool = False,
             total: int | None = None, unit_scale: bool = True, **kwargs) -> tqdm:
    """A progress bar (the module docstring says where it goes).

    ``iterable``: what to wrap (or None and ``update(n)`` by hand, with ``total`` items when
    known); ``unit``: what one step counts (" lines", " sentences", "it"); ``unit_scale``: show
    1.2M rather than 1200000. ``disable=True`` turns it off whatever the environment. Other
    tqdm keywords (``initial``, ``mininterval``, ...) are passed on and win over the defaults
    (``delay``, the wait before a terminal bar appears, only on a terminal).
    """
    forced = os.environ.get("XDOMAIN_PROGRESS", "").strip().lower() in ("1", "true", "yes")
    off = disable or not enabled()
    if not off and (_state["to_log"] or not (forced or sys.stderr.isatty())):
        ours = {"mininterval": interval(False), "smoothing": 0, "leave": True, "file": _Null(),
                "unit_scale": unit_scale, "disable": False}
        kwargs.pop("delay", None)  # a terminal's setting: in a log a short loop is silent anyway
        return PlainBar(iterable, desc=desc, unit=unit, total=total, **{**ours, **kwargs})
    ours = {"mininterval": 1.0, "dynamic_ncols": True, "unit_scale": unit_scale,
            "disable": True if off else None if not forced else False}
    # tqdm's own environment settings (TQDM_MININTERVAL, TQDM_NCOLS, ...) win over our
    # defaults: tqdm applies a TQDM_X only to a keyword that is not passed
    env = {k[len("TQDM_"):].lower() for k in os.environ if k.startswith("TQDM_")}
    if "ncols" in env:
        env.add("dynamic_ncols")
    env.discard("disable")  # decided above (enabled() reads TQDM_DISABLE)
    ours = {k: v for k, v in ours.items() if k not in env}
    return tqdm(iterable, desc=desc, unit=unit, total=total, **{**ours, **kwargs})


_LINE = re.compile(r"progress (\d+): (.*?): (?:(\d+)% )?\((.*?)\) (\S+)(?:, ~(\S+) left)?\s*$")


def parse_lines(text: str) -> list[dict]:
    """The plain progress lines of ``text`` (a log), oldest first: ``{"depth", "desc",
    "percent" (float or None), "counts" ("9 of 21 configurations, 1.5 configurations/min"),
    "elapsed_s", "left_s" (None when unknown)}``."""
    out = []
    for line in text.splitlines():
        m = _LINE.search(line)
        if m:
            out.append({"depth": int(m[1]), "desc": m[2],
                        "percent": float(m[3]) if m[3] is not None else None,
                        "counts": m[4], "elapsed_s": parse_duration(m[5]),
                        "left_s": parse_duration(m[6]) if m[6] else None})
    return out
