"""The one plot style of the report: curves over epochs, readable at a glance.

Integer epoch ticks, axis labels, a light grid, a legend when curves are labelled, and every
figure saved twice: PNG at twice the screen resolution (200 dpi) and SVG. matplotlib runs
headless (Agg) and is imported only when a figure is made.
"""
from __future__ import annotations

from pathlib import Path

#: screen resolution x 2: a PNG that stays sharp on a high-density display or a slide
PNG_DPI = 200
#: figure size in inches (a column of a paper or half a slide)
FIGSIZE = (5.0, 3.2)


def new_figure(figsize: tuple[float, float] = FIGSIZE):
    """A (figure, axes) pair on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)


def style_epoch_axes(ax, *, ylabel: str, xlabel: str = "epoch", title: str | None = None) -> None:
    """Integer ticks on the epoch axis (no 1.5 epochs), both axes labelled, a light grid, a
    legend when any curve has a label."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if any(label and not label.startswith("_") for label in labels):
        ax.legend()


def save_figure(fig, stem) -> list[Path]:
    """Write ``fig`` as ``STEM.png`` (``PNG_DPI``) and ``STEM.svg``, each atomically (a
    temporary sibling renamed into place), close it, and return [png, svg]. ``stem``: a path
    without suffix; its folder is made when missing."""
    import matplotlib.pyplot as plt

    from .common.atomic import atomic_open

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    paths = []
    try:
        for suffix, kw in ((".png", {"dpi": PNG_DPI}), (".svg", {})):
            path = stem.with_name(stem.name + suffix)
            with atomic_open(path, "wb", encoding=None) as f:
                fig.savefig(f, format=suffix[1:], **kw)
            paths.append(path)
    finally:
        plt.close(fig)
    return paths
