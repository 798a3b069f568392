"""Figures and the widget of lesson 06 (adversarial examples): the panda figure, Szegedy et al.'s distortion
figure, Kurakin et al.'s comparison of methods and accuracy-against-epsilon curves, adversarial examples beside
saliency, and the attack browser. The attacks themselves are in :mod:`lectures_lib.attacks`; this module only
draws what they return.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import attacks as A
from ..validation import check_choice, check_eps, check_images, check_maps, check_range
from ..widgets import InteractiveFigure
from . import closes_figures_on_error, to_numpy_image, topk_bars

__all__ = ["METHOD_NAMES", "PandaRow", "accuracy_figure", "amplify", "attack_figure", "attack_widget",
           "distortion_figure", "eps_label", "interpretability_figure", "method_comparison_figure", "panda_figure",
           "wilson_interval"]

METHOD_NAMES = {"clean": "clean images", "fgsm": "fast (FGSM)", "iterative": "basic iterative",
                "least_likely": "iterative least likely", "pgd": "PGD (random start)"}
"""Readable names of :data:`lectures_lib.attacks.ATTACKS` for legends and titles (Kurakin et al.'s wording)."""


def eps_label(eps: float) -> str:
    """An epsilon as the lesson writes it: ``8/255`` when ``eps`` is a whole number of 255ths, else ``0.25``.

    Parameters
    ----------
    eps : float
        A finite epsilon on the [0, 1] scale.

    Returns
    -------
    str
    """
    eps = float(check_range(eps, "eps"))
    k = eps * 255
    return f"{round(k)}/255" if eps > 0 and abs(k - round(k)) < 1e-6 else f"{eps:.3g}"


def _probabilities(p, name: str, k_classes: int) -> torch.Tensor:
    if not isinstance(p, torch.Tensor) or p.dim() != 1 or len(p) != k_classes:
        got = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(f"{name} must be a 1-D tensor of {k_classes} probabilities (one per category), got {got}")
    if not p.is_floating_point() or not torch.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1] (softmax of the logits)")
    return p.detach().cpu()


@closes_figures_on_error
def attack_figure(x: torch.Tensor, x_adv: torch.Tensor, probs: torch.Tensor, probs_adv: torch.Tensor,
                  categories: Sequence[str], true_class: int | None = None, k: int = 5,
                  perturbation_title: str | None = None):
    """The panda figure (Goodfellow et al. 2015, figure 1) for one image: the clean image with its
    prediction, the perturbation ``x_adv - x`` amplified to fill the grey range (``0.5 + 0.5 r / max|r|``),
    the adversarial image with its prediction, and its top-``k`` bars.

    Parameters
    ----------
    x, x_adv : Tensor
        ``C x H x W`` in [0, 1], the clean and the adversarial image, same shape.
    probs, probs_adv : Tensor
        ``K`` probabilities of each.
    categories : sequence of str
        ``K`` class names.
    true_class : int, optional
        Drawn in green among the bars.
    k : int
        Bars shown (>= 1).
    perturbation_title : str, optional
        Title of the perturbation panel (default: its amplification, L-inf and L2 norms).

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_images(x, "x", ndim=3)
    check_images(x_adv, "x_adv", ndim=3)
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv must have the shape of x {tuple(x.shape)}, got {tuple(x_adv.shape)}")
    if isinstance(categories, str) or not isinstance(categories, Sequence):
        raise TypeError(f"categories must be a sequence of class names, got {type(categories).__name__}")
    probs, probs_adv = _probabilities(probs, "probs", len(categories)), _probabilities(probs_adv, "probs_adv",
                                                                                         len(categories))
    check_range(k, "k", 1, integer=True)
    x, x_adv = x.detach().cpu(), x_adv.detach().cpu().to(x.dtype)
    r = x_adv - x
    scale = float(r.abs().max())
    fig, axes = plt.subplots(1, 4, figsize=(12, 3), gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
    for ax, image, p, title in ((axes[0], x, probs, "clean"), (axes[2], x_adv, probs_adv, "adversarial")):
        arr = to_numpy_image(image)
        ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
        c = int(p.argmax())
        ax.set_title(f"{title}: {categories[c]}\n{float(p[c]):.1%} confidence", fontsize=9)
    amplified = 0.5 + 0.5 * r / scale if scale > 0 else torch.full_like(r, 0.5)
    arr = to_numpy_image(amplified)
    axes[1].imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
    axes[1].set_title(perturbation_title or f"perturbation x {0.5 / scale if scale else 0:.3g}\n"
                      f"(L-inf {eps_label(scale)}, L2 {float(r.norm()):.2f})", fontsize=9)
    for ax in axes[:3]:
        ax.axis("off")
    topk_bars(probs_adv, categories, k=k, ax=axes[3], true_class=true_class, title="adversarial top-k")
    fig.tight_layout()
    return fig


@closes_figures_on_error
def accuracy_figure(curves: dict[str, dict], title: str | None = None, eps_unit: str = "255", *,
                    band: bool = True):
    """Kurakin et al.'s figure 2: top-k accuracy against epsilon, one line per attack, one panel per k, the
    clean images' accuracy as a dashed reference line, a 95% confidence band (Wilson) around each line.

    With ``eps_unit="255"`` the epsilon axis is logarithmic in base 2 with ticks at 1, 2, 4, ..., 128 (the paper's
    2 to 128); an ``eps = 0`` point is not plotted on it but becomes the clean reference line.

    Parameters
    ----------
    curves : dict
        ``{attack name: attacks.accuracy_under_attack(...) result}``, at least one; names of
        :data:`METHOD_NAMES` are written out. The band needs the result's ``"n"`` (images measured).
    title : str, optional
        The figure's title.
    eps_unit : {"255", "1"}
        Epsilons as 0-255 values on a log2 axis, or as given on a linear axis.
    band : bool
        Draw the 95% confidence bands (default True).

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_choice(eps_unit, "eps_unit", ("255", "1"))
    if not isinstance(band, bool):
        raise TypeError(f"band must be True or False, got {type(band).__name__}")
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict {attack name: accuracy_under_attack result}")
    for name, curve in curves.items():
        if not isinstance(curve, dict) or "eps" not in curve or not any(key.startswith("top") for key in curve):
            raise ValueError(f"curves[{name!r}] must be an accuracy_under_attack result with 'eps' and 'top<k>' keys")
    keys = [k for k in next(iter(curves.values())) if k.startswith("top")]
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 3.9), squeeze=False)
    scale = 255.0 if eps_unit == "255" else 1.0
    log = eps_unit == "255"
    for ax, key in zip(axes[0], keys):
        clean = None
        for i, (name, curve) in enumerate(curves.items()):
            eps = np.asarray(curve["eps"], dtype=float) * scale
            acc = np.asarray(curve[key], dtype=float)
            if 0.0 in eps:
                clean = float(acc[list(eps).index(0.0)])
            shown = eps > 0 if log else np.ones_like(eps, dtype=bool)
            line, = ax.plot(eps[shown], acc[shown], marker="os^dv"[i % 5], label=METHOD_NAMES.get(name, name))
            if band and curve.get("n"):
                low, high = wilson_interval(acc[shown], int(curve["n"]))
                ax.fill_between(eps[shown], low, high, color=line.get_color(), alpha=0.15, lw=0)
        if clean is not None:
            ax.axhline(clean, color="black", ls="--", lw=1.2, label="clean images")
        if log:
            ax.set_xscale("log", base=2)
            shown_eps = sorted({e * scale for c in curves.values() for e in c["eps"] if e > 0})
            ticks = [2.0 ** j for j in range(int(math.floor(math.log2(shown_eps[0]))),
                                             int(math.ceil(math.log2(shown_eps[-1]))) + 1)] if shown_eps else []
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        ax.set(xlabel="epsilon (of 255)" if log else "epsilon", ylabel=f"{key.replace('top', 'top-')} accuracy",
               ylim=(-0.02, 1.02), title=f"{key.replace('top', 'top-')} accuracy under attack")
        ax.grid(alpha=0.3)
    n = next((c.get("n") for c in curves.values() if c.get("n")), None)
    axes[0][-1].legend(fontsize=9, loc="upper right")
    sup = title or ""
    if band and n:
        sup += f"{chr(10) if sup else ''}shaded: 95% confidence interval over the {n} images (Wilson)"
    if sup:
        fig.suptitle(sup, fontsize=11)
    fig.tight_layout()
    return fig


def attack_widget(model, images: torch.Tensor, labels=None, categories: Sequence[str] | None = None, *,
                  attacks: Sequence[str] = ("fgsm", "iterative", "least_likely"),
                  eps_values: Sequence[float] = (1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255), k: int = 5,
                  progress: bool = True) -> InteractiveFigure:
    """The lesson's widget: choose an attack, an epsilon and an image; see the clean and adversarial images,
    the amplified perturbation and the adversarial top-``k`` (:func:`attack_figure`).

    Every (attack, epsilon) pair is computed for all ``images`` when the widget is built
    (:func:`lectures_lib.attacks.precompute_attacks`), so a change only redraws.

    Parameters
    ----------
    model : callable
        Images ``N x C x H x W`` in [0, 1] -> logits ``N x K``.
    images : Tensor
        ``N x C x H x W`` in [0, 1].
    labels : Tensor, optional
        ``N`` labels; None: the model's predictions.
    categories : sequence of str, optional
        ``K`` class names; default ``model.categories`` or the class indices.
    attacks : sequence of str
        Names in :data:`lectures_lib.attacks.ATTACKS`.
    eps_values : sequence of float
        Epsilons in [0, 1].
    k : int
        Bars shown.
    progress : bool
        Show the precomputation's progress.

    Returns
    -------
    InteractiveFigure
        ``controls``: ``"attack"``, ``"eps"``, ``"index"``; ``state``: what the last redraw showed
        (``attack``, ``eps``, ``index``, ``predicted``, ``probs``); ``results``: the
        :class:`lectures_lib.attacks.AttackGallery` it browses.
    """
    check_range(k, "k", 1, integer=True)
    gallery = A.precompute_attacks(model, images, labels, attacks=attacks, eps_values=eps_values, progress=progress)
    n_classes = gallery.probs.shape[1]
    categories = categories or getattr(model, "categories", None) or [str(i) for i in range(n_classes)]
    if len(categories) != n_classes:
        raise ValueError(f"categories must name the model's {n_classes} classes, got {len(categories)} names")

    def render(attack: str, eps: float, index: int):
        x_adv, p_adv = gallery.adversarial[(attack, eps)], gallery.adversarial_probs[(attack, eps)]
        fig = attack_figure(gallery.images[index], x_adv[index], gallery.probs[index], p_adv[index], categories,
                            true_class=int(gallery.labels[index]), k=k,
                            perturbation_title=f"{attack}, eps = {eps_label(eps)}\nperturbation (amplified)")
        return fig, {"attack": attack, "eps": eps, "index": index, "predicted": int(p_adv[index].argmax()),
                     "probs": p_adv[index]}

    controls = {
        "attack": W.Dropdown(options=list(gallery.attacks), value=gallery.attacks[0], description="attack"),
        "eps": W.SelectionSlider(options=[(eps_label(e), e) for e in gallery.eps_values], value=gallery.eps_values[0],
                                 description="epsilon", continuous_update=False),
        "index": W.IntSlider(value=0, min=0, max=len(gallery.images) - 1, description="image",
                             continuous_update=False),
    }
    widget = InteractiveFigure(render, controls)
    widget.results = gallery
    return widget


# --------------------------------------------------------------------------- helpers

def _show(ax, image: torch.Tensor, title: str | None = None) -> None:
    arr = to_numpy_image(image)
    ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def _operator(ax, text: str) -> None:
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=15, transform=ax.transAxes)


def _names(categories) -> Sequence[str]:
    if isinstance(categories, str) or not isinstance(categories, Sequence):
        raise TypeError(f"categories must be a sequence of class names, got {type(categories).__name__}")
    return categories


def _top(p: torch.Tensor, categories: Sequence[str]) -> str:
    c = int(p.argmax())
    return f"\u201c{categories[c]}\u201d\n{float(p[c]):.1%} confidence"


def amplify(r: torch.Tensor) -> torch.Tensor:
    """A perturbation shown on the grey range: ``0.5 + 0.5 r / max|r|`` (grey = unchanged).

    One scale for the whole tensor: ``max|r|`` is taken over all its entries (every image of a batch), so the
    largest change becomes black or white and the relative sizes of the changes are kept.

    Parameters
    ----------
    r : Tensor, any shape (e.g. ``C x H x W`` or ``B x C x H x W``)
        A perturbation ``x_adv - x``, any real values.

    Returns
    -------
    Tensor, the shape, dtype and device of ``r``
        Values in [0, 1], 0.5 where ``r`` is 0; all 0.5 when ``r`` is zero everywhere.
    """
    scale = float(r.abs().max())
    return 0.5 + 0.5 * r / scale if scale > 0 else torch.full_like(r, 0.5)


# --------------------------------------------------------------------------- the panda (Goodfellow et al. 2015)

class PandaRow(NamedTuple):
    """One row of :func:`panda_figure`: ``x + eps * direction = x_adv``."""
    eps: float                  # the step, in [0, 1]
    direction: torch.Tensor     # C x H x W in [-1, 1] (for FGSM the sign of the gradient)
    direction_title: str        # e.g. "sign(grad_x J(theta, x, y))"
    x_adv: torch.Tensor         # C x H x W in [0, 1]
    probs_adv: torch.Tensor     # K probabilities of x_adv
    direction_probs: torch.Tensor | None = None  # K probabilities of the direction seen as an image (the slide's "nematode")


@closes_figures_on_error
def panda_figure(x: torch.Tensor, probs: torch.Tensor, rows: Mapping[str, PandaRow], categories: Sequence[str], *,
                 size: float = 2.6):
    """Goodfellow et al.'s figure 1, one row per attack: ``x`` "+ eps x" the direction "=" the adversarial image,
    every image titled with its class and confidence, as on the slide.

    Parameters
    ----------
    x : Tensor
        ``C x H x W`` clean image in [0, 1].
    probs : Tensor
        ``K`` probabilities of ``x``.
    rows : mapping
        ``{row name: PandaRow}``, at least one. The direction is shown as ``0.5 + 0.5 direction`` (grey = 0).
    categories : sequence of str
        ``K`` class names.
    size : float
        Inches per image panel (default 2.6: 260 pixels at matplotlib's 100 dpi).

    Returns
    -------
    matplotlib.figure.Figure
        ``len(rows)`` rows of five panels (three images, two operators), the row name on the left.
    """
    check_images(x, "x", ndim=3)
    categories = _names(categories)
    probs = _probabilities(probs, "probs", len(categories))
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError("rows must map row names to PandaRow(eps, direction, direction_title, x_adv, probs_adv)")
    for name, row in rows.items():
        if not isinstance(row, PandaRow):
            raise TypeError(f"rows[{name!r}] must be a PandaRow, got {type(row).__name__}")
        check_eps(row.eps, f"rows[{name!r}].eps")
        d = row.direction
        if not isinstance(d, torch.Tensor) or d.shape != x.shape or not torch.isfinite(d).all() or d.abs().max() > 1 + 1e-4:
            raise ValueError(f"rows[{name!r}].direction must be a finite tensor in [-1, 1] of the shape of x "
                             f"{tuple(x.shape)}")
        check_images(row.x_adv, f"rows[{name!r}].x_adv", ndim=3)
        if row.x_adv.shape != x.shape:
            raise ValueError(f"rows[{name!r}].x_adv must have the shape of x {tuple(x.shape)}")
        _probabilities(row.probs_adv, f"rows[{name!r}].probs_adv", len(categories))
    fig, axes = plt.subplots(len(rows), 5, figsize=(3 * (size + 0.3) + 2 * 0.8, (size + 1.5) * len(rows)),
                             gridspec_kw={"width_ratios": [size + 0.3, 0.8, size + 0.3, 0.8, size + 0.3]}, squeeze=False)
    for ax, (name, row) in zip(axes, rows.items()):
        _show(ax[0], x, "x\n" + _top(probs, categories))
        ax[0].set_ylabel(name, fontsize=11)
        _operator(ax[1], f"+ {eps_label(row.eps)} \u00d7")
        title = row.direction_title
        if row.direction_probs is not None:
            title += "\n" + _top(_probabilities(row.direction_probs, f"rows[{name!r}].direction_probs",
                                                 len(categories)), categories)
        _show(ax[2], 0.5 + 0.5 * row.direction.detach().cpu().float().clamp(-1, 1), title)
        _operator(ax[3], "=")
        _show(ax[4], row.x_adv, "x + perturbation\n" + _top(row.probs_adv.detach().cpu(), categories))
        changed = int(row.probs_adv.argmax()) != int(probs.argmax())
        ax[4].title.set_color("tab:red" if changed else "black")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- Szegedy et al. 2014, figure 5

@closes_figures_on_error
def distortion_figure(x: torch.Tensor, x_adv: torch.Tensor, labels: Sequence[str], adv_labels: Sequence[str], *,
                      magnify: float | None = None, size: float = 2.3, title: str | None = None):
    """Szegedy et al.'s figure: per image, the original, the distortion ``x_adv - x`` magnified around grey, and
    the adversarial image with its (wrong) class.

    Parameters
    ----------
    x, x_adv : Tensor
        ``B x C x H x W`` clean and adversarial images in [0, 1], same shape, ``B >= 1``.
    labels, adv_labels : sequence of str
        ``B`` titles of the originals and of the adversarial images (their predictions).
    magnify : float, optional
        Show ``0.5 + magnify (x_adv - x)``; default: fill the grey range (``0.5 / max|x_adv - x|``), stated in the title.
    size : float
        Inches per panel (default 2.3). title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        ``B`` rows of three panels (original, distortion, adversarial).
    """
    check_images(x, "x", min_batch=1)
    check_images(x_adv, "x_adv", min_batch=1)
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv must have the shape of x {tuple(x.shape)}, got {tuple(x_adv.shape)}")
    for name, t in (("labels", labels), ("adv_labels", adv_labels)):
        if isinstance(t, str) or not isinstance(t, Sequence) or len(t) != len(x):
            raise ValueError(f"{name} must hold one title per image ({len(x)})")
    if magnify is not None:
        check_range(magnify, "magnify", 0.0, low_inclusive=False)
    r = (x_adv.detach().cpu().to(x.dtype) - x.detach().cpu()).float()
    fig, axes = plt.subplots(len(x), 3, figsize=(3 * size, (size + 0.5) * len(x)), squeeze=False)
    for i in range(len(x)):
        m = magnify if magnify is not None else 0.5 / max(float(r[i].abs().max()), 1e-12)
        _show(axes[i, 0], x[i], f"original: {labels[i]}")
        _show(axes[i, 1], (0.5 + m * r[i]).clamp(0, 1),
              f"distortion x {m:.0f}\n(L2 {float(r[i].norm()):.2f}, L-inf {float(r[i].abs().max()) * 255:.1f}/255)")
        _show(axes[i, 2], x_adv[i], f"adversarial: {adv_labels[i]}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- Kurakin et al. 2017

@closes_figures_on_error
def method_comparison_figure(x: torch.Tensor, adversarial: Mapping[str, torch.Tensor], probs: torch.Tensor,
                             adversarial_probs: Mapping[str, torch.Tensor], categories: Sequence[str], *,
                             eps: float, true_class: int | None = None, size: float = 2.5):
    """Kurakin et al.'s comparison of methods at one epsilon (their figure 1 at eps = 32): the clean image and
    each method's adversarial image with its class and confidence; below each, the perturbation amplified.

    Parameters
    ----------
    x : Tensor
        ``C x H x W`` clean image in [0, 1].
    adversarial : mapping
        ``{attack name: C x H x W adversarial image}``, at least one (names from :data:`METHOD_NAMES` are
        written out).
    probs : Tensor
        ``K`` probabilities of ``x``. adversarial_probs : mapping
        ``{attack name: K probabilities}`` of each adversarial image.
    categories : sequence of str
        ``K`` class names.
    eps : float
        The epsilon of the attacks in [0, 1] (written in the title as n/255).
    true_class : int, optional
        The true class: a title turns red when the prediction differs from it.
    size : float
        Inches per panel (default 2.5).

    Returns
    -------
    matplotlib.figure.Figure
        Two rows: images, perturbations.
    """
    check_images(x, "x", ndim=3)
    categories = _names(categories)
    probs = _probabilities(probs, "probs", len(categories))
    eps = check_eps(eps)
    if not isinstance(adversarial, Mapping) or not adversarial:
        raise ValueError("adversarial must map attack names to adversarial images, at least one")
    if not isinstance(adversarial_probs, Mapping) or set(adversarial_probs) != set(adversarial):
        raise ValueError("adversarial_probs must hold the probabilities of every image in adversarial")
    for name, x_adv in adversarial.items():
        check_images(x_adv, f"adversarial[{name!r}]", ndim=3)
        if x_adv.shape != x.shape:
            raise ValueError(f"adversarial[{name!r}] must have the shape of x {tuple(x.shape)}")
        _probabilities(adversarial_probs[name], f"adversarial_probs[{name!r}]", len(categories))
    n = len(adversarial) + 1
    fig, axes = plt.subplots(2, n, figsize=(size * n, 2 * size + 1.2), squeeze=False)
    _show(axes[0, 0], x, "clean\n" + _top(probs, categories))
    axes[1, 0].axis("off")
    axes[1, 0].text(0.5, 0.5, "perturbations,\namplified\n(grey = unchanged)", ha="center", va="center",
                    fontsize=10, transform=axes[1, 0].transAxes)
    for c, (name, x_adv) in enumerate(adversarial.items(), start=1):
        p = _probabilities(adversarial_probs[name], f"adversarial_probs[{name!r}]", len(categories))
        _show(axes[0, c], x_adv, f"{METHOD_NAMES.get(name, name)}\n" + _top(p, categories))
        if true_class is not None and int(p.argmax()) != true_class:
            axes[0, c].title.set_color("tab:red")
        r = x_adv.detach().cpu().to(x.dtype) - x.detach().cpu()
        _show(axes[1, c], amplify(r), f"L-inf {float(r.abs().max()) * 255:.0f}/255, L2 {float(r.norm()):.1f}")
    fig.suptitle(f"Three attacks at eps = {eps_label(eps)} (Kurakin et al. 2017)")
    fig.tight_layout()
    return fig


def wilson_interval(accuracy, n: int, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of accuracies measured on ``n`` images (95% for ``z = 1.96``).

    Parameters
    ----------
    accuracy : float or sequence of float
        Fractions in [0, 1]. n : int
        Images each was measured on, >= 1. z : float
        Normal quantile, > 0.

    Returns
    -------
    (low, high) : numpy arrays of the shape of ``accuracy``, within [0, 1].
    """
    check_range(n, "n", 1, integer=True)
    check_range(z, "z", 0.0, low_inclusive=False)
    p = np.asarray(accuracy, dtype=float)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("accuracy must hold fractions in [0, 1]")
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


# --------------------------------------------------------------------------- adversarial samples vs interpretability

@closes_figures_on_error
def interpretability_figure(x: torch.Tensor, gradient: torch.Tensor, saliency_map: torch.Tensor,
                            x_most_likely: torch.Tensor, probs: torch.Tensor, probs_most_likely: torch.Tensor,
                            categories: Sequence[str], *, eps: float, percentile: float = 99.0, size: float = 2.6):
    """Adversarial samples versus interpretability (the lecture's slide): the image, the sign of the loss
    gradient that FGSM adds, its magnitude (max over channels: lesson 04's saliency map of the loss), lesson 04's
    saliency map of the class score, and the most-likely-class image ``x - eps sign(grad L(x, y_top))``, which
    makes the network *more* confident.

    Parameters
    ----------
    x : Tensor
        ``C x H x W`` image in [0, 1].
    gradient : Tensor
        ``C x H x W`` finite gradient of the loss of the predicted class with respect to ``x``.
    saliency_map : Tensor
        ``H x W`` finite map of lesson 04 (e.g. ``saliency.gradient_saliency``), any scale.
    x_most_likely : Tensor
        ``C x H x W`` in [0, 1], the image after the most-likely-class step.
    probs, probs_most_likely : Tensor
        ``K`` probabilities of ``x`` and of ``x_most_likely``.
    categories : sequence of str
        ``K`` class names.
    eps : float
        The step in [0, 1] (for the title).
    percentile : float
        Maps are clipped at this percentile of their values, in (0, 100] (default 99).
    size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
        Five panels; the two maps share a labelled colour bar (each scaled to its percentile).
    """
    check_images(x, "x", ndim=3)
    check_images(x_most_likely, "x_most_likely", ndim=3)
    categories = _names(categories)
    probs = _probabilities(probs, "probs", len(categories))
    probs_most_likely = _probabilities(probs_most_likely, "probs_most_likely", len(categories))
    if not isinstance(gradient, torch.Tensor) or gradient.shape != x.shape or not torch.isfinite(gradient).all():
        raise ValueError(f"gradient must be a finite tensor of the shape of x {tuple(x.shape)}")
    check_maps(saliency_map[None] if isinstance(saliency_map, torch.Tensor) else saliency_map, x[None],
               "saliency_map")
    check_range(percentile, "percentile", 0.0, 100.0, low_inclusive=False)
    eps = check_eps(eps)
    g = gradient.detach().cpu().float()
    magnitude = g.abs().amax(dim=0)
    fig, axes = plt.subplots(1, 6, figsize=(5 * size + 2.2, size + 1.6),
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 0.06, 1]})
    _show(axes[0], x, "x\n" + _top(probs, categories))
    _show(axes[1], 0.5 + 0.5 * g.sign(), "sign of the loss gradient\n(what FGSM adds)")
    im = None
    for ax, m, title in ((axes[2], magnitude, "|loss gradient|\n(max over channels)"),
                         (axes[3], saliency_map.detach().cpu().float(), "lesson 04's saliency\n|d logit / d pixel|")):
        top = float(np.percentile(m.numpy(), percentile)) or 1.0
        im = ax.imshow((m / top).clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=10)
    _show(axes[5], x_most_likely, f"x - {eps_label(eps)} sign(\u2207L(x, \u0177))\n" + _top(probs_most_likely, categories))
    fig.colorbar(im, cax=axes[4], label=f"map / its {percentile:g}th percentile")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.suptitle("Adversarial samples vs. interpretability: the same gradient, two uses", fontsize=11)
    return fig
