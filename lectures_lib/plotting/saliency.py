"""Lesson 04's pictures and widget: saliency maps over images, side-by-side comparisons, occlusion maps,
the occluder widget. The maps themselves come from :mod:`lectures_lib.saliency`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as W
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import saliency
from ..plumbing import resolve_target
from ..validation import check_images, check_maps, check_range
from ..widgets import InteractiveFigure
from . import to_numpy_image

__all__ = ["causal_curves_figure", "compare_maps", "map_figure", "normalize_map", "occlusion_figure", "occlusion_widget",
           "overlay", "randomization_figure"]


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


def overlay(image: torch.Tensor, saliency_map: torch.Tensor, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a saliency map in colour over an image.

    Parameters
    ----------
    image : ``C x H x W`` in [0, 1] (C = 1 or 3). saliency_map : finite ``H x W``, any scale (min-max scaled).
    alpha : weight of the colour map, in [0, 1] (default 0.5). cmap : a matplotlib colour map (default "jet").

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
    heat = matplotlib.colormaps[cmap](normalize_map(saliency_map).cpu().numpy())[..., :3]
    return (1 - alpha) * rgb + alpha * heat


def compare_maps(images: torch.Tensor, maps: Mapping[str, torch.Tensor], row_titles: Sequence[str] | None = None,
                 alpha: float = 0.5, size: float = 2.4):
    """Side-by-side figure: one row per image, the image then each method's map over it.

    Parameters
    ----------
    images : ``B x C x H x W`` in [0, 1], ``B >= 1``. maps : ``{method name: B x H x W}``, at least one.
    row_titles : one title per image (default "image"). alpha : as in :func:`overlay`. size : inches per panel.

    Returns
    -------
    the matplotlib Figure (``B x (len(maps) + 1)`` panels).
    """
    check_images(images, "images", min_batch=1)
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError(f"maps must map method names to B x H x W maps, at least one, got {type(maps).__name__}")
    for name, m in maps.items():
        check_maps(m, images, name=f"maps[{name!r}]")
    b, cols = images.shape[0], len(maps) + 1
    if row_titles is not None and len(row_titles) != b:
        raise ValueError(f"row_titles must have one title per image ({b}), got {len(row_titles)}")
    fig, axes = plt.subplots(b, cols, figsize=(size * cols, size * b * images.shape[2] / images.shape[3]),
                             squeeze=False)
    for r in range(b):
        axes[r, 0].imshow(to_numpy_image(images[r]), cmap="gray")
        axes[r, 0].set_title(row_titles[r] if row_titles else "image", fontsize=9)
        for c, (name, m) in enumerate(maps.items(), start=1):
            axes[r, c].imshow(overlay(images[r], m[r], alpha))
            axes[r, c].set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def map_figure(image: torch.Tensor, saliency_map: torch.Tensor, title: str = "saliency", cmap: str = "gray"):
    """Three panels: the image, the map alone and the map over the image (:func:`overlay`).

    Parameters
    ----------
    image : ``C x H x W`` in [0, 1]. saliency_map : finite ``H x W``. title : the map's title.
    cmap : colour map of the map alone (default "gray").

    Returns
    -------
    the matplotlib Figure.
    """
    heat = overlay(image, saliency_map)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    axes[0].imshow(to_numpy_image(image), cmap="gray")
    axes[0].set_title("image")
    axes[1].imshow(saliency_map.detach().cpu().float().numpy(), cmap=cmap)
    axes[1].set_title(title)
    axes[2].imshow(heat)
    axes[2].set_title("overlay")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


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


def randomization_figure(check: saliency.RandomizationCheck):
    """The cascading randomisation sanity check (Adebayo et al. 2018): mean rank correlation with the trained
    model's maps after randomising down to each layer, one line per method.

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
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    steps = range(1, len(check.layers) + 1)
    for name, corr in check.correlation.items():
        ax.plot(steps, corr.detach().cpu().float().mean(dim=1), "o-", label=name)
    ax.set_xticks(steps, [layer.removeprefix("net.") for layer in check.layers], rotation=30)
    ax.set_xlabel("randomised from the top down to")
    ax.set_ylabel("Spearman correlation with\nthe trained model's map")
    ax.axhline(0, color="gray", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def occlusion_figure(image: torch.Tensor, result: saliency.OcclusionResult, index: int = 0,
                     title: str | None = None, window: int | None = None, stride: int | None = None):
    """Occlusion (Zeiler and Fergus 2014) in three panels: the image, the target probability by occluder
    position, the mean probability drop per pixel over the image.

    Parameters
    ----------
    image : ``C x H x W`` in [0, 1], the image ``index`` of ``result``.
    result : an :class:`~lectures_lib.saliency.OcclusionResult`. index : which image of the result (default 0).
    title : the class name shown with its probability. window, stride : shown in the title when given.

    Returns
    -------
    the matplotlib Figure.
    """
    check_images(image, "image", ndim=3)
    if not isinstance(result, saliency.OcclusionResult):
        raise TypeError(f"result must be an OcclusionResult, got {type(result).__name__}")
    check_range(index, "index", low=0, high=len(result.clean) - 1, integer=True)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    axes[0].imshow(to_numpy_image(image), cmap="gray")
    axes[0].set_title(f"{title or 'target class'}: p = {float(result.clean[index]):.2f}", fontsize=9)
    im = axes[1].imshow(result.probability[index].detach().cpu().float().numpy(), cmap="viridis", vmin=0, vmax=1)
    size = f"\n(window {window}, stride {stride})" if window is not None else ""
    axes[1].set_title(f"p(class) by occluder position{size}", fontsize=9)
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    axes[2].imshow(overlay(image, result.saliency[index]))
    axes[2].set_title("mean probability drop per pixel", fontsize=9)
    for ax in (axes[0], axes[2]):
        ax.axis("off")
    fig.tight_layout()
    return fig


def occlusion_widget(model, image: torch.Tensor, target: int | None = None, *,
                     windows: Sequence[int] = (16, 32, 64), strides: Sequence[int] = (8, 16, 32),
                     baseline: float = 0.0, batch_size: int = 64, categories: Sequence[str] | None = None,
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
