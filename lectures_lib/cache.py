"""The checkpoint cache: trained models stored by a key of their config.

A checkpoint lives in ``<data_dir>/checkpoints/<name>-<key>.pt`` where ``key`` is a hash of the
config (model, recipe, data source, seed). It is written atomically (temporary file, then
``os.replace``), carries a SHA-256 of its payload, and is loaded with ``weights_only=True``.
A corrupt, truncated or mismatched file (or a folder in its place) is detected, reported with a
warning and rebuilt. Two processes asking for the same key at once do not both train: the first
takes a lock file (``<checkpoint>.lock``, POSIX ``flock``), trains and writes; the second waits, then loads.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .config import data_dir

__all__ = ["config_key", "checkpoint_path", "save_checkpoint", "load_checkpoint", "cached_model", "file_lock"]

FORMAT_VERSION = 1
_KEYS = {"format", "config", "meta", "state_dict", "sha256"}


def config_key(config: dict) -> str:
    """A short, stable hash of a config (key order does not matter).

    Parameters
    ----------
    config : dict
        JSON-serialisable (other values are hashed by their ``str``).

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256 of the config's sorted JSON.
    """
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checkpoint_path(name: str, config: dict) -> Path:
    """Where the checkpoint of ``name`` trained with ``config`` is (or will be) stored.

    Parameters
    ----------
    name : str
        The model's name, e.g. ``"mnist-lenet5-mnist"``.
    config : dict
        The training config (:func:`config_key`).

    Returns
    -------
    pathlib.Path
        ``<data_dir>/checkpoints/<name>-<key>.pt``.
    """
    return data_dir() / "checkpoints" / f"{name}-{config_key(config)}.pt"


def _digest(state: dict, meta: dict) -> str:
    buf = io.BytesIO()
    torch.save({"state_dict": state, "meta": meta}, buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()


def save_checkpoint(path: Path, model: nn.Module, config: dict, meta: dict) -> None:
    """Write ``model``'s weights, ``config`` and ``meta`` to ``path`` atomically (a temporary file, then ``os.replace``).

    Parameters
    ----------
    path : path-like
        The checkpoint file (its folder is created).
    model : nn.Module
        Its ``state_dict`` is stored on the CPU.
    config : dict
        The training config, stored as sorted JSON for :func:`load_checkpoint` to compare.
    meta : dict
        JSON-serialisable extras (e.g. the training history), stored with a SHA-256 of weights and meta.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT_VERSION, "config": json.dumps(config, sort_keys=True, default=str),
               "meta": json.dumps(meta), "state_dict": state, "sha256": _digest(state, meta)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, model: nn.Module, config: dict) -> dict:
    """Load the weights stored at ``path`` into ``model`` (strictly, in place) and return their meta.

    The file is read with ``weights_only=True``.

    Parameters
    ----------
    path : path-like
    model : nn.Module
        Of the architecture the checkpoint was saved from.
    config : dict
        Must equal the stored config.

    Returns
    -------
    dict
        The ``meta`` given to :func:`save_checkpoint`.

    Raises
    ------
    ValueError
        When ``path`` is not a file, is unreadable or of an unknown format, fails its SHA-256 check, was saved with
        another config, or its tensors do not fit ``model``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} is not a file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, garbage, pickle refused by weights_only ...
        raise ValueError(f"checkpoint {path} is unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path} has an unknown format")
    missing = _KEYS - set(payload)
    if missing:
        raise ValueError(f"checkpoint {path} lacks {sorted(missing)}")
    if payload["config"] != json.dumps(config, sort_keys=True, default=str):
        raise ValueError(f"checkpoint {path} was trained with another config")
    try:
        meta = json.loads(payload["meta"])
        ok = isinstance(payload["state_dict"], dict) and _digest(payload["state_dict"], meta) == payload["sha256"]
    except (TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {path} has a malformed entry ({err})") from err
    if not ok:
        raise ValueError(f"checkpoint {path} failed its SHA-256 check")
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit the model: {err}") from err
    return meta


@contextlib.contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock on ``path`` for the block: a second process asking for it waits until the first releases it.

    Uses POSIX ``flock``; where that does not exist (Windows) the block runs unlocked.

    Parameters
    ----------
    path : path-like
        The lock file, created (with its folder) if missing.

    Yields
    ------
    None
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _try_load(path: Path, build: Callable[[], nn.Module], config: dict):
    """``(model, meta)`` from a valid checkpoint, else None (with a warning, the bad entry removed)."""
    if not path.exists():
        return None
    model = build()
    try:
        return model, load_checkpoint(path, model, config)
    except ValueError as err:
        warnings.warn(f"{err}; retraining and rewriting it.", RuntimeWarning, stacklevel=3)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        return None


def cached_model(name: str, config: dict, build: Callable[[], nn.Module],
                 train: Callable[[nn.Module], dict]) -> tuple[nn.Module, dict]:
    """A model from the checkpoint cache, or trained now and cached.

    The cached model is a function of ``config`` alone when ``build`` and ``train`` draw all their randomness from
    ``config`` (see :func:`~lectures_lib.config.seeded`). Corrupt or mismatched files, and a folder in the checkpoint's
    place, are rebuilt with a ``RuntimeWarning``. Concurrent callers of the same key are serialised by a lock file
    (:func:`file_lock`): one trains, the others wait and load its checkpoint.

    Parameters
    ----------
    name : str
        The checkpoint's name (:func:`checkpoint_path`).
    config : dict
        JSON-serialisable: the cache key.
    build : callable
        ``build() -> nn.Module``: the untrained model.
    train : callable
        ``train(model) -> dict``: trains ``model`` in place and returns the meta to store (e.g. the history).

    Returns
    -------
    model : nn.Module
        Loaded from the checkpoint, or the model just trained.
    meta : dict
        What ``train`` returned.
    """
    path = checkpoint_path(name, config)
    found = _try_load(path, build, config)
    if found is not None:
        return found
    with file_lock(path.with_name(path.name + ".lock")):
        found = _try_load(path, build, config)  # another process may have trained it while we waited
        if found is not None:
            return found
        model = build()
        meta = train(model)
        save_checkpoint(path, model, config, meta)
    return model, meta
