import numpy as np
import pytest
import torch

from lectures_lib import plotting


def test_image_grid_layout_and_titles():
    fig = plotting.image_grid(torch.rand(5, 3, 8, 8), titles=list("abcde"), ncols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(shown) == 5 and shown[4].get_title() == "e"
    grey = plotting.image_grid([torch.rand(1, 4, 4), np.random.default_rng(0).random((4, 4))])
    assert grey.axes[0].images[0].get_cmap().name == "gray"


def test_image_grid_scales():
    imgs = [torch.full((1, 2, 2), 5.0), torch.full((1, 2, 2), 10.0)]
    shared = plotting.image_grid(imgs, scale="shared")
    assert [float(ax.images[0].get_array().max()) for ax in shared.axes] == [0.0, 1.0]
    ramp = torch.arange(4.0).view(1, 2, 2) * 3
    each = plotting.image_grid([ramp], scale="each")
    assert float(each.axes[0].images[0].get_array().max()) == 1.0


def test_image_grid_bad_input():
    with pytest.raises(ValueError, match="titles has 1 entries for 2 images"):
        plotting.image_grid(torch.rand(2, 1, 3, 3), titles=["x"])
    with pytest.raises(ValueError, match="scale must be one of"):
        plotting.image_grid(torch.rand(2, 1, 3, 3), scale="log")
    with pytest.raises(ValueError, match="images must not be empty"):
        plotting.image_grid([])


def test_confusion_matrix_counts():
    cm = plotting.confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], 3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    fig = plotting.plot_confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], ["a", "b", "c"])
    assert "3" not in [t.get_text() for t in fig.axes[0].texts] and len(fig.axes[0].texts) == 4
    with pytest.raises(ValueError, match="y_pred must have shape"):
        plotting.confusion_matrix([0, 1], [0], 2)


def test_topk_bars_and_training_curves():
    probs = torch.tensor([0.1, 0.6, 0.3])
    fig = plotting.topk_bars(probs, ["a", "b", "c"], k=2, true_class=2)
    ax = fig.axes[0]
    ypos = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert set(ypos) == {"b", "c"} and ypos["b"] > ypos["c"]  # most probable on top
    with pytest.raises(ValueError, match="1-D vector of 3"):
        plotting.topk_bars(torch.rand(2, 3), ["a", "b", "c"])
    hist = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.1, "test_acc": 0.4},
            {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6, "test_acc": 0.7}]
    fig = plotting.training_curves(hist)
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 2
    assert list(fig.axes[1].lines[1].get_ydata()) == [40.0, 70.0]
