"""Lesson 08: the oracle hides its model and counts exactly, Jacobian augmentation matches its formula,
the substitute meets the tutorial's bar on the course's LeNet-5, transfer equals the white-box attack when the
substitute is the oracle's own model, SimBA agrees with the authors' reference loop and with ART, and the Square
attack keeps to its ball and its budget and fools as many digits as torchattacks' Square."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from lectures_lib import attacks, blackbox, data, models, plumbing
from lectures_lib.plotting import blackbox as PB

DTYPES = [torch.float32, torch.float64]


class Counting(nn.Module):
    """A hand-weighted softmax regression on 1 x 6 x 6 images that counts every image it sees."""

    def __init__(self, dtype=torch.float64, classes: int = 4):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.linear = nn.Linear(36, classes).to(dtype)
        with torch.no_grad():
            self.linear.weight.copy_(torch.randn(classes, 36, generator=g, dtype=dtype))
            self.linear.bias.copy_(torch.randn(classes, generator=g, dtype=dtype))
        self.seen = 0

    def forward(self, x):
        self.seen += x.shape[0]
        return self.linear(x.flatten(1))


def rand_images(n, dtype=torch.float64, size=6, seed=1):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)).to(dtype)


# --------------------------------------------------------------------------- the oracle

@pytest.mark.parametrize("dtype", DTYPES)
def test_oracle_answers_labels_or_probabilities(dtype):
    model, x = Counting(), rand_images(9, dtype)
    expected = model(x.double()).softmax(1)
    labels = blackbox.Oracle(model)(x)
    assert labels.dtype == torch.int64 and torch.equal(labels, expected.argmax(1))
    probs = blackbox.Oracle(model, output="probabilities")(x)
    assert probs.dtype == dtype and torch.allclose(probs.double(), expected, atol=1e-6)
    assert torch.allclose(probs.sum(1), torch.ones(9, dtype=dtype))


def test_oracle_hides_the_model_and_refuses_gradients():
    model = Counting()
    oracle = blackbox.Oracle(model, output="probabilities")
    assert not isinstance(oracle, nn.Module) and not hasattr(oracle, "__dict__")
    for name in dir(oracle):
        if name.startswith("_"):
            continue
        value = getattr(oracle, name)
        assert not isinstance(value, (nn.Module, torch.Tensor)), name
        assert not (callable(value) and getattr(value, "__self__", None) is model), name
    for name in ("model", "net", "parameters", "state_dict", "forward"):
        assert not hasattr(oracle, name)
    x = rand_images(3)
    with pytest.raises(ValueError, match="never gradients"):
        oracle(x.clone().requires_grad_(True))
    out = oracle(x)
    assert not out.requires_grad and out.grad_fn is None
    with pytest.raises(ValueError, match="never gradients"):  # lesson 06's attacks cannot differentiate it
        attacks.fgsm(oracle, x, torch.zeros(3, dtype=torch.long), eps=0.1)
    assert oracle.queries == 3  # refused queries are not counted


def test_query_counts_are_exact_with_batched_queries():
    model = Counting()
    oracle = blackbox.Oracle(model, batch_size=7)
    for n in (1, 5, 20, 64):
        oracle(rand_images(n))
    oracle.labels(rand_images(3))
    assert oracle.queries == 93 == model.seen


def test_the_budget_is_enforced():
    model = Counting()
    oracle = blackbox.Oracle(model, budget=10)
    oracle(rand_images(6))
    with pytest.raises(blackbox.QueryBudgetExceeded, match="6 of 10 queries used"):
        oracle(rand_images(5))
    assert oracle.queries == 6 and model.seen == 6 and oracle.remaining == 4
    oracle(rand_images(4))
    with pytest.raises(blackbox.QueryBudgetExceeded):
        oracle(rand_images(1))
    assert oracle.queries == 10 == model.seen and oracle.remaining == 0
    with pytest.raises(blackbox.QueryBudgetExceeded):
        blackbox.Oracle(model, budget=0)(rand_images(1))


# --------------------------------------------------------------------------- Jacobian augmentation

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lam", [0.1, -0.1, 0.3])
def test_jacobian_augmentation_matches_its_formula(dtype, lam):
    model = Counting()  # float64 weights: the formula is exact
    w, b = model.linear.weight.detach(), model.linear.bias.detach()
    x, y = rand_images(12, dtype), torch.arange(12) % 4
    p = (x.double().flatten(1) @ w.T + b).softmax(1)
    # d p_y / dx = p_y (w_y - sum_k p_k w_k)
    grad = p.gather(1, y[:, None]) * (w[y] - p @ w)
    expected = (x.double() + lam * grad.sign().view_as(x)).clamp(0, 1)
    got = blackbox.jacobian_augmentation(model, x, y, lam=lam, batch_size=5)
    assert got.dtype == dtype
    assert torch.allclose(got.double(), expected, atol=1e-6)
    assert got.min() >= 0 and got.max() <= 1


def test_periodic_step_and_query_schedule():
    assert [blackbox.periodic_step(0.1, r, 3) for r in range(7)] == [0.1, 0.1, 0.1, -0.1, -0.1, -0.1, 0.1]
    assert [blackbox.periodic_step(0.1, r, None) for r in range(3)] == [0.1] * 3
    assert blackbox.query_schedule(150, 6) == [150, 300, 600, 1200, 2400, 4800]
    assert blackbox.query_schedule(100, 7)[-1] == 6400  # the paper's MetaMind attack: 6,400 queries
    assert blackbox.query_schedule(150, 6, kappa=400, sigma=3) == [150, 300, 600, 1200, 1600, 2000]
    assert blackbox.query_schedule(10, 1) == [10]


@pytest.mark.parametrize("kappa", [None, 30])
def test_train_substitute_spends_exactly_the_scheduled_queries(kappa):
    model = Counting()
    oracle = blackbox.Oracle(model, batch_size=16)
    seeds = rand_images(20)
    res = blackbox.train_substitute(oracle, seeds, "mlp", rounds=5, kappa=kappa, sigma=2, epochs=1, num_classes=4,
                                    progress=False)
    schedule = blackbox.query_schedule(20, 5, kappa=kappa, sigma=2)
    assert [row["queries"] for row in res.history] == schedule == [row["train_size"] for row in res.history]
    assert oracle.queries == schedule[-1] == model.seen
    assert [row["lam"] for row in res.history] == [None, 0.1, 0.1, 0.1, -0.1]
    assert res.x_train.dtype == seeds.dtype and res.x_train.min() >= 0 and res.x_train.max() <= 1
    assert torch.equal(res.x_train[:20], seeds) and (res.parents[:20] == -1).all()
    assert (res.parents[20:] >= 0).all() and (res.parents[20:] < torch.arange(20, len(res.parents))).all()
    assert torch.equal(res.y_train, model(res.x_train).argmax(1))  # every label is the oracle's


def test_train_substitute_is_repeatable():
    def run():
        oracle = blackbox.Oracle(Counting())
        return blackbox.train_substitute(oracle, rand_images(16), "mlp", rounds=3, epochs=2, num_classes=4, seed=3,
                                         progress=False).model

    a, b = run(), run()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.fixture(scope="module")
def mnist_setup():
    lenet = models.mnist_model("lenet5", progress=False)
    x, y = data.stack(data.mnist("test"), 2150)
    return lenet, x[:150], x[150:], y[150:]


def test_the_substitute_meets_the_tutorials_bar_on_lenet(mnist_setup):
    """The reduced tutorial on the course's LeNet-5: 150 seeds, 6 rounds, the MLP substitute. Measured
    substitute accuracy 0.784-0.795 over seeds 0-2 (on 9,850 held-out digits); the bar 0.7 sits 0.08 below."""
    lenet, seeds, xh, yh = mnist_setup
    oracle = blackbox.Oracle(lenet)
    oh = plumbing.predicted_classes(lenet, xh)
    res = blackbox.train_substitute(oracle, seeds, "mlp", holdout=(xh, yh), holdout_oracle_labels=oh, progress=False)
    assert oracle.queries == 4800
    assert (oh == yh).double().mean() > 0.97  # the oracle
    assert res.history[-1]["substitute_accuracy"] > 0.7 and res.history[-1]["agreement"] > 0.7
    assert res.history[-1]["agreement"] > res.history[0]["agreement"] + 0.05  # augmentation helps
    tr = blackbox.transfer_attack(oracle, res.model, xh[:500], yh[:500], attack="fgsm", eps=0.3)
    # measured 0.53-0.54 over seeds 0-2 on 2,000 digits: transfer works, well above the 2% clean error
    assert tr.success_rate > 0.35 and tr.queries == 500


# --------------------------------------------------------------------------- transfer

@pytest.mark.parametrize("dtype", DTYPES)
def test_transfer_from_the_oracles_own_model_is_the_white_box_attack(dtype):
    model = Counting()
    x, y = rand_images(16, dtype), torch.arange(16) % 4
    oracle = blackbox.Oracle(model)
    res = blackbox.transfer_attack(oracle, model, x, y, attack="fgsm", eps=0.2)
    white = attacks.fgsm(model, x, y, eps=0.2)
    assert res.x_adv.dtype == dtype and torch.equal(res.x_adv, white)
    assert torch.equal(res.fooled, model(white.double()).argmax(1) != y)
    assert res.success_rate == pytest.approx(res.fooled.double().mean().item()) and res.queries == 16
    res_none = blackbox.transfer_attack(oracle, model, x, attack="pgd", eps=0.2)
    assert res_none.queries == 32  # the clean labels cost one query per image
    curves = blackbox.transfer_success(oracle, model, x, y, eps_values=[0.0, 0.2], attacks=("fgsm",), progress=False)
    assert curves["fgsm"]["success"][1] == pytest.approx(res.success_rate)
    assert curves["fgsm"]["success"][0] == pytest.approx((model(x.double()).argmax(1) != y).double().mean().item())


# --------------------------------------------------------------------------- SimBA

def reference_simba(get_probs, x, y, perm, eps, max_queries):
    """The authors' 20-line SimBA (github.com/cg563/simple-blackbox-attack, simba_single), with the paper's
    stop once the label changes and a cap on queries (the first one included)."""
    n_dims = x.numel()
    probs = get_probs(x)
    queries, last = 1, probs[y]
    for i in range(len(perm)):
        if probs.argmax() != y or queries >= max_queries:
            break
        diff = torch.zeros(n_dims, dtype=x.dtype)
        diff[perm[i]] = eps
        left = (x - diff.view(x.size())).clamp(0, 1)
        p_left = get_probs(left)
        queries += 1
        if p_left[y] < last:
            x, last, probs = left, p_left[y], p_left
        elif queries < max_queries:
            right = (x + diff.view(x.size())).clamp(0, 1)
            p_right = get_probs(right)
            queries += 1
            if p_right[y] < last:
                x, last, probs = right, p_right[y], p_right
    return x, queries


@pytest.mark.parametrize("dtype", DTYPES)
def test_simba_agrees_with_the_authors_reference_loop(dtype):
    model = Counting()
    for i in range(4):
        x, y = rand_images(1, dtype, seed=10 + i), torch.tensor([i % 4])
        oracle = blackbox.Oracle(model, output="probabilities")
        res = blackbox.simba(oracle, x, y, eps=0.3, max_queries=90, seed=i, progress=False)
        g = torch.Generator().manual_seed(i)
        perm = torch.cat([torch.randperm(36, generator=g) for _ in range(3)])  # a fresh order for each pass
        get_probs = lambda z: model(z[None].double()).softmax(1)[0].detach()
        ref_x, ref_q = reference_simba(get_probs, x[0], int(y), perm, 0.3, 90)
        assert torch.allclose(res.x_adv[0].double(), ref_x.double(), atol=1e-6)
        assert int(res.queries[0]) == ref_q == oracle.queries


@pytest.mark.parametrize("basis", ["pixel", "dct"])
def test_simba_counts_every_query_and_keeps_its_promises(basis):
    model = Counting()
    x, y = rand_images(10), torch.arange(10) % 4
    oracle = blackbox.Oracle(model, output="probabilities", batch_size=3)
    p0 = model(x).softmax(1)[torch.arange(10), y]
    model.seen = 0
    # 37 queries: at most 36 steps, one pass through the 36 directions (all orthonormal)
    res = blackbox.simba(oracle, x, y, eps=0.25, max_queries=37, basis=basis, freq_dims=6 if basis == "dct" else None,
                         progress=False)
    assert int(res.queries.sum()) == oracle.queries == model.seen
    assert (res.queries <= 37).all() and (res.queries >= 1).all()
    p = model(res.x_adv).softmax(1)
    assert torch.equal(res.oracle_labels, p.argmax(1)) and torch.equal(res.success, p.argmax(1) != y)
    assert (res.probability <= p0 + 1e-9).all()  # p_y never rises
    delta = (res.x_adv - x).flatten(1)
    steps = (res.queries - 1).double()  # at most one accepted step per step taken
    assert (delta.norm(dim=1) <= 0.25 * steps.sqrt() + 1e-6).all()
    if basis == "pixel":
        assert delta.abs().max() <= 0.25 + 1e-9
    assert res.success.any()


def test_simba_targeted_reaches_the_target():
    model = Counting()
    x = rand_images(6)
    target = (model(x).argmax(1) + 1) % 4
    res = blackbox.simba(blackbox.Oracle(model, "probabilities"), x, target, eps=0.3, max_queries=400, targeted=True,
                         progress=False)
    assert torch.equal(res.success, model(res.x_adv).argmax(1) == target) and res.success.float().mean() >= 0.5


def test_dct_basis_matches_scipy_and_art():
    scipy_fft = pytest.importorskip("scipy.fft")
    d = blackbox.dct_matrix(8)
    assert torch.allclose(d @ d.T, torch.eye(8, dtype=torch.float64), atol=1e-12)
    assert np.allclose(d.numpy(), scipy_fft.dct(np.eye(8), norm="ortho", axis=0))
    art_simba = pytest.importorskip("art.attacks.evasion.simba")
    from art.estimators.classification import PyTorchClassifier

    clf = PyTorchClassifier(Counting(torch.float32), loss=nn.CrossEntropyLoss(), input_shape=(1, 6, 6), nb_classes=4,
                            clip_values=(0.0, 1.0))
    art = art_simba.SimBA(clf, attack="dct", freq_dim=3)
    index = torch.arange(9)
    ours = blackbox.simba_directions(index, (1, 6, 6), "dct", freq_dims=3, dtype=torch.float64)
    for i in range(9):
        z = np.zeros((1, 1, 6, 6))
        z[0, 0, i // 3, i % 3] = 1.0
        assert np.allclose(ours[i].numpy(), art._block_idct(z, block_size=6)[0], atol=1e-6)


def test_simba_success_rate_is_close_to_arts(mnist_setup):
    """ART's SimBA (pixel basis) queries both sides every step and keeps the better one; the paper's loop keeps
    the first that helps. On the same 12 LeNet-5 digits at eps 0.3 and 400 steps both should fool a similar share
    (measured: ours 11/12, ART 11/12)."""
    pytest.importorskip("art")
    from art.attacks.evasion import SimBA
    from art.estimators.classification import PyTorchClassifier

    lenet, _, xh, yh = mnist_setup
    x, y = xh[:12], yh[:12]
    probs = nn.Sequential(lenet, nn.Softmax(dim=1)).eval()
    clf = PyTorchClassifier(probs, loss=nn.CrossEntropyLoss(), input_shape=(1, 28, 28), nb_classes=10,
                            clip_values=(0.0, 1.0))
    np.random.seed(0)  # noqa: NPY002 - ART draws SimBA's order from the legacy global RNG
    x_art = SimBA(clf, attack="px", max_iter=400, epsilon=0.3, verbose=False).generate(x.numpy())
    art_fooled = (lenet(torch.from_numpy(x_art)).argmax(1) != y).float().mean().item()
    ours = blackbox.simba(blackbox.Oracle(lenet, "probabilities"), x, y, eps=0.3, max_queries=801, progress=False)
    assert abs(ours.success.float().mean().item() - art_fooled) <= 0.25  # 3 of 12 digits


# --------------------------------------------------------------------------- Square attack
def test_square_fraction_halves_at_the_reference_milestones():
    assert blackbox.square_fraction(0, 10_000) == 0.8
    assert blackbox.square_fraction(11, 10_000) == 0.4
    assert blackbox.square_fraction(201, 10_000) == pytest.approx(0.1)
    assert blackbox.square_fraction(9_999, 10_000) == pytest.approx(0.8 / 512)
    assert blackbox.square_fraction(100, 1_000, p_init=0.5) == pytest.approx(0.5 / 16)  # 1,000 of 10,000 rescaled
    assert blackbox.square_fraction(101, 1_000, p_init=0.5) == pytest.approx(0.5 / 32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_square_attack_counts_every_query_and_stays_in_the_ball(dtype):
    model = Counting(dtype)
    x, y = rand_images(10, dtype), torch.arange(10) % 4
    oracle = blackbox.Oracle(model, output="probabilities", batch_size=3)
    with torch.no_grad():
        p0 = model(x).softmax(1)[torch.arange(10), y]
    model.seen = 0
    res = blackbox.square_attack(oracle, x, y, eps=0.1, max_queries=50, progress=False)
    assert int(res.queries.sum()) == oracle.queries == model.seen
    assert (res.queries <= 50).all() and (res.queries >= 1).all()
    assert res.x_adv.dtype == dtype and (res.x_adv - x).abs().max() <= 0.1 + 1e-6
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    with torch.no_grad():
        p = model(res.x_adv).softmax(1)
    assert torch.equal(res.oracle_labels, p.argmax(1)) and torch.equal(res.success, p.argmax(1) != y)
    assert torch.allclose(res.probability, p[torch.arange(10), y])
    # the margin only falls; an image stops once fooled, so unfooled images spent every query
    margin = lambda q: q.log()[torch.arange(10), y] - q.log().scatter(1, y[:, None], -math.inf).amax(1)  # noqa: E731
    assert (margin(p) <= margin(model(x).softmax(1)) + 1e-9).all()
    assert (res.queries[~res.success] == 50).all()
    assert (res.probability <= p0 + 0.5).all() and res.success.any()


def test_square_attack_is_repeatable_and_seeded():
    model = Counting()
    x, y = rand_images(4), torch.arange(4)
    run = lambda seed: blackbox.square_attack(blackbox.Oracle(model, "probabilities"), x, y, eps=0.05, max_queries=30,  # noqa: E731
                                              seed=seed, progress=False).x_adv
    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))


def test_square_attack_matches_torchattacks_on_lenet(mnist_setup):
    """Our Square attack beside torchattacks' ``Square`` (AutoAttack's copy of the reference code) on 60 LeNet-5
    digits at eps 0.15, 300 queries: both should fool a similar share. Measured over seeds 0-2: ours 0.62-0.65,
    torchattacks 0.62-0.67, at most 0.033 (2 digits) apart for one seed; the assert allows 0.10 (6 digits)."""
    torchattacks = pytest.importorskip("torchattacks")
    lenet, _, xh, yh = mnist_setup
    x, y = xh[:60], yh[:60]
    ref = torchattacks.Square(lenet, eps=0.15, n_queries=300, n_restarts=1, seed=0, p_init=0.8)
    with torch.no_grad():
        theirs = (lenet(ref(x, y)).argmax(1) != y).float().mean().item()
    ours = blackbox.square_attack(blackbox.Oracle(lenet, "probabilities"), x, y, eps=0.15, max_queries=300,
                                  progress=False)
    assert ours.queries.max() <= 300 and (ours.x_adv - x).abs().max() <= 0.15 + 1e-6
    assert abs(ours.success.float().mean().item() - theirs) <= 0.10, (ours.success.float().mean().item(), theirs)


# --------------------------------------------------------------------------- figures

def test_figures_render_with_labels():
    model = Counting()
    oracle = blackbox.Oracle(model)
    xs, xh = rand_images(8), rand_images(40, seed=5)
    yh = model(xh).argmax(1)
    res = blackbox.train_substitute(oracle, xs, "mlp", rounds=3, epochs=1, num_classes=4, holdout=(xh, yh),
                                    holdout_oracle_labels=yh, progress=False)
    figs = [PB.substitute_figure(res.history, oracle_accuracy=1.0),
            PB.lineage_figure(res.x_train, res.y_train, res.parents, seeds=[0, 1]),
            PB.transfer_figure({"fgsm": {"eps": [0, 0.1], "success": [0.1, 0.5]}},
                               white_box={"fgsm": {"eps": [0, 0.1], "success": [0.1, 0.9]}}, clean_error=0.1),
            PB.cost_figure({"pixel": torch.tensor([3, 10, 50])}, {"pixel": torch.tensor([True, True, False])},
                           transfer={"FGSM transfer": (100.0, 0.5)}),
            PB.examples_figure(xh[:4], {"clean": (xh[:4], yh[:4])}, yh[:4], n=4)]
    for fig in figs:
        ax = fig.axes[0]
        assert ax.get_title() or fig._suptitle is not None
    for fig in figs[:1] + figs[2:4]:
        ax = fig.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    assert PB.lineage(res.parents, len(res.parents) - 1)[0] < 8
    assert math.isclose(len(PB.lineage(res.parents, len(res.parents) - 1)), 3)
