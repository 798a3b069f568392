"""Figures and the widget of lesson 06 (adversarial examples): the panda figure, Kurakin et al.'s
accuracy-against-epsilon curves and the attack browser. The attacks themselves are in
:mod:`lectures_lib.attacks`; this module only draws what they return.
"""
from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as W
import matplotlib.pyplot as plt
import torch

from .. import attacks as A
from ..validation import check_choice, check_images, check_range
from ..widgets import InteractiveFigure
from . import to_numpy_image, topk_bars

__all__ = ["accuracy_figure", "attack_figure", "attack_widget", "eps_label"]


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


def accuracy_figure(curves: dict[str, dict], title: str | None = None, eps_unit: str = "255"):
    """Kurakin et al.'s figure 2: top-k accuracy against epsilon, one line per attack, one panel per k.

    Parameters
    ----------
    curves : dict
        ``{attack name: attacks.accuracy_under_attack(...) result}``, at least one.
    title : str, optional
        The figure's title.
    eps_unit : {"255", "1"}
        Plot epsilons as 0-255 values (log scale when all are > 0) or as given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_choice(eps_unit, "eps_unit", ("255", "1"))
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict {attack name: accuracy_under_attack result}")
    for name, curve in curves.items():
        if not isinstance(curve, dict) or "eps" not in curve or not any(key.startswith("top") for key in curve):
            raise ValueError(f"curves[{name!r}] must be an accuracy_under_attack result with 'eps' and 'top<k>' keys")
    keys = [k for k in next(iter(curves.values())) if k.startswith("top")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.4), squeeze=False)
    scale = 255.0 if eps_unit == "255" else 1.0
    for ax, key in zip(axes[0], keys):
        for name, curve in curves.items():
            ax.plot([e * scale for e in curve["eps"]], curve[key], marker="o", label=name)
        ax.set(xlabel="epsilon" + (" (of 255)" if eps_unit == "255" else ""), ylabel=f"{key} accuracy",
               ylim=(-0.02, 1.02), title=key)
        if eps_unit == "255" and all(e > 0 for c in curves.values() for e in c["eps"]):
            ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
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
