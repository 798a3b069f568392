"""Tests for lectures_lib.defenses (lesson 09): the input transforms against hand-derived tables, SciPy and PIL;
BPDA's gradient is the identity's; gradient masking and EOT; the adversarial-training hooks against the attacks
they call; ensemble adversarial training; robust accuracy on hand-built models with known answers; the logit
profile of linear and piecewise-linear models; the dense associative memory; the detector's false-positive rate on
clean images it never saw and its adaptive break; and the lesson's adversarially trained MNIST model confirmed by
torchattacks' AutoAttack. The bad-input table is in ``bad_inputs_defenses.py``."""
import io

import numpy as np
import pytest
import torch
from torch import nn

from lectures_lib import attacks, blackbox, config, data
from lectures_lib import defenses as D
from lectures_lib.plotting import defenses as P

DTYPES = [torch.float32, torch.float64]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest.one_thread


def tiny_cnn(dtype=torch.float64, seed: int = 0) -> nn.Module:
    with config.seeded(seed):
        m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 5))
    return m.to(dtype).eval()


def rand_images(n=6, size=8, dtype=torch.float64, seed=0, channels=1):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)).to(dtype)


# --------------------------------------------------------------------------- transforms

@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_depth_hand_table(dtype):
    # 1 bit: round(x) with halves to even (np.rint, as ART's FeatureSqueezing); 2 bits: round(3x) / 3
    x = torch.tensor([0.0, 0.25, 0.5, 0.51, 0.75, 1.0], dtype=dtype).view(1, 1, 1, 6)
    assert D.bit_depth(x, 1).flatten().tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    x2 = torch.tensor([0.0, 1 / 6 - 1e-3, 1 / 6 + 1e-3, 0.5, 0.8, 1.0], dtype=dtype).view(1, 1, 1, 6)
    expected = torch.tensor([0, 0, 1, 2, 2, 3], dtype=dtype) / 3   # 0.5 * 3 = 1.5 rounds to 2 (even)
    assert torch.equal(D.bit_depth(x2, 2).flatten(), expected)
    assert D.bit_depth(x, 3).dtype == dtype


@pytest.mark.parametrize("bits", [1, 2, 4, 5, 8])
def test_bit_depth_equals_art_formula(bits):
    """ART's FeatureSqueezing: ``np.rint(x * (2**bits - 1)) / (2**bits - 1)`` for clip values (0, 1)."""
    x = rand_images(8, 12, torch.float64, seed=bits)
    levels = 2 ** bits - 1
    art = np.rint(x.numpy() * levels) / levels
    assert np.array_equal(D.bit_depth(x, bits).numpy(), art)
    assert len(torch.unique(D.bit_depth(x, bits))) <= levels + 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_median_filter_equals_scipy(dtype, k):
    from scipy.ndimage import median_filter
    x = rand_images(3, 9, dtype, seed=k, channels=2)
    ours = D.median_filter(x, k)
    ref = median_filter(x.numpy(), size=(1, 1, k, k), mode="mirror")
    assert ours.dtype == dtype and ours.shape == x.shape
    assert np.array_equal(ours.numpy(), ref)


def test_median_filter_removes_salt_noise():
    x = torch.zeros(1, 1, 7, 7, dtype=torch.float64)
    x[0, 0, 3, 3] = 1.0
    assert D.median_filter(x, 3).abs().max() == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_jpeg_agrees_with_pil(dtype):
    from PIL import Image
    x = data.mnist("test").tensors(range(4))[0].to(dtype)
    for quality in (20, 75):
        ours = D.jpeg(x, quality)
        assert ours.dtype == dtype and ours.shape == x.shape
        for img, o in zip(x, ours):
            buf = io.BytesIO()
            Image.fromarray((img[0] * 255).round().byte().numpy(), mode="L").save(buf, "JPEG", quality=quality)
            ref = torch.from_numpy(np.array(Image.open(buf))).to(dtype) / 255
            # both are libjpeg with the standard tables; the decoders' IDCTs may differ by a grey level
            assert (o[0] - ref).abs().max() <= 2 / 255 + 1e-9
    hi, lo = D.jpeg(x, 100), D.jpeg(x, 10)
    assert (hi - x).abs().mean() < (lo - x).abs().mean()


# --------------------------------------------------------------------------- BPDA, masking, EOT

@pytest.mark.parametrize("dtype", DTYPES)
def test_bpda_gradient_is_the_identity(dtype):
    x = rand_images(3, 8, dtype).requires_grad_(True)
    w = torch.randn(x.shape, dtype=dtype)
    for transform in (lambda z: D.bit_depth(z, 1), lambda z: D.median_filter(z, 3), D.jpeg):
        (g,) = torch.autograd.grad((w * D.bpda(x, transform)).sum(), x)
        assert torch.equal(g, w)
        assert torch.allclose(D.bpda(x, transform), transform(x.detach()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_with_transform_masks_or_passes_the_gradient(dtype):
    model = tiny_cnn(dtype)
    x, y = rand_images(4, 8, dtype), torch.arange(4) % 5
    squeeze = lambda z: D.bit_depth(z, 1)  # noqa: E731
    masked = attacks.loss_gradient(D.with_transform(model, squeeze), x, y)
    assert masked.abs().max() == 0                      # gradient masking: rounding has a zero gradient
    through = attacks.loss_gradient(D.with_transform(model, squeeze, bpda=True), x, y)
    assert torch.allclose(through, attacks.loss_gradient(model, squeeze(x), y))   # the model's gradient at t(x)
    # the masked defence "resists" PGD (no step moves), the BPDA attack does not
    robust = D.with_transform(model, squeeze)
    x_plain = attacks.pgd(robust, x, y, eps=0.3, alpha=0.05, steps=5, random_start=False)
    assert torch.equal(x_plain, x)


def test_eot_averages_the_random_transform():
    model = tiny_cnn()
    x = rand_images(2, 8)
    noise = lambda z: (z + 0.1 * torch.randn_like(z)).clamp(0, 1)  # noqa: E731
    wrapped = D.with_transform(model, noise, eot_samples=5)
    torch.manual_seed(3)
    out = wrapped(x)
    torch.manual_seed(3)
    expected = sum(model(noise(x)) for _ in range(5)) / 5
    assert torch.allclose(out, expected)


# --------------------------------------------------------------------------- adversarial training hooks

@pytest.mark.parametrize("dtype", DTYPES)
def test_fgsm_random_start_is_one_pgd_step_from_a_random_start(dtype):
    model, x, y = tiny_cnn(dtype), rand_images(5, 8, dtype), torch.arange(5) % 5
    x_adv = D.fgsm_random_start(model, x, y, eps=0.1, generator=torch.Generator().manual_seed(4))
    delta = torch.empty(x.shape, dtype=dtype).uniform_(-0.1, 0.1, generator=torch.Generator().manual_seed(4))
    start = (x + delta).clamp(0, 1)
    g = attacks.loss_gradient(model, start, y)
    expected = attacks.project_linf(start + 0.125 * g.sign(), x, 0.1)
    assert torch.allclose(x_adv, expected)
    assert x_adv.dtype == dtype and (x_adv - x).abs().max() <= 0.1 + 1e-7


def test_hooks_equal_the_attacks_they_call():
    model, x, y = tiny_cnn(), rand_images(5, 8), torch.arange(5) % 5
    torch.manual_seed(1)
    ours = D.pgd_training(0.1, 0.02, 3)(model, x, y)
    torch.manual_seed(1)
    assert torch.equal(ours, attacks.pgd(model, x, y, eps=0.1, alpha=0.02, steps=3))
    hook = D.fast_adversarial_training(0.2, ramp_steps=4)
    radii = []
    for _ in range(6):
        radii.append(float((hook(model, x, y) - x).abs().max()))
    assert radii[0] <= 0.05 + 1e-9 and all(r <= 0.2 + 1e-9 for r in radii) and radii[-1] > 0.15


def test_ensemble_hook_replaces_the_last_part_only():
    static = [tiny_cnn(seed=5), tiny_cnn(seed=6)]
    model, x, y = tiny_cnn(), rand_images(8, 8), torch.arange(8) % 5
    torch.manual_seed(0)
    out = D.ensemble_adversarial_training(static, 0.1, fraction=0.5)(model, x, y)
    assert torch.equal(out[:4], x[:4]) and not torch.equal(out[4:], x[4:])
    assert (out - x).abs().max() <= 0.1 + 1e-7
    candidates = [attacks.fgsm(m, x[4:], y[4:], eps=0.1) for m in [model, *static]]
    assert any(torch.equal(out[4:], c) for c in candidates)


def test_fit_with_fast_hook_is_seeded():
    from lectures_lib import train
    xs, ys = rand_images(32, 8, torch.float32), torch.arange(32) % 5
    runs = []
    for _ in range(2):
        m = tiny_cnn(torch.float32)
        train.fit(m, (xs, ys), epochs=2, batch_size=8, perturb=D.fast_adversarial_training(0.1), seed=3,
                  progress=False)
        runs.append(torch.cat([p.flatten() for p in m.parameters()]))
    assert torch.equal(runs[0], runs[1])


# --------------------------------------------------------------------------- robust accuracy

class Threshold(nn.Module):
    """Class 1 when the mean pixel exceeds 0.5, else class 0 (two logits)."""

    def forward(self, x):
        m = x.flatten(1).mean(1, keepdim=True) - 0.5
        return torch.cat([-m, m], dim=1) * 10


def test_robust_accuracy_is_the_worst_case_per_image():
    x = torch.tensor([0.1, 0.3, 0.45, 0.7, 0.9, 0.55]).view(6, 1, 1, 1).expand(6, 1, 4, 4).contiguous()
    y = torch.tensor([0, 0, 0, 1, 1, 0])          # the last is misclassified clean
    up = lambda m, x, y: (x + 0.1).clamp(0, 1)    # noqa: E731
    down = lambda m, x, y: (x - 0.25).clamp(0, 1)  # noqa: E731
    res = D.robust_accuracy(Threshold(), (x, y), {"up": up, "down": down}, batch_size=4)
    assert res.clean == pytest.approx(5 / 6)
    assert res.per_attack["up"] == pytest.approx(4 / 6)     # 0.45 flips; 0.55 stays wrong
    assert res.per_attack["down"] == pytest.approx(5 / 6)   # 0.7 flips; 0.55 becomes right: still not robust
    assert res.correct.tolist() == [True, True, False, False, True, False]
    assert res.accuracy == pytest.approx(3 / 6) and res.n == 6


# --------------------------------------------------------------------------- the linear explanation

def test_logit_profile_of_a_linear_model_is_exactly_linear():
    lin = nn.Sequential(nn.Flatten(), nn.Linear(64, 5)).double()
    x = rand_images(3, 8)
    prof = D.logit_profile(lin, x, torch.randn(x.shape, dtype=torch.float64), [-1, -0.5, 0, 0.5, 1, 2])
    assert prof.logits.shape == (3, 6, 5)
    assert torch.allclose(D.linearity_r2(prof), torch.ones(3, 5, dtype=torch.float64))
    relu = tiny_cnn()
    r2 = D.linearity_r2(D.logit_profile(relu, x, torch.randn(x.shape, dtype=torch.float64), np.linspace(-3, 3, 13)))
    assert (r2 < 1 - 1e-6).any()        # piecewise linear: several pieces over a long line


# --------------------------------------------------------------------------- dense associative memory

@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_associative_memory(dtype):
    dam = D.DenseAssociativeMemory(power=10, memories=6, in_features=64, num_classes=5).to(dtype)
    x = rand_images(4, 8, dtype)
    out = dam(x)
    assert out.shape == (4, 5) and out.dtype == dtype and out.abs().max() <= dam.scale
    g = attacks.loss_gradient(dam, x, torch.arange(4) % 5)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    # with power -> large, the output is the label row of the best-matching memory: a template matcher
    big = D.DenseAssociativeMemory(power=400, memories=6, in_features=64, num_classes=5).double()
    with torch.no_grad():
        u = (2 * x.double().flatten(1) - 1) @ torch.tanh(big.memory).T / 64
        best = u.argmax(1)
        expected = big.scale * torch.tanh(big.beta * big.labels.T[best])
        assert torch.allclose(big(x.double()), expected, atol=1e-3)


# --------------------------------------------------------------------------- the lesson's models

@pytest.fixture(scope="module")
def mnist_split():
    test = data.mnist("test")
    return test.tensors(range(0, 2000))


@pytest.fixture(scope="module")
def standard_model():
    return D.defended_model("standard", progress=False)


@pytest.fixture(scope="module")
def pgd_model():
    return D.defended_model("pgd", progress=False)


@pytest.fixture(scope="module")
def fast_model():
    return D.defended_model("fast", progress=False)


def test_detector_false_positives_measured_on_unseen_clean_images(standard_model, mnist_split):
    x, y = mnist_split
    fit_x, fit_y, new_x, new_y = x[1000:2000], y[1000:2000], x[:500], y[:500]
    attack = lambda xs, ys: attacks.pgd(standard_model, xs, ys, eps=0.3, alpha=0.015, steps=40,  # noqa: E731
                                        generator=torch.Generator().manual_seed(1))
    det = D.Detector(standard_model, "act3").fit(fit_x, attack(fit_x, fit_y), false_positive_rate=0.05, seed=0)
    fpr = det.detect(new_x).float().mean().item()
    tpr = det.detect(attack(new_x, new_y)).float().mean().item()
    # measured (500 unseen digits): FPR 0.11 (the threshold flags 5% of its own training digits), TPR 0.94;
    # the asserts leave 0.09 and 0.09 of margin
    assert fpr <= 0.2, f"false-positive rate on unseen clean images {fpr:.3f}"
    assert tpr >= 0.85, f"detection rate of PGD examples {tpr:.3f}"
    evading = D.evade_detector(standard_model, det, new_x[:200], new_y[:200], eps=0.3, alpha=0.015, steps=60,
                               weight=10.0, generator=torch.Generator().manual_seed(2))
    fooled = standard_model(evading).argmax(1) != new_y[:200]
    missed = ~det.detect(evading)
    # measured 0.64 of the digits both fooled and missed; margin 0.24
    assert (fooled & missed).float().mean() >= 0.4


def _strong_suite(restarts: int = 2, square_queries: int = 5_000) -> dict:
    """PGD-100 from random starts with the cross-entropy and with the margin loss, and the gradient-free Square
    attack (lesson 08), eps 0.3: the lesson's evaluation."""
    def pgd(seed, loss_fn=None):
        return lambda m, x, y: attacks.pgd(m, x, y, eps=0.3, alpha=0.01, steps=100, loss_fn=loss_fn,
                                           generator=torch.Generator().manual_seed(seed))

    def square(m, x, y):
        return blackbox.square_attack(blackbox.Oracle(m, output="probabilities"), x, y, eps=0.3,
                                      max_queries=square_queries, progress=False).x_adv
    return {**{f"ce{r}": pgd(r) for r in range(restarts)},
            **{f"margin{r}": pgd(100 + r, D.margin_loss) for r in range(restarts)},
            "square": square}


def _autoattack(model, x, y) -> float:
    torchattacks = pytest.importorskip("torchattacks")
    aa = torchattacks.AutoAttack(model, norm="Linf", eps=0.3, version="standard", n_classes=10, seed=0)
    x_aa = aa(x, y)
    with torch.no_grad():
        return (model(x_aa).argmax(1) == y).float().mean().item()


def test_pgd_training_is_robust_and_autoattack_confirms_it(pgd_model, mnist_split):
    """The quality bar, on the 5,000 offline digits: clean and worst-case accuracy at eps 0.3, confirmed by
    AutoAttack. Measured on the first 200 test digits: clean 99.0%; PGD-100 (cross-entropy and margin, two starts
    each) 81.5%; Square with 5,000 queries 78.5% (seeds 0 and 1), worst case 78.5%; AutoAttack 78.5%. Gradient PGD
    alone sat 3.0 points above AutoAttack (five starts each: 80.5%, ten: 80.0%): Square finds the digits whose
    gradients mislead PGD. The assert holds the issue's bar, at most 3 points, 3 points from the measured gap of 0."""
    x, y = mnist_split[0][:200], mnist_split[1][:200]
    ours = D.robust_accuracy(pgd_model, (x, y), _strong_suite())
    aa = _autoattack(pgd_model, x, y)
    assert ours.clean >= 0.95
    assert ours.accuracy >= 0.70, f"worst case over our attacks {ours.accuracy:.3f}"
    assert aa >= ours.accuracy - 0.03, f"AutoAttack {aa:.3f} vs our worst case {ours.accuracy:.3f}"


def test_fast_training_on_small_data_is_exposed_by_autoattack(fast_model, mnist_split):
    """Fast FGSM training on 5,000 digits overfits catastrophically: cross-entropy PGD alone reported about 30%
    robust accuracy; with the margin loss (two starts each) our PGD says 10.0%, the gradient-free Square attack
    (5,000 queries) 4.5%, AutoAttack 4.5% (measured on 200 digits). The lesson teaches exactly this check."""
    x, y = mnist_split[0][:200], mnist_split[1][:200]
    ours = D.robust_accuracy(fast_model, (x, y), _strong_suite(1))
    aa = _autoattack(fast_model, x, y)
    assert ours.clean >= 0.95
    assert aa <= ours.accuracy + 0.02
    assert aa < 0.5, "if fast training became robust here, update the lesson's text"


def test_margin_loss():
    out = torch.tensor([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0]], requires_grad=True)
    y = torch.tensor([1, 2])
    value = D.margin_loss(out, y)
    assert value.item() == pytest.approx((2 - 3) + (5 - 1))
    (g,) = torch.autograd.grad(value, out)
    assert g.tolist() == [[0, -1, 1], [1, 0, -1]]


# --------------------------------------------------------------------------- figures

def test_figures():
    x = rand_images(3, 8, torch.float32)
    prof = D.logit_profile(tiny_cnn(torch.float32), x, torch.sign(torch.randn(x.shape)), np.linspace(0, 0.5, 11))
    fig = P.profile_figure(prof, 1, true_class=2, eps=0.3)
    assert "R" in fig.axes[0].get_title()
    fig = P.defence_figure({"none": {"clean": 0.99, "PGD": 0.0}, "JPEG": {"clean": 0.98, "plain": 0.9, "BPDA": 0.1}})
    assert len(fig.axes[0].patches) == 5
    P.transform_figure(x, {"1 bit": D.bit_depth(x, 1)}, predictions={"original": "abc", "1 bit": "abd"})
    P.detector_figure({"clean": torch.randn(50), "PGD": torch.randn(50) + 3}, 1.5)
    fig = P.transfer_figure([[0.1, 0.9], [0.8, 0.2]], ["a", "b"], ["c", "d"])
    assert len(fig.axes) == 2      # the map and its colour bar
