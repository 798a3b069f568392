"""The shared plumbing, tested once here for every lesson module that uses it."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lectures_lib import data, plumbing


def tiny():
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return model.eval()


def images(n=5, dtype=torch.float32):
    return torch.rand(n, 1, 6, 6, generator=torch.Generator().manual_seed(1)).to(dtype)


def test_count_items_for_every_data_form():
    x, y = images(7), torch.arange(7) % 4
    ds = data.ImageTensorDataset((x * 255).to(torch.uint8), y, ["a", "b", "c", "d"], "toy")
    assert [plumbing.count_items(d) for d in (x, (x, y), [x, y], (x, None), ds, torch.utils.data.Subset(ds, [1, 2]))] \
        == [7, 7, 7, 7, 7, 2]
    with pytest.raises(ValueError, match="as many items"):
        plumbing.count_items((x, y[:3]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_input_gradient_equals_autograd_and_ignores_batch_size(dtype):
    model, x, t = tiny().to(dtype), images(dtype=dtype), torch.tensor([0, 1, 2, 3, 0])
    xr = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(F.cross_entropy(model(xr), t, reduction="sum"), xr)
    for bs in (1, 2, 5):
        got = plumbing.input_gradient(model, x, lambda out, tb: F.cross_entropy(out, tb, reduction="sum"), t,
                                      batch_size=bs)
        assert got.dtype == dtype and torch.allclose(got, expected, atol=1e-6)
    assert all(p.grad is None for p in model.parameters())


def test_run_model_casts_to_the_model_and_results_come_back_in_x_dtype():
    model = tiny()
    x64 = images(dtype=torch.float64)
    out = plumbing.logits(model, x64)
    assert out.dtype == torch.float64 and torch.allclose(out, model(x64.float()).double(), atol=1e-5)
    assert plumbing.logits(lambda x: x.flatten(1)[:, :3], images()).shape == (5, 3)  # any callable model


def test_eval_mode_accepts_plain_callables_and_restores_modules():
    fn = lambda x: x  # noqa: E731
    with plumbing.eval_mode(fn) as m:
        assert m is fn
    model = tiny().train()
    with plumbing.eval_mode(model):
        assert not model.training
    assert model.training


def test_hooks_are_removed_even_after_an_error():
    model = tiny()

    def boom(name, module, inputs, output):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), plumbing.hooks({"0": model[0]}, boom):
        model(images())
    assert not model[0]._forward_hooks


def test_layer_outputs_are_safe_from_inplace_ops_and_can_stop_early():
    model, x = tiny(), images()
    outs, calls = plumbing.layer_outputs(model, x, ["0", "1"])
    assert calls == {"0": 1, "1": 1}
    assert (outs["0"] < 0).any()  # the ReLU after it ran in place, but the stored copy kept its negatives
    seen = []
    model[3].register_forward_hook(lambda *a: seen.append(1))
    plumbing.layer_outputs(model, x, ["1"], calls={"1": 1})
    assert not seen  # the network stopped after the wanted layer


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_stream_activations_equal_one_full_pass(batch_size):
    model, x = tiny(), images(7)
    full = model[0](x)
    parts = {start: acts["0"] for start, acts in plumbing.stream_activations(model, x, "0", batch_size, progress=False)}
    assert sorted(parts) == list(range(0, 7, batch_size))
    assert torch.allclose(torch.cat([parts[s] for s in sorted(parts)]), full, atol=1e-6)


def test_resolve_target_defaults_to_the_prediction():
    model, x = tiny(), images()
    assert torch.equal(plumbing.resolve_target(model, x), model(x).argmax(1))
    assert torch.equal(plumbing.resolve_target(model, x, 2), torch.full((5,), 2))
