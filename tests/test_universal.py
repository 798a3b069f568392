"""Tests for lectures_lib.universal (lesson 07): the projections (against ART's ``projection``), the fooling
rate, the analytic case of a linear classifier for both algorithms (and ART's ``UniversalPerturbation`` on it),
both algorithms reaching their target on a small CNN, the contract (any callable model, float32 and float64,
eval mode, seeds), the transfer matrix and dominant labels, the figures, and the lesson's MNIST numbers.
The bad-input table is in ``bad_inputs_universal.py``."""

import pytest
import tiny_models
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lectures_lib import train
from lectures_lib import universal as U
from lectures_lib.plotting import universal as P

DTYPES = [torch.float32, torch.float64]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest.one_thread


def tiny_cnn(seed: int = 2, **options) -> nn.Module:
    """:func:`tiny_models.tiny_cnn` with this module's default seed."""
    return tiny_models.tiny_cnn(seed, **options)


def images(n: int = 40, seed: int = 1, dtype=torch.float64, size: int = 8) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=dtype)


class Binary(nn.Module):
    """Logits ``[0, w.x + b]``: class 1 wins where ``w.x + b > 0``. The distance of ``x`` to the boundary is
    ``|w.x + b| / |w|_2`` in L2 and ``|w.x + b| / |w|_1`` in L-infinity."""

    def __init__(self, w: torch.Tensor, b: float):
        super().__init__()
        self.w, self.b = nn.Parameter(w.clone()), nn.Parameter(torch.tensor(b, dtype=w.dtype))

    def forward(self, x):
        f = x.flatten(1) @ self.w.flatten() + self.b
        return torch.stack([torch.zeros_like(f), f], dim=1)


def linear_case(dtype=torch.float64, n: int = 30, norm: str | int = "inf", xi: float = 0.05):
    """A binary linear classifier, images in [0.3, 0.7] all predicted as class 0, and margins spread around
    the radius: the analytic optimum is ``xi sign(w)`` (L-inf) or ``xi w / |w|`` (L2), and it fools exactly
    the images closer than ``xi`` to the boundary."""
    g = torch.Generator().manual_seed(3)
    w = (torch.rand(1, 4, 4, generator=g, dtype=dtype) * 0.5 + 0.5) * torch.where(
        torch.rand(1, 4, 4, generator=g) < 0.5, -1.0, 1.0).to(dtype)
    noise = 0.3 * torch.rand(n, 1, 4, 4, generator=g, dtype=dtype) - 0.15
    noise = noise - (noise.flatten(1) @ w.flatten() / w.norm() ** 2)[:, None, None, None] * w  # orthogonal to w
    scale = w.abs().sum() if norm == "inf" else w.norm()
    margins = torch.linspace(0.1, 2.0, n, dtype=dtype)[torch.randperm(n, generator=g)] * xi * scale
    keep = (margins / (xi * scale) - 1).abs() > 0.03  # no image on the analytic threshold
    margins, noise = margins[keep], noise[keep]
    centre = torch.full_like(w, 0.5)
    model = Binary(w, -float((centre * w).sum())).eval()
    x = centre + noise - (margins / w.norm() ** 2)[:, None, None, None] * w  # w.x + b = -margin
    assert x.min() > 0.05 and x.max() < 0.95
    analytic = float((margins < xi * scale).to(dtype).mean())
    best = xi * w.sign() if norm == "inf" else xi * w / w.norm()
    return model, x, best, analytic


# --------------------------------------------------------------------------- projections

@pytest.mark.parametrize("dtype", DTYPES)
def test_projections_keep_v_in_the_ball_and_leave_points_inside_alone(dtype):
    v = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=dtype)
    for xi in (0.01, 0.1, 1.0):
        inf = U.project_lp(v, xi, "inf")
        assert inf.abs().max() <= xi and inf.dtype == dtype
        torch.testing.assert_close(inf, v.clamp(-xi, xi))
        two = U.project_lp(v, xi * 20, 2)
        assert two.norm() <= xi * 20 * (1 + 1e-6)
        torch.testing.assert_close(two / two.norm(), v / v.norm())  # radial: the direction is kept
    small = v * 1e-3
    torch.testing.assert_close(U.project_lp(small, 0.5, "inf"), small, rtol=0, atol=0)
    torch.testing.assert_close(U.project_lp(small, 10.0, 2), small, rtol=0, atol=0)
    assert torch.equal(U.project_lp(torch.zeros(2, 2, dtype=dtype), 1.0, 2), torch.zeros(2, 2, dtype=dtype))
    assert U.project_lp(v, 0.1, float("inf")).abs().max() <= 0.1  # math.inf and 2.0 are accepted
    assert U.project_lp(v, 0.1, 2.0).norm() <= 0.1 + 1e-6


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), xi=st.floats(1e-3, 1.0), scale=st.floats(1e-3, 100.0),
       norm=st.sampled_from(["inf", 2]))
def test_projection_is_the_closest_point_of_the_ball(seed, xi, scale, norm):
    """The result is in the ball, and no random point of the ball is closer to v (a projection)."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(2, 3, 3, generator=g, dtype=torch.float64) * scale
    proj = U.project_lp(v, xi, norm)
    size = proj.abs().max() if norm == "inf" else proj.norm()
    assert size <= xi * (1 + 1e-9)
    others = U.project_lp(torch.randn(200, 2, 3, 3, generator=g, dtype=torch.float64), xi, "inf")
    if norm == 2:
        others = others / others.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1) * xi * torch.rand(
            200, 1, 1, 1, generator=g, dtype=torch.float64)
    assert (others - v).flatten(1).norm(dim=1).min() >= (proj - v).norm() - 1e-9
    torch.testing.assert_close(U.project_lp(proj, xi, norm), proj)  # idempotent


@pytest.mark.parametrize("norm", ["inf", 2])
def test_projection_equals_arts(norm):
    art_utils = pytest.importorskip("art.utils")
    import numpy as np

    v = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    xi = 0.1 if norm == "inf" else 2.0
    ref = art_utils.projection(v.numpy().copy(), xi, np.inf if norm == "inf" else 2)
    ours = torch.stack([U.project_lp(v_i, xi, norm) for v_i in v])
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- fooling rate

@pytest.mark.parametrize("dtype", DTYPES)
def test_fooling_rate_of_zero_is_zero_and_labels_do_not_matter(dtype):
    model, x = tiny_cnn(dtype=dtype), images(dtype=dtype)
    assert U.fooling_rate(model, x, torch.zeros(1, 8, 8, dtype=dtype)) == 0.0
    v = U.project_lp(torch.randn(1, 8, 8, generator=torch.Generator().manual_seed(2), dtype=dtype), 0.3)
    rate = U.fooling_rate(model, x, v)
    wrong_labels = torch.zeros(len(x), dtype=torch.long)
    assert U.fooling_rate(model, (x, wrong_labels), v) == rate          # the labels are ignored
    assert U.fooling_rate(model, x, v, batch_size=7) == rate            # chunking changes nothing
    assert U.fooling_rate(model, x, v[None]) == rate                    # 1 x C x H x W is one perturbation too
    with torch.no_grad():
        expected = (model((x + v).clamp(0, 1)).argmax(1) != model(x).argmax(1)).double().mean()
    assert rate == pytest.approx(float(expected)) and 0 < rate < 1


def test_fooling_rate_on_the_linear_case_is_the_analytic_fraction():
    for norm in ("inf", 2):
        model, x, best, analytic = linear_case(norm=norm)
        assert U.fooling_rate(model, x, best) == pytest.approx(analytic)


def test_fooling_rate_takes_a_dataset_and_a_plain_function():
    model, x = tiny_cnn(dtype=torch.float32), images(dtype=torch.float32)
    v = torch.full((1, 8, 8), 0.2)
    class Pairs(torch.utils.data.Dataset):  # (plumbing.batches mistakes TensorDataset's .tensors for a method)
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return x[i], 0

    dataset = Pairs()
    rate = U.fooling_rate(model, x, v)
    assert U.fooling_rate(model, dataset, v) == rate
    assert U.fooling_rate(lambda z: model(z), x, v) == rate


def test_perturb_clips_to_valid_images():
    x = images(3)
    out = U.perturb(x, torch.full((1, 8, 8), 0.6, dtype=torch.float64))
    assert out.min() >= 0.6 - 1e-12 and out.max() <= 1.0 and out.dtype == x.dtype
    torch.testing.assert_close(out, (x + 0.6).clamp(0, 1))


# --------------------------------------------------------------------------- the analytic linear case

@pytest.mark.parametrize("norm", ["inf", 2])
@pytest.mark.parametrize("algorithm", ["deepfool", "sgd"])
def test_on_a_linear_classifier_both_algorithms_find_the_analytic_optimum(norm, algorithm):
    """For a binary linear classifier the best perturbation in the ball is xi sign(w) (L-inf) or xi w/|w|
    (L2); with every image on one side, each DeepFool step and each gradient points along w, so both
    algorithms converge to it and fool exactly the images that lie within xi of the boundary."""
    model, x, best, analytic = linear_case(norm=norm)
    xi = 0.05
    if algorithm == "deepfool":
        result = U.universal_perturbation(model, x, xi, p=norm, delta=0.0, max_passes=6, progress=False)
    else:
        result = U.sgd_universal_perturbation(model, x, xi, p=norm, delta=0.0, max_passes=6, batch_size=4,
                                              progress=False)
    torch.testing.assert_close(result.perturbation, best, rtol=1e-4, atol=1e-6)
    assert result.fooling_rates[-1] == pytest.approx(analytic)
    assert result.passes == 6 and len(result.fooling_rates) == 6  # delta = 0: every pass runs


def test_adam_and_no_clamp_find_the_analytic_optimum_of_the_linear_case():
    """Adam's direction (optimizer="adam") and the unclamped loss (beta=None) reach the same L-infinity optimum:
    every gradient points along w, so Adam's normalised direction is +-1 per pixel like the sign."""
    model, x, best, analytic = linear_case(norm="inf")
    result = U.sgd_universal_perturbation(model, x, 0.05, p="inf", delta=0.0, max_passes=6, batch_size=4,
                                          optimizer="adam", beta=None, progress=False)
    torch.testing.assert_close(result.perturbation, best, rtol=1e-4, atol=1e-6)
    assert result.fooling_rates[-1] == pytest.approx(analytic)


def test_adam_takes_its_first_step_like_the_sign_and_then_averages():
    """Adam's first bias-corrected direction is g / |g| per pixel = sign(g), so one step equals the sign step;
    later steps differ (running means), and the result stays in the ball and repeats with the seed."""
    model, x = tiny_cnn(), images(n=8)
    one = dict(max_passes=1, batch_size=8, delta=0.0, step=0.01, progress=False)
    adam = U.sgd_universal_perturbation(model, x, 0.1, optimizer="adam", **one).perturbation
    sign = U.sgd_universal_perturbation(model, x, 0.1, optimizer="sign", **one).perturbation
    torch.testing.assert_close(adam, sign, rtol=0, atol=1e-6)
    more = dict(max_passes=4, batch_size=2, delta=0.0, step=0.01, progress=False)
    a = U.sgd_universal_perturbation(model, x, 0.1, optimizer="adam", **more).perturbation
    b = U.sgd_universal_perturbation(model, x, 0.1, optimizer="sign", **more).perturbation
    assert not torch.allclose(a, b) and a.abs().max() <= 0.1 + 1e-12
    torch.testing.assert_close(a, U.sgd_universal_perturbation(model, x, 0.1, optimizer="adam", **more).perturbation)


def test_augment_sees_every_training_image_once_per_epoch_and_an_identity_changes_nothing():
    """The hook gets each mini-batch of clean images with the run's generator, and its views are what v is trained
    on: an identity hook gives exactly the result without one; random crops give another v, in the ball, that
    repeats with the seed."""
    model, x = tiny_cnn(), images(n=8)
    run = dict(max_passes=3, batch_size=4, delta=0.0, step=0.01, optimizer="adam", beta=None, progress=False)
    seen = []

    def identity(xb, generator):
        assert isinstance(generator, torch.Generator)
        seen.append(len(xb))
        return xb

    plain = U.sgd_universal_perturbation(model, x, 0.1, **run)
    hooked = U.sgd_universal_perturbation(model, x, 0.1, augment=identity, **run)
    torch.testing.assert_close(hooked.perturbation, plain.perturbation, rtol=0, atol=0)
    assert seen == [4, 4] * 3 and hooked.fooling_rates == plain.fooling_rates
    cropped = U.sgd_universal_perturbation(model, x, 0.1, augment=train.random_crop_flip, **run)
    assert not torch.allclose(cropped.perturbation, plain.perturbation) and cropped.perturbation.abs().max() <= 0.1
    again = U.sgd_universal_perturbation(model, x, 0.1, augment=train.random_crop_flip, **run)
    torch.testing.assert_close(again.perturbation, cropped.perturbation, rtol=0, atol=0)


def test_arts_universal_perturbation_finds_the_same_optimum_on_the_linear_case():
    """ART's UniversalPerturbation (DeepFool attacker) as the reference: the same perturbation and rate."""
    pytest.importorskip("art")
    import numpy as np
    from art.attacks.evasion import UniversalPerturbation
    from art.estimators.classification import PyTorchClassifier

    model, x, best, analytic = linear_case(dtype=torch.float32)
    classifier = PyTorchClassifier(model, loss=nn.CrossEntropyLoss(), input_shape=(1, 4, 4), nb_classes=2,
                                   clip_values=(0.0, 1.0), device_type="cpu")
    np.random.seed(0)  # noqa: NPY002 - ART shuffles with numpy's global generator
    attack = UniversalPerturbation(classifier, attacker="deepfool", delta=0.0, max_iter=6, eps=0.05,
                                   norm=np.inf, verbose=False)
    attack.generate(x.numpy())
    ours = U.universal_perturbation(model, x, 0.05, delta=0.0, max_passes=6, progress=False)
    torch.testing.assert_close(torch.from_numpy(attack.noise[0]), best, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.perturbation, best, rtol=1e-4, atol=1e-5)
    assert attack.fooling_rate == pytest.approx(analytic) == ours.fooling_rates[-1]


# --------------------------------------------------------------------------- a small CNN

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ["deepfool", "sgd"])
def test_result_is_in_the_dtype_of_the_images_and_repeatable(dtype, algorithm):
    model, x = tiny_cnn(dtype=dtype), images(12, dtype=dtype)
    run = U.universal_perturbation if algorithm == "deepfool" else U.sgd_universal_perturbation
    one = run(model, x, 0.2, max_passes=2, progress=False, batch_size=4)
    two = run(model, x, 0.2, max_passes=2, progress=False, batch_size=4)
    assert one.perturbation.shape == (1, 8, 8) and one.perturbation.dtype == dtype
    torch.testing.assert_close(one.perturbation, two.perturbation, rtol=0, atol=0)
    assert one.fooling_rates == two.fooling_rates and one.updates == two.updates >= 1
    other = run(model, x, 0.2, max_passes=2, progress=False, batch_size=4, seed=1)
    assert not torch.equal(other.perturbation, one.perturbation)  # the seed orders the images


def test_float64_images_with_a_float32_model_and_a_plain_function():
    model32 = tiny_cnn(dtype=torch.float32)
    x = images(12)
    result = U.universal_perturbation(model32, x, 0.2, max_passes=1, progress=False)
    assert result.perturbation.dtype == torch.float64
    fn = U.sgd_universal_perturbation(lambda z: model32(z.float()), x, 0.2, max_passes=1, progress=False)
    ref = U.sgd_universal_perturbation(model32, x, 0.2, max_passes=1, progress=False)
    torch.testing.assert_close(fn.perturbation, ref.perturbation)


@pytest.mark.parametrize("algorithm", ["deepfool", "sgd"])
def test_eval_mode_is_used_and_restored(algorithm):
    model = tiny_cnn(dropout=True)
    model.train()
    run = U.universal_perturbation if algorithm == "deepfool" else U.sgd_universal_perturbation
    out = run(model, images(10), 0.2, max_passes=1, progress=False)
    assert model.training and model.drop.training
    model.eval()
    torch.testing.assert_close(out.perturbation, run(model, images(10), 0.2, max_passes=1, progress=False).perturbation)


def test_delta_one_stops_after_the_first_pass_and_the_input_is_left_alone():
    model, x = tiny_cnn(), images(10)
    copy = x.clone()
    for run in (U.universal_perturbation, U.sgd_universal_perturbation):
        result = run(model, x, 0.2, delta=1.0, max_passes=5, progress=False)
        assert result.passes == 1 and len(result.fooling_rates) == 1
    assert torch.equal(x, copy)


def test_the_deepfool_algorithm_skips_images_that_are_already_fooled():
    """Every image 0.001 from the boundary of a linear classifier: the first DeepFool step (pushed 2% further
    by the overshoot) fools them all, so DeepFool runs exactly once."""
    model, x, _, _ = linear_case()
    w = model.w.detach()
    with torch.no_grad():
        f = x.flatten(1) @ w.flatten() + model.b
    x = x - ((f + 1e-3) / w.norm() ** 2)[:, None, None, None] * w
    result = U.universal_perturbation(model, x, 0.05, delta=0.0, max_passes=2, progress=False)
    assert result.updates == 1 and result.fooling_rates == [1.0]  # and it stops: 1 - delta = 100% is reached


# --------------------------------------------------------------------------- across models

def test_transfer_matrix_diagonal_and_rows():
    models = {"a": tiny_cnn(0), "b": tiny_cnn(1), "c": tiny_cnn(2)}
    x = images()
    vs = {name: U.sgd_universal_perturbation(m, x, 0.3, max_passes=2, progress=False).perturbation
          for name, m in models.items()}
    vs["zero"] = torch.zeros(1, 8, 8, dtype=torch.float64)
    table = U.transfer_matrix(models, vs, x, batch_size=16, progress=False)
    assert table.rates.shape == (4, 3) and table.rates.dtype == torch.float64
    assert table.sources == ["a", "b", "c", "zero"] and table.targets == ["a", "b", "c"]
    for s, v in vs.items():
        for t, m in models.items():
            assert table.rates[table.sources.index(s), table.targets.index(t)] == pytest.approx(U.fooling_rate(m, x, v))
    assert (table.rates[3] == 0).all()


def test_dominant_labels_on_the_linear_case_is_one_class():
    model, x, best, analytic = linear_case()
    assert U.dominant_labels(model, x, best) == [(1, 1.0)]
    assert U.dominant_labels(model, x, torch.zeros_like(best)) == []
    model = tiny_cnn()
    top = U.dominant_labels(model, images(), torch.full((1, 8, 8), 0.3, dtype=torch.float64), top=2)
    assert len(top) <= 2 and all(0 < f <= 1 for _, f in top) and sum(f for _, f in top) <= 1 + 1e-9
    assert [f for _, f in top] == sorted((f for _, f in top), reverse=True)


def test_the_method_module_imports_no_display_code():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(U))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(n.split(".")[0] in {"matplotlib", "ipywidgets", "PIL"} or "plotting" in n or "widgets" in n
                   for n in names), names


def test_every_public_function_has_parameters_and_returns():
    for name in ("project_lp", "fooling_rate", "universal_perturbation", "sgd_universal_perturbation",
                 "transfer_matrix", "dominant_labels", "mnist_transfer_model"):
        doc = getattr(U, name).__doc__
        assert "Parameters" in doc and "Returns" in doc, name


# --------------------------------------------------------------------------- figures

def test_figures_have_titles_labels_and_colour_bars():
    model, x = tiny_cnn(), images()
    result = U.sgd_universal_perturbation(model, x, 0.3, max_passes=2, progress=False)
    fig = P.perturbation_figure({"tiny": result.perturbation, "zero": torch.zeros(1, 8, 8)}, xi=0.3)
    assert all(ax.get_title() for ax in fig.axes if ax.images)
    fig = P.fooling_history_figure({"DeepFool": [0.2, 0.5, 0.85], "SGD": [0.6, 0.9]}, target=0.8)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() and len(ax.get_lines()) >= 3
    table = U.transfer_matrix({"a": model, "b": tiny_cnn(1)}, {"a": result.perturbation}, x, progress=False)
    fig = P.transfer_figure(table, title="transfer")
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()  # the table and its colour bar
    assert len(fig.axes[0].texts) == 2  # one number per cell
    fig = P.training_size_figure([10, 20, 40], {"held-out": [0.3, 0.5, 0.7], "training": [0.5, 0.7, 0.8]})
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()
    offsets = {t.get_text(): t.xyann[1] for t in fig.axes[0].texts}   # the higher line's labels above its points
    assert len(fig.axes[0].texts) == 6 and offsets["80%"] > 0 and offsets["30%"] < 0
    cats = [f"class {k}" for k in range(5)]
    fig = P.fooled_examples_figure(x[:4], result.perturbation, model, cats, title="fooled")
    assert all(ax.get_title() for ax in fig.axes if ax.images)
    fig = P.dominant_labels_figure([(1, 0.5), (3, 0.25)], cats, title="dominant")
    assert fig.axes[0].get_xlabel() and len(fig.axes[0].patches) == 2


# --------------------------------------------------------------------------- the lesson's MNIST numbers

@pytest.fixture(scope="module")
def digits():
    from lectures_lib import data

    x, _ = data.stack(data.mnist("test"), 1500)
    return x


@pytest.mark.parametrize("algorithm", ["deepfool", "sgd"])
def test_both_algorithms_reach_their_target_on_lenet(digits, algorithm):
    """The course's small CNN, 100 digits, L-inf xi = 0.4, target 1 - delta = 70%. Measured over seeds 0-2: the
    DeepFool algorithm reaches 0.77-0.82 within 1-2 passes, the SGD variant 0.72-0.73 within 2-4 epochs; 8 passes
    leave room. (Random-weight CNNs on noise images are no test: their predictions barely depend on the input.)"""
    lenet = U.mnist_transfer_model("lenet5", progress=False)
    run = U.universal_perturbation if algorithm == "deepfool" else U.sgd_universal_perturbation
    result = run(lenet, digits[:100], 0.4, delta=0.3, max_passes=8, progress=False)
    assert result.fooling_rates[-1] >= 0.7 and result.passes < 8
    assert max(result.fooling_rates[:-1], default=0) < 0.7  # it stops at the first pass that reaches the target
    assert result.perturbation.abs().max() <= 0.4 + 1e-6
    assert U.fooling_rate(lenet, digits[:100], result.perturbation) == pytest.approx(result.fooling_rates[-1])


def test_sgd_perturbation_fools_lenet_on_held_out_digits(digits):
    """LeNet-5 (cached), xi = 0.3 in L-inf, 500 training digits, 4 epochs: held-out fooling rates measured
    0.69-0.77 over seeds 0-2; the bar of 0.6 leaves a margin of 0.09."""
    lenet = U.mnist_transfer_model("lenet5", progress=False)
    result = U.sgd_universal_perturbation(lenet, digits[:500], 0.3, max_passes=4, delta=0.0, progress=False)
    assert U.fooling_rate(lenet, digits[500:], result.perturbation) >= 0.6
    assert U.fooling_rate(lenet, digits[500:], torch.zeros(1, 28, 28)) == 0.0
