"""Adversarial examples (lesson 06): the linear case, L-BFGS, FGSM, PGD, least-likely class,
DeepFool and fooling images.

Every attack takes a model that maps ``B x C x H x W`` images in [0, 1] to ``B x K`` logits
(normalisation lives in the model), returns a **new** tensor (its input is never modified),
keeps the result in [0, 1] (and, where it has an ``eps``, within ``eps`` of the input in
L-infinity), puts the model in eval mode while it runs and restores every module's mode after.
Epsilons are on the [0, 1] scale: ``eps = 8 / 255`` is "8" in the papers' 0-255 units.

One plain function per attack (the style of CleverHans 4): validation, then the math, then return.

References
----------
- Szegedy et al., *Intriguing properties of neural networks*, ICLR 2014 (L-BFGS).
- Goodfellow, Shlens and Szegedy, *Explaining and harnessing adversarial examples*, ICLR 2015 (FGSM).
- Kurakin, Goodfellow and Bengio, *Adversarial examples in the physical world*, ICLR 2017 workshop
  (basic iterative method, iterative least-likely class method).
- Madry et al., *Towards deep learning models resistant to adversarial attacks*, ICLR 2018 (PGD).
- Moosavi-Dezfooli, Fawzi and Frossard, *DeepFool*, CVPR 2016.
- Nguyen, Yosinski and Clune, *Deep neural networks are easily fooled*, CVPR 2015 (fooling images).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .train import batches, eval_mode, evaluate, logits, model_device
from .validation import check_choice, check_images, check_labels, check_range

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor, float], torch.Tensor]


# --------------------------------------------------------------------------- shared plumbing

def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module mapping images to logits, got {type(model).__name__}")


def _num_classes(model: nn.Module, x: torch.Tensor) -> int:
    """K, the number of logits ``model`` gives for one image of ``x`` (one cheap forward pass, in eval mode)."""
    with eval_mode(model), torch.no_grad():
        out = model(x[:1])
    if out.dim() != 2:
        raise ValueError(f"model must return B x K logits, got shape {tuple(out.shape)} for one image")
    return out.shape[1]


def _check_attack_args(model, x, y, name: str = "y") -> torch.Tensor:
    """Validate ``model``, images ``x`` and their labels ``y`` (an int or B labels); return ``y`` as B int64."""
    _check_model(model)
    check_images(x, "x")
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one image, got an empty batch")
    y = check_labels(y, x.shape[0], None, name)
    return check_labels(y.to(x.device), x.shape[0], _num_classes(model, x), name)


def _check_eps(eps: float) -> float:
    return float(check_range(eps, "eps", 0.0, 1.0))


def kurakin_schedule(eps: float) -> tuple[float, int]:
    """Kurakin et al.'s step size and number of steps for the iterative methods:
    ``alpha = 1/255`` and ``steps = ceil(min(255 eps + 4, 1.25 * 255 eps))`` (at least 1)."""
    e = 255.0 * _check_eps(eps)
    return 1.0 / 255.0, max(1, math.ceil(min(e + 4.0, 1.25 * e) - 1e-9))


# --------------------------------------------------------------------------- the linear case

def linear_adversarial(weight: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """``clamp(x + eps * sign(w), 0, 1)``: the L-infinity step of size ``eps`` that raises the score ``w^T x``
    of a linear classifier the most (Goodfellow et al. 2015, section 3).

    ``weight``: a class template ``w`` with as many entries as one image (e.g. ``C x H x W``, or flat), or
    ``B x ...`` templates, one per image (e.g. ``W[target] - W[label]`` to move each digit toward ``target``).
    ``x``: ``B x C x H x W`` in [0, 1]. Returns a new ``B x C x H x W`` tensor in [0, 1].
    """
    check_images(x, "x")
    check_range(eps, "eps", 0.0, 1.0)
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise TypeError(f"weight must be a float tensor (a class template), got {type(weight).__name__}")
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

def loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``grad_x L(x, y)``, the gradient of the summed cross-entropy with respect to the images, ``B x C x H x W``:
    one forward and one backward pass per chunk of ``batch_size`` images (input gradients only; chunks keep the
    activations in cache, and images do not interact in eval mode, so the result does not depend on them).
    Call it with the model in eval mode; it works inside ``torch.no_grad()``."""
    grads = []
    with torch.enable_grad():
        for xb, yb in zip(x.detach().split(batch_size), y.split(batch_size)):
            xb = xb.clone().requires_grad_(True)
            grads.append(torch.autograd.grad(F.cross_entropy(model(xb), yb, reduction="sum"), xb)[0])
    return torch.cat(grads)


def fgsm(model: nn.Module, x: torch.Tensor, y, eps: float, targeted: bool = False,
         batch_size: int = 256) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015):
    ``x' = clamp(x + eps * sign(grad_x L(x, y)), 0, 1)`` with L the cross-entropy;
    ``targeted=True`` steps *down* the loss of the target class ``y`` instead: ``x - eps * sign(...)``.

    ``x``: ``B x C x H x W`` in [0, 1]; ``y``: B labels (or one int); ``eps`` in [0, 1].
    Returns a new ``B x C x H x W`` tensor in [0, 1] with ``|x' - x|_inf <= eps``.
    """
    y = _check_attack_args(model, x, y)
    eps = _check_eps(eps)
    check_range(batch_size, "batch_size", 1, integer=True)
    with eval_mode(model):
        grad = loss_gradient(model, x, y, batch_size)
    step = -eps if targeted else eps
    return (x.detach() + step * grad.sign()).clamp(0.0, 1.0)


def pgd(model: nn.Module, x: torch.Tensor, y, eps: float, alpha: float, steps: int,
        random_start: bool = True, targeted: bool = False, batch_size: int = 256) -> torch.Tensor:
    """Projected gradient descent in the L-infinity ball (Madry et al. 2018); with ``random_start=False``
    it is Kurakin et al.'s basic iterative method. Each of ``steps`` steps:

        x' <- x' + alpha * sign(grad_x L(x', y))          (minus, toward ``y``, when ``targeted``)
        x' <- clamp(x' , max(x - eps, 0), min(x + eps, 1)) (project on the eps-ball and the [0, 1] box)

    from ``x' = x`` or, with ``random_start``, from ``clamp(x + U(-eps, eps), 0, 1)`` (torch's global RNG).
    One forward and one backward pass per step (:func:`loss_gradient`), input gradients only.

    ``x``: ``B x C x H x W`` in [0, 1]; ``y``: B labels; ``eps`` in [0, 1]; ``alpha > 0``; ``steps >= 1``.
    Returns a new ``B x C x H x W`` tensor in [0, 1] with ``|x' - x|_inf <= eps``.
    """
    y = _check_attack_args(model, x, y)
    eps = _check_eps(eps)
    alpha = float(check_range(alpha, "alpha", 0.0, 1.0, low_inclusive=False))
    steps = check_range(steps, "steps", 1, integer=True)
    check_range(batch_size, "batch_size", 1, integer=True)
    x = x.detach()
    lo, hi = (x - eps).clamp_(min=0.0), (x + eps).clamp_(max=1.0)
    x_adv = x.clone()
    if random_start:
        x_adv = (x_adv + torch.empty_like(x).uniform_(-eps, eps)).clamp_(0.0, 1.0)
    step = -alpha if targeted else alpha
    with eval_mode(model):
        for _ in range(steps):
            x_adv += step * loss_gradient(model, x_adv, y, batch_size).sign_()
            x_adv = torch.minimum(torch.maximum(x_adv, lo, out=x_adv), hi, out=x_adv)
    return x_adv


def least_likely(model: nn.Module, x: torch.Tensor, eps: float, alpha: float | None = None,
                 steps: int | None = None) -> torch.Tensor:
    """Kurakin et al.'s iterative least-likely class method: a targeted basic iterative attack toward
    ``y_LL = argmin_k logit_k(x)``, the class the model finds least likely for the clean image:

        x' <- clamp_{x, eps}(x' - alpha * sign(grad_x L(x', y_LL)))

    ``alpha`` and ``steps`` default to Kurakin's schedule (:func:`kurakin_schedule`).
    Returns a new ``B x C x H x W`` tensor in [0, 1] within ``eps`` of ``x``.
    """
    _check_model(model)
    check_images(x, "x")
    eps = _check_eps(eps)
    default_alpha, default_steps = kurakin_schedule(eps)
    target = logits(model, x).argmin(dim=1).to(x.device)
    return pgd(model, x, target, eps, default_alpha if alpha is None else alpha,
               default_steps if steps is None else steps, random_start=False, targeted=True)


# --------------------------------------------------------------------------- minimal perturbations

def deepfool(model: nn.Module, x: torch.Tensor, overshoot: float = 0.02, max_iter: int = 50,
             candidates: int = 10) -> torch.Tensor:
    """DeepFool (Moosavi-Dezfooli et al. 2016), batched: a small L2 perturbation that changes the prediction.

    At each iterate ``x_i`` the classifier is linearised; toward each of the ``candidates - 1`` runner-up
    classes k of the clean image (``k_0`` is its prediction) the distance to the boundary is
    ``|f_k - f_k0| / |w_k|`` with ``w_k = grad f_k - grad f_k0``; the closest boundary is crossed by
    ``r_i = |f_k - f_k0| / |w_k|^2 * w_k``, accumulated in ``r``. The overshoot is applied once, to the total:
    ``x_{i+1} = clamp(x + (1 + overshoot) r, 0, 1)``, until the prediction changes or ``max_iter``.
    For an affine binary classifier ``f(x) = w^T x + b`` this is one step, ``r = -f(x) w / |w|^2``.

    Staying in the [0, 1] box (the paper's images are unbounded): the linearisation drops the pixel
    directions the box blocks (a pixel at 0 cannot get darker, one at 1 cannot get lighter), and ``r`` is
    kept equal to the clipped total ``(x_{i+1} - x) / (1 + overshoot)``. Without this, DeepFool stalls on
    MNIST, asking again and again for negative background pixels.

    ``x``: ``B x C x H x W`` in [0, 1]. Returns a new ``B x C x H x W`` tensor in [0, 1]. DeepFool needs no
    labels: it moves each image away from the model's own prediction (a change of prediction, not of label).
    """
    _check_model(model)
    check_images(x, "x")
    check_range(overshoot, "overshoot", 0.0, 1.0)
    check_range(max_iter, "max_iter", 1, integer=True)
    check_range(candidates, "candidates", 2, integer=True)
    x = x.detach()
    with eval_mode(model), torch.enable_grad():
        classes = logits(model, x).to(x.device).argsort(dim=1, descending=True)[:, :candidates]  # column 0: prediction
        r_tot = torch.zeros_like(x)
        x_adv = x.clone()
        for _ in range(max_iter):
            x_i = x_adv.requires_grad_(True)
            f = model(x_i).gather(1, classes)  # B x c, the candidates' logits
            active = f.argmax(dim=1) == 0      # still predicted as the clean image's class
            if not active.any():
                break
            g0, = torch.autograd.grad(f[:, 0].sum(), x_i, retain_graph=True)
            at_low, at_high = x_i.detach() <= 0, x_i.detach() >= 1
            best_dist = torch.full_like(f[:, 0], float("inf")).detach()
            best_r = torch.zeros_like(x)
            for k in range(1, classes.shape[1]):
                gk, = torch.autograd.grad(f[:, k].sum(), x_i, retain_graph=k < classes.shape[1] - 1)
                w_k = gk - g0
                w_k = w_k.masked_fill((at_low & (w_k < 0)) | (at_high & (w_k > 0)), 0.0)  # blocked by the box
                f_k = (f[:, k] - f[:, 0]).detach().abs()
                w_norm = w_k.flatten(1).norm(dim=1).clamp_min(1e-12)
                dist = f_k / w_norm
                closer = dist < best_dist
                best_dist = torch.where(closer, dist, best_dist)
                r_k = (dist / w_norm).view(-1, 1, 1, 1) * w_k
                best_r = torch.where(closer.view(-1, 1, 1, 1), r_k, best_r)
            r_tot = r_tot + best_r * active.view(-1, 1, 1, 1)
            x_adv = (x + (1.0 + overshoot) * r_tot).clamp(0.0, 1.0)
            r_tot = (x_adv - x) / (1.0 + overshoot)
    return x_adv.detach()


def lbfgs_attack(model: nn.Module, x: torch.Tensor, target, c_init: float = 1.0, search_steps: int = 8,
                 max_iter: int = 100) -> torch.Tensor:
    """Box-constrained L-BFGS (Szegedy et al. 2014): the smallest perturbation ``r`` that makes the model
    predict ``target``, by minimising

        c * |r|_2^2 + L(x + r, target)    subject to    x + r in [0, 1]

    with L-BFGS-B (scipy) for a series of ``c`` per image: a larger ``c`` weighs the size of ``r`` more, so
    the search (10x up or down until success and failure are bracketed, then geometric bisection) keeps the
    largest ``c`` whose minimiser still reaches ``target``; the smallest successful ``r`` is returned.
    (Szegedy et al. state the search as "the minimum c"; in this form the smallest ``r`` comes from the
    largest successful ``c``.) Images that never reach ``target`` are returned unchanged.

    ``x``: ``B x C x H x W`` in [0, 1]; ``target``: B class indices (or one int).
    Returns a new ``B x C x H x W`` tensor in [0, 1].
    """
    from scipy.optimize import fmin_l_bfgs_b
    from threadpoolctl import threadpool_limits

    target = _check_attack_args(model, x, target, "target")
    check_range(c_init, "c_init", 0.0, low_inclusive=False)
    check_range(search_steps, "search_steps", 1, integer=True)
    check_range(max_iter, "max_iter", 1, integer=True)
    x = x.detach()
    b = x.shape[0]
    c = torch.full((b,), float(c_init), dtype=torch.float64)
    c_ok, c_fail = torch.zeros(b, dtype=torch.float64), torch.full((b,), math.inf, dtype=torch.float64)
    best, best_norm = x.clone(), torch.full((b,), math.inf, dtype=torch.float64)
    x64 = x.double().cpu().numpy().ravel()

    with eval_mode(model), torch.enable_grad():
        for _ in range(search_steps):
            weights = c.to(x.device, x.dtype).view(-1, 1, 1, 1)

            def objective(v: np.ndarray) -> tuple[float, np.ndarray]:
                xa = torch.from_numpy(v).view(x.shape).to(x.device, x.dtype).requires_grad_(True)
                loss = (weights * (xa - x) ** 2).sum() + F.cross_entropy(model(xa), target, reduction="sum")
                grad, = torch.autograd.grad(loss, xa)
                return float(loss.detach()), grad.double().cpu().numpy().ravel()

            with threadpool_limits(1, user_api="blas"):  # BLAS threads spinning beside torch's: >10x slower
                v, _, _ = fmin_l_bfgs_b(objective, x64, bounds=[(0.0, 1.0)] * x64.size, maxiter=max_iter)
            x_adv = torch.from_numpy(v).view(x.shape).to(x.device, x.dtype).clamp(0.0, 1.0)
            with torch.no_grad():
                success = (model(x_adv).argmax(dim=1) == target).cpu()
            norm = (x_adv - x).flatten(1).norm(dim=1).double().cpu()
            better = success & (norm < best_norm)
            best[better.to(x.device)] = x_adv[better.to(x.device)]
            best_norm = torch.where(better, norm, best_norm)
            c_ok = torch.where(success, torch.maximum(c_ok, c), c_ok)
            c_fail = torch.where(success, c_fail, torch.minimum(c_fail, c))
            c = torch.where(c_fail.isinf(), c * 10, torch.where(c_ok == 0, c / 10, (c_ok * c_fail).sqrt()))
    return best


# --------------------------------------------------------------------------- fooling images

def fooling_image(model: nn.Module, target, steps: int = 200, shape: Sequence[int] = (1, 28, 28),
                  lr: float = 0.05, l2: float = 1e-3, confidence: float = 0.99, seed: int = 0) -> torch.Tensor:
    """Unrecognisable images classified as ``target`` with high confidence (Nguyen et al. 2015, their
    gradient-ascent variant): from uniform noise, ascend

        log softmax(model(x))_target - l2 * |x - 0.5|^2

    with Adam (step ``lr``), projecting to [0, 1] after each step, for at most ``steps`` steps; each image
    stops once it reaches ``confidence`` (so it does not depend on the others in the batch).
    ``target``: one class index or a sequence/tensor of B; ``shape``: ``C x H x W`` of one image.
    Seeded by ``seed``. Returns ``B x C x H x W`` in [0, 1].
    """
    _check_model(model)
    check_range(steps, "steps", 1, integer=True)
    check_range(lr, "lr", 0.0, low_inclusive=False)
    check_range(l2, "l2", 0.0)
    check_range(confidence, "confidence", 0.0, 1.0)
    check_range(seed, "seed", 0, integer=True)
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"shape must be C x H x W positive ints, got {shape!r}")
    target = torch.as_tensor(target).reshape(-1) if not isinstance(target, torch.Tensor) else target.reshape(-1)
    device = model_device(model)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((target.numel(), *shape), generator=gen).to(device)
    target = _check_attack_args(model, x, target.to(device), "target")
    x.requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    with eval_mode(model), torch.enable_grad():
        for _ in range(steps):
            log_p = F.log_softmax(model(x), dim=1).gather(1, target[:, None]).squeeze(1)
            done = log_p.detach().exp() >= confidence  # these images stop here
            if bool(done.all()):
                break
            objective = log_p.sum() - l2 * ((x - 0.5) ** 2).sum()
            x.grad, = torch.autograd.grad(-objective, x)  # the image's gradient only: the model's .grad untouched
            kept = x.detach()[done].clone()
            opt.step()
            with torch.no_grad():
                x.clamp_(0.0, 1.0)
                x[done] = kept
    return x.detach()


# --------------------------------------------------------------------------- evaluation

ATTACKS = ("fgsm", "iterative", "least_likely", "pgd")


def named_attack(name: str) -> Attack:
    """The attack ``(model, x, y, eps) -> x_adv`` behind each name of :data:`ATTACKS`:
    ``fgsm``; ``iterative`` (basic iterative, Kurakin's schedule); ``least_likely`` (Kurakin's schedule);
    ``pgd`` (random start, 40 steps of 2.5 eps / 40, as Madry et al.'s 40 x 0.01 at eps 0.3)."""
    check_choice(name, "attack", ATTACKS)
    if name == "fgsm":
        return fgsm
    if name == "iterative":
        return lambda model, x, y, eps: pgd(model, x, y, eps, *kurakin_schedule(eps), random_start=False)
    if name == "least_likely":
        return lambda model, x, y, eps: least_likely(model, x, eps)
    return lambda model, x, y, eps: pgd(model, x, y, eps, 2.5 * eps / 40 if eps > 0 else 1e-3, 40)


def accuracy_under_attack(model: nn.Module, data, attack: str | Attack, eps_values: Sequence[float],
                          topk: Sequence[int] = (1, 5), batch_size: int = 128,
                          progress: bool = True) -> dict[str, list[float]]:
    """Top-k accuracy of ``model`` on adversarial versions of ``data`` for each epsilon (Kurakin et al. 2017,
    figure 2). ``data``: a Dataset of (image, label) or an ``(X, y)`` pair, batched by ``train.batches``;
    ``attack``: a name in :data:`ATTACKS` or a function ``(model, x, y, eps) -> x_adv``.

    ``eps = 0`` scores the clean images (no attack is run).
    Returns ``{"eps": [...], "top1": [...], "top5": [...]}`` (one key per k in ``topk``), accuracies in [0, 1].
    """
    _check_model(model)
    attack_fn = named_attack(attack) if isinstance(attack, str) else attack
    if not callable(attack_fn):
        raise TypeError(f"attack must be one of {ATTACKS} or a function (model, x, y, eps) -> x_adv, got {attack!r}")
    eps_values = [_check_eps(e) for e in eps_values]
    if not eps_values:
        raise ValueError("eps_values must hold at least one epsilon")
    topk = [check_range(k, "topk", 1, integer=True) for k in topk]
    check_range(batch_size, "batch_size", 1, integer=True)
    device = model_device(model)
    n = len(data[1]) if isinstance(data, (tuple, list)) else len(data)
    correct = {k: [0] * len(eps_values) for k in topk}
    total = 0
    with tqdm(total=len(eps_values) * n, desc=attack if isinstance(attack, str) else "attack",
              disable=not progress, leave=False) as bar:
        for x, y in batches(data, batch_size):
            x, y = x.to(device), y.to(device)
            if total == 0 and max(topk) > _num_classes(model, x):
                raise ValueError(f"topk must be <= the number of classes {_num_classes(model, x)}, got {max(topk)}")
            total += len(y)
            for i, eps in enumerate(eps_values):
                x_adv = x if eps == 0 else attack_fn(model, x, y, eps)  # eps 0: the clean images
                result = evaluate(model, (x_adv, y), topk=topk, batch_size=len(y))
                for k in topk:
                    correct[k][i] += round(result[f"top{k}"] * result["n"])
                bar.update(len(y))
    return {"eps": eps_values, **{f"top{k}": [c / total for c in correct[k]] for k in topk}}


def smallest_eps(model: nn.Module, x: torch.Tensor, y, eps_values: Sequence[float],
                 attack: str | Attack = "fgsm") -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the adversarial example at the smallest epsilon of ``eps_values`` (tried in increasing order)
    that makes the prediction differ from ``y``. Returns ``(x_adv, eps)``: ``B x C x H x W`` images (the input
    where no epsilon succeeds) and B epsilons (``nan`` where none succeeds)."""
    y = _check_attack_args(model, x, y)
    attack_fn = named_attack(attack) if isinstance(attack, str) else attack
    x_best, eps_best = x.detach().clone(), torch.full((x.shape[0],), math.nan, dtype=torch.float64)
    for eps in sorted(_check_eps(e) for e in eps_values):
        todo = eps_best.isnan().to(x.device)
        if not todo.any():
            break
        x_adv = attack_fn(model, x[todo], y[todo], eps)
        with eval_mode(model), torch.no_grad():
            fooled = model(x_adv).argmax(dim=1) != y[todo]
        idx = todo.nonzero().squeeze(1)[fooled]
        x_best[idx] = x_adv[fooled]
        eps_best[idx.cpu()] = eps
    return x_best, eps_best


# --------------------------------------------------------------------------- pictures and the widget

def eps_label(eps: float) -> str:
    """``8/255`` when ``eps`` is a whole number of 255ths, else ``0.25``."""
    k = eps * 255
    return f"{round(k)}/255" if eps > 0 and abs(k - round(k)) < 1e-6 else f"{eps:.3g}"


def attack_figure(x: torch.Tensor, x_adv: torch.Tensor, probs: torch.Tensor, probs_adv: torch.Tensor,
                  categories: Sequence[str], true_class: int | None = None, k: int = 5,
                  perturbation_title: str | None = None):
    """The panda figure (Goodfellow et al. 2015, figure 1) for one image: the clean image with its
    prediction, the perturbation ``x_adv - x`` amplified to fill the grey range (``0.5 + 0.5 r / max|r|``),
    the adversarial image with its prediction, and its top-``k`` bars.
    ``x``, ``x_adv``: ``C x H x W`` in [0, 1]; ``probs``, ``probs_adv``: K probabilities. Returns the Figure."""
    import matplotlib.pyplot as plt

    from .plotting import to_numpy_image, topk_bars

    check_images(x, "x", ndim=3)
    check_images(x_adv, "x_adv", ndim=3)
    r = (x_adv - x).detach()
    scale = float(r.abs().max())
    fig, axes = plt.subplots(1, 4, figsize=(12, 3), gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
    for ax, image, p, title in ((axes[0], x, probs, "clean"), (axes[2], x_adv, probs_adv, "adversarial")):
        arr = to_numpy_image(image)
        ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
        c = int(p.argmax())
        ax.set_title(f"{title}: {categories[c]}\n{float(p[c]):.1%} confidence", fontsize=9)
    amplified = 0.5 + 0.5 * r / scale if scale > 0 else torch.full_like(r, 0.5)
    arr = to_numpy_image(amplified)
    axes[1].imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
    axes[1].set_title(perturbation_title or f"perturbation x {0.5 / scale if scale else 0:.3g}\n"
                      f"(L-inf {eps_label(scale)}, L2 {float(r.norm()):.2f})", fontsize=9)
    for ax in axes[:3]:
        ax.axis("off")
    topk_bars(probs_adv, categories, k=k, ax=axes[3], true_class=true_class, title="adversarial top-k")
    fig.tight_layout()
    return fig


def attack_widget(model: nn.Module, images: torch.Tensor, labels=None, categories: Sequence[str] | None = None,
                  attacks: Sequence[str] = ("fgsm", "iterative", "least_likely"),
                  eps_values: Sequence[float] = (1 / 255, 2 / 255, 4 / 255, 8 / 255, 16 / 255), k: int = 5,
                  progress: bool = True):
    """The lesson's widget: choose an attack, an epsilon and an image; see the clean and adversarial images,
    the amplified perturbation and the adversarial top-``k`` (:func:`attack_figure`).

    Every (attack, epsilon) pair is computed for all ``images`` (``N x C x H x W`` in [0, 1]) when the widget
    is built, so a change only redraws (well under 0.5 s). ``labels`` default to the model's predictions;
    ``attacks``: names in :data:`ATTACKS`. Returns a :class:`lectures_lib.widgets.InteractiveFigure` whose
    ``controls`` are ``"attack"``, ``"eps"`` and ``"index"``; ``widget.results[(attack, eps)]`` holds the
    adversarial images and their probabilities; ``widget.state`` what the last redraw showed.
    """
    import ipywidgets as W

    from .train import predict
    from .widgets import InteractiveFigure

    _check_model(model)
    check_images(images, "images")
    for name in attacks:
        check_choice(name, "attacks", ATTACKS)
    if not attacks or not eps_values:
        raise ValueError("attacks and eps_values must each hold at least one entry")
    eps_values = sorted(_check_eps(e) for e in eps_values)
    probs = predict(model, images)
    labels = probs.argmax(dim=1) if labels is None else check_labels(labels, len(images), probs.shape[1], "labels")
    categories = categories or getattr(model, "categories", None) or [str(i) for i in range(probs.shape[1])]
    results = {}
    for name, eps in tqdm([(a, e) for a in attacks for e in eps_values], desc="precomputing attacks",
                          disable=not progress, leave=False):
        x_adv = named_attack(name)(model, images, labels, eps)
        results[(name, eps)] = (x_adv, predict(model, x_adv))

    def render(attack: str, eps: float, index: int):
        x_adv, p_adv = results[(attack, eps)]
        fig = attack_figure(images[index], x_adv[index], probs[index], p_adv[index], categories,
                            true_class=int(labels[index]), k=k,
                            perturbation_title=f"{attack}, eps = {eps_label(eps)}\nperturbation (amplified)")
        return fig, {"attack": attack, "eps": eps, "index": index, "predicted": int(p_adv[index].argmax()),
                     "probs": p_adv[index]}

    controls = {
        "attack": W.Dropdown(options=list(attacks), value=attacks[0], description="attack"),
        "eps": W.SelectionSlider(options=[(eps_label(e), e) for e in eps_values], value=eps_values[0],
                                 description="epsilon", continuous_update=False),
        "index": W.IntSlider(value=0, min=0, max=len(images) - 1, description="image", continuous_update=False),
    }
    widget = InteractiveFigure(render, controls)
    widget.results = results
    return widget


def accuracy_figure(curves: dict[str, dict], title: str | None = None, eps_unit: str = "255"):
    """Kurakin et al.'s figure 2: top-k accuracy against epsilon, one line per attack, one panel per k.
    ``curves``: ``{attack name: accuracy_under_attack(...) result}``; ``eps_unit``: ``"255"`` plots
    epsilons as 0-255 values, ``"1"`` as given. Returns the Figure."""
    import matplotlib.pyplot as plt

    check_choice(eps_unit, "eps_unit", ("255", "1"))
    if not curves:
        raise ValueError("curves must hold at least one attack's curve")
    keys = [k for k in next(iter(curves.values())) if k.startswith("top")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.4), squeeze=False)
    scale = 255.0 if eps_unit == "255" else 1.0
    for ax, key in zip(axes[0], keys):
        for name, curve in curves.items():
            ax.plot([e * scale for e in curve["eps"]], curve[key], marker="o", label=name)
        ax.set(xlabel="epsilon" + (" (of 255)" if eps_unit == "255" else ""), ylabel=f"{key} accuracy",
               ylim=(-0.02, 1.02), title=key)
        if eps_unit == "255" and all(e > 0 for c in curves.values() for e in c["eps"]):
            ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
