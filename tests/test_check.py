"""The exercise checkers' messages on typical wrong answers."""
import pytest
import torch
import torch.nn.functional as F

from lectures_lib import check


def fgsm_step(x, grad, eps):
    return (x + eps * grad.sign()).clamp(0, 1)


def inputs(gen):
    return torch.rand(2, 1, 5, 5, generator=gen), torch.randn(2, 1, 5, 5, generator=gen), 0.1


def fails_with(student, reference, make, text):
    with pytest.raises(check.CheckFailed) as info:
        check.function(student, reference, make, quiet=True)
    assert text in str(info.value), str(info.value)
    return str(info.value)


def test_right_answer_passes(capsys):
    check.function(lambda x, g, e: (x + e * torch.sign(g)).clamp(0, 1), fgsm_step, inputs, name="my_fgsm")
    assert "my_fgsm agrees with the reference on 3 random inputs" in capsys.readouterr().out


def test_sign_error():
    fails_with(lambda x, g, e: (x - e * g.sign()).clamp(0, 1), fgsm_step, inputs,
               "goes the wrong way")  # a sign error inside a clamp is no global sign flip: the step's direction is
    fails_with(lambda x, g: -g, lambda x, g: g, lambda gen: (torch.rand(3), torch.randn(3, generator=gen)),
               "sign flipped")


def test_missing_clamp():
    fails_with(lambda x, g, e: x + e * g.sign(), fgsm_step, inputs, "leaves [0, 1]")


def test_transposed_kernel():
    def ref(x, w):
        return F.conv2d(x, w)

    def transposed(x, w):
        return F.conv2d(x, w.transpose(-1, -2))

    def make(gen):
        return torch.randn(1, 1, 6, 6, generator=gen), torch.randn(1, 1, 3, 3, generator=gen)

    msg = fails_with(transposed, ref, make, "differs at index")
    assert "got" in msg and "expected" in msg
    fails_with(lambda w: w.transpose(-1, -2), lambda w: w, lambda gen: (torch.randn(3, 3, generator=gen),), "transposed")


def test_off_by_one_receptive_field():
    def rf(kernels, strides):  # r_l = r_{l-1} + (k_l - 1) * prod(strides before l)
        r, jump = 1, 1
        for k, s in zip(kernels, strides):
            r, jump = r + (k - 1) * jump, jump * s
        return torch.tensor(r)

    def off_by_one(kernels, strides):
        return rf(kernels, strides) + 1

    msg = fails_with(off_by_one, rf, lambda gen: ([5, 2, 5], [1, 2, 1]), "is 15, expected 14: off by one (+1)")
    assert "trial 1" in msg


def test_constant_factor_dtype_shape_and_not_implemented():
    fails_with(lambda x: 2 * x, lambda x: x, lambda gen: (torch.randn(4, generator=gen),), "constant factor: 2")
    fails_with(lambda x: x.double(), lambda x: x, lambda gen: (torch.randn(4, generator=gen),), "dtype")
    fails_with(lambda x: x[:2], lambda x: x, lambda gen: (torch.randn(4, generator=gen),), "wrong shape")

    def stub(x):
        raise NotImplementedError()

    fails_with(stub, lambda x: x, lambda gen: (torch.randn(4, generator=gen),), "not implemented yet")


def test_modified_input_and_exception():
    def in_place(x):
        return x.clamp_(0, 1)

    fails_with(in_place, lambda x: x.clamp(0, 1), lambda gen: (torch.randn(4, generator=gen),), "modified its input")
    fails_with(lambda x: x @ x, lambda x: x, lambda gen: (torch.randn(2, 3, generator=gen),), "raised RuntimeError")


def test_value_and_claim(capsys):
    check.value("C5 parameters", 48_120, 48_120)
    with pytest.raises(check.CheckFailed, match="is 48000, expected 48120"):
        check.value("C5 parameters", 48_000, 48_120, rtol=0)
    with pytest.raises(check.CheckFailed, match="sequence of 2 items"):
        check.value("shape", (6, 28, 28), (6, 28))
    out = check.claim("fooling rate", predicted=0.5, measured=0.83, paper=0.78, unit="")
    text = capsys.readouterr().out
    assert out["measured"] == 0.83 and "your prediction" in text and "0.78" in text and "0.83" in text
    def stub():
        raise NotImplementedError()

    with pytest.raises(check.CheckFailed, match="not implemented yet"):
        check.value("C5 parameters", stub, 48_120)
    check.value("C5 parameters", lambda: 16 * 120 * 25 + 120, 48_120)
    check.claim("no guess", predicted=..., measured=1)
    assert "(none written)" in capsys.readouterr().out


def test_a_step_in_the_wrong_direction_is_named():
    msg = fails_with(lambda x, g, e: (x - e * g.sign()).clamp(0, 1), fgsm_step, inputs, "goes the wrong way")
    assert "sign error" in msg


def test_a_module_argument_is_named_by_its_type():
    model = torch.nn.Linear(3, 2)
    msg = fails_with(lambda m, x: m(x) * 2 + 1, lambda m, x: m(x), lambda gen: (model, torch.randn(2, 3, generator=gen)),
                     "inputs Linear, (2, 3)")
    assert "in_features" not in msg
