"""Bad-input cases for the figures of lessons 01-03 (``lectures_lib.plotting`` and ``plotting.visualize``) and
the functions lesson 03 added to ``lectures_lib.visualize`` (the deconvnet without switches, layer depth, unit
selectivity): each call has one bad argument and must raise a clear error naming it (see ``bad_inputs.py``)."""
from __future__ import annotations

import torch
from bad_inputs import BAD_IMAGES, Case, images, tiny_cnn
from torch import nn

from lectures_lib import models, plotting
from lectures_lib import visualize as V
from lectures_lib.plotting import visualize as PV

CONV = "3"          # tiny_cnn: "0" conv, "1" ReLU, "2" max-pool, "3" conv, "4" ReLU, "5" global pool, "7" linear
CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    CASES.append(Case(id, call, names))


def _top():
    return V.top_activating_patches(tiny_cnn(), images(), CONV, [0, 2], k=2, progress=False)


HISTORY = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "test_loss": 0.9, "test_acc": 0.6}]

# --------------------------------------------------------------------------- plotting: lessons 01-02
add("plotting.architecture_diagram: model is a string", "model",
    lambda: plotting.architecture_diagram("lenet", images(1)))
add("plotting.architecture_diagram: model is a plain function", "model",
    lambda: plotting.architecture_diagram(lambda x: x.mean((2, 3)), images(1)))
add("plotting.architecture_diagram: x of the wrong size for the model", "x",
    lambda: plotting.architecture_diagram(models.LeNet5(), images(1, size=12)))
add("plotting.architecture_boxes: model is None", "model", lambda: plotting.architecture_boxes(None, images(1)))
for why, bad in BAD_IMAGES.items():
    if why != "wrong channels":
        add(f"plotting.architecture_diagram: x is {why}", "x",
            lambda bad=bad: plotting.architecture_diagram(models.LeNet5(), bad()))
add("plotting.depth_chart: entries is empty", "entries", lambda: plotting.depth_chart([]))
add("plotting.depth_chart: entries lack top5_error", "entries",
    lambda: plotting.depth_chart([{"year": 2012, "name": "AlexNet", "depth": 8}]))
add("plotting.depth_chart: entries is a string", "entries", lambda: plotting.depth_chart("ILSVRC"))
add("plotting.training_curves: clean_train is a number", "clean_train",
    lambda: plotting.training_curves(HISTORY, clean_train=0.3))
add("plotting.training_curves: clean_train without top1", "clean_train",
    lambda: plotting.training_curves(HISTORY, clean_train={"loss": 0.3}))
add("plotting.training_curves: history of numbers", "history", lambda: plotting.training_curves([0.5, 0.4]))
add("plotting.training_curves: history is empty", "history", lambda: plotting.training_curves([]))
add("plotting.plot_confusion_matrix: y_true holds class 12 of 10", "y_true",
    lambda: plotting.plot_confusion_matrix([0, 12], [0, 1], [str(i) for i in range(10)]))
add("plotting.plot_confusion_matrix: y_pred shorter than y_true", "y_pred",
    lambda: plotting.plot_confusion_matrix([0, 1, 2], [0, 1], ["a", "b", "c"]))
add("plotting.plot_confusion_matrix: y_pred negative", "y_pred",
    lambda: plotting.plot_confusion_matrix([0, 1], [0, -1], ["a", "b"]))

# --------------------------------------------------------------------------- plotting.visualize: lesson 03
add("plotting.plot_filters: weight is 2-D", "weight", lambda: PV.plot_filters(torch.rand(3, 3)))
add("plotting.plot_filters: weight holds NaN", "weight",
    lambda: PV.plot_filters(torch.full((2, 1, 3, 3), float("nan"))))
add("plotting.plot_filters: weight of a linear layer", "weight", lambda: PV.plot_filters(nn.Linear(3, 3)))
add("plotting.plot_filters: ncols is 0", "ncols", lambda: PV.plot_filters(torch.rand(2, 1, 3, 3), ncols=0))
add("plotting.plot_activation_maps: image is 4-d", "image",
    lambda: PV.plot_activation_maps(torch.rand(1, 3, 8, 8), torch.rand(4, 2, 2)))
add("plotting.plot_activation_maps: image in 0-255", "image",
    lambda: PV.plot_activation_maps(torch.rand(3, 8, 8) * 255, torch.rand(4, 2, 2)))
add("plotting.plot_activation_maps: maps of a batch", "maps",
    lambda: PV.plot_activation_maps(torch.rand(3, 8, 8), torch.rand(1, 4, 2, 2)))
add("plotting.plot_activation_maps: maps hold inf", "maps",
    lambda: PV.plot_activation_maps(torch.rand(3, 8, 8), torch.full((4, 2, 2), float("inf"))))
add("plotting.plot_activation_maps: maps are integers", "maps",
    lambda: PV.plot_activation_maps(torch.rand(3, 8, 8), torch.ones(4, 2, 2, dtype=torch.long)))
add("plotting.plot_activation_maps: channel out of range", "channels",
    lambda: PV.plot_activation_maps(torch.rand(3, 8, 8), torch.rand(4, 2, 2), [1, 4]))
add("plotting.plot_activation_maps: channels empty", "channels",
    lambda: PV.plot_activation_maps(torch.rand(3, 8, 8), torch.rand(4, 2, 2), []))
add("plotting.plot_activation_maps: ncols is 0", "ncols",
    lambda: PV.plot_activation_maps(torch.rand(3, 8, 8), torch.rand(4, 2, 2), ncols=0))
add("plotting.plot_top_patches: top is a dict", "top", lambda: PV.plot_top_patches({}, [0]))
add("plotting.plot_top_patches: units empty", "units", lambda: PV.plot_top_patches(_top(), []))
add("plotting.plot_top_patches: units is an int", "units", lambda: PV.plot_top_patches(_top(), 0))
add("plotting.plot_top_patches: a unit that was not searched", "unit", lambda: PV.plot_top_patches(_top(), [1]))
add("plotting.plot_top_patches: k is 0", "k", lambda: PV.plot_top_patches(_top(), [0], k=0))
add("plotting.plot_top_patches: k beyond the hits kept", "k", lambda: PV.plot_top_patches(_top(), [0], k=3))
add("plotting.plot_top_patches: context is negative", "context", lambda: PV.plot_top_patches(_top(), [0], context=-1))
add("plotting.plot_top_patches: size is 0", "size", lambda: PV.plot_top_patches(_top(), [0], size=0))
add("plotting.plot_top_patches: unit_notes of the wrong length", "unit_notes",
    lambda: PV.plot_top_patches(_top(), [0, 2], unit_notes=["a"]))
add("plotting.plot_projection_rows: rows empty", "rows", lambda: PV.plot_projection_rows({}))
add("plotting.plot_projection_rows: rows is a list", "rows", lambda: PV.plot_projection_rows([torch.rand(2, 3, 4, 4)]))
add("plotting.plot_projection_rows: a row in 0-255", "rows",
    lambda: PV.plot_projection_rows({"a": torch.rand(2, 3, 4, 4) * 255}))
add("plotting.plot_projection_rows: col_titles of the wrong length", "col_titles",
    lambda: PV.plot_projection_rows({"a": torch.rand(2, 3, 4, 4)}, col_titles=["x"]))

# --------------------------------------------------------------------------- visualize: lesson 03's additions
for why, bad in BAD_IMAGES.items():
    add(f"visualize.deconvnet_without_switches: x is {why}", "x",
        lambda bad=bad: V.deconvnet_without_switches(tiny_cnn(), bad()))
    add(f"visualize.unit_selectivity: data is {why}", "data",
        lambda bad=bad: V.unit_selectivity(tiny_cnn(), bad(), CONV, k=1, progress=False))
add("visualize.deconvnet_without_switches: model is a string", "model",
    lambda: V.deconvnet_without_switches("lenet", images()))
add("visualize.deconvnet_without_switches: target out of range", "target",
    lambda: V.deconvnet_without_switches(tiny_cnn(), images(), 10))
add("visualize.deconvnet_without_switches: unknown layer", "layer",
    lambda: V.deconvnet_without_switches(tiny_cnn(), images(), layer="conv9"))
add("visualize.deconvnet_without_switches: position outside the map", "position",
    lambda: V.deconvnet_without_switches(tiny_cnn(), images(), 0, layer=CONV, position=(20, 0)))
add("visualize.deconvnet_without_switches: position without a layer", "position",
    lambda: V.deconvnet_without_switches(tiny_cnn(), images(), position=(0, 0)))
add("visualize.deconvnet_without_switches: batch_size is 0", "batch_size",
    lambda: V.deconvnet_without_switches(tiny_cnn(), images(), batch_size=0))
add("visualize.deconvnet_without_switches: a dilated max-pooling", "model",
    lambda: V.deconvnet_without_switches(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, dilation=2),
                                                       nn.Flatten(), nn.LazyLinear(3)), images()))
add("visualize.layer_depth: model is a string", "model", lambda: V.layer_depth("lenet", "c1"))
add("visualize.layer_depth: unknown layer", "layer", lambda: V.layer_depth(tiny_cnn(), "conv9"))
add("visualize.layer_depth: layer is an int", "layer", lambda: V.layer_depth(tiny_cnn(), 3))
add("visualize.layer_depth: image_shape of two numbers", "image_shape",
    lambda: V.layer_depth(tiny_cnn(), CONV, image_shape=(28, 28)))
add("visualize.layer_depth: image_shape with 3 channels for a grey model", "image_shape",
    lambda: V.layer_depth(tiny_cnn(), CONV, image_shape=(3, 28, 28)))
add("visualize.unit_selectivity: k is 0", "k", lambda: V.unit_selectivity(tiny_cnn(), images(), CONV, k=0, progress=False))
add("visualize.unit_selectivity: k beyond the images", "k",
    lambda: V.unit_selectivity(tiny_cnn(), images(), CONV, k=5, progress=False))
add("visualize.unit_selectivity: batch_size is 0", "batch_size",
    lambda: V.unit_selectivity(tiny_cnn(), images(), CONV, k=1, batch_size=0, progress=False))
add("visualize.unit_selectivity: layers is empty", "layers",
    lambda: V.unit_selectivity(tiny_cnn(), images(), [], k=1, progress=False))
add("visualize.unit_selectivity: layers is an int", "layers",
    lambda: V.unit_selectivity(tiny_cnn(), images(), 3, k=1, progress=False))
add("visualize.unit_selectivity: unknown layer", "layer",
    lambda: V.unit_selectivity(tiny_cnn(), images(), "conv9", k=1, progress=False))
add("visualize.unit_selectivity: data holds one image", "data",
    lambda: V.unit_selectivity(tiny_cnn(), images(1), CONV, k=1, progress=False))
