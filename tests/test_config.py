import random

import numpy as np
import pytest
import torch

from lectures_lib import config


def test_device_default_and_override(monkeypatch):
    monkeypatch.delenv("LECTURES_DEVICE", raising=False)
    assert config.device().type in {"cpu", "cuda", "mps"}
    monkeypatch.setenv("LECTURES_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")


def test_device_bad_override(monkeypatch):
    monkeypatch.setenv("LECTURES_DEVICE", "potato")
    with pytest.raises(ValueError, match="LECTURES_DEVICE"):
        config.device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("LECTURES_DEVICE", "cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            config.device()


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_mode(monkeypatch, value, expected):
    monkeypatch.setenv("LECTURES_FAST", value)
    assert config.fast_mode() is expected
    assert config.pick(full=10, fast=2) == (2 if expected else 10)


def test_seed_everything_repeats():
    config.seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(2))
    config.seed_everything(3)
    b = (random.random(), np.random.rand(), torch.rand(2))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(-1)


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LECTURES_DATA", str(tmp_path / "x"))
    assert config.data_dir() == tmp_path / "x" and (tmp_path / "x").is_dir()
    monkeypatch.delenv("LECTURES_DATA")
    assert config.data_dir() == config.REPO_ROOT / "data"
