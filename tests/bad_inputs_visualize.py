"""Bad-input cases for lesson 03 (``lectures_lib.visualize`` and its figures in ``plotting.visualize``):
each call has one bad argument and must raise a clear error naming it (see ``bad_inputs.py``)."""
from __future__ import annotations

import numpy as np
import torch
from bad_inputs import BAD_IMAGES, Case, images, labels, tiny_cnn

from lectures_lib import visualize as V
from lectures_lib.plotting import visualize as PV

# tiny_cnn's layers: "0" conv, "1" ReLU, "2" max-pool, "3" conv, "4" ReLU, "5" global pool, "6" flatten, "7" linear
CONV, LINEAR = "3", "7"


def _features(n: int = 8, d: int = 5) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(2))


def _points(*shape: int) -> np.ndarray:
    return np.random.default_rng(3).random(shape)


def _with_nan(t: torch.Tensor, value=float("nan")) -> torch.Tensor:
    t = t.clone()
    t[1, 0] = value
    return t


def _top():
    return V.top_activating_patches(tiny_cnn(), images(), CONV, [0, 2], k=2, progress=False)


CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    CASES.append(Case(f"visualize.{id}", call, names))


# --------------------------------------------------------------------------- every bad image, every method
IMAGE_METHODS = {
    "capture_activations": ("x", lambda x: V.capture_activations(tiny_cnn(), x, CONV)),
    "activation_maps": ("x", lambda x: V.activation_maps(tiny_cnn(), x, [CONV])),
    "deconvnet": ("x", lambda x: V.deconvnet(tiny_cnn(), x)),
    "guided_backprop": ("x", lambda x: V.guided_backprop(tiny_cnn(), x, 1, layer=CONV)),
    "collect_features": ("data", lambda x: V.collect_features(tiny_cnn(), x, CONV, progress=False)),
    "top_activating_patches": ("data", lambda x: V.top_activating_patches(tiny_cnn(), x, CONV, k=1, progress=False)),
}
for fn, (arg, call) in IMAGE_METHODS.items():
    for why, bad in BAD_IMAGES.items():
        add(f"{fn}: {arg} is {why}", arg, lambda call=call, bad=bad: call(bad()))

# --------------------------------------------------------------------------- activations
add("capture_activations: model is not a module", "model", lambda: V.capture_activations("lenet", images(), CONV))
add("capture_activations: model is a plain function", "model",
    lambda: V.capture_activations(lambda x: x.mean((2, 3)), images(), CONV))
add("capture_activations: unknown layer", "layer", lambda: V.capture_activations(tiny_cnn(), images(), "conv9"))
add("capture_activations: layers is empty", "layers", lambda: V.capture_activations(tiny_cnn(), images(), []))
add("capture_activations: layers is an int", "layers", lambda: V.capture_activations(tiny_cnn(), images(), 3))
add("capture_activations: images too small for the model", "x",
    lambda: V.capture_activations(tiny_cnn(), images(size=1), LINEAR))
add("activation_maps: a layer without maps", "layers", lambda: V.activation_maps(tiny_cnn(), images(), [CONV, LINEAR]))
add("collect_features: layer is a list", "layer", lambda: V.collect_features(tiny_cnn(), images(), [CONV, LINEAR]))
add("collect_features: unknown layer", "layer", lambda: V.collect_features(tiny_cnn(), images(), "nope", progress=False))
add("collect_features: batch_size 0", "batch_size",
    lambda: V.collect_features(tiny_cnn(), images(), CONV, batch_size=0, progress=False))
add("collect_features: batch_size NaN", "batch_size",
    lambda: V.collect_features(tiny_cnn(), images(), CONV, batch_size=float("nan"), progress=False))
add("collect_features: data pair of unequal lengths", "data",
    lambda: V.collect_features(tiny_cnn(), (images(), labels(3)), CONV, progress=False))

# --------------------------------------------------------------------------- receptive fields
add("receptive_field: unknown layer", "layer", lambda: V.receptive_field(tiny_cnn(), "nope"))
add("receptive_field: model is not a module", "model", lambda: V.receptive_field(print, CONV))
add("receptive_field: image_shape has 2 entries", "image_shape",
    lambda: V.receptive_field(tiny_cnn(), CONV, image_shape=(28, 28)))
add("receptive_field: image_shape has the wrong channels", "image_shape",
    lambda: V.receptive_field(tiny_cnn(), CONV, image_shape=(3, 28, 28)))
add("receptive_field: image_shape has a zero", "image_shape",
    lambda: V.receptive_field(tiny_cnn(), CONV, image_shape=(1, 0, 28)))
add("receptive_field: image_shape is a string", "image_shape",
    lambda: V.receptive_field(tiny_cnn(), CONV, image_shape="1x28x28"))
add("receptive_field: image_shape holds floats", "image_shape",
    lambda: V.receptive_field(tiny_cnn(), CONV, image_shape=(1, 28.5, 28)))
add("receptive_field: image_shape too small for the model", "image_shape",
    lambda: V.receptive_field(tiny_cnn(), CONV, image_shape=(1, 1, 1)))

# --------------------------------------------------------------------------- top patches
for why, k in (("0", 0), ("more than the images", 5), ("NaN", float("nan")), ("a float", 2.5), ("a bool", True)):
    add(f"top_activating_patches: k is {why}", "k",
        lambda k=k: V.top_activating_patches(tiny_cnn(), images(), CONV, k=k, progress=False))
for why, unit in (("past the channels", 8), ("negative", -1), ("an empty list", []), ("a string", "a"),
                  ("a float", 1.5)):
    add(f"top_activating_patches: unit is {why}", "unit",
        lambda unit=unit: V.top_activating_patches(tiny_cnn(), images(), CONV, unit, k=1, progress=False))
add("top_activating_patches: unknown layer", "layer",
    lambda: V.top_activating_patches(tiny_cnn(), images(), "nope", k=1, progress=False))
add("top_activating_patches: batch_size 0", "batch_size",
    lambda: V.top_activating_patches(tiny_cnn(), images(), CONV, k=1, batch_size=0, progress=False))
add("top_activating_patches: data is a list of tensors", "data",
    lambda: V.top_activating_patches(tiny_cnn(), list(images()), CONV, k=1, progress=False))
add("TopPatches.patches: unit not searched", "unit", lambda: _top().patches(1))
add("TopPatches.patches: fill NaN", "fill", lambda: _top().patches(0, fill=float("nan")))
add("TopPatches.strongest_units: n 0", "n", lambda: _top().strongest_units(0))

# --------------------------------------------------------------------------- deconvnet and guided backprop
for method in ("deconvnet", "guided_backprop"):
    fn = getattr(V, method)
    for why, target in (("NaN", float("nan")), ("a class past the logits", 10), ("negative", -1), ("a float", 2.5),
                        ("a bool", True), ("a string", "cat"), ("of the wrong length", torch.tensor([0, 1])),
                        ("a float tensor", torch.zeros(4))):
        add(f"{method}: target is {why}", "target", lambda fn=fn, target=target: fn(tiny_cnn(), images(), target))
    add(f"{method}: target past the layer's channels", "target", lambda fn=fn: fn(tiny_cnn(), images(), 8, layer=CONV))
    add(f"{method}: model is not callable", "model", lambda fn=fn: fn(42, images()))
    add(f"{method}: model returns a tuple", "model", lambda fn=fn: fn(lambda x: (x,), images()))
    add(f"{method}: unknown layer", "layer", lambda fn=fn: fn(tiny_cnn(), images(), 0, layer="nope"))
    add(f"{method}: layer is an int", "layer", lambda fn=fn: fn(tiny_cnn(), images(), 0, layer=3))
    add(f"{method}: batch_size 0", "batch_size", lambda fn=fn: fn(tiny_cnn(), images(), batch_size=0))
    for why, pos in (("outside the map", (14, 0)), ("negative", (-1, 2)), ("floats", (1.5, 2.0)),
                     ("of the wrong shape", (1, 2, 3)), ("a string", "centre"), ("not per image", torch.zeros(3, 2))):
        add(f"{method}: position {why}", "position",
            lambda fn=fn, pos=pos: fn(tiny_cnn(), images(), 0, layer=CONV, position=pos))
    add(f"{method}: position without a layer", "position", lambda fn=fn: fn(tiny_cnn(), images(), 0, position=(1, 1)))
    add(f"{method}: position on a layer without maps", "position",
        lambda fn=fn: fn(tiny_cnn(), images(), 0, layer=LINEAR, position=(0, 0)))
add("relu_rule: unknown rule", "rule", lambda: V.relu_rule("saliency"))
add("relu_rule: rule is None", "rule", lambda: V.relu_rule(None))
for why, pct in (("0", 0), ("above 100", 101), ("NaN", float("nan")), ("a string", "99")):
    add(f"projection_image: percentile {why}", "percentile",
        lambda pct=pct: V.projection_image(torch.randn(2, 1, 4, 4), percentile=pct))
for why, grad in (("2-d", torch.randn(4, 4)), ("NaN", _with_nan(torch.randn(2, 1, 4, 4))),
                  ("integer", torch.ones(2, 1, 4, 4, dtype=torch.long)), ("a list", [[0.0]])):
    add(f"projection_image: grad {why}", "grad", lambda grad=grad: V.projection_image(grad))
add("project_top_patches: unknown method", "method", lambda: V.project_top_patches(tiny_cnn(), _top(), 0, method="saliency"))
add("project_top_patches: top is a dict", "top", lambda: V.project_top_patches(tiny_cnn(), {"layer": CONV}, 0))
add("project_top_patches: unit not searched", "unit", lambda: V.project_top_patches(tiny_cnn(), _top(), 1))
add("project_top_patches: fill 2", "fill", lambda: V.project_top_patches(tiny_cnn(), _top(), 0, fill=2))

# --------------------------------------------------------------------------- neighbours and t-SNE
for why, feats in (("with a NaN row", _with_nan(_features())), ("with an infinity", _with_nan(_features(), float("inf"))),
                   ("1-d", torch.randn(8)), ("a list", [[0.0, 1.0], [1.0, 0.0]]), ("empty", torch.zeros(0, 5)),
                   ("a single row", torch.randn(1, 5)), ("integer", torch.ones(8, 5, dtype=torch.long)),
                   ("a string array", np.array([["a", "b"], ["c", "d"]]))):
    add(f"nearest_neighbors: features {why}", "features", lambda feats=feats: V.nearest_neighbors(feats, 0, k=1))
for why, k in (("0", 0), ("N", 8), ("NaN", float("nan")), ("a float", 1.5)):
    add(f"nearest_neighbors: k {why}", "k", lambda k=k: V.nearest_neighbors(_features(), 0, k=k))
add("nearest_neighbors: unknown metric", "metric", lambda: V.nearest_neighbors(_features(), 0, metric="manhattan"))
for why, q in (("negative", -1), ("N", 8), ("a float", 1.5), ("an empty list", []), ("a string", "a"), ("a bool", True),
               ("a float tensor", torch.tensor([1.0])), ("2-d", [[0, 1]])):
    add(f"nearest_neighbors: query_index {why}", "query_index", lambda q=q: V.nearest_neighbors(_features(), q, k=2))
add("neighbor_agreement: labels of the wrong length", "labels", lambda: V.neighbor_agreement(_features(), labels(5), k=2))
add("neighbor_agreement: float labels", "labels", lambda: V.neighbor_agreement(_features(), torch.zeros(8), k=2))
add("neighbor_agreement: chunk 0", "chunk", lambda: V.neighbor_agreement(_features(), labels(8), k=2, chunk=0))
add("neighbor_agreement: k 0", "k", lambda: V.neighbor_agreement(_features(), labels(8), k=0))
add("neighbor_agreement: features NaN", "features", lambda: V.neighbor_agreement(_with_nan(_features()), labels(8), k=2))
for why, kwargs in (("perplexity 0", {"perplexity": 0}), ("perplexity NaN", {"perplexity": float("nan")}),
                    ("perplexity >= N", {"perplexity": 8}), ("pca_dims 1", {"pca_dims": 1}), ("seed -1", {"seed": -1}),
                    ("max_iter 10", {"max_iter": 10})):
    add(f"embed_tsne: {why}", why.split()[0], lambda kwargs=kwargs: V.embed_tsne(_features(), **{"perplexity": 3, **kwargs}))
add("embed_tsne: features NaN", "features", lambda: V.embed_tsne(_with_nan(_features()), perplexity=3))
add("grid_layout: fewer cells than points", "rows", lambda: V.grid_layout(_points(10, 2), 3, 3))
add("grid_layout: points N x 3", "points", lambda: V.grid_layout(_points(4, 3), 2, 2))
add("grid_layout: points NaN", "points", lambda: V.grid_layout(_with_nan(_features(4, 2)), 2, 2))
add("grid_layout: rows 0", "rows", lambda: V.grid_layout(_points(4, 2), 0, 5))
add("grid_layout: cols a float", "cols", lambda: V.grid_layout(_points(4, 2), 2, 2.0))

# --------------------------------------------------------------------------- figures and the widget
add("plot_filters: a second-layer weight", "weight", lambda: PV.plot_filters(tiny_cnn()[3]))
add("plot_filters: weight is a string", "weight", lambda: PV.plot_filters("conv1"))
add("plot_filters: a module without weight", "weight", lambda: PV.plot_filters(torch.nn.ReLU()))
add("plot_neighbors: features of another length", "features",
    lambda: PV.plot_neighbors(_features(5), images(), [0], k=2))
add("plot_neighbors: images NaN", "images", lambda: PV.plot_neighbors(_features(4), BAD_IMAGES["NaN"](), [0], k=2))
add("plot_neighbors: titles of another length", "titles",
    lambda: PV.plot_neighbors(_features(4), images(), [0], k=2, titles=["a"]))
add("plot_neighbors: query out of range", "query_index", lambda: PV.plot_neighbors(_features(4), images(), [9], k=2))
add("plot_embedding: points N x 3", "points", lambda: PV.plot_embedding(_points(4, 3), labels=labels()))
add("plot_embedding: no labels nor images", "labels", lambda: PV.plot_embedding(_points(4, 2)))
add("plot_embedding: labels of another length", "labels", lambda: PV.plot_embedding(_points(4, 2), labels=labels(3)))
add("plot_embedding: images of another length", "images",
    lambda: PV.plot_embedding(_points(3, 2), images=images()))
add("plot_embedding: thumb 0", "thumb", lambda: PV.plot_embedding(_points(4, 2), images=images(), thumb=0))
add("activation_widget: images uint8", "images", lambda: PV.activation_widget(tiny_cnn(), BAD_IMAGES["uint8"](), [CONV]))
add("activation_widget: a layer without maps", "layers", lambda: PV.activation_widget(tiny_cnn(), images(), [LINEAR]))
add("activation_widget: image_titles of another length", "image_titles",
    lambda: PV.activation_widget(tiny_cnn(), images(), [CONV], image_titles=["one"]))
