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
from . import image_grid, to_numpy_image

__all__ = ["activation_view", "activation_widget", "plot_embedding", "plot_filters", "plot_neighbors"]


def plot_filters(weight: torch.Tensor | nn.Module, ncols: int = 8, shared_scale: bool = False,
                 figsize: tuple[float, float] | None = None):
    """First-layer filters as pictures.

    Parameters
    ----------
    weight : Tensor ``K x C x k x k`` (C = 1: grey, C = 3: RGB) or an ``nn.Conv2d``
    ncols : int, default 8
    shared_scale : bool, default False
        False scales each filter to its own range; True uses one range for all, which shows which
        filters are strong.
    figsize : (width, height), optional

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
    w = weight.detach().float().cpu()
    grey = w.shape[1] == 1
    return image_grid(w[:, 0] if grey else w, ncols=ncols, cmap="gray" if grey else None, figsize=figsize,
                      scale="shared" if shared_scale else "each")


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
    """What the activation widget shows for one choice: the map of ``channel`` of ``layer`` in image
    ``image`` (``h x w``), and its colour range, the channel's range over all the images (so a weak
    response looks weak). ``maps`` is :func:`visualize.activation_maps`'s result."""
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

    Returns
    -------
    InteractiveFigure
        ``.controls`` = ``{"layer", "channel", "image"}`` (code may set their values) and ``.state`` = the
        last :func:`activation_view` (``layer``, ``channel``, ``image``, ``map``, ``vmin``, ``vmax``, ``info``).
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
