"""Tiny hand-made models the attack and universal-perturbation tests share (Captum's style: small enough to reason
about, normalisation inside the model as in the course's models)."""
from collections import OrderedDict

import torch
from torch import nn


class Standardize(nn.Module):
    """(x - 0.5) / 0.25: the normalisation lives in the model, as in the course's models."""

    def forward(self, x):
        return (x - 0.5) / 0.25


def tiny_cnn(seed: int = 0, dtype=torch.float64, dropout: bool = False, classes: int = 5) -> nn.Module:
    """1 x 8 x 8 images in [0, 1] -> ``classes`` logits; ReLU and max-pooling (piecewise linear, like the lesson's
    LeNet), weights drawn after ``torch.manual_seed(seed)``, in eval mode."""
    torch.manual_seed(seed)
    layers = OrderedDict(norm=Standardize(), conv=nn.Conv2d(1, 4, 3, padding=1), relu=nn.ReLU(),
                         pool=nn.MaxPool2d(2), flat=nn.Flatten())
    if dropout:
        layers["drop"] = nn.Dropout(0.5)
    layers["fc"] = nn.Linear(4 * 4 * 4, classes)
    return nn.Sequential(layers).to(dtype).eval()
