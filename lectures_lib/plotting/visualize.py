"""Lesson 03's pictures and widget: first-layer filters, neighbours in feature and pixel space, t-SNE maps
(with Karpathy's thumbnail grid) and the activation-map browser. The numbers come from
:mod:`lectures_lib.visualize`; this module only draws them."""
from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from torch import nn

from .. import visualize as V
from ..plumbing import input_channels
from ..validation import check_images, check_range
from ..widgets import InteractiveFigure
from . import closes_figures_on_error, image_grid, to_numpy_image

__all__ = ["activation_view", "activation_widget", "plot_activation_maps", "plot_embedding", "plot_filters",
           "plot_neighbors", "plot_projection_rows", "plot_top_patches"]


@closes_figures_on_error
def plot_filters(weight: torch.Tensor | nn.Module, ncols: int = 8, shared_scale: bool = False,
                 figsize: tuple[float, float] | None = None, title: str | None = None):
    """First-layer filters as pictures, on a symmetric diverging scale: zero weight is the middle of the
    scale (white for grey filters, mid-grey for colour ones), so positive and negative lobes read at a glance.

    Grey filters (``C = 1``) are drawn with a blue-white-red colour map from ``-m`` to ``+m`` and a colour bar;
    colour filters (``C = 3``) as RGB images ``0.5 + 0.5 * w / m`` (grey = 0). ``m`` is each filter's largest
    ``|w|`` (or, with ``shared_scale``, the largest over all filters, which shows which filters are strong).

    Parameters
    ----------
    weight : Tensor ``K x C x k x k`` (C = 1: grey, C = 3: RGB) or an ``nn.Conv2d``
    ncols : int, default 8
    shared_scale : bool, default False
    figsize : (width, height), optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(weight, nn.Module):
        weight = getattr(weight, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise ValueError(f"weight must be a K x C x k x k convolution weight, got "
                         f"{tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__}")
    if weight.shape[1] not in (1, 3):
        raise ValueError(f"weight must have 1 or 3 input channels (first-layer filters), got shape "
                         f"{tuple(weight.shape)}; pick channels, e.g. weight[:, :1]")
    check_range(ncols, "ncols", 1, integer=True)
    w = weight.detach().double().cpu()
    if not torch.isfinite(w).all():
        raise ValueError("weight must be finite, got NaN or infinite values")
    k = len(w)
    m = w.abs().amax(dim=(1, 2, 3)) if not shared_scale else w.abs().max().expand(k)
    m = torch.where(m > 0, m, torch.ones_like(m))
    ncols = max(1, min(ncols, k))
    nrows = int(np.ceil(k / ncols))
    grey = w.shape[1] == 1
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (max(4.8, 1.1 * ncols + (1.4 if grey else 0.3)), 1.2 * nrows + 0.9),
                             squeeze=False, layout="constrained")
    im = None
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= k:
            continue
        if grey:
            values = (w[i, 0] if shared_scale else w[i, 0] / m[i]).numpy()
            lim = float(m[0]) if shared_scale else 1.0
            im = ax.imshow(values, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        else:
            ax.imshow((0.5 + 0.5 * w[i] / m[i]).clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
        ax.set_title(str(i), fontsize=7)
    scale = "one scale for all filters" if shared_scale else "each filter scaled by its largest |weight|"
    fig.suptitle((title + "\n" if title else "") + (f"{scale}; white = 0" if grey else f"{scale}; grey = 0"),
                 fontsize=10)
    if grey and im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9, aspect=12,
                     label="weight" if shared_scale else "weight / max |w|")
    return fig


@closes_figures_on_error
def plot_activation_maps(image: torch.Tensor, maps: torch.Tensor, channels: Sequence[int] | None = None, *,
                         layer: str = "", title: str | None = None, ncols: int = 8, cmap: str | None = None):
    """One image beside the activation maps of several channels of a layer, all maps on one colour scale
    (with its colour bar) and stretched over the image's extent, so a weak map looks weak and a hot spot
    sits over the part of the image it responds to.

    Parameters
    ----------
    image : Tensor ``C x H x W`` in [0, 1]
    maps : Tensor ``K x h x w``
        The layer's activations for this image (:func:`visualize.capture_activations`, one image).
    channels : sequence of int, optional
        Which maps to show (default the first 16).
    layer : str
        The layer's name, for the titles.
    title : str, optional
    ncols : int, default 8
    cmap : str, optional
        Default: ``"viridis"`` for maps that are never negative (after a ReLU), else a diverging
        ``"RdBu_r"`` on a symmetric scale, white = 0.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_images(image, "image", ndim=3)
    if not isinstance(maps, torch.Tensor) or maps.dim() != 3 or not maps.is_floating_point():
        raise ValueError(f"maps must be a float tensor K x h x w (one image's activations), got "
                         f"{tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__}")
    if not torch.isfinite(maps).all():
        raise ValueError("maps must be finite, got NaN or infinite values")
    chosen = list(range(min(16, len(maps)))) if channels is None else list(channels)
    if not chosen:
        raise ValueError("channels must name at least one channel")
    for c in chosen:
        check_range(c, "channels", 0, len(maps) - 1, integer=True)
    check_range(ncols, "ncols", 1, integer=True)
    shown = maps.detach().double().cpu()[chosen]
    lo, hi = float(shown.min()), float(shown.max())
    if lo < 0 < hi and cmap is None:                 # signed maps: zero in the middle of a diverging scale
        hi = max(-lo, hi)
        lo, cmap = -hi, "RdBu_r"
    cmap = cmap or "viridis"
    hi = hi if hi > lo else lo + 1e-12
    ncols = min(ncols, len(chosen))
    nrows = int(np.ceil(len(chosen) / ncols))
    fig = plt.figure(figsize=(max(6.0, 1.5 * nrows + 1.45 * ncols + 0.9), max(2.8, 1.5 * nrows + 0.7)),
                     layout="constrained")
    grid = fig.add_gridspec(nrows, ncols + 2, width_ratios=[1.05 * nrows] + [1] * ncols + [0.08])
    ax0 = fig.add_subplot(grid[:, 0])
    arr = to_numpy_image(image)
    ax0.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
    ax0.set_title("the image", fontsize=9)
    ax0.axis("off")
    h, w = image.shape[-2:]
    im = None
    for i, c in enumerate(chosen):
        ax = fig.add_subplot(grid[i // ncols, 1 + i % ncols])
        im = ax.imshow(shown[i].numpy(), cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest", extent=(0, w, h, 0))
        ax.set_title(f"channel {c}", fontsize=7)
        ax.axis("off")
    fig.colorbar(im, cax=fig.add_subplot(grid[:, -1]), label="activation")
    fig.suptitle(title or f"{layer}: {len(maps)} maps of {maps.shape[1]} x {maps.shape[2]}, {len(chosen)} shown",
                 fontsize=10)
    return fig


@closes_figures_on_error
def plot_top_patches(top: V.TopPatches, units: Sequence[int], *, k: int | None = None, context: float = 0.5,
                     layer_name: str | None = None, unit_notes: Sequence[str] | None = None, size: float = 1.5):
    """The lecture's "maximally activating patches": for each unit (a row), its ``k`` strongest images cropped
    around the hit's receptive field (plus ``context`` of the field's size on each side, clipped to the image),
    with the field drawn as a box, so you see what the unit saw and where. A field larger than the image
    gives the whole image, with the unit's centre marked.

    Parameters
    ----------
    top : TopPatches
        From :func:`visualize.top_activating_patches`.
    units : sequence of int
        Units of ``top.units`` to show, one row each (e.g. chosen by :func:`visualize.unit_selectivity`).
    k : int, optional
        Hits per unit (default all that ``top`` kept).
    context : float, default 0.5
        Margin around the field, as a fraction of its size (0: just the field).
    layer_name : str, optional
        The suptitle (say which depth and receptive field the layer has); default ``top.layer`` and its field.
    unit_notes : sequence of str, optional
        A note per unit under its name (its selectivity, for instance).
    size : float, default 1.5
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import Rectangle

    if not isinstance(top, V.TopPatches):
        raise TypeError(f"top must be the TopPatches of visualize.top_activating_patches, got {type(top).__name__}")
    units = list(units) if isinstance(units, (list, tuple, range)) else None
    if not units:
        raise ValueError("units must be a non-empty list of units of top.units")
    rows = [top._row(u) for u in units]
    k = top.values.shape[1] if k is None else check_range(k, "k", 1, top.values.shape[1], integer=True)
    check_range(context, "context", 0, 10)
    check_range(size, "size", 0.3, 10)
    if unit_notes is not None and len(unit_notes) != len(units):
        raise ValueError(f"unit_notes must have one entry per unit ({len(units)}), got {len(unit_notes)}")
    fld = top.field
    (fh, fw), (ih, iw) = fld.size, fld.image_size
    fig, axes = plt.subplots(len(units), k, figsize=(size * k + 0.9, size * len(units) + 0.7), squeeze=False)
    for r, (unit, u) in enumerate(zip(units, rows)):
        for j in range(k):
            ax = axes[r, j]
            image = V._image_at(top.data, int(top.image_index[u, j]))
            row, col = (int(v) for v in top.position[u, j])
            t0, l0, t1, l1 = fld.box(row, col)
            mh, mw = int(round(context * min(fh, ih))), int(round(context * min(fw, iw)))
            c0, c1 = max(t0 - mh, 0), min(t1 + mh, ih)
            d0, d1 = max(l0 - mw, 0), min(l1 + mw, iw)
            arr = to_numpy_image(image[:, c0:c1, d0:d1])
            ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1, extent=(d0, d1, c1, c0))
            ax.add_patch(Rectangle((l0, t0), l1 - l0, t1 - t0, fill=False, edgecolor="yellow", lw=1.5))
            if fh >= ih and fw >= iw:
                cy, cx = fld.offset[0] + row * fld.jump[0], fld.offset[1] + col * fld.jump[1]
                ax.plot([cx], [cy], "+", color="yellow", ms=10, mew=2)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{float(top.values[u, j]):.3g}", fontsize=7)
        note = f"\n{unit_notes[r]}" if unit_notes is not None else ""
        axes[r, 0].set_ylabel(f"unit {unit}{note}", fontsize=8)
    name = layer_name or f"{top.layer}: receptive field {fh} x {fw} px, stride {fld.jump[0]} px"
    fig.suptitle(f"{name}\n(yellow box: the receptive field; number: the unit's activation)", fontsize=10)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def plot_projection_rows(rows: dict[str, torch.Tensor], col_titles: Sequence[str] | None = None,
                         title: str | None = None, size: float = 1.6):
    """Rows of images in [0, 1] with a label on the left of each row: a unit's top patches above its
    deconvnet and guided-backprop projections (Zeiler and Fergus's figure 2), for instance.

    Parameters
    ----------
    rows : dict ``{row label: Tensor k x C x h x w in [0, 1]}``
        Every row holds the same number of images (:func:`visualize.projection_image` makes projections
        displayable: grey = 0).
    col_titles : sequence of k str, optional
    title : str, optional
    size : float, default 1.6
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(rows, dict) or not rows:
        raise ValueError("rows must be a non-empty dict {label: images k x C x h x w}")
    counts = set()
    for label, imgs in rows.items():
        check_images(imgs, f"rows[{label!r}]", min_batch=1)
        counts.add(len(imgs))
    if len(counts) != 1:
        raise ValueError(f"rows must all hold the same number of images, got {sorted(counts)}")
    k = counts.pop()
    if col_titles is not None and len(col_titles) != k:
        raise ValueError(f"col_titles must have one entry per column ({k}), got {len(col_titles)}")
    fig, axes = plt.subplots(len(rows), k, figsize=(size * k + 1.2, size * len(rows) + 0.6), squeeze=False)
    for r, (label, imgs) in enumerate(rows.items()):
        for j in range(k):
            ax = axes[r, j]
            arr = to_numpy_image(imgs[j])
            ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0 and col_titles is not None:
                ax.set_title(col_titles[j], fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def plot_neighbors(features: torch.Tensor, images: torch.Tensor, query_indices: Sequence[int], k: int = 6,
                   metric: str = "euclidean", titles: Sequence[str] | None = None):
    """For each query image, its ``k`` nearest neighbours in feature space (first row) and, for contrast,
    in pixel space (second row: raw pixels compared with the same metric), by :func:`visualize.nearest_neighbors`.

    Parameters
    ----------
    features : Tensor ``N x D``
    images : Tensor ``N x C x H x W`` in [0, 1]
        Row ``i`` belongs to ``features[i]``.
    query_indices : sequence of int
    k : int, default 6
    metric : {"euclidean", "cosine"}, default "euclidean"
    titles : sequence of N str, optional
        A name per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_images(images, "images", min_batch=2)
    if not isinstance(features, (torch.Tensor, np.ndarray)) or len(images) != len(features):
        raise ValueError(f"features must have one row per image ({len(images)}), got "
                         f"{len(features) if hasattr(features, '__len__') else type(features).__name__}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have one entry per image ({len(images)}), got {len(titles)}")
    queries = list(query_indices) if isinstance(query_indices, (list, tuple, range)) else [query_indices]
    by_features = V.nearest_neighbors(features, queries, k=k, metric=metric).indices
    by_pixels = V.nearest_neighbors(images, queries, k=k, metric=metric).indices
    label = (lambda i: titles[i][:14]) if titles is not None else str
    tiles, names = [], []
    for q, feat_nn, pix_nn in zip(queries, by_features, by_pixels):
        for space, row in (("features", feat_nn), ("pixels", pix_nn)):
            tiles += [images[q]] + [images[int(i)] for i in row]
            names += [f"query ({space})\n{label(q)}"] + [label(int(i)) for i in row]
    cmap = "gray" if images.shape[1] == 1 else None
    return image_grid(torch.stack(tiles).float().cpu(), titles=names, ncols=k + 1, cmap=cmap)


def _thumbnails(images: torch.Tensor, size: int) -> np.ndarray:
    """``N x size x size x 3`` uint8 thumbnails of ``N x C x H x W`` images in [0, 1]."""
    small = F.interpolate(images.detach().float().cpu(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
    small = small.expand(-1, 3, -1, -1) if small.shape[1] == 1 else small
    return (small.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


@closes_figures_on_error
def plot_embedding(points, images: torch.Tensor | None = None, labels=None, classes: Sequence[str] | None = None,
                   grid: tuple[int, int] | None = None, thumb: int = 28, ax=None, title: str | None = None):
    """Draw a 2-D embedding (e.g. from :func:`visualize.embed_tsne`).

    Parameters
    ----------
    points : array ``N x 2``
    images : Tensor ``N x C x H x W`` in [0, 1], optional
        Each image drawn as a ``thumb``-pixel thumbnail at its point.
    labels : ``N`` class indices, optional
        Without images: a scatter plot coloured by class (``classes`` names them in the legend).
    classes : sequence of str, optional
    grid : (rows, cols), optional
        With images: Karpathy's t-SNE grid, every image snapped to its own cell
        (:func:`visualize.grid_layout`) so that nothing overlaps.
    thumb : int, default 28
        Thumbnail size in pixels.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    pts = np.asarray(points.detach().cpu() if isinstance(points, torch.Tensor) else points)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.dtype.kind not in "fiu" or not np.isfinite(pts).all():
        raise ValueError(f"points must be a finite N x 2 array, got shape {pts.shape}")
    check_range(thumb, "thumb", 1, integer=True)
    if images is not None:
        check_images(images, "images")
        if len(images) != len(pts):
            raise ValueError(f"images ({len(images)}) and points ({len(pts)}) must have the same length")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 9) if images is not None else (8, 7))
    if images is not None and grid is not None:
        rows, cols = grid
        cell, thumbs = V.grid_layout(pts, rows, cols), _thumbnails(images, thumb)
        canvas = np.full((rows * thumb, cols * thumb, 3), 255, np.uint8)
        for c, t in zip(cell, thumbs):
            r, q = divmod(int(c), cols)
            canvas[r * thumb:(r + 1) * thumb, q * thumb:(q + 1) * thumb] = t
        ax.imshow(canvas)
    elif images is not None:
        ax.scatter(pts[:, 0], pts[:, 1], s=0)
        for (px, py), t in zip(pts, _thumbnails(images, thumb)):
            ax.add_artist(AnnotationBbox(OffsetImage(t, zoom=1.0), (px, py), frameon=False, pad=0))
    else:
        if labels is None:
            raise ValueError("labels: plot_embedding needs labels (to colour the points) or images (to draw them)")
        lab = np.asarray(torch.as_tensor(labels).cpu())
        if lab.shape != (len(pts),):
            raise ValueError(f"labels must have shape ({len(pts)},), got {lab.shape}")
        for c in np.unique(lab):
            name = classes[int(c)] if classes is not None else str(c)
            ax.scatter(*pts[lab == c].T, s=4, alpha=0.7, label=name, color=plt.cm.tab10(int(c) % 10))
        ax.legend(markerscale=4, fontsize=8, loc="best")
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax.figure


# --------------------------------------------------------------------------- activation-map widget

def activation_view(maps: dict[str, torch.Tensor], layer: str, channel: int, image: int) -> dict:
    """What the activation widget shows for one choice of layer, channel and image.

    The map of ``channel`` of ``layer`` in image ``image``, and its colour range: the channel's range over
    all the images, so a weak response looks weak. Pure (no drawing): :func:`activation_widget` draws it.

    Parameters
    ----------
    maps : dict of str to Tensor ``B x K x h x w``
        :func:`visualize.activation_maps`'s result: every channel's map at each layer for ``B`` images.
    layer : str
        A key of ``maps``.
    channel : int
        The channel, in ``[0, K - 1]``; a larger value is clipped to ``K - 1`` (the widget's slider may
        briefly exceed a smaller layer's channel count).
    image : int
        The image's index, in ``[0, B - 1]``.

    Returns
    -------
    dict
        ``layer`` (str), ``channel`` (int, after clipping), ``image`` (int), ``map`` (Tensor ``h x w``, on the
        device and in the dtype of ``maps``), ``vmin`` and ``vmax`` (float: the channel's minimum and maximum
        over all ``B`` images) and ``info`` (str: a line describing the layer, the channel and its maxima).

    Raises
    ------
    KeyError
        When ``layer`` is not in ``maps``.
    IndexError
        When ``image`` is out of range.
    """
    a = maps[layer]
    channel = min(int(channel), a.shape[1] - 1)
    over_images = a[:, channel]
    return {"layer": layer, "channel": channel, "image": int(image), "map": over_images[image],
            "vmin": float(over_images.min()), "vmax": float(over_images.max()),
            "info": f"{layer}: {a.shape[1]} channels of {a.shape[2]} x {a.shape[3]}; channel {channel}, "
                    f"max here {float(over_images[image].max()):.3g} (over all images {float(over_images.max()):.3g})"}


def _activation_figure(image: torch.Tensor, view: dict, title: str, cmap: str = "viridis"):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6.4, 3.4))
    arr = to_numpy_image(image)
    ax1.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
    ax1.set_title(title, fontsize=9)
    h, w = image.shape[-2:]
    ax2.imshow(view["map"].float().numpy(), cmap=cmap, vmin=view["vmin"], vmax=max(view["vmax"], view["vmin"] + 1e-12),
               interpolation="nearest", extent=(0, w, h, 0))    # stretched over the image's extent
    ax2.set_title(f"{view['layer']}, channel {view['channel']}", fontsize=9)
    for ax in (ax1, ax2):
        ax.axis("off")
    fig.suptitle(view["info"], fontsize=8)
    fig.tight_layout()
    return fig


def activation_widget(model: nn.Module, images: torch.Tensor, layers: Sequence[str],
                      image_titles: Sequence[str] | None = None) -> InteractiveFigure:
    """Browse activation maps: pick a layer, a channel and an image; see that channel's map beside the image.

    The maps of all ``images`` (``B x C x H x W`` in [0, 1]) at all ``layers`` are computed once, when the
    widget is built (:func:`visualize.activation_maps`), so each change only redraws. Colours span the
    channel's range over all the images, so a weak response looks weak.

    Parameters
    ----------
    model : nn.Module
        Maps ``B x C x H x W`` images in [0, 1] to logits.
    images : Tensor ``B x C x H x W``
        Images in [0, 1], at least one, with the model's number of input channels.
    layers : str or list of str
        ``model.named_modules()`` names of layers whose output is a map ``B x K x h x w`` (e.g. convolutions),
        at least one; the layer dropdown lists them in this order.
    image_titles : sequence of str, optional
        One name per image, for the image dropdown and the image's title; default ``"image 0"``, ``"image 1"``, ...

    Returns
    -------
    InteractiveFigure
        ``.controls`` = ``{"layer", "channel", "image"}`` (code may set their values) and ``.state`` = the
        last :func:`activation_view` (``layer``, ``channel``, ``image``, ``map``, ``vmin``, ``vmax``, ``info``).

    Raises
    ------
    ValueError
        When ``images`` is not ``B x C x H x W`` with the model's channels, ``layers`` is empty, a layer is
        not a module of ``model`` or its output is not a map, or ``image_titles`` does not give one title per image.
    TypeError
        When ``layers`` is neither a name nor a list of names.
    """
    check_images(images, "images", channels=input_channels(model), min_batch=1)
    maps = {name: a.detach().cpu() for name, a in V.activation_maps(model, images, layers).items()}
    names, images = list(maps), images.detach().float().cpu()
    if image_titles is not None and len(image_titles) != len(images):
        raise ValueError(f"image_titles must have one entry per image ({len(images)}), got {len(image_titles)}")
    titles = list(image_titles) if image_titles is not None else [f"image {i}" for i in range(len(images))]
    layer = W.Dropdown(options=names, value=names[0], description="layer")
    channel = W.IntSlider(value=0, min=0, max=maps[names[0]].shape[1] - 1, description="channel")
    image = W.Dropdown(options=[(t, i) for i, t in enumerate(titles)], value=0, description="image")
    # registered before InteractiveFigure's own observers, so the slider's range is right when it redraws
    layer.observe(lambda change: setattr(channel, "max", maps[change["new"]].shape[1] - 1), names="value")

    def render(layer: str, channel: int, image: int):
        view = activation_view(maps, layer, channel, image)
        return _activation_figure(images[image], view, titles[image]), view

    return InteractiveFigure(render, {"layer": layer, "channel": channel, "image": image})
