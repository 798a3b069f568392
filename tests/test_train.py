import pytest
import torch
from torch import nn

from lectures_lib import data, train


def toy_data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 4, 4, generator=g)
    y = (x[:, 0, 0, 0] > 0.5).long()
    return x, y


def toy_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 2))


def test_batches_same_for_tensors_and_datasets():
    x, y = toy_data(10)
    ds = data.ImageTensorDataset((x * 255).round().to(torch.uint8), y, ["a", "b"], "toy")
    xq = (x * 255).round() / 255
    for source in [(xq, y), ds, torch.utils.data.Subset(ds, range(10))]:
        got = list(train.batches(source, 4))
        assert [len(b[1]) for b in got] == [4, 4, 2]
        assert torch.allclose(torch.cat([b[0] for b in got]), xq) and torch.equal(torch.cat([b[1] for b in got]), y)
    only_x = list(train.batches(x, 3))
    assert len(only_x) == 4 and only_x[0][1] is None
    with pytest.raises(TypeError, match="data must be"):
        list(train.batches("images", 3))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        list(train.batches(x, 0))


def test_predict_and_logits_restore_mode():
    model = toy_model().train()
    x, _ = toy_data(7)
    p = train.predict(model, x, batch_size=3)
    assert p.shape == (7, 2) and torch.allclose(p.sum(1), torch.ones(7)) and model.training
    assert torch.allclose(train.logits(model, x), model(x).detach(), atol=1e-6)


def test_evaluate_topk_by_hand():
    class Fixed(nn.Module):
        def forward(self, x):
            return torch.tensor([[3.0, 2.0, 1.0], [1.0, 3.0, 2.0], [1.0, 2.0, 3.0]])[: len(x)]

    x, y = torch.zeros(3, 1, 2, 2), torch.tensor([0, 2, 0])
    res = train.evaluate(Fixed(), (x, y), topk=(1, 2))
    assert res["top1"] == pytest.approx(1 / 3) and res["top2"] == pytest.approx(2 / 3) and res["n"] == 3


def test_fit_learns_and_is_deterministic():
    x, y = toy_data(256)
    h1 = train.fit(m1 := toy_model(), (x, y), (x, y), epochs=10, lr=0.1, batch_size=32, progress=False)
    train.fit(m2 := toy_model(), (x, y), (x, y), epochs=10, lr=0.1, batch_size=32, progress=False)
    assert [r["epoch"] for r in h1] == list(range(1, 11)) and h1[-1]["test_acc"] > 0.8  # chance: 0.58
    assert h1[-1]["train_loss"] < h1[0]["train_loss"]
    assert torch.equal(m1[1].weight, m2[1].weight) and not m1.training


def test_fit_bad_arguments():
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train.fit(toy_model(), toy_data(), epochs=0)
    with pytest.raises(ValueError, match="optimizer must be"):
        train.fit(toy_model(), toy_data(), optimizer="rmsprop")


def test_random_shift_moves_each_image_within_bounds():
    x = torch.zeros(50, 1, 9, 9)
    x[:, :, 4, 4] = 1
    out = train.random_shift(x, 2, generator=torch.Generator().manual_seed(0))
    pos = out.flatten(1).argmax(1)
    rows, cols = pos // 9, pos % 9
    assert out.shape == x.shape and torch.all(out.sum(dim=(1, 2, 3)) == 1)
    assert rows.min() >= 2 and rows.max() <= 6 and cols.min() >= 2 and cols.max() <= 6 and len(set(pos.tolist())) > 5


def test_random_crop_flip_with_full_crops_only_mirrors_and_otherwise_zooms_in():
    """min_scale=1 keeps the whole image: each view is the image or its mirror image, exactly, about half of each.
    Smaller crops zoom in: a centred dot grows, stays inside the image, and the views repeat with the seed."""
    x = torch.rand(40, 3, 8, 8, dtype=torch.float64)
    out = train.random_crop_flip(x, min_scale=1.0, generator=torch.Generator().manual_seed(0))
    same = [torch.allclose(o, i, atol=1e-12) for o, i in zip(out, x)]
    mirrored = [torch.allclose(o, i.flip(-1), atol=1e-12) for o, i in zip(out, x)]
    assert all(a != b for a, b in zip(same, mirrored)) and 10 <= sum(mirrored) <= 30
    assert torch.equal(train.random_crop_flip(x, min_scale=1.0, flip=False), x)
    dot = torch.zeros(20, 1, 33, 33)
    dot[:, :, 14:19, 14:19] = 1   # a 5 x 5 square in the middle
    # with sides s >= 0.7 the crop's centre lies within 0.3 of the image's, so every crop holds the whole square
    zoomed = train.random_crop_flip(dot, min_scale=0.7, generator=torch.Generator().manual_seed(1))
    assert zoomed.shape == dot.shape and zoomed.dtype == dot.dtype and zoomed.min() >= 0 and zoomed.max() <= 1
    mass = zoomed.sum(dim=(1, 2, 3))
    # the area grows by 1 / s^2 up to bilinear blur at the edges (over seeds 0-199: 25.003 to 51.77, 25 / 0.7^2 = 51.02)
    assert (mass >= 25 - 1e-3).all() and (mass <= 25 / 0.7 ** 2 + 2).all() and mass.max() > 40
    again = train.random_crop_flip(dot, min_scale=0.7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(zoomed, again)


def test_eval_mode_restores_each_submodule():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Dropout()).train()
    model[1].eval()  # a frozen BatchNorm inside a training model
    with train.eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and model[0].training and not model[1].training and model[2].training
    try:
        with train.eval_mode(model):
            raise KeyError("boom")
    except KeyError:
        pass
    assert model.training and not model[1].training


def test_topk_accuracy_agrees_with_evaluate():
    x, y = toy_data(40)
    model = toy_model()
    res = train.evaluate(model, (x, y), topk=(1, 2))
    assert train.topk_accuracy(train.predict(model, x), y, (1, 2)) == {"top1": pytest.approx(res["top1"]), "top2": 1.0}


def test_fit_counts_items_of_a_pair_for_the_schedule():
    """Regression: len((x, y)) is 2, so the cosine schedule used to think an epoch was one step long."""
    x, y = toy_data(256)
    history = train.fit(toy_model(), (x, y), epochs=2, lr=0.1, batch_size=32, progress=False)
    assert history[0]["lr"] == pytest.approx(0.05, abs=1e-6)   # half-way down the cosine: 8 of 16 steps
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-9)


def test_fit_checks_its_options_and_data():
    x, y = toy_data(16)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        train.fit(toy_model(), (x, y), lr_schedule="step", progress=False)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        train.fit(toy_model(), (x, y), lr=float("inf"), progress=False)
    with pytest.raises(ValueError, match="as many items"):
        train.fit(toy_model(), (x, y[:-1]), progress=False)
    with pytest.raises(ValueError, match=r"train_data must hold values in \[0, 1\]"):
        train.fit(toy_model(), (x * 255, y), progress=False)


def test_fit_perturb_hook_sees_each_batch_and_is_seeded():
    x, y = toy_data(64)
    seen = []

    def noisy(model, xb, yb):
        seen.append(len(xb))
        assert model.training
        return (xb + 0.05 * torch.randn_like(xb)).clamp(0, 1)  # torch's RNG: seeded by fit

    m1, m2 = toy_model(), toy_model()
    train.fit(m1, (x, y), epochs=2, batch_size=16, perturb=noisy, seed=3, progress=False)
    torch.rand(7)  # a different global RNG history
    train.fit(m2, (x, y), epochs=2, batch_size=16, perturb=noisy, seed=3, progress=False)
    assert seen == [16] * 8 * 2 and torch.equal(m1[1].weight, m2[1].weight)


def test_fit_leaves_the_callers_rng_alone():
    x, y = toy_data(32)
    model = toy_model()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    train.fit(model, (x, y), epochs=1, perturb=train.shift_augmentation(1), progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_fit_stops_when_the_loss_diverges():
    x, y = toy_data(64)
    model = toy_model()
    with torch.no_grad():
        model[1].weight.fill_(float("nan"))
    with pytest.raises(ValueError, match="training diverged"):
        train.fit(model, (x, y), epochs=1, progress=False)


@pytest.mark.parametrize("model_dtype,x_dtype", [(torch.float32, torch.float64), (torch.float64, torch.float32),
                                                 (torch.float64, torch.float64)])
def test_predict_and_evaluate_mix_dtypes(model_dtype, x_dtype):
    x, y = toy_data(12)
    model = toy_model().to(model_dtype)
    p = train.predict(model, x.to(x_dtype))
    assert p.dtype == x_dtype and torch.allclose(p.sum(1), torch.ones(12, dtype=x_dtype))
    assert train.evaluate(model, (x.to(x_dtype), y))["n"] == 12
