"""What a plot shows a reader: no two pieces of text on top of each other, at the default size."""

from __future__ import annotations

import itertools


def capture(monkeypatch) -> list:
    """The figures wsdb's plots save from now on (wsdb.analyses.plots._save still writes them)."""
    from wsdb.analyses import plots

    figures = []
    real = plots._save

    def keep(figure, out):
        figures.append(figure)
        return real(figure, out)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def overlapping_texts(figure) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of the figure whose boxes overlap (tick labels of one
    axis with each other included)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(figure)  # a closed figure has lost its canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    undrawn = set()  # labels of ticks outside their axis' view: matplotlib keeps them but draws none
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - span <= tick.get_loc() <= high + span:
                    undrawn |= {id(tick.label1), id(tick.label2)}
    texts = [t for t in figure.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.figure is figure and id(t) not in undrawn]
    boxes = [(t.get_text(), t.get_window_extent(renderer=renderer)) for t in texts]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
            if box_a.width and box_b.width and box_a.overlaps(box_b)]
