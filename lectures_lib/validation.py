"""Argument checks shared by every module: one clear error naming the argument.

Bad input must never surface as a stack trace from deep inside torch, nor as a silently
wrong picture. Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose
message names the argument and says what was expected.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch


def check_images(x, name: str = "x", channels: int | None = None, ndim: int = 4) -> torch.Tensor:
    """Check that ``x`` is a float image tensor in [0, 1] of shape ``B x C x H x W`` (``ndim=4``)
    or ``C x H x W`` (``ndim=3``), with ``C == channels`` when given. Returns ``x``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images, got {type(x).__name__}")
    layout = "B x C x H x W" if ndim == 4 else "C x H x W"
    if x.dim() != ndim:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor with values in [0, 1], got dtype {x.dtype}")
    c = x.shape[-3]
    if channels is not None and c != channels:
        raise ValueError(f"{name} must have {channels} channel(s), got shape {tuple(x.shape)}")
    if x.numel() and (torch.isnan(x).any() or x.min() < 0 or x.max() > 1):
        lo, hi = float(x.nan_to_num(0).min()), float(x.nan_to_num(0).max())
        raise ValueError(
            f"{name} must hold values in [0, 1] (images are unnormalised; the model normalises), "
            f"got range [{lo:.3g}, {hi:.3g}]" + (" with NaNs" if torch.isnan(x).any() else "")
        )
    return x


def check_labels(y, n: int, num_classes: int | None = None, name: str = "y") -> torch.Tensor:
    """Check that ``y`` is an integer tensor of ``n`` labels in ``[0, num_classes)``. Returns it as int64."""
    if isinstance(y, numbers.Integral):
        y = torch.full((n,), int(y), dtype=torch.long)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of class indices, got {type(y).__name__}")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the batch, got shape {tuple(y.shape)}")
    if num_classes is not None and n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must hold class indices in [0, {num_classes}), got range [{int(y.min())}, {int(y.max())}]")
    return y.long()


def check_range(value, name: str, low: float | None = None, high: float | None = None,
                integer: bool = False, low_inclusive: bool = True) -> float | int:
    """Check a scalar argument: a number (an int if ``integer``) with ``low <= value <= high``."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")
    return value


def check_choice(value, name: str, choices: Sequence) -> None:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)!r}, got {value!r}")


def get_module(model: torch.nn.Module, layer: str) -> torch.nn.Module:
    """Return the submodule called ``layer`` (a ``named_modules`` name), or raise a clear error."""
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or layer not in modules:
        sample = [n for n in modules if n][:12]
        raise ValueError(f"layer {layer!r} is not a module of this model; some names: {sample}")
    return modules[layer]
