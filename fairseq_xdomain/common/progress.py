"""The one tqdm progress bar of the package (prep steps, STDM reading, BLEU decoding, UBLI).

Shown on a terminal, silent in logs and tests; ``XDOMAIN_PROGRESS=1`` forces it on (e.g. in a
log file) and ``XDOMAIN_PROGRESS=0`` off. tqdm's own environment settings (``TQDM_DISABLE``,
``TQDM_MININTERVAL``, ``TQDM_NCOLS``, ``TQDM_MINITERS``, ...; tqdm >= 4.66) are respected: a
setting given there replaces this bar's default for it.
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
    ours = {"mininterval": 1.0, "dynamic_ncols": True, "unit_scale": unit_scale, "disable": dis}
    # tqdm's own environment settings (TQDM_MININTERVAL, TQDM_NCOLS, TQDM_DISABLE, ...) win over
    # our defaults: tqdm applies a TQDM_X only to a keyword that is not passed
    env = {k[len("TQDM_"):].lower() for k in os.environ if k.startswith("TQDM_")}
    if "ncols" in env:
        env.add("dynamic_ncols")
    if disable or forced is not None:
        env.discard("disable")  # the caller's disable=True and XDOMAIN_PROGRESS come first
    ours = {k: v for k, v in ours.items() if k not in env}
    return tqdm(iterable, desc=desc, unit=unit, total=total, **ours, **kwargs)
