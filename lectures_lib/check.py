"""Checks for the exercises: compare a student's function or value with the library's reference and say
*what* is wrong, never just ``AssertionError``.

- :func:`function`: call the student's function and the reference on fresh random inputs and compare.
- :func:`value`: compare one computed value (a number, a tensor, a tuple) with the expected one.
- :func:`claim`: predict, then measure: the student's prediction, the paper's number and ours side by side.

A failed check raises :class:`CheckFailed` (an ``AssertionError``, so nbval and pytest see a failure)
whose message diagnoses the difference: not implemented yet, an exception, wrong type, wrong shape, wrong
dtype, values outside [0, 1] (a missing clamp), sign flipped, off by a constant factor, transposed (a
kernel or matrix the wrong way round), off by a constant (an off-by-one), the input modified in place, or
the first differing element with both values.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["CheckFailed", "function", "value", "claim", "diagnose"]


class CheckFailed(AssertionError):
    """An exercise's answer differs from the reference; the message says how."""


def _as_tensor(v) -> torch.Tensor | None:
    if isinstance(v, torch.Tensor):
        return v.detach()
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v)
    if isinstance(v, numbers.Number) and not isinstance(v, bool):
        return torch.tensor(float(v) if isinstance(v, float) else v)
    return None


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def diagnose(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-6, name: str = "your answer") -> str | None:
    """How ``got`` differs from ``expected``, in one sentence; None when it matches.

    Tensors, arrays and numbers are compared with ``torch.allclose(rtol, atol)`` (NaNs equal), tuples and lists element
    by element, anything else with ``==``. The sentence names the likeliest mistake (wrong type, shape or dtype, NaNs,
    leaving [0, 1], sign flipped, a constant factor or offset, transposed or flipped), else the first differing element.

    Parameters
    ----------
    got : object
        The student's answer.
    expected : object
        The reference answer.
    rtol : float, default 1e-4
        Relative tolerance.
    atol : float, default 1e-6
        Absolute tolerance.
    name : str, default "your answer"
        What to call ``got`` in the sentence.

    Returns
    -------
    str or None
    """
    if isinstance(expected, (tuple, list)) and not isinstance(got, torch.Tensor):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{name} should be a sequence of {len(expected)} items, got {_describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = diagnose(g, e, rtol, atol, f"item {i} of {name}")
            if problem:
                return problem
        return None
    e, g = _as_tensor(expected), _as_tensor(got)
    if e is None:
        return None if got == expected else f"{name} is {got!r}, expected {expected!r}"
    if g is None:
        return f"{name} should be {'a number' if e.dim() == 0 else f'a tensor of shape {tuple(e.shape)}'}, got {_describe(got)}"
    if isinstance(expected, torch.Tensor) and isinstance(got, torch.Tensor):
        if tuple(g.shape) != tuple(e.shape):
            if g.dim() == e.dim() == 2 and tuple(g.shape) == tuple(e.shape[::-1]):
                return f"{name} has shape {tuple(g.shape)}, expected {tuple(e.shape)}: transposed?"
            return f"{name} has the wrong shape: {tuple(g.shape)}, expected {tuple(e.shape)}"
        if g.dtype != e.dtype and not (g.is_floating_point() and e.is_floating_point()):
            return f"{name} has dtype {g.dtype}, expected {e.dtype}"
        if g.is_floating_point() and e.is_floating_point() and g.dtype != e.dtype:
            return f"{name} has dtype {g.dtype}, expected {e.dtype} (keep the input's dtype)"
    elif g.numel() != e.numel():
        return f"{name} has {g.numel()} values, expected {e.numel()}"
    g64, e64 = g.reshape(e.shape).double() if g.numel() == e.numel() else g.double(), e.double()
    if torch.allclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True):
        return None
    return _how_it_differs(g64, e64, rtol, atol, name)


def _describe(v) -> str:
    if isinstance(v, torch.Tensor):
        return f"a tensor of shape {tuple(v.shape)}"
    return f"{type(v).__name__} {v!r}" if isinstance(v, (numbers.Number, str, type(None))) else type(v).__name__


def _how_it_differs(g: torch.Tensor, e: torch.Tensor, rtol: float, atol: float, name: str) -> str:
    close = lambda a, b: torch.allclose(a, b, rtol=rtol, atol=atol)  # noqa: E731
    if not torch.isfinite(g).all() and torch.isfinite(e).all():
        return f"{name} contains NaN or infinite values"
    if e.numel() == 1:
        gv, ev = float(g.flatten()[0]), float(e.flatten()[0])
        d = gv - ev
        hint = f": off by one ({d:+g})" if abs(d) == 1 else ""
        return f"{name} is {_fmt(gv)}, expected {_fmt(ev)}{hint}"
    if e.numel() > 1 and e.min() >= 0 and e.max() <= 1 and (g.min() < -atol or g.max() > 1 + atol):
        return (f"{name} leaves [0, 1] (range [{_fmt(float(g.min()))}, {_fmt(float(g.max()))}]): "
                "images must stay valid, clamp them")
    if e.abs().max() > atol and close(g, -e):
        return f"{name} has the sign flipped: it equals minus the expected value"
    nz = e.abs() > atol
    if nz.any():
        ratio = g[nz] / e[nz]
        c = float(ratio.median())
        if abs(c - 1) > rtol and math.isfinite(c) and abs(c) > 1e-12 and close(g, c * e):
            return f"{name} is off by a constant factor: {_fmt(c)} times the expected value"
    diff = g - e
    shift = float(diff.flatten()[0])
    if abs(shift) > atol and close(diff, torch.full_like(diff, shift)):
        return f"{name} is off by a constant: {_fmt(shift)} {'more' if shift > 0 else 'less'} than expected everywhere"
    if e.dim() >= 2 and e.shape[-1] == e.shape[-2] and close(g, e.transpose(-1, -2)):
        return f"{name} is transposed: rows and columns (or a kernel's height and width) are swapped"
    if e.dim() >= 2 and close(g, torch.flip(e, dims=(-2, -1))):
        return f"{name} is flipped in both spatial directions: a kernel used without (or with an extra) flip?"
    bad = (~torch.isclose(g, e, rtol=rtol, atol=atol)).nonzero()
    idx = tuple(int(i) for i in bad[0])
    where = f"at index {idx}" if e.dim() else ""
    return (f"{name} differs {where}: got {_fmt(float(g[idx]))}, expected {_fmt(float(e[idx]))} "
            f"({len(bad)} of {e.numel()} values differ)").replace("  ", " ")


def _wrong_way(step: torch.Tensor, expected_step: torch.Tensor, atol: float) -> str | None:
    """For a function that changes its input (an attack step): a message when the change goes the other way
    in at least 90% of the values where both move, else None."""
    moved = (step.abs() > atol) & (expected_step.abs() > atol)
    if not moved.any():
        return None
    opposite = (torch.sign(step[moved]) != torch.sign(expected_step[moved])).double().mean().item()
    if opposite >= 0.9:
        return (f"the change your function makes to its input goes the wrong way in {opposite:.0%} of the values "
                "that move: a sign error (adding where the method subtracts, or the reverse)?")
    return None


def function(student: Callable, reference: Callable, make_inputs: Callable[[torch.Generator], Sequence],
             *, trials: int = 3, seed: int = 0, rtol: float = 1e-4, atol: float = 1e-6,
             name: str | None = None, quiet: bool = False) -> None:
    """Check ``student(*inputs)`` against ``reference(*inputs)`` on ``trials`` fresh random inputs.

    Parameters
    ----------
    student, reference : callable
        The student's function and the library's reference, called with the same arguments.
    make_inputs : callable
        ``make_inputs(generator) -> tuple of arguments``, drawing from the given ``torch.Generator`` (seeded by
        ``seed`` and the trial number), so every trial sees new inputs and a run is repeatable.
    trials : int, default 3
        How many input draws.
    seed : int, default 0
        Their seed.
    rtol, atol : float, default 1e-4 and 1e-6
        The tolerances of ``torch.allclose``.
    name : str, optional
        What to call the student's function in messages (default: its ``__name__``).
    quiet : bool, default False
        Do not print the line of success.

    Raises
    ------
    CheckFailed
        With a diagnosis: not implemented yet, an exception, an input modified in place, or how the result differs
        (:func:`diagnose`).
    """
    label = name or getattr(student, "__name__", "your function")
    for trial in range(trials):
        gen = torch.Generator().manual_seed(seed * 1000 + trial)
        args = tuple(make_inputs(gen))
        copies = [a.clone() if isinstance(a, torch.Tensor) else None for a in args]
        expected = reference(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
        try:
            got = student(*args)
        except NotImplementedError as err:
            raise CheckFailed(f"{label} is not implemented yet: replace `raise NotImplementedError()` "
                              f"with your code") from err
        except Exception as err:  # noqa: BLE001 - the student's code may raise anything
            raise CheckFailed(f"{label} raised {type(err).__name__}: {err}") from err
        for i, (a, c) in enumerate(zip(args, copies)):
            if c is not None and not torch.equal(a, c):
                raise CheckFailed(f"{label} modified its input (argument {i + 1}) in place: work on a copy")
        shapes = ", ".join(str(tuple(a.shape)) if isinstance(a, torch.Tensor)
                           else type(a).__name__ if isinstance(a, torch.nn.Module) else repr(a) for a in args)
        problem = diagnose(got, expected, rtol, atol, f"{label}'s result")
        if problem and args and isinstance(args[0], torch.Tensor) and isinstance(got, torch.Tensor) \
                and isinstance(expected, torch.Tensor) and got.shape == expected.shape == args[0].shape:
            problem = _wrong_way(got - copies[0], expected - copies[0], atol) or problem
        if problem:
            raise CheckFailed(f"{problem} (trial {trial + 1} of {trials}, inputs {shapes})")
    if not quiet:
        print(f"✓ {label} agrees with the reference on {trials} random inputs")


def value(name: str, got: Any, expected: Any, *, rtol: float = 1e-4, atol: float = 1e-6, quiet: bool = False) -> None:
    """Check one computed value (a number, tensor or tuple) against the expected one (see :func:`diagnose`).

    Parameters
    ----------
    name : str
        What to call the value in messages.
    got : object or callable
        The value, or a function of no arguments that computes it (the form of an exercise that asks for a number):
        it is called here, so a stub that raises ``NotImplementedError`` gets a clear message.
    expected : object
        The reference value.
    rtol, atol : float, default 1e-4 and 1e-6
        The tolerances of ``torch.allclose``.
    quiet : bool, default False
        Do not print the line of success.

    Raises
    ------
    CheckFailed
        With a diagnosis of the difference, or of the exception that ``got`` raised.
    """
    if callable(got):
        try:
            got = got()
        except NotImplementedError as err:
            raise CheckFailed(f"{name} is not implemented yet: replace `raise NotImplementedError()` "
                              "with your code") from err
        except Exception as err:  # noqa: BLE001 - the student's code may raise anything
            raise CheckFailed(f"{name}: your code raised {type(err).__name__}: {err}") from err
    problem = diagnose(got, expected, rtol, atol, name)
    if problem:
        raise CheckFailed(problem)
    if not quiet:
        print(f"✓ {name} = {got if not isinstance(got, torch.Tensor) else tuple(got.shape)} is right")


def claim(name: str, predicted: Any, measured: Any, paper: Any = None, unit: str = "") -> dict:
    """Predict, then measure: print the student's prediction, the paper's number and our measurement side by side.

    Nothing is asserted: the point is the comparison.

    Parameters
    ----------
    name : str
        The claim, printed as the table's title.
    predicted : object
        The student's prediction; None or ``...`` means none was written (the table says so).
    measured : object
        What the notebook measured.
    paper : object, optional
        The paper's number (shown as ``-`` when None).
    unit : str, default ""
        Appended to each value shown (floats are shown with 4 significant digits).

    Returns
    -------
    dict
        ``{"name", "predicted", "paper", "measured"}`` (``predicted`` is None when it was ``...``).
    """
    def show(v) -> str:
        if v is None or v is Ellipsis:
            return "(none written)"
        if isinstance(v, float):
            return f"{v:.4g}{unit}"
        return f"{v}{unit}"

    rows = [("your prediction", show(predicted)), ("the paper", show(paper) if paper is not None else "-"),
            ("measured here", show(measured))]
    width = max(len(r[0]) for r in rows)
    print(name)
    for label, text in rows:
        print(f"  {label:<{width}}  {text}")
    return {"name": name, "predicted": None if predicted is Ellipsis else predicted, "paper": paper, "measured": measured}
