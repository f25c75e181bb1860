"""fairseq_xdomain.plots: integer epoch ticks, labels, legend, PNG at 2x and SVG."""
from __future__ import annotations

from fairseq_xdomain.plots import FIGSIZE, PNG_DPI, new_figure, save_figure, style_epoch_axes


def test_epoch_plot_style_and_files(tmp_path):
    fig, ax = new_figure()
    ax.plot([1, 2, 3], [1.5, 4.0, 6.25], "s-", label="joint")
    ax.plot([1, 2, 3], [1.0, 2.0, 3.5], "o--", label="baseline")
    style_epoch_axes(ax, ylabel="BLEU", title="en-fr")
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)  # no 1.5 epochs
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("epoch", "BLEU", "en-fr")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["joint", "baseline"]
    png, svg = save_figure(fig, tmp_path / "plots" / "bleu_en_fr")
    assert (png.name, svg.name) == ("bleu_en_fr.png", "bleu_en_fr.svg")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (round(FIGSIZE[0] * PNG_DPI), round(FIGSIZE[1] * PNG_DPI))
    assert "<svg" in svg.read_text(encoding="utf-8")[:2000]
    assert sorted(p.name for p in png.parent.iterdir()) == ["bleu_en_fr.png", "bleu_en_fr.svg"]


def test_no_legend_without_labels():
    fig, ax = new_figure()
    ax.plot([1, 2], [3, 4])
    style_epoch_axes(ax, ylabel="P@1 (%)")
    assert ax.get_legend() is None
