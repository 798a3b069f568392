"""Tests for lectures_lib.saliency: Captum as the reference, closed forms on hand-made models."""
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from figure_rules import figure_problems  # the shared rules every test figure meets
from torch import nn

from lectures_lib import saliency as S
from lectures_lib.plotting import saliency as P

captum_attr = pytest.importorskip("captum.attr")

H = W = 18  # not a multiple of the windows used below: the last window is cut off, as in Captum


def tiny_cnn(seed: int = 0, inplace: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 4, 3, padding=1), relu1=nn.ReLU(),
        conv2=nn.Conv2d(4, 6, 3, padding=1, stride=2), relu2=nn.ReLU(inplace=inplace),
        pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=nn.Linear(6, 5),
    )).eval()


class LinearProbability(nn.Module):
    """Two classes whose softmax probabilities are affine in the pixels:
    p0(x) = a + sum(w * x), p1 = 1 - p0 (logits log p0, log p1)."""

    def __init__(self, shape=(3, H, W), a: float = 0.5, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        n = torch.tensor(shape).prod()
        self.w = nn.Parameter((torch.rand(shape, generator=g) * 2 - 1) * 0.4 / n)
        self.a = a

    def p0(self, x):
        return self.a + (self.w * x).flatten(1).sum(1)

    def forward(self, x):
        p = self.p0(x)
        return torch.stack([p.log(), (1 - p).log()], dim=1)


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 3, H, W, generator=torch.Generator().manual_seed(1))


# --------------------------------------------------------------------------- Captum references

@pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")
def test_gradient_saliency_equals_captum_saliency_max_over_channels(images):
    model = tiny_cnn()
    target = torch.tensor([0, 3, 4])
    ours = S.gradient_saliency(model, images, target)
    ref = captum_attr.Saliency(model).attribute(images.clone(), target=target, abs=True).amax(dim=1)
    assert ours.shape == (3, H, W)
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("window,stride", [(4, 4), (5, 5), (6, 3)])
def test_occlusion_equals_captum_occlusion_on_probabilities(images, window, stride):
    model = tiny_cnn()
    target = torch.tensor([1, 2, 0])
    ours = S.occlusion(model, images, target, window=window, stride=stride, baseline=0.0, progress=False)
    def probs(x):
        return model(x).softmax(dim=1)

    ref = captum_attr.Occlusion(probs).attribute(
        images.clone(), sliding_window_shapes=(3, window, window), strides=(3, stride, stride),
        baselines=0.0, target=target, perturbations_per_eval=16)
    torch.testing.assert_close(ours.saliency, ref[:, 0], atol=1e-6, rtol=1e-5)
    assert torch.equal(ref[:, 0], ref[:, 2])  # Captum's map is the same on every channel
    n = len(S.window_starts(H, window, stride))
    assert ours.probability.shape == (3, n, n)


def test_grad_cam_equals_captum_layer_grad_cam(images):
    model = tiny_cnn()
    target = torch.tensor([4, 0, 2])
    ours = S.grad_cam(model, images, target, layer="relu2", upsample=False)
    ref = captum_attr.LayerGradCam(model, model.relu2).attribute(images, target=target, relu_attributions=True)
    assert ours.shape == ref[:, 0].shape == (3, 9, 9)
    torch.testing.assert_close(ours, ref[:, 0])
    up = S.grad_cam(model, images, target, layer="relu2")
    assert up.shape == (3, H, W)
    torch.testing.assert_close(up, F.interpolate(ref, size=(H, W), mode="bilinear", align_corners=False)[:, 0])


def test_grad_cam_ignores_a_later_inplace_relu(images):
    """The hook keeps the layer's output; an in-place ReLU right after must not change it."""
    conv2_out = S.grad_cam(tiny_cnn(inplace=False), images, 1, layer="conv2")
    assert torch.equal(S.grad_cam(tiny_cnn(inplace=True), images, 1, layer="conv2"), conv2_out)


def test_grad_cam_rejects_a_module_used_twice_and_removes_its_hook(images):
    relu = nn.ReLU()
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 3, 3, padding=1), act=relu, conv2=nn.Conv2d(3, 3, 1),
                                      act2=relu, pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten()))
    with pytest.raises(ValueError, match="ran 2 times"):
        S.grad_cam(model, images, 0, layer="act")
    assert not relu._forward_hooks


# --------------------------------------------------------------------------- closed forms on a linear model

def test_occlusion_closed_form_on_linear_model(images):
    model, x, k, baseline = LinearProbability(), images[:2], 6, 0.25
    res = S.occlusion(model, x, 0, window=k, stride=k, baseline=baseline, progress=False)
    p = model.p0(x)
    contrib = (model.w * (x - baseline)).sum(dim=1)                 # B x H x W: what each pixel adds
    block = contrib.view(2, H // k, k, W // k, k).sum(dim=(2, 4))    # sum over each window
    torch.testing.assert_close(res.clean, p.detach())
    torch.testing.assert_close(res.probability, (p[:, None, None] - block).detach())
    torch.testing.assert_close(res.saliency, block.repeat_interleave(k, 1).repeat_interleave(k, 2).detach())


def test_occlusion_probability_map_closed_form_with_overlapping_windows(images):
    model, x, k, s = LinearProbability(), images[:1], 5, 2
    res = S.occlusion(model, x, 0, window=k, stride=s, progress=False)
    contrib = (model.w * x).sum(dim=1)[0].detach()
    rows, cols = res.starts
    expected = torch.tensor([[float(model.p0(x).detach()) - float(contrib[i:i + k, j:j + k].sum()) for j in cols]
                             for i in rows])
    torch.testing.assert_close(res.probability[0], expected)


def test_rise_closed_form_on_linear_model(images):
    model, x, n, p_keep = LinearProbability(), images[:2], 300, 0.4
    sal = S.rise(model, x, n_masks=n, cells=3, p_keep=p_keep, batch_size=32, seed=5, all_classes=True, progress=False)
    masks = S.rise_masks(n, (H, W), cells=3, p_keep=p_keep, seed=5).view(n, -1)     # N x HW
    wx = (model.w * x).sum(dim=1).view(2, -1).detach()                              # B x HW
    p0 = model.a + wx @ masks.T                                                      # B x N: p0(x * m_n)
    expected0 = (p0 @ masks / (n * p_keep)).view(2, H, W)
    assert sal.shape == (2, 2, H, W)
    torch.testing.assert_close(sal[:, 0], expected0, atol=1e-5, rtol=1e-5)
    # p0 + p1 = 1, so the two class maps add up to the mean mask / p_keep
    torch.testing.assert_close(sal.sum(dim=1), (masks.mean(0) / p_keep).view(1, H, W).expand(2, -1, -1),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(S.rise(model, x, 0, n_masks=n, cells=3, p_keep=p_keep, batch_size=32, seed=5,
                                       progress=False), sal[:, 0])


def test_rise_of_a_constant_model_is_that_constant():
    """E[m] = p_keep, so a model that ignores the image gets a flat map equal to its probability."""
    model = LinearProbability(a=0.7)
    with torch.no_grad():
        model.w.zero_()
    sal = S.rise(model, torch.rand(1, 3, H, W), 0, n_masks=4000, cells=4, p_keep=0.5, progress=False)
    assert (sal - 0.7).abs().max() < 0.05


def test_rise_control_variate_is_rise_without_its_noise_term(images):
    """S_cv - S = pbar (1 - sum_n m_n / (N p)), exactly; a constant model gets exactly its constant; and on a
    model whose probability is high under every mask, two independent halves agree far better."""
    model = tiny_cnn()
    kw = {"n_masks": 60, "cells": 3, "p_keep": 0.5, "seed": 4, "batch_size": 16, "progress": False}
    plain = S.rise(model, images, 2, **kw)
    cv = S.rise(model, images, 2, control_variate=True, **kw)
    masks = S.rise_masks(60, (H, W), cells=3, p_keep=0.5, seed=4).double()
    with torch.no_grad():
        pbar = torch.stack([model(images[i] * masks[:, None].float()).softmax(1)[:, 2].double().mean() for i in range(3)])
    expected = pbar.view(3, 1, 1) * (1 - masks.sum(0) / (60 * 0.5))
    torch.testing.assert_close((cv - plain).double(), expected, atol=1e-5, rtol=1e-4)
    flat = LinearProbability(a=0.7)
    with torch.no_grad():
        flat.w.zero_()
    const = S.rise(flat, torch.rand(1, 3, H, W), 0, n_masks=50, cells=4, control_variate=True, progress=False)
    torch.testing.assert_close(const, torch.full_like(const, 0.7))
    lin = LinearProbability(a=0.8, seed=3)       # p0 near 0.8 whatever the mask, plus a small linear part
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(5))
    def split_half(cv_flag):
        a, b = (S.rise(lin, x, 0, n_masks=400, cells=4, seed=s, control_variate=cv_flag, progress=False) for s in (0, 1))
        return float(S.rank_correlation(a, b)[0])
    # measured over three seed pairs: -0.23 to 0.13 without, 0.99 with the control variate; margin 0.5
    assert split_half(True) > 0.9 and split_half(True) > split_half(False) + 0.5


def test_rise_masks_are_smooth_and_keep_p_on_average():
    masks = S.rise_masks(2000, (32, 32), cells=4, p_keep=0.3, seed=0)
    assert masks.shape == (2000, 32, 32) and masks.min() >= 0 and masks.max() <= 1
    assert abs(float(masks.mean()) - 0.3) < 0.02
    assert len(masks[0].unique()) > 2  # bilinear, not binary


def test_deletion_and_insertion_curves_closed_form_on_linear_model(images):
    model, x, step = LinearProbability(), images[:2], 50
    sal = torch.rand(2, H, W, generator=torch.Generator().manual_seed(3))
    order = sal.view(2, -1).argsort(dim=1, descending=True)
    contrib = (model.w * x).sum(dim=1).view(2, -1).detach()
    blurred = (model.w * S.blur(x)).sum(dim=1).view(2, -1).detach()
    n_steps = -(-H * W // step)
    dele = S.causal_curve(model, x, sal, 0, mode="deletion", step=step, progress=False)
    ins = S.causal_curve(model, x, sal, 0, mode="insertion", step=step, progress=False)
    assert dele.shape == ins.shape == (2, n_steps + 1)
    for k in range(n_steps + 1):
        gone = torch.zeros(2, H * W, dtype=torch.bool).scatter_(1, order[:, :k * step], True)
        torch.testing.assert_close(dele[:, k], model.a + (contrib * ~gone).sum(1))
        torch.testing.assert_close(ins[:, k], model.a + (contrib * gone).sum(1) + (blurred * ~gone).sum(1))
    torch.testing.assert_close(S.deletion_auc(model, x, sal, 0, step=step, progress=False), S.auc(dele))
    torch.testing.assert_close(S.insertion_auc(model, x, sal, 0, step=step, progress=False), S.auc(ins))


def test_auc_is_the_trapezoid_rule():
    curve = torch.tensor([[1.0, 0.5, 0.0], [0.2, 0.2, 0.2]])
    torch.testing.assert_close(S.auc(curve), torch.tensor([0.5, 0.2]))


# --------------------------------------------------------------------------- batching, seeds, modes

def test_results_do_not_depend_on_batch_size(images):
    model = tiny_cnn()
    def close(a, b):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)

    close(S.gradient_saliency(model, images, batch_size=1), S.gradient_saliency(model, images, batch_size=64))
    close(S.grad_cam(model, images, layer="conv2", batch_size=2),
          S.grad_cam(model, images, layer="conv2", batch_size=64))
    a = S.occlusion(model, images, window=4, stride=2, batch_size=7, progress=False)
    b = S.occlusion(model, images, window=4, stride=2, batch_size=64, progress=False)
    close(a.probability, b.probability)
    close(a.saliency, b.saliency)
    close(S.rise(model, images, n_masks=50, cells=3, batch_size=3, progress=False),
          S.rise(model, images, n_masks=50, cells=3, batch_size=64, progress=False))
    sal = torch.rand(3, H, W)
    close(S.causal_curve(model, images, sal, step=30, batch_size=5, progress=False),
          S.causal_curve(model, images, sal, step=30, batch_size=64, progress=False))


def test_rise_same_seed_same_map_other_seed_other_map(images):
    model = tiny_cnn()
    a = S.rise(model, images[:1], 0, n_masks=40, cells=3, seed=7, progress=False)
    assert torch.equal(a, S.rise(model, images[:1], 0, n_masks=40, cells=3, seed=7, progress=False))
    assert not torch.equal(a, S.rise(model, images[:1], 0, n_masks=40, cells=3, seed=8, progress=False))


def test_default_target_is_the_predicted_class_and_model_mode_is_restored(images):
    model = tiny_cnn().train()
    predicted = model.eval()(images).argmax(1)
    model.train()
    torch.testing.assert_close(S.gradient_saliency(model, images), S.gradient_saliency(model, images, predicted))
    torch.testing.assert_close(S.occlusion(model, images, window=6, stride=6, progress=False).saliency,
                               S.occlusion(model, images, predicted, window=6, stride=6, progress=False).saliency)
    assert model.training


# --------------------------------------------------------------------------- bad input
# (the full table is tests/bad_inputs_saliency.py; these check the exact wording of a few messages)

@pytest.mark.parametrize("call,match", [
    (lambda m, x: S.gradient_saliency(m, x[0]), "x must have shape B x C x H x W"),
    (lambda m, x: S.occlusion(m, x * 2), r"x must hold values in \[0, 1\]"),
    (lambda m, x: S.rise(m, x - 0.5, n_masks=10), r"x must hold values in \[0, 1\]"),
    (lambda m, x: S.occlusion(m, x, window=H + 1), "window must fit in the image: window=19 > image size 18"),
    (lambda m, x: S.occlusion(m, x, window=4, stride=5),
     "stride must be <= window so that every pixel is covered, got stride=5 > window=4"),
    (lambda m, x: S.rise(m, x, n_masks=0), "n_masks must be >= 1"),
    (lambda m, x: S.rise(m, x, n_masks=10, p_keep=0), "p_keep must be > 0"),
    (lambda m, x: S.rise(m, x, n_masks=10, p_keep=float("nan")), "p_keep must be a finite number"),
    (lambda m, x: S.rise(m, x, n_masks=10, cells=H + 1), "cells must be <= 18"),
    (lambda m, x: S.rise(m, x, 0, n_masks=10, all_classes=True), "target must be None with all_classes=True"),
    (lambda m, x: S.grad_cam(m, x, layer="conv9"), "layer 'conv9' is not a module"),
    (lambda m, x: S.gradient_saliency(m, x, target=torch.tensor([0, 1])), r"target must have shape \(3,\)"),
    (lambda m, x: S.gradient_saliency(m, x, target=5), r"target must hold class indices in \[0, 5\)"),
    (lambda m, x: S.occlusion(m, x, target=9, window=4, stride=4, progress=False),
     r"target must hold class indices in \[0, 5\)"),
    (lambda m, x: S.occlusion(m, x, window=4, stride=4, baseline=float("nan")), "baseline must be a finite number"),
    (lambda m, x: S.deletion_auc(m, x, torch.rand(3, H)), "saliency must be a tensor of shape"),
    (lambda m, x: S.deletion_auc(m, x, torch.full((3, H, W), float("nan"))), "saliency must be finite"),
    (lambda m, x: S.causal_curve(m, x, torch.rand(3, H, W), mode="sideways"), "mode must be one of"),
    (lambda m, x: P.overlay(x[0], torch.rand(4, 4)), "saliency must be an H x W tensor"),
])
def test_bad_input_gets_a_clear_error(images, call, match):
    with pytest.raises(ValueError, match=match):
        call(tiny_cnn(), images)


def test_rise_rejects_a_non_tensor_and_a_float_n_masks(images):
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        S.rise(tiny_cnn(), images.numpy(), n_masks=10)
    with pytest.raises(TypeError, match="n_masks must be an int"):
        S.rise(tiny_cnn(), images, n_masks=10.5)


def test_grad_cam_with_the_layer_in_the_old_position_says_it_is_keyword_only(images):
    with pytest.raises(TypeError, match="keyword-only argument: 'layer'"):
        S.grad_cam(tiny_cnn(), images, "relu2")
    with pytest.raises(TypeError, match="layer is keyword-only"):
        S.grad_cam(tiny_cnn(), images, "relu2", layer="relu2")


# --------------------------------------------------------------------------- sanity check

def test_rank_correlation():
    a = torch.arange(12.0).view(1, 3, 4)
    torch.testing.assert_close(S.rank_correlation(a, a ** 3), torch.tensor([1.0]))
    torch.testing.assert_close(S.rank_correlation(a, -a), torch.tensor([-1.0]))
    torch.testing.assert_close(S.rank_correlation(a, torch.zeros_like(a)), torch.tensor([0.0]))
    ties = torch.tensor([[1.0, 1.0, 2.0, 3.0]])  # Spearman with average ranks 1.5, 1.5, 3, 4
    torch.testing.assert_close(S.rank_correlation(ties, torch.tensor([[1.0, 2.0, 3.0, 4.0]])),
                               torch.tensor([0.9486833]), atol=1e-6, rtol=0)


def test_randomize_layers_changes_only_the_named_layers_of_a_copy():
    model = tiny_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rand = S.randomize_layers(model, ["fc", "conv2"], seed=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    changed = {k for k, v in rand.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"fc.weight", "fc.bias", "conv2.weight", "conv2.bias"}


def test_model_randomization_check_flags_a_map_that_ignores_the_model(images):
    methods = {"gradient": lambda m, x, t: S.gradient_saliency(m, x, t),
               "edge detector": lambda m, x, t: x.mean(dim=1)}  # the same map whatever the weights
    res = S.model_randomization_check(tiny_cnn(), images, methods=methods, layers=["fc", "conv2", "conv1"])
    assert res.correlation["edge detector"].shape == (3, 3)
    torch.testing.assert_close(res.correlation["edge detector"], torch.ones(3, 3))
    assert len(res.maps["gradient"]) == 4
    assert res.correlation["gradient"][-1].mean() < 0.9


# --------------------------------------------------------------------------- the contract: dtypes, devices, targets

METHODS = {
    "gradient": lambda m, x, t=None: S.gradient_saliency(m, x, t, batch_size=2),
    "grad_cam": lambda m, x, t=None: S.grad_cam(m, x, t, layer="conv2", batch_size=2),
    "occlusion": lambda m, x, t=None: S.occlusion(m, x, t, window=6, stride=3, batch_size=5, progress=False).saliency,
    "rise": lambda m, x, t=None: S.rise(m, x, t, n_masks=40, cells=3, batch_size=16, progress=False),
}


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_method_works_in_the_models_dtype_and_returns_x_dtype(images, name, dtype):
    method = METHODS[name]
    reference = method(tiny_cnn(), images)
    maps = method(tiny_cnn().to(dtype), images.to(dtype))
    assert maps.shape == (3, H, W) and maps.dtype == dtype and maps.device == images.device
    torch.testing.assert_close(maps.float(), reference, atol=1e-5, rtol=1e-4)
    # float64 images with a float32 model work too (the images are cast), and come back in float64
    mixed = method(tiny_cnn(), images.double())
    assert mixed.dtype == torch.float64
    torch.testing.assert_close(mixed.float(), reference, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_causal_metrics_and_all_classes_rise_in_both_dtypes(images, dtype):
    model, x = tiny_cnn().to(dtype), images.to(dtype)
    sal = torch.rand(3, H, W, generator=torch.Generator().manual_seed(0))
    curve = S.causal_curve(model, x, sal.to(dtype), mode="insertion", step=40, progress=False)
    auc = S.deletion_auc(model, x, sal, step=40, progress=False)
    assert curve.dtype == auc.dtype == dtype and curve.shape == (3, -(-H * W // 40) + 1)
    assert float(auc.min()) >= 0 and float(auc.max()) <= 1
    every = S.rise(model, x, n_masks=20, cells=3, all_classes=True, progress=False)
    assert every.shape == (3, 5, H, W) and every.dtype == dtype
    res = S.occlusion(model, x, window=6, stride=6, progress=False)
    assert all(t.dtype == dtype for t in res[:3])
    assert S.rank_correlation(sal.to(dtype), sal.to(dtype)).dtype == dtype


@pytest.mark.parametrize("name", list(METHODS))
def test_target_none_is_the_predicted_class(images, name):
    model = tiny_cnn()
    predicted = model(images).argmax(1)
    torch.testing.assert_close(METHODS[name](model, images), METHODS[name](model, images, predicted))


def test_rise_all_classes_holds_each_class_map(images):
    model = tiny_cnn()
    every = S.rise(model, images, n_masks=30, cells=3, all_classes=True, progress=False)
    torch.testing.assert_close(every[:, 2], S.rise(model, images, 2, n_masks=30, cells=3, progress=False))


def test_methods_accept_a_plain_callable_model(images):
    model = tiny_cnn()
    def fn(x):
        return model(x)

    for name in ("gradient", "occlusion", "rise"):
        torch.testing.assert_close(METHODS[name](fn, images), METHODS[name](model, images))
    sal = torch.rand(3, H, W)
    torch.testing.assert_close(S.deletion_auc(fn, images, sal, step=50, progress=False),
                               S.deletion_auc(model, images, sal, step=50, progress=False))


def test_occlusion_result_has_the_map_first(images):
    res = S.occlusion(tiny_cnn(), images, window=6, stride=3, progress=False)
    assert S.OcclusionResult._fields[0] == "saliency" and res[0].shape == (3, H, W)


def test_occlusion_maps_precomputes_every_valid_pair(images):
    model = tiny_cnn()
    maps = S.occlusion_maps(model, images[:1], windows=(4, 8), strides=(2, 8), progress=False)
    assert list(maps) == [(4, 2), (8, 2), (8, 8)]
    torch.testing.assert_close(maps[8, 2].saliency, S.occlusion(model, images[:1], window=8, stride=2,
                                                                progress=False).saliency)


def test_randomize_layers_leaves_the_global_rng_alone():
    model = tiny_cnn()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = S.randomize_layers(model, ["fc"], seed=4)
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(a.fc.weight, S.randomize_layers(tiny_cnn(), "fc", seed=4).fc.weight)


# --------------------------------------------------------------------------- pictures and the widget

def colorbars(fig) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_clip_map_is_simonyans_display_scale():
    m = torch.arange(100.0).view(1, 10, 10)
    out = P.clip_map(m, 90)
    assert out.shape == m.shape and out.max() == 1 and out.min() == 0
    q = torch.quantile(m.flatten(), 0.9)
    torch.testing.assert_close(out[0, 0, 5], torch.tensor(5 / float(q)))
    assert (out.flatten() >= 1).sum() == 10                             # the top 10% saturate
    torch.testing.assert_close(P.clip_map(m + 0.7, 90), out)              # an offset (RISE's probabilities) is removed
    assert torch.equal(P.clip_map(torch.zeros(4, 4)), torch.zeros(4, 4))  # a constant map stays 0
    sparse = torch.zeros(10, 10)
    sparse[0, 0] = 3.0                                                  # 99th percentile 0: scaled by the max
    assert P.clip_map(sparse)[0, 0] == 1


def test_overlay_and_compare_maps_share_one_labelled_scale(images):
    import matplotlib.pyplot as plt

    out = P.overlay(images[0], torch.rand(H, W))
    assert out.shape == (H, W, 3) and out.min() >= 0 and out.max() <= 1
    fig = P.compare_maps(images[:2], {"a": torch.rand(2, H, W), "b": torch.rand(2, H, W).double()},
                         row_titles=["x", "y"], title="t")
    bars = colorbars(fig)
    assert len(fig.axes) == 7 and len(bars) == 1 and bars[0].get_ylabel() == P.SCALE_LABEL.format(p=99)
    assert [ax.get_title() for ax in fig.axes[:3]] == ["x", "a", "b"] and not figure_problems(fig)
    plt.close(fig)


def test_map_figure_shows_a_grey_map_beside_the_overlay_with_colour_bars(images):
    import matplotlib.pyplot as plt

    fig = P.map_figure(images[0], torch.rand(H, W).double(), title="a map")
    bars = colorbars(fig)
    assert len(fig.axes) == 5 and fig.axes[1].get_title() == "a map" and len(bars) == 2
    assert fig.axes[1].images[0].get_cmap().name == "gray" and all("percentile" in b.get_ylabel() for b in bars)
    assert fig.axes[1].images[0].get_array().max() <= 1 and not figure_problems(fig)
    plt.close(fig)


def test_lesson_figures(images):
    import matplotlib.pyplot as plt

    model = tiny_cnn()
    curves = {name: {mode: S.causal_curve(model, images, torch.rand(3, H, W), mode=mode, step=60, progress=False)
                     for mode in ("deletion", "insertion")} for name in ("a", "b")}
    fig = P.causal_curves_figure(curves)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2] and all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert not figure_problems(fig)
    plt.close(fig)
    check = S.model_randomization_check(model, images, methods={"gradient": METHODS["gradient"]}, layers=["fc", "conv2"])
    fig = P.randomization_figure(check)
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and list(ax.lines[0].get_ydata())[0] == 1.0   # method and zero line; 1 = the trained model
    assert ax.get_title().startswith("Sanity check") and ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_xticklabels()[0].get_text().startswith("trained model") and not figure_problems(fig)
    plt.close(fig)


def test_occlusion_figure_is_in_pixel_coordinates_with_the_occluder_drawn(images):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    res = S.occlusion(tiny_cnn(), images, window=6, stride=3, progress=False)
    fig = P.occlusion_figure(images[1], res, index=1, title="cls", window=6, stride=3)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 and len(colorbars(fig)) == 2
    assert all(ax.get_xlabel() == "x (pixels)" and ax.get_ylabel() == "y (pixels)" for ax in panels)
    prob = panels[1].images[-1]
    left, right, bottom, top = prob.get_extent()
    assert (left, top) == (-0.5 + 3 - 1.5, -0.5 + 3 - 1.5) or left < right            # drawn over the image
    assert right <= W + 3 and bottom <= H + 3 and prob.get_clim() == pytest.approx(
        (float(res.probability[1].min()), float(res.probability[1].max())))    # the scale spans its range
    occluder = [p for p in panels[0].patches if isinstance(p, Rectangle)]
    a, c = divmod(int(res.probability[1].argmin()), res.probability.shape[2])
    assert len(occluder) == 1 and occluder[0].get_xy() == (res.starts[1][c] - 0.5, res.starts[0][a] - 0.5)
    assert occluder[0].get_width() == 6 and colorbars(fig)[0].get_ylabel() == "p(cls)"
    assert not figure_problems(fig)
    plt.close(fig)


def test_occlusion_default_batch_is_small_on_a_cpu(images):
    model = tiny_cnn()
    assert S.occlusion_batch_size(model, images) == 8
    a = S.occlusion(model, images, window=6, stride=3, progress=False)
    b = S.occlusion(model, images, window=6, stride=3, batch_size=64, progress=False)
    torch.testing.assert_close(a.saliency, b.saliency)


def test_occlusion_widget_redraws_from_precomputed_maps(images):
    model = tiny_cnn()
    box = P.occlusion_widget(model, images[0], windows=(4, 8), strides=(2, 4), progress=False)
    assert set(box.results) == {(4, 2), (4, 4), (8, 2), (8, 4)}
    assert (box.state["window"], box.state["stride"]) == (4, 2) and box.renders == 1
    box.controls["window"].value = 8
    assert (box.state["window"], box.state["stride"]) == (8, 2) and box.renders == 2
    box.controls["stride"].value = 4
    assert box.state["result"] is box.results[(8, 4)]
    torch.testing.assert_close(box.state["result"].saliency,
                               S.occlusion(model, images[:1], window=8, stride=4, progress=False).saliency)
    assert len(box.output.outputs) == 1   # one picture, redrawn in place


def test_the_method_module_does_not_draw():
    """Methods hold math only: no plotting, widgets, matplotlib, PIL or io in lectures_lib.saliency."""
    import ast
    import inspect

    modules = set()
    for node in ast.walk(ast.parse(inspect.getsource(S))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add("." * node.level + (node.module or ""))
    banned = ("matplotlib", "ipywidgets", "PIL", "io", ".plotting", ".widgets")
    assert not [m for m in modules if m.split(".")[0] in banned or m.startswith(banned[-2:])], modules
