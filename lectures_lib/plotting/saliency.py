"""Lesson 04's pictures and widget: saliency maps over images, side-by-side comparisons, occlusion maps,
the occluder widget. The maps themselves come from :mod:`lectures_lib.saliency`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as W
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from .. import saliency
from ..plumbing import resolve_target
from ..validation import check_images, check_maps, check_range
from ..widgets import InteractiveFigure
from . import closes_figures_on_error, to_numpy_image

__all__ = ["causal_curves_figure", "clip_map", "compare_maps", "map_figure", "normalize_map", "occlusion_figure",
           "occlusion_widget", "overlay", "randomization_figure"]

SCALE_LABEL = "saliency, from its min (0) to its {p:g}th percentile (1)"


def clip_map(saliency_map: torch.Tensor, percentile: float = 99.0) -> torch.Tensor:
    """The display scale of Simonyan et al.: each map from its minimum (0) to its ``percentile``-th percentile (1),
    clipped, so that a few extreme pixels do not turn the rest black. Maps that are >= 0 with nothing at 0 (gradient
    magnitudes) keep 0 as 0; maps with an offset (RISE's probabilities) are shown from their lowest value.

    Parameters
    ----------
    saliency_map : finite ``H x W`` or ``B x H x W`` tensor, any scale.
    percentile : in (0, 100] (default 99).

    Returns
    -------
    float32 tensor of the same shape in [0, 1] on the CPU (where the percentile equals the minimum the map is
    scaled by its maximum; a constant map gives 0).
    """
    if not isinstance(saliency_map, torch.Tensor) or saliency_map.dim() < 2 or not saliency_map.numel():
        raise ValueError(f"saliency must be a non-empty H x W or B x H x W tensor, got "
                         f"{getattr(saliency_map, 'shape', type(saliency_map).__name__)}")
    check_range(percentile, "percentile", 0.0, 100.0, low_inclusive=False)
    s = saliency_map.detach().cpu().float()
    if not torch.isfinite(s).all():
        raise ValueError("saliency must be finite, got NaN or infinite values")
    flat = s.reshape(-1, s.shape[-2] * s.shape[-1])
    lo = flat.min(dim=1, keepdim=True).values
    top = torch.quantile(flat, percentile / 100, dim=1, keepdim=True)
    top = torch.where(top > lo, top, flat.max(dim=1, keepdim=True).values)
    return ((flat - lo) / (top - lo).clamp_min(1e-12)).clamp(0, 1).view_as(s)


def normalize_map(saliency_map: torch.Tensor) -> torch.Tensor:
    """Scale a saliency map to [0, 1] for display: ``(s - min) / (max - min)``, per map.

    Parameters
    ----------
    saliency_map : finite ``H x W`` or ``B x H x W`` tensor, any scale.

    Returns
    -------
    float32 tensor of the same shape in [0, 1] (a constant map gives 0).
    """
    if not isinstance(saliency_map, torch.Tensor) or saliency_map.dim() < 2 or not saliency_map.numel():
        raise ValueError(f"saliency must be a non-empty H x W or B x H x W tensor, got "
                         f"{getattr(saliency_map, 'shape', type(saliency_map).__name__)}")
    s = saliency_map.detach().float()
    if not torch.isfinite(s).all():
        raise ValueError("saliency must be finite, got NaN or infinite values")
    flat = s.reshape(-1, s.shape[-2] * s.shape[-1])
    lo, hi = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).view_as(s)


def overlay(image: torch.Tensor, saliency_map: torch.Tensor, alpha: float = 0.5, cmap: str = "inferno",
            percentile: float | None = None) -> np.ndarray:
    """Blend a saliency map in colour over an image.

    Parameters
    ----------
    image : ``C x H x W`` in [0, 1] (C = 1 or 3). saliency_map : finite ``H x W``, any scale.
    alpha : weight of the colour map, in [0, 1] (default 0.5).
    cmap : a matplotlib colour map (default "inferno", perceptually uniform).
    percentile : None (default: min-max scaled, :func:`normalize_map`) or clip at that percentile (:func:`clip_map`).

    Returns
    -------
    ``H x W x 3`` numpy array in [0, 1], ready for ``plt.imshow``.
    """
    check_images(image, "image", ndim=3)
    check_range(alpha, "alpha", low=0.0, high=1.0)
    if cmap not in matplotlib.colormaps:
        raise ValueError(f"cmap must be a matplotlib colormap name, got {cmap!r}")
    if not isinstance(saliency_map, torch.Tensor) or saliency_map.shape != image.shape[-2:]:
        shape = tuple(saliency_map.shape) if isinstance(saliency_map, torch.Tensor) else type(saliency_map).__name__
        raise ValueError(f"saliency must be an H x W tensor of shape {tuple(image.shape[-2:])}, got {shape}")
    rgb = image.detach().float().expand(3, -1, -1).permute(1, 2, 0).cpu().numpy()
    scaled = normalize_map(saliency_map) if percentile is None else clip_map(saliency_map, percentile)
    heat = matplotlib.colormaps[cmap](scaled.cpu().numpy())[..., :3]
    return (1 - alpha) * rgb + alpha * heat


@closes_figures_on_error
def compare_maps(images: torch.Tensor, maps: Mapping[str, torch.Tensor], row_titles: Sequence[str] | None = None,
                 alpha: float = 0.55, size: float = 2.4, percentile: float = 99.0, cmap: str = "inferno",
                 title: str | None = None):
    """Side-by-side figure: one row per image, the image then each method's map over it, every map on one
    shared, labelled scale (each divided by its ``percentile``-th percentile, :func:`clip_map`) with one colour bar.

    Parameters
    ----------
    images : ``B x C x H x W`` in [0, 1], ``B >= 1``. maps : ``{method name: B x H x W}``, at least one.
    row_titles : one title per image (default "image"). alpha : weight of the colour map (default 0.55).
    size : inches per panel. percentile : the clipping percentile in (0, 100] (default 99).
    cmap : the colour map (default "inferno"). title : the figure's title (optional).

    Returns
    -------
    the matplotlib Figure (``B x (len(maps) + 1)`` panels and a colour bar).
    """
    check_images(images, "images", min_batch=1)
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError(f"maps must map method names to B x H x W maps, at least one, got {type(maps).__name__}")
    for name, m in maps.items():
        check_maps(m, images, name=f"maps[{name!r}]")
    check_range(percentile, "percentile", 0.0, 100.0, low_inclusive=False)
    b, cols = images.shape[0], len(maps) + 1
    if row_titles is not None and len(row_titles) != b:
        raise ValueError(f"row_titles must have one title per image ({b}), got {len(row_titles)}")
    fig, axes = plt.subplots(b, cols, figsize=(size * cols + 0.9, size * b * images.shape[2] / images.shape[3] + 0.5),
                             squeeze=False)
    for r in range(b):
        axes[r, 0].imshow(to_numpy_image(images[r]), cmap="gray")
        axes[r, 0].set_title(row_titles[r] if row_titles else "image", fontsize=9)
        for c, (name, m) in enumerate(maps.items(), start=1):
            axes[r, c].imshow(overlay(images[r], m[r], alpha, cmap=cmap, percentile=percentile))
            axes[r, c].set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=cmap)
    fig.colorbar(mappable, ax=axes, fraction=0.025, pad=0.01, label=SCALE_LABEL.format(p=percentile))
    if title:
        fig.suptitle(title)
    return fig


@closes_figures_on_error
def map_figure(image: torch.Tensor, saliency_map: torch.Tensor, title: str = "saliency", cmap: str = "gray",
               percentile: float = 99.0, overlay_cmap: str = "inferno"):
    """A map as Simonyan et al. show it, in three panels: the image, the map alone in grey (white = salient),
    and the map over the image in one perceptual colour map; both maps clipped at the ``percentile``-th
    percentile (:func:`clip_map`) and sharing a labelled colour bar.

    Parameters
    ----------
    image : ``C x H x W`` in [0, 1]. saliency_map : finite ``H x W``. title : the map's title.
    cmap : colour map of the map alone (default "gray"). percentile : in (0, 100] (default 99).
    overlay_cmap : colour map of the overlay (default "inferno").

    Returns
    -------
    the matplotlib Figure (three panels, two colour bars).
    """
    check_images(image, "image", ndim=3)
    if overlay_cmap not in matplotlib.colormaps or cmap not in matplotlib.colormaps:
        raise ValueError(f"cmap and overlay_cmap must be matplotlib colormap names, got {cmap!r}, {overlay_cmap!r}")
    heat = overlay(image, saliency_map, alpha=0.6, cmap=overlay_cmap, percentile=percentile)
    scaled = clip_map(saliency_map, percentile).numpy()
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 4.1))
    axes[0].imshow(to_numpy_image(image), cmap="gray")
    axes[0].set_title("image")
    im = axes[1].imshow(scaled, cmap=cmap, vmin=0, vmax=1)
    axes[1].set_title(title, fontsize=10)
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02, label=SCALE_LABEL.format(p=percentile))
    axes[2].imshow(heat)
    axes[2].set_title("over the image", fontsize=10)
    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=overlay_cmap)
    fig.colorbar(mappable, ax=axes[2], fraction=0.046, pad=0.02, label=SCALE_LABEL.format(p=percentile))
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


@closes_figures_on_error
def causal_curves_figure(curves: Mapping[str, Mapping[str, torch.Tensor]]):
    """Deletion and insertion curves (Petsiuk et al. 2018) side by side, averaged over images, one line per
    method labelled with its mean AUC.

    Parameters
    ----------
    curves : ``{method: {"deletion": B x (n + 1), "insertion": B x (n + 1)}}`` from
        :func:`lectures_lib.saliency.causal_curve`, at least one method.

    Returns
    -------
    the matplotlib Figure (two panels).
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must map method names to {'deletion': ..., 'insertion': ...} curves, at least one")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, mode in zip(axes, ("deletion", "insertion")):
        for name, by_mode in curves.items():
            if mode not in by_mode:
                raise ValueError(f"curves[{name!r}] must hold a {mode!r} curve")
            curve = by_mode[mode].detach().cpu().float()
            area = float(saliency.auc(curve).mean())
            ax.plot(torch.linspace(0, 1, curve.shape[1]), curve.mean(dim=0), label=f"{name} ({area:.3f})")
        ax.set_xlabel(f"fraction of pixels {'deleted' if mode == 'deletion' else 'inserted'}")
        ax.set_ylabel("p(predicted class), mean over images")
        ax.set_title(f"{mode} (AUC)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def randomization_figure(check: saliency.RandomizationCheck):
    """The cascading randomisation sanity check (Adebayo et al. 2018): mean rank correlation with the trained
    model's maps after randomising down to each layer, one line per method, starting from the trained model
    (correlation 1 with itself), the reference point.

    Parameters
    ----------
    check : the :class:`~lectures_lib.saliency.RandomizationCheck` of
        :func:`lectures_lib.saliency.model_randomization_check`.

    Returns
    -------
    the matplotlib Figure.
    """
    if not isinstance(check, saliency.RandomizationCheck):
        raise TypeError(f"check must be a RandomizationCheck, got {type(check).__name__}")
    fig, ax = plt.subplots(figsize=(7.5, 4))
    steps = range(len(check.layers) + 1)
    for name, corr in check.correlation.items():
        c = corr.detach().cpu().float()
        ax.plot(steps, [1.0, *c.mean(dim=1).tolist()], "o-", label=name)
    ax.set_xticks(steps, ["trained model\n(reference)"] + [layer.removeprefix("net.") for layer in check.layers],
                  rotation=20)
    ax.set_xlabel("weights randomised from the top of the network down to")
    ax.set_ylabel("Spearman rank correlation\nwith the trained model's map")
    n = len(next(iter(check.correlation.values()))[0]) if check.correlation else 0
    ax.set_title(f"Sanity check: cascading model randomisation (Adebayo et al. 2018), {n} image(s)", fontsize=10)
    lowest = min([0.0] + [float(c.detach().cpu().float().mean(dim=1).min()) for c in check.correlation.values()])
    ax.set_ylim(min(-0.25, lowest - 0.1), 1.05)
    ax.axhline(0, color="gray", lw=0.5)
    ax.legend(fontsize=8, title="a map that passes falls", title_fontsize=8)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def occlusion_figure(image: torch.Tensor, result: saliency.OcclusionResult, index: int = 0,
                     title: str | None = None, window: int | None = None, stride: int | None = None):
    """Occlusion (Zeiler and Fergus 2014) in three panels, all in the image's pixel coordinates: the image with
    the occluder drawn where it hurts most, the class probability by occluder position drawn over the image
    (each value at its window's centre) on a colour scale spanning its own range, and the mean probability drop
    per pixel.

    Parameters
    ----------
    image : ``C x H x W`` in [0, 1], the image ``index`` of ``result``.
    result : an :class:`~lectures_lib.saliency.OcclusionResult`. index : which image of the result (default 0).
    title : the class name shown with its probability. window : the occluder's side (default: inferred from
        the result's starts). stride : shown in the title when given.

    Returns
    -------
    the matplotlib Figure (three panels, two colour bars).
    """
    check_images(image, "image", ndim=3)
    if not isinstance(result, saliency.OcclusionResult):
        raise TypeError(f"result must be an OcclusionResult, got {type(result).__name__}")
    check_range(index, "index", low=0, high=len(result.clean) - 1, integer=True)
    rows, cols = result.starts
    h, w = image.shape[-2:]
    if window is None:
        window = int(round(h - rows[-1])) if len(rows) > 1 else h
    check_range(window, "window", low=1, integer=True)
    prob = result.probability[index].detach().cpu().float()
    clean = float(result.clean[index])
    a, c = divmod(int(prob.argmin()), prob.shape[1])
    top, left = rows[a], cols[c]
    name = title or "target class"
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4))
    axes[0].imshow(to_numpy_image(image), cmap="gray")
    axes[0].add_patch(Rectangle((left - 0.5, top - 0.5), window, window, facecolor="black", edgecolor="white", lw=1.5))
    axes[0].set_title(f"{name}: p = {clean:.2f} without occluder,\n{float(prob[a, c]):.2f} with it here", fontsize=9)
    centres_y = [r + window / 2 - 0.5 for r in rows]
    centres_x = [q + window / 2 - 0.5 for q in cols]
    dy = (centres_y[1] - centres_y[0]) / 2 if len(rows) > 1 else window / 2
    dx = (centres_x[1] - centres_x[0]) / 2 if len(cols) > 1 else window / 2
    axes[1].imshow(to_numpy_image(image), cmap="gray", alpha=0.45)
    im = axes[1].imshow(prob.numpy(), cmap="viridis", vmin=float(prob.min()), vmax=float(prob.max()), alpha=0.8,
                        extent=(centres_x[0] - dx, centres_x[-1] + dx, centres_y[-1] + dy, centres_y[0] - dy),
                        interpolation="nearest")
    axes[1].set_xlim(-0.5, w - 0.5)
    axes[1].set_ylim(h - 0.5, -0.5)
    axes[1].add_patch(Rectangle((left - 0.5, top - 0.5), window, window, fill=False, edgecolor="red", lw=1.5))
    size = f" (window {window}, stride {stride})" if stride is not None else f" (window {window})"
    axes[1].set_title(f"p({name}) with the occluder centred here{size}", fontsize=9)
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.02, label=f"p({name})")
    drop = result.saliency[index].detach().cpu().float()
    axes[2].imshow(to_numpy_image(image), cmap="gray", alpha=0.45)
    lim = max(float(drop.abs().max()), 1e-6)
    im2 = axes[2].imshow(drop.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.8)
    axes[2].set_title("mean probability drop per pixel\n(red: hiding it hurts, blue: it helps)", fontsize=9)
    fig.colorbar(im2, ax=axes[2], fraction=0.046, pad=0.02, label="p(clean) - p(occluded)")
    for ax in axes:
        ax.set_xlabel("x (pixels)", fontsize=8)
        ax.set_ylabel("y (pixels)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def occlusion_widget(model, image: torch.Tensor, target: int | None = None, *,
                     windows: Sequence[int] = (16, 32, 64), strides: Sequence[int] = (8, 16, 32),
                     baseline: float = 0.0, batch_size: int | None = None, categories: Sequence[str] | None = None,
                     progress: bool = True) -> InteractiveFigure:
    """The lesson's occluder widget: pick a window size and a stride, see the map.

    Every ``(window, stride)`` pair with ``stride <= window`` is computed up front
    (:func:`lectures_lib.saliency.occlusion_maps`), so a change only redraws.

    Parameters
    ----------
    model : as in :func:`lectures_lib.saliency.occlusion`. image : ``C x H x W`` in [0, 1].
    target : the class (default None: the predicted class). windows, strides : the sizes offered.
    baseline, batch_size : as in :func:`lectures_lib.saliency.occlusion`.
    categories : class names (default ``model.categories`` when it has them). progress : show a progress bar.

    Returns
    -------
    an :class:`~lectures_lib.widgets.InteractiveFigure`: ``.controls`` ``"window"`` and ``"stride"``;
    ``.state`` ``{"window", "stride", "result"}`` (``result`` the :class:`~lectures_lib.saliency.OcclusionResult`
    shown, None for a stride larger than the window); ``.results`` every precomputed result by ``(window, stride)``.
    """
    check_images(image, "image", ndim=3)
    target = int(resolve_target(model, image[None], target)[0])
    results = saliency.occlusion_maps(model, image[None], target, windows=windows, strides=strides,
                                      baseline=baseline, batch_size=batch_size, progress=progress)
    categories = categories or getattr(model, "categories", None)
    name = categories[target] if categories and target < len(categories) else f"class {target}"

    def render(window: int, stride: int):
        res = results.get((window, stride))
        if res is None:
            fig, ax = plt.subplots(figsize=(11, 1.2))
            ax.axis("off")
            ax.text(0.5, 0.5, f"stride {stride} > window {window}: some pixels are never covered",
                    ha="center", va="center")
        else:
            fig = occlusion_figure(image, res, title=name, window=window, stride=stride)
        return fig, {"window": window, "stride": stride, "result": res}

    first = next(iter(results))
    widget = InteractiveFigure(render, {
        "window": W.Dropdown(options=sorted(set(windows)), value=first[0], description="window"),
        "stride": W.Dropdown(options=sorted(set(strides)), value=first[1], description="stride"),
    })
    widget.results = results
    return widget
