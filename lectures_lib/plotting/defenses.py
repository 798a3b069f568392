"""Figures of lesson 09 (defences): logits along an adversarial direction, a defence's accuracy clean, under the
plain attack and under the adaptive one, images through the input transforms, the detector's scores, and the
transfer table of dense associative memories. The computations are in :mod:`lectures_lib.defenses`; this module
only draws what they return.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import defenses as D
from ..validation import check_images, check_range
from . import closes_figures_on_error, to_numpy_image

__all__ = ["defence_figure", "detector_figure", "profile_figure", "transfer_figure", "transform_figure"]


def _mapping(value, name: str) -> Mapping:
    if not isinstance(value, Mapping) or not value:
        raise TypeError(f"{name} must be a non-empty mapping, got {type(value).__name__}")
    return value


@closes_figures_on_error
def profile_figure(profile: D.LogitProfile, index: int = 0, *, classes: Sequence[str] | None = None,
                   true_class: int | None = None, eps: float | None = None, title: str | None = None):
    """Every logit of image ``index`` along ``x + t * direction`` (:func:`~lectures_lib.defenses.logit_profile`):
    one line per class, the true class and the class that wins at the largest ``t`` drawn thick, each with its R^2.

    Parameters
    ----------
    profile : LogitProfile
    index : int, default 0
        Which image of the profile.
    classes : sequence of str, optional
        Class names (default: the indices).
    true_class : int, optional
        Drawn thick and labelled.
    eps : float, optional
        A vertical line at ``t = eps`` (the attack's budget).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(profile, D.LogitProfile):
        raise TypeError(f"profile must be a LogitProfile, got {type(profile).__name__}")
    b, _, k = profile.logits.shape
    check_range(index, "index", 0, b - 1, integer=True)
    names = list(classes) if classes is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"classes must name all {k} classes, got {len(names)}")
    z = profile.logits[index].double().cpu().numpy()
    t = profile.t.numpy()
    r2 = D.linearity_r2(D.LogitProfile(profile.logits[index:index + 1], profile.t))[0].numpy()
    winner = int(z[-1].argmax())
    fig, ax = plt.subplots(figsize=(8, 4.5))
    others = [c for c in range(k) if c not in (true_class, winner)] or [-1]
    for c in range(k):
        if c == true_class:
            ax.plot(t, z[:, c], lw=2.8, color="tab:green", label=f"true class {names[c]} (R\u00b2 {r2[c]:.3f})")
        elif c == winner:
            ax.plot(t, z[:, c], lw=2.8, color="tab:red", label=f"wins at t = {t[-1]:g}: {names[c]} (R\u00b2 {r2[c]:.3f})")
        else:
            ax.plot(t, z[:, c], lw=0.9, color="grey", alpha=0.5, label="other classes" if c == others[0] else None)
    if eps is not None:
        ax.axvline(eps, color="k", ls="--", lw=1)
        ax.text(eps, ax.get_ylim()[1], f" \u03b5 = {eps:g}", va="top", ha="left", fontsize=9)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("t  (image = x + t \u00b7 sign(\u2207x L))")
    ax.set_ylabel("logit")
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title(title or f"Logits along the adversarial direction (median R\u00b2 of all {k}: {np.median(r2):.3f})")
    fig.tight_layout()
    return fig


@closes_figures_on_error
def defence_figure(results: Mapping[str, Mapping[str, float]], *, title: str = "Accuracy under attack",
                   ylabel: str = "accuracy"):
    """Grouped bars: for each defence (one group), its accuracy in each setting (clean, plain attack, adaptive
    attack, ...), the value written on each bar.

    Parameters
    ----------
    results : mapping of str to mapping of str to float
        ``{defence: {setting: accuracy in [0, 1]}}``; every defence may list its own settings.
    title : str
    ylabel : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mapping(results, "results")
    settings: list[str] = []
    for name, row in results.items():
        for s, v in _mapping(row, f"results[{name!r}]").items():
            check_range(v, f"results[{name!r}][{s!r}]", 0.0, 1.0)
            if s not in settings:
                settings.append(s)
    colours = dict(zip(settings, plt.cm.tab10.colors))
    width = 0.8 / len(settings)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.9 * len(results)), 4.5))
    for g, row in enumerate(results.values()):
        for j, s in enumerate(settings):
            if s in row:
                xpos = g - 0.4 + (j + 0.5) * width
                ax.bar(xpos, row[s], width, color=colours[s], label=s)
                crowded = len(settings) > 4   # upright labels of neighbouring bars would run into each other
                ax.text(xpos, row[s] + 0.01, f"{row[s]:.0%}", ha="center", va="bottom", fontsize=7 if crowded else 8,
                        rotation=90 if crowded else 0)
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    ax.legend(seen.values(), seen.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(settings),
              fontsize=9)
    ax.set_xticks(range(len(results)), list(results))
    ax.set_ylim(0, 1.15)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def transform_figure(x: torch.Tensor, transformed: Mapping[str, torch.Tensor], *, predictions=None,
                     title: str = "What the input transforms do", size: float = 1.8):
    """A grid: one row per image, one column per transform (the first ``"original"``), each image titled with the
    model's prediction when given.

    Parameters
    ----------
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    transformed : mapping of str to Tensor
        ``{name: images of the shape of x}``.
    predictions : mapping of str to sequence of str, optional
        ``{name: B labels}``, also for ``"original"``.
    title : str
    size : float, default 1.8
        Inches per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_images(x, "x", min_batch=1)
    columns = {"original": x, **_mapping(transformed, "transformed")}
    for name, v in columns.items():
        if not isinstance(v, torch.Tensor) or v.shape != x.shape:
            raise ValueError(f"transformed[{name!r}] must be images of the shape of x {tuple(x.shape)}")
    b, n = x.shape[0], len(columns)
    fig, axes = plt.subplots(b, n, figsize=(size * n, size * b + 0.6), squeeze=False)
    for j, (name, v) in enumerate(columns.items()):
        for i in range(b):
            ax = axes[i, j]
            ax.imshow(to_numpy_image(v[i].detach().cpu()), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            label = name if i == 0 else ""
            if predictions is not None and name in predictions:
                label = f"{label}\npred {predictions[name][i]}" if label else f"pred {predictions[name][i]}"
            ax.set_title(label, fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def detector_figure(scores: Mapping[str, torch.Tensor], threshold: float, *,
                    title: str = "Detector scores: clean, attacked, and attacked by an attacker who knows the detector"):
    """Histograms of the detector's logit for each group of images, with the threshold and each group's share
    flagged.

    Parameters
    ----------
    scores : mapping of str to Tensor
        ``{group: N logits}``.
    threshold : float
        The detector's threshold (above: flagged adversarial).
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    _mapping(scores, "scores")
    threshold = float(check_range(threshold, "threshold"))
    values = {k: torch.as_tensor(v).detach().double().cpu().flatten().numpy() for k, v in scores.items()}
    if any(len(v) == 0 for v in values.values()):
        raise ValueError("scores must hold at least one score per group")
    lo = min(min(v.min() for v in values.values()), threshold)
    hi = max(max(v.max() for v in values.values()), threshold)
    bins = np.linspace(lo, hi, 40)
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, v in values.items():
        ax.hist(v, bins=bins, alpha=0.5, label=f"{name}: {np.mean(v > threshold):.0%} flagged (n={len(v)})")
    ax.axvline(threshold, color="k", ls="--", lw=1.2, label="threshold")
    ax.set_xlabel("detector logit (higher: looks adversarial)")
    ax.set_ylabel("images")
    ax.legend(fontsize=9)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def transfer_figure(matrix, sources: Sequence[str], targets: Sequence[str], *,
                    title: str = "Accuracy of each model (column) on examples crafted on another (row)"):
    """A heat map of accuracies with every value written in its cell and a colour bar.

    Parameters
    ----------
    matrix : array-like
        ``len(sources) x len(targets)`` accuracies in [0, 1].
    sources, targets : sequence of str
        Row and column names.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = np.asarray(torch.as_tensor(matrix, dtype=torch.float64))
    if m.ndim != 2 or m.shape != (len(sources), len(targets)):
        raise ValueError(f"matrix must be {len(sources)} x {len(targets)} (sources x targets), got {m.shape}")
    if not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise ValueError("matrix must hold accuracies in [0, 1]")
    fig, ax = plt.subplots(figsize=(max(1.3 * len(targets) + 3, 6.5), 0.7 * len(sources) + 2.4))
    im = ax.imshow(m, cmap="viridis", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.0%}", ha="center", va="center", color="w" if m[i, j] < 0.6 else "k")
    ax.set_xticks(range(len(targets)), targets, rotation=20, ha="right")
    ax.set_yticks(range(len(sources)), sources)
    ax.set_xlabel("tested on")
    ax.set_ylabel("crafted on")
    ax.set_title(textwrap.fill(title, 60), fontsize=11)
    fig.colorbar(im, ax=ax, label="accuracy")
    fig.tight_layout()
    return fig
