"""Figures of lesson 07 (universal adversarial perturbations): the perturbations themselves (amplified), the
fooling rate per pass, the held-out fooling rate against the number of training images, fooled images with
their new labels, the dominant labels and the transfer table. The computations are in
:mod:`lectures_lib.universal`; this module only draws what they return.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import universal as U
from ..train import predict
from ..validation import check_images, check_range
from . import closes_figures_on_error, to_numpy_image

__all__ = ["dominant_labels_figure", "fooled_examples_figure", "fooling_history_figure", "perturbation_figure",
           "training_size_figure", "transfer_figure", "xi_label"]


def xi_label(xi: float, p: str | int = "inf") -> str:
    """A radius as the lesson writes it: ``10/255`` for a whole number of 255ths in L-infinity, else ``0.3``.

    Parameters
    ----------
    xi : float
        Finite, >= 0.
    p : {"inf", 2}
        The norm (L2 radii are written as numbers).

    Returns
    -------
    str
    """
    xi = float(check_range(xi, "xi", 0.0))
    k = xi * 255
    if p == "inf" and xi > 0 and abs(k - round(k)) < 1e-6 and round(k) < 255:
        return f"{round(k)}/255"
    return f"{xi:.3g}"


def _named_perturbations(perturbations) -> dict[str, torch.Tensor]:
    if not isinstance(perturbations, Mapping) or not perturbations:
        raise TypeError("perturbations must be a non-empty dict {name: perturbation C x H x W}")
    out = {}
    for name, v in perturbations.items():
        if not isinstance(v, torch.Tensor) or v.dim() not in (3, 4) or (v.dim() == 4 and v.shape[0] != 1):
            raise ValueError(f"perturbations[{name!r}] must be a tensor C x H x W, got {getattr(v, 'shape', type(v).__name__)}")
        v = v[0] if v.dim() == 4 else v
        if v.shape[0] not in (1, 3) or not v.is_floating_point() or not torch.isfinite(v).all():
            raise ValueError(f"perturbations[{name!r}] must be a finite float tensor with 1 or 3 channels, got "
                             f"shape {tuple(v.shape)} and dtype {v.dtype}")
        out[str(name)] = v.detach().cpu().float()
    return out


@closes_figures_on_error
def perturbation_figure(perturbations: Mapping[str, torch.Tensor], xi: float | None = None, *, ncols: int = 3,
                        title: str | None = None, size: float = 3.2):
    """The perturbations side by side, as in the paper's figure 4 ("perturbation vectors computed from
    different architectures"), amplified to be visible: ``0.5 + 0.5 v / s`` with ``s = xi`` (one scale for all,
    so they compare) or, without ``xi``, each one's own ``max |v|``. Grey perturbations (MNIST) are drawn with a
    diverging colour map and a colour bar in pixel units.

    Parameters
    ----------
    perturbations : dict
        ``{name: v}``, each ``C x H x W`` (C = 1 or 3), finite.
    xi : float, optional
        The L-infinity radius they were computed with (> 0): the shared scale.
    ncols : int
        Panels per row, >= 1.
    title : str, optional
        The figure's title.
    size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    vs = _named_perturbations(perturbations)
    check_range(ncols, "ncols", 1, integer=True)
    if xi is not None:
        check_range(xi, "xi", 0.0, low_inclusive=False)
    ncols = min(ncols, len(vs))
    nrows = -(-len(vs) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + (0.8 if xi is None else 1.2), size * nrows + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, v) in zip(axes.flat, vs.items()):
        scale = float(xi) if xi is not None else float(v.abs().max()) or 1.0
        if v.shape[0] == 1:
            im = ax.imshow(v[0].numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="v (pixel units)")
        else:
            ax.imshow(to_numpy_image(0.5 + 0.5 * v / scale), interpolation="nearest")
        inf, two = float(v.abs().max()), float(v.norm())
        ax.set_title(f"{name}\nL-inf {xi_label(inf)}, L2 {two:.2f}" + ("" if v.shape[0] == 1 else
                                                                           f", shown x{0.5 / scale:.0f}"), fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def fooling_history_figure(histories: Mapping[str, Sequence[float]], target: float | None = None, *,
                           title: str | None = None, xlabel: str = "pass over the training images"):
    """The fooling rate on the training images after each pass (epoch), one line per algorithm, with the
    target ``1 - delta`` dashed.

    Parameters
    ----------
    histories : dict
        ``{name: fooling rates in [0, 1], one per pass}`` (a :class:`lectures_lib.universal.UniversalResult`'s
        ``fooling_rates``), each non-empty.
    target : float, optional
        In [0, 1]: drawn as a dashed line.
    title : str, optional
        The axes' title.
    xlabel : str
        The x axis' label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError("histories must be a non-empty dict {name: fooling rate per pass}")
    for name, h in histories.items():
        if isinstance(h, (str, bytes)) or not isinstance(h, Sequence) or not h:
            raise ValueError(f"histories[{name!r}] must be a non-empty list of fooling rates")
        for r in h:
            check_range(r, f"histories[{name!r}]", 0.0, 1.0)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, h in histories.items():
        ax.plot(range(1, len(h) + 1), [100 * r for r in h], marker="o", label=name)
    if target is not None:
        target = check_range(target, "target", 0.0, 1.0)
        ax.axhline(100 * target, ls="--", color="grey", label=f"target 1 - delta = {target:.0%}")
    ax.set(xlabel=xlabel, ylabel="fooling rate on the training images (%)", ylim=(0, 102),
           title=title or "fooling rate per pass")
    ax.set_xticks(range(1, max(len(h) for h in histories.values()) + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


@closes_figures_on_error
def training_size_figure(sizes: Sequence[int], rates: Mapping[str, Sequence[float]], *, title: str | None = None):
    """The paper's figure 6: the fooling rate on held-out images against the number of images the
    perturbation was computed on (log scale).

    Parameters
    ----------
    sizes : sequence of int
        Numbers of training images, >= 1, increasing.
    rates : dict
        ``{label: fooling rates in [0, 1], one per size}`` (e.g. held-out and training).
    title : str, optional
        The axes' title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
        raise ValueError("sizes must be a non-empty list of numbers of training images")
    sizes = [check_range(s, "sizes", 1, integer=True) for s in sizes]
    if not isinstance(rates, Mapping) or not rates:
        raise TypeError("rates must be a non-empty dict {label: fooling rate per size}")
    for label, r in rates.items():
        if isinstance(r, (str, bytes)) or not isinstance(r, Sequence) or len(r) != len(sizes):
            raise ValueError(f"rates[{label!r}] must hold one fooling rate per size ({len(sizes)})")
        for v in r:
            check_range(v, f"rates[{label!r}]", 0.0, 1.0)
    top = [max(float(r[k]) for r in rates.values()) for k in range(len(sizes))]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for label, r in rates.items():
        line, = ax.plot(sizes, [100 * float(v) for v in r], marker="o", label=label)
        for k, (s, v) in enumerate(zip(sizes, r)):   # the highest value's label above its point, the others below
            above = float(v) == top[k]
            ax.annotate(f"{float(v):.0%}", (s, 100 * float(v)), textcoords="offset points", xytext=(0, 6 if above else -13),
                        ha="center", fontsize=8, color=line.get_color())
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set(xlabel="number of training images", ylabel="fooling rate (%)", ylim=(0, 110),
           title=title or "fooling rate against the size of the training set")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


@closes_figures_on_error
def fooled_examples_figure(x: torch.Tensor, v: torch.Tensor, model, categories: Sequence[str], *,
                           title: str | None = None, size: float = 2.6, batch_size: int = 32):
    """The paper's figure 1: each image with its prediction (top row), and the same image plus the one
    universal perturbation with its new prediction (bottom row; red where the prediction changed).

    Parameters
    ----------
    x : Tensor
        ``N x C x H x W`` images in [0, 1], 1 <= N <= 12.
    v : Tensor
        ``C x H x W``, the universal perturbation.
    model : callable
        Images -> logits ``N x K``.
    categories : sequence of str
        ``K`` class names.
    title : str, optional
        The figure's title.
    size : float
        Inches per image.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_images(x, "x", min_batch=1)
    if len(x) > 12:
        raise ValueError(f"x must hold at most 12 images to stay readable, got {len(x)}")
    if isinstance(categories, str) or not isinstance(categories, Sequence):
        raise TypeError(f"categories must be a sequence of class names, got {type(categories).__name__}")
    adv = U.perturb(x, v)
    p_clean, p_adv = predict(model, x, batch_size).cpu(), predict(model, adv, batch_size).cpu()
    if p_clean.shape[1] != len(categories):
        raise ValueError(f"categories must name the model's {p_clean.shape[1]} classes, got {len(categories)} names")
    n = len(x)
    fig, axes = plt.subplots(2, n, figsize=(size * n, 2 * size + 0.9), squeeze=False)
    for i in range(n):
        for row, (image, p) in enumerate(((x[i], p_clean[i]), (adv[i], p_adv[i]))):
            ax = axes[row, i]
            arr = to_numpy_image(image)
            ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            c = int(p.argmax())
            changed = row == 1 and c != int(p_clean[i].argmax())
            ax.set_title(f"{categories[c][:22]}\n{float(p[c]):.0%}", fontsize=9, color="red" if changed else "black")
        if i == 0:
            axes[0, 0].set_ylabel("clean", fontsize=10)
            axes[1, 0].set_ylabel("+ universal v", fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout(h_pad=1.5)
    return fig


@closes_figures_on_error
def dominant_labels_figure(pairs: Sequence[tuple[int, float]], categories: Sequence[str], *, title: str | None = None):
    """Bars of the classes the fooled images are sent to (:func:`lectures_lib.universal.dominant_labels`).

    Parameters
    ----------
    pairs : sequence of (int, float)
        ``(class, fraction of the fooled images)``, at least one.
    categories : sequence of str
        Class names.
    title : str, optional
        The axes' title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) or not pairs:
        raise ValueError("pairs must be a non-empty list of (class, fraction), from universal.dominant_labels")
    if isinstance(categories, str) or not isinstance(categories, Sequence):
        raise TypeError(f"categories must be a sequence of class names, got {type(categories).__name__}")
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"pairs must hold (class, fraction) pairs, got {pair!r}")
        check_range(pair[0], "pairs' class", 0, len(categories) - 1, integer=True)
        check_range(pair[1], "pairs' fraction", 0.0, 1.0)
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(pairs) + 1.2))
    ys = np.arange(len(pairs))[::-1]
    ax.barh(ys, [100 * f for _, f in pairs], color="tab:red")
    ax.set_yticks(ys, [categories[c] for c, _ in pairs])
    for y, (_, f) in zip(ys, pairs):
        ax.text(100 * f + 1, y, f"{f:.0%}", va="center", fontsize=9)
    ax.set(xlabel="share of the fooled images (%)", xlim=(0, 100), title=title or "where the fooled images go")
    fig.tight_layout()
    return fig


@closes_figures_on_error
def transfer_figure(matrix: U.TransferMatrix, *, title: str | None = None):
    """The paper's table 2 as a heat map: the fooling rate of the perturbation computed on each model (rows)
    when added to the images of each model (columns), with the percentage in each cell and a colour bar.

    Parameters
    ----------
    matrix : TransferMatrix
        From :func:`lectures_lib.universal.transfer_matrix`.
    title : str, optional
        The axes' title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(matrix, U.TransferMatrix):
        raise TypeError(f"matrix must be a universal.TransferMatrix, got {type(matrix).__name__}")
    rates = matrix.rates.detach().cpu().double().numpy()
    s, t = rates.shape
    fig, ax = plt.subplots(figsize=(1.5 * t + 3.2, 0.8 * s + 1.8))
    im = ax.imshow(100 * rates, cmap="Reds", vmin=0, vmax=100)
    for i in range(s):
        for j in range(t):
            ax.text(j, i, f"{100 * rates[i, j]:.1f}%", ha="center", va="center", fontsize=10,
                    color="white" if rates[i, j] > 0.6 else "black", fontweight="bold" if matrix.sources[i] ==
                    matrix.targets[j] else "normal")
    ax.set_xticks(range(t), matrix.targets, rotation=20, ha="right")
    ax.set_yticks(range(s), matrix.sources)
    ax.set(xlabel="tried on (target model)", ylabel="computed on (source model)",
           title=title or "fooling rate of each model's universal perturbation")
    fig.colorbar(im, ax=ax, label="fooling rate (%)", fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig
