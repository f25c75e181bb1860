"""The one tqdm progress bar of the package (prep steps, STDM reading, BLEU decoding, UBLI).

Shown on a terminal, silent in logs and tests; ``XDOMAIN_PROGRESS=1`` forces it on (e.g. in a
log file) and ``XDOMAIN_PROGRESS=0`` off.
"""
from __future__ import annotations

import os

from tqdm import tqdm


def progress(iterable=None, desc: str = "", unit: str = " lines", disable: bool = False,
             total: int | None = None, unit_scale: bool = True, **kwargs) -> tqdm:
    """A tqdm bar on stderr, refreshed at most once a second.

    ``iterable``: what to wrap (or None and ``update(n)`` by hand, with ``total`` items when
    known); ``unit``: what one step counts (" lines", " sentences", "it"); ``unit_scale``: show
    1.2M rather than 1200000. ``disable=True`` turns it off whatever the environment; otherwise
    it is shown when stderr is a terminal unless ``XDOMAIN_PROGRESS`` says otherwise.
    """
    forced = os.environ.get("XDOMAIN_PROGRESS")
    if disable:
        dis = True
    elif forced is not None:
        dis = forced.strip() in ("0", "", "false", "no")
    else:
        dis = None  # tqdm: disable when not a TTY
    return tqdm(iterable, desc=desc, unit=unit, total=total, disable=dis, mininterval=1.0,
                unit_scale=unit_scale, dynamic_ncols=True, **kwargs)
