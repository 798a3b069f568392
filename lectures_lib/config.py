"""Course-wide settings: compute device, run mode, seeding and the data folder.

Every lesson starts with::

    from lectures_lib import config
    config.seed_everything(0)
    print(config.device(), config.mode())

Run modes (same code paths, only sizes change): ``"fast"`` for CI and nbval (under a minute per
notebook), ``"lesson"``, the default, what a student's "Run all" gives (under 5 minutes per notebook
on 2 CPU cores), and ``"paper"``, the papers' sample sizes. A notebook picks its sizes with
``config.pick(fast=..., lesson=..., paper=...)``.

Environment variables
---------------------
``LECTURES_MODE``    ``fast``, ``lesson`` (default) or ``paper``.
``LECTURES_FAST``    ``1`` is an alias of ``LECTURES_MODE=fast``.
``LECTURES_DEVICE``  force a device (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
``LECTURES_DATA``    where datasets and checkpoints are cached (default ``<repo>/data``).
"""
from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import numpy as np
import torch

__all__ = ["REPO_ROOT", "MODES", "device", "mode", "fast_mode", "pick", "seed_everything", "seeded", "data_dir"]

REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}


def device() -> torch.device:
    """The device lessons compute on: ``$LECTURES_DEVICE``, else CUDA, then Apple's MPS, then the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        When ``LECTURES_DEVICE`` names a device that does not exist or is not available on this machine
        (the message names the variable).
    """
    name = os.environ.get("LECTURES_DEVICE", "").strip()
    if name:
        try:
            dev = torch.device(name)
        except RuntimeError as err:
            raise ValueError(f"LECTURES_DEVICE={name!r} is not a device name (try 'cpu', 'cuda' or 'mps')") from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"LECTURES_DEVICE={name!r} but CUDA is not available on this machine")
        if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"LECTURES_DEVICE={name!r} but MPS is not available on this machine")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


MODES = ("fast", "lesson", "paper")


def mode() -> str:
    """The run mode: ``$LECTURES_MODE``, else ``"fast"`` when ``LECTURES_FAST`` is 1/true/yes/on, else ``"lesson"``.

    Returns
    -------
    str
        One of ``MODES``: ``"fast"`` (CI), ``"lesson"`` (a student's "Run all") or ``"paper"`` (the papers' sizes).

    Raises
    ------
    ValueError
        When ``LECTURES_MODE`` holds another name.
    """
    name = os.environ.get("LECTURES_MODE", "").strip().lower()
    if name:
        if name not in MODES:
            raise ValueError(f"LECTURES_MODE must be one of {list(MODES)}, got {name!r}")
        return name
    return "fast" if os.environ.get("LECTURES_FAST", "").strip().lower() in _TRUE else "lesson"


def fast_mode() -> bool:
    """Whether the course runs in the ``fast`` mode (CI): fewer epochs and samples, same code.

    Returns
    -------
    bool
        ``mode() == "fast"``.
    """
    return mode() == "fast"


_MISSING = object()


def pick(*, fast, lesson, paper=_MISSING):
    """The value for the current run mode, e.g. ``n_images = pick(fast=10, lesson=100, paper=1000)``.

    Parameters
    ----------
    fast, lesson : object
        The values for the ``fast`` and ``lesson`` modes (keyword-only).
    paper : object, optional
        The value for the ``paper`` mode; defaults to ``lesson`` (for sizes the papers do not fix).

    Returns
    -------
    object
        ``fast``, ``lesson`` or ``paper``, as :func:`mode` says.
    """
    return {"fast": fast, "lesson": lesson, "paper": lesson if paper is _MISSING else paper}[mode()]


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask torch for deterministic kernels (warning only).

    Parameters
    ----------
    seed : int, default 0
        Non-negative (NumPy's legacy global RNG gets ``seed % 2**32``).

    Raises
    ------
    ValueError
        When ``seed`` is not a non-negative int.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds the legacy global RNG that student code may use
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.benchmark = False


@contextlib.contextmanager
def seeded(seed: int):
    """Seed torch's global RNG with ``seed`` inside the block and restore the caller's RNG state afterwards.

    What the block draws (a model's initial weights, dropout masks) is a function of ``seed`` alone, whatever
    the process drew before. The RNGs of every CUDA device are forked too.

    Parameters
    ----------
    seed : int
        Non-negative.

    Yields
    ------
    None

    Raises
    ------
    ValueError
        When ``seed`` is not a non-negative int.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def data_dir() -> Path:
    """The folder for datasets and cached checkpoints: ``$LECTURES_DATA`` (``~`` expanded) or ``<repo>/data``.

    Returns
    -------
    pathlib.Path
        Created if missing.
    """
    path = Path(os.environ.get("LECTURES_DATA", "") or REPO_ROOT / "data").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
