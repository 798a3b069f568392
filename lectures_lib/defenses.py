"""Defences against adversarial examples, and how to evaluate them honestly (lesson 09).

- **Adversarial training** (Madry et al. 2018), ``min_theta E max_{|delta| <= eps} L(theta, x + delta, y)``, as
  :func:`~lectures_lib.train.fit` hooks: :func:`pgd_training` (the inner max by PGD),
  :func:`fast_adversarial_training` (one FGSM step from a random start, Wong, Rice and Kolter 2020: the CPU-friendly
  path) and :func:`ensemble_adversarial_training` (FGSM examples crafted on other, fixed models, Tramer et al. 2018).
  :func:`defended_model` trains and caches the lesson's models.
- **Input transforms** (Xu et al. 2018 feature squeezing, Guo et al. 2018): :func:`bit_depth`, :func:`median_filter`,
  :func:`jpeg`, and :func:`with_transform`, a model that transforms its input first; ``bpda=True`` differentiates
  the transform as the identity (Athalye, Carlini and Wagner 2018) and ``eot_samples`` averages a random transform.
- **Detection**: :class:`Detector`, a SafetyNet-style classifier of a late layer's codes (Lu, Issaranon and Forsyth
  2017), and :func:`evade_detector`, the attack that knows it (Carlini and Wagner 2017).
- **Nonlinear models**: :class:`DenseAssociativeMemory` (Krotov and Hopfield 2017).
- **Evaluation**: :func:`robust_accuracy` (the worst case over a list of attacks, per image) and
  :func:`logit_profile` (how linear the logits are along an adversarial direction: the lecture's "Why?").

Images are in [0, 1]; epsilons on the [0, 1] scale. Attacks come from :mod:`lectures_lib.attacks`; figures live in
:mod:`lectures_lib.plotting.defenses`.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from . import attacks
from .config import seeded
from .plumbing import batches, count_items, eval_mode, layer_outputs, progress_bar, run_model
from .validation import (
    check_choice,
    check_eps,
    check_flag,
    check_images,
    check_labels,
    check_model,
    check_range,
    get_module,
)

__all__ = [
    "BPDA", "DEFENCES", "DenseAssociativeMemory", "Detector", "LogitProfile", "RobustAccuracy", "Transformed",
    "WongNet", "bit_depth", "bpda", "dam_model", "defended_model", "defence_recipe", "ensemble_adversarial_training",
    "evade_detector", "fast_adversarial_training", "fgsm_random_start", "jpeg", "linearity_r2", "logit_profile", "margin_loss",
    "median_filter", "pgd_training", "robust_accuracy", "with_transform",
]

Perturb = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------- adversarial training

def fgsm_random_start(model, x: torch.Tensor, y=None, *, eps: float, alpha: float | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """One FGSM step from a uniform random point of the eps-ball (Wong, Rice and Kolter, ICLR 2020):

        delta ~ U(-eps, eps);  x' = Pi_{x, eps}(x + delta + alpha * sign(grad_x L(x + delta, y)))

    Parameters
    ----------
    model : callable
        Images ``B x C x H x W`` in [0, 1] -> logits ``B x K``.
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    y : Tensor, optional
        ``B`` labels; None: the model's predictions.
    eps : float
        L-infinity radius in [0, 1].
    alpha : float, optional
        The step, in (0, 1]; default ``1.25 * eps`` (the paper's choice).
    generator : torch.Generator, optional
        Draws the start; default torch's global RNG (which ``train.fit`` seeds).

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1] within ``eps`` of ``x``, on the device and in the dtype of ``x``.
    """
    eps = check_eps(eps)
    alpha = min(1.25 * eps, 1.0) if alpha is None else float(check_range(alpha, "alpha", 0.0, 1.0, low_inclusive=False))
    if alpha == 0:
        alpha = 1e-3
    check_images(x, "x", min_batch=1)
    return attacks.pgd(model, x, y, eps=eps, alpha=alpha, steps=1, random_start=True, generator=generator)


def fast_adversarial_training(eps: float, alpha: float | None = None, ramp_steps: int = 0) -> Perturb:
    """A :func:`~lectures_lib.train.fit` ``perturb`` hook: train on :func:`fgsm_random_start` examples.

    Parameters
    ----------
    eps : float
        L-infinity radius in [0, 1] (0.3 on MNIST, 0.1 on Fashion-MNIST).
    alpha : float, optional
        FGSM's step as a multiple of the current radius; default 1.25 (Wong et al.).
    ramp_steps : int, default 0
        Grow the radius linearly from 0 to ``eps`` over the first ``ramp_steps`` batches (an epsilon schedule,
        as in Gowal et al. 2018; it keeps small-data MNIST training from collapsing). 0: ``eps`` from the start.

    Returns
    -------
    callable
        ``perturb(model, x, y) -> x_adv``, drawing its random starts from torch's global RNG (seeded by ``fit``).
        Its radius depends on how many batches it has seen: use a new hook for each training run.
    """
    eps = check_eps(eps)
    ratio = 1.25 if alpha is None else float(check_range(alpha, "alpha", 0.0, 4.0, low_inclusive=False))
    ramp_steps = check_range(ramp_steps, "ramp_steps", 0, integer=True)
    seen = [0]

    def perturb(model, x, y):
        seen[0] += 1
        e = eps * min(1.0, seen[0] / ramp_steps) if ramp_steps else eps
        return fgsm_random_start(model, x, y, eps=e, alpha=min(ratio * e, 1.0) if e > 0 else None)

    return perturb


def pgd_training(eps: float, alpha: float, steps: int, ramp_steps: int = 0) -> Perturb:
    """A :func:`~lectures_lib.train.fit` ``perturb`` hook: Madry et al.'s PGD adversarial training, the inner
    maximisation ``max_{|delta|_inf <= eps} L(theta, x + delta, y)`` by ``steps`` steps of PGD from a random start.

    Parameters
    ----------
    eps : float
        L-infinity radius in [0, 1] (Madry et al. on MNIST: 0.3).
    alpha : float
        PGD's step in (0, 1] (0.01), scaled with the radius while it ramps up.
    steps : int
        At least 1 (40).
    ramp_steps : int, default 0
        Grow the radius linearly from 0 to ``eps`` over the first ``ramp_steps`` batches (0: ``eps`` from the start).

    Returns
    -------
    callable
        ``perturb(model, x, y) -> x_adv``. Its radius depends on how many batches it has seen: use a new hook for
        each training run.
    """
    eps = check_eps(eps)
    alpha = float(check_range(alpha, "alpha", 0.0, 1.0, low_inclusive=False))
    steps = check_range(steps, "steps", 1, integer=True)
    ramp_steps = check_range(ramp_steps, "ramp_steps", 0, integer=True)
    seen = [0]

    def perturb(model, x, y):
        seen[0] += 1
        f = min(1.0, seen[0] / ramp_steps) if ramp_steps else 1.0
        if f * eps == 0:
            return x
        return attacks.pgd(model, x, y, eps=f * eps, alpha=max(f * alpha, 1e-6), steps=steps)

    return perturb


def ensemble_adversarial_training(static_models: Sequence, eps: float, fraction: float = 0.5) -> Perturb:
    """A :func:`~lectures_lib.train.fit` ``perturb`` hook for ensemble adversarial training (Tramer et al., ICLR
    2018): each batch, a source is drawn among the model being trained and the fixed ``static_models``; FGSM on
    that source replaces the last ``fraction`` of the batch, the rest stays clean.

    Parameters
    ----------
    static_models : sequence of callables
        Pre-trained models (not trained here), each mapping images to logits; at least one.
    eps : float
        FGSM's radius in [0, 1].
    fraction : float, default 0.5
        The share of each batch replaced by adversarial examples, in (0, 1].

    Returns
    -------
    callable
        ``perturb(model, x, y) -> x``, its choices drawn from torch's global RNG (seeded by ``fit``).
    """
    if isinstance(static_models, (str, bytes)) or not isinstance(static_models, Sequence) or not static_models:
        raise TypeError("static_models must be a non-empty sequence of models (callables)")
    for m in static_models:
        check_model(m, "static_models")
    eps = check_eps(eps)
    fraction = float(check_range(fraction, "fraction", 0.0, 1.0, low_inclusive=False))

    def perturb(model, x, y):
        source = int(torch.randint(0, len(static_models) + 1, ()))
        source_model = model if source == 0 else static_models[source - 1]
        k = max(1, round(fraction * len(x)))
        x = x.clone()
        x[-k:] = attacks.fgsm(source_model, x[-k:], y[-k:], eps=eps)
        return x

    return perturb


class WongNet(nn.Module):
    """The small MNIST network of Wong, Rice and Kolter (2020) and Wong and Kolter (2018): conv 16@4x4 stride 2,
    conv 32@4x4 stride 2, fully connected 100, 10 logits (ReLU between); 166,406 parameters. Takes ``B x 1 x 28 x 28``
    in [0, 1] (no normalisation: the eps-ball is in pixels).

    Parameters
    ----------
    num_classes : int, default 10
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        check_range(num_classes, "num_classes", 2, integer=True)
        self.conv1, self.act1 = nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU()
        self.conv2, self.act2 = nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU()
        self.fc1, self.act3 = nn.Linear(32 * 7 * 7, 100), nn.ReLU()
        self.output = nn.Linear(100, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``B x K`` of images ``B x 1 x 28 x 28`` in [0, 1]."""
        x = self.act2(self.conv2(self.act1(self.conv1(x))))
        return self.output(self.act3(self.fc1(x.flatten(1))))


# One recipe per defence; the same in every run mode, so every mode shares one cached model per seed.
_BASE = {"optimizer": "adam", "lr": 2e-3, "batch_size": 64, "lr_schedule": "cosine"}
_EPS = {"mnist": 0.3, "fashion_mnist": 0.1}
_EPOCHS = {"mnist": 30, "fashion_mnist": 5}
DEFENCES = ("standard", "fast", "pgd", "ensemble", "bit_depth", "median")


def defence_recipe(defence: str = "fast", dataset: str = "mnist", seed: int = 0, epochs: int | None = None) -> dict:
    """The training recipe of :func:`defended_model`: arguments of :func:`~lectures_lib.train.fit` and the defence's.

    Parameters
    ----------
    defence : {"standard", "fast", "pgd", "ensemble", "bit_depth", "median"}, default "fast"
        ``DEFENCES``: plain training; fast FGSM adversarial training (step ``alpha * eps``); PGD adversarial
        training (7 steps of ``eps / 4``, fewer than Madry et al.'s 40 to fit a CPU); ensemble adversarial training
        (FGSM from the model or from the course's fixed LeNet-5 and softmax regression); training on
        bit-depth-reduced (1 bit) or median-filtered (3 x 3) images. Fast and PGD training grow the radius from 0
        over the first third of the batches (``ramp_steps``): without it, both collapse on 5,000 digits.
    dataset : {"mnist", "fashion_mnist"}, default "mnist"
    seed : int, default 0
    epochs : int, optional
        Default: 30 on MNIST's 5,000 digits, 5 on Fashion-MNIST's 60,000 (the fast run mode asks for fewer).

    Returns
    -------
    dict
        ``{"defence", "dataset", "seed", "eps", "epochs", "ramp_steps", "model", ...fit arguments}``; fast training
        grows eps over ``ramp_steps`` batches (a third of the run).
    """
    check_choice(defence, "defence", DEFENCES)
    check_choice(dataset, "dataset", ("mnist", "fashion_mnist"))
    check_range(seed, "seed", 0, integer=True)
    epochs = _EPOCHS[dataset] if epochs is None else check_range(epochs, "epochs", 1, integer=True)
    n_train = 5000 if dataset == "mnist" else 60000
    ramp = epochs * math.ceil(n_train / _BASE["batch_size"]) // 3
    return dict(_BASE, defence=defence, dataset=dataset, seed=seed, eps=_EPS[dataset], epochs=epochs,
                ramp_steps=ramp, alpha=1.0, model="wong_net", version=1)


def _defence_hook(recipe: dict) -> Perturb | None:
    eps, defence = recipe["eps"], recipe["defence"]
    if defence == "fast":
        return fast_adversarial_training(eps, recipe["alpha"], recipe["ramp_steps"])
    if defence == "pgd":
        return pgd_training(eps, eps / 4, 7, recipe["ramp_steps"])
    if defence == "ensemble":
        from .models import mnist_model
        statics = [mnist_model(name, recipe["dataset"], progress=False) for name in ("lenet5", "softmax_regression")]
        return ensemble_adversarial_training(statics, eps)
    if defence == "bit_depth":
        return lambda model, x, y: bit_depth(x, 1)
    if defence == "median":
        return lambda model, x, y: median_filter(x, 3)
    return None


def defended_model(defence: str = "fast", dataset: str = "mnist", seed: int = 0, epochs: int | None = None,
                   progress: bool = True) -> nn.Module:
    """A :class:`WongNet` trained with ``defence`` on MNIST (the 5,000 offline digits, or all 60,000 online) or on
    Fashion-MNIST (60,000), from the checkpoint cache (key: :func:`defence_recipe` and the data's checksums).

    Parameters
    ----------
    defence : str, default "fast"
        One of ``DEFENCES`` (see :func:`defence_recipe`).
    dataset : {"mnist", "fashion_mnist"}, default "mnist"
    seed : int, default 0
        Seeds the initial weights and every draw of training.
    epochs : int, optional
        See :func:`defence_recipe`.
    progress : bool, default True
        Show the training's progress bar (only when the model is not cached yet).

    Returns
    -------
    nn.Module
        In eval mode, with ``.history`` (per epoch, as ``fit`` returns), ``.test_accuracy`` (clean top-1, tested once
        after training), ``.train_seconds`` (the training time when it was trained), ``.recipe`` and ``.data_source``.
    """
    from . import cache, data, train

    recipe = defence_recipe(defence, dataset, seed, epochs)
    check_flag(progress, "progress")
    loader = data.mnist if dataset == "mnist" else data.fashion_mnist
    train_data, test_data = loader("train"), loader("test")
    key = dict(recipe, train_data=train_data.checksum(), test_data=test_data.checksum())

    def build() -> nn.Module:
        with seeded(seed):
            return WongNet()

    def fit(model: nn.Module) -> dict:
        hook = _defence_hook(recipe)
        history = train.fit(model, train_data, None, epochs=recipe["epochs"], lr=recipe["lr"],   # test once, at the end
                            batch_size=recipe["batch_size"], optimizer=recipe["optimizer"],
                            lr_schedule=recipe["lr_schedule"], perturb=hook, seed=seed, progress=progress)
        return {"history": history, "train_seconds": sum(h["seconds"] for h in history),
                "test_accuracy": train.evaluate(model, test_data, batch_size=1024)["top1"]}

    model, meta = cache.cached_model(f"l09-{dataset}-{defence}", key, build, fit)
    model.history, model.train_seconds, model.recipe = meta["history"], meta["train_seconds"], recipe
    model.test_accuracy = meta.get("test_accuracy", meta["history"][-1].get("test_acc"))
    model.data_source = {"train": train_data.source, "test": test_data.source}
    return model.eval()


# --------------------------------------------------------------------------- input transforms

def bit_depth(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Colour-depth reduction (Xu, Evans and Qi, NDSS 2018, "feature squeezing"): ``round(x * (2^b - 1)) / (2^b - 1)``,
    rounding halves to even (as ART's ``FeatureSqueezing`` with ``np.rint``).

    Parameters
    ----------
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    bits : int
        In [1, 64]; 1 bit leaves black and white.

    Returns
    -------
    Tensor
        Of the shape, device and dtype of ``x``, with ``2^bits`` levels.
    """
    check_images(x, "x")
    bits = check_range(bits, "bits", 1, 64, integer=True)
    levels = 2 ** bits - 1
    return torch.round(x * levels) / levels


def median_filter(x: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Each pixel replaced by the median of its ``k x k`` neighbourhood, per channel (Xu et al. 2018), the border
    mirrored without repeating the edge (SciPy's ``mode="mirror"``).

    Parameters
    ----------
    x : Tensor
        ``B x C x H x W`` images in [0, 1], ``H, W > k // 2``.
    k : int, default 3
        The window's side, odd, >= 1.

    Returns
    -------
    Tensor
        Of the shape, device and dtype of ``x``.
    """
    check_images(x, "x")
    k = check_range(k, "k", 1, integer=True)
    if k % 2 == 0:
        raise ValueError(f"k must be odd (a window centred on its pixel), got {k}")
    r = k // 2
    if r >= min(x.shape[-2:]):
        raise ValueError(f"k must be smaller than twice the image's side, got {k} for {tuple(x.shape[-2:])}")
    if r == 0:
        return x.clone()
    b, c, h, w = x.shape
    padded = F.pad(x.reshape(b * c, 1, h, w), (r, r, r, r), mode="reflect")
    windows = F.unfold(padded, k)                        # (B*C) x k*k x (H*W)
    return windows.median(dim=1).values.reshape(b, c, h, w)


def jpeg(x: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """JPEG compression and decompression (Dziugaite et al. 2016; Guo et al., ICLR 2018), image by image through
    libjpeg (``torchvision.io``), after rounding to 8 bits. Not differentiable: see :func:`with_transform`.

    Parameters
    ----------
    x : Tensor
        ``B x C x H x W`` images in [0, 1], ``C`` 1 or 3.
    quality : int, default 75
        In [1, 100].

    Returns
    -------
    Tensor
        Of the shape, device and dtype of ``x``, in [0, 1] (no gradient).
    """
    from torchvision.io import decode_jpeg, encode_jpeg

    check_images(x, "x")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"x must have 1 or 3 channels for JPEG, got {x.shape[1]}")
    quality = check_range(quality, "quality", 1, 100, integer=True)
    as_bytes = (x.detach() * 255).round().clamp(0, 255).to("cpu", torch.uint8)
    with warnings.catch_warnings():   # torchvision 0.29 announces a move of its codecs to torchcodec
        warnings.simplefilter("ignore", DeprecationWarning)
        out = torch.stack([decode_jpeg(encode_jpeg(img, quality=quality)) for img in as_bytes])
    return (out.to(x.dtype) / 255).to(x.device)


class BPDA(torch.autograd.Function):
    """Backward pass differentiable approximation (Athalye, Carlini and Wagner, ICML 2018): the forward pass applies
    a transform, the backward pass treats it as the identity, ``d t(x) / dx ~ I``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return transform(x.detach())

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        return grad_output, None


def bpda(x: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``transform(x)`` whose gradient is the identity's (:class:`BPDA`).

    Parameters
    ----------
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    transform : callable
        Images -> images of the same shape (e.g. :func:`jpeg`, ``lambda x: bit_depth(x, 1)``).

    Returns
    -------
    Tensor
        ``transform(x)``; backpropagating through it hands the incoming gradient to ``x`` unchanged.
    """
    check_images(x, "x")
    if not callable(transform):
        raise TypeError(f"transform must be a function images -> images, got {type(transform).__name__}")
    return BPDA.apply(x, transform)


class Transformed(nn.Module):
    """``model(transform(x))``, averaged over ``eot_samples`` draws of a random transform (see :func:`with_transform`)."""

    def __init__(self, model, transform: Callable[[torch.Tensor], torch.Tensor], bpda: bool = False,
                 eot_samples: int = 1):
        super().__init__()
        self.model, self.transform, self.bpda, self.eot_samples = model, transform, bpda, eot_samples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``B x K``: the mean over ``eot_samples`` of ``model(transform(x))``."""
        total = 0.0
        for _ in range(self.eot_samples):
            if self.bpda:
                z = BPDA.apply(x, self.transform)
            else:
                z = self.transform(x)
                if x.requires_grad and not z.requires_grad:
                    z = z + 0.0 * x          # no gradient through the transform: the attacker sees zeros
            total = total + run_model(self.model, z)
        return total / self.eot_samples


def with_transform(model, transform: Callable[[torch.Tensor], torch.Tensor], *, bpda: bool = False,
                   eot_samples: int = 1) -> Transformed:
    """A model that transforms its input first: the input-transformation defence.

    Attacking it with ``bpda=False`` differentiates the transform as it is: zero gradient for rounding and
    JPEG (gradient masking: gradient attacks stall and the defence *looks* robust). ``bpda=True`` replaces the
    transform's gradient by the identity's (Athalye et al. 2018); ``eot_samples > 1`` averages the logits over that
    many draws of a random transform, so an attacker follows the expected gradient (expectation over
    transformation, Athalye et al. 2018).

    Parameters
    ----------
    model : callable
        Images -> logits.
    transform : callable
        ``B x C x H x W`` images in [0, 1] -> images of the same shape in [0, 1].
    bpda : bool, default False
    eot_samples : int, default 1
        At least 1.

    Returns
    -------
    Transformed
        An ``nn.Module`` mapping images to logits (the transform applied in its forward pass).
    """
    check_model(model)
    if not callable(transform):
        raise TypeError(f"transform must be a function images -> images, got {type(transform).__name__}")
    check_flag(bpda, "bpda")
    eot_samples = check_range(eot_samples, "eot_samples", 1, integer=True)
    return Transformed(model, transform, bpda, eot_samples)


# --------------------------------------------------------------------------- detection

class Detector(nn.Module):
    """A SafetyNet-style detector (Lu, Issaranon and Forsyth, ICCV 2017): a small classifier of a late layer's ReLU
    codes, quantised to ``levels`` levels (as SafetyNet quantises them; the gradient passes the quantiser as the
    identity), that says clean (logit < threshold) or adversarial. SafetyNet uses an RBF-SVM; here a one-hidden-layer
    network, so an attacker can differentiate it (:func:`evade_detector`).

    Parameters
    ----------
    model : nn.Module
        The classifier being protected (not trained here).
    layer : str
        The ``named_modules`` name of the late layer whose output is read (e.g. ``"act3"`` of :class:`WongNet`).
    hidden : int, default 64
        Hidden units of the detector.
    levels : int or None, default 4
        Quantise each code to ``levels`` levels of its training range; None: no quantisation.
    """

    def __init__(self, model: nn.Module, layer: str, hidden: int = 64, levels: int | None = 4):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module (its layer is hooked), got {type(model).__name__}")
        get_module(model, layer)
        check_range(hidden, "hidden", 1, integer=True)
        if levels is not None:
            check_range(levels, "levels", 2, integer=True)
        self.model, self.layer, self.hidden, self.levels = [model], layer, hidden, levels  # list: not a submodule
        self.net: nn.Module | None = None
        self.register_buffer("scale", torch.ones(1))
        self.threshold = 0.0

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's outputs for images ``x``, flattened (``B x D``), in the graph (differentiable in ``x``)."""
        outputs, _ = layer_outputs(self.model[0], x, [self.layer], keep_graph=True)
        z = outputs[self.layer].flatten(1)
        if self.levels is not None:
            q = (z / self.scale).clamp(0, 1)
            q = q + ((q * (self.levels - 1)).round() / (self.levels - 1) - q).detach()   # straight-through
            z = q
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The detector's logit ``B`` (higher: more likely adversarial)."""
        if self.net is None:
            raise ValueError("the detector is not trained yet: call fit(x_clean, x_adv) first")
        check_images(x, "x", min_batch=1)
        return self.net(self.codes(x)).squeeze(1)

    def fit(self, x_clean: torch.Tensor, x_adv: torch.Tensor, *, epochs: int = 30, lr: float = 3e-3,
            false_positive_rate: float = 0.05, seed: int = 0) -> Detector:
        """Train on clean (label 0) versus adversarial (label 1) images, then set :attr:`threshold` so that a
        ``false_positive_rate`` share of the *training* clean images is flagged (measure it on new images).

        Parameters
        ----------
        x_clean, x_adv : Tensor
            ``N x C x H x W`` and ``M x C x H x W`` images in [0, 1].
        epochs : int, default 30
            Full-batch Adam steps... per epoch one pass in batches of 256.
        lr : float, default 3e-3
        false_positive_rate : float, default 0.05
            In (0, 1).
        seed : int, default 0
            Seeds the detector's weights and shuffling.

        Returns
        -------
        Detector
            ``self``, trained, in eval mode.
        """
        check_images(x_clean, "x_clean", min_batch=2)
        check_images(x_adv, "x_adv", min_batch=2)
        check_range(epochs, "epochs", 1, integer=True)
        check_range(lr, "lr", 0.0, low_inclusive=False)
        fpr = float(check_range(false_positive_rate, "false_positive_rate", 0.0, 1.0, low_inclusive=False,
                                high_inclusive=False))
        check_range(seed, "seed", 0, integer=True)
        model = self.model[0]
        with eval_mode(model), torch.no_grad():
            raw = torch.cat([layer_outputs(model, xb, [self.layer])[0][self.layer].flatten(1)
                             for xb, _ in batches(torch.cat([x_clean, x_adv]), 512)])
        self.scale = raw.max(dim=0).values.clamp(min=1e-6).to(raw.dtype)
        labels = torch.cat([torch.zeros(len(x_clean)), torch.ones(len(x_adv))]).to(raw.device, raw.dtype)
        with seeded(seed):
            self.net = nn.Sequential(nn.Linear(raw.shape[1], self.hidden), nn.ReLU(),
                                     nn.Linear(self.hidden, 1)).to(raw.device, raw.dtype)
        codes = raw / self.scale
        if self.levels is not None:
            codes = (codes.clamp(0, 1) * (self.levels - 1)).round() / (self.levels - 1)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            for idx in torch.randperm(len(codes), generator=gen).split(256):
                loss = F.binary_cross_entropy_with_logits(self.net(codes[idx]).squeeze(1), labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net.eval()
        with torch.no_grad():
            clean_scores = self.net(codes[: len(x_clean)]).squeeze(1)
        self.threshold = float(torch.quantile(clean_scores.double().cpu(), 1 - fpr))
        return self.eval()

    @torch.no_grad()
    def detect(self, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """``B`` bools: whether each image is flagged adversarial (its logit above :attr:`threshold`).

        Parameters
        ----------
        x : Tensor
            ``B x C x H x W`` images in [0, 1].
        batch_size : int, default 512

        Returns
        -------
        Tensor
            ``B`` bool, on the device of ``x``.
        """
        check_images(x, "x", min_batch=1)
        check_range(batch_size, "batch_size", 1, integer=True)
        with eval_mode(self.model[0]):
            return torch.cat([self(xb) > self.threshold for xb, _ in batches(x, batch_size)]).to(x.device)


def evade_detector(model, detector: Detector, x: torch.Tensor, y, *, eps: float, alpha: float, steps: int,
                   weight: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """PGD that fools the classifier *and* the detector (Carlini and Wagner, AISec 2017): it ascends

        L(x') = CE(model(x'), y) - weight * softplus(detector(x'))

    (the classifier's loss, minus the detector's loss of calling the image clean).

    Parameters
    ----------
    model : callable
        The protected classifier: images -> logits ``B x K``.
    detector : Detector
        Trained (:meth:`Detector.fit`).
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    y : Tensor
        ``B`` true labels.
    eps, alpha : float
        PGD's radius and step, in [0, 1] and (0, 1].
    steps : int
        At least 1.
    weight : float, default 1.0
        How much evading the detector counts, >= 0 (0: plain PGD).
    generator : torch.Generator, optional
        Draws PGD's random start.

    Returns
    -------
    Tensor
        ``B x C x H x W`` in [0, 1] within ``eps`` of ``x``.
    """
    check_model(model)
    if not isinstance(detector, Detector):
        raise TypeError(f"detector must be a trained Detector, got {type(detector).__name__}")
    if detector.net is None:
        raise ValueError("detector is not trained yet: call detector.fit(x_clean, x_adv) first")
    check_images(x, "x", min_batch=1)
    y = check_labels(y, len(x), None, "y").to(x.device)
    weight = float(check_range(weight, "weight", 0.0))

    def joint(z: torch.Tensor) -> torch.Tensor:
        return torch.cat([run_model(model, z), detector(z)[:, None]], dim=1)

    def loss(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out[:, :-1], labels, reduction="sum") - weight * F.softplus(out[:, -1]).sum()

    return attacks.pgd(joint, x, y, eps=eps, alpha=alpha, steps=steps, loss_fn=loss, generator=generator)


# --------------------------------------------------------------------------- dense associative memory

class DenseAssociativeMemory(nn.Module):
    """Krotov and Hopfield's dense associative memory as a classifier (arXiv:1701.00939, 2017): memories ``w_mu``
    compared with the image ``v = 2x - 1`` (in [-1, 1]), each match rectified and raised to the power ``n``,

        c_alpha = tanh(beta * sum_mu C_{alpha mu} relu(u_mu)^n / max_mu relu(u_mu)^n),   u_mu = w_mu . v / D,

    ``w_mu = tanh(W_mu)`` in [-1, 1]. The division by the largest term rescales each image by one positive number
    (Krotov and Hopfield's ``beta = 1 / T^n`` keeps the powers in range in the same way). The logits are
    ``scale * c``. Large ``n`` lets the best-matching memories dominate: the model approaches a template matcher.

    Parameters
    ----------
    power : float, default 3
        The rectified polynomial's power ``n``, >= 1.
    memories : int, default 100
        The number of memories (hidden units).
    in_features : int, default 784
    num_classes : int, default 10
    beta : float, default 1.0
        > 0.
    scale : float, default 10.0
        > 0: the logits' range.
    """

    def __init__(self, power: float = 3, memories: int = 100, in_features: int = 784, num_classes: int = 10,
                 beta: float = 1.0, scale: float = 10.0):
        super().__init__()
        self.power = float(check_range(power, "power", 1.0))
        check_range(memories, "memories", 1, integer=True)
        check_range(in_features, "in_features", 1, integer=True)
        check_range(num_classes, "num_classes", 2, integer=True)
        self.beta = float(check_range(beta, "beta", 0.0, low_inclusive=False))
        self.scale = float(check_range(scale, "scale", 0.0, low_inclusive=False))
        self.memory = nn.Parameter(torch.randn(memories, in_features) * 0.3)
        self.labels = nn.Parameter(torch.randn(num_classes, memories) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``B x K`` for images ``B x C x H x W`` in [0, 1] (``C * H * W = in_features``)."""
        v = 2 * x.flatten(1) - 1
        u = v @ torch.tanh(self.memory).T / v.shape[1]
        r = F.relu(u)
        h = (r / r.max(dim=1, keepdim=True).values.clamp(min=torch.finfo(r.dtype).tiny)) ** self.power
        return self.scale * torch.tanh(self.beta * h @ self.labels.T)


def dam_model(power: float = 3, memories: int = 100, seed: int = 0, progress: bool = True) -> nn.Module:
    """A :class:`DenseAssociativeMemory` trained on MNIST (the 5,000 offline digits, or all 60,000 online) with
    :func:`~lectures_lib.train.fit` (Adam, cross-entropy, 20 epochs), from the checkpoint cache.

    Parameters
    ----------
    power : float, default 3
        The power ``n``, >= 1.
    memories : int, default 100
    seed : int, default 0
    progress : bool, default True

    Returns
    -------
    nn.Module
        In eval mode, with ``.history``, ``.test_accuracy`` and ``.data_source``.
    """
    from . import cache, data, train

    power = float(check_range(power, "power", 1.0))
    check_range(memories, "memories", 1, integer=True)
    check_range(seed, "seed", 0, integer=True)
    check_flag(progress, "progress")
    recipe = {"power": power, "memories": memories, "seed": seed, "lr": 3e-3, "epochs": 20, "batch_size": 64,
              "version": 1}
    train_data, test_data = data.mnist("train"), data.mnist("test")
    key = dict(recipe, train_data=train_data.checksum(), test_data=test_data.checksum())

    def build() -> nn.Module:
        with seeded(seed):
            return DenseAssociativeMemory(power, memories)

    def fit(model: nn.Module) -> dict:
        history = train.fit(model, train_data, test_data, epochs=recipe["epochs"], lr=recipe["lr"],
                            batch_size=recipe["batch_size"], seed=seed, progress=progress)
        return {"history": history}

    model, meta = cache.cached_model(f"l09-dam-{power:g}", key, build, fit)
    model.history = meta["history"]
    model.test_accuracy = meta["history"][-1]["test_acc"]
    model.data_source = {"train": train_data.source, "test": test_data.source}
    return model.eval()


# --------------------------------------------------------------------------- evaluation

def margin_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Carlini and Wagner's margin, summed over the batch: ``sum_i max_{j != y_i} z_ij - z_{i y_i}``, a ``loss_fn``
    for :func:`lectures_lib.attacks.pgd` (positive once an image is misclassified). Unlike the cross-entropy it does
    not saturate when the model is very confident, so it finds adversarial examples that cross-entropy PGD misses on
    some adversarially trained models (Croce and Hein's DLR loss in AutoAttack is a scaled form of it).

    Parameters
    ----------
    logits : Tensor
        ``B x K``, ``K >= 2``.
    y : Tensor
        ``B`` int64 labels in ``[0, K)``.

    Returns
    -------
    Tensor
        A scalar.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits must be B x K with K >= 2, got {getattr(logits, 'shape', type(logits).__name__)}")
    y = check_labels(y, logits.shape[0], logits.shape[1], "y").to(logits.device)
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf")).max(dim=1).values
    return (other - true).sum()


class RobustAccuracy(NamedTuple):
    """What :func:`robust_accuracy` measured."""
    accuracy: float                 # worst case over the attacks: correct on the clean image and under every attack
    per_attack: dict[str, float]    # accuracy under each attack alone
    clean: float                    # clean accuracy
    correct: torch.Tensor           # N bool: the worst case, per image
    n: int


def robust_accuracy(model, data, attacks: Mapping[str, Callable], *, batch_size: int = 256,
                    progress: bool = False) -> RobustAccuracy:
    """Robust accuracy as the worst case over a list of attacks, per image: an image counts only if the model is right
    on it *and* on every attack's version of it (Carlini et al. 2019, *On evaluating adversarial robustness*).

    Parameters
    ----------
    model : callable
        Images -> logits.
    data : Dataset of ``(image, label)`` or pair ``(x, y)``
        At least one labelled item.
    attacks : mapping of str to callable
        ``{name: attack(model, x, y) -> x_adv}`` (at least one).
    batch_size : int, default 256
    progress : bool, default False
        Show a progress bar counting batches.

    Returns
    -------
    RobustAccuracy
        ``(accuracy, per_attack, clean, correct, n)``.
    """
    check_model(model)
    if not isinstance(attacks, Mapping) or not attacks:
        raise TypeError("attacks must be a non-empty mapping {name: attack(model, x, y) -> x_adv}")
    for name, attack in attacks.items():
        if not callable(attack):
            raise TypeError(f"attacks[{name!r}] must be a function (model, x, y) -> x_adv, got {type(attack).__name__}")
    check_range(batch_size, "batch_size", 1, integer=True)
    check_flag(progress, "progress")
    n_items = count_items(data)
    if n_items == 0:
        raise ValueError("data must hold at least one item, got none")
    clean, per, worst = [], {name: [] for name in attacks}, []
    with progress_bar(math.ceil(n_items / batch_size), "robust accuracy", progress, "batch") as bar:
        for x, y in batches(data, batch_size):
            check_images(x, "data")
            if y is None:
                raise ValueError("data must carry labels: a Dataset of (image, label) or a pair (x, y)")
            y = check_labels(torch.as_tensor(y), len(x), None, "data's labels").to(x.device)
            with torch.no_grad():
                ok = run_model(model, x, "data").argmax(1).to(x.device) == y
            clean.append(ok)
            all_ok = ok.clone()
            for name, attack in attacks.items():
                x_adv = attack(model, x, y)
                if not isinstance(x_adv, torch.Tensor) or x_adv.shape != x.shape:
                    raise ValueError(f"attacks[{name!r}] must return images of the shape of its input")
                check_images(x_adv, f"the images attacks[{name!r}] returned")
                with torch.no_grad():
                    hit = run_model(model, x_adv, "data").argmax(1).to(x.device) == y
                per[name].append(hit)
                all_ok &= hit
            worst.append(all_ok)
            bar.update(1)
    correct = torch.cat(worst)
    return RobustAccuracy(correct.float().mean().item(), {k: torch.cat(v).float().mean().item() for k, v in per.items()},
                          torch.cat(clean).float().mean().item(), correct, len(correct))


class LogitProfile(NamedTuple):
    """What :func:`logit_profile` measured."""
    logits: torch.Tensor   # B x T x K: the logits at x + t * direction
    t: torch.Tensor        # T float64: the steps


@torch.no_grad()
def logit_profile(model, x: torch.Tensor, direction: torch.Tensor, t_values: Sequence[float]) -> LogitProfile:
    """The logits along a line ``x + t * direction`` (not clipped to [0, 1]: the function, not the image), the
    measurement behind Goodfellow et al.'s (2015) "linear explanation": for a piecewise-linear network they are
    nearly straight lines in ``t``.

    Parameters
    ----------
    model : callable
        Images -> logits.
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    direction : Tensor
        ``B x C x H x W`` (e.g. the sign of the loss gradient), finite.
    t_values : sequence of float
        At least 2 finite steps.

    Returns
    -------
    LogitProfile
        ``(logits B x T x K, t T)``, on the device of ``x``.
    """
    check_model(model)
    check_images(x, "x", min_batch=1)
    if not isinstance(direction, torch.Tensor) or direction.shape != x.shape:
        raise ValueError(f"direction must be a tensor of the shape of x {tuple(x.shape)}")
    if not torch.isfinite(direction).all():
        raise ValueError("direction must be finite")
    if isinstance(t_values, (str, bytes)) or not hasattr(t_values, "__len__"):
        raise TypeError("t_values must be a sequence of numbers")
    t = torch.tensor([float(check_range(float(v) if hasattr(v, "item") else v, "t_values")) for v in t_values],
                     dtype=torch.float64)
    if len(t) < 2:
        raise ValueError("t_values must hold at least 2 steps")
    d = direction.to(x.device, x.dtype)
    with eval_mode(model):
        out = torch.stack([run_model(model, x + float(s) * d) for s in t], dim=1)
    return LogitProfile(out.to(x.device), t)


def linearity_r2(profile: LogitProfile) -> torch.Tensor:
    """How straight each logit's curve of a :func:`logit_profile` is: R^2 of a least-squares line in ``t``
    (1: exactly linear).

    Parameters
    ----------
    profile : LogitProfile

    Returns
    -------
    Tensor
        ``B x K`` float64 in (-inf, 1] (1 where a logit is constant).
    """
    if not isinstance(profile, LogitProfile):
        raise TypeError(f"profile must be a LogitProfile, got {type(profile).__name__}")
    z = profile.logits.double().cpu()                         # B x T x K
    t = profile.t - profile.t.mean()
    zc = z - z.mean(dim=1, keepdim=True)
    slope = (t[None, :, None] * zc).sum(1) / (t ** 2).sum()
    resid = zc - slope[:, None, :] * t[None, :, None]
    ss_tot = (zc ** 2).sum(1)
    ss_res = (resid ** 2).sum(1)
    return torch.where(ss_tot > 0, 1 - ss_res / ss_tot.clamp(min=1e-300), torch.ones_like(ss_tot))
