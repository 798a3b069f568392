"""The checkpoint cache: trained models stored by a key of their config.

A checkpoint lives in ``<data_dir>/checkpoints/<name>-<key>.pt`` where ``key`` is a hash of the
config (model, recipe, data source, seed). It is written atomically (temporary file, then
``os.replace``), carries a SHA-256 of its payload, and is loaded with ``weights_only=True``.
A corrupt, truncated or mismatched file is detected, reported with a warning and rebuilt.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .config import data_dir

FORMAT_VERSION = 1


def config_key(config: dict) -> str:
    """A short, stable hash of a JSON-serialisable config (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def checkpoint_path(name: str, config: dict) -> Path:
    """Where the checkpoint of ``name`` trained with ``config`` is (or will be) stored."""
    return data_dir() / "checkpoints" / f"{name}-{config_key(config)}.pt"


def _digest(state: dict, meta: dict) -> str:
    buf = io.BytesIO()
    torch.save({"state_dict": state, "meta": meta}, buf)
    return hashlib.sha256(buf.getvalue()).hexdigest()


def save_checkpoint(path: Path, model: nn.Module, config: dict, meta: dict) -> None:
    """Write ``model``'s weights, ``config`` and ``meta`` (JSON-like) to ``path`` atomically."""
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
    """Load weights from ``path`` into ``model`` and return its meta.

    Raises ``ValueError`` when the file is unreadable, its checksum fails, its config differs from
    ``config``, or its tensors do not fit ``model``.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, garbage, pickle refused by weights_only ...
        raise ValueError(f"checkpoint {path} is unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path} has an unknown format")
    if payload["config"] != json.dumps(config, sort_keys=True, default=str):
        raise ValueError(f"checkpoint {path} was trained with another config")
    meta = json.loads(payload["meta"])
    if _digest(payload["state_dict"], meta) != payload["sha256"]:
        raise ValueError(f"checkpoint {path} failed its SHA-256 check")
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit the model: {err}") from err
    return meta


def cached_model(name: str, config: dict, build: Callable[[], nn.Module],
                 train: Callable[[nn.Module], dict]) -> tuple[nn.Module, dict]:
    """Return ``(model, meta)``: ``build()`` loaded from the cache, or trained by ``train(model)``
    (which returns the meta to store, e.g. the history) and cached. Corrupt files are rebuilt."""
    path = checkpoint_path(name, config)
    model = build()
    if path.exists():
        try:
            return model, load_checkpoint(path, model, config)
        except ValueError as err:
            warnings.warn(f"{err}; retraining and rewriting it.", RuntimeWarning, stacklevel=2)
            model = build()
    meta = train(model)
    save_checkpoint(path, model, config, meta)
    return model, meta
