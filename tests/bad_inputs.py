"""The bad-input table's machinery: a case is a call with one bad argument, and the name that the error
message must contain. ``test_bad_inputs.py`` gathers the cases of every module (``bad_inputs_<module>.py``)
and checks each one gets a clear error: a ``ValueError``, ``TypeError`` or ``FileNotFoundError`` raised by
``lectures_lib`` itself (not from deep inside torch, numpy, scikit-learn or PIL) whose message names the
argument; a call that returns instead is a silent result."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Case:
    id: str                 # "module.function: what is wrong"
    call: Callable[[], object]
    names: str              # text the message must contain (usually the argument's name)


def case(id: str, names: str):
    """Decorator form: ``@case("attacks.fgsm: eps is NaN", "eps")`` over a function of no arguments."""
    def wrap(fn):
        return Case(id, fn, names)
    return wrap


def tiny_cnn(channels: int = 1, classes: int = 10, dtype=torch.float32) -> nn.Module:
    """A small hand-seeded CNN for ``B x channels x 28 x 28`` images (a stand-in for LeNet-5 in bad-input cases)."""
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, classes))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return model.to(dtype).eval()


def images(n: int = 4, channels: int = 1, size: int = 28, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, channels, size, size, generator=g).to(dtype)


def labels(n: int = 4, classes: int = 10) -> torch.Tensor:
    return torch.arange(n) % classes


# Typical bad images, each paired with the reason it is bad.
BAD_IMAGES = {
    "uint8": lambda: (images() * 255).to(torch.uint8),
    "0-255 floats": lambda: images() * 255,
    "NaN": lambda: images().masked_fill(images() > 0.9, float("nan")),
    "negative": lambda: images() - 0.5,
    "3-d": lambda: images()[0],
    "a list": lambda: images().tolist(),
    "empty batch": lambda: images()[:0],
    "wrong channels": lambda: images(channels=3),
}
