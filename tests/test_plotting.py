import matplotlib.pyplot as plt
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
    plt.close("all")      # layout only: readability is checked by the tests that call assert_readable


def test_image_grid_scales():
    imgs = [torch.full((1, 2, 2), 5.0), torch.full((1, 2, 2), 10.0)]
    shared = plotting.image_grid(imgs, scale="shared")
    assert [float(ax.images[0].get_array().max()) for ax in shared.axes] == [0.0, 1.0]
    ramp = torch.arange(4.0).view(1, 2, 2) * 3
    each = plotting.image_grid([ramp], scale="each")
    assert float(each.axes[0].images[0].get_array().max()) == 1.0
    plt.close("all")


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
    plt.close("all")


# --------------------------------------------------------------------------- figures that teach (issue 16)

def assert_readable(fig, *, colorbar: bool = False, labelled_axes: int = 0):
    """What a program can check of a figure: a title, axis labels where there are axes to read, a colour
    bar on maps, and no text outside the figure."""
    fig.canvas.draw()
    titles = [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]
    assert any(t.strip() for t in titles), "the figure has no title"
    labelled = [ax for ax in fig.axes if ax.get_xlabel().strip() or ax.get_ylabel().strip()]
    assert len(labelled) >= labelled_axes, f"{len(labelled)} axes with labels, expected {labelled_axes}"
    if colorbar:
        assert any(hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>" for ax in fig.axes), "no colour bar"
    renderer = fig.canvas.get_renderer()
    tight = fig.get_tightbbox(renderer)                  # in inches: everything drawn (texts, axes, colour bars)
    width, height = fig.get_size_inches()
    tol = 0.05
    assert tight.x0 >= -tol and tight.y0 >= -tol and tight.x1 <= width + tol and tight.y1 <= height + tol, \
        f"something drawn leaves the {width:.1f} x {height:.1f} in figure: {tight}"


def test_confusion_matrix_colours_the_mistakes_only_and_keeps_counts():
    import matplotlib.pyplot as plt

    y = np.repeat(np.arange(3), 100)
    pred = y.copy()
    pred[:3] = 1                                         # three 0s read as 1
    fig = plotting.plot_confusion_matrix(y, pred, ["zero", "one", "two"], title="t")
    ax = fig.axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {"97", "100", "3"} <= texts                   # counts, not logs or rates
    mistakes = ax.images[-1]
    assert mistakes.get_clim() == (0, 3.0)               # the scale is set by the mistakes, not by the diagonal's 100
    assert np.ma.getmaskarray(mistakes.get_array())[0, 0]     # the diagonal is not coloured
    assert_readable(fig, colorbar=True, labelled_axes=1)
    plt.close(fig)


def test_training_curves_explain_the_training_curve():
    import matplotlib.pyplot as plt

    hist = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "test_loss": 0.8, "test_acc": 0.6},
            {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.4, "test_acc": 0.85}]
    fig = plotting.training_curves(hist, title="t", clean_train={"loss": 0.3, "top1": 0.9},
                                   train_label="train (augmented)", note="why the curves differ")
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.lines][0] == "train (augmented)"
    assert list(loss_ax.lines[-1].get_ydata()) == [0.3]
    assert "why the curves differ" in [t.get_text() for t in fig.texts]
    assert_readable(fig, labelled_axes=2)
    plt.close(fig)
    with pytest.raises(ValueError, match="clean_train"):
        plotting.training_curves(hist, clean_train={"loss": 0.3})


def test_architecture_diagram_of_lenet5_from_its_definition():
    import matplotlib.pyplot as plt

    from lectures_lib import models

    fig = plotting.architecture_diagram(models.LeNet5("modern"), torch.rand(1, 1, 28, 28), title="LeNet-5")
    boxes = fig.boxes
    assert [b["name"] for b in boxes] == ["input", "c1", "s2", "c3", "s4", "c5", "f6", "output"]
    assert [b["output_shape"] for b in boxes][1:6] == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert sum(b["params"] for b in boxes) == 61_706 and boxes[5]["params"] == 48_120
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "6@28x28" in texts and "48,120\nparams" in texts
    assert_readable(fig)
    plt.close(fig)


def test_architecture_diagram_of_alexnet_merges_activations_and_names_layers():
    import matplotlib.pyplot as plt

    from lectures_lib import models

    fig = plotting.architecture_diagram(models.imagenet_model("alexnet", pretrained=False), torch.rand(1, 3, 224, 224))
    names = [b["name"] for b in fig.boxes]
    assert names == ["input", "conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool3", "avgpool",
                     "fc1", "fc2", "fc3"]
    by = {b["name"]: b for b in fig.boxes}
    assert by["conv1"]["output_shape"] == (64, 55, 55) and "stride 4" in by["conv1"]["detail"]
    assert by["avgpool"]["output_shape"] == (256, 6, 6)          # dropout and flattening do not change a box's shape
    assert by["fc1"]["params"] == 9216 * 4096 + 4096 and "relu" in by["fc1"]["detail"]
    assert_readable(fig)
    plt.close(fig)


def test_depth_chart_shows_every_ilsvrc_winner_with_its_depth():
    import matplotlib.pyplot as plt

    fig = plotting.depth_chart()
    ax = fig.axes[0]
    assert [round(p.get_height(), 2) for p in ax.patches] == [28.2, 25.8, 16.4, 11.7, 7.3, 6.7, 3.57]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "ILSVRC'10\nNEC-UIUC" and labels[-1] == "ILSVRC'15\nResNet"
    assert "152 layers" in [t.get_text() for t in ax.texts]
    assert_readable(fig, labelled_axes=1)
    plt.close(fig)
    with pytest.raises(ValueError, match="entries"):
        plotting.depth_chart([{"year": 2012}])


def test_residual_block_diagram_states_the_formula():
    import matplotlib.pyplot as plt

    fig = plotting.residual_block_diagram()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert r"\mathcal{F}(x) + x" in texts and "identity" in texts
    assert_readable(fig)
    plt.close(fig)


def test_shared_figures_render_readably():
    import matplotlib.pyplot as plt

    figs = [plotting.image_grid(torch.rand(4, 1, 8, 8), titles=list("abcd"), suptitle="grid"),
            plotting.topk_bars(torch.tensor([0.1, 0.6, 0.3]), ["a", "b", "c"], k=2, title="bars"),
            plotting.image_with_topk(torch.rand(3, 8, 8), torch.tensor([0.1, 0.6, 0.3]), ["a", "b", "c"], title="img")]
    for fig in figs:
        assert_readable(fig)
        plt.close(fig)
