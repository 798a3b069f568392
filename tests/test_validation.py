import pytest
import torch
from torch import nn

from lectures_lib import validation as v


def test_check_images_accepts_valid():
    x = torch.rand(2, 3, 8, 8)
    assert v.check_images(x, channels=3) is x
    assert v.check_images(torch.rand(1, 4, 4), ndim=3) is not None


@pytest.mark.parametrize("x,match", [
    (torch.rand(3, 8, 8), "B x C x H x W"),
    (torch.rand(1, 3, 8, 8) * 2, r"\[0, 1\]"),
    (torch.rand(1, 3, 8, 8) - 1, r"\[0, 1\]"),
    (torch.full((1, 3, 2, 2), float("nan")), "NaN"),
    (torch.zeros(1, 3, 2, 2, dtype=torch.uint8), "float"),
    (torch.rand(1, 1, 8, 8), "3 channel"),
])
def test_check_images_errors_name_the_argument(x, match):
    with pytest.raises(ValueError, match=match) as err:
        v.check_images(x, "image", channels=3)
    assert "image" in str(err.value)


def test_check_images_type():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        v.check_images([[0.0]])


def test_check_labels():
    assert v.check_labels(3, 2, 10).tolist() == [3, 3]
    with pytest.raises(ValueError, match=r"y must hold class indices in \[0, 10\)"):
        v.check_labels(torch.tensor([0, 10]), 2, 10)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        v.check_labels(torch.tensor([0, 1]), 3, 10)
    with pytest.raises(ValueError, match="integer"):
        v.check_labels(torch.tensor([0.0, 1.0]), 2, 10)


def test_check_range_and_choice():
    assert v.check_range(0.1, "eps", 0, 1) == 0.1
    with pytest.raises(ValueError, match="eps must be >= 0"):
        v.check_range(-0.1, "eps", 0, 1)
    with pytest.raises(ValueError, match="eps must be <= 1"):
        v.check_range(1.5, "eps", 0, 1)
    with pytest.raises(TypeError, match="steps must be an int"):
        v.check_range(2.5, "steps", 1, integer=True)
    with pytest.raises(ValueError, match="must be > 0"):
        v.check_range(0, "lr", 0, low_inclusive=False)
    with pytest.raises(ValueError, match="name must be one of"):
        v.check_choice("x", "name", ["a", "b"])


def test_get_module():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    assert isinstance(v.get_module(net, "1"), nn.ReLU)
    with pytest.raises(ValueError, match="layer 'conv9' is not a module"):
        v.get_module(net, "conv9")
