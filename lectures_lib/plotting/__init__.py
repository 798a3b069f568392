"""Figures several lessons share: image grids, training curves, confusion matrices, top-k bars.

Every function returns the matplotlib ``Figure`` (or draws on a given ``ax``) so notebooks can
show it and tests can inspect it.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..validation import check_choice, check_labels, check_range


def to_numpy_image(image, scale: str = "none") -> np.ndarray:
    """A ``C x H x W`` / ``H x W`` tensor or array as an ``H x W`` or ``H x W x 3`` array for imshow.

    ``scale``: ``"none"`` (values already in [0,1]), ``"each"`` (min-max of this image).
    """
    arr = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, dtype=float)
    if arr.ndim == 3 and arr.shape[0] in (1, 3):
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    if scale == "each":
        lo, hi = arr.min(), arr.max()
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return np.clip(arr, 0, 1) if scale != "raw" else arr


def image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8, cmap: str | None = None,
               figsize: tuple[float, float] | None = None, scale: str = "none",
               title_colors: Sequence[str] | None = None, suptitle: str | None = None):
    """Show images in a grid. ``images``: tensor ``B x C x H x W`` (C = 1 or 3) or a list of
    ``C x H x W`` / ``H x W`` tensors or arrays. ``scale``: ``"none"`` (values in [0,1]),
    ``"each"`` (each image min-max scaled), ``"shared"`` (one min-max scale for all).
    Grey images default to ``cmap="gray"``. Returns the Figure."""
    check_choice(scale, "scale", ("none", "each", "shared"))
    check_range(ncols, "ncols", 1, integer=True)
    if not isinstance(images, (torch.Tensor, np.ndarray, list, tuple)):
        raise TypeError(f"images must be a tensor B x C x H x W or a list of images, got {type(images).__name__}")
    images = list(images)
    if not images:
        raise ValueError("images must not be empty")
    for i, im in enumerate(images):
        arr = im if isinstance(im, (torch.Tensor, np.ndarray)) else None
        if arr is None or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[0] not in (1, 3)):
            raise ValueError(f"images[{i}] must be a C x H x W (C = 1 or 3) or H x W tensor or array, "
                             f"got {getattr(im, 'shape', type(im).__name__)}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries for {len(images)} images")
    if scale == "shared":
        stack = [i.detach().float() if isinstance(i, torch.Tensor) else torch.as_tensor(np.asarray(i, float)) for i in images]
        lo, hi = min(float(s.min()) for s in stack), max(float(s.max()) for s in stack)
        images = [(s - lo) / (hi - lo) if hi > lo else s * 0 for s in stack]
        scale = "none"
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (1.6 * ncols, 1.6 * nrows + (0.3 if titles else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(images):
            continue
        arr = to_numpy_image(images[k], scale)
        ax.imshow(arr, cmap=cmap or ("gray" if arr.ndim == 2 else None), vmin=0, vmax=1, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[k], fontsize=8, color=(title_colors[k] if title_colors else "black"))
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def training_curves(history: Sequence[dict], title: str | None = None):
    """Loss and accuracy per epoch (train and test) from :func:`lectures_lib.train.fit`'s history."""
    needed = {"epoch", "train_loss", "train_acc"}
    if not isinstance(history, (list, tuple)) or not history or not all(
            isinstance(h, dict) and needed <= set(h) for h in history):
        raise ValueError(f"history must be a non-empty list of dicts with keys {sorted(needed)} (train.fit's history)")
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax2.plot(epochs, [100 * h["train_acc"] for h in history], "o-", label="train")
    if "test_loss" in history[0]:
        ax1.plot(epochs, [h["test_loss"] for h in history], "s-", label="test")
        ax2.plot(epochs, [100 * h["test_acc"] for h in history], "s-", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``num_classes x num_classes`` counts: row = true class, column = predicted class."""
    check_range(num_classes, "num_classes", 1, integer=True)
    y_true = check_labels(torch.as_tensor(np.asarray(y_true)), len(y_true), num_classes, "y_true").numpy()
    y_pred = check_labels(torch.as_tensor(np.asarray(y_pred)), len(y_true), num_classes, "y_pred").numpy()
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def plot_confusion_matrix(y_true, y_pred, classes: Sequence[str], ax=None, title: str = "confusion matrix"):
    """Heat map of :func:`confusion_matrix` with the counts written in the cells."""
    cm = confusion_matrix(y_true, y_pred, len(classes))
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 5.5))
    im = ax.imshow(np.log1p(cm), cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 3 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    return fig


def topk_bars(probs, categories: Sequence[str], k: int = 5, ax=None, title: str | None = None,
              true_class: int | None = None):
    """Horizontal bars of the ``k`` most probable classes. ``probs``: a 1-D tensor/array of K probabilities.
    The true class, when given and among them, is drawn in green."""
    check_range(k, "k", 1, integer=True)
    try:
        p = probs.detach().cpu().float() if isinstance(probs, torch.Tensor) else torch.as_tensor(np.asarray(probs, float))
    except (TypeError, ValueError) as err:
        raise TypeError(f"probs must be a 1-D vector of probabilities, got {type(probs).__name__}") from err
    if p.dim() != 1 or len(p) != len(categories):
        raise ValueError(f"probs must be a 1-D vector of {len(categories)} probabilities, got shape {tuple(p.shape)}")
    if not torch.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise ValueError("probs must hold probabilities in [0, 1] (apply softmax to logits)")
    vals, idx = p.topk(min(k, len(p)))
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.5, 0.35 * k + 0.8))
    colors = ["tab:green" if int(i) == true_class else "tab:blue" for i in idx]
    ax.barh(range(len(vals))[::-1], vals.numpy() * 100, color=colors)
    ax.set_yticks(range(len(vals))[::-1], [categories[int(i)] for i in idx])
    ax.set_xlim(0, 100)
    ax.set_xlabel("probability (%)")
    for r, v in zip(range(len(vals))[::-1], vals.numpy()):
        ax.text(min(v * 100 + 1, 85), r, f"{v:.1%}", va="center", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def image_with_topk(image, probs, categories: Sequence[str], k: int = 5, true_class: int | None = None,
                    title: str | None = None):
    """An image beside its top-``k`` probability bars."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3), gridspec_kw={"width_ratios": [1, 1.4]})
    arr = to_numpy_image(image)
    ax1.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
    ax1.axis("off")
    if title:
        ax1.set_title(title, fontsize=9)
    topk_bars(probs, categories, k=k, ax=ax2, true_class=true_class)
    fig.tight_layout()
    return fig
