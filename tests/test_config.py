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
def test_fast_alias(monkeypatch, value, expected):
    monkeypatch.delenv("LECTURES_MODE", raising=False)
    monkeypatch.setenv("LECTURES_FAST", value)
    assert config.fast_mode() is expected
    assert config.mode() == ("fast" if expected else "lesson")
    assert config.pick(fast=2, lesson=10, paper=100) == (2 if expected else 10)


@pytest.mark.parametrize("mode,expected", [("fast", 1), ("lesson", 2), ("paper", 3), ("PAPER", 3)])
def test_mode_picks(monkeypatch, mode, expected):
    monkeypatch.delenv("LECTURES_FAST", raising=False)
    monkeypatch.setenv("LECTURES_MODE", mode)
    assert config.pick(fast=1, lesson=2, paper=3) == expected
    assert config.pick(fast=1, lesson=2) == min(expected, 2)  # paper defaults to lesson


def test_mode_wins_over_fast_alias_and_unknown_mode_is_an_error(monkeypatch):
    monkeypatch.setenv("LECTURES_FAST", "1")
    monkeypatch.setenv("LECTURES_MODE", "paper")
    assert config.mode() == "paper"
    monkeypatch.setenv("LECTURES_MODE", "full")
    with pytest.raises(ValueError, match="LECTURES_MODE must be one of"):
        config.mode()


def test_seeded_is_a_function_of_the_seed_and_restores_the_caller_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    torch.rand(5)  # a different history
    with config.seeded(7):
        a = torch.rand(3)
    after = torch.rand(1)
    with config.seeded(7):
        b = torch.rand(3)
    assert torch.equal(a, b)
    torch.manual_seed(123)
    torch.rand(5)
    assert torch.equal(torch.rand(1), after) and not torch.equal(before, after)


def test_seed_everything_repeats():
    config.seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(2))  # noqa: NPY002 - the legacy RNG it seeds
    config.seed_everything(3)
    b = (random.random(), np.random.rand(), torch.rand(2))  # noqa: NPY002
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(-1)


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LECTURES_DATA", str(tmp_path / "x"))
    assert config.data_dir() == tmp_path / "x" and (tmp_path / "x").is_dir()
    monkeypatch.delenv("LECTURES_DATA")
    assert config.data_dir() == config.REPO_ROOT / "data"
