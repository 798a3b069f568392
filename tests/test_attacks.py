"""Tests for lectures_lib.attacks: torchattacks as the reference for FGSM and PGD, closed forms on
affine models for DeepFool and the linear case, property tests for every attack, and the lesson's
numbers on the offline MNIST models."""
from collections import OrderedDict
import time

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

from lectures_lib import attacks as A

torchattacks = pytest.importorskip("torchattacks")

K = 5  # classes of the tiny models


class Standardize(nn.Module):
    """(x - 0.5) / 0.25: the normalisation lives in the model, as in the course's models."""

    def forward(self, x):
        return (x - 0.5) / 0.25


def tiny_cnn(seed: int = 0, dtype=torch.float64, dropout: bool = False) -> nn.Module:
    """1 x 8 x 8 images in [0, 1] -> 5 logits; ReLU and max-pooling (piecewise linear, like the lesson's LeNet)."""
    torch.manual_seed(seed)
    layers = OrderedDict(norm=Standardize(), conv=nn.Conv2d(1, 4, 3, padding=1), relu=nn.ReLU(),
                         pool=nn.MaxPool2d(2), flat=nn.Flatten())
    if dropout:
        layers["drop"] = nn.Dropout(0.5)
    layers["fc"] = nn.Linear(4 * 4 * 4, K)
    model = nn.Sequential(layers).to(dtype).eval()
    return model


def affine(weight: torch.Tensor, bias: torch.Tensor) -> nn.Module:
    """A linear classifier on flattened images with the given ``K x D`` weights."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(weight.shape[1], weight.shape[0])).to(weight.dtype)
    with torch.no_grad():
        model[1].weight.copy_(weight)
        model[1].bias.copy_(bias)
    return model.eval()


def images(n: int = 6, seed: int = 1, dtype=torch.float64) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def labels(n: int = 6, seed: int = 2) -> torch.Tensor:
    return torch.randint(0, K, (n,), generator=torch.Generator().manual_seed(seed))


def predictions(model, x):
    with torch.no_grad():
        return model(x).argmax(dim=1)


# --------------------------------------------------------------------------- torchattacks references

@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.03, 0.3])
def test_fgsm_equals_torchattacks(eps, targeted):
    model, x, y = tiny_cnn(), images(), labels()
    ref = torchattacks.FGSM(model, eps=eps)
    if targeted:
        ref.set_mode_targeted_by_label(quiet=True)
    torch.testing.assert_close(A.fgsm(model, x, y, eps, targeted=targeted), ref(x, y), atol=1e-6, rtol=0)


@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("eps,alpha,steps", [(0.03, 0.01, 10), (0.3, 0.02, 7), (0.1, 0.2, 3)])
def test_pgd_without_random_start_equals_torchattacks(eps, alpha, steps, targeted):
    model, x, y = tiny_cnn(), images(), labels()
    ref = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)
    if targeted:
        ref.set_mode_targeted_by_label(quiet=True)
    ours = A.pgd(model, x, y, eps, alpha, steps, random_start=False, targeted=targeted)
    torch.testing.assert_close(ours, ref(x, y), atol=1e-6, rtol=0)


def test_pgd_random_start_draws_like_torchattacks():
    model, x, y = tiny_cnn(), images(), labels()
    torch.manual_seed(5)
    ours = A.pgd(model, x, y, 0.1, 0.02, 5)
    torch.manual_seed(5)
    ref = torchattacks.PGD(model, eps=0.1, alpha=0.02, steps=5, random_start=True)(x, y)
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)
    assert not torch.equal(ours, A.pgd(model, x, y, 0.1, 0.02, 5, random_start=False))


@pytest.mark.parametrize("attack", ["fgsm", "pgd", "least_likely", "deepfool"])
def test_attacks_run_in_eval_mode_and_restore_the_mode(attack):
    model, x, y = tiny_cnn(dropout=True), images(), labels()
    model.train()
    run = {"fgsm": lambda m: A.fgsm(m, x, y, 0.1),
           "pgd": lambda m: A.pgd(m, x, y, 0.1, 0.02, 3, random_start=False),
           "least_likely": lambda m: A.least_likely(m, x, 0.1),
           "deepfool": lambda m: A.deepfool(m, x)}[attack]
    out = run(model)
    assert model.training and model.drop.training
    model.eval()
    torch.testing.assert_close(out, run(model))  # dropout was off: same as in eval mode


def test_chunking_does_not_change_the_result():
    model, x, y = tiny_cnn(), images(7), labels(7)
    torch.testing.assert_close(A.fgsm(model, x, y, 0.1, batch_size=3), A.fgsm(model, x, y, 0.1))
    torch.testing.assert_close(A.pgd(model, x, y, 0.1, 0.02, 5, random_start=False, batch_size=2),
                               A.pgd(model, x, y, 0.1, 0.02, 5, random_start=False))


def test_attacks_work_inside_no_grad():
    model, x, y = tiny_cnn(), images(2), labels(2)
    expected = [A.fgsm(model, x, y, 0.1), A.pgd(model, x, y, 0.1, 0.02, 3, random_start=False),
                A.deepfool(model, x), A.lbfgs_attack(model, x, y, search_steps=1, max_iter=5)]
    with torch.no_grad():
        got = [A.fgsm(model, x, y, 0.1), A.pgd(model, x, y, 0.1, 0.02, 3, random_start=False),
               A.deepfool(model, x), A.lbfgs_attack(model, x, y, search_steps=1, max_iter=5)]
        fool = A.fooling_image(model.float(), 0, steps=2, shape=(1, 8, 8))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)
    assert fool.shape == (1, 1, 8, 8)


# --------------------------------------------------------------------------- properties of every attack

BOUNDED = {
    "fgsm": lambda m, x, y, eps: A.fgsm(m, x, y, eps),
    "fgsm_targeted": lambda m, x, y, eps: A.fgsm(m, x, y, eps, targeted=True),
    "pgd": lambda m, x, y, eps: A.pgd(m, x, y, eps, 0.05, 3),
    "bim_targeted": lambda m, x, y, eps: A.pgd(m, x, y, eps, 0.05, 3, random_start=False, targeted=True),
    "least_likely": lambda m, x, y, eps: A.least_likely(m, x, eps, steps=3),
    "linear": lambda m, x, y, eps: A.linear_adversarial(m.fc.weight[y], x, eps),
}

UNBOUNDED = {
    "deepfool": lambda m, x, y: A.deepfool(m, x, max_iter=5, candidates=3),
    "lbfgs": lambda m, x, y: A.lbfgs_attack(m, x, y, search_steps=2, max_iter=10),
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from a second thread, and lose a lot when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 3), eps=st.floats(0.0, 1.0),
       name=st.sampled_from(sorted(BOUNDED)), binary=st.booleans())
def test_bounded_attacks_stay_in_the_eps_ball_and_the_box_and_leave_the_input_alone(seed, n, eps, name, binary):
    x = images(n, seed)
    if binary:  # images on the box's edges, where clamping matters most
        x = x.round()
    y = labels(n, seed + 1)
    before = x.clone()
    out = BOUNDED[name](tiny_cnn(seed % 3), x, y, eps)
    assert torch.equal(x, before)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert (out - x).abs().max() <= eps + 1e-12


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 3), name=st.sampled_from(sorted(UNBOUNDED)))
def test_minimal_attacks_stay_in_the_box_and_leave_the_input_alone(seed, n, name):
    x, y = images(n, seed), labels(n, seed + 1)
    before = x.clone()
    out = UNBOUNDED[name](tiny_cnn(seed % 3), x, y)
    assert torch.equal(x, before)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


# --------------------------------------------------------------------------- targeted attacks reach their target

def test_targeted_pgd_reaches_every_target():
    model, x = tiny_cnn(), images(10, seed=3)
    pred = predictions(model, x)
    for shift in range(1, K):
        target = (pred + shift) % K
        out = A.pgd(model, x, target, eps=1.0, alpha=0.05, steps=60, random_start=False, targeted=True)
        assert torch.equal(predictions(model, out), target)


def test_least_likely_reaches_the_least_likely_class():
    model, x = tiny_cnn(), images(10, seed=4)
    with torch.no_grad():
        least = model(x).argmin(dim=1)
    out = A.least_likely(model, x, eps=1.0, alpha=0.05, steps=60)
    assert torch.equal(predictions(model, out), least)
    assert not torch.equal(least, predictions(model, x))


def test_lbfgs_reaches_its_target_with_a_smaller_perturbation_than_targeted_pgd():
    model, x = tiny_cnn(), images(3, seed=5)
    target = (predictions(model, x) + 2) % K
    out = A.lbfgs_attack(model, x, target, search_steps=5, max_iter=50)
    assert torch.equal(predictions(model, out), target)
    pgd = A.pgd(model, x, target, eps=1.0, alpha=0.05, steps=60, random_start=False, targeted=True)
    l2 = lambda z: (z - x).flatten(1).norm(dim=1)  # noqa: E731
    assert (l2(out) < l2(pgd)).all()


def test_lbfgs_search_keeps_a_larger_c_for_a_smaller_perturbation():
    model, x = tiny_cnn(), images(3, seed=6)
    target = (predictions(model, x) + 1) % K
    one = A.lbfgs_attack(model, x, target, search_steps=1, max_iter=50)  # a single c = 1
    searched = A.lbfgs_attack(model, x, target, search_steps=5, max_iter=50)
    ok = predictions(model, one) == target
    norm = lambda z: (z - x).flatten(1).norm(dim=1)  # noqa: E731
    assert torch.equal(predictions(model, searched), target)
    assert (norm(searched)[ok] <= norm(one)[ok] + 1e-9).all()


# --------------------------------------------------------------------------- closed forms

def test_linear_adversarial_is_eps_times_the_sign_of_the_template():
    w = torch.randn(1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.full((2, 1, 8, 8), 0.5, dtype=torch.float64)
    out = A.linear_adversarial(w, x, 0.1)
    torch.testing.assert_close(out, x + 0.1 * w.sign().expand_as(x))
    # the raise of the score w^T x is eps |w|_1, the most any L-inf step of size eps can give
    torch.testing.assert_close((out - x).flatten(1) @ w.flatten(), torch.full((2,), 0.1).double() * w.abs().sum())
    # one template per image, flat
    per = torch.stack([w.flatten(), -w.flatten()])
    torch.testing.assert_close(A.linear_adversarial(per, x, 0.1)[1], (x[1] - 0.1 * w.sign()))


def test_fgsm_on_a_linear_model_is_the_sign_of_the_template_difference():
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(2, 64, generator=g, dtype=torch.float64)
    model = affine(weight, torch.zeros(2, dtype=torch.float64))
    x = torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)
    out = A.fgsm(model, x, torch.tensor([0]), 0.1)
    expected = A.linear_adversarial(weight[1] - weight[0], x, 0.1)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("overshoot", [0.0, 0.02, 0.5])
def test_deepfool_on_an_affine_binary_classifier_is_the_closed_form(overshoot):
    g = torch.Generator().manual_seed(0)
    w0, w1 = torch.randn(2, 64, generator=g, dtype=torch.float64) * 0.1
    x = 0.5 + 0.01 * torch.randn(4, 1, 8, 8, generator=g, dtype=torch.float64)
    b = torch.tensor([0.3, -0.3], dtype=torch.float64)
    model = affine(torch.stack([w0, w1]), b)
    out = A.deepfool(model, x, overshoot=overshoot)
    w, f = w1 - w0, (x.flatten(1) @ (w1 - w0) + b[1] - b[0])  # f > 0: class 1, f < 0: class 0
    r = -f[:, None] * w[None] / w.dot(w)
    torch.testing.assert_close(out, x + (1 + overshoot) * r.view_as(x), atol=1e-10, rtol=0)
    if overshoot > 0:
        assert torch.equal(predictions(model, out), 1 - predictions(model, x))


def test_deepfool_on_an_affine_multiclass_classifier_crosses_the_closest_boundary():
    g = torch.Generator().manual_seed(1)
    weight = torch.randn(4, 64, generator=g, dtype=torch.float64) * 0.1
    bias = torch.randn(4, generator=g, dtype=torch.float64) * 0.1
    model = affine(weight, bias)
    x = 0.5 + 0.01 * torch.randn(5, 1, 8, 8, generator=g, dtype=torch.float64)
    out = A.deepfool(model, x, overshoot=0.02)
    logits = x.flatten(1) @ weight.T + bias
    for i in range(len(x)):
        k0 = int(logits[i].argmax())
        dist = [(abs(float(logits[i, k] - logits[i, k0])) / float((weight[k] - weight[k0]).norm()), k)
                for k in range(4) if k != k0]
        d, k = min(dist)
        w = weight[k] - weight[k0]
        expected = x[i] + 1.02 * (d / w.norm() * w).view_as(x[i])
        torch.testing.assert_close(out[i], expected, atol=1e-10, rtol=0)


def test_deepfool_changes_the_prediction_of_a_cnn_with_a_small_perturbation():
    model, x = tiny_cnn(), images(8, seed=7)
    out = A.deepfool(model, x)
    assert (predictions(model, out) != predictions(model, x)).all()
    fgsm_eps, fgsm_adv = A.smallest_eps(model, x, predictions(model, x), [i / 100 for i in range(1, 101)])[::-1]
    both = ~fgsm_eps.isnan()
    l2 = lambda z: (z - x).flatten(1).norm(dim=1)  # noqa: E731
    assert both.any() and l2(out)[both].mean() < l2(fgsm_adv)[both].mean()


def test_fooling_images_reach_99_percent_confidence():
    weight = torch.randn(K, 64, generator=torch.Generator().manual_seed(0))
    model = affine(weight, torch.zeros(K))
    out = A.fooling_image(model, list(range(K)), steps=300, shape=(1, 8, 8))
    assert out.shape == (K, 1, 8, 8) and out.min() >= 0 and out.max() <= 1
    with torch.no_grad():
        p = model(out).softmax(dim=1)
    assert (p.argmax(dim=1) == torch.arange(K)).all() and (p.max(dim=1).values >= 0.99).all()
    torch.testing.assert_close(out[:2], A.fooling_image(model, [0, 1], steps=300, shape=(1, 8, 8)))
    assert all(p.grad is None for p in model.parameters())  # only the images were optimised


# --------------------------------------------------------------------------- evaluation helpers

def test_named_attacks_are_the_papers_settings():
    model, x, y = tiny_cnn(), images(3), labels(3)
    eps = 4 / 255
    torch.testing.assert_close(A.named_attack("fgsm")(model, x, y, eps), A.fgsm(model, x, y, eps))
    torch.testing.assert_close(A.named_attack("iterative")(model, x, y, eps),
                               A.pgd(model, x, y, eps, 1 / 255, 5, random_start=False))
    torch.testing.assert_close(A.named_attack("least_likely")(model, x, y, eps), A.least_likely(model, x, eps))
    torch.manual_seed(0)
    ours = A.named_attack("pgd")(model, x, y, eps)
    torch.manual_seed(0)
    torch.testing.assert_close(ours, A.pgd(model, x, y, eps, 2.5 * eps / 40, 40))


def test_kurakin_schedule():
    assert A.kurakin_schedule(16 / 255) == (1 / 255, 20)
    assert A.kurakin_schedule(2 / 255) == (1 / 255, 3)
    assert A.kurakin_schedule(128 / 255) == (1 / 255, 132)
    assert A.kurakin_schedule(0.0)[1] == 1


def test_accuracy_under_attack_curve():
    from lectures_lib import train

    model, x = tiny_cnn(dtype=torch.float32), images(20, seed=8, dtype=torch.float32)
    y = predictions(model, x)
    y[::4] = (y[::4] + 1) % K  # a few wrong labels, so the clean accuracy is 0.75
    curve = A.accuracy_under_attack(model, (x, y), "fgsm", [0.0, 0.05, 0.5], topk=(1, 3), batch_size=7,
                                    progress=False)
    assert curve["eps"] == [0.0, 0.05, 0.5] and set(curve) == {"eps", "top1", "top3"}
    clean = train.evaluate(model, (x, y), topk=(1, 3))
    assert curve["top1"][0] == pytest.approx(clean["top1"]) and curve["top3"][0] == pytest.approx(clean["top3"])
    assert curve["top1"][2] < curve["top1"][0]
    custom = A.accuracy_under_attack(model, (x, y), lambda m, xb, yb, eps: xb, [0.1, 0.2], topk=(1,), progress=False)
    assert custom["top1"] == [pytest.approx(0.75)] * 2


def test_smallest_eps_finds_the_first_epsilon_that_fools():
    model, x = tiny_cnn(), images(6, seed=9)
    y = predictions(model, x)
    grid = [0.02 * i for i in range(1, 26)]
    adv, eps = A.smallest_eps(model, x, y, grid)
    for i in range(len(x)):
        if eps[i].isnan():
            assert torch.equal(adv[i], x[i])
            continue
        assert predictions(model, adv[i:i + 1]) != y[i]
        smaller = [e for e in grid if e < float(eps[i])]
        if smaller:
            assert predictions(model, A.fgsm(model, x[i:i + 1], y[i:i + 1], smaller[-1])) == y[i]


# --------------------------------------------------------------------------- bad arguments

@pytest.mark.parametrize("call,match", [
    (lambda m, x, y: A.fgsm(m, x, y, -0.1), "eps"),
    (lambda m, x, y: A.fgsm(m, x, y, 1.5), "eps"),
    (lambda m, x, y: A.fgsm(m, x * 2, y, 0.1), "x must hold values in"),
    (lambda m, x, y: A.fgsm(m, x[0], y, 0.1), "x must have shape"),
    (lambda m, x, y: A.fgsm(m, x, y[:2], 0.1), "y must have shape"),
    (lambda m, x, y: A.fgsm(m, x, y + K, 0.1), r"y must hold class indices in \[0, 5\)"),
    (lambda m, x, y: A.fgsm(m, x, y.double(), 0.1), "integer class indices"),
    (lambda m, x, y: A.pgd(m, x, y, 0.1, 0.01, 0), "steps"),
    (lambda m, x, y: A.pgd(m, x, y, 0.1, 0.0, 5), "alpha"),
    (lambda m, x, y: A.pgd(m, x, y, 0.1, 0.01, 2.5), "steps"),
    (lambda m, x, y: A.pgd(m, x, y, 0.1, 0.01, 2, batch_size=0), "batch_size"),
    (lambda m, x, y: A.fgsm(m, x, y, 0.1, batch_size=0), "batch_size"),
    (lambda m, x, y: A.least_likely(m, x, 0.1, steps=0), "steps"),
    (lambda m, x, y: A.deepfool(m, x, candidates=1), "candidates"),
    (lambda m, x, y: A.deepfool(m, x, overshoot=-1), "overshoot"),
    (lambda m, x, y: A.deepfool(m, x, max_iter=0), "max_iter"),
    (lambda m, x, y: A.lbfgs_attack(m, x, -1), "target"),
    (lambda m, x, y: A.fooling_image(m, 7, shape=(1, 8, 8)), "target"),
    (lambda m, x, y: A.fooling_image(m, 1, steps=0, shape=(1, 8, 8)), "steps"),
    (lambda m, x, y: A.fooling_image(m, 1, shape=(8, 8)), "shape"),
    (lambda m, x, y: A.linear_adversarial(torch.ones(10), x, 0.1), "weight"),
    (lambda m, x, y: A.accuracy_under_attack(m, (x, y), "cw", [0.1]), "attack"),
    (lambda m, x, y: A.accuracy_under_attack(m, (x, y), "fgsm", []), "eps_values"),
    (lambda m, x, y: A.accuracy_under_attack(m, (x, y), "fgsm", [0.1], topk=(6,), progress=False), "topk"),
    (lambda m, x, y: A.fgsm("model", x, y, 0.1), "model"),
    (lambda m, x, y: A.attack_widget(m, x, attacks=("cw",)), "attacks"),
])
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(tiny_cnn(dtype=torch.float32), images(dtype=torch.float32), labels())


# --------------------------------------------------------------------------- figure and widget

def test_attack_figure():
    import matplotlib.pyplot as plt

    x = images(1)[0].float()
    p = torch.full((K,), 1 / K)
    fig = A.attack_figure(x, (x + 0.1).clamp(0, 1), p, p, [str(i) for i in range(K)])
    assert len(fig.axes) == 4 and "perturbation" in fig.axes[1].get_title()
    plt.close(fig)


def test_accuracy_figure_has_a_panel_per_k_and_a_line_per_attack():
    import matplotlib.pyplot as plt

    curves = {name: {"eps": [2 / 255, 8 / 255], "top1": [0.5, 0.1], "top5": [0.9, 0.3]} for name in ("fgsm", "iterative")}
    fig = A.accuracy_figure(curves, title="t")
    assert len(fig.axes) == 2 and all(len(ax.lines) == 2 for ax in fig.axes)
    assert list(fig.axes[0].lines[0].get_xdata()) == pytest.approx([2, 8])
    plt.close(fig)
    with pytest.raises(ValueError, match="eps_unit"):
        A.accuracy_figure(curves, eps_unit="pixels")


def test_attack_widget_redraws_precomputed_attacks_within_half_a_second():
    model, x = tiny_cnn(dtype=torch.float32), images(3, dtype=torch.float32)
    widget = A.attack_widget(model, x, eps_values=(0.3, 0.02), progress=False)
    assert set(widget.results) == {(a, e) for a in ("fgsm", "iterative", "least_likely") for e in (0.02, 0.3)}
    first = widget.state
    assert (first["attack"], first["eps"], first["index"]) == ("fgsm", 0.02, 0)
    for name, value in (("eps", 0.3), ("attack", "least_likely"), ("index", 2)):
        renders = widget.renders
        widget.controls[name].value = value
        assert widget.renders == renders + 1 and widget.state[name] == value
        assert widget.last_seconds < 0.5
    x_adv, probs = widget.results[("least_likely", 0.3)]
    torch.testing.assert_close(widget.state["probs"], probs[2])
    assert (x_adv - x).abs().max() <= 0.3 + 1e-6
    torch.testing.assert_close(x_adv, A.least_likely(model, x, 0.3))


# --------------------------------------------------------------------------- the lesson's numbers (offline MNIST)

@pytest.fixture(scope="module")
def mnist():
    from lectures_lib import data, models

    x, y = data.stack(data.mnist("test"), 1000)
    return {"x": x, "y": y, "lenet": models.mnist_model("lenet5", progress=False),
            "softmax": models.mnist_model("softmax_regression", progress=False)}


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def test_fgsm_fools_softmax_regression_at_eps_025(mnist):
    """Goodfellow et al. 2015: 99.9% error for softmax regression on MNIST at eps = 0.25."""
    x, y, model = mnist["x"], mnist["y"], mnist["softmax"]
    assert accuracy(model, x, y) > 0.85
    assert 1 - accuracy(model, A.fgsm(model, x, y, 0.25), y) >= 0.95


def test_pgd40_leaves_lenet_under_one_percent(mnist):
    """Madry et al.'s MNIST attack: 40 steps of 0.01 in the eps = 0.3 ball, random start."""
    x, y, model = mnist["x"][:200], mnist["y"][:200], mnist["lenet"]
    torch.manual_seed(0)
    assert accuracy(model, x, y) > 0.95
    assert accuracy(model, A.pgd(model, x, y, 0.3, 0.01, 40), y) < 0.01


def test_deepfool_needs_a_smaller_l2_perturbation_than_fgsm_at_equal_success(mnist):
    x, y, model = mnist["x"][:60], mnist["y"][:60], mnist["lenet"]
    keep = predictions(model, x) == y
    x, y = x[keep], y[keep]
    df = A.deepfool(model, x)
    df_fooled = predictions(model, df) != y
    fg, fg_eps = A.smallest_eps(model, x, y, [i / 50 for i in range(1, 26)])
    both = df_fooled & ~fg_eps.isnan()
    assert df_fooled.float().mean() >= 0.99 and both.float().mean() >= 0.95
    l2 = lambda z: (z - x).flatten(1).norm(dim=1)[both].mean()  # noqa: E731
    assert l2(df) < l2(fg)


def test_fooling_images_for_every_digit(mnist):
    model = mnist["lenet"]
    out = A.fooling_image(model, list(range(10)), steps=300)
    p = torch.softmax(model(out), dim=1).detach()
    assert (p.argmax(dim=1) == torch.arange(10)).all() and (p.max(dim=1).values >= 0.99).all()
