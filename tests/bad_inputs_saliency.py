"""Bad inputs for lesson 04 (``lectures_lib.saliency`` and its pictures, ``lectures_lib.plotting.saliency``):
each call must raise a clear error from inside ``lectures_lib`` whose message names the argument."""
from __future__ import annotations

from collections import OrderedDict

import torch
from bad_inputs import BAD_IMAGES, Case, images, tiny_cnn
from torch import nn

from lectures_lib import saliency as S
from lectures_lib.plotting import saliency as P

NAN, INF = float("nan"), float("inf")
H = W = 28


def _model():
    return tiny_cnn()


def _maps(n: int = 4):
    return torch.rand(n, H, W, generator=torch.Generator().manual_seed(2))


def _twice() -> nn.Module:
    """A model whose module ``act`` runs twice in one forward pass."""
    relu = nn.ReLU()
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 3, 3, padding=1), act=relu, conv2=nn.Conv2d(3, 3, 1),
                                     act2=relu, pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten())).eval()


def _flat_model(x):
    return tiny_cnn()(x)[:, 0]          # B scores instead of B x K logits


def _tuple_model(x):
    return (tiny_cnn()(x),)


def _gradient(model, x, target):
    return S.gradient_saliency(model, x, target)


CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    module = "plotting.saliency." if id.startswith("plotting.") else "saliency."
    CASES.append(Case(module + id.removeprefix("plotting."), call, names))


# --------------------------------------------------------------------------- bad images, for every method
IMAGE_CALLS = {
    "gradient_saliency": lambda x: S.gradient_saliency(_model(), x),
    "grad_cam": lambda x: S.grad_cam(_model(), x, layer="3"),
    "occlusion": lambda x: S.occlusion(_model(), x, window=8, stride=8, progress=False),
    "rise": lambda x: S.rise(_model(), x, n_masks=4, progress=False),
    "causal_curve": lambda x: S.causal_curve(_model(), x, _maps(), step=200, progress=False),
    "deletion_auc": lambda x: S.deletion_auc(_model(), x, _maps(), step=200, progress=False),
}
for fn, call in IMAGE_CALLS.items():
    for why, bad in BAD_IMAGES.items():
        add(f"{fn}: x is {why}", "x", lambda call=call, bad=bad: call(bad()))
for why in ("uint8", "NaN", "empty batch", "wrong channels"):
    add(f"occlusion_maps: x is {why}", "x",
        lambda why=why: S.occlusion_maps(_model(), BAD_IMAGES[why](), windows=(8,), strides=(8,), progress=False))
    add(f"model_randomization_check: x is {why}", "x",
        lambda why=why: S.model_randomization_check(_model(), BAD_IMAGES[why](), methods={"g": _gradient},
                                                    layers=["7"]))
add("blur: x is uint8", "x", lambda: S.blur(BAD_IMAGES["uint8"]()))
add("blur: x is NaN", "x", lambda: S.blur(BAD_IMAGES["NaN"]()))

# --------------------------------------------------------------------------- models and targets
add("gradient_saliency: model is a string", "model", lambda: S.gradient_saliency("lenet", images()))
add("gradient_saliency: model returns B scores, not B x K", "model",
    lambda: S.gradient_saliency(_flat_model, images(), 0))
add("gradient_saliency: model returns a tuple", "model", lambda: S.gradient_saliency(_tuple_model, images(), 0))
add("occlusion: model returns B scores", "model",
    lambda: S.occlusion(_flat_model, images(), window=8, stride=8, progress=False))
add("rise: model returns B scores", "model", lambda: S.rise(_flat_model, images(), 0, n_masks=4, progress=False))
add("gradient_saliency: target out of range", "target", lambda: S.gradient_saliency(_model(), images(), 10))
add("gradient_saliency: target negative", "target", lambda: S.gradient_saliency(_model(), images(), -1))
add("gradient_saliency: target of the wrong length", "target",
    lambda: S.gradient_saliency(_model(), images(), torch.tensor([0, 1])))
add("gradient_saliency: target of floats", "target", lambda: S.gradient_saliency(_model(), images(), torch.zeros(4)))
add("gradient_saliency: target is a string", "target", lambda: S.gradient_saliency(_model(), images(), "cat"))
add("gradient_saliency: batch_size 0", "batch_size", lambda: S.gradient_saliency(_model(), images(), batch_size=0))
add("gradient_saliency: batch_size 2.5", "batch_size", lambda: S.gradient_saliency(_model(), images(), batch_size=2.5))

add("grad_cam: unknown layer", "layer", lambda: S.grad_cam(_model(), images(), layer="conv9"))
add("grad_cam: layer is an int", "layer", lambda: S.grad_cam(_model(), images(), layer=3))
add("grad_cam: layer outputs B x K, not a map", "layer", lambda: S.grad_cam(_model(), images(), layer="7"))
add("grad_cam: layer runs twice", "layer", lambda: S.grad_cam(_twice(), images(), 0, layer="act"))
add("grad_cam: model is a plain function", "model", lambda: S.grad_cam(lambda x: _model()(x), images(), 0, layer="3"))
add("grad_cam: layer passed where target goes", "target", lambda: S.grad_cam(_model(), images(), "3", layer="3"))
add("grad_cam: upsample is a string", "upsample", lambda: S.grad_cam(_model(), images(), layer="3", upsample="yes"))
add("grad_cam: target out of range", "target", lambda: S.grad_cam(_model(), images(), 10, layer="3"))

# --------------------------------------------------------------------------- occlusion
for value in (0, 29, 2.5, NAN):
    add(f"occlusion: window {value}", "window",
        lambda value=value: S.occlusion(_model(), images(), window=value, stride=1, progress=False))
for value in (0, 9, NAN):
    add(f"occlusion: stride {value}", "stride",
        lambda value=value: S.occlusion(_model(), images(), window=8, stride=value, progress=False))
for value in (NAN, INF, -0.1, 2.0, "grey"):
    add(f"occlusion: baseline {value!r}", "baseline",
        lambda value=value: S.occlusion(_model(), images(), window=8, stride=8, baseline=value, progress=False))
add("occlusion: target out of range", "target",
    lambda: S.occlusion(_model(), images(), 10, window=8, stride=8, progress=False))
add("occlusion: batch_size 0", "batch_size",
    lambda: S.occlusion(_model(), images(), window=8, stride=8, batch_size=0, progress=False))
add("occlusion_maps: no windows", "windows", lambda: S.occlusion_maps(_model(), images(), windows=(), progress=False))
add("occlusion_maps: windows is a string", "windows",
    lambda: S.occlusion_maps(_model(), images(), windows="16", progress=False))
add("occlusion_maps: a window of 0", "windows",
    lambda: S.occlusion_maps(_model(), images(), windows=(0, 8), progress=False))
add("occlusion_maps: no strides", "strides", lambda: S.occlusion_maps(_model(), images(), strides=[], progress=False))
add("occlusion_maps: every stride larger than every window", "strides",
    lambda: S.occlusion_maps(_model(), images(), windows=(4,), strides=(8,), progress=False))
add("occlusion_maps: a window larger than the image", "window",
    lambda: S.occlusion_maps(_model(), images(), windows=(30,), strides=(8,), progress=False))
add("window_starts: size 0", "size", lambda: S.window_starts(0, 1, 1))
add("window_starts: window larger than size", "window", lambda: S.window_starts(10, 11, 1))
add("window_starts: stride NaN", "stride", lambda: S.window_starts(10, 4, NAN))

# --------------------------------------------------------------------------- RISE
for value in (0, -1, 2.5, NAN):
    add(f"rise: n_masks {value}", "n_masks",
        lambda value=value: S.rise(_model(), images(), n_masks=value, progress=False))
for value in (0, NAN, INF, 1.5):
    add(f"rise: p_keep {value}", "p_keep",
        lambda value=value: S.rise(_model(), images(), n_masks=4, p_keep=value, progress=False))
for value in (0, 29, NAN):
    add(f"rise: cells {value}", "cells",
        lambda value=value: S.rise(_model(), images(), n_masks=4, cells=value, progress=False))
for value in (-1, 1.5):
    add(f"rise: seed {value}", "seed",
        lambda value=value: S.rise(_model(), images(), n_masks=4, seed=value, progress=False))
add("rise: a target with all_classes", "target",
    lambda: S.rise(_model(), images(), 0, n_masks=4, all_classes=True, progress=False))
add("rise: all_classes is a string", "all_classes",
    lambda: S.rise(_model(), images(), n_masks=4, all_classes="yes", progress=False))
add("rise: target out of range", "target", lambda: S.rise(_model(), images(), 10, n_masks=4, progress=False))
add("rise: batch_size 0", "batch_size", lambda: S.rise(_model(), images(), n_masks=4, batch_size=0, progress=False))
add("rise_masks: size (0, 5)", "size", lambda: S.rise_masks(4, (0, 5)))
add("rise_masks: size is an int", "size", lambda: S.rise_masks(4, 28))
add("rise_masks: size holds a string", "size", lambda: S.rise_masks(4, ("a", 3)))
add("rise_grids: n_masks 0", "n_masks", lambda: S.rise_grids(0))
add("upsample_grids: 2-d grids", "grids", lambda: S.upsample_grids(torch.rand(7, 7), torch.zeros(7, 2), (28, 28)))
add("upsample_grids: shifts of the wrong shape", "shifts",
    lambda: S.upsample_grids(torch.rand(3, 7, 7), torch.zeros(2, 2, dtype=torch.long), (28, 28)))

# --------------------------------------------------------------------------- causal metrics
for why, maps in {"all NaN": lambda: torch.full((4, H, W), NAN),
                  "one NaN": lambda: _maps().index_put_((torch.tensor(0),), torch.tensor(NAN)),
                  "infinite": lambda: _maps() * INF, "of the wrong shape": lambda: _maps()[:, :10],
                  "of ints": lambda: torch.ones(4, H, W, dtype=torch.long), "a list": lambda: _maps().tolist(),
                  "for 3 images": lambda: _maps(3)}.items():
    add(f"causal_curve: saliency {why}", "saliency",
        lambda maps=maps: S.causal_curve(_model(), images(), maps(), step=200, progress=False))
add("deletion_auc: saliency all NaN", "saliency",
    lambda: S.deletion_auc(_model(), images(), torch.full((4, H, W), NAN), step=200, progress=False))
add("insertion_auc: saliency all NaN", "saliency",
    lambda: S.insertion_auc(_model(), images(), torch.full((4, H, W), NAN), step=200, progress=False))
add("insertion_auc: x is NaN", "x", lambda: S.insertion_auc(_model(), BAD_IMAGES["NaN"](), _maps(), progress=False))
add("causal_curve: unknown mode", "mode",
    lambda: S.causal_curve(_model(), images(), _maps(), mode="sideways", progress=False))
add("causal_curve: mode None", "mode", lambda: S.causal_curve(_model(), images(), _maps(), mode=None, progress=False))
for value in (0, H * W + 1, NAN):
    add(f"deletion_auc: step {value}", "step",
        lambda value=value: S.deletion_auc(_model(), images(), _maps(), step=value, progress=False))
add("causal_curve: target out of range", "target",
    lambda: S.causal_curve(_model(), images(), _maps(), 10, step=200, progress=False))
add("auc: a 1-d curve", "curve", lambda: S.auc(torch.rand(5)))
add("auc: a single point", "curve", lambda: S.auc(torch.rand(3, 1)))
add("auc: NaN in the curve", "curve", lambda: S.auc(torch.tensor([[1.0, NAN, 0.0]])))
add("auc: a list", "curve", lambda: S.auc([[1.0, 0.5]]))
add("blur: even kernel_size", "kernel_size", lambda: S.blur(images(), kernel_size=4))
add("blur: kernel_size 0", "kernel_size", lambda: S.blur(images(), kernel_size=0))
add("blur: sigma 0", "sigma", lambda: S.blur(images(), sigma=0))
add("blur: sigma NaN", "sigma", lambda: S.blur(images(), sigma=NAN))

# --------------------------------------------------------------------------- sanity check
add("randomize_layers: no layers", "layers", lambda: S.randomize_layers(_model(), []))
add("randomize_layers: unknown layer", "layer", lambda: S.randomize_layers(_model(), ["fc9"]))
add("randomize_layers: seed -1", "seed", lambda: S.randomize_layers(_model(), ["7"], seed=-1))
add("randomize_layers: model is a function", "model", lambda: S.randomize_layers(lambda x: x, ["7"]))
add("rank_correlation: shapes differ", "a and b", lambda: S.rank_correlation(torch.rand(2, 4, 4), torch.rand(2, 4, 5)))
add("rank_correlation: NaN in a", "a", lambda: S.rank_correlation(torch.full((2, 4, 4), NAN), torch.rand(2, 4, 4)))
add("rank_correlation: b is a list", "b", lambda: S.rank_correlation(torch.rand(2, 4), [[0.0] * 4] * 2))
add("model_randomization_check: no methods", "methods",
    lambda: S.model_randomization_check(_model(), images(), methods={}, layers=["7"]))
add("model_randomization_check: a method that is not callable", "methods",
    lambda: S.model_randomization_check(_model(), images(), methods={"g": 5}, layers=["7"]))
add("model_randomization_check: a method returning the wrong shape", "methods",
    lambda: S.model_randomization_check(_model(), images(), methods={"g": lambda m, x, t: x}, layers=["7"]))
add("model_randomization_check: a method returning NaN maps", "methods",
    lambda: S.model_randomization_check(_model(), images(), methods={"g": lambda m, x, t: torch.full((4, H, W), NAN)},
                                        layers=["7"]))
add("model_randomization_check: no layers", "layers",
    lambda: S.model_randomization_check(_model(), images(), methods={"g": _gradient}, layers=[]))
add("model_randomization_check: seed 1.5", "seed",
    lambda: S.model_randomization_check(_model(), images(), methods={"g": _gradient}, layers=["7"], seed=1.5))
add("model_randomization_check: target out of range", "target",
    lambda: S.model_randomization_check(_model(), images(), 10, methods={"g": _gradient}, layers=["7"]))

# --------------------------------------------------------------------------- pictures and the widget
add("plotting.overlay: image is 4-d", "image", lambda: P.overlay(images(), torch.rand(H, W)))
add("plotting.overlay: image is uint8", "image", lambda: P.overlay(BAD_IMAGES["uint8"]()[0], torch.rand(H, W)))
add("plotting.overlay: saliency of the wrong shape", "saliency", lambda: P.overlay(images()[0], torch.rand(4, 4)))
add("plotting.overlay: saliency NaN", "saliency", lambda: P.overlay(images()[0], torch.full((H, W), NAN)))
add("plotting.overlay: alpha NaN", "alpha", lambda: P.overlay(images()[0], torch.rand(H, W), alpha=NAN))
add("plotting.overlay: unknown cmap", "cmap", lambda: P.overlay(images()[0], torch.rand(H, W), cmap="nope"))
add("plotting.normalize_map: a list", "saliency", lambda: P.normalize_map([[0.0, 1.0]]))
add("plotting.compare_maps: no maps", "maps", lambda: P.compare_maps(images(), {}))
add("plotting.compare_maps: a map of the wrong shape", "maps['a']", lambda: P.compare_maps(images(), {"a": _maps(3)}))
add("plotting.compare_maps: row_titles of the wrong length", "row_titles",
    lambda: P.compare_maps(images(), {"a": _maps()}, row_titles=["one"]))
add("plotting.occlusion_figure: result is a tensor", "result",
    lambda: P.occlusion_figure(images()[0], torch.rand(1, H, W)))
add("plotting.occlusion_widget: image is 4-d", "image", lambda: P.occlusion_widget(_model(), images(), progress=False))
add("plotting.occlusion_widget: no windows", "windows",
    lambda: P.occlusion_widget(_model(), images()[0], windows=(), progress=False))
add("plotting.map_figure: saliency of the wrong shape", "saliency", lambda: P.map_figure(images()[0], torch.rand(4, 4)))
add("plotting.map_figure: image is 4-d", "image", lambda: P.map_figure(images(), torch.rand(H, W)))
add("plotting.causal_curves_figure: no curves", "curves", lambda: P.causal_curves_figure({}))
add("plotting.causal_curves_figure: no insertion curve", "curves['a']",
    lambda: P.causal_curves_figure({"a": {"deletion": torch.rand(2, 5)}}))
add("plotting.causal_curves_figure: NaN curve", "curve",
    lambda: P.causal_curves_figure({"a": {"deletion": torch.full((2, 5), NAN), "insertion": torch.rand(2, 5)}}))
add("plotting.randomization_figure: a dict", "check", lambda: P.randomization_figure({"gradient": torch.rand(2, 3)}))
add("plotting.occlusion_figure: index out of range", "index",
    lambda: P.occlusion_figure(images()[0], S.occlusion(_model(), images(1), window=14, stride=14, progress=False), index=1))

# --------------------------------------------------------------------------- added with issues 11 and 16
add("plotting.clip_map: a list", "saliency", lambda: P.clip_map([[0.0, 1.0]]))
add("plotting.clip_map: 1-d", "saliency", lambda: P.clip_map(torch.rand(5)))
add("plotting.clip_map: empty", "saliency", lambda: P.clip_map(torch.rand(0, 4)))
add("plotting.clip_map: NaN", "saliency", lambda: P.clip_map(torch.full((H, W), NAN)))
add("plotting.clip_map: inf", "saliency", lambda: P.clip_map(torch.full((H, W), INF)))
add("plotting.clip_map: percentile 0", "percentile", lambda: P.clip_map(torch.rand(H, W), 0))
add("plotting.clip_map: percentile 150", "percentile", lambda: P.clip_map(torch.rand(H, W), 150))
add("plotting.clip_map: percentile NaN", "percentile", lambda: P.clip_map(torch.rand(H, W), NAN))
add("plotting.clip_map: percentile a string", "percentile", lambda: P.clip_map(torch.rand(H, W), "99"))
add("plotting.overlay: percentile 0", "percentile", lambda: P.overlay(images()[0], torch.rand(H, W), percentile=0))
add("plotting.map_figure: percentile NaN", "percentile", lambda: P.map_figure(images()[0], torch.rand(H, W), percentile=NAN))
add("plotting.map_figure: unknown overlay_cmap", "overlay_cmap",
    lambda: P.map_figure(images()[0], torch.rand(H, W), overlay_cmap="nope"))
add("plotting.map_figure: unknown cmap", "cmap", lambda: P.map_figure(images()[0], torch.rand(H, W), cmap="nope"))
add("plotting.map_figure: saliency NaN", "saliency", lambda: P.map_figure(images()[0], torch.full((H, W), NAN)))
add("plotting.compare_maps: percentile -1", "percentile", lambda: P.compare_maps(images(), {"a": _maps()}, percentile=-1))
add("plotting.compare_maps: images 0-255", "images", lambda: P.compare_maps(images() * 255, {"a": _maps()}))
add("plotting.compare_maps: a NaN map", "maps['a']", lambda: P.compare_maps(images(), {"a": _maps() * NAN}))
_occ = lambda: S.occlusion(_model(), images(1), window=14, stride=7, progress=False)  # noqa: E731
add("plotting.occlusion_figure: window 0", "window", lambda: P.occlusion_figure(images()[0], _occ(), window=0))
add("plotting.occlusion_figure: window 2.5", "window", lambda: P.occlusion_figure(images()[0], _occ(), window=2.5))
add("plotting.occlusion_figure: image is 4-d", "image", lambda: P.occlusion_figure(images(1), _occ()))
add("plotting.occlusion_figure: image is 0-255", "image", lambda: P.occlusion_figure(images()[0] * 255, _occ()))
add("plotting.occlusion_figure: index -1", "index", lambda: P.occlusion_figure(images()[0], _occ(), index=-1))
add("occlusion_batch_size: model is a string", "model", lambda: S.occlusion_batch_size("lenet", images()))
add("occlusion: batch_size 0 (default None is fine)", "batch_size",
    lambda: S.occlusion(_model(), images(1), window=14, stride=14, batch_size=0, progress=False))
add("occlusion: batch_size 'auto'", "batch_size",
    lambda: S.occlusion(_model(), images(1), window=14, stride=14, batch_size="auto", progress=False))
add("occlusion_maps: batch_size -1", "batch_size",
    lambda: S.occlusion_maps(_model(), images(1), windows=(14,), strides=(14,), batch_size=-1, progress=False))
add("occlusion: model None with the default batch", "model",
    lambda: S.occlusion(None, images(1), window=14, stride=14, progress=False))
add("rise: control_variate is a string", "control_variate",
    lambda: S.rise(_model(), images(1), n_masks=4, control_variate="yes", progress=False))
add("rise: control_variate is 1", "control_variate",
    lambda: S.rise(_model(), images(1), n_masks=4, control_variate=1, progress=False))
