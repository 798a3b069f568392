"""Lesson 04: saliency maps. Which pixels did the network's decision depend on?

"White box" (gradients) and "black box" (masking) maps, how to score them, and a sanity check:

- :func:`gradient_saliency`: Simonyan, Vedaldi and Zisserman 2014, |d logit / d pixel|, max over channels.
- :func:`occlusion`: Zeiler and Fergus 2014, a sliding grey/black square and the class probability.
- :func:`rise`: Petsiuk, Das and Saenko 2018, random low-resolution masks, probability-weighted average.
- :func:`grad_cam`: Selvaraju et al. 2017, gradient-weighted channels of a convolutional layer.
- :func:`deletion_auc` / :func:`insertion_auc`: the causal metrics of the RISE paper.
- :func:`model_randomization_check`: Adebayo et al. 2018, does the map change when the weights do?
- :func:`overlay`, :func:`compare_maps`, :func:`occlusion_widget`: pictures and the lesson's widget.

Conventions: images ``x`` are ``B x C x H x W`` floats in [0, 1] (the model normalises inside);
maps are ``B x H x W``. ``target`` is ``None`` (the model's predicted class), an int (the same
class for every image) or a tensor of ``B`` class indices. Gradient methods explain the class
**logit**; perturbation methods (occlusion, RISE, deletion/insertion) the softmax **probability**.
Every function puts the model in eval mode for the call and restores its mode afterwards.
"""
from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .train import model_device, batches, eval_mode, logits as _logits
from .validation import check_choice, check_images, check_labels, check_range, get_module

# --------------------------------------------------------------------------- shared plumbing

def _targets(model: nn.Module, x: torch.Tensor, target, batch_size: int = 64) -> torch.Tensor:
    """``B`` class indices: the predicted classes when ``target`` is None, else ``target`` checked."""
    if target is None:
        return _logits(model, x, batch_size).argmax(dim=1)
    return check_labels(target, x.shape[0], None, name="target")


def _check_classes(target: torch.Tensor, num_classes: int) -> None:
    if target.numel() and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(f"target must hold class indices in [0, {num_classes}), "
                         f"got range [{int(target.min())}, {int(target.max())}]")


def _progress(total: int, desc: str, progress: bool):
    return tqdm(total=total, desc=desc, disable=not progress or total < 2, leave=False)


def _check_maps(saliency, x: torch.Tensor, name: str = "saliency") -> torch.Tensor:
    b, _, h, w = x.shape
    if not isinstance(saliency, torch.Tensor) or tuple(saliency.shape) != (b, h, w):
        shape = tuple(saliency.shape) if isinstance(saliency, torch.Tensor) else type(saliency).__name__
        raise ValueError(f"{name} must be a tensor of shape B x H x W = {(b, h, w)} matching x, got {shape}")
    return saliency


# --------------------------------------------------------------------------- white box: gradients

def gradient_saliency(model: nn.Module, x: torch.Tensor, target=None, batch_size: int = 64) -> torch.Tensor:
    """Vanilla gradient saliency (Simonyan, Vedaldi and Zisserman, ICLR 2014).

    ``M[b, i, j] = max_c | d logit_target(x_b) / d x_b[c, i, j] |``: how much a tiny change of each
    pixel changes the class score (the logit, before the softmax).

    x: ``B x C x H x W`` in [0, 1]; target: see the module docstring. Returns ``B x H x W`` >= 0.
    """
    check_images(x, "x")
    check_range(batch_size, "batch_size", low=1, integer=True)
    target = _targets(model, x, target, batch_size)
    dev, maps = model_device(model), []
    with eval_mode(model), torch.enable_grad():
        for xb, tb in batches((x, target), batch_size):
            xb = xb.to(dev).requires_grad_(True)
            out = model(xb)
            _check_classes(tb, out.shape[1])
            score = out.gather(1, tb.to(dev)[:, None]).sum()  # images are independent in eval mode
            (grad,) = torch.autograd.grad(score, xb)
            maps.append(grad.abs().amax(dim=1).cpu())
    return torch.cat(maps)


def grad_cam(model: nn.Module, x: torch.Tensor, layer: str, target=None, upsample: bool = True,
             batch_size: int = 64) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., ICCV 2017): where in a convolutional layer's map the class is.

    With ``A`` the layer's output (``K`` channels, ``h x w``) and ``y`` the target logit,
    ``alpha_k = mean_ij dy / dA_k[i, j]`` and ``L = ReLU(sum_k alpha_k A_k)``.

    layer: a module name of ``model`` (e.g. ``"net._blocks.15"``), called once per forward pass.
    Returns ``B x H x W`` (bilinearly upsampled to the image) or ``B x h x w`` when ``upsample=False``.
    """
    check_images(x, "x")
    module = get_module(model, layer)
    check_range(batch_size, "batch_size", low=1, integer=True)
    target = _targets(model, x, target, batch_size)
    dev, maps, acts = model_device(model), [], []

    def keep(_module, _inputs, output):
        if not isinstance(output, torch.Tensor) or output.dim() != 4:
            raise ValueError(f"layer {layer!r} must output a B x K x h x w tensor, got "
                             f"{type(output).__name__} {tuple(getattr(output, 'shape', ()))}")
        acts.append(output)
        return output.clone()  # later in-place ops (ReLU(inplace=True)) act on the copy, not on A

    handle = module.register_forward_hook(keep)
    try:
        with eval_mode(model), torch.enable_grad():
            for xb, tb in batches((x, target), batch_size):
                acts.clear()
                out = model(xb.to(dev))
                if len(acts) != 1:
                    raise ValueError(f"layer {layer!r} ran {len(acts)} times in one forward pass; "
                                     "pick a module that is used exactly once")
                _check_classes(tb, out.shape[1])
                (grad,) = torch.autograd.grad(out.gather(1, tb.to(dev)[:, None]).sum(), acts[0])
                alpha = grad.mean(dim=(2, 3), keepdim=True)                    # B x K x 1 x 1
                maps.append(F.relu((alpha * acts[0]).sum(dim=1)).detach().cpu())  # B x h x w
    finally:
        handle.remove()
    cam = torch.cat(maps)
    if upsample:
        cam = F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return cam


# --------------------------------------------------------------------------- black box: occlusion

class OcclusionResult(NamedTuple):
    """What :func:`occlusion` returns.

    ``probability``: ``B x nh x nw`` target probability with the occluder at each position (Zeiler
    and Fergus's map). ``saliency``: ``B x H x W`` probability drop ``p(x) - p(x occluded)``
    averaged over the windows covering each pixel. ``clean``: ``B`` probabilities without occluder.
    ``starts``: the window's top-left rows and columns.
    """
    probability: torch.Tensor
    saliency: torch.Tensor
    clean: torch.Tensor
    starts: tuple[list[int], list[int]]


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Top/left coordinates of a sliding window: ``0, stride, 2 stride, ...`` until the image is
    covered; the last window may stick out of the image and is cut off there (as in Captum)."""
    return [i * stride for i in range(math.ceil((size - window) / stride) + 1)]


def occlusion(model: nn.Module, x: torch.Tensor, target=None, window: int = 32, stride: int = 16,
              baseline: float = 0.0, batch_size: int = 64, progress: bool = True) -> OcclusionResult:
    """Occlusion sensitivity (Zeiler and Fergus, ECCV 2014).

    Paint a ``window x window`` square of value ``baseline`` (0 = black: the model sees images in
    [0, 1]) at every position ``stride`` apart and record the target class probability. One forward
    pass per position and image, batched ``batch_size`` at a time, under ``torch.no_grad()``.

    x: ``B x C x H x W`` in [0, 1]; ``1 <= stride <= window <= min(H, W)``. See :class:`OcclusionResult`.
    """
    check_images(x, "x")
    b, _, h, w = x.shape
    check_range(window, "window", low=1, integer=True)
    if window > min(h, w):
        raise ValueError(f"window must fit in the image: window={window} > image size {h} x {w}")
    check_range(stride, "stride", low=1, integer=True)
    if stride > window:
        raise ValueError(f"stride must be <= window so that every pixel is covered, got stride={stride} > window={window}")
    check_range(baseline, "baseline", low=0.0, high=1.0)
    check_range(batch_size, "batch_size", low=1, integer=True)
    target = None if target is None else check_labels(target, b, None, name="target")
    rows, cols = window_starts(h, window, stride), window_starts(w, window, stride)
    # one job per (image, row, column): batches mix images, so the batch size never changes the result
    jobs = torch.cartesian_prod(torch.arange(b), torch.tensor(rows), torch.tensor(cols))
    dev, probs = model_device(model), []
    with eval_mode(model), torch.no_grad(), _progress(len(jobs), "occlusion", progress) as bar:
        clean = torch.cat([model(xb.to(dev)).softmax(dim=1) for xb, _ in batches(x, batch_size)])
        target = clean.argmax(dim=1).cpu() if target is None else target
        _check_classes(target, clean.shape[1])
        clean = clean.gather(1, target.to(dev)[:, None])[:, 0].cpu()
        for job, _ in batches(jobs, batch_size):
            occluded = x[job[:, 0]].clone()
            for k, (_, i, j) in enumerate(job.tolist()):
                occluded[k, :, i:i + window, j:j + window] = baseline
            p = model(occluded.to(dev)).softmax(dim=1)
            probs.append(p.gather(1, target[job[:, 0]].to(dev)[:, None])[:, 0].cpu())
            bar.update(len(job))
    probability = torch.cat(probs).view(b, len(rows), len(cols))
    drop, total, count = clean.view(b, 1, 1) - probability, x.new_zeros(b, h, w), x.new_zeros(h, w)
    for a, i in enumerate(rows):
        for c, j in enumerate(cols):
            total[:, i:i + window, j:j + window] += drop[:, a, c, None, None]
            count[i:i + window, j:j + window] += 1
    return OcclusionResult(probability, total / count, clean, (rows, cols))


# --------------------------------------------------------------------------- black box: RISE

def rise_grids(n_masks: int, cells: int = 7, p_keep: float = 0.5, seed: int = 0,
               size: tuple[int, int] = (224, 224)) -> tuple[torch.Tensor, torch.Tensor]:
    """The random part of RISE, cheap to keep: ``n_masks x cells x cells`` binary grids (each cell
    kept with probability ``p_keep``) and ``n_masks x 2`` shifts in ``[0, cell size)`` per axis."""
    check_range(n_masks, "n_masks", low=1, integer=True)
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
    """RISE masks ``N x H x W`` in [0, 1]: each grid bilinearly upsampled to ``(cells + 1) x cell size``
    and cropped to ``H x W`` at its shift (the shift makes the cell borders fall anywhere)."""
    n, cells, _ = grids.shape
    cell_h, cell_w = math.ceil(size[0] / cells), math.ceil(size[1] / cells)
    big = F.interpolate(grids[:, None], size=((cells + 1) * cell_h, (cells + 1) * cell_w),
                        mode="bilinear", align_corners=False)[:, 0].clamp_(0, 1)  # clamp: float rounding
    return torch.stack([big[k, dy:dy + size[0], dx:dx + size[1]] for k, (dy, dx) in enumerate(shifts.tolist())])


def rise_masks(n_masks: int, size: tuple[int, int] = (224, 224), cells: int = 7, p_keep: float = 0.5,
               seed: int = 0) -> torch.Tensor:
    """The first ``n_masks`` masks (``n_masks x H x W``) that :func:`rise` uses with the same seed.
    For looking at a few masks: :func:`rise` itself never holds them all."""
    return upsample_grids(*rise_grids(n_masks, cells, p_keep, seed, size), size)


def rise(model: nn.Module, x: torch.Tensor, n_masks: int = 4000, cells: int = 7, p_keep: float = 0.5,
         batch_size: int = 64, seed: int = 0, target=None, progress: bool = True) -> torch.Tensor:
    """RISE: Randomized Input Sampling for Explanation (Petsiuk, Das and Saenko, BMVC 2018).

    ``S_c = sum_n p_c(x * m_n) m_n / (n_masks * p_keep)`` over random smooth masks ``m_n`` (see
    :func:`rise_masks`): the expected class probability when a pixel is kept. Masks are made
    ``batch_size`` at a time (never all at once) and shared by all images; same seed, same masks.

    x: ``B x C x H x W`` in [0, 1]. Returns ``B x K x H x W`` (every class at once) when
    ``target`` is None, else ``B x H x W`` for the given class of each image.
    """
    check_images(x, "x")
    b, _, h, w = x.shape
    check_range(batch_size, "batch_size", low=1, integer=True)
    grids, shifts = rise_grids(n_masks, cells, p_keep, seed, (h, w))
    target = None if target is None else check_labels(target, b, None, name="target")
    dev, sal = model_device(model), None
    with eval_mode(model), torch.no_grad(), _progress(n_masks, "RISE", progress) as bar:
        for idx, _ in batches(torch.arange(n_masks), batch_size):
            masks = upsample_grids(grids[idx], shifts[idx], (h, w)).to(dev)      # n x H x W
            flat = masks.view(len(idx), h * w)
            for i in range(b):
                p = model(x[i].to(dev) * masks[:, None]).softmax(dim=1)             # n x K
                if sal is None:
                    if target is not None:
                        _check_classes(target, p.shape[1])
                    sal = torch.zeros(b, 1 if target is not None else p.shape[1], h * w, device=dev)
                if target is not None:
                    p = p[:, int(target[i]):int(target[i]) + 1]
                sal[i].addmm_(p.T, flat)                                               # += p^T masks
            bar.update(len(idx))
    sal = (sal / (n_masks * p_keep)).view(b, -1, h, w).cpu()
    return sal[:, 0] if target is not None else sal


# --------------------------------------------------------------------------- causal metrics

def blur(x: torch.Tensor, kernel_size: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """The insertion metric's substrate: a Gaussian blur (kernel 11, sigma 5, as in the RISE paper)."""
    from torchvision.transforms.functional import gaussian_blur

    return gaussian_blur(x, [kernel_size, kernel_size], [sigma, sigma])


def causal_curve(model: nn.Module, x: torch.Tensor, saliency: torch.Tensor, target=None,
                 mode: str = "deletion", step: int = 224, batch_size: int = 64,
                 progress: bool = True) -> torch.Tensor:
    """Probability curves of the RISE paper's deletion and insertion games (Petsiuk et al. 2018).

    Pixels are taken in decreasing saliency order, ``step`` at a time (all channels of a pixel
    together). Deletion starts from the image and sets them to 0; insertion starts from a blurred
    copy (:func:`blur`) and puts the original pixels back. Returns ``B x (n_steps + 1)`` target
    probabilities, ``n_steps = ceil(H W / step)``, the first before any change.
    """
    check_images(x, "x")
    _check_maps(saliency, x)
    check_choice(mode, "mode", ("deletion", "insertion"))
    b, _, h, w = x.shape
    check_range(step, "step", low=1, high=h * w, integer=True)
    check_range(batch_size, "batch_size", low=1, integer=True)
    target = _targets(model, x, target, batch_size)
    n_steps = math.ceil(h * w / step)
    order = saliency.reshape(b, -1).float().argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(h * w).expand(b, -1)).view(b, 1, h, w)
    start, finish = (x, torch.zeros_like(x)) if mode == "deletion" else (blur(x), x)
    jobs = torch.cartesian_prod(torch.arange(b), torch.arange(n_steps + 1))  # (image, step)
    dev, probs = model_device(model), []
    with eval_mode(model), torch.no_grad(), _progress(len(jobs), mode, progress) as bar:
        for job, _ in batches(jobs, batch_size):
            i, k = job[:, 0], job[:, 1]
            changed = rank[i] < (k * step).view(-1, 1, 1, 1)     # the first k*step pixels in order
            images = torch.where(changed, finish[i], start[i])
            p = model(images.to(dev)).softmax(dim=1)
            _check_classes(target, p.shape[1])
            probs.append(p.gather(1, target[i].to(dev)[:, None])[:, 0].cpu())
            bar.update(len(job))
    return torch.cat(probs).view(b, n_steps + 1)


def auc(curve: torch.Tensor) -> torch.Tensor:
    """Trapezoid area under curves ``B x (n + 1)`` sampled evenly on [0, 1]. Returns ``B``."""
    return (curve.sum(dim=1) - curve[:, 0] / 2 - curve[:, -1] / 2) / (curve.shape[1] - 1)


def deletion_auc(model: nn.Module, x: torch.Tensor, saliency: torch.Tensor, target=None,
                 step: int = 224, batch_size: int = 64, progress: bool = True) -> torch.Tensor:
    """Deletion AUC (RISE paper): area under the probability as the most salient pixels are
    blacked out first. Lower is better (the map found what the prediction needs). Returns ``B``."""
    return auc(causal_curve(model, x, saliency, target, "deletion", step, batch_size, progress))


def insertion_auc(model: nn.Module, x: torch.Tensor, saliency: torch.Tensor, target=None,
                  step: int = 224, batch_size: int = 64, progress: bool = True) -> torch.Tensor:
    """Insertion AUC (RISE paper): area under the probability as the most salient pixels are
    put back into a blurred image first. Higher is better. Returns ``B``."""
    return auc(causal_curve(model, x, saliency, target, "insertion", step, batch_size, progress))


# --------------------------------------------------------------------------- sanity check

def randomize_layers(model: nn.Module, layers: Sequence[str], seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose named layers (and everything inside them) get fresh random weights
    (each module's ``reset_parameters``; batch norms also forget their running statistics)."""
    model = copy.deepcopy(model)
    torch.manual_seed(seed)
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
    ranks = torch.empty(len(v), dtype=torch.float64)
    ranks[order] = (ends - (counts.double() - 1) / 2)[inverse]
    return ranks


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of two batches of maps (``B x ...``), per image. Returns ``B``
    in [-1, 1]; 0 where a map is constant (it ranks nothing)."""
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    out = []
    for u, v in zip(a.reshape(len(a), -1), b.reshape(len(b), -1)):
        ru, rv = _ranks(u) - (len(u) + 1) / 2, _ranks(v) - (len(v) + 1) / 2
        den = (ru.square().sum() * rv.square().sum()).sqrt()
        out.append(float((ru * rv).sum() / den) if den > 0 else 0.0)
    return torch.tensor(out)


@dataclass
class RandomizationCheck:
    """What :func:`model_randomization_check` returns: ``layers`` randomised cumulatively, top first;
    ``correlation[method]`` is ``len(layers) x B`` Spearman correlations with the trained model's
    maps; ``maps[method]`` the ``(len(layers) + 1)`` map batches, the trained model's first."""
    layers: list[str]
    correlation: dict[str, torch.Tensor]
    maps: dict[str, list[torch.Tensor]]


def model_randomization_check(model: nn.Module, x: torch.Tensor,
                              methods: Mapping[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]],
                              layers: Sequence[str], target=None, seed: int = 0) -> RandomizationCheck:
    """Sanity check by cascading model randomisation (Adebayo et al., NeurIPS 2018).

    Randomise ``layers[0]``, then ``layers[:2]``, ... (top of the network first) and compare each
    method's maps with the trained model's by rank correlation. A map that explains the model must
    change when the weights it explains are destroyed: a correlation near 1 fails the check.

    methods: ``name -> f(model, x, target) -> B x H x W``. The target stays the trained model's
    prediction (or the given ``target``) throughout.
    """
    check_images(x, "x")
    if not methods:
        raise ValueError("methods must name at least one saliency method")
    if not layers:
        raise ValueError("layers must name at least one layer to randomise")
    for name in layers:
        get_module(model, name)
    target = _targets(model, x, target)
    maps = {m: [f(model, x, target)] for m, f in methods.items()}
    for k in range(1, len(layers) + 1):
        randomized = randomize_layers(model, layers[:k], seed)
        for m, f in methods.items():
            maps[m].append(f(randomized, x, target))
    corr = {m: torch.stack([rank_correlation(ms[0], mk) for mk in ms[1:]]) for m, ms in maps.items()}
    return RandomizationCheck(list(layers), corr, maps)


# --------------------------------------------------------------------------- pictures

def normalize_map(saliency: torch.Tensor) -> torch.Tensor:
    """Scale an ``H x W`` (or ``B x H x W``, per map) saliency map to [0, 1] for display."""
    s = saliency.detach().float()
    flat = s.reshape(-1, s.shape[-2] * s.shape[-1])
    lo, hi = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).view_as(s)


def overlay(image: torch.Tensor, saliency: torch.Tensor, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a saliency map (``H x W``, any scale) in colour over an image (``C x H x W`` in [0, 1]).
    Returns an ``H x W x 3`` numpy array in [0, 1], ready for ``plt.imshow``."""
    import matplotlib

    check_images(image, "image", ndim=3)
    check_range(alpha, "alpha", low=0.0, high=1.0)
    if not isinstance(saliency, torch.Tensor) or saliency.shape != image.shape[-2:]:
        shape = tuple(saliency.shape) if isinstance(saliency, torch.Tensor) else type(saliency).__name__
        raise ValueError(f"saliency must be an H x W tensor of shape {tuple(image.shape[-2:])}, got {shape}")
    rgb = image.detach().float().expand(3, -1, -1).permute(1, 2, 0).cpu().numpy()
    heat = matplotlib.colormaps[cmap](normalize_map(saliency).cpu().numpy())[..., :3]
    return (1 - alpha) * rgb + alpha * heat


def compare_maps(images: torch.Tensor, maps: Mapping[str, torch.Tensor], row_titles: Sequence[str] | None = None,
                 alpha: float = 0.5, size: float = 2.4):
    """Side-by-side figure: one row per image, the image then each method's map over it.

    images: ``B x C x H x W`` in [0, 1]; maps: ``method name -> B x H x W``. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    check_images(images, "images")
    for name, m in maps.items():
        _check_maps(m, images, name=f"maps[{name!r}]")
    b, cols = images.shape[0], len(maps) + 1
    fig, axes = plt.subplots(b, cols, figsize=(size * cols, size * b * images.shape[2] / images.shape[3]),
                             squeeze=False)
    for r in range(b):
        axes[r, 0].imshow(images[r].permute(1, 2, 0).squeeze(-1).cpu().numpy(), cmap="gray")
        axes[r, 0].set_title(row_titles[r] if row_titles else "image", fontsize=9)
        for c, (name, m) in enumerate(maps.items(), start=1):
            axes[r, c].imshow(overlay(images[r], m[r], alpha))
            axes[r, c].set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def occlusion_widget(model: nn.Module, image: torch.Tensor, target: int | None = None,
                     windows: Sequence[int] = (16, 32, 64), strides: Sequence[int] = (8, 16, 32),
                     baseline: float = 0.0, batch_size: int = 64, categories: Sequence[str] | None = None):
    """The lesson's occluder widget: pick a window size and a stride, see the map.

    Every (window, stride) pair with ``stride <= window`` is computed up front (:func:`occlusion`),
    so a change only redraws (well under 0.5 s). Returns an ``ipywidgets.VBox`` holding two
    ``Dropdown`` controls and an ``Image``; ``box.controls`` names them, ``box.results`` holds the
    :class:`OcclusionResult` per ``(window, stride)``.
    """
    import ipywidgets as W
    import matplotlib.pyplot as plt

    check_images(image, "image", ndim=3)
    if not windows or not strides:
        raise ValueError("windows and strides must each name at least one size")
    pairs = [(k, s) for k in windows for s in strides if s <= k]
    if not pairs:
        raise ValueError(f"no stride in {tuple(strides)} is <= a window in {tuple(windows)}")
    if target is None:
        target = int(_targets(model, image[None], None)[0])
    results = {(k, s): occlusion(model, image[None], target, k, s, baseline, batch_size, progress=False)
               for k, s in tqdm(pairs, desc="precomputing occlusion maps", leave=False)}
    categories = categories or getattr(model, "categories", None)
    name = categories[target] if categories else f"class {target}"
    window = W.Dropdown(options=sorted(set(windows)), value=pairs[0][0], description="window")
    stride = W.Dropdown(options=sorted(set(strides)), value=pairs[0][1], description="stride")
    picture = W.Image(format="png")
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    plt.close(fig)  # drawn into the Image widget, not by the notebook's inline backend

    def draw(*_):
        key = (window.value, stride.value)
        for ax in axes:
            ax.clear()
            ax.axis("off")
        axes[0].imshow(image.permute(1, 2, 0).cpu().numpy())
        axes[0].set_title(f"{name}: p = {float(results[pairs[0]].clean[0]):.2f}", fontsize=9)
        if key not in results:
            axes[1].set_title(f"stride {key[1]} > window {key[0]}:\nsome pixels never covered", fontsize=9)
        else:
            res = results[key]
            axes[1].imshow(res.probability[0].numpy(), cmap="viridis", vmin=0, vmax=1)
            axes[1].set_title(f"p(class) by occluder position ({key[0]}px, stride {key[1]})", fontsize=9)
            axes[2].imshow(overlay(image, res.saliency[0]))
            axes[2].set_title("mean probability drop per pixel", fontsize=9)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=72)
        picture.value = buf.getvalue()
        box.current = key

    box = W.VBox([W.HBox([window, stride]), picture])
    box.controls, box.results, box.current = {"window": window, "stride": stride}, results, None
    window.observe(draw, names="value")
    stride.observe(draw, names="value")
    draw()
    return box
