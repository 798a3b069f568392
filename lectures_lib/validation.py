"""Argument checks shared by every module: one clear error naming the argument.

Bad input must never surface as a stack trace from deep inside torch, nor as a silently
wrong picture. Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose
message names the argument and says what was expected.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

__all__ = [
    "check_images", "check_labels", "check_classes", "check_range", "check_eps", "check_choice",
    "check_model", "check_maps", "check_features", "check_topk", "check_flag", "check_logits", "get_module",
]


def check_images(x, name: str = "x", channels: int | None = None, ndim: int = 4,
                 min_batch: int = 0) -> torch.Tensor:
    """Check that ``x`` is a float image tensor in [0, 1] without NaNs.

    Parameters
    ----------
    x : Tensor
        ``B x C x H x W`` (``ndim=4``) or ``C x H x W`` (``ndim=3``), any float dtype, values in [0, 1].
    name : str, default "x"
        The argument's name in error messages.
    channels : int, optional
        The required number of channels ``C`` (any when None).
    ndim : {4, 3}, default 4
        4 for a batch of images, 3 for one image.
    min_batch : int, default 0
        The least number of images ``B`` (with ``ndim=4``).

    Returns
    -------
    Tensor
        ``x`` itself.

    Raises
    ------
    TypeError
        When ``x`` is not a tensor.
    ValueError
        For another number of dimensions, a non-float dtype, too few images, another channel count, NaNs or values
        outside [0, 1].
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images, got {type(x).__name__}")
    layout = "B x C x H x W" if ndim == 4 else "C x H x W"
    if x.dim() != ndim:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor with values in [0, 1], got dtype {x.dtype}"
                         + (" (divide uint8 images by 255)" if x.dtype == torch.uint8 else ""))
    if ndim == 4 and x.shape[0] < min_batch:
        raise ValueError(f"{name} must hold at least {min_batch} image(s), got an empty batch of shape {tuple(x.shape)}")
    c = x.shape[-3]
    if channels is not None and c != channels:
        raise ValueError(f"{name} must have {channels} channel(s) for this model, got shape {tuple(x.shape)}")
    if x.numel() and (torch.isnan(x).any() or x.min() < 0 or x.max() > 1):
        lo, hi = float(x.nan_to_num(0).min()), float(x.nan_to_num(0).max())
        raise ValueError(
            f"{name} must hold values in [0, 1] (images are unnormalised; the model normalises), "
            f"got range [{lo:.3g}, {hi:.3g}]" + (" with NaNs" if torch.isnan(x).any() else "")
        )
    return x


def check_labels(y, n: int, num_classes: int | None = None, name: str = "y") -> torch.Tensor:
    """Check the class labels of a batch of ``n`` images and return them as int64.

    Parameters
    ----------
    y : Tensor, int or sequence of int
        ``n`` integer class indices (a 0-d tensor or one int stands for ``n`` copies of itself).
    n : int
        The batch size.
    num_classes : int, optional
        When given, indices must lie in ``[0, num_classes)``; otherwise only be ``>= 0``.
    name : str, default "y"
        The argument's name in error messages.

    Returns
    -------
    Tensor
        ``n`` int64 class indices, on the device of ``y`` (the CPU for an int or a list).

    Raises
    ------
    TypeError
        When ``y`` is neither a tensor, an int nor a list or tuple of ints.
    ValueError
        For a float, complex or bool dtype, a shape other than ``(n,)``, or an index out of range.
    """
    if isinstance(y, numbers.Integral) and not isinstance(y, bool):
        y = torch.full((n,), int(y), dtype=torch.long)
    if isinstance(y, (list, tuple)) and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in y):
        y = torch.tensor(list(y), dtype=torch.long)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of class indices (or one int), got {type(y).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.dim() == 0:
        y = y.expand(n)
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the batch, got shape {tuple(y.shape)}")
    if n and y.min() < 0:
        raise ValueError(f"{name} must hold class indices >= 0, got {int(y.min())}")
    if num_classes is not None:
        check_classes(y, num_classes, name)
    return y.long()


def check_classes(y: torch.Tensor, num_classes: int, name: str = "target") -> torch.Tensor:
    """Check that the class indices ``y`` lie in ``[0, num_classes)``.

    Parameters
    ----------
    y : Tensor
        Integer class indices, any shape.
    num_classes : int
        The number of classes ``K``.
    name : str, default "target"
        The argument's name in error messages.

    Returns
    -------
    Tensor
        ``y`` itself.

    Raises
    ------
    ValueError
        When an index is out of range.
    """
    if y.numel() and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must hold class indices in [0, {num_classes}), "
                         f"got range [{int(y.min())}, {int(y.max())}]")
    return y


def check_range(value, name: str, low: float | None = None, high: float | None = None,
                integer: bool = False, low_inclusive: bool = True, high_inclusive: bool = True) -> float | int:
    """Check a scalar argument: a finite number (an int if ``integer``) with ``low <= value <= high``.

    Parameters
    ----------
    value : int, float or one-element Tensor
        The value (a one-element real tensor is read with ``.item()``); bools are refused.
    name : str
        The argument's name in error messages.
    low, high : float, optional
        The bounds (None: unbounded).
    integer : bool, default False
        Require an int.
    low_inclusive, high_inclusive : bool, default True
        False makes that bound strict.

    Returns
    -------
    int or float
        ``value`` (a Python number when given a tensor).

    Raises
    ------
    TypeError
        When ``value`` is not a number (not an int when ``integer``).
    ValueError
        When it is NaN, infinite or out of bounds.
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}")
    if not integer and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {value!r}")
    if high is not None and (value > high or (not high_inclusive and value == high)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{name} must be {op} {high}, got {value!r}")
    return value


def check_eps(eps, name: str = "eps") -> float:
    """Check an L-infinity budget on the [0, 1] pixel scale (``8 / 255`` is "8").

    Parameters
    ----------
    eps : float
        A finite number in [0, 1].
    name : str, default "eps"
        The argument's name in error messages.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        As :func:`check_range`.
    """
    return float(check_range(eps, name, 0.0, 1.0))


def check_choice(value, name: str, choices: Sequence) -> None:
    """Check that ``value`` is one of ``choices``.

    Parameters
    ----------
    value : object
        The argument (an unhashable value asked of a set is not found).
    name : str
        The argument's name in error messages.
    choices : collection
        The allowed values.

    Raises
    ------
    ValueError
        When ``value`` is not among them (the message lists them).
    """
    try:
        ok = value in choices
    except TypeError:  # an unhashable value asked of a set
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {sorted(choices, key=str)!r}, got {value!r}")


def check_model(model, name: str = "model") -> None:
    """Check that ``model`` is callable (an ``nn.Module`` or a function of images returning logits).

    Parameters
    ----------
    model : object
    name : str, default "model"
        The argument's name in error messages.

    Raises
    ------
    TypeError
        When it is not callable.
    """
    if not callable(model):
        raise TypeError(f"{name} must be a callable mapping images to logits (e.g. an nn.Module), "
                        f"got {type(model).__name__}")


def check_maps(maps, x: torch.Tensor, name: str = "saliency") -> torch.Tensor:
    """Check that ``maps`` is a finite float tensor ``B x H x W`` matching the images ``x``.

    Parameters
    ----------
    maps : Tensor
        ``B x H x W`` floats.
    x : Tensor
        ``B x C x H x W`` images (only the shape is used).
    name : str, default "saliency"
        The argument's name in error messages.

    Returns
    -------
    Tensor
        ``maps`` itself.

    Raises
    ------
    ValueError
        For another type or shape, a non-float dtype, or NaN or infinite values.
    """
    b, _, h, w = x.shape
    if not isinstance(maps, torch.Tensor) or tuple(maps.shape) != (b, h, w):
        shape = tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__
        raise ValueError(f"{name} must be a tensor of shape B x H x W = {(b, h, w)} matching x, got {shape}")
    if not maps.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got dtype {maps.dtype}")
    if not torch.isfinite(maps).all():
        raise ValueError(f"{name} must be finite, got NaN or infinite values")
    return maps


def check_features(features, name: str = "features") -> torch.Tensor:
    """Check that ``features`` is a finite float matrix ``N x D`` with ``N, D >= 1``.

    Parameters
    ----------
    features : Tensor
        ``N x D`` floats.
    name : str, default "features"
        The argument's name in error messages.

    Returns
    -------
    Tensor
        ``features`` itself.

    Raises
    ------
    TypeError
        When it is not a tensor.
    ValueError
        For another shape, an empty matrix, a non-float dtype, or NaN or infinite values (the message gives rows).
    """
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"{name} must be a tensor N x D, got {type(features).__name__}")
    if features.dim() != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty N x D tensor, got shape {tuple(features.shape)}")
    if not features.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got dtype {features.dtype}")
    if not torch.isfinite(features).all():
        rows = (~torch.isfinite(features)).any(dim=1).nonzero().flatten()[:5].tolist()
        raise ValueError(f"{name} must be finite, got NaN or infinite values in rows {rows}")
    return features


def check_topk(topk, num_classes: int | None = None, name: str = "topk") -> list[int]:
    """Check the ``k`` values of top-k accuracy.

    Parameters
    ----------
    topk : int or sequence of int
        Each ``k >= 1`` (and ``<= num_classes`` when given); one int stands for ``(topk,)``.
    num_classes : int, optional
        The number of classes ``K``.
    name : str, default "topk"
        The argument's name in error messages.

    Returns
    -------
    list of int

    Raises
    ------
    TypeError
        When a ``k`` is not an int.
    ValueError
        For an empty or non-sequence ``topk``, or a ``k`` out of range.
    """
    if isinstance(topk, numbers.Integral) and not isinstance(topk, bool):
        topk = (topk,)
    if not isinstance(topk, (list, tuple)) or not topk:
        raise ValueError(f"{name} must be a non-empty sequence of ints >= 1, got {topk!r}")
    return [check_range(k, name, 1, num_classes, integer=True) for k in topk]


def check_flag(value, name: str) -> bool:
    """Check that ``value`` is True or False.

    Parameters
    ----------
    value : bool
    name : str
        The argument's name in error messages.

    Returns
    -------
    bool
        ``value`` itself.

    Raises
    ------
    TypeError
        For anything but a bool (``0`` and ``1`` included).
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_logits(out, name: str = "model") -> torch.Tensor:
    """Check that a model's output is a ``B x K`` tensor of logits.

    Parameters
    ----------
    out : object
        What the model returned.
    name : str, default "model"
        What to call the model in error messages.

    Returns
    -------
    Tensor
        ``out`` itself.

    Raises
    ------
    ValueError
        When ``out`` is not a 2-d tensor.
    """
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ValueError(f"{name} must return B x K logits, got {getattr(out, 'shape', type(out).__name__)}")
    return out


def get_module(model: torch.nn.Module, layer: str) -> torch.nn.Module:
    """The submodule of ``model`` called ``layer``.

    Parameters
    ----------
    model : nn.Module
    layer : str
        A ``model.named_modules()`` name, e.g. ``"features.8"``.

    Returns
    -------
    nn.Module

    Raises
    ------
    TypeError
        When ``model`` is not an ``nn.Module``.
    ValueError
        When ``layer`` is not one of its module names (the message lists some).
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module to name its layers, got {type(model).__name__}")
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or layer not in modules:
        sample = [n for n in modules if n][:12]
        raise ValueError(f"layer {layer!r} is not a module of this model; some names: {sample}")
    return modules[layer]
