"""Course-wide settings: compute device, fast mode, seeding and the data folder.

Every lesson starts with::

    from lectures_lib import config
    config.seed_everything(0)
    print(config.device(), config.fast_mode())

Environment variables
---------------------
``LECTURES_DEVICE``  force a device (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
``LECTURES_FAST``    ``1`` shrinks epochs and sample counts (CI and quick previews).
``LECTURES_DATA``    where datasets and checkpoints are cached (default ``<repo>/data``).
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}


def device() -> torch.device:
    """The device lessons compute on: ``$LECTURES_DEVICE``, else CUDA, then MPS, then CPU.

    Raises ``ValueError`` naming ``LECTURES_DEVICE`` when the variable names a device
    that does not exist or is not available on this machine.
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


def fast_mode() -> bool:
    """True when ``LECTURES_FAST`` is set to 1/true/yes/on: fewer epochs and samples, same code."""
    return os.environ.get("LECTURES_FAST", "").strip().lower() in _TRUE


def pick(full, fast):
    """Return ``fast`` in fast mode, else ``full`` (e.g. ``epochs = pick(full=5, fast=1)``)."""
    return fast if fast_mode() else full


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) and ask torch for deterministic kernels."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.benchmark = False


def data_dir() -> Path:
    """Folder for datasets and cached checkpoints: ``$LECTURES_DATA`` or ``<repo>/data``. Created if missing."""
    path = Path(os.environ.get("LECTURES_DATA", "") or REPO_ROOT / "data").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
