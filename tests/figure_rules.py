"""What a program can check of a figure that teaches (issue 16): a title, labelled axes on plots, a colour bar
beside every colour-mapped map, and no text outside the figure. ``conftest.py`` applies these rules to every
figure that any test leaves open, so each figure function is checked on the typical inputs its tests use
(``FIGURE_RULES=0`` turns them off; a test marked ``figure_rules_exempt`` is not checked)."""
from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.image import AxesImage

GREY_MAPS = {"gray", "grey", "Greys", "gray_r", "Greys_r", "binary", "binary_r", "bone"}


def _is_colorbar(ax: Axes) -> bool:
    return hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>"


def figure_problems(fig) -> list[str]:
    """The rules ``fig`` breaks, one sentence each (an empty list for a good figure)."""
    problems = []
    axes = [ax for ax in fig.axes if ax.get_visible() and not _is_colorbar(ax)]
    if not axes:
        return problems
    suptitle = fig._suptitle.get_text() if fig._suptitle is not None else ""
    if not suptitle and not any(ax.get_title() or ax.get_title("left") or ax.get_title("right") for ax in axes):
        problems.append("no title: give the figure a suptitle or its panels titles")
    has_colorbar = any(_is_colorbar(ax) for ax in fig.axes)
    for i, ax in enumerate(axes):
        images = [im for im in ax.get_images() if im.get_visible()]
        plotted = ax.lines or ax.patches or ax.collections
        if plotted and not images and ax.axison and ax.name == "rectilinear":
            if not ax.get_xlabel() and not any(t.get_text() for t in ax.get_xticklabels()):
                problems.append(f"axes {i} ({ax.get_title()!r}) has no x label")
            if not ax.get_ylabel() and not any(t.get_text() for t in ax.get_yticklabels()):
                problems.append(f"axes {i} ({ax.get_title()!r}) has no y label")
        for im in images:
            if isinstance(im, AxesImage) and im.get_array() is not None and im.get_array().ndim == 2:
                cmap = im.get_cmap().name
                if cmap not in GREY_MAPS and not has_colorbar:
                    problems.append(f"axes {i} ({ax.get_title()!r}) shows a map in colour map {cmap!r} without a colour bar")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox

    def outside(ext) -> bool:
        return ext.x0 < box.x0 - 2 or ext.y0 < box.y0 - 2 or ext.x1 > box.x1 + 2 or ext.y1 > box.y1 + 2

    for i, ax in enumerate(fig.axes):  # what is drawn of each panel: ticks, labels, title, legend
        if ax.get_visible():
            ext = ax.get_tightbbox(renderer)
            if ext is not None and outside(ext):
                problems.append(f"axes {i} ({ax.get_title()!r}): its labels or title reach outside the figure")
    for text in list(fig.texts) + ([fig._suptitle] if fig._suptitle is not None else []):
        if text.get_visible() and text.get_text().strip() and outside(text.get_window_extent(renderer)):
            problems.append(f"text {text.get_text()[:40]!r} reaches outside the figure")
    return problems
