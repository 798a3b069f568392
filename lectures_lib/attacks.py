"""Adversarial examples (lesson 06): the linear case, L-BFGS, FGSM, PGD, least-likely class,
DeepFool and fooling images.

Every attack takes a ``model``: any callable that maps ``B x C x H x W`` images in [0, 1] to ``B x K``
logits (normalisation lives in the model; an ``nn.Module`` is also put in eval mode while the attack
runs, every submodule's mode restored afterwards, and gets its inputs on its own device and dtype).
Each attack returns a **new** tensor on the device and in the dtype of its input ``x`` (never modified),
in [0, 1] and, where it has an ``eps``, within ``eps`` of ``x`` in L-infinity. Epsilons are on the
[0, 1] scale: ``eps = 8 / 255`` is "8" in the papers' 0-255 units. Labels ``y=None`` mean the model's
own predictions, which avoids "label leaking" (Kurakin et al. 2017). The gradient attacks take an
optional ``loss_fn(logits, y) -> scalar`` (default: cross-entropy summed over the batch).

One plain function per attack (the style of CleverHans 4): validation, then the math, then return.
The figures and the lesson's widget live in :mod:`lectures_lib.plotting.attacks`.

References
----------
- Szegedy et al., *Intriguing properties of neural networks*, ICLR 2014 (L-BFGS).
- Goodfellow, Shlens and Szegedy, *Explaining and harnessing adversarial examples*, ICLR 2015 (FGSM).
- Kurakin, Goodfellow and Bengio, *Adversarial machine learning at scale*, ICLR 2017, and *Adversarial
  examples in the physical world*, ICLR 2017 workshop (basic iterative, iterative least-likely class).
- Madry et al., *Towards deep learning models resistant to adversarial attacks*, ICLR 2018 (PGD).
- Moosavi-Dezfooli, Fawzi and Frossard, *DeepFool*, CVPR 2016.
- Nguyen, Yosinski and Clune, *Deep neural networks are easily fooled*, CVPR 2015 (fooling images).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .plumbing import (
    batches,
    count_items,
    eval_mode,
    input_channels,
    input_gradient,
    logits,
    model_device,
    model_dtype,
    predicted_classes,
    progress_bar,
    run_model,
)
from .train import predict, topk_accuracy
from .validation import (
    check_choice,
    check_classes,
    check_eps,
    check_flag,
    check_images,
    check_labels,
    check_logits,
    check_model,
    check_range,
    check_topk,
)

__all__ = [
    "ATTACKS",
    "Attack",
    "AttackGallery",
    "DeepFoolResult",
    "LossFn",
    "SmallestEps",
    "accuracy_under_attack",
    "deepfool",
    "fgsm",
    "fooling_image",
    "kurakin_schedule",
    "lbfgs_attack",
    "least_likely",
    "linear_adversarial",
    "loss_gradient",
    "named_attack",
    "pgd",
    "precompute_attacks",
    "project_linf",
    "smallest_eps",
]

Attack = Callable[..., torch.Tensor]
"""An attack as :func:`accuracy_under_attack` calls it: ``attack(model, x, y, eps) -> x_adv``."""
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss_fn(logits, y) -> scalar``, summed over the batch (so chunking does not change gradients)."""


# --------------------------------------------------------------------------- argument checks

def _check_loss_fn(loss_fn) -> None:
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be None or a function (logits, y) -> scalar, got {type(loss_fn).__name__}")


def _check_inputs(model, x, batch_size: int = 256, loss_fn=None, name: str = "x") -> None:
    """Check ``model``, images ``x`` (at least one, as many channels as the model's first convolution),
    ``batch_size`` and ``loss_fn``."""
    check_model(model)
    check_images(x, name, channels=input_channels(model), min_batch=1)
    check_range(batch_size, "batch_size", low=1, integer=True)
    _check_loss_fn(loss_fn)


def _attack_inputs(model, x, y, *, name: str = "y", targeted: bool = False, batch_size: int = 256,
                   loss_fn=None) -> torch.Tensor:
    """:func:`_check_inputs`, then the labels: ``B`` int64 on the device of ``x``, ``y`` as given (its range
    is checked against the logits of the attack's own forward pass), or the model's predictions when ``y``
    is None (refused for a targeted attack)."""
    _check_inputs(model, x, batch_size, loss_fn)
    check_flag(targeted, "targeted")
    if y is None:
        if targeted:
            raise ValueError(f"{name} is required for a targeted attack: the class to move each image toward")
        return predicted_classes(model, x, batch_size)
    return check_labels(y, x.shape[0], None, name).to(x.device)


def _sum_cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, y, reduction="sum")


def _objective(loss_fn: LossFn | None, name: str = "y") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``loss_fn`` (default: summed cross-entropy) wrapped with the checks that need the logits: their shape,
    the labels' range against K, and a scalar, differentiable result."""
    loss_fn = loss_fn or _sum_cross_entropy

    def objective(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_classes(y, check_logits(out).shape[1], name)
        value = loss_fn(out, y)
        if not isinstance(value, torch.Tensor) or value.numel() != 1 or not value.is_floating_point():
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"loss_fn must return a scalar float tensor (summed over the batch), got {got}")
        if not value.requires_grad:
            raise ValueError("loss_fn must return a loss computed from the logits (it has no gradient)")
        return value.reshape(())

    return objective


def kurakin_schedule(eps: float) -> tuple[float, int]:
    """Kurakin et al.'s step size and number of steps for the iterative methods.

    Parameters
    ----------
    eps : float
        The L-infinity budget in [0, 1].

    Returns
    -------
    (alpha, steps) : (float, int)
        ``alpha = 1/255`` and ``steps = ceil(min(255 eps + 4, 1.25 * 255 eps))``, at least 1.
    """
    e = 255.0 * check_eps(eps)
    return 1.0 / 255.0, max(1, math.ceil(min(e + 4.0, 1.25 * e) - 1e-9))


# --------------------------------------------------------------------------- the linear case

def linear_adversarial(weight: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """The L-infinity step that raises the score ``w^T x`` of a linear classifier the most
    (Goodfellow et al. 2015, section 3): ``clamp(x + eps * sign(w), 0, 1)``; the raise is ``eps |w|_1``.

    Parameters
    ----------
    weight : Tensor
        A class template ``w`` with as many entries as one image (``C x H x W`` or flat), or ``B`` of them,
        one per image (e.g. ``W[target] - W[label]`` to move each digit toward ``target``). Finite.
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    eps : float
        Step size in [0, 1].

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1], on the device and in the dtype of ``x``.
    """
    check_images(x, "x", min_batch=1)
    eps = check_eps(eps)
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise TypeError(f"weight must be a float tensor (a class template), got {type(weight).__name__}")
    if not torch.isfinite(weight).all():
        raise ValueError("weight must be finite, got NaN or infinite values")
    d = x[0].numel()
    if weight.numel() == d:
        w = weight.reshape(1, *x.shape[1:])
    elif weight.numel() == d * x.shape[0]:
        w = weight.reshape(x.shape)
    else:
        raise ValueError(f"weight must have {d} entries (one template) or {x.shape[0]} x {d} (one per image) "
                         f"to match x of shape {tuple(x.shape)}, got shape {tuple(weight.shape)}")
    return (x + eps * torch.sign(w).to(x)).clamp(0.0, 1.0)


# --------------------------------------------------------------------------- gradient-sign attacks

def loss_gradient(model, x: torch.Tensor, y=None, *, loss_fn: LossFn | None = None,
                  batch_size: int = 256) -> torch.Tensor:
    """``grad_x L(model(x), y)``, the gradient of the loss with respect to the images, in eval mode:
    :func:`lectures_lib.plumbing.input_gradient` with the attacks' loss (one forward and one backward pass
    per chunk of ``batch_size`` images; the parameters' ``.grad`` stay untouched).

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    y : Tensor or int, optional
        ``B`` labels in [0, K); None: the model's predictions.
    loss_fn : callable, optional
        ``loss_fn(logits, y) -> scalar`` summed over the batch; default cross-entropy.
    batch_size : int
        Images per forward/backward pass (does not change the result).

    Returns
    -------
    Tensor
        ``B x C x H x W`` on the device and in the dtype of ``x``.
    """
    y = _attack_inputs(model, x, y, batch_size=batch_size, loss_fn=loss_fn)
    with eval_mode(model):
        return input_gradient(model, x, _objective(loss_fn), y, batch_size=batch_size)


def fgsm(model, x: torch.Tensor, y=None, *, eps: float, targeted: bool = False, loss_fn: LossFn | None = None,
         batch_size: int = 256) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015):

        x' = clamp(x + eps * sign(grad_x L(x, y)), 0, 1)

    with ``L`` the cross-entropy (or ``loss_fn``); ``targeted=True`` steps *down* the loss of the target
    class ``y`` instead: ``x - eps * sign(...)``.

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    y : Tensor or int, optional
        ``B`` labels (or one int for all); None: the model's predictions (untargeted only).
    eps : float
        L-infinity budget in [0, 1].
    targeted : bool
        Move toward ``y`` instead of away from it.
    loss_fn : callable, optional
        ``loss_fn(logits, y) -> scalar``, summed over the batch; default cross-entropy.
    batch_size : int
        Images per gradient pass.

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1] with ``|x' - x|_inf <= eps``, on the device and in the dtype of ``x``.
    """
    y = _attack_inputs(model, x, y, targeted=targeted, batch_size=batch_size, loss_fn=loss_fn)
    eps = check_eps(eps)
    with eval_mode(model):
        grad = input_gradient(model, x, _objective(loss_fn), y, batch_size=batch_size)
    step = -eps if targeted else eps
    return (x.detach() + step * grad.sign()).clamp(0.0, 1.0)


def project_linf(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """PGD's projection: the nearest point of the L-infinity ball of radius ``eps`` around ``x`` that is also a
    valid image, ``clamp(x_adv, max(x - eps, 0), min(x + eps, 1))`` (each pixel clipped on its own).

    Parameters
    ----------
    x_adv : Tensor
        ``B x C x H x W`` finite images (any range: a step may have left [0, 1]).
    x : Tensor
        ``B x C x H x W`` clean images in [0, 1], the centres of the balls.
    eps : float
        The radius in [0, 1].

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1] with ``|result - x|_inf <= eps``, on the device and in the dtype of ``x``.
    """
    check_images(x, "x", min_batch=1)
    eps = check_eps(eps)
    if not isinstance(x_adv, torch.Tensor) or not x_adv.is_floating_point():
        raise TypeError(f"x_adv must be a float tensor of images, got {type(x_adv).__name__}")
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv must have the shape of x {tuple(x.shape)}, got {tuple(x_adv.shape)}")
    if not torch.isfinite(x_adv).all():
        raise ValueError("x_adv must be finite, got NaN or infinite values")
    return _project(x_adv.detach().to(x.device, x.dtype), x, eps)


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.minimum(torch.maximum(x_adv, (x - eps).clamp(min=0.0)), (x + eps).clamp(max=1.0))


def pgd(model, x: torch.Tensor, y=None, *, eps: float, alpha: float, steps: int, random_start: bool = True,
        targeted: bool = False, loss_fn: LossFn | None = None, batch_size: int = 256,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent in the L-infinity ball (Madry et al. 2018); with ``random_start=False``
    it is Kurakin et al.'s basic iterative method. Each of ``steps`` steps:

        x' <- x' + alpha * sign(grad_x L(x', y))           (minus, toward ``y``, when ``targeted``)
        x' <- clamp(x', max(x - eps, 0), min(x + eps, 1))   (project on the eps-ball and the [0, 1] box)

    from ``x' = x`` or, with ``random_start``, from ``clamp(x + U(-eps, eps), 0, 1)``.

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    y : Tensor or int, optional
        ``B`` labels; None: the model's predictions (untargeted only).
    eps : float
        L-infinity budget in [0, 1].
    alpha : float
        Step size in (0, 1] (Madry et al. on MNIST: 0.01 for eps 0.3).
    steps : int
        Number of steps, >= 1 (one forward and one backward pass each).
    random_start : bool
        Start from a uniform random point of the eps-ball.
    targeted : bool
        Move toward ``y`` instead of away from it.
    loss_fn : callable, optional
        ``loss_fn(logits, y) -> scalar``, summed over the batch; default cross-entropy.
    batch_size : int
        Images per gradient pass (does not change the result).
    generator : torch.Generator, optional
        Draws the random start; default torch's global RNG (which ``train.fit`` seeds).

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1] with ``|x' - x|_inf <= eps``, on the device and in the dtype of ``x``.
    """
    y = _attack_inputs(model, x, y, targeted=targeted, batch_size=batch_size, loss_fn=loss_fn)
    eps = check_eps(eps)
    alpha = float(check_range(alpha, "alpha", 0.0, 1.0, low_inclusive=False))
    steps = check_range(steps, "steps", 1, integer=True)
    check_flag(random_start, "random_start")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    objective = _objective(loss_fn)
    x = x.detach()
    lo, hi = (x - eps).clamp_(min=0.0), (x + eps).clamp_(max=1.0)
    x_adv = x.clone()
    if random_start:
        if generator is None:
            noise = torch.empty_like(x).uniform_(-eps, eps)
        else:
            noise = torch.empty(x.shape, dtype=x.dtype, device=generator.device).uniform_(-eps, eps, generator=generator)
        x_adv = (x_adv + noise.to(x.device)).clamp_(0.0, 1.0)
    step = -alpha if targeted else alpha
    with eval_mode(model):
        for _ in range(steps):
            x_adv += step * input_gradient(model, x_adv, objective, y, batch_size=batch_size).sign_()
            x_adv = torch.minimum(torch.maximum(x_adv, lo, out=x_adv), hi, out=x_adv)
    return x_adv


def least_likely(model, x: torch.Tensor, *, eps: float, alpha: float | None = None, steps: int | None = None,
                 loss_fn: LossFn | None = None, batch_size: int = 256) -> torch.Tensor:
    """Kurakin et al.'s iterative least-likely class method: a targeted basic iterative attack toward
    ``y_LL = argmin_k logit_k(x)``, the class the model finds least likely for the clean image:

        x' <- clamp_{x, eps}(x' - alpha * sign(grad_x L(x', y_LL)))

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    eps : float
        L-infinity budget in [0, 1].
    alpha, steps : float, int, optional
        Step size and number of steps; default Kurakin's schedule (:func:`kurakin_schedule`).
    loss_fn : callable, optional
        ``loss_fn(logits, y) -> scalar``, summed over the batch; default cross-entropy.
    batch_size : int
        Images per pass.

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1] within ``eps`` of ``x``, on the device and in the dtype of ``x``.
    """
    _check_inputs(model, x, batch_size, loss_fn)
    default_alpha, default_steps = kurakin_schedule(eps)
    target = logits(model, x, batch_size).argmin(dim=1)
    return pgd(model, x, target, eps=eps, alpha=default_alpha if alpha is None else alpha,
               steps=default_steps if steps is None else steps, random_start=False, targeted=True,
               loss_fn=loss_fn, batch_size=batch_size)


# --------------------------------------------------------------------------- minimal perturbations

class DeepFoolResult(NamedTuple):
    """What :func:`deepfool` found, per image."""
    x_adv: torch.Tensor        # B x C x H x W adversarial images in [0, 1]
    perturbation: torch.Tensor  # B x C x H x W: x_adv - x, after clipping to [0, 1], overshoot included
    iterations: torch.Tensor   # B int64: linearisation steps taken
    fooled: torch.Tensor       # B bool: the prediction of x_adv differs from that of x


def _deepfool_chunk(model, x: torch.Tensor, overshoot: float, max_iter: int,
                    candidates: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DeepFool's loop on one chunk of images: ``(x_adv, iterations, fooled)``."""
    r_tot, x_adv = torch.zeros_like(x), x.clone()
    iterations = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    classes = None  # B x c: the clean prediction (column 0) and its runners-up
    for i in range(max_iter + 1):
        x_i = x_adv.detach().requires_grad_(True)
        out = run_model(model, x_i).to(x.dtype)
        if classes is None:
            if out.dim() != 2 or out.shape[1] < 2:
                raise ValueError(f"model must return B x K logits with K >= 2, got shape {tuple(out.shape)}")
            classes = out.detach().argsort(dim=1, descending=True)[:, :candidates]
        active = out.detach().argmax(dim=1) == classes[:, 0]  # still predicted as the clean class
        if i == max_iter or not active.any():
            break
        f = out.gather(1, classes)  # B x c, the candidates' logits
        g0, = torch.autograd.grad(f[:, 0].sum(), x_i, retain_graph=True)
        at_low, at_high = x_i.detach() <= 0, x_i.detach() >= 1
        best_dist, best_r = torch.full_like(f[:, 0], math.inf).detach(), torch.zeros_like(x)
        for k in range(1, classes.shape[1]):
            gk, = torch.autograd.grad(f[:, k].sum(), x_i, retain_graph=k < classes.shape[1] - 1)
            w_k = gk - g0
            w_k = w_k.masked_fill((at_low & (w_k < 0)) | (at_high & (w_k > 0)), 0.0)  # blocked by the box
            w_norm = w_k.flatten(1).norm(dim=1).clamp_min(1e-12)
            dist = (f[:, k] - f[:, 0]).detach().abs() / w_norm
            closer = dist < best_dist
            best_dist = torch.where(closer, dist, best_dist)
            best_r = torch.where(closer.view(-1, 1, 1, 1), (dist / w_norm).view(-1, 1, 1, 1) * w_k, best_r)
        iterations += active
        r_tot = r_tot + best_r * active.view(-1, 1, 1, 1)
        x_adv = (x + (1.0 + overshoot) * r_tot).clamp(0.0, 1.0)
        r_tot = (x_adv - x) / (1.0 + overshoot)
    return x_adv.detach(), iterations, ~active


def deepfool(model, x: torch.Tensor, *, overshoot: float = 0.02, max_iter: int = 50, candidates: int = 10,
             batch_size: int = 64) -> DeepFoolResult:
    """DeepFool (Moosavi-Dezfooli et al. 2016): a small L2 perturbation that changes the prediction.

    At each iterate ``x_i`` the classifier is linearised; toward each of the ``candidates - 1`` runner-up
    classes k of the clean image (``k_0`` is its prediction) the distance to the boundary is
    ``|f_k - f_k0| / |w_k|`` with ``w_k = grad f_k - grad f_k0``; the closest boundary is crossed by
    ``r_i = |f_k - f_k0| / |w_k|^2 * w_k``, accumulated in ``r``. The overshoot is applied once, to the total:
    ``x_{i+1} = clamp(x + (1 + overshoot) r, 0, 1)``, until the prediction changes or ``max_iter``.
    For an affine binary classifier ``f(x) = w^T x + b`` this is one step, ``r = -f(x) w / |w|^2``.

    Staying in the [0, 1] box (the paper's images are unbounded): the linearisation drops the pixel
    directions the box blocks (a pixel at 0 cannot get darker, one at 1 cannot get lighter), and ``r`` is
    kept equal to the clipped total ``(x_{i+1} - x) / (1 + overshoot)``. Without this, DeepFool stalls on
    MNIST, asking again and again for negative background pixels. DeepFool needs no labels: it moves each
    image away from the model's own prediction.

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``, K >= 2.
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    overshoot : float
        In [0, 1]; the paper's 0.02.
    max_iter : int
        At most this many linearisation steps per image (>= 1).
    candidates : int
        The clean prediction and its ``candidates - 1`` runners-up are the classes considered (>= 2;
        the paper uses 10 on ImageNet).
    batch_size : int
        Images per chunk (the chunks are independent: the result does not depend on it).

    Returns
    -------
    DeepFoolResult
        ``x_adv`` (``B x C x H x W`` in [0, 1]), ``perturbation`` (``x_adv - x``: after clipping to the box,
        overshoot included, so that ``x + perturbation == x_adv``; universal perturbations accumulate it),
        ``iterations`` (``B`` int64) and ``fooled`` (``B`` bool: the prediction changed), all on the device
        of ``x``, the images in its dtype.
    """
    check_model(model)
    check_images(x, "x", channels=input_channels(model), min_batch=1)
    overshoot = float(check_range(overshoot, "overshoot", 0.0, 1.0))
    check_range(max_iter, "max_iter", 1, integer=True)
    check_range(candidates, "candidates", 2, integer=True)
    check_range(batch_size, "batch_size", 1, integer=True)
    x = x.detach()
    with eval_mode(model), torch.enable_grad():
        chunks = [_deepfool_chunk(model, xb, overshoot, max_iter, candidates) for xb, _ in batches(x, batch_size)]
    x_adv, iterations, fooled = (torch.cat(parts) for parts in zip(*chunks))
    return DeepFoolResult(x_adv, x_adv - x, iterations, fooled)


def lbfgs_attack(model, x: torch.Tensor, target, *, c_init: float = 1.0, search_steps: int = 8,
                 max_iter: int = 100, loss_fn: LossFn | None = None) -> torch.Tensor:
    """Box-constrained L-BFGS (Szegedy et al. 2014): the smallest perturbation ``r`` that makes the model
    predict ``target``, by minimising

        c * |r|_2^2 + L(x + r, target)    subject to    x + r in [0, 1]

    with L-BFGS-B (scipy) for a series of ``c`` per image: a larger ``c`` weighs the size of ``r`` more, so
    the search (10x up or down until success and failure are bracketed, then geometric bisection) keeps the
    largest ``c`` whose minimiser still reaches ``target``; the smallest successful ``r`` is returned.
    (Szegedy et al. state the search as "the minimum c"; in this form the smallest ``r`` comes from the
    largest successful ``c``.) Images that never reach ``target`` are returned unchanged.

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one (all are optimised as one problem).
    target : Tensor or int
        ``B`` target classes (or one int for all). Required.
    c_init : float
        The first ``c``, > 0.
    search_steps : int
        Values of ``c`` tried (one L-BFGS-B run each), >= 1.
    max_iter : int
        L-BFGS-B iterations per run, >= 1.
    loss_fn : callable, optional
        ``loss_fn(logits, target) -> scalar``, summed over the batch; default cross-entropy.

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1], on the device and in the dtype of ``x``.
    """
    from scipy.optimize import fmin_l_bfgs_b
    from threadpoolctl import threadpool_limits

    if target is None:
        raise ValueError("target is required: the class each image should be classified as")
    target = _attack_inputs(model, x, target, name="target", targeted=True, loss_fn=loss_fn)
    check_range(c_init, "c_init", 0.0, low_inclusive=False)
    check_range(search_steps, "search_steps", 1, integer=True)
    check_range(max_iter, "max_iter", 1, integer=True)
    loss = _objective(loss_fn, "target")
    x = x.detach()
    b = x.shape[0]
    c = torch.full((b,), float(c_init), dtype=torch.float64)
    c_ok, c_fail = torch.zeros(b, dtype=torch.float64), torch.full((b,), math.inf, dtype=torch.float64)
    best, best_norm = x.clone(), torch.full((b,), math.inf, dtype=torch.float64)
    x64 = x.double().cpu().numpy().ravel()

    with eval_mode(model), torch.enable_grad():
        for _ in range(search_steps):
            weights = c.to(x.device, x.dtype).view(-1, 1, 1, 1)

            def objective(v: np.ndarray, weights: torch.Tensor = weights) -> tuple[float, np.ndarray]:
                xa = torch.from_numpy(v).view(x.shape).to(x.device, x.dtype).requires_grad_(True)
                out = run_model(model, xa)
                value = (weights * (xa - x) ** 2).sum() + loss(out, target.to(out.device))
                grad, = torch.autograd.grad(value, xa)
                return float(value.detach()), grad.double().cpu().numpy().ravel()

            with threadpool_limits(1, user_api="blas"):  # BLAS threads spinning beside torch's: >10x slower
                v, _, _ = fmin_l_bfgs_b(objective, x64, bounds=[(0.0, 1.0)] * x64.size, maxiter=max_iter)
            x_adv = torch.from_numpy(v).view(x.shape).to(x.device, x.dtype).clamp(0.0, 1.0)
            success = (predicted_classes(model, x_adv) == target).cpu()
            norm = (x_adv - x).flatten(1).norm(dim=1).double().cpu()
            better = success & (norm < best_norm)
            best[better.to(x.device)] = x_adv[better.to(x.device)]
            best_norm = torch.where(better, norm, best_norm)
            c_ok = torch.where(success, torch.maximum(c_ok, c), c_ok)
            c_fail = torch.where(success, c_fail, torch.minimum(c_fail, c))
            c = torch.where(c_fail.isinf(), c * 10, torch.where(c_ok == 0, c / 10, (c_ok * c_fail).sqrt()))
    return best


# --------------------------------------------------------------------------- fooling images

def _check_shape(shape) -> tuple[int, int, int]:
    if (not isinstance(shape, (tuple, list, torch.Size)) or len(shape) != 3
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise ValueError(f"shape must be C x H x W, three positive ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def _check_targets(target) -> torch.Tensor:
    """One class index or a sequence / tensor of them, as ``B`` int64 (B >= 1)."""
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        target = [int(target)]
    if isinstance(target, torch.Tensor):
        target = target.reshape(-1)
    n = len(target) if isinstance(target, (list, tuple, torch.Tensor)) else 1
    target = check_labels(target, n, None, "target")
    if n == 0:
        raise ValueError("target must hold at least one class index, got none")
    return target


def fooling_image(model, target, *, steps: int = 200, shape: Sequence[int] = (1, 28, 28), lr: float = 0.05,
                  l2: float = 1e-3, confidence: float = 0.99, seed: int = 0,
                  loss_fn: LossFn | None = None) -> torch.Tensor:
    """Unrecognisable images classified as ``target`` with high confidence (Nguyen et al. 2015, their
    gradient-ascent variant): from uniform noise, ascend

        -L(model(x), target) - l2 * |x - 0.5|^2       (L = cross-entropy: the log-probability of ``target``)

    with Adam (step ``lr``), projecting to [0, 1] after each step, for at most ``steps`` steps; each image
    stops once it reaches ``confidence`` (so it does not depend on the others in the batch).

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    target : int or sequence or Tensor
        One class index or ``B`` of them, each in [0, K).
    steps : int
        At most this many Adam steps, >= 1.
    shape : (int, int, int)
        ``C x H x W`` of one image.
    lr, l2 : float
        Adam's step (> 0) and the weight of the pull toward grey (>= 0).
    confidence : float
        In [0, 1]: an image stops once the model gives ``target`` this probability.
    seed : int
        Seeds the starting noise (>= 0).
    loss_fn : callable, optional
        ``loss_fn(logits, target) -> scalar``, summed over the batch; default cross-entropy.

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1], on the model's device and in its dtype (float32 for a plain callable).
    """
    check_model(model)
    check_range(steps, "steps", 1, integer=True)
    check_range(lr, "lr", 0.0, low_inclusive=False)
    check_range(l2, "l2", 0.0)
    check_range(confidence, "confidence", 0.0, 1.0)
    check_range(seed, "seed", 0, integer=True)
    _check_loss_fn(loss_fn)
    shape = _check_shape(shape)
    channels = input_channels(model)
    if channels is not None and shape[0] != channels:
        raise ValueError(f"shape must have {channels} channel(s) for this model, got {shape!r}")
    target = _check_targets(target).to(model_device(model))
    loss = _objective(loss_fn, "target")
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((len(target), *shape), generator=gen).to(model_device(model), model_dtype(model) or torch.float32)
    x.requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    with eval_mode(model), torch.enable_grad():
        for _ in range(steps):
            out = run_model(model, x, "shape")
            value = loss(out, target)
            done = F.softmax(out.detach(), dim=1).gather(1, target[:, None]).squeeze(1) >= confidence
            if bool(done.all()):
                break
            x.grad, = torch.autograd.grad(value + l2 * ((x - 0.5) ** 2).sum(), x)  # the image's gradient only
            kept = x.detach()[done].clone()
            opt.step()
            with torch.no_grad():
                x.clamp_(0.0, 1.0)
                x[done] = kept
    return x.detach()


# --------------------------------------------------------------------------- evaluation

def _steps_until_out_of_topk(model, x: torch.Tensor, x_adv: torch.Tensor, active: torch.Tensor, goal: torch.Tensor,
                             y: torch.Tensor, *, eps: float, steps: int, step: float, k: int, batch_size: int) -> None:
    """Up to ``steps`` basic iterative steps ``x_adv <- project_linf(x_adv + step * sign(grad L(x_adv, goal)), x, eps)``
    on the ``active`` images, in place; an image becomes inactive (and keeps its iterate) as soon as its label
    ``y`` is no longer among the model's top ``k`` classes at the current iterate."""
    seen: list[torch.Tensor] = []

    def objective(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        seen.append(out.detach())                   # the logits of this iterate: the stopping test is free
        return _sum_cross_entropy(out, target)

    for _ in range(steps):
        idx = active.nonzero().squeeze(1)
        if not len(idx):
            return
        seen.clear()
        grad = input_gradient(model, x_adv[idx], objective, goal[idx], batch_size=batch_size)
        out = torch.cat(seen).to(x.device)
        inside = (out.topk(min(k, out.shape[1]), dim=1).indices == y[idx, None]).any(dim=1)
        active[idx[~inside]] = False                # left the top k at this iterate: done
        idx, grad = idx[inside], grad[inside]
        if len(idx):
            x_adv[idx] = _project(x_adv[idx] + step * grad.sign(), x[idx], eps)


def _iterative_curve(model, x: torch.Tensor, y: torch.Tensor, eps_values: Sequence[float], *,
                     least_likely_class: bool, k: int, batch_size: int) -> dict[float, torch.Tensor]:
    """Kurakin et al.'s basic iterative (or iterative least-likely class) method at every epsilon of ``eps_values``
    with their schedule (steps of 1/255), where an image stops as soon as its label ``y`` has left the top ``k``.

    Two savings make curves up to eps = 128/255 (132 steps) affordable on a CPU, neither changing an image that
    resists: (1) early stopping, as said; (2) shared trajectories: a step moves each pixel by at most 1/255, so
    for the first ``floor(255 eps)`` steps the projection on the eps-ball never binds and the iterates at every
    epsilon equal those at the largest (up to float rounding); one trajectory runs at the largest epsilon, and
    each smaller epsilon branches off it at step ``floor(255 eps)`` for its remaining steps.
    Returns ``{eps: B x C x H x W adversarial images}`` (eps 0: the clean images)."""
    x = x.detach()
    with eval_mode(model):
        goal = logits(model, x, batch_size).argmin(dim=1) if least_likely_class else y
        sign = -1.0 if least_likely_class else 1.0
        positive = sorted({float(e) for e in eps_values if e > 0})
        result = {float(e): x.clone() for e in eps_values if e == 0}
        if not positive:
            return result
        x_adv, active = x.clone(), torch.ones(len(x), dtype=torch.bool, device=x.device)
        branch = {e: math.floor(255.0 * e + 1e-6) for e in positive[:-1]}
        snapshots, done = {}, 0
        alpha, total = kurakin_schedule(positive[-1])
        for e in sorted(branch, key=branch.get):     # walk the main trajectory from one branch point to the next
            _steps_until_out_of_topk(model, x, x_adv, active, goal, y, eps=positive[-1], steps=branch[e] - done,
                                     step=sign * alpha, k=k, batch_size=batch_size)
            done = branch[e]
            snapshots[e] = (x_adv.clone(), active.clone())
        _steps_until_out_of_topk(model, x, x_adv, active, goal, y, eps=positive[-1], steps=total - done,
                                 step=sign * alpha, k=k, batch_size=batch_size)
        result[positive[-1]] = x_adv
        for e, (x_e, active_e) in snapshots.items():
            _steps_until_out_of_topk(model, x, x_e, active_e, goal, y, eps=e, steps=kurakin_schedule(e)[1] - branch[e],
                                     step=sign * alpha, k=k, batch_size=batch_size)
            result[e] = x_e
    return result


ATTACKS = ("fgsm", "iterative", "least_likely", "pgd")


def named_attack(name: str) -> Attack:
    """The attack ``(model, x, y, eps) -> x_adv`` behind each name of :data:`ATTACKS`.

    Parameters
    ----------
    name : {"fgsm", "iterative", "least_likely", "pgd"}
        ``fgsm``; ``iterative`` (basic iterative, Kurakin's schedule); ``least_likely`` (Kurakin's
        schedule, ``y`` unused); ``pgd`` (random start, 40 steps of 2.5 eps / 40, as Madry et al.'s
        40 x 0.01 at eps 0.3).

    Returns
    -------
    callable
        ``attack(model, x, y, eps) -> x_adv``.
    """
    check_choice(name, "attack", ATTACKS)
    if name == "fgsm":
        return lambda model, x, y, eps: fgsm(model, x, y, eps=eps)
    if name == "iterative":
        return lambda model, x, y, eps: pgd(model, x, y, eps=eps, alpha=kurakin_schedule(eps)[0],
                                            steps=kurakin_schedule(eps)[1], random_start=False)
    if name == "least_likely":
        return lambda model, x, y, eps: least_likely(model, x, eps=eps)
    return lambda model, x, y, eps: pgd(model, x, y, eps=eps, alpha=2.5 * eps / 40 if eps > 0 else 1e-3, steps=40)


def _attack_fn(attack) -> Attack:
    if isinstance(attack, str):
        return named_attack(attack)
    if not callable(attack):
        raise TypeError(f"attack must be one of {ATTACKS} or a function (model, x, y, eps) -> x_adv, "
                        f"got {type(attack).__name__}")
    return attack


def _run_attack(attack_fn: Attack, model, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """``attack_fn(model, x, y, eps)``, checked: images of the shape of ``x`` in [0, 1]."""
    x_adv = attack_fn(model, x, y, eps)
    if not isinstance(x_adv, torch.Tensor) or x_adv.shape != x.shape:
        got = tuple(x_adv.shape) if isinstance(x_adv, torch.Tensor) else type(x_adv).__name__
        raise ValueError(f"attack must return adversarial images of the shape of its input {tuple(x.shape)}, got {got}")
    return check_images(x_adv, "the images the attack returned")


def _check_eps_values(eps_values) -> list[float]:
    if isinstance(eps_values, (str, bytes)) or not isinstance(eps_values, (Sequence, torch.Tensor, np.ndarray)):
        raise TypeError(f"eps_values must be a sequence of epsilons in [0, 1], got {type(eps_values).__name__}")
    eps_values = [check_eps(e, "eps_values") for e in eps_values]
    if not eps_values:
        raise ValueError("eps_values must hold at least one epsilon")
    return eps_values


def accuracy_under_attack(model, data, attack: str | Attack = "fgsm", *, eps_values: Sequence[float],
                          topk: Sequence[int] = (1, 5), batch_size: int = 128, progress: bool = True,
                          early_stop: bool = False) -> dict[str, list[float]]:
    """Top-k accuracy of ``model`` on adversarial versions of ``data`` for each epsilon (Kurakin et al.
    2017, figure 2). ``eps = 0`` scores the clean images (no attack is run).

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    data : Dataset or (x, y)
        Labelled images in [0, 1], batched by :func:`lectures_lib.plumbing.batches`.
    attack : str or callable
        A name in :data:`ATTACKS` or a function ``(model, x, y, eps) -> x_adv``.
    eps_values : sequence of float
        Epsilons in [0, 1], at least one.
    topk : sequence of int
        Each k in [1, K].
    batch_size : int
        Images attacked at once.
    progress : bool
        Show a progress bar.
    early_stop : bool
        For ``"iterative"`` and ``"least_likely"`` only (default False): an image stops being attacked as soon
        as its label leaves the top ``max(topk)`` classes, instead of running all of Kurakin's
        ``min(eps + 4, 1.25 eps)`` steps, and all epsilons share one trajectory until their projections start
        to differ (see :func:`_iterative_curve`). Images that resist are attacked exactly as without it (up to
        float rounding); an image that has left the top k counts as fooled, even if later steps might (rarely)
        have brought its label back. Ten times faster or more for Kurakin's 2..128 on ImageNet.

    Returns
    -------
    dict
        ``{"eps": [...], "top1": [...], "top5": [...], "n": n}`` (one key per k in ``topk``; ``n`` the number
        of images), accuracies in [0, 1].
    """
    check_model(model)
    attack_fn = _attack_fn(attack)
    eps_values = _check_eps_values(eps_values)
    topk = check_topk(topk)
    check_range(batch_size, "batch_size", 1, integer=True)
    if check_flag(early_stop, "early_stop") and attack not in ("iterative", "least_likely"):
        raise ValueError(f"early_stop applies to the attacks 'iterative' and 'least_likely', got attack={attack!r}")
    n = count_items(data)
    if n == 0:
        raise ValueError("data must hold at least one labelled image, got none")
    correct = {k: [0] * len(eps_values) for k in topk}
    channels = input_channels(model)
    with progress_bar(len(eps_values) * n, attack if isinstance(attack, str) else "attack", progress, "img") as bar:
        for x, y in batches(data, batch_size):
            check_images(x, "data", channels=channels, min_batch=1)
            if y is None:
                raise ValueError("data must carry labels: a Dataset of (image, label) or a pair (x, y)")
            if isinstance(model, nn.Module):
                x = x.to(model_device(model))
            y = check_labels(torch.as_tensor(y), len(x), None, "data's labels").to(x.device)
            if early_stop:   # every epsilon at once, from shared trajectories
                check_classes(y, logits(model, x[:1]).shape[1], "data's labels")
                shared = _iterative_curve(model, x, y, eps_values, least_likely_class=attack == "least_likely",
                                          k=max(topk), batch_size=batch_size)
            for i, eps in enumerate(eps_values):
                if early_stop:
                    x_adv = shared[eps]
                else:
                    x_adv = x if eps == 0 else _run_attack(attack_fn, model, x, y, eps)  # eps 0: the clean images
                scores = logits(model, x_adv, batch_size)
                check_topk(topk, scores.shape[1])
                check_classes(y, scores.shape[1], "data's labels")
                accuracy = topk_accuracy(scores, y, topk)
                for k in topk:
                    correct[k][i] += round(accuracy[f"top{k}"] * len(y))
                bar.update(len(y))
    return {"eps": eps_values, **{f"top{k}": [c / n for c in correct[k]] for k in topk}, "n": n}


class SmallestEps(NamedTuple):
    """What :func:`smallest_eps` found, per image."""
    x_adv: torch.Tensor  # B x C x H x W: the first adversarial example (the input where none was found)
    eps: torch.Tensor    # B float64: its epsilon, NaN where no epsilon fooled the model


def smallest_eps(model, x: torch.Tensor, y=None, *, eps_values: Sequence[float],
                 attack: str | Attack = "fgsm") -> SmallestEps:
    """Per image, the adversarial example at the smallest epsilon of ``eps_values`` (tried in increasing
    order) that makes the prediction differ from ``y``.

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    x : Tensor
        ``B x C x H x W`` images in [0, 1], at least one.
    y : Tensor or int, optional
        ``B`` labels; None: the model's predictions.
    eps_values : sequence of float
        Epsilons in [0, 1], at least one.
    attack : str or callable
        A name in :data:`ATTACKS` or a function ``(model, x, y, eps) -> x_adv``.

    Returns
    -------
    SmallestEps
        ``x_adv``: ``B x C x H x W`` in the dtype of ``x`` (the input where no epsilon succeeds);
        ``eps``: ``B`` float64 (NaN where none succeeds); both on the device of ``x``.
    """
    y = _attack_inputs(model, x, y)
    attack_fn = _attack_fn(attack)
    eps_values = sorted(_check_eps_values(eps_values))
    x_best = x.detach().clone()
    eps_best = torch.full((x.shape[0],), math.nan, dtype=torch.float64, device=x.device)
    for eps in eps_values:
        todo = eps_best.isnan()
        if not todo.any():
            break
        x_adv = _run_attack(attack_fn, model, x[todo], y[todo], eps)
        scores = logits(model, x_adv)
        check_classes(y, scores.shape[1], "y")
        fooled = scores.argmax(dim=1) != y[todo]
        idx = todo.nonzero().squeeze(1)[fooled]
        x_best[idx] = x_adv[fooled]
        eps_best[idx] = eps
    return SmallestEps(x_best, eps_best)


# --------------------------------------------------------------------------- the widget's precomputation

class AttackGallery(NamedTuple):
    """Every (attack, epsilon) pair computed for a few images, ready to browse (:func:`precompute_attacks`)."""
    images: torch.Tensor                                # N x C x H x W clean images
    labels: torch.Tensor                                # N labels (the model's predictions by default)
    probs: torch.Tensor                                 # N x K clean probabilities
    adversarial: dict[tuple[str, float], torch.Tensor]  # (attack, eps) -> N x C x H x W
    adversarial_probs: dict[tuple[str, float], torch.Tensor]  # (attack, eps) -> N x K
    attacks: tuple[str, ...]
    eps_values: tuple[float, ...]                       # increasing


def precompute_attacks(model, images: torch.Tensor, labels=None, *,
                       attacks: Sequence[str] = ("fgsm", "iterative", "least_likely"),
                       eps_values: Sequence[float] = (1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255),
                       batch_size: int = 64, progress: bool = True) -> AttackGallery:
    """Run every attack of ``attacks`` at every epsilon of ``eps_values`` on ``images`` (the lesson's widget,
    :func:`lectures_lib.plotting.attacks.attack_widget`, only redraws from this).

    Parameters
    ----------
    model : callable
        Images ``N x C x H x W`` in [0, 1] -> logits ``N x K``.
    images : Tensor
        ``N x C x H x W`` in [0, 1], at least one.
    labels : Tensor, optional
        ``N`` labels; None: the model's predictions.
    attacks : sequence of str
        Names in :data:`ATTACKS`, at least one.
    eps_values : sequence of float
        Epsilons in [0, 1], at least one (sorted in the result).
    batch_size : int
        Images per pass.
    progress : bool
        Show a progress bar.

    Returns
    -------
    AttackGallery
        The clean images, labels and probabilities, and per ``(attack, eps)`` the adversarial images and their
        probabilities, on the device and in the dtype of ``images``.
    """
    _check_inputs(model, images, batch_size, name="images")
    if isinstance(attacks, str) or not isinstance(attacks, Sequence) or not attacks:
        raise ValueError(f"attacks must be a non-empty sequence of names in {ATTACKS}, got {attacks!r}")
    for name in attacks:
        check_choice(name, "attacks", ATTACKS)
    eps_values = sorted(_check_eps_values(eps_values))
    probs = predict(model, images, batch_size)
    labels = probs.argmax(dim=1) if labels is None else check_labels(labels, len(images), probs.shape[1], "labels")
    labels = labels.to(images.device)
    pairs = [(a, e) for a in attacks for e in eps_values]
    adversarial, adversarial_probs = {}, {}
    with progress_bar(len(pairs), "precomputing attacks", progress) as bar:
        for name, eps in pairs:
            adversarial[(name, eps)] = named_attack(name)(model, images, labels, eps)
            adversarial_probs[(name, eps)] = predict(model, adversarial[(name, eps)], batch_size)
            bar.update(1)
    return AttackGallery(images, labels, probs, adversarial, adversarial_probs, tuple(attacks), tuple(eps_values))
