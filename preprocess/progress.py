"""tqdm progress bars for the preprocessing steps (shown on a terminal, silent in logs/tests)."""
from __future__ import annotations

import os

from tqdm import tqdm


def progress(iterable=None, desc: str = "", unit: str = " lines", disable: bool = False, **kwargs):
    """A tqdm bar on stderr, refreshed at most once a second.

    Shown when stderr is a terminal; ``XDOMAIN_PROGRESS=1`` forces it on (e.g. in a log file) and
    ``XDOMAIN_PROGRESS=0`` off.
    """
    forced = os.environ.get("XDOMAIN_PROGRESS")
    if disable:
        dis = True
    elif forced is not None:
        dis = forced.strip() in ("0", "", "false", "no")
    else:
        dis = None  # tqdm: disable when not a TTY
    return tqdm(iterable, desc=desc, unit=unit, disable=dis, mininterval=1.0, unit_scale=True,
                dynamic_ncols=True, **kwargs)
