"""Universal adversarial perturbations (lesson 07): one image-agnostic vector ``v`` that changes the
prediction of most images, ``argmax f(clip(x + v)) != argmax f(x)``, with ``|v|_p <= xi``.

- :func:`universal_perturbation`: the algorithm of Moosavi-Dezfooli, Fawzi, Fawzi and Frossard (CVPR 2017;
  reference code LTS4/universal): cycle through the images, let DeepFool find the smallest extra step
  for each image that ``x + v`` does not fool yet, add it to ``v`` and project ``v`` back onto the
  ``L_p`` ball of radius ``xi``.
- :func:`sgd_universal_perturbation`: the stochastic variant of Shafahi et al. (AAAI 2020): ascend a
  clamped cross-entropy over mini-batches, projecting ``v`` after every step; one forward and one
  backward pass per image and epoch, the fast path for ImageNet-sized networks on a CPU.
- :func:`fooling_rate` (the paper's definition: the fraction of images whose **prediction** changes, not
  label error), :func:`transfer_matrix` (each model's perturbation on every model), :func:`dominant_labels`.
- :func:`mnist_transfer_model`: the MNIST architectures of the transfer table (LeNet-5, an MLP and a
  small ResNet), trained by :func:`lectures_lib.train.fit` and kept in the checkpoint cache.

Images are in [0, 1] (the models normalise inside); a perturbed image is ``clip(x + v, 0, 1)``, so it stays a
valid image. ``xi`` is on the same scale: ``xi = 10 / 255`` is the paper's L-infinity "10".
``v`` is one ``C x H x W`` tensor, added to every image. Figures live in :mod:`lectures_lib.plotting.universal`.

References
----------
- Moosavi-Dezfooli, Fawzi, Fawzi and Frossard, *Universal adversarial perturbations*, CVPR 2017.
- Shafahi, Najibi, Xu, Dickerson, Davis and Goldstein, *Universal adversarial training*, AAAI 2020.
- Moosavi-Dezfooli, Fawzi and Frossard, *DeepFool*, CVPR 2016.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .attacks import deepfool
from .plumbing import (
    batches,
    count_items,
    eval_mode,
    input_channels,
    input_gradient,
    model_device,
    predicted_classes,
    progress_bar,
    run_model,
)
from .validation import check_choice, check_flag, check_images, check_logits, check_model, check_range

__all__ = [
    "NORMS",
    "TRANSFER_MNIST_MODELS",
    "MnistMLP",
    "MnistResNet",
    "TransferMatrix",
    "UniversalResult",
    "dominant_labels",
    "fooling_rate",
    "mnist_transfer_model",
    "perturb",
    "project_lp",
    "sgd_universal_perturbation",
    "transfer_matrix",
    "universal_perturbation",
]

NORMS = ("inf", 2)
"""The norms of the ball a universal perturbation lives in: ``"inf"`` (L-infinity) and ``2`` (L2)."""


class UniversalResult(NamedTuple):
    """What :func:`universal_perturbation` and :func:`sgd_universal_perturbation` found."""
    perturbation: torch.Tensor  # C x H x W, |v|_p <= xi
    fooling_rates: list[float]  # fooling rate on the training images after each pass (epoch)
    passes: int                 # passes (epochs) made
    updates: int                # DeepFool steps added to v (SGD: gradient steps taken)


class TransferMatrix(NamedTuple):
    """Fooling rates of each source model's perturbation on each target model (:func:`transfer_matrix`)."""
    rates: torch.Tensor         # S x T float64 in [0, 1]: row = source model, column = target model
    sources: list[str]
    targets: list[str]


# --------------------------------------------------------------------------- argument checks

def _check_norm(p) -> str | int:
    """``"inf"`` or ``2`` (``math.inf`` and ``2.0`` are accepted)."""
    if isinstance(p, bool) or not isinstance(p, (str, numbers.Real)):
        raise ValueError(f"p must be one of {list(NORMS)} (the norm of the ball), got {p!r}")
    check_choice(p, "p", ("inf", 2, math.inf))
    return 2 if p == 2 else "inf"


def _check_xi(xi, p: str | int) -> float:
    """The radius: in (0, 1] for L-infinity (pixels/255 on the [0, 1] scale), > 0 finite for L2."""
    return float(check_range(xi, "xi", 0.0, 1.0 if p == "inf" else None, low_inclusive=False))


def _check_perturbation(v, shape: torch.Size | tuple | None = None, name: str = "v") -> torch.Tensor:
    """A finite float tensor ``C x H x W`` (or ``1 x C x H x W``), shaped like one image of ``shape`` when given."""
    if not isinstance(v, torch.Tensor):
        raise TypeError(f"{name} must be a tensor C x H x W (one perturbation for every image), got {type(v).__name__}")
    if v.dim() == 4 and v.shape[0] == 1:
        v = v[0]
    if v.dim() != 3:
        raise ValueError(f"{name} must have shape C x H x W (one perturbation for every image), got {tuple(v.shape)}")
    if not v.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got dtype {v.dtype}")
    if not torch.isfinite(v).all():
        raise ValueError(f"{name} must be finite, got NaN or infinite values")
    if shape is not None and tuple(v.shape) != tuple(shape):
        raise ValueError(f"{name} must have the shape of one image {tuple(shape)}, got {tuple(v.shape)}")
    return v


def _images(model, data, name: str = "data", batch_size: int = 256) -> torch.Tensor:
    """All images of ``data`` (a tensor, a pair ``(x, y)`` or a Dataset) as one ``N x C x H x W`` tensor in
    [0, 1], N >= 1, with the channels ``model`` expects."""
    n = count_items(data)
    if n == 0:
        raise ValueError(f"{name} must hold at least one image, got none")
    parts = [check_images(xb, name, channels=input_channels(model), min_batch=1) for xb, _ in batches(data, batch_size)]
    x = torch.cat(parts)
    with torch.no_grad(), eval_mode(model):
        check_logits(run_model(model, x[:1].to(model_device(model)), name))  # the model runs on these images
    return x


def _check_common(model, delta, max_passes: int, batch_size: int, seed: int, progress: bool) -> float:
    check_model(model)
    delta = float(check_range(delta, "delta", 0.0, 1.0))
    check_range(max_passes, "max_passes", 1, integer=True)
    check_range(batch_size, "batch_size", 1, integer=True)
    check_range(seed, "seed", 0, integer=True)
    check_flag(progress, "progress")
    return delta


# --------------------------------------------------------------------------- the building blocks

def project_lp(v: torch.Tensor, xi: float, p: str | int = "inf") -> torch.Tensor:
    """The projection of ``v`` onto the ``L_p`` ball of radius ``xi`` centred at 0 (the whole tensor is one
    vector): the closest point of the ball.

        p = "inf":  clamp(v, -xi, xi)                      (each entry on its own)
        p = 2:      v * min(1, xi / |v|_2)                  (shrink v radially, only if it is outside)

    (LTS4/universal's ``proj_lp`` rescales ``v`` to ``|v|_2 = xi`` even when it is inside the ball; that is
    not a projection and is not done here.)

    Parameters
    ----------
    v : Tensor
        Any shape, finite floats.
    xi : float
        The radius, > 0 (L-infinity: at most 1, the range of a pixel).
    p : {"inf", 2}
        The norm.

    Returns
    -------
    Tensor
        The shape, device and dtype of ``v``, with ``|result|_p <= xi``; ``v`` itself is not modified.
    """
    p = _check_norm(p)
    xi = _check_xi(xi, p)
    if not isinstance(v, torch.Tensor) or not v.is_floating_point():
        raise TypeError(f"v must be a float tensor, got {type(v).__name__ if not isinstance(v, torch.Tensor) else v.dtype}")
    if not torch.isfinite(v).all():
        raise ValueError("v must be finite, got NaN or infinite values")
    if p == "inf":
        return v.clamp(-xi, xi)
    norm = float(v.norm())
    return v * min(1.0, xi / norm) if norm > 0 else v.clone()


def perturb(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``clip(x + v, 0, 1)``: every image of ``x`` with the universal perturbation ``v`` added, kept valid.

    Parameters
    ----------
    x : torch.Tensor
        Images ``B x C x H x W`` in [0, 1].
    v : torch.Tensor
        One perturbation ``C x H x W`` (finite), added to each image.

    Returns
    -------
    torch.Tensor
        ``B x C x H x W`` in [0, 1], on the device and in the dtype of ``x``.
    """
    check_images(x, "x", min_batch=1)
    v = _check_perturbation(v)
    if v.shape != x.shape[1:]:
        raise ValueError(f"v of shape {tuple(v.shape)} must have the shape of one image of x {tuple(x.shape[1:])}")
    return (x + v.to(x.device, x.dtype)).clamp(0.0, 1.0)


def _fooled(model, x: torch.Tensor, v: torch.Tensor, clean: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``B`` bool: the prediction on ``clip(x + v)`` differs from ``clean`` (the predictions on ``x``)."""
    return predicted_classes(model, perturb(x, v), batch_size) != clean


def fooling_rate(model, data, v: torch.Tensor, *, batch_size: int = 256) -> float:
    """The fraction of images whose prediction changes when ``v`` is added (Moosavi-Dezfooli et al. 2017):

        mean_i [ argmax f(clip(x_i + v, 0, 1)) != argmax f(x_i) ]

    The labels play no part: an image the model already got wrong counts as fooled only if its (wrong)
    prediction changes.

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    data : Tensor, (x, y) or Dataset
        The images (labels, if any, are ignored), at least one.
    v : Tensor
        ``C x H x W``, the shape of one image; finite.
    batch_size : int
        Images per forward pass (does not change the result).

    Returns
    -------
    float
        In [0, 1]; 0 for ``v = 0``.
    """
    check_model(model)
    check_range(batch_size, "batch_size", 1, integer=True)
    v = _check_perturbation(v)
    n = count_items(data)
    if n == 0:
        raise ValueError("data must hold at least one image, got none")
    fooled = 0
    for xb, _ in batches(data, batch_size):
        check_images(xb, "data", channels=input_channels(model), min_batch=1)
        _check_perturbation(v, xb.shape[1:])
        xb = xb.to(model_device(model)) if isinstance(model, nn.Module) else xb
        fooled += int(_fooled(model, xb, v, predicted_classes(model, xb, batch_size), batch_size).sum())
    return fooled / n


# --------------------------------------------------------------------------- the paper's algorithm

def universal_perturbation(model, data, xi: float, *, p: str | int = "inf", delta: float = 0.2,
                           max_passes: int = 10, overshoot: float = 0.02, candidates: int = 10,
                           max_iter: int = 10, batch_size: int = 256, seed: int = 0,
                           progress: bool = True) -> UniversalResult:
    """A universal perturbation by Moosavi-Dezfooli et al.'s algorithm (CVPR 2017, algorithm 1):

        v = 0
        repeat (a pass over the shuffled images x_1 ... x_n):
            for each x_i that x_i + v does not fool:
                dv = DeepFool's minimal perturbation of clip(x_i + v)      (toward the nearest boundary)
                v  = project_lp(v + dv, xi, p)                              (back into the ball)
        until the fooling rate on the n images reaches 1 - delta, or after max_passes passes

    As in the reference code (LTS4/universal), a DeepFool step that does not change the prediction within
    ``max_iter`` linearisations is not added, and the images are shuffled at the start of every pass (here
    by a generator seeded with ``seed``, so a run is repeatable).

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    data : Tensor, (x, y) or Dataset
        The training images (labels are ignored), at least one.
    xi : float
        Radius of the ball: L-infinity in (0, 1] (the paper: 10/255), L2 > 0 (the paper: 2000 on 0-255
        images of 224 x 224 x 3, about 7.8 on the [0, 1] scale).
    p : {"inf", 2}
        The norm.
    delta : float
        Stop once the fooling rate on ``data`` is at least ``1 - delta`` (the paper: 0.2); 0 asks for every image.
    max_passes : int
        At most this many passes over the data, >= 1.
    overshoot, candidates, max_iter : float, int, int
        DeepFool's overshoot (0.02), classes considered (the clean class and its 9 runners-up) and
        linearisation steps (10), as in the reference code.
    batch_size : int
        Images per forward pass when the fooling rate is measured.
    seed : int
        Seeds the order of the images in each pass.
    progress : bool
        Show a progress bar with the running fooling rate.

    Returns
    -------
    UniversalResult
        ``perturbation`` (``C x H x W`` on the device and in the dtype of the images, ``|v|_p <= xi``),
        ``fooling_rates`` (on ``data`` after each pass), ``passes``, ``updates`` (DeepFool steps added).
    """
    delta = _check_common(model, delta, max_passes, batch_size, seed, progress)
    p = _check_norm(p)
    xi = _check_xi(xi, p)
    check_range(overshoot, "overshoot", 0.0, 1.0)
    check_range(candidates, "candidates", 2, integer=True)
    check_range(max_iter, "max_iter", 1, integer=True)
    x = _images(model, data, batch_size=batch_size)
    x = x.to(model_device(model)) if isinstance(model, nn.Module) else x
    clean = predicted_classes(model, x, batch_size)
    v, history, updates = torch.zeros_like(x[0]), [], 0
    gen = torch.Generator().manual_seed(seed)
    with eval_mode(model), progress_bar(max_passes * len(x), "universal perturbation", progress, "img") as bar:
        for _ in range(max_passes):
            fooled_now = 0
            for seen, i in enumerate(torch.randperm(len(x), generator=gen).tolist(), start=1):
                x_i = perturb(x[i:i + 1], v)
                if predicted_classes(model, x_i)[0] == clean[i]:   # not fooled yet: DeepFool's smallest step
                    step = deepfool(model, x_i, overshoot=overshoot, max_iter=max_iter, candidates=candidates)
                    if step.fooled[0]:
                        v = project_lp(v + step.perturbation[0], xi, p)
                        updates += 1
                        fooled_now += 1
                else:
                    fooled_now += 1
                bar.update(1)
                bar.set_postfix(fooling=f"{fooled_now / seen:.0%}", refresh=False)
            history.append(float(_fooled(model, x, v, clean, batch_size).float().mean()))
            if history[-1] >= 1.0 - delta:
                break
    return UniversalResult(v, history, len(history), updates)


# --------------------------------------------------------------------------- the stochastic variant

def _augmented(augment: Callable[..., torch.Tensor], xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``augment(xb, generator=gen)``, checked to be images of the same shape, device and dtype."""
    out = augment(xb, generator=gen)
    if not isinstance(out, torch.Tensor) or out.shape != xb.shape or out.dtype != xb.dtype or out.device != xb.device:
        got = (f"shape {tuple(out.shape)}, {out.dtype} on {out.device}" if isinstance(out, torch.Tensor)
               else type(out).__name__)
        raise ValueError(f"augment must return images like its input (shape {tuple(xb.shape)}, {xb.dtype} on "
                         f"{xb.device}), got {got}")
    return out


def sgd_universal_perturbation(model, data, xi: float, *, p: str | int = "inf", delta: float = 0.2,
                               max_passes: int = 10, step: float | None = None, step_decay: float = 0.8,
                               beta: float | None = 9.0, optimizer: str = "sign", batch_size: int = 32,
                               augment: Callable[..., torch.Tensor] | None = None, seed: int = 0,
                               progress: bool = True) -> UniversalResult:
    """A universal perturbation by stochastic gradient ascent (Shafahi et al. 2020, algorithm 1), on the
    clamped cross-entropy of the model's own clean predictions ``y_i = argmax f(x_i)``:

        for each epoch, for each mini-batch B of the shuffled images (each replaced by a new view when ``augment``):
            g = sum_{i in B} grad_v min(CE(f(clip(x_i + v)), y_i), beta)
            v = project_lp(v + step * direction(g), xi, p)  (direction: sign(g) for "inf", g / |g|_2 for 2)
        step = step * step_decay after each epoch; stop once the fooling rate reaches 1 - delta

    The clamp ``beta`` stops images that are already fooled from dominating the gradient: it is zero for an
    image whose loss exceeds ``beta`` (its clean class has probability below ``exp(-beta)``).
    For L-infinity the step is the sign of ``g`` (as in PGD); for L2, ``g`` normalised to length 1.
    ``optimizer="adam"`` replaces that direction by Adam's (Kingma and Ba, ICLR 2015): running means of ``g`` and
    ``g**2`` (decays 0.9 and 0.999, bias-corrected), direction ``m / (sqrt(s) + 1e-12)``, per pixel. Measured on
    EfficientNet-Lite0 (500 ImageNet sample images, L-infinity 10/255, batch 10, step 1/255, 10 epochs), fooling
    rates on 500 held-out images: sign steps with ``beta=9`` 66%; Adam with ``beta=None`` 74.8%, 78.0% and 77.8%
    (seeds 0, 1, 2; Adam with ``beta=9`` about 75%). The averaged direction generalises better than the sign of one
    noisy mini-batch, and without the clamp the images already fooled keep pulling ``v`` toward directions shared
    by many images.

    ``augment`` shows the perturbation a new view of every training image at every step, so that ``v`` fits the
    pixels of a few hundred pictures less (views of one picture are correlated: they regularise, they do not
    replace new pictures). With :func:`~lectures_lib.train.random_crop_flip` (crops of
    80-100% of the side, mirrored half of the time) and the Adam settings above, the held-out fooling rate of
    EfficientNet-Lite0 rises to 82.2%, 83.0%, 81.8%, 83.4% and 84.4% (seeds 0-4, 10 epochs; 81.4%, 80.6% and 81.4%
    after 5), and the training fooling rate stops running ahead of the held-out one. Without augmentation the
    result is also sensitive to rounding: seed 0 with Adam's update computed out of place gave 81.4% instead of
    74.8% (with it: 83.4% instead of 82.2%), so the spread over seeds understates the spread of the plain runs.

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    data : Tensor, (x, y) or Dataset
        The training images (labels are ignored: the model's predictions are the targets), at least one.
    xi : float
        Radius of the ball (L-infinity in (0, 1], L2 > 0).
    p : {"inf", 2}
        The norm.
    delta : float
        Stop after the first epoch whose fooling rate on ``data`` reaches ``1 - delta``; 0 asks for every image.
    max_passes : int
        Epochs, >= 1.
    step : float, optional
        The first step's length (L-infinity: per pixel), > 0; default ``xi / 4``.
    step_decay : float
        In (0, 1]: the step is multiplied by it after each epoch.
    beta : float or None
        The clamp of the cross-entropy, > 0; None: no clamp.
    optimizer : {"sign", "adam"}
        The update's direction: the sign of ``g`` (L-infinity) or ``g / |g|_2`` (L2); or Adam's (L-infinity only).
    batch_size : int
        Images per step (and per forward pass when the fooling rate is measured).
    augment : callable, optional
        ``augment(images, generator=g) -> images`` of the same shape, applied to each mini-batch of clean images before
        ``v`` is added, e.g. :func:`~lectures_lib.train.random_crop_flip` or :func:`~lectures_lib.train.random_shift`;
        None: the images as they are. The fooling rates reported are on the images as they are.
    seed : int
        Seeds the order of the mini-batches and the draws of ``augment``.
    progress : bool
        Show a progress bar with the fooling rate of the last epoch.

    Returns
    -------
    UniversalResult
        ``perturbation`` (``C x H x W``, ``|v|_p <= xi``), ``fooling_rates`` (on ``data`` after each epoch),
        ``passes`` (epochs made) and ``updates`` (steps taken).
    """
    delta = _check_common(model, delta, max_passes, batch_size, seed, progress)
    p = _check_norm(p)
    xi = _check_xi(xi, p)
    step = xi / 4 if step is None else float(check_range(step, "step", 0.0, low_inclusive=False))
    step_decay = float(check_range(step_decay, "step_decay", 0.0, 1.0, low_inclusive=False))
    beta = None if beta is None else float(check_range(beta, "beta", 0.0, low_inclusive=False))
    check_choice(optimizer, "optimizer", ("sign", "adam"))
    if optimizer == "adam" and p != "inf":
        raise ValueError("optimizer='adam' works in the L-infinity ball (p='inf'): its per-pixel normalisation "
                         "does not follow the L2 geometry; use optimizer='sign' (g / |g|_2 steps) for p=2")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be None or a function augment(images, generator=g) -> images, "
                        f"got {type(augment).__name__}")
    x = _images(model, data, batch_size=batch_size)
    x = x.to(model_device(model)) if isinstance(model, nn.Module) else x
    clean = predicted_classes(model, x, batch_size)
    v, history, updates = torch.zeros_like(x[0]), [], 0
    mean, square = torch.zeros_like(v), torch.zeros_like(v)    # Adam's running moments
    gen = torch.Generator().manual_seed(seed)

    def clamped_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(out, y.to(out.device), reduction="none")
        return (loss if beta is None else loss.clamp(max=beta)).sum()

    steps_per_epoch = math.ceil(len(x) / batch_size)
    with eval_mode(model), progress_bar(max_passes * steps_per_epoch, "universal perturbation (SGD)", progress,
                                        "batch") as bar:
        for _ in range(max_passes):
            for xb, yb in batches((x, clean), batch_size, shuffle=True, generator=gen):
                if augment is not None:
                    xb = _augmented(augment, xb, gen)
                moved = xb + v
                inside = ((moved > 0) & (moved < 1)).to(x.dtype)   # clip's derivative: 0 where it clips
                moved = moved.clamp(0.0, 1.0).contiguous(memory_format=torch.channels_last)  # ~15% faster on CPUs
                g = (input_gradient(model, moved, clamped_loss, yb, batch_size=batch_size) * inside).sum(dim=0)
                updates += 1
                if optimizer == "adam":
                    mean.mul_(0.9).add_(g, alpha=0.1)
                    square.mul_(0.999).addcmul_(g, g, value=0.001)
                    g = (mean / (1 - 0.9 ** updates)) / ((square / (1 - 0.999 ** updates)).sqrt() + 1e-12)
                if p == "inf":
                    v = project_lp(v + step * (g.sign() if optimizer == "sign" else g), xi, p)
                elif g.norm() > 0:
                    v = project_lp(v + step * g / g.norm(), xi, p)
                bar.update(1)
            history.append(float(_fooled(model, x, v, clean, batch_size).float().mean()))
            bar.set_postfix(fooling=f"{history[-1]:.0%}", refresh=False)
            if history[-1] >= 1.0 - delta:
                break
            step *= step_decay
    return UniversalResult(v, history, len(history), updates)


# --------------------------------------------------------------------------- across models

def _check_named(mapping, name: str, what: str) -> dict:
    if not isinstance(mapping, Mapping) or not mapping:
        raise TypeError(f"{name} must be a non-empty dict {{name: {what}}}, got {type(mapping).__name__}")
    for key in mapping:
        if not isinstance(key, str):
            raise TypeError(f"{name}'s keys must be names (str), got {key!r}")
    return dict(mapping)


def transfer_matrix(models: Mapping[str, object], perturbations: Mapping[str, torch.Tensor], data, *,
                    batch_size: int = 256, progress: bool = True) -> TransferMatrix:
    """The fooling rate of each model's universal perturbation on every model (the paper's table 2): row =
    the model the perturbation was computed on, column = the model it is tried on. The diagonal is each
    perturbation on its own model; the rest measures how well it transfers.

    Parameters
    ----------
    models : dict
        ``{name: model}``, the target models (callables taking the images of ``data``), at least one.
    perturbations : dict
        ``{name: v}``, the source perturbations, each ``C x H x W`` like one image of ``data``.
    data : Tensor, (x, y) or Dataset
        Held-out images, at least one (labels are ignored).
    batch_size : int
        Images per forward pass.
    progress : bool
        Show a progress bar over the models.

    Returns
    -------
    TransferMatrix
        ``rates`` (``S x T`` float64 in [0, 1]), ``sources`` (the names of ``perturbations``), ``targets``
        (the names of ``models``).
    """
    models = _check_named(models, "models", "model")
    perturbations = _check_named(perturbations, "perturbations", "perturbation C x H x W")
    check_range(batch_size, "batch_size", 1, integer=True)
    check_flag(progress, "progress")
    for name, model in models.items():
        check_model(model, f"models[{name!r}]")
    for name, v in perturbations.items():
        _check_perturbation(v, name=f"perturbations[{name!r}]")
    n = count_items(data)
    if n == 0:
        raise ValueError("data must hold at least one image, got none")
    rates = torch.zeros(len(perturbations), len(models), dtype=torch.float64)
    with progress_bar(len(models) * n, "transfer matrix", progress, "img") as bar:
        for xb, _ in batches(data, batch_size):
            for t, model in enumerate(models.values()):
                check_images(xb, "data", channels=input_channels(model), min_batch=1)
                xt = xb.to(model_device(model)) if isinstance(model, nn.Module) else xb
                clean = predicted_classes(model, xt, batch_size)
                for s, (name, v) in enumerate(perturbations.items()):
                    _check_perturbation(v, xt.shape[1:], f"perturbations[{name!r}]")
                    rates[s, t] += float(_fooled(model, xt, v, clean, batch_size).sum())
                bar.update(len(xb))
    return TransferMatrix(rates / n, list(perturbations), list(models))


def dominant_labels(model, data, v: torch.Tensor, *, top: int = 5,
                    batch_size: int = 256) -> list[tuple[int, float]]:
    """The classes that the perturbed images are predicted as most often (the paper's observation: a
    universal perturbation sends most images to a few *dominant labels*).

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    data : Tensor, (x, y) or Dataset
        Images (labels are ignored), at least one.
    v : Tensor
        ``C x H x W``.
    top : int
        How many classes to return, >= 1.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    list of (int, float)
        Up to ``top`` pairs ``(class, fraction of the fooled images predicted as it)``, most frequent first;
        empty when no image is fooled.
    """
    check_model(model)
    check_range(top, "top", 1, integer=True)
    check_range(batch_size, "batch_size", 1, integer=True)
    v = _check_perturbation(v)
    if count_items(data) == 0:
        raise ValueError("data must hold at least one image, got none")
    new = []
    for xb, _ in batches(data, batch_size):
        check_images(xb, "data", channels=input_channels(model), min_batch=1)
        _check_perturbation(v, xb.shape[1:])
        xb = xb.to(model_device(model)) if isinstance(model, nn.Module) else xb
        adv = predicted_classes(model, perturb(xb, v), batch_size)
        new.append(adv[adv != predicted_classes(model, xb, batch_size)].cpu())
    new = torch.cat(new)
    if len(new) == 0:
        return []
    classes, counts = new.unique(return_counts=True)
    order = counts.argsort(descending=True, stable=True)[:top]
    return [(int(classes[i]), float(counts[i]) / len(new)) for i in order]


# --------------------------------------------------------------------------- MNIST models for the transfer table

class MnistMLP(nn.Module):
    """A multilayer perceptron for ``1 x 28 x 28`` digits in [0, 1]: normalise (MNIST mean/std), flatten,
    784-512-256-10 with ReLU. 535,818 parameters; no convolution, no weight sharing."""

    def __init__(self, num_classes: int = 10):
        from .models import MNIST_MEAN, MNIST_STD

        super().__init__()
        self.register_buffer("mean", torch.tensor(MNIST_MEAN).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(MNIST_STD).view(1, -1, 1, 1))
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                                 nn.Linear(256, num_classes))
        self.categories = [str(i) for i in range(num_classes)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


class _Block(nn.Module):
    """A basic residual block (He et al. 2016): two 3x3 convolutions with batch norm, plus the shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else
                         nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class MnistResNet(nn.Module):
    """A small ResNet for ``1 x 28 x 28`` digits in [0, 1]: normalise, a 3x3 stem of 8 channels, three
    residual blocks (8 channels at 28x28, 16 at 14x14, 32 at 7x7), global average pooling, a linear layer.
    19,810 parameters."""

    def __init__(self, num_classes: int = 10):
        from .models import MNIST_MEAN, MNIST_STD

        super().__init__()
        self.register_buffer("mean", torch.tensor(MNIST_MEAN).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(MNIST_STD).view(1, -1, 1, 1))
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layers = nn.Sequential(_Block(8, 8, 1), _Block(8, 16, 2), _Block(16, 32, 2))
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(32, num_classes)
        self.categories = [str(i) for i in range(num_classes)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem((x - self.mean) / self.std))
        return self.fc(self.pool(x).flatten(1))


TRANSFER_MNIST_MODELS = ("lenet5", "mlp", "resnet")
"""The MNIST architectures of the lesson's transfer table."""

_RECIPES = {
    "mlp": {"epochs": 15, "lr": 1e-3, "batch_size": 128, "optimizer": "adam", "lr_schedule": "cosine",
            "augment_shift": 2},
    "resnet": {"epochs": 8, "lr": 3e-3, "batch_size": 128, "optimizer": "adam", "lr_schedule": "cosine",
               "augment_shift": 2},
}


def mnist_transfer_model(name: str = "mlp", seed: int = 0, progress: bool = True) -> nn.Module:
    """A trained MNIST model of the transfer table, in eval mode, taking ``B x 1 x 28 x 28`` in [0, 1].

    Parameters
    ----------
    name : {"lenet5", "mlp", "resnet"}
        ``"lenet5"`` is the course's LeNet-5 (:func:`lectures_lib.models.mnist_model`); ``"mlp"``
        (:class:`MnistMLP`) and ``"resnet"`` (:class:`MnistResNet`) are trained here by
        :func:`lectures_lib.train.fit` on the same training digits, with shifts of up to 2 pixels.
    seed : int
        Seeds the initial weights and every draw of training.
    progress : bool
        Show the training's progress bar (only when the model is not in the cache yet).

    Returns
    -------
    nn.Module
        From the checkpoint cache (key: the recipe, the seed and the data's checksums) or trained now and
        cached; ``.test_accuracy``, ``.history`` and ``.data_source`` as for ``models.mnist_model``.
    """
    from . import cache, data, models, train
    from .config import seeded

    check_choice(name, "name", TRANSFER_MNIST_MODELS)
    check_range(seed, "seed", 0, integer=True)
    check_flag(progress, "progress")
    if name == "lenet5":
        return models.mnist_model("lenet5", seed=seed, progress=progress)
    recipe = dict(_RECIPES[name], name=name, seed=seed)
    train_data, test_data = data.mnist("train"), data.mnist("test")
    key = dict(recipe, train_data=train_data.checksum(), test_data=test_data.checksum())

    def build() -> nn.Module:
        with seeded(seed):
            return MnistMLP() if name == "mlp" else MnistResNet()

    def fit(model: nn.Module) -> dict:
        history = train.fit(model, train_data, test_data, epochs=recipe["epochs"], lr=recipe["lr"],
                            batch_size=recipe["batch_size"], optimizer=recipe["optimizer"],
                            lr_schedule=recipe["lr_schedule"], seed=seed, progress=progress,
                            perturb=train.shift_augmentation(recipe["augment_shift"]))
        return {"history": history}

    model, meta = cache.cached_model(f"l07-mnist-{name}", key, build, fit)
    model.history = meta["history"]
    model.test_accuracy = meta["history"][-1]["test_acc"]
    model.data_source = {"train": train_data.source, "test": test_data.source}
    return model.eval()
