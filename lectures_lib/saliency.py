"""Lesson 04: saliency maps. Which pixels did the network's decision depend on?

"White box" (gradients) and "black box" (masking) maps, how to score them, and a sanity check:

- :func:`gradient_saliency`: Simonyan, Vedaldi and Zisserman 2014, |d logit / d pixel|, max over channels.
- :func:`grad_cam`: Selvaraju et al. 2017, gradient-weighted channels of a convolutional layer.
- :func:`occlusion`: Zeiler and Fergus 2014, a sliding grey/black square and the class probability
  (:func:`occlusion_maps` precomputes it for several windows and strides: the lesson's widget).
- :func:`rise`: Petsiuk, Das and Saenko 2018, random low-resolution masks, probability-weighted average.
- :func:`deletion_auc` / :func:`insertion_auc` / :func:`causal_curve`: the causal metrics of the RISE paper.
- :func:`model_randomization_check`: Adebayo et al. 2018, does the map change when the weights do?

The pictures and the widget are in :mod:`lectures_lib.plotting.saliency`.

Conventions: every method reads ``method(model, x, target=None, *, options)``. Images ``x`` are
``B x C x H x W`` floats in [0, 1] (the model normalises inside); maps come back ``B x H x W`` on the
device and in the dtype of ``x``. ``target`` is ``None`` (the model's predicted class), an int (the
same class for every image) or ``B`` class indices. Gradient methods explain the class **logit**;
perturbation methods (occlusion, RISE, deletion/insertion) the softmax **probability**. ``model`` is an
``nn.Module`` (put in eval mode for the call, its own mode restored afterwards; ``x`` is moved to its
device and dtype) or any callable mapping images to ``B x K`` logits.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import seeded
from .plumbing import (
    batches,
    eval_mode,
    hooks,
    input_channels,
    input_gradient,
    model_device,
    progress_bar,
    resolve_target,
    run_model,
)
from .validation import (
    check_choice,
    check_classes,
    check_flag,
    check_images,
    check_logits,
    check_maps,
    check_model,
    check_range,
    get_module,
)

__all__ = [
    "OcclusionResult", "RandomizationCheck", "auc", "blur", "causal_curve", "deletion_auc", "grad_cam",
    "gradient_saliency", "insertion_auc", "model_randomization_check", "occlusion", "occlusion_batch_size",
    "occlusion_maps",
    "randomize_layers", "rank_correlation", "rise", "rise_grids", "rise_masks", "upsample_grids",
    "window_starts",
]


# --------------------------------------------------------------------------- shared checks

def _check_inputs(model, x: torch.Tensor, batch_size: int) -> None:
    check_model(model)
    check_images(x, "x", channels=input_channels(model), min_batch=1)
    check_range(batch_size, "batch_size", low=1, integer=True)


def _pick(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``out[b, target[b]]`` of ``B x K`` model outputs, after checking that the classes exist."""
    check_classes(target, check_logits(out).shape[1], "target")
    return out.gather(1, target.to(out.device)[:, None])[:, 0]


def _softmax(model, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``B x K`` on the device and in the dtype of ``images``."""
    return check_logits(run_model(model, images)).softmax(dim=1).to(images.device, images.dtype)


def _work_device(model, x: torch.Tensor) -> torch.device:
    """Where masks and accumulators live: an ``nn.Module``'s device, else the images'."""
    return model_device(model) if isinstance(model, nn.Module) else x.device


# --------------------------------------------------------------------------- white box: gradients

def gradient_saliency(model, x: torch.Tensor, target=None, *, batch_size: int = 64) -> torch.Tensor:
    """Vanilla gradient saliency (Simonyan, Vedaldi and Zisserman, ICLR 2014).

    ``M[b, i, j] = max_c | d logit_target(x_b) / d x_b[c, i, j] |``: how much a tiny change of each
    pixel changes the class score (the logit, before the softmax).

    Parameters
    ----------
    model : nn.Module or callable, images in [0, 1] -> ``B x K`` logits.
    x : ``B x C x H x W`` images in [0, 1], ``B >= 1``.
    target : None (predicted class), an int or ``B`` class indices.
    batch_size : images per forward/backward pass (default 64); the result does not depend on it.

    Returns
    -------
    ``B x H x W`` tensor >= 0, on the device and in the dtype of ``x``.
    """
    _check_inputs(model, x, batch_size)
    target = resolve_target(model, x, target, batch_size=batch_size)
    with eval_mode(model):  # images are independent in eval mode: the sum's gradient is each image's
        grad = input_gradient(model, x, lambda out, t: _pick(out, t).sum(), target, batch_size=batch_size)
    return grad.abs().amax(dim=1)


def grad_cam(model: nn.Module, x: torch.Tensor, target=None, *, layer: str, upsample: bool = True,
             batch_size: int = 64) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., ICCV 2017): where in a convolutional layer's map the class is.

    With ``A`` the layer's output (``K`` channels, ``h x w``) and ``y`` the target logit,
    ``alpha_k = mean_ij dy / dA_k[i, j]`` and ``L = ReLU(sum_k alpha_k A_k)``.

    Parameters
    ----------
    model : nn.Module, images in [0, 1] -> ``B x K`` logits.
    x : ``B x C x H x W`` images in [0, 1].
    target : None (predicted class), an int or ``B`` class indices.
    layer : a module name of ``model`` (e.g. ``"net._blocks.15"``) run exactly once per forward pass and
        returning ``B x K x h x w``.
    upsample : bilinearly upsample the map to ``H x W`` (default True).
    batch_size : images per forward/backward pass (default 64).

    Returns
    -------
    ``B x H x W`` (``B x h x w`` when ``upsample=False``) tensor >= 0, on the device and in the dtype of ``x``.
    """
    if isinstance(target, str):
        raise TypeError(f"target must be class indices, got the string {target!r}: the layer is keyword-only, "
                        "grad_cam(model, x, target, layer=...)")
    _check_inputs(model, x, batch_size)
    module = get_module(model, layer)
    check_flag(upsample, "upsample")
    target = resolve_target(model, x, target, batch_size=batch_size)
    acts, maps = [], []

    def keep(name, _module, _inputs, output):
        if not isinstance(output, torch.Tensor) or output.dim() != 4:
            raise ValueError(f"layer {name!r} must output a B x K x h x w tensor, got "
                             f"{type(output).__name__} {tuple(getattr(output, 'shape', ()))}")
        acts.append(output)
        return output.clone()  # later in-place ops (ReLU(inplace=True)) act on the copy, not on A

    with eval_mode(model), torch.enable_grad(), hooks({layer: module}, keep):
        for xb, tb in batches((x, target), batch_size):
            acts.clear()
            out = run_model(model, xb.detach().requires_grad_(True))  # a graph even for frozen weights
            if len(acts) != 1:
                raise ValueError(f"layer {layer!r} ran {len(acts)} times in one forward pass; "
                                 "pick a module that is used exactly once")
            (grad,) = torch.autograd.grad(_pick(out, tb).sum(), acts[0])
            alpha = grad.mean(dim=(2, 3), keepdim=True)                        # B x K x 1 x 1
            maps.append(F.relu((alpha * acts[0]).sum(dim=1)).detach())         # B x h x w
    cam = torch.cat(maps).to(x.device, x.dtype)
    if upsample:
        cam = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return cam


# --------------------------------------------------------------------------- black box: occlusion

class OcclusionResult(NamedTuple):
    """What :func:`occlusion` returns, all on the device and in the dtype of ``x``.

    ``saliency``: ``B x H x W`` probability drop ``p(x) - p(x occluded)`` averaged over the windows
    covering each pixel. ``probability``: ``B x nh x nw`` target probability with the occluder at each
    position (Zeiler and Fergus's map). ``clean``: ``B`` probabilities without occluder. ``starts``: the
    windows' top rows and left columns.
    """
    saliency: torch.Tensor
    probability: torch.Tensor
    clean: torch.Tensor
    starts: tuple[list[int], list[int]]


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Top/left coordinates of a sliding window: ``0, stride, 2 stride, ...`` until the image is
    covered; the last window may stick out of the image and is cut off there (as in Captum).

    Parameters
    ----------
    size : image height or width (>= 1). window : window side, ``1 <= window <= size``.
    stride : step between windows, ``1 <= stride <= window`` (so that every pixel is covered).

    Returns
    -------
    list of ``ceil((size - window) / stride) + 1`` ints.
    """
    check_range(size, "size", low=1, integer=True)
    check_range(window, "window", low=1, integer=True)
    if window > size:
        raise ValueError(f"window must fit in the image: window={window} > image size {size}")
    check_range(stride, "stride", low=1, integer=True)
    if stride > window:
        raise ValueError("stride must be <= window so that every pixel is covered, "
                         f"got stride={stride} > window={window}")
    return [i * stride for i in range(math.ceil((size - window) / stride) + 1)]


def occlusion_batch_size(model, x: torch.Tensor) -> int:
    """The default number of occluded images per forward pass: 8 on a CPU, where small batches are fastest
    (measured for EfficientNet-Lite0 on 2 cores: about 3 times faster per image than 64), 64 on an accelerator.

    Parameters
    ----------
    model : nn.Module or callable (its device decides; a plain callable uses the device of ``x``).
    x : Tensor, the images.

    Returns
    -------
    int, 8 or 64.
    """
    check_model(model)
    return 8 if _work_device(model, x).type == "cpu" else 64


def occlusion(model, x: torch.Tensor, target=None, *, window: int = 32, stride: int = 16,
              baseline: float = 0.0, batch_size: int | None = None, progress: bool = True) -> OcclusionResult:
    """Occlusion sensitivity (Zeiler and Fergus, ECCV 2014).

    Paint a ``window x window`` square of value ``baseline`` at every position ``stride`` apart and
    record the target class probability. One forward pass per position and image, batched, without
    gradients. Each pixel's saliency is the mean drop ``p(x) - p(x occluded)`` over the windows covering it.

    Parameters
    ----------
    model : nn.Module or callable, images in [0, 1] -> ``B x K`` logits.
    x : ``B x C x H x W`` images in [0, 1].
    target : None (predicted class), an int or ``B`` class indices.
    window : occluder side in pixels, ``1 <= window <= min(H, W)`` (default 32).
    stride : step between positions, ``1 <= stride <= window`` (default 16).
    baseline : the occluder's value in [0, 1] (default 0, black: the model sees images in [0, 1]).
    batch_size : occluded images per forward pass (default None: :func:`occlusion_batch_size`, 8 on a CPU,
        64 on an accelerator); the result does not depend on it. progress : show a progress bar.

    Returns
    -------
    :class:`OcclusionResult` ``(saliency B x H x W, probability B x nh x nw, clean B, starts)``.
    """
    check_model(model)
    batch_size = occlusion_batch_size(model, x) if batch_size is None and isinstance(x, torch.Tensor) else batch_size
    _check_inputs(model, x, batch_size)
    b, _, h, w = x.shape
    rows, cols = window_starts(h, window, stride), window_starts(w, window, stride)
    baseline = check_range(baseline, "baseline", low=0.0, high=1.0)
    # one job per (image, row, column): batches mix images, so the batch size never changes the result
    jobs = torch.cartesian_prod(torch.arange(b), torch.tensor(rows), torch.tensor(cols))
    probs = []
    with eval_mode(model), torch.no_grad(), progress_bar(len(jobs), "occlusion", progress) as bar:
        clean = torch.cat([_softmax(model, xb) for xb, _ in batches(x, batch_size)])
        target = clean.argmax(dim=1) if target is None else resolve_target(model, x, target)
        clean = _pick(clean, target)
        for job, _ in batches(jobs, batch_size):
            occluded = x.index_select(0, job[:, 0].to(x.device))    # a copy: x itself is never touched
            for k, (_, i, j) in enumerate(job.tolist()):
                occluded[k, :, i:i + window, j:j + window] = baseline
            probs.append(_pick(_softmax(model, occluded), target[job[:, 0]]))
            bar.update(len(job))
    probability = torch.cat(probs).view(b, len(rows), len(cols))
    drop, total, count = clean.view(b, 1, 1) - probability, x.new_zeros(b, h, w), x.new_zeros(h, w)
    for a, i in enumerate(rows):
        for c, j in enumerate(cols):
            total[:, i:i + window, j:j + window] += drop[:, a, c, None, None]
            count[i:i + window, j:j + window] += 1
    return OcclusionResult(total / count, probability, clean, (rows, cols))


def occlusion_maps(model, x: torch.Tensor, target=None, *, windows: Sequence[int] = (16, 32, 64),
                   strides: Sequence[int] = (8, 16, 32), baseline: float = 0.0, batch_size: int | None = None,
                   progress: bool = True) -> dict[tuple[int, int], OcclusionResult]:
    """:func:`occlusion` for every ``(window, stride)`` pair with ``stride <= window``, computed up front
    (the lesson's widget only redraws these). The target is resolved once, so every map explains the same class.

    Parameters
    ----------
    model, x, target, baseline, batch_size : as in :func:`occlusion`.
    windows, strides : non-empty sequences of window sides and strides (ints >= 1).
    progress : show a progress bar over the pairs.

    Returns
    -------
    ``{(window, stride): OcclusionResult}``, in the order of ``windows`` then ``strides``.
    """
    check_model(model)
    batch_size = occlusion_batch_size(model, x) if batch_size is None and isinstance(x, torch.Tensor) else batch_size
    _check_inputs(model, x, batch_size)
    for name, sizes in (("windows", windows), ("strides", strides)):
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
            raise ValueError(f"{name} must be a non-empty sequence of ints, got {sizes!r}")
        for s in sizes:
            check_range(s, name, low=1, integer=True)
    pairs = [(k, s) for k in windows for s in strides if s <= k]
    if not pairs:
        raise ValueError(f"no stride in strides={tuple(strides)} is <= a window in windows={tuple(windows)}")
    target = resolve_target(model, x, target, batch_size=batch_size)
    with progress_bar(len(pairs), "occlusion maps", progress) as bar:
        results = {}
        for k, s in pairs:
            results[k, s] = occlusion(model, x, target, window=k, stride=s, baseline=baseline,
                                      batch_size=batch_size, progress=False)
            bar.update(1)
    return results


# --------------------------------------------------------------------------- black box: RISE

def _check_size(size) -> tuple[int, int]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"size must be a pair (H, W) of ints, got {size!r}")
    return check_range(size[0], "size", low=1, integer=True), check_range(size[1], "size", low=1, integer=True)


def rise_grids(n_masks: int, *, cells: int = 7, p_keep: float = 0.5, seed: int = 0,
               size: tuple[int, int] = (224, 224)) -> tuple[torch.Tensor, torch.Tensor]:
    """The random part of RISE, cheap to keep (drawn from its own generator seeded with ``seed``).

    Parameters
    ----------
    n_masks : number of masks (>= 1). cells : grid side, ``1 <= cells <= min(size)`` (default 7).
    p_keep : probability of keeping a cell, in (0, 1] (default 0.5). seed : int >= 0 (default 0).
    size : the image size ``(H, W)`` (default (224, 224)).

    Returns
    -------
    ``(grids, shifts)``: ``n_masks x cells x cells`` float 0/1 grids and ``n_masks x 2`` int64 shifts in
    ``[0, cell size)`` per axis.
    """
    check_range(n_masks, "n_masks", low=1, integer=True)
    size = _check_size(size)
    check_range(cells, "cells", low=1, high=min(size), integer=True)
    check_range(p_keep, "p_keep", low=0.0, high=1.0, low_inclusive=False)
    check_range(seed, "seed", low=0, integer=True)
    gen = torch.Generator().manual_seed(seed)
    grids = (torch.rand(n_masks, cells, cells, generator=gen) < p_keep).float()
    cell_h, cell_w = math.ceil(size[0] / cells), math.ceil(size[1] / cells)
    shifts = torch.stack([torch.randint(0, cell_h, (n_masks,), generator=gen),
                          torch.randint(0, cell_w, (n_masks,), generator=gen)], dim=1)
    return grids, shifts


def upsample_grids(grids: torch.Tensor, shifts: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """RISE masks: each grid bilinearly upsampled to ``(cells + 1) x cell size`` and cropped to ``H x W``
    at its shift (the shift makes the cell borders fall anywhere).

    Parameters
    ----------
    grids : ``N x cells x cells`` floats; shifts : ``N x 2`` ints (from :func:`rise_grids`); size : ``(H, W)``.

    Returns
    -------
    ``N x H x W`` masks in [0, 1], in the dtype of ``grids``.
    """
    size = _check_size(size)
    if not isinstance(grids, torch.Tensor) or grids.dim() != 3 or grids.shape[1] != grids.shape[2] \
            or not grids.is_floating_point():
        raise ValueError(f"grids must be a float tensor N x cells x cells, got {getattr(grids, 'shape', grids)!r}")
    if not isinstance(shifts, torch.Tensor) or tuple(shifts.shape) != (len(grids), 2):
        got = getattr(shifts, "shape", shifts)
        raise ValueError(f"shifts must be a tensor of shape {(len(grids), 2)}, got {got!r}")
    cells = grids.shape[1]
    cell_h, cell_w = math.ceil(size[0] / cells), math.ceil(size[1] / cells)
    big = F.interpolate(grids[:, None], size=((cells + 1) * cell_h, (cells + 1) * cell_w),
                        mode="bilinear", align_corners=False)[:, 0].clamp_(0, 1)  # clamp: float rounding
    return torch.stack([big[k, dy:dy + size[0], dx:dx + size[1]] for k, (dy, dx) in enumerate(shifts.tolist())])


def rise_masks(n_masks: int, size: tuple[int, int] = (224, 224), *, cells: int = 7, p_keep: float = 0.5,
               seed: int = 0) -> torch.Tensor:
    """The first ``n_masks`` masks that :func:`rise` uses with the same options, for looking at a few
    (:func:`rise` itself never holds them all).

    Parameters
    ----------
    n_masks, size, cells, p_keep, seed : as in :func:`rise_grids`.

    Returns
    -------
    ``n_masks x H x W`` float32 masks in [0, 1], on the CPU.
    """
    return upsample_grids(*rise_grids(n_masks, cells=cells, p_keep=p_keep, seed=seed, size=size), size)


def rise(model, x: torch.Tensor, target=None, *, n_masks: int = 4000, cells: int = 7, p_keep: float = 0.5,
         seed: int = 0, all_classes: bool = False, batch_size: int = 64, progress: bool = True,
         control_variate: bool = False) -> torch.Tensor:
    """RISE: Randomized Input Sampling for Explanation (Petsiuk, Das and Saenko, BMVC 2018).

    ``S_c = sum_n p_c(x * m_n) m_n / (n_masks * p_keep)`` over random smooth masks ``m_n`` (see
    :func:`rise_masks`): the expected class probability when a pixel is kept. Masks are made
    ``batch_size`` at a time (never all at once) and shared by all images; same seed, same masks.

    Parameters
    ----------
    model : nn.Module or callable, images in [0, 1] -> ``B x K`` logits.
    x : ``B x C x H x W`` images in [0, 1].
    target : None (predicted class), an int or ``B`` class indices; must be None with ``all_classes``.
    n_masks : number of masks (default 4000, the paper's 4000-8000). cells : grid side (default 7).
    p_keep : probability of keeping a cell, in (0, 1] (default 0.5). seed : the masks' seed (default 0).
    all_classes : return the maps of every class at once, from the same forward passes (default False).
    batch_size : masks per forward pass (default 64); progress : show a progress bar.
    control_variate : (default False) estimate the same expectation with the mean probability
        ``pbar = sum_n p_c(x * m_n) / n_masks`` as a control variate,
        ``S_c = pbar + sum_n (p_c(x * m_n) - pbar) m_n / (n_masks * p_keep)``: unbiased like RISE's sum (the masks
        average ``p_keep``), without its noise term ``pbar (sum_n m_n / (n_masks p_keep) - 1)``, which dominates
        when the probability is high under every mask; several times fewer masks for the same noise.

    Returns
    -------
    ``B x H x W`` (``B x K x H x W`` with ``all_classes``) on the device and in the dtype of ``x``.
    """
    _check_inputs(model, x, batch_size)
    b, _, h, w = x.shape
    grids, shifts = rise_grids(n_masks, cells=cells, p_keep=p_keep, seed=seed, size=(h, w))
    if check_flag(all_classes, "all_classes") and target is not None:
        raise ValueError(f"target must be None with all_classes=True (every class is returned), got {target!r}")
    check_flag(control_variate, "control_variate")
    target = None if all_classes else resolve_target(model, x, target, batch_size=batch_size)
    dev, sal, p_sum = _work_device(model, x), None, None
    mask_sum = torch.zeros(h * w, device=dev, dtype=x.dtype)
    with eval_mode(model), torch.no_grad(), progress_bar(n_masks, "RISE", progress, "mask") as bar:
        for idx, _ in batches(torch.arange(n_masks), batch_size):
            masks = upsample_grids(grids[idx], shifts[idx], (h, w)).to(dev, x.dtype)   # n x H x W
            for i in range(b):
                p = _softmax(model, x[i].to(dev) * masks[:, None])                      # n x K
                if not all_classes:
                    p = _pick(p, target[i].expand(len(idx)))[:, None]                   # n x 1
                if sal is None:
                    sal = torch.zeros(b, p.shape[1], h * w, device=dev, dtype=x.dtype)
                    p_sum = torch.zeros(b, p.shape[1], 1, device=dev, dtype=x.dtype)
                sal[i].addmm_(p.T, masks.view(len(idx), h * w))                        # += p^T masks
                p_sum[i] += p.sum(dim=0)[:, None]
            mask_sum += masks.view(len(idx), h * w).sum(dim=0)
            bar.update(len(idx))
    if control_variate:                       # pbar + sum_n (p_n - pbar) m_n / (N p)
        p_mean = p_sum / n_masks
        sal = p_mean + (sal - p_mean * mask_sum) / (n_masks * p_keep)
    else:
        sal = sal / (n_masks * p_keep)
    sal = sal.view(b, -1, h, w).to(x.device)
    return sal if all_classes else sal[:, 0]


# --------------------------------------------------------------------------- causal metrics

def blur(x: torch.Tensor, *, kernel_size: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """The insertion metric's substrate: a Gaussian blur (kernel 11, sigma 5, as in the RISE paper).

    Parameters
    ----------
    x : ``B x C x H x W`` images in [0, 1]. kernel_size : odd int >= 1. sigma : standard deviation > 0.

    Returns
    -------
    ``B x C x H x W`` blurred images, on the device and in the dtype of ``x``.
    """
    from torchvision.transforms.functional import gaussian_blur

    check_images(x, "x")
    check_range(kernel_size, "kernel_size", low=1, integer=True)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    check_range(sigma, "sigma", low=0.0, low_inclusive=False)
    return gaussian_blur(x, [kernel_size, kernel_size], [float(sigma), float(sigma)])


def causal_curve(model, x: torch.Tensor, saliency: torch.Tensor, target=None, *, mode: str = "deletion",
                 step: int = 224, batch_size: int = 64, progress: bool = True) -> torch.Tensor:
    """Probability curves of the RISE paper's deletion and insertion games (Petsiuk et al. 2018).

    Pixels are taken in decreasing saliency order, ``step`` at a time (all channels of a pixel
    together). Deletion starts from the image and sets them to 0; insertion starts from a blurred
    copy (:func:`blur`) and puts the original pixels back.

    Parameters
    ----------
    model : nn.Module or callable, images in [0, 1] -> ``B x K`` logits.
    x : ``B x C x H x W`` images in [0, 1]. saliency : finite ``B x H x W`` maps (any scale).
    target : None (predicted class), an int or ``B`` class indices.
    mode : ``"deletion"`` (default) or ``"insertion"``.
    step : pixels changed per step, ``1 <= step <= H W`` (default 224, the paper's at 224 x 224).
    batch_size : images per forward pass (default 64); progress : show a progress bar.

    Returns
    -------
    ``B x (n_steps + 1)`` target probabilities in [0, 1], ``n_steps = ceil(H W / step)``, the first
    before any change; on the device and in the dtype of ``x``.
    """
    _check_inputs(model, x, batch_size)
    saliency = check_maps(saliency, x).to(x.device)
    check_choice(mode, "mode", ("deletion", "insertion"))
    b, _, h, w = x.shape
    check_range(step, "step", low=1, high=h * w, integer=True)
    target = resolve_target(model, x, target, batch_size=batch_size)
    n_steps = math.ceil(h * w / step)
    order = saliency.reshape(b, -1).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(h * w, device=x.device).expand(b, -1))
    rank = rank.view(b, 1, h, w)
    start, finish = (x, torch.zeros_like(x)) if mode == "deletion" else (blur(x), x)
    jobs = torch.cartesian_prod(torch.arange(b), torch.arange(n_steps + 1)).to(x.device)  # (image, step)
    probs = []
    with eval_mode(model), torch.no_grad(), progress_bar(len(jobs), mode, progress) as bar:
        for job, _ in batches(jobs, batch_size):
            i, k = job[:, 0], job[:, 1]
            changed = rank[i] < (k * step).view(-1, 1, 1, 1)     # the first k*step pixels in order
            probs.append(_pick(_softmax(model, torch.where(changed, finish[i], start[i])), target[i]))
            bar.update(len(job))
    return torch.cat(probs).view(b, n_steps + 1)


def auc(curve: torch.Tensor) -> torch.Tensor:
    """Trapezoid area under curves sampled evenly on [0, 1].

    Parameters
    ----------
    curve : finite ``B x (n + 1)`` values, ``n >= 1`` (e.g. from :func:`causal_curve`).

    Returns
    -------
    ``B`` areas, on the device and in the dtype of ``curve``.
    """
    if not isinstance(curve, torch.Tensor) or curve.dim() != 2 or curve.shape[1] < 2 or not curve.is_floating_point():
        got = getattr(curve, "shape", curve)
        raise ValueError(f"curve must be a float tensor B x (n + 1) with n >= 1, got {got!r}")
    if not torch.isfinite(curve).all():
        raise ValueError("curve must be finite, got NaN or infinite values")
    return (curve.sum(dim=1) - curve[:, 0] / 2 - curve[:, -1] / 2) / (curve.shape[1] - 1)


def deletion_auc(model, x: torch.Tensor, saliency: torch.Tensor, target=None, *, step: int = 224,
                 batch_size: int = 64, progress: bool = True) -> torch.Tensor:
    """Deletion AUC (Petsiuk et al. 2018): area under the probability as the most salient pixels are blacked
    out first. Lower is better (the map found what the prediction needs).

    Parameters
    ----------
    model, x, saliency, target, step, batch_size, progress : as in :func:`causal_curve`.

    Returns
    -------
    ``B`` areas in [0, 1], on the device and in the dtype of ``x``.
    """
    return auc(causal_curve(model, x, saliency, target, mode="deletion", step=step, batch_size=batch_size,
                            progress=progress))


def insertion_auc(model, x: torch.Tensor, saliency: torch.Tensor, target=None, *, step: int = 224,
                  batch_size: int = 64, progress: bool = True) -> torch.Tensor:
    """Insertion AUC (Petsiuk et al. 2018): area under the probability as the most salient pixels are put
    back into a blurred image first (:func:`blur`). Higher is better.

    Parameters
    ----------
    model, x, saliency, target, step, batch_size, progress : as in :func:`causal_curve`.

    Returns
    -------
    ``B`` areas in [0, 1], on the device and in the dtype of ``x``.
    """
    return auc(causal_curve(model, x, saliency, target, mode="insertion", step=step, batch_size=batch_size,
                            progress=progress))


# --------------------------------------------------------------------------- sanity check

def _check_layers(model, layers) -> list[str]:
    layers = [layers] if isinstance(layers, str) else layers
    if not isinstance(layers, Sequence) or not layers:
        raise ValueError(f"layers must name at least one layer to randomise, got {layers!r}")
    for name in layers:
        get_module(model, name)
    return list(layers)


def randomize_layers(model: nn.Module, layers: Sequence[str], *, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose named layers (and everything inside them) get fresh random weights
    (each module's ``reset_parameters``; batch norms also forget their running statistics).

    Parameters
    ----------
    model : nn.Module (left untouched). layers : ``named_modules`` names (one name or a non-empty list).
    seed : the new weights are a function of it (default 0); the global RNG is left as it was.

    Returns
    -------
    the randomised copy (an ``nn.Module`` on the model's device, in its dtype).
    """
    layers = _check_layers(model, layers)
    check_range(seed, "seed", low=0, integer=True)
    model = copy.deepcopy(model)
    with seeded(seed):
        for name in layers:
            for sub in get_module(model, name).modules():
                if hasattr(sub, "reset_running_stats"):
                    sub.reset_running_stats()
                if hasattr(sub, "reset_parameters"):
                    sub.reset_parameters()
    return model


def _ranks(v: torch.Tensor) -> torch.Tensor:
    """Ranks of a 1-D tensor, ties sharing their average rank (as Spearman's rho needs)."""
    values, order = v.sort()
    _, inverse, counts = torch.unique_consecutive(values, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    ranks = torch.empty(len(v), dtype=torch.float64, device=v.device)
    ranks[order] = (ends - (counts.double() - 1) / 2)[inverse]
    return ranks


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of two batches of maps, per image.

    Parameters
    ----------
    a, b : finite float tensors of the same shape ``B x ...`` (e.g. ``B x H x W`` maps).

    Returns
    -------
    ``B`` correlations in [-1, 1] (0 where a map is constant: it ranks nothing), on the device and in
    the dtype of ``a``.
    """
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or t.dim() < 2 or not t.is_floating_point():
            raise ValueError(f"{name} must be a float tensor B x ..., got {getattr(t, 'shape', t)!r}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} must be finite, got NaN or infinite values")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    out = []
    for u, v in zip(a.reshape(len(a), -1), b.reshape(len(b), -1).to(a.device), strict=True):
        ru, rv = _ranks(u) - (len(u) + 1) / 2, _ranks(v) - (len(v) + 1) / 2
        den = (ru.square().sum() * rv.square().sum()).sqrt()
        out.append(float((ru * rv).sum() / den) if den > 0 else 0.0)
    return torch.tensor(out, device=a.device, dtype=a.dtype)


@dataclass
class RandomizationCheck:
    """What :func:`model_randomization_check` returns: ``layers`` randomised cumulatively, top first;
    ``correlation[method]`` is ``len(layers) x B`` Spearman correlations with the trained model's
    maps; ``maps[method]`` the ``(len(layers) + 1)`` map batches, the trained model's first."""
    layers: list[str]
    correlation: dict[str, torch.Tensor]
    maps: dict[str, list[torch.Tensor]]


def model_randomization_check(model: nn.Module, x: torch.Tensor, target=None, *,
                              methods: Mapping[str, Callable[..., torch.Tensor]], layers: Sequence[str],
                              seed: int = 0) -> RandomizationCheck:
    """Sanity check by cascading model randomisation (Adebayo et al., NeurIPS 2018).

    Randomise ``layers[0]``, then ``layers[:2]``, ... (top of the network first) and compare each
    method's maps with the trained model's by rank correlation. A map that explains the model must
    change when the weights it explains are destroyed: a correlation near 1 fails the check.

    Parameters
    ----------
    model : nn.Module (left untouched: the randomised models are copies).
    x : ``B x C x H x W`` images in [0, 1].
    target : None (the trained model's prediction) or class indices; it stays the same throughout.
    methods : ``{name: f(model, x, target) -> B x H x W}``, at least one.
    layers : ``named_modules`` names, top of the network first, at least one.
    seed : seed of the random weights (default 0).

    Returns
    -------
    :class:`RandomizationCheck`.
    """
    _check_inputs(model, x, 64)
    if not isinstance(methods, Mapping) or not methods:
        raise ValueError(f"methods must map names to saliency methods, at least one, got {methods!r}")
    for name, f in methods.items():
        check_model(f, f"methods[{name!r}]")
    layers = _check_layers(model, layers)
    check_range(seed, "seed", low=0, integer=True)
    target = resolve_target(model, x, target)
    maps = {m: [f(model, x, target)] for m, f in methods.items()}
    for k in range(1, len(layers) + 1):
        randomized = randomize_layers(model, layers[:k], seed=seed)
        for m, f in methods.items():
            maps[m].append(f(randomized, x, target))
    for m, ms in maps.items():
        for mk in ms:
            check_maps(mk, x, f"the maps of methods[{m!r}]")
    corr = {m: torch.stack([rank_correlation(ms[0], mk) for mk in ms[1:]]) for m, ms in maps.items()}
    return RandomizationCheck(layers, corr, maps)
