"""Figures of lesson 05 (network dissection): one unit's mask against one concept, the paper's histogram of
detectors, detectors per category and layer, and a unit's strongest images with its mask and the concept's.

Each function returns the matplotlib ``Figure``; the math is in :mod:`lectures_lib.dissection`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from ..dissection import DissectionTable, iou
from ..validation import check_images, check_range
from . import closes_figures_on_error, to_numpy_image

__all__ = ["unit_concept_figure", "detector_histogram", "category_bars", "unit_gallery", "CATEGORY_COLORS"]

CATEGORY_COLORS = {"color": "tab:pink", "object": "tab:blue", "part": "tab:cyan", "material": "tab:brown",
                   "scene": "tab:green", "texture": "tab:orange"}


def _mask(m, name: str) -> np.ndarray:
    arr = m.detach().cpu().numpy() if isinstance(m, torch.Tensor) else np.asarray(m)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D mask h x w, got shape {arr.shape}")
    return arr.astype(bool)


def _resized(image: torch.Tensor, size) -> np.ndarray:
    """The image resized to the mask size, for drawing masks over it."""
    return to_numpy_image(F.interpolate(image[None].float(), size=tuple(size), mode="bilinear", align_corners=False,
                                        antialias=True)[0])


@closes_figures_on_error
def unit_concept_figure(image: torch.Tensor, activation: torch.Tensor, threshold: float, concept_mask, *,
                        unit_name: str = "unit", concept_name: str = "concept"):
    """The IoU measure of network dissection (Bau et al., CVPR 2017) on one image, in five panels.

    The image; the unit's activation map upsampled bilinearly to the mask size
    with the threshold ``T_k`` as a contour (colour bar in activation units); the thresholded mask ``M_k``;
    the concept mask ``L_c``; and their intersection and union, with the IoU of this image in the title.

    Parameters
    ----------
    image : Tensor ``3 x H x W`` (or ``1 x H x W``) in [0, 1]
    activation : Tensor ``h0 x w0``
        The unit's activation map on this image (the layer's resolution).
    threshold : float
        ``T_k`` from :func:`dissection.unit_thresholds`.
    concept_mask : bool tensor or array ``h x w``
        The concept's mask at the mask size.
    unit_name, concept_name : str
        Labels for the titles (defaults ``"unit"`` and ``"concept"``).

    Returns
    -------
    matplotlib.figure.Figure
        One row of five panels: image, upsampled activation with the threshold contour, ``M_k``, ``L_c``,
        and intersection and union.

    Raises
    ------
    ValueError
        When ``image`` is not ``C x H x W``, ``activation`` is not a float 2-D map, ``threshold`` is not finite,
        or ``concept_mask`` is not 2-D.
    TypeError
        When ``threshold`` is not a number.
    """
    check_images(image, "image", ndim=3)
    if not isinstance(activation, torch.Tensor) or activation.dim() != 2 or not activation.is_floating_point():
        got = getattr(activation, "shape", type(activation).__name__)
        raise ValueError(f"activation must be a float 2-D map h x w, got {got}")
    threshold = float(check_range(threshold, "threshold"))
    concept = _mask(concept_mask, "concept_mask")
    up = F.interpolate(activation[None, None].float().cpu(), size=concept.shape, mode="bilinear",
                       align_corners=False)[0, 0].numpy()
    unit = up > threshold
    picture = _resized(image, concept.shape)
    value = iou(torch.from_numpy(unit), torch.from_numpy(concept))
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.9))
    axes[0].imshow(picture, cmap="gray" if picture.ndim == 2 else None)
    axes[0].set_title("image x")
    im = axes[1].imshow(up, cmap="viridis")
    axes[1].contour(up, levels=[threshold], colors="red", linewidths=1.2)
    axes[1].set_title(f"{unit_name}: activation A_k(x),\nupsampled; red: T_k = {threshold:.3g}")
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04, label="activation")
    for ax, mask, title, color in ((axes[2], unit, f"M_k = A_k > T_k\n({unit.mean():.1%} of the pixels)", (1, 0.2, 0.2)),
                                   (axes[3], concept, f"L_c: {concept_name}\n({concept.mean():.1%} of the pixels)",
                                    (0.2, 0.5, 1))):
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, alpha=0.45)
        ax.imshow(np.dstack([*(np.full(mask.shape, c) for c in color), 0.75 * mask]))
        ax.set_title(title)
    overlap = np.zeros((*concept.shape, 3))
    overlap[unit & ~concept] = (1, 0.2, 0.2)
    overlap[concept & ~unit] = (0.2, 0.5, 1)
    overlap[unit & concept] = (1, 0.9, 0.1)
    axes[4].imshow(overlap)
    axes[4].set_title(f"yellow: M_k and L_c (intersection)\nall colours: union; IoU = {value:.3f}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


@closes_figures_on_error
def detector_histogram(table: DissectionTable, category: str | None = "object", iou_threshold: float = 0.04,
                       max_concepts: int = 60, title: str | None = None):
    """The histogram of Bau et al. (CVPR 2017): how many units detect each concept, most frequent first.

    A unit detects a concept when its IoU is above ``iou_threshold``; the title gives the count of detector
    units and of distinct concepts.

    Parameters
    ----------
    table : DissectionTable
        From :func:`dissection.released_results` or :meth:`dissection.Dissection.table`.
    category : str or None, default "object"
        Each unit's best concept of this category (None: its best concept overall, bars coloured by category).
    iou_threshold : float, default 0.04
        IoU above which a unit counts as a detector, in [0, 1] (Bau et al.: 0.04).
    max_concepts : int, default 60
        At most this many bars (``>= 1``); a note counts the concepts left out.
    title : str, optional
        The axis title; default the table's name and layer with the counts.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        When ``table`` is not a :class:`DissectionTable`, or ``max_concepts`` is not an int.
    ValueError
        When ``max_concepts < 1``, ``category`` is not one of the table's, or ``iou_threshold`` is outside [0, 1].
    """
    if not isinstance(table, DissectionTable):
        raise TypeError(f"table must be a DissectionTable, got {type(table).__name__}")
    check_range(max_concepts, "max_concepts", 1, integer=True)
    rows = table.histogram(category, iou_threshold)
    n_units, n_distinct = table.count(category, iou_threshold), table.distinct(category, iou_threshold)
    shown = rows[:max_concepts]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.22 * len(shown) + 2), 4.2))
    if category is None:
        cat_of = dict(zip(table.label, table.category))
        colors = [CATEGORY_COLORS.get(cat_of[c], "grey") for c, _ in shown]
    else:
        colors = CATEGORY_COLORS.get(category, "tab:blue")
    ax.bar(range(len(shown)), [n for _, n in shown], color=colors)
    ax.set_xticks(range(len(shown)), [c for c, _ in shown], rotation=90, fontsize=8)
    ax.set_xlim(-0.7, max(len(shown), 1) - 0.3)
    ax.set_ylabel("number of units")
    what = f"{category} detectors" if category else "interpretable units"
    ax.set_title(title or f"{table.name} {table.layer}: {n_units}/{len(table)} {what} with IoU > {iou_threshold:g}, "
                          f"{n_distinct} distinct concepts")
    if category is None:
        present = list(dict.fromkeys(cat_of[c] for c, _ in shown))
        ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=CATEGORY_COLORS.get(c, "grey")) for c in present],
                  labels=present, fontsize=8)
    if len(rows) > len(shown):
        ax.text(0.99, 0.95, f"(+{len(rows) - len(shown)} concepts with fewer units)", transform=ax.transAxes,
                ha="right", va="top", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def category_bars(counts: Mapping[str, Mapping[str, int]], totals: Mapping[str, int] | None = None,
                  title: str = "interpretable units per category", fraction: bool = False):
    """Grouped bars of interpretable units per category, one group per network or layer.

    For each key of ``counts``, the number of interpretable units per category (``counts[name][category]``);
    ``fraction=True`` divides by ``totals[name]`` units.

    Parameters
    ----------
    counts : {name: {category: count}}
        E.g. ``{layer: table.units_per_category()}``.
    totals : {name: number of units}, optional
        Written under each group; needed for ``fraction``.
    title : str, default "interpretable units per category"
    fraction : bool, default False
        Draw fractions of ``totals[name]`` instead of counts.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When ``counts`` is not a non-empty mapping of mappings, or ``fraction`` is True and ``totals`` lacks
        an entry of ``counts``.
    """
    if not isinstance(counts, Mapping) or not counts or not all(isinstance(v, Mapping) for v in counts.values()):
        raise ValueError("counts must be a non-empty dict {name: {category: count}}")
    if fraction and (totals is None or set(counts) - set(totals)):
        raise ValueError("totals must give the number of units of every entry of counts when fraction=True")
    cats = list(dict.fromkeys(c for v in counts.values() for c in v))
    names = list(counts)
    width = 0.8 / max(len(cats), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(names) + 2), 4.2))
    for j, cat in enumerate(cats):
        vals = [counts[n].get(cat, 0) / (totals[n] if fraction else 1) for n in names]
        bars = ax.bar(np.arange(len(names)) + (j - (len(cats) - 1) / 2) * width, vals, width,
                      label=cat, color=CATEGORY_COLORS.get(cat))
        for b, v in zip(bars, vals):
            if v:
                ax.text(b.get_x() + b.get_width() / 2, b.get_height(), f"{v:.0%}" if fraction else str(int(v)),
                        ha="center", va="bottom", fontsize=7)
    labels = [f"{n}\n({totals[n]} units)" if totals else n for n in names]
    ax.set_xticks(range(len(names)), labels, fontsize=8)
    ax.set_ylabel("fraction of units" if fraction else "number of units")
    ax.set_title(title)
    ax.legend(fontsize=8, title="category of the best concept", title_fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def unit_gallery(images: torch.Tensor, unit_masks: torch.Tensor, concept_masks: torch.Tensor | None = None, *,
                 title: str = "", titles: Sequence[str] | None = None):
    """A unit's images with its thresholded mask ``M_k``, one panel per image.

    Each image is dimmed outside ``M_k`` (as in Bau et al.'s figures, CVPR 2017), with the mask's outline in
    red and, when given, the concept's outline dashed in blue and the image's IoU under it.

    Parameters
    ----------
    images : Tensor ``B x C x H x W`` in [0, 1]
    unit_masks : bool Tensor ``B x h x w``
        From :func:`dissection.unit_masks`.
    concept_masks : bool Tensor ``B x h x w``, optional
        The concept's masks, the shape of ``unit_masks``.
    title : str, default ""
        The figure's title (unit, concept, IoU).
    titles : list of str, optional
        One per image.

    Returns
    -------
    matplotlib.figure.Figure
        One row of ``B`` panels.

    Raises
    ------
    ValueError
        When ``images`` is not ``B x C x H x W``, ``unit_masks`` is not ``B x h x w``, ``concept_masks`` differs
        from it in shape, or ``titles`` does not give one title per image.
    """
    check_images(images, "images", min_batch=1)
    if not isinstance(unit_masks, torch.Tensor) or unit_masks.dim() != 3 or len(unit_masks) != len(images):
        raise ValueError(f"unit_masks must be a tensor B x h x w with B = {len(images)}, got "
                         f"{getattr(unit_masks, 'shape', type(unit_masks).__name__)}")
    if concept_masks is not None and (not isinstance(concept_masks, torch.Tensor)
                                      or concept_masks.shape != unit_masks.shape):
        raise ValueError(f"concept_masks must have the shape of unit_masks {tuple(unit_masks.shape)}, got "
                         f"{getattr(concept_masks, 'shape', type(concept_masks).__name__)}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must give one title per image ({len(images)}), got {len(titles)}")
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.0), squeeze=False)
    for i, ax in enumerate(axes[0]):
        m = unit_masks[i].cpu().numpy().astype(bool)
        picture = _resized(images[i].cpu(), m.shape)
        shade = 0.25 + 0.75 * m
        ax.imshow(picture * (shade[..., None] if picture.ndim == 3 else shade), cmap="gray" if picture.ndim == 2 else None)
        if m.any() and not m.all():
            ax.contour(m, levels=[0.5], colors="red", linewidths=1.2)
        if concept_masks is not None:
            c = concept_masks[i].cpu().numpy().astype(bool)
            if c.any() and not c.all():
                ax.contour(c, levels=[0.5], colors="deepskyblue", linewidths=1.0, linestyles="--")
            ax.set_xlabel(f"IoU here {iou(torch.from_numpy(m), torch.from_numpy(c)):.2f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.suptitle(title + ("\nred: the unit's mask M_k (dimmed outside); dashed blue: the concept" if concept_masks is not None
                          else "\nred: the unit's mask M_k (dimmed outside)"), fontsize=10)
    fig.tight_layout(pad=1.2)
    return fig
