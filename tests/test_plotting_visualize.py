"""Lesson 03's figures (lectures_lib.plotting.visualize): each is rendered with typical inputs and checked for
what teaches: symmetric scales, one shared colour scale with a colour bar, receptive-field boxes where the
units looked, labelled rows, and text that stays inside the figure."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from test_plotting import assert_readable  # noqa: E402
from torch import nn  # noqa: E402

from lectures_lib import models  # noqa: E402
from lectures_lib import visualize as V  # noqa: E402
from lectures_lib.plotting import visualize as PV  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _conv(in_channels: int, seed: int = 0) -> nn.Conv2d:
    torch.manual_seed(seed)
    return nn.Conv2d(in_channels, 6, 5)


def test_grey_filters_on_a_symmetric_diverging_scale_with_a_colour_bar():
    conv = _conv(1)
    fig = PV.plot_filters(conv, ncols=3, title="C1")
    shown = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(shown) == 6
    for ax, w in zip(shown, conv.weight.detach()):
        im = ax.images[0]
        assert im.get_cmap().name == "RdBu_r" and im.get_clim() == (-1.0, 1.0)        # zero in the middle
        np.testing.assert_allclose(im.get_array(), (w[0] / w.abs().max()).numpy(), rtol=1e-6)
    assert "C1" in fig._suptitle.get_text()
    assert_readable(fig, colorbar=True)


def test_shared_scale_keeps_the_filters_relative_strength():
    conv = _conv(1)
    fig = PV.plot_filters(conv.weight, shared_scale=True)
    m = float(conv.weight.detach().abs().max())
    clims = {ax.images[0].get_clim() for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"}
    assert clims == {(-m, m)}


def test_colour_filters_put_zero_at_mid_grey():
    w = torch.zeros(2, 3, 3, 3)
    w[0, 0, 1, 1], w[1, 2, 0, 0] = 1.0, -2.0
    fig = PV.plot_filters(w)
    a0, a1 = (ax.images[0].get_array() for ax in fig.axes if ax.images)
    assert a0[0, 0, 0] == 0.5 and a0[1, 1, 0] == 1.0                 # zero -> grey, the largest weight -> full
    assert a1[0, 0, 2] == 0.0 and a1[2, 2, 1] == 0.5
    assert_readable(fig)


def test_activation_maps_share_one_scale_and_a_colour_bar():
    image = torch.rand(3, 32, 32)
    maps = torch.arange(4 * 8 * 8, dtype=torch.float32).view(4, 8, 8)
    fig = PV.plot_activation_maps(image, maps, [0, 3], layer="block")
    shown = [ax for ax in fig.axes if ax.images and ax.get_title().startswith("channel")]
    assert [ax.get_title() for ax in shown] == ["channel 0", "channel 3"]
    assert {ax.images[0].get_clim() for ax in shown} == {(0.0, 255.0)}   # the range of the shown maps
    assert shown[0].images[0].get_extent() == [0, 32, 32, 0]             # stretched over the image
    assert shown[0].images[0].get_cmap().name == "viridis"
    signed = PV.plot_activation_maps(image, maps - 100, [0, 3])
    im = next(ax for ax in signed.axes if ax.get_title() == "channel 3").images[0]
    assert im.get_cmap().name == "RdBu_r" and im.get_clim() == (-155.0, 155.0)   # symmetric: white = 0
    assert_readable(fig, colorbar=True)
    with pytest.raises(ValueError, match="channels"):
        PV.plot_activation_maps(image, maps, [4])


def test_top_patches_are_crops_with_the_receptive_field_box():
    lenet = models.LeNet5().eval()
    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    top = V.top_activating_patches(lenet, images, "c3", k=3, progress=False)
    units = top.strongest_units(2)
    fig = PV.plot_top_patches(top, units, context=0.5, unit_notes=["a", "b"])
    axes = np.array(fig.axes).reshape(2, 3)
    for r, unit in enumerate(units):
        assert axes[r, 0].get_ylabel().startswith(f"unit {unit}")
        for j, (t0, l0, t1, l1) in enumerate(top.boxes(unit)):
            box = next(p for p in axes[r, j].patches if isinstance(p, Rectangle))
            assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (l0, t0, l1 - l0, t1 - t0)
            left, right, bottom, upper = axes[r, j].images[0].get_extent()
            assert left <= l0 and right >= l1 and upper <= t0 and bottom >= t1          # the crop holds the field
            assert (right - left, bottom - upper) != (28, 28)                          # a crop, not the whole image
    assert "receptive field 14 x 14 px" in fig._suptitle.get_text()
    assert_readable(fig)


def test_projection_rows_are_labelled():
    rows = {"patches": torch.rand(3, 3, 8, 8), "deconvnet": torch.rand(3, 3, 8, 8)}
    fig = PV.plot_projection_rows(rows, col_titles=["a", "b", "c"], title="unit 1")
    assert [fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()] == ["patches", "deconvnet"]
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    assert_readable(fig)
    with pytest.raises(ValueError, match="same number"):
        PV.plot_projection_rows({"a": torch.rand(2, 3, 8, 8), "b": torch.rand(3, 3, 8, 8)})


def test_embedding_and_neighbours_are_titled():
    images = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    fig = PV.plot_embedding(np.random.default_rng(0).random((12, 2)), labels=torch.arange(12) % 3,
                            classes=["a", "b", "c"], title="t-SNE")
    assert_readable(fig)
    fig = PV.plot_neighbors(images.flatten(1), images, [0], k=3, titles=[f"im{i}" for i in range(12)])
    assert any(ax.get_title().startswith("query (features)") for ax in fig.axes)
