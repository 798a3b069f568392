"""Figures several lessons share: image grids, training curves, confusion matrices, top-k bars.

Every function returns the matplotlib ``Figure`` (or draws on a given ``ax``) so notebooks can
show it and tests can inspect it.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..validation import check_choice, check_labels, check_range


def closes_figures_on_error(function):
    """Decorator of the figure functions: a call that raises (a refused input, checked part-way through the drawing)
    closes the figures it opened, so no half-drawn picture is left behind (Jupyter would show it under the error).
    Figures that existed before the call, such as the one of a given ``ax``, are left alone."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        before = set(plt.get_fignums())
        try:
            return function(*args, **kwargs)
        except Exception:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
            raise
    return wrapper

__all__ = [
    "ILSVRC_WINNERS", "architecture_boxes", "architecture_diagram", "confusion_matrix", "depth_chart", "image_grid",
    "image_with_topk", "plot_confusion_matrix", "residual_block_diagram", "to_numpy_image", "topk_bars",
    "training_curves",
]


def to_numpy_image(image, scale: str = "none") -> np.ndarray:
    """A ``C x H x W`` / ``H x W`` tensor or array as an ``H x W`` or ``H x W x 3`` array for imshow.

    Parameters
    ----------
    image : Tensor or array-like, ``C x H x W`` (C = 1 or 3) or ``H x W``
        The image (a tensor is detached and copied to the CPU). A 1-channel image becomes ``H x W``, a
        3-channel one ``H x W x 3``; any other shape is passed through unchanged.
    scale : {"none", "each", "raw"}, default "none"
        ``"none"``: values taken as already in [0, 1] and clipped to it; ``"each"``: min-max scaled to
        [0, 1] over this image (all zeros when it is constant); ``"raw"``: values left as they are, unclipped.

    Returns
    -------
    numpy.ndarray ``H x W`` or ``H x W x 3``
        Float (float32 from a tensor, float64 otherwise), in [0, 1] unless ``scale="raw"``.
    """
    arr = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, dtype=float)
    if arr.ndim == 3 and arr.shape[0] in (1, 3):
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    if scale == "each":
        lo, hi = arr.min(), arr.max()
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return np.clip(arr, 0, 1) if scale != "raw" else arr


@closes_figures_on_error
def image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8, cmap: str | None = None,
               figsize: tuple[float, float] | None = None, scale: str = "none",
               title_colors: Sequence[str] | None = None, suptitle: str | None = None):
    """Show images in a grid, one axis per image, row by row.

    Parameters
    ----------
    images : Tensor ``B x C x H x W`` (C = 1 or 3), or a list of ``C x H x W`` / ``H x W`` tensors or arrays
        The images, non-empty.
    titles : sequence of str, optional
        One title per image (default: none).
    ncols : int, default 8
        Columns, ``>= 1`` (at most the number of images are used).
    cmap : str, optional
        Colour map of 1-channel images; default ``"gray"`` for them (ignored by RGB images).
    figsize : (float, float), optional
        Figure size in inches; default 1.6 per column and 1.6 per row (plus 0.3 with titles).
    scale : {"none", "each", "shared"}, default "none"
        ``"none"``: values in [0, 1] (clipped to it); ``"each"``: each image min-max scaled on its own;
        ``"shared"``: one min-max scale over all images.
    title_colors : sequence of str, optional
        One matplotlib colour per title (default black).
    suptitle : str, optional
        A title over the whole grid.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        When ``images`` is neither a tensor, an array nor a list or tuple, or ``ncols`` is not an int.
    ValueError
        When ``images`` is empty or holds an image of another shape, ``titles`` does not give one title
        per image, ``scale`` is not one of the three, or ``ncols < 1``.
    """
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


@closes_figures_on_error
def training_curves(history: Sequence[dict], title: str | None = None, *, clean_train: dict | None = None,
                    train_label: str = "train", note: str | None = None):
    """Loss and accuracy per epoch (train and test) from :func:`lectures_lib.train.fit`'s history.

    Parameters
    ----------
    history : list of dict
        ``train.fit``'s history: ``epoch``, ``train_loss``, ``train_acc`` and, when there, ``test_loss``,
        ``test_acc``.
    title : str, optional
    clean_train : dict, optional
        ``train.evaluate(model, train_data)`` of the final model (``loss``, ``top1``): the training set
        measured the way the test set is (clean images, weights of the end of training), drawn as a star
        at the last epoch. The training curve is a mean over the epoch, on augmented images, while the
        weights still change, which is why it can sit above the test curve; the star cannot.
    train_label : str, default "train"
        The training curve's name in the legend (say "train (shifted digits, mean over the epoch)").
    note : str, optional
        A line under the plots explaining what the curves measure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    needed = {"epoch", "train_loss", "train_acc"}
    if not isinstance(history, (list, tuple)) or not history or not all(
            isinstance(h, dict) and needed <= set(h) for h in history):
        raise ValueError(f"history must be a non-empty list of dicts with keys {sorted(needed)} (train.fit's history)")
    if clean_train is not None and not (isinstance(clean_train, dict) and {"loss", "top1"} <= set(clean_train)):
        raise ValueError("clean_train must be train.evaluate's dict with keys 'loss' and 'top1'")
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label=train_label)
    ax2.plot(epochs, [100 * h["train_acc"] for h in history], "o-", label=train_label)
    if "test_loss" in history[0]:
        ax1.plot(epochs, [h["test_loss"] for h in history], "s-", label="test (clean, after the epoch)")
        ax2.plot(epochs, [100 * h["test_acc"] for h in history], "s-", label="test (clean, after the epoch)")
    if clean_train is not None:
        ax1.plot([epochs[-1]], [clean_train["loss"]], "*", ms=14, color="tab:green",
                 label=f"train set, clean, final model: {clean_train['loss']:.3f}")
        ax2.plot([epochs[-1]], [100 * clean_train["top1"]], "*", ms=14, color="tab:green",
                 label=f"train set, clean, final model: {clean_train['top1']:.2%}")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss", yscale="log")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    if note:
        fig.text(0.5, 0.01, note, ha="center", va="bottom", fontsize=8, wrap=True)
    fig.tight_layout(rect=(0, 0.06 if note else 0, 1, 1))
    return fig


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """The confusion matrix of predictions: ``num_classes x num_classes`` counts.

    Parameters
    ----------
    y_true : Tensor (on the CPU), array or sequence of int, ``N``
        True class indices in ``[0, num_classes)``.
    y_pred : Tensor (on the CPU), array or sequence of int, ``N``
        Predicted class indices in ``[0, num_classes)``, one per entry of ``y_true``.
    num_classes : int
        Number of classes ``K``, ``>= 1``.

    Returns
    -------
    numpy.ndarray ``K x K``, int64
        ``[i, j]`` counts the items of true class ``i`` predicted as ``j`` (row = true class, column =
        predicted class); the entries sum to ``N``.

    Raises
    ------
    TypeError
        When ``num_classes`` is not an int.
    ValueError
        When ``num_classes < 1``, the labels are not integers, ``y_pred`` does not have ``N`` entries, or an
        index is out of range.
    """
    check_range(num_classes, "num_classes", 1, integer=True)
    y_true = check_labels(torch.as_tensor(np.asarray(y_true)), len(y_true), num_classes, "y_true").numpy()
    y_pred = check_labels(torch.as_tensor(np.asarray(y_pred)), len(y_true), num_classes, "y_pred").numpy()
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


@closes_figures_on_error
def plot_confusion_matrix(y_true, y_pred, classes: Sequence[str], ax=None, title: str = "confusion matrix"):
    """Heat map of :func:`confusion_matrix` in counts, every non-zero count written in its cell.

    The diagonal (the correct answers) is drawn in grey with its counts in bold, and the colours count
    only the mistakes, on their own scale with a colour bar: otherwise a thousand correct 1s swamp the
    eight 4s read as 9s. Row = true class, column = predicted class.

    Parameters
    ----------
    y_true, y_pred : ``N`` class indices
    classes : sequence of K str
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    cm = confusion_matrix(y_true, y_pred, len(classes))
    k = len(classes)
    off = np.where(np.eye(k, dtype=bool), np.nan, cm.astype(float))
    top = max(1.0, float(np.nanmax(off)) if k > 1 else 1.0)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 6))
    ax.imshow(np.where(np.eye(k, dtype=bool), 1.0, np.nan), cmap="Greys", vmin=0, vmax=4)   # light grey diagonal
    im = ax.imshow(off, cmap="Reds", vmin=0, vmax=top)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                strong = i != j and cm[i, j] > top * 0.6
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        fontweight="bold" if i == j else "normal", color="white" if strong else "black")
    ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right" if
                  max(map(len, classes)) > 2 else "center")
    ax.set_yticks(range(k), classes)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.colorbar(im, ax=ax, label="mistakes (count); diagonal = correct, in grey", shrink=0.85)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def topk_bars(probs, categories: Sequence[str], k: int = 5, ax=None, title: str | None = None,
              true_class: int | None = None):
    """Horizontal bars of the ``k`` most probable classes, most probable on top, each labelled with its percentage.

    Parameters
    ----------
    probs : Tensor or array-like ``K``
        Probabilities in [0, 1] (apply softmax to logits first), one per category.
    categories : sequence of str, length ``K``
        The class names.
    k : int, default 5
        Number of bars, ``>= 1`` (at most ``K`` are drawn).
    ax : matplotlib Axes, optional
        Where to draw; default a new figure.
    title : str, optional
        The axis title.
    true_class : int, optional
        Index of the true class: its bar, when among the top ``k``, is drawn in green (the others in blue).

    Returns
    -------
    matplotlib.figure.Figure
        The new figure, or the figure of ``ax``.

    Raises
    ------
    TypeError
        When ``k`` is not an int or ``probs`` cannot be read as numbers.
    ValueError
        When ``k < 1``, ``probs`` is not a 1-D vector of ``len(categories)`` values, or holds values outside
        [0, 1] or non-finite ones.
    """
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
    own = ax is None
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(4.5, 0.35 * k + 1.0))
    colors = ["tab:green" if int(i) == true_class else "tab:blue" for i in idx]
    ax.barh(range(len(vals))[::-1], vals.numpy() * 100, color=colors)
    ax.set_yticks(range(len(vals))[::-1], [categories[int(i)] for i in idx])
    ax.set_xlim(0, 100)
    ax.set_xlabel("probability (%)")
    for r, v in zip(range(len(vals))[::-1], vals.numpy()):
        ax.text(min(v * 100 + 1, 85), r, f"{v:.1%}", va="center", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    if own:
        fig.tight_layout()
    return fig


@closes_figures_on_error
def image_with_topk(image, probs, categories: Sequence[str], k: int = 5, true_class: int | None = None,
                    title: str | None = None):
    """An image beside its top-``k`` probability bars (:func:`topk_bars`).

    Parameters
    ----------
    image : Tensor or array-like, ``C x H x W`` (C = 1 or 3) or ``H x W``
        The image, values in [0, 1] (clipped to it; grey images drawn with ``cmap="gray"``).
    probs : Tensor or array-like ``K``
        Its class probabilities in [0, 1].
    categories : sequence of str, length ``K``
        The class names.
    k : int, default 5
        Number of bars, ``>= 1``.
    true_class : int, optional
        Index of the true class, drawn in green when among the top ``k``.
    title : str, optional
        The image's title.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError, ValueError
        As :func:`topk_bars`, for ``probs`` and ``k``.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3), gridspec_kw={"width_ratios": [1, 1.4]})
    arr = to_numpy_image(image)
    ax1.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
    ax1.axis("off")
    if title:
        ax1.set_title(title, fontsize=9)
    topk_bars(probs, categories, k=k, ax=ax2, true_class=true_class)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- architectures (lessons 01-02)

# Layers that start a box of the diagram; the others (activations, dropout, flatten, normalisation) join the
# box before them.
_BOX_TYPES = {"Conv2d": "conv", "Linear": "fc", "MaxPool2d": "max-pool", "AvgPool2d": "avg-pool",
              "AdaptiveAvgPool2d": "avg-pool", "AdaptiveMaxPool2d": "max-pool"}
_BOX_COLORS = {"conv": "#9ecae1", "fc": "#fdae6b", "max-pool": "#c7e9c0", "avg-pool": "#c7e9c0",
               "input": "#e0e0e0"}


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if len(shape) == 3:
        return f"{shape[0]}@{shape[1]}x{shape[2]}"
    return " x ".join(str(s) for s in shape)


def architecture_boxes(model: torch.nn.Module, x: torch.Tensor) -> list[dict]:
    """The boxes of :func:`architecture_diagram`: the model traced on ``x`` (:func:`models.layer_table`),
    one box per convolution, pooling or linear layer, with the activations, dropout and flattening that
    follow it merged in.

    Parameters
    ----------
    model : nn.Module
    x : Tensor ``1 x C x H x W`` in [0, 1]
        One image of the size the model takes.

    Returns
    -------
    list of dict
        ``{"name", "kind", "detail", "output_shape", "params", "layers"}`` per box, the input first
        (``kind="input"``). ``name`` is the module's name when it is short (LeNet-5's ``"c1"``), else a
        numbered name (``"conv1"``, ``"pool1"``, ``"fc1"``); ``layers`` lists the merged modules.
    """
    from ..models import layer_table
    from ..validation import check_images

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module (its layers are drawn), got {type(model).__name__}")
    check_images(x, "x", min_batch=1)
    rows = layer_table(model, x[:1])
    boxes = [{"name": "input", "kind": "input", "detail": "", "output_shape": tuple(x.shape[1:]), "params": 0,
              "layers": []}]
    counts: dict[str, int] = {}
    modules = dict(model.named_modules())
    for r in rows:
        kind = _BOX_TYPES.get(r["type"])
        if kind is None:
            last = boxes[-1]
            last["layers"].append(r["layer"])
            last["params"] += r["params"]
            activation = r["type"] in ("ReLU", "ReLU6", "Tanh", "Sigmoid", "GELU", "SiLU")
            if r["output_shape"] is not None and (activation or r["type"].startswith("BatchNorm")):
                last["output_shape"] = r["output_shape"]       # shape-preserving layers only (not dropout, flatten)
            if activation and "+" not in last["detail"]:
                last["detail"] += f"\n+ {r['type'].lower()}"
            continue
        group = "pool" if "pool" in kind else kind
        counts[group] = counts.get(group, 0) + 1
        m = modules[r["layer"]]
        if kind == "conv":
            detail = f"{m.kernel_size[0]}x{m.kernel_size[1]}" + (f"\nstride {m.stride[0]}" if m.stride[0] > 1 else "")
        elif "pool" in kind and hasattr(m, "kernel_size"):
            ks = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            st = m.stride if isinstance(m.stride, int) else m.stride[0]
            detail = f"{ks}x{ks}\nstride {st}"
        else:
            detail = "global" if r["type"].startswith("Adaptive") else ""
        short = r["layer"] if "." not in r["layer"] and len(r["layer"]) <= 8 else (
            "avgpool" if r["type"] == "AdaptiveAvgPool2d" else f"{group}{counts[group]}")
        boxes.append({"name": short, "kind": kind, "detail": detail, "output_shape": r["output_shape"],
                      "params": r["params"], "layers": [r["layer"]]})
    return boxes


@closes_figures_on_error
def architecture_diagram(model: torch.nn.Module, x: torch.Tensor, title: str | None = None):
    """A network drawn as on the lecture's slides, from its definition: one box per layer (convolution,
    pooling, fully connected; activations merged in) with its output shape (``channels@height x width``)
    and parameter count, arrows in the order the layers run. Box heights follow the maps' spatial size
    (square root), widths their number of channels (logarithm), so the funnel of a ConvNet shows.

    Parameters
    ----------
    model : nn.Module
    x : Tensor ``1 x C x H x W`` in [0, 1]
        One image of the size the model takes (the shapes are traced on it).
    title : str, optional
        Default: the total parameter count.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.boxes`` holds :func:`architecture_boxes`' list.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    boxes = architecture_boxes(model, x)
    n = len(boxes)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.35 * n), 4.2))
    side = [b["output_shape"][-1] if b["output_shape"] and len(b["output_shape"]) == 3 else 1 for b in boxes]
    chans = [b["output_shape"][0] if b["output_shape"] else 1 for b in boxes]
    top_side, top_chan = max(side), max(chans)
    for i, b in enumerate(boxes):
        h = 0.35 + 2.0 * np.sqrt(side[i] / top_side)
        w = 0.35 + 0.55 * np.log1p(chans[i]) / np.log1p(top_chan)
        ax.add_patch(FancyBboxPatch((i - w / 2, -h / 2), w, h, boxstyle="round,pad=0.02",
                                    facecolor=_BOX_COLORS.get(b["kind"], "#dadaeb"), edgecolor="black", lw=1))
        ax.text(i, h / 2 + 0.12, b["name"], ha="center", va="bottom", fontsize=9, fontweight="bold")
        if b["kind"] != "input":
            ax.text(i, 0, b["kind"] + (f"\n{b['detail'].strip()}" if b["detail"].strip() else ""), ha="center",
                    va="center", fontsize=7)
        ax.text(i, -1.35, _shape_text(b["output_shape"]), ha="center", va="top", fontsize=8)
        if b["params"]:
            ax.text(i, -1.75, f"{b['params']:,}\nparams", ha="center", va="top", fontsize=7, color="dimgray")
        if i:
            ax.add_patch(FancyArrowPatch((i - 0.62, 0), (i - 0.38, 0), arrowstyle="-|>", mutation_scale=10,
                                         color="black"))
    total = sum(b["params"] for b in boxes)
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylim(-2.5, 1.8)
    ax.axis("off")
    ax.set_title(title or f"{type(model).__name__}: {total:,} parameters", fontsize=11)
    ax.text(-0.6, -2.45, "shapes: channels@height x width (after the layer)", fontsize=7, color="dimgray",
            va="bottom")
    fig.tight_layout()
    fig.boxes = boxes
    return fig


# Kaiming He's "revolution of depth" slide: the ILSVRC classification winners, top-5 error on the test set (%).
ILSVRC_WINNERS = [
    {"year": 2010, "name": "NEC-UIUC", "depth": None, "top5_error": 28.2, "note": "shallow (SIFT + SVM)"},
    {"year": 2011, "name": "XRCE", "depth": None, "top5_error": 25.8, "note": "shallow (Fisher vectors)"},
    {"year": 2012, "name": "AlexNet", "depth": 8, "top5_error": 16.4, "note": "Krizhevsky et al."},
    {"year": 2013, "name": "ZFNet", "depth": 8, "top5_error": 11.7, "note": "Zeiler and Fergus"},
    {"year": 2014, "name": "VGG", "depth": 19, "top5_error": 7.3, "note": "Simonyan and Zisserman (2nd)"},
    {"year": 2014, "name": "GoogLeNet", "depth": 22, "top5_error": 6.7, "note": "Szegedy et al."},
    {"year": 2015, "name": "ResNet", "depth": 152, "top5_error": 3.57, "note": "He et al."},
]


@closes_figures_on_error
def depth_chart(entries: Sequence[dict] | None = None, ax=None, title: str = "The revolution of depth"):
    """Kaiming He's slide: ILSVRC top-5 error by year, each bar labelled with its network's depth.

    Parameters
    ----------
    entries : list of dict, default :data:`ILSVRC_WINNERS`
        ``{"year", "name", "depth" (weight layers, None for shallow methods), "top5_error" (%)}``.
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    entries = list(ILSVRC_WINNERS if entries is None else entries)
    needed = {"year", "name", "depth", "top5_error"}
    if not entries or not all(isinstance(e, dict) and needed <= set(e) for e in entries):
        raise ValueError(f"entries must be a non-empty list of dicts with keys {sorted(needed)}")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(10, 4.5))
    depth = [e["depth"] or 0 for e in entries]
    cmap = plt.cm.viridis
    colors = ["#bdbdbd" if d == 0 else cmap(0.15 + 0.75 * np.log(d / 8 + 1) / np.log(152 / 8 + 1)) for d in depth]
    xs = np.arange(len(entries))
    ax.bar(xs, [e["top5_error"] for e in entries], color=colors, edgecolor="black", width=0.7)
    for x, e in zip(xs, entries):
        ax.text(x, e["top5_error"] + 0.4, f"{e['depth']} layers" if e["depth"] else "shallow", ha="center",
                va="bottom", fontsize=10, fontweight="bold")
        ax.text(x, e["top5_error"] - 0.4, f"{e['top5_error']:g}", ha="center", va="top", fontsize=9,
                color="white" if e["depth"] and e["depth"] < 20 else "black")
    ax.set_xticks(xs, [f"ILSVRC'{e['year'] % 100:02d}\n{e['name']}" for e in entries], fontsize=9)
    ax.set_ylabel("top-5 error (%)")
    ax.set_ylim(0, max(e["top5_error"] for e in entries) * 1.15)
    ax.set_title(title + " (ILSVRC classification winners; slide by Kaiming He)", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


@closes_figures_on_error
def residual_block_diagram(ax=None):
    """Draw the residual block of He et al., *Deep Residual Learning for Image Recognition* (CVPR 2016, figure 2).

    The block computes ``y = relu(F(x) + x)`` with ``F(x) = W2 relu(W1 x)`` (two 3x3 convolutions, each followed
    by batch normalisation) and the identity shortcut carrying ``x`` around them.

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Where to draw; default a new 5 x 5.5 inch figure.

    Returns
    -------
    matplotlib.figure.Figure
        The new figure, or the figure of ``ax``.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 5.5))

    def arrow(a, b, **kw):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="black", lw=1.3, **kw))

    for y, text in ((3.6, "weight layer\n(3x3 conv + BN)"), (1.6, "weight layer\n(3x3 conv + BN)")):
        ax.add_patch(FancyBboxPatch((-1.1, y - 0.35), 2.2, 0.7, boxstyle="round,pad=0.05", facecolor="#9ecae1",
                                    edgecolor="black"))
        ax.text(0, y, text, ha="center", va="center", fontsize=9)
    ax.text(0, 5.0, r"$x$", ha="center", fontsize=14)
    arrow((0, 4.85), (0, 4.0))
    ax.text(0.15, 2.6, "relu", fontsize=9, va="center")
    arrow((0, 3.2), (0, 2.0))
    ax.text(-0.6, 2.6, r"$\mathcal{F}(x)$", fontsize=12, va="center", ha="right")
    arrow((0, 1.2), (0, 0.45))
    ax.add_patch(plt.Circle((0, 0.25), 0.2, facecolor="white", edgecolor="black"))
    ax.text(0, 0.25, "+", ha="center", va="center", fontsize=14)
    arrow((0, 0.05), (0, -0.7))
    ax.text(0.15, -0.4, "relu", fontsize=9, va="center")
    ax.text(0, -1.05, r"$y = \mathrm{relu}(\mathcal{F}(x) + x)$", ha="center", fontsize=12)
    ax.add_patch(FancyArrowPatch((0.1, 4.7), (0.22, 0.3), connectionstyle="arc3,rad=-0.6", arrowstyle="-|>",
                                 mutation_scale=12, color="tab:red", lw=1.5))
    ax.text(2.25, 2.6, "identity\nshortcut\n$x$", color="tab:red", fontsize=10, ha="center", va="center")
    ax.set_xlim(-2.2, 3.0)
    ax.set_ylim(-1.4, 5.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("A residual block (He et al. 2016)", fontsize=11)
    fig.tight_layout()
    return fig
