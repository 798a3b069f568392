"""Lesson 05: quantifying the interpretability of units (network dissection).

Bau, Zhou, Khosla, Oliva and Torralba, *Network Dissection: Quantifying Interpretability of Deep Visual
Representations*, CVPR 2017 (http://netdissect.csail.mit.edu). For every unit ``k`` of a layer:

1. :func:`unit_thresholds`: the threshold ``T_k`` above which lie the top ``quantile`` (0.5%) of the unit's
   activations over the whole dataset (all images, all positions), computed exactly in one streaming pass.
2. :func:`dissect`: each activation map ``A_k(x)`` is upsampled bilinearly to the size of the concept masks,
   thresholded, ``M_k(x) = A_k(x) > T_k``, and compared with every concept's mask ``L_c(x)`` over the dataset:

   ``IoU(k, c) = sum_x |M_k(x) & L_c(x)| / sum_x |M_k(x) | L_c(x)|``

   where the union is counted on the images annotated in ``c``'s category. A unit *detects* ``c`` when
   ``IoU > 0.04``; it is labelled with its best concept over all categories.

Concept data (images in [0, 1] with per-pixel concept masks grouped into categories) follow one small
protocol, :class:`ConceptSet`, with three sources: :func:`broden` (the real Broden data set, downloaded by
the user), :func:`color_concepts` (Broden's 11 colour names computed per pixel for any images) and
:func:`concept_probe` (a generated probe set with exact masks: MNIST digits and Fashion-MNIST items as
objects, real and procedural textures, named colours: a probe set, not Broden).
:func:`released_results` reads the tables the authors released. :func:`probe_model` is a small CNN trained
on probe scenes (to name their texture), to dissect a network whose training task we know.

This module holds the math only; figures are in :mod:`lectures_lib.plotting.dissection`.
"""
from __future__ import annotations

import csv
import math
import numbers
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from .plumbing import count_items, stream_activations
from .validation import check_choice, check_flag, check_images, check_range, get_module

__all__ = [
    "BRODEN_COLORS", "RELEASED", "ConceptSet", "TensorConceptSet", "DissectionTable", "Dissection",
    "quantile_threshold", "unit_thresholds", "threshold_masks", "unit_masks", "iou", "dissect", "broden",
    "color_concepts", "name_colors",
    "concept_probe", "released_results", "ProbeNet", "probe_model", "PROBE_COLORS", "PROBE_TEXTURES",
]

#: Broden's 11 colour names, with the sRGB prototype (0-255) each pixel is matched to in CIELAB.
BRODEN_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20), "blue": (40, 80, 210), "brown": (125, 75, 35), "grey": (128, 128, 128),
    "green": (50, 150, 50), "orange": (245, 140, 20), "pink": (245, 150, 195), "purple": (130, 50, 165),
    "red": (205, 30, 30), "white": (240, 240, 240), "yellow": (240, 220, 40),
}

#: The released NetDissect tables in ``data/netdissect-results/`` (network trained on a data set, layer).
RELEASED = {
    "alexnet_places365": ("caffe_reference_places365.csv", "AlexNet, Places365", "conv5"),
    "alexnet_places205": ("caffe_reference_places205.csv", "AlexNet, Places205", "conv5"),
    "alexnet_imagenet": ("caffe_reference_imagenet.csv", "AlexNet, ImageNet", "conv5"),
    "resnet152_imagenet": ("ResNet-152-model_imagenet.csv", "ResNet-152, ImageNet", "res5c"),
    "resnet152_places365": ("ResNet-152-model_places365.csv", "ResNet-152, Places365", "res5c"),
}


# --------------------------------------------------------------------------- concept data

class ConceptSet(Dataset):
    """The concept-data protocol: images in [0, 1] with per-pixel concept masks, grouped into categories.

    Attributes
    ----------
    concepts : list of str
        Concept names; index 0 is ``"-"`` (no concept), concept ``c >= 1`` is ``concepts[c]``.
    categories : list of str
        The category of each concept (``categories[0]`` is ``"-"``): ``"color"``, ``"object"``, ``"texture"``, ...
    source : str
        Where the images and masks come from.

    Subclasses implement ``__len__``, ``image(i)`` (``C x H x W`` float in [0, 1], the same size for every
    image) and ``masks(i)`` (``L x h x w`` int64 of concept indices, 0 = none; ``L`` label layers, e.g. one
    per category; the same ``h x w`` for every image). An item is ``(image, masks)``. An image counts as
    *annotated* in a category when any of its pixels carries a concept of that category.
    """

    concepts: list[str]
    categories: list[str]
    source: str = ""

    def image(self, i: int) -> torch.Tensor:
        raise NotImplementedError

    def masks(self, i: int) -> torch.Tensor:
        raise NotImplementedError

    def __getitem__(self, i: int):
        if not isinstance(i, numbers.Integral) or not -len(self) <= i < len(self):
            raise IndexError(f"index {i!r} out of range for {len(self)} images")
        return self.image(int(i) % len(self)), self.masks(int(i) % len(self))

    @property
    def category_names(self) -> list[str]:
        """The categories in order of first appearance (without ``"-"``)."""
        return list(dict.fromkeys(self.categories[1:]))

    def concept_index(self, name: str) -> int:
        """The index of the concept called ``name``."""
        if name not in self.concepts[1:]:
            raise ValueError(f"concept {name!r} is not in this set; some concepts: {self.concepts[1:13]}")
        return self.concepts.index(name, 1)

    def __repr__(self) -> str:
        counts = Counter(self.categories[1:])
        return f"{type(self).__name__}({len(self)} images, concepts per category {dict(counts)}, source={self.source!r})"


def _check_concepts(concepts, categories) -> tuple[list[str], list[str]]:
    if not isinstance(concepts, (list, tuple)) or not all(isinstance(c, str) for c in concepts):
        raise TypeError(f"concepts must be a list of names, got {type(concepts).__name__}")
    if not isinstance(categories, (list, tuple)) or not all(isinstance(c, str) for c in categories):
        raise TypeError(f"categories must be a list of names, got {type(categories).__name__}")
    if len(concepts) < 2 or concepts[0] != "-":
        raise ValueError(f"concepts must start with '-' (index 0, no concept) and name at least one concept, "
                         f"got {list(concepts)[:4]}")
    if len(categories) != len(concepts):
        raise ValueError(f"categories must give one category per concept: {len(concepts)} concepts, "
                         f"got {len(categories)} categories")
    empty = [c for c in categories[1:] if not c or c == "-"]
    if empty:
        raise ValueError("categories must name a category for every concept after '-', got an empty one")
    return list(concepts), list(categories)


class TensorConceptSet(ConceptSet):
    """A :class:`ConceptSet` held in memory: ``images`` ``N x C x H x W`` in [0, 1] and ``masks``
    ``N x L x h x w`` int64 concept indices (or a function ``i -> L x h x w`` computing them on demand)."""

    def __init__(self, images: torch.Tensor, masks, concepts: Sequence[str], categories: Sequence[str],
                 source: str = "in memory"):
        check_images(images, "images", min_batch=1)
        self.concepts, self.categories = _check_concepts(concepts, categories)
        self._images, self.source = images, source
        if callable(masks):
            self._mask_fn = masks
        else:
            if not isinstance(masks, torch.Tensor) or masks.dim() != 4 or len(masks) != len(images):
                raise ValueError(f"masks must be a tensor N x L x h x w with N = {len(images)} images, "
                                 f"got {getattr(masks, 'shape', type(masks).__name__)}")
            if masks.is_floating_point() or masks.dtype == torch.bool:
                raise ValueError(f"masks must hold integer concept indices, got dtype {masks.dtype}")
            if masks.numel() and (masks.min() < 0 or masks.max() >= len(self.concepts)):
                raise ValueError(f"masks must hold concept indices in [0, {len(self.concepts)}), "
                                 f"got range [{int(masks.min())}, {int(masks.max())}]")
            self._masks = masks.long()
            self._mask_fn = lambda i: self._masks[i]

    def __len__(self) -> int:
        return len(self._images)

    def image(self, i: int) -> torch.Tensor:
        return self._images[i]

    def masks(self, i: int) -> torch.Tensor:
        return self._mask_fn(i)

    def tensors(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, indices)`` of a batch: the fast path of :func:`plumbing.batches`."""
        return self._images[indices], torch.arange(len(self))[indices]


class _Images(Dataset):
    """The images of a concept set with their indices as labels: what the streaming pass reads."""

    def __init__(self, data: ConceptSet):
        self.data = data
        if hasattr(data, "tensors"):
            self.tensors = data.tensors

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        return self.data.image(i), i


def _check_concept_set(data, name: str = "concept_data") -> ConceptSet:
    if not isinstance(data, ConceptSet):
        raise TypeError(f"{name} must be a ConceptSet (broden(), color_concepts(), concept_probe() or a "
                        f"TensorConceptSet), got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} must hold at least one image, got none")
    return data


# --------------------------------------------------------------------------- thresholds

def _layer_names(layer) -> list[str]:
    names = [layer] if isinstance(layer, str) else list(layer) if isinstance(layer, (list, tuple)) else None
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"layer must be a layer name or a non-empty list of names, got {layer!r}")
    return names


def _conv_maps(acts: torch.Tensor, layer: str) -> torch.Tensor:
    if acts.dim() != 4:
        raise ValueError(f"layer {layer!r} must be convolutional (output B x C x H x W, one map per unit) to be "
                         f"dissected, got output of shape {tuple(acts.shape)}")
    return acts


def _image_source(data):
    """What the streaming pass reads: a concept set's images (``_Images``) or the data as given."""
    return _Images(data) if isinstance(data, ConceptSet) else data


def _top_values(model, data, names, quantile, batch_size, progress) -> tuple[dict, dict]:
    """One streaming pass: the ``k + 1`` largest activations of every unit of every layer (exact), with
    ``k`` the top ``quantile`` of the ``n = images x positions`` values each unit takes over the data."""
    best: dict[str, torch.Tensor] = {}
    totals: dict[str, int] = {}
    n_images = count_items(data)
    for _start, outputs in stream_activations(model, _image_source(data), names, batch_size, progress, "thresholds"):
        for name in names:
            acts = _conv_maps(outputs[name], name)
            totals.setdefault(name, n_images * acts.shape[2] * acts.shape[3])
            values = acts.transpose(0, 1).flatten(1)                       # U x (B * H * W)
            merged = values if name not in best else torch.cat([best[name], values], dim=1)
            keep = min(merged.shape[1], _k(quantile, totals[name]) + 1)
            best[name] = merged.topk(keep, dim=1, sorted=True).values
    return best, totals


def _k(quantile: float, n: float) -> int:
    """How many of ``n`` values the top ``quantile`` keeps: ``round(quantile * n)``, at least 1."""
    return max(1, int(math.floor(quantile * n + 0.5)))


def quantile_threshold(acts: torch.Tensor, quantile: float = 0.005) -> torch.Tensor:
    """The thresholds of :func:`unit_thresholds`, computed from activations held in memory.

    For each unit, its ``(k + 1)``-th largest value over all images and positions, with
    ``k = round(quantile * N * H * W)`` (at least 1), so that ``acts > T`` keeps ``k`` values per unit
    (fewer where values tie). Bau et al., *Network Dissection*, CVPR 2017, use ``quantile = 0.005``.

    Parameters
    ----------
    acts : Tensor ``N x U x H x W``
        Float activation maps of ``U`` units on ``N`` images.
    quantile : float, default 0.005
        The fraction of each unit's activations above the threshold, in ``(0, 0.5]``.

    Returns
    -------
    Tensor ``U``
        One threshold per unit, on the device and in the dtype of ``acts``.

    Raises
    ------
    ValueError
        When ``acts`` is not a 4-d float tensor, ``quantile`` is out of range, or ``k + 1`` exceeds the
        ``N x H x W`` values per unit (the quantile would keep them all).
    TypeError
        When ``quantile`` is not a number.
    """
    if not isinstance(acts, torch.Tensor) or acts.dim() != 4 or not acts.is_floating_point():
        raise ValueError(f"acts must be a float tensor N x U x H x W, got {getattr(acts, 'shape', type(acts).__name__)}")
    quantile = check_range(quantile, "quantile", 0, 0.5, low_inclusive=False)
    values = acts.transpose(0, 1).flatten(1)
    k = _k(quantile, values.shape[1])
    if k + 1 > values.shape[1]:
        raise ValueError(f"quantile {quantile} of {values.shape[1]} activations per unit keeps them all")
    return values.topk(k + 1, dim=1).values[:, k]


def unit_thresholds(model: nn.Module, layer: str | Sequence[str], data, quantile: float = 0.005, *,
                    batch_size: int = 16, progress: bool = True) -> torch.Tensor | dict[str, torch.Tensor]:
    """Each unit's activation threshold ``T_k`` at the top ``quantile`` of its activations over ``data``.

    Exact, in one streaming pass (:func:`plumbing.stream_activations`) that keeps a running top-``(k + 1)``
    per unit, with ``k = round(quantile * n)`` and ``n = images x positions``: ``T_k`` is the ``(k + 1)``-th
    largest activation, so ``A > T_k`` keeps exactly ``k`` of the ``n`` values (fewer where values tie),
    a fraction within ``1 / n`` of ``quantile``. Memory: ``units x (k + 1)`` values plus one batch.

    Parameters
    ----------
    model : nn.Module
        Takes the data's images (in [0, 1]).
    layer : str or list of str
        A convolutional layer's ``named_modules`` name (output ``B x U x H x W``), or several (one pass).
    data : ConceptSet, Dataset of ``(image, label)``, tensor ``N x C x H x W`` or pair ``(x, y)``
        The images; ``n = N x H x W`` must exceed ``1 / quantile`` a little (``k + 1 <= n``).
    quantile : float, default 0.005
        The fraction of activations above the threshold (Bau et al.: 0.5%), in ``(0, 0.5]``.
    batch_size : int, default 16
    progress : bool, default True

    Returns
    -------
    Tensor ``U`` (or ``{layer: Tensor U}`` for a list of layers)
        On the device and in the dtype of the data's images.
    """
    quantile = check_range(quantile, "quantile", 0, 0.5, low_inclusive=False)
    check_range(batch_size, "batch_size", 1, integer=True)
    check_flag(progress, "progress")
    names = _layer_names(layer)
    for name in names:
        get_module(model, name)
    if isinstance(data, ConceptSet):
        _check_concept_set(data, "data")
    elif count_items(data) == 0:
        raise ValueError("data must hold at least one image, got none")
    ref = _first_image(data)
    best, counts = _top_values(model, data, names, quantile, batch_size, progress)
    out = {}
    for name in names:
        k = _k(quantile, counts[name])
        if k + 1 > counts[name]:
            raise ValueError(f"quantile {quantile} of {counts[name]} activations per unit of {name!r} keeps them all: "
                             f"use more images or a smaller quantile")
        out[name] = best[name][:, k].to(device=ref.device, dtype=ref.dtype)
    return out[names[0]] if isinstance(layer, str) else out


def _first_image(data) -> torch.Tensor:
    if isinstance(data, ConceptSet):
        return data.image(0)
    if isinstance(data, torch.Tensor):
        return data[0]
    if isinstance(data, (tuple, list)):
        return data[0][0]
    return data[0][0]


# --------------------------------------------------------------------------- masks and IoU

def threshold_masks(acts: torch.Tensor, thresholds: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """The units' binary masks ``M_k = upsample(A_k) > T_k``.

    Parameters
    ----------
    acts : Tensor ``B x U x H x W`` (or ``U x H x W``)
        Activation maps of ``U`` units.
    thresholds : Tensor ``U``
        From :func:`unit_thresholds`.
    size : (h, w)
        The mask size; maps are upsampled bilinearly (``align_corners=False``) to it.

    Returns
    -------
    Bool tensor ``B x U x h x w`` (or ``U x h x w``), on the device of ``acts``.
    """
    if not isinstance(acts, torch.Tensor) or acts.dim() not in (3, 4) or not acts.is_floating_point():
        raise ValueError(f"acts must be a float tensor B x U x H x W (or U x H x W), got "
                         f"{getattr(acts, 'shape', type(acts).__name__)}")
    single = acts.dim() == 3
    acts = acts[None] if single else acts
    if not isinstance(thresholds, torch.Tensor) or thresholds.shape != (acts.shape[1],):
        raise ValueError(f"thresholds must be a tensor of {acts.shape[1]} values (one per unit), got "
                         f"{getattr(thresholds, 'shape', type(thresholds).__name__)}")
    if not isinstance(size, (tuple, list, torch.Size)) or len(size) != 2:
        raise ValueError(f"size must be (h, w), got {size!r}")
    for s in size:
        check_range(s, "size", 1, integer=True)
    up = F.interpolate(acts, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)
    masks = up > thresholds.to(up)[None, :, None, None]
    return masks[0] if single else masks


def iou(unit_masks: torch.Tensor, concept_masks: torch.Tensor) -> float:
    """The IoU of one unit and one concept over a set of images: ``sum |M & L| / sum |M | L|``.

    The intersection and the union are summed over all images before dividing (Bau et al., *Network
    Dissection*, CVPR 2017), not averaged per image.

    Parameters
    ----------
    unit_masks : Tensor or array-like ``N x h x w`` (or ``h x w`` for one image)
        The unit's binary masks ``M`` (e.g. from :func:`unit_masks`); converted to bool (nonzero is True).
    concept_masks : Tensor or array-like, the same shape
        The concept's binary masks ``L``; converted to bool.

    Returns
    -------
    float
        The IoU in [0, 1]; 0.0 when both masks are empty.

    Raises
    ------
    ValueError
        When the two masks differ in shape.
    """
    m, c = torch.as_tensor(unit_masks).bool(), torch.as_tensor(concept_masks).bool()
    if m.shape != c.shape:
        raise ValueError(f"unit_masks and concept_masks must have the same shape, got {tuple(m.shape)} and {tuple(c.shape)}")
    union = (m | c).sum().item()
    return (m & c).sum().item() / union if union else 0.0


@dataclass
class _Counts:
    """Running sums of one layer's dissection: intersections ``U x K``, activation areas per category
    ``U x G`` (on the images annotated in that category) and label areas ``K``."""
    inter: torch.Tensor
    act: torch.Tensor
    label: torch.Tensor

    def add(self, masks: torch.Tensor, labels: torch.Tensor, category_of: torch.Tensor) -> None:
        """Add one image: unit masks ``U x h x w`` and its label layers ``L x h x w``."""
        flat = masks.flatten(1).float()                                  # U x P
        lab = labels.flatten(1)                                          # L x P
        present = lab.unique()
        present = present[present > 0]
        if len(present) == 0:
            return
        onehot = (lab[:, :, None] == present).any(0).float()              # P x k (pixels of each concept)
        annotated = category_of[present].unique().cpu()                   # the categories this image is labelled in
        present = present.cpu()
        self.inter[:, present] += (flat @ onehot).double().cpu()
        self.label[present] += onehot.sum(0).double().cpu()
        self.act[:, annotated] += flat.sum(1, keepdim=True).double().cpu()

    def iou(self, category_of: torch.Tensor) -> torch.Tensor:
        union = self.act[:, category_of] + self.label[None] - self.inter
        return torch.where(union > 0, self.inter / union.clamp_min(1e-12), torch.zeros_like(union))


# --------------------------------------------------------------------------- results

@dataclass
class DissectionTable:
    """One layer's dissection, one row per unit: the best concept over all categories (``label``,
    ``category``, ``score`` = its IoU) and, per category, the best concept of that category and its IoU
    (``best[category] = (labels, ious)``). The released tables (:func:`released_results`) and our own
    (:meth:`Dissection.table`) have this form."""
    name: str
    layer: str
    units: list[int]
    label: list[str]
    category: list[str]
    score: torch.Tensor
    best: dict[str, tuple[list[str], torch.Tensor]]

    def __len__(self) -> int:
        return len(self.units)

    def _check_category(self, category):
        if category is not None:
            check_choice(category, "category", list(self.best))

    def detectors(self, category: str | None = None, iou_threshold: float = 0.04) -> list[tuple[int, str, float]]:
        """``(unit, concept, IoU)`` of every unit whose IoU exceeds ``iou_threshold``, strongest first: with
        ``category``, the unit's best concept of that category (Bau et al.'s "object detectors"); without,
        its best concept overall (an "interpretable unit")."""
        self._check_category(category)
        check_range(iou_threshold, "iou_threshold", 0, 1)
        labels, scores = (self.label, self.score) if category is None else self.best[category]
        rows = [(u, lab, float(s)) for u, lab, s in zip(self.units, labels, scores) if s > iou_threshold]
        return sorted(rows, key=lambda r: -r[2])

    def count(self, category: str | None = None, iou_threshold: float = 0.04) -> int:
        """How many units detect a concept (of ``category``) with IoU above ``iou_threshold``."""
        return len(self.detectors(category, iou_threshold))

    def distinct(self, category: str | None = None, iou_threshold: float = 0.04) -> int:
        """How many distinct concepts (of ``category``) the detectors cover."""
        return len({lab for _, lab, _ in self.detectors(category, iou_threshold)})

    def histogram(self, category: str | None = None, iou_threshold: float = 0.04) -> list[tuple[str, int]]:
        """``(concept, number of detector units)``, most frequent first (the paper's histogram)."""
        counts = Counter(lab for _, lab, _ in self.detectors(category, iou_threshold))
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def units_per_category(self, iou_threshold: float = 0.04) -> dict[str, int]:
        """Interpretable units by the category of their best concept (Bau et al.'s Figure 5 bars)."""
        check_range(iou_threshold, "iou_threshold", 0, 1)
        counts = Counter(c for c, s in zip(self.category, self.score) if s > iou_threshold)
        return {c: counts.get(c, 0) for c in self.best}

    def row(self, unit: int) -> dict:
        """Everything the table says about ``unit``."""
        if unit not in self.units:
            raise ValueError(f"unit {unit!r} is not in the table (units {self.units[0]}..{self.units[-1]})")
        i = self.units.index(unit)
        return {"unit": unit, "label": self.label[i], "category": self.category[i], "iou": float(self.score[i]),
                **{f"{c}-label": lab[i] for c, (lab, _) in self.best.items()},
                **{f"{c}-iou": float(s[i]) for c, (_, s) in self.best.items()}}


@dataclass
class Dissection:
    """What :func:`dissect` found for one layer: ``iou`` (``U x K`` float64, every unit against every
    concept; column 0, "no concept", is 0), the ``thresholds`` (``U``), the concepts and their categories."""
    layer: str
    iou: torch.Tensor
    thresholds: torch.Tensor
    concepts: list[str]
    categories: list[str]
    iou_threshold: float = 0.04
    n_images: int = 0
    top_images: torch.Tensor | None = None
    counts: _Counts | None = field(default=None, repr=False)

    def table(self, name: str = "") -> DissectionTable:
        """The per-unit table (best concept overall and per category)."""
        cats = list(dict.fromkeys(self.categories[1:]))
        score, label = self.iou[:, 1:].max(dim=1)
        label = label + 1
        best = {}
        for c in cats:
            cols = torch.tensor([i for i, g in enumerate(self.categories) if g == c])
            s, j = self.iou[:, cols].max(dim=1)
            best[c] = ([self.concepts[int(cols[i])] for i in j], s)
        return DissectionTable(name or self.layer, self.layer, list(range(len(self.iou))),
                               [self.concepts[int(i)] for i in label], [self.categories[int(i)] for i in label],
                               score, best)

    def units_per_category(self) -> dict[str, int]:
        """Interpretable units (best IoU above ``iou_threshold``) by the category of their best concept."""
        return self.table().units_per_category(self.iou_threshold)

    def top_units(self, concept: str, n: int = 5) -> list[tuple[int, float]]:
        """The ``n`` units with the highest IoU for ``concept``: ``(unit, IoU)``."""
        if concept not in self.concepts[1:]:
            raise ValueError(f"concept {concept!r} was not dissected; some concepts: {self.concepts[1:13]}")
        check_range(n, "n", 1, integer=True)
        col = self.iou[:, self.concepts.index(concept, 1)]
        order = torch.argsort(col, descending=True, stable=True)[:n]
        return [(int(u), float(col[u])) for u in order]


def dissect(model: nn.Module, layer: str | Sequence[str], concept_data: ConceptSet, quantile: float = 0.005,
            iou_threshold: float = 0.04, *, thresholds: torch.Tensor | dict | None = None, batch_size: int = 16,
            progress: bool = True) -> Dissection | dict[str, Dissection]:
    """Network dissection of one layer (or several, in the same passes) against a concept set.

    Pass 1 (skipped when ``thresholds`` are given): :func:`unit_thresholds`. Pass 2: for every image, each
    unit's map upsampled bilinearly to the mask size and thresholded (:func:`threshold_masks`); the
    intersection with every concept's mask, the unit's mask area on images annotated in each category and
    every concept's area are summed over the data set; then
    ``IoU(k, c) = I(k, c) / (A(k, category(c)) + L(c) - I(k, c))``.

    Parameters
    ----------
    model : nn.Module
    layer : str or list of str
        Convolutional layers (``named_modules`` names).
    concept_data : ConceptSet
        Images and concept masks (:func:`broden`, :func:`color_concepts`, :func:`concept_probe`).
    quantile : float, default 0.005
        Top fraction of activations kept by the thresholds (Bau et al.: 0.5%).
    iou_threshold : float, default 0.04
        IoU above which a unit counts as a detector (Bau et al.: 0.04).
    thresholds : Tensor ``U`` or ``{layer: Tensor U}``, optional
        Precomputed thresholds (e.g. from another data set); skips pass 1.
    batch_size : int, default 16
    progress : bool, default True

    Returns
    -------
    Dissection (or ``{layer: Dissection}`` for a list of layers)
        ``iou``: ``U x K`` float64 on the CPU; ``thresholds`` in the dtype of the images.
    """
    data = _check_concept_set(concept_data)
    quantile = check_range(quantile, "quantile", 0, 0.5, low_inclusive=False)
    iou_threshold = check_range(iou_threshold, "iou_threshold", 0, 1)
    check_range(batch_size, "batch_size", 1, integer=True)
    check_flag(progress, "progress")
    names = _layer_names(layer)
    for name in names:
        get_module(model, name)
    if thresholds is None:
        thresholds = unit_thresholds(model, names, data, quantile, batch_size=batch_size, progress=progress)
    elif isinstance(thresholds, torch.Tensor):
        if len(names) != 1:
            raise ValueError("thresholds must be a dict {layer: thresholds} when several layers are dissected")
        thresholds = {names[0]: thresholds}
    if not isinstance(thresholds, dict) or set(names) - set(thresholds):
        raise ValueError(f"thresholds must give a tensor for every layer {names}, got "
                         f"{sorted(thresholds) if isinstance(thresholds, dict) else type(thresholds).__name__}")
    cats = list(dict.fromkeys(data.categories[1:]))
    category_of = torch.tensor([0] + [cats.index(c) for c in data.categories[1:]])
    n_concepts = len(data.concepts)
    counts: dict[str, _Counts] = {}
    tops: dict[str, tuple] = {}
    mask_size = None
    for start, outputs in stream_activations(model, _Images(data), names, batch_size, progress, "dissect"):
        for name in names:
            acts = _conv_maps(outputs[name], name)
            peak = acts.amax(dim=(2, 3)).T.cpu()                                  # U x B: each image's strongest value
            index = torch.arange(start, start + len(acts))[None].expand_as(peak)
            tops[name] = _merge_top(tops.get(name), (peak, index), TOP_IMAGES)
            t = thresholds[name]
            if not isinstance(t, torch.Tensor) or t.shape != (acts.shape[1],):
                raise ValueError(f"thresholds for {name!r} must be a tensor of {acts.shape[1]} values, got "
                                 f"{getattr(t, 'shape', type(t).__name__)}")
            if name not in counts:
                counts[name] = _Counts(torch.zeros(acts.shape[1], n_concepts, dtype=torch.float64),
                                       torch.zeros(acts.shape[1], len(cats), dtype=torch.float64),
                                       torch.zeros(n_concepts, dtype=torch.float64))
            for j in range(len(acts)):
                labels = _check_masks(data.masks(start + j), start + j, n_concepts, mask_size)
                mask_size = tuple(labels.shape[1:])
                masks = threshold_masks(acts[j], t, mask_size)
                counts[name].add(masks, labels.to(masks.device), category_of.to(masks.device))
    ref_dtype = data.image(0).dtype
    result = {name: Dissection(name, counts[name].iou(category_of), thresholds[name].to(ref_dtype).cpu(),
                               list(data.concepts), list(data.categories), iou_threshold, len(data),
                               tops[name][1], counts[name])
              for name in names}
    return result[names[0]] if isinstance(layer, str) else result


TOP_IMAGES = 8


def _merge_top(best, new, k: int):
    """The ``k`` largest per row of (running best, new batch); ties go to the earlier image."""
    merged = new if best is None else tuple(torch.cat([b, n], dim=1) for b, n in zip(best, new))
    order = torch.sort(merged[0], dim=1, descending=True, stable=True).indices[:, :k]
    return tuple(t.gather(1, order) for t in merged)


def unit_masks(model: nn.Module, layer: str, x: torch.Tensor, thresholds: torch.Tensor, size: Sequence[int],
               unit: int | None = None) -> torch.Tensor:
    """The thresholded, upsampled masks ``M_k = upsample(A_k) > T_k`` of ``layer``'s units on images ``x``.

    The layer's activations come from one forward pass (:func:`visualize.capture_activations`) and go
    through :func:`threshold_masks`; this is what the figures draw.

    Parameters
    ----------
    model : nn.Module
        Takes ``B x C x H x W`` images in [0, 1].
    layer : str
        A convolutional layer's ``named_modules`` name (output ``B x U x H' x W'``).
    x : Tensor ``B x C x H x W``
        Images in [0, 1].
    thresholds : Tensor ``U``
        One threshold per unit of ``layer`` (from :func:`unit_thresholds` or :func:`quantile_threshold`).
    size : (h, w)
        The mask size; the maps are upsampled bilinearly (``align_corners=False``) to it.
    unit : int, optional
        One unit, in ``[0, U - 1]``; default None: all units.

    Returns
    -------
    Bool tensor ``B x U x h x w`` (or ``B x h x w`` for one ``unit``)
        On the device of ``x``.

    Raises
    ------
    ValueError
        When ``layer`` is not a module of ``model`` or its output is not ``B x U x H' x W'`` maps, when
        ``unit`` is out of range, or when ``thresholds`` or ``size`` do not fit (as :func:`threshold_masks`).
    TypeError
        When ``unit`` is not an int.
    """
    from .visualize import capture_activations

    acts = _conv_maps(capture_activations(model, x, layer)[layer], layer)
    if unit is not None:
        check_range(unit, "unit", 0, acts.shape[1] - 1, integer=True)
        return threshold_masks(acts[:, unit:unit + 1], thresholds[unit:unit + 1], size)[:, 0]
    return threshold_masks(acts, thresholds, size)


def _check_masks(masks, i: int, n_concepts: int, size) -> torch.Tensor:
    if not isinstance(masks, torch.Tensor) or masks.dim() != 3 or masks.is_floating_point() or masks.dtype == torch.bool:
        raise ValueError(f"concept_data.masks({i}) must be an int64 tensor L x h x w of concept indices, got "
                         f"{getattr(masks, 'dtype', type(masks).__name__)} {tuple(getattr(masks, 'shape', ()))}")
    if size is not None and tuple(masks.shape[1:]) != size:
        raise ValueError(f"concept_data's masks must all have the same size: masks({i}) is {tuple(masks.shape[1:])}, "
                         f"earlier ones {size}")
    if masks.numel() and (masks.min() < 0 or masks.max() >= n_concepts):
        raise ValueError(f"concept_data.masks({i}) must hold concept indices in [0, {n_concepts}), "
                         f"got range [{int(masks.min())}, {int(masks.max())}]")
    return masks.long()


# --------------------------------------------------------------------------- Broden

class _Broden(ConceptSet):
    def __init__(self, root: Path, rows: list[dict], numbers_, concepts, categories, columns, layers, size):
        self.root, self.rows, self.concepts, self.categories = root, rows, concepts, categories
        self.columns, self.layers, self.size = columns, layers, size
        self.source = f"Broden (Bau et al. 2017) in {root}: {len(rows)} images"
        self._number_to_index = {n: i for i, n in enumerate(numbers_)}
        self._lut = torch.zeros(max(numbers_) + 2, dtype=torch.long)       # label number -> concept index
        self._lut[torch.tensor(numbers_)] = torch.arange(len(numbers_))

    def __len__(self) -> int:
        return len(self.rows)

    def image(self, i: int) -> torch.Tensor:
        from .data import load_image

        img = load_image(self.root / "images" / self.rows[i]["image"])
        return F.interpolate(img[None], size=self.size, mode="bilinear", align_corners=False, antialias=True)[0].clamp(0, 1)

    def masks(self, i: int) -> torch.Tensor:
        from PIL import Image

        row = self.rows[i]
        sh, sw = int(row["sh"]), int(row["sw"])
        out = torch.zeros(sum(self.layers.values()), sh, sw, dtype=torch.long)
        layer = 0
        for col in self.columns:
            entries = [e for e in (row.get(col) or "").split(";") if e]
            for e in entries[: self.layers[col]]:
                if e.isdigit():                                     # an image-level label (scene, texture)
                    out[layer] = self._number_to_index.get(int(e), 0)
                else:                                               # a label image: number = R + 256 G
                    with Image.open(self.root / "images" / e) as im:
                        rgb = np.asarray(im.convert("RGB"), dtype=np.int64)
                    number = torch.from_numpy(rgb[..., 0] + 256 * rgb[..., 1]).clamp_max(len(self._lut) - 1)
                    out[layer] = self._lut[number]
                layer += 1
            layer += self.layers[col] - min(len(entries), self.layers[col])
        return out


BRODEN_CATEGORIES = ("color", "object", "part", "material", "scene", "texture")


def broden(root, *, size: int = 224, categories: Sequence[str] = BRODEN_CATEGORIES, limit: int | None = None) -> ConceptSet:
    """The Broden data set (Bau et al. 2017): 63,305 images with pixel-wise labels of 1,197 concepts in six
    categories, downloaded by the user (``http://netdissect.csail.mit.edu/data/broden1_224.zip``, 1 GB, or
    NetDissect's ``script/dlbroden.sh``).

    Parameters
    ----------
    root : path
        The unpacked folder with ``index.csv``, ``label.csv`` and ``images/``. ``index.csv`` has columns
        ``image, split, ih, iw, sh, sw`` and one per category; a category cell lists label images
        (``;``-separated, each pixel's label number = R + 256 G) or label numbers for the whole image.
        ``label.csv``: ``number, name, category`` (``category`` like ``object(4316);part(12)``: the first is used).
    size : int, default 224
        Images are resized to ``size x size``; masks keep their own size (``sh x sw``, 112 for broden1_224).
    categories : list of str
        The categories to use.
    limit : int, optional
        Use only the first ``limit`` images.

    Returns
    -------
    ConceptSet
        One mask layer per label image or label of each category (as many as the fullest row has).
    """
    root = Path(root)
    for f in ("index.csv", "label.csv"):
        if not (root / f).is_file():
            raise FileNotFoundError(f"root must be an unpacked Broden folder: {root / f} is missing (download "
                                    f"http://netdissect.csail.mit.edu/data/broden1_224.zip and unzip it)")
    if not isinstance(categories, (list, tuple)) or not categories:
        raise ValueError(f"categories must be a non-empty list of Broden categories, got {categories!r}")
    for c in categories:
        check_choice(c, "categories", BRODEN_CATEGORIES)
    check_range(size, "size", 8, integer=True)
    with open(root / "index.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(root / "label.csv", newline="") as f:
        labels = list(csv.DictReader(f))
    if limit is not None:
        rows = rows[: check_range(limit, "limit", 1, integer=True)]
    if not rows:
        raise ValueError(f"root's index.csv lists no images ({root / 'index.csv'})")
    missing = [c for c in ("image", "sh", "sw", *categories) if c not in rows[0]]
    if missing:
        raise ValueError(f"root's index.csv must have the columns image, sh, sw and {list(categories)}; missing {missing}")
    numbers_, concepts, cats = [0], ["-"], ["-"]
    for lab in labels:
        try:
            number, name, cat = int(lab["number"]), lab["name"], lab["category"].split(";")[0].split("(")[0]
        except (KeyError, ValueError, AttributeError) as err:
            raise ValueError(f"root's label.csv must have columns number (int), name, category; bad row {lab}") from err
        if number > 0 and cat in categories:
            numbers_.append(number)
            concepts.append(name)
            cats.append(cat)
    if len(concepts) < 2:
        raise ValueError(f"root's label.csv names no concept of the categories {list(categories)}")
    layers = {c: max(1, max(len([e for e in (r.get(c) or "").split(";") if e]) for r in rows)) for c in categories}
    return _Broden(root, rows, numbers_, concepts, cats, list(categories), layers, (size, size))


# --------------------------------------------------------------------------- colour names

def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab
    return rgb2lab(np.clip(rgb, 0, 1))


_PROTO_LAB = None


def name_colors(images: torch.Tensor) -> torch.Tensor:
    """Broden's 11 colour names per pixel: the nearest prototype of :data:`BRODEN_COLORS` in CIELAB.

    An approximation of the colour-naming model Broden uses (van de Weijer, Schmid, Verbeek and Larlus,
    *Learning color names for real-world applications*, IEEE TIP 2009), which is a learned lookup table;
    here each name is one prototype colour.

    Parameters
    ----------
    images : Tensor ``B x 3 x H x W`` in [0, 1]

    Returns
    -------
    int64 tensor ``B x H x W``: 1 + the index of the colour name in :data:`BRODEN_COLORS` (0 is unused).
    """
    global _PROTO_LAB
    check_images(images, "images", channels=3)
    if _PROTO_LAB is None:
        _PROTO_LAB = _lab(np.array(list(BRODEN_COLORS.values()), dtype=float)[None] / 255)[0]
    lab = _lab(images.detach().cpu().double().permute(0, 2, 3, 1).numpy())         # B x H x W x 3
    d = ((lab[..., None, :] - _PROTO_LAB) ** 2).sum(-1)
    return torch.from_numpy(d.argmin(-1) + 1).long()


def color_concepts(images, *, mask_size: int | None = None) -> ConceptSet:
    """Broden's colour concepts for any images: each pixel named with one of 11 colours (:func:`name_colors`).

    Parameters
    ----------
    images : Tensor ``N x 3 x H x W`` in [0, 1], or a Dataset of ``(image, label)``
        Real images, e.g. the ImageNet samples; a Dataset is read lazily (nothing held but its images' cache).
    mask_size : int, optional
        Side of the masks (the image is area-averaged to it before naming); default half the image side,
        as Broden's 112 x 112 masks for 224 x 224 images.

    Returns
    -------
    ConceptSet
        Concepts ``"-"`` and the 11 colour names (``"black-c"``, ... as in NetDissect), category ``"color"``.
    """
    if isinstance(images, torch.Tensor):
        check_images(images, "images", channels=3, min_batch=1)
        get = lambda i: images[i]
        n, source = len(images), "images given as a tensor"
    elif isinstance(images, Dataset) and hasattr(images, "__len__"):
        if len(images) == 0:
            raise ValueError("images must hold at least one image, got an empty Dataset")
        get = lambda i: images[i][0]
        n, source = len(images), getattr(images, "source", type(images).__name__)
        check_images(get(0), "images", channels=3, ndim=3)
    else:
        raise TypeError(f"images must be a tensor N x 3 x H x W or a Dataset of (image, label), got {type(images).__name__}")
    side = get(0).shape[-1]
    mask_size = side // 2 if mask_size is None else check_range(mask_size, "mask_size", 1, side, integer=True)

    def masks(i: int) -> torch.Tensor:
        small = F.interpolate(get(i)[None].double(), size=(mask_size, mask_size), mode="area")
        return name_colors(small.clamp(0, 1))

    concepts = ["-"] + [f"{c}-c" for c in BRODEN_COLORS]
    data = _LazyConceptSet(n, get, masks, concepts, ["-"] + ["color"] * len(BRODEN_COLORS),
                           f"colour names computed per pixel for {source}")
    return data


class _LazyConceptSet(ConceptSet):
    """Images and masks computed on demand by two functions of the index (masks cached)."""

    def __init__(self, n, get_image, get_masks, concepts, categories, source):
        self.concepts, self.categories = _check_concepts(concepts, categories)
        self._n, self._image, self._masks, self.source = n, get_image, get_masks, source
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return self._n

    def image(self, i: int) -> torch.Tensor:
        return self._image(i)

    def masks(self, i: int) -> torch.Tensor:
        if i not in self._cache:                       # kept small: int16 (concept indices < 32768)
            self._cache[i] = self._masks(i).to(torch.int16)
        return self._cache[i].long()


# --------------------------------------------------------------------------- the probe set

PROBE_COLORS = ("black", "blue", "green", "grey", "orange", "pink", "purple", "red", "white", "yellow")
PROBE_TEXTURES = ("brick", "grass", "gravel", "stripes", "dots", "checkerboard")


def _texture(name: str, size: int, gen: torch.Generator) -> torch.Tensor:
    """A ``3 x size x size`` texture patch: a random crop of scikit-image's photo, or a procedural pattern."""
    if name in ("brick", "grass", "gravel"):
        import skimage.data

        photo = torch.from_numpy(getattr(skimage.data, name)().astype(np.float32) / 255)
        r, c = (int(v) for v in torch.randint(0, photo.shape[0] - size + 1, (2,), generator=gen))
        return photo[r:r + size, c:c + size].expand(3, size, size).clone()
    period = int(torch.randint(8, 17, (1,), generator=gen))
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    if name == "stripes":
        pattern = ((xx + yy) // (period // 2)) % 2 == 0
    elif name == "dots":
        pattern = ((yy % period - period / 2) ** 2 + (xx % period - period / 2) ** 2) < (period / 3.2) ** 2
    else:
        pattern = ((yy // (period // 2)) + (xx // (period // 2))) % 2 == 0
    a, b = torch.randperm(len(PROBE_COLORS), generator=gen)[:2]
    ca, cb = (torch.tensor(BRODEN_COLORS[PROBE_COLORS[int(i)]]) / 255 for i in (a, b))
    return torch.where(pattern, ca[:, None, None], cb[:, None, None]).float()


def concept_probe(n: int, seed: int = 0, *, size: int = 224, mask_size: int | None = None) -> TensorConceptSet:
    """A generated probe set with exact concept masks: **a probe set, not Broden**.

    Each scene: a background of one named colour (with mild noise); a rectangle of texture (a crop of
    scikit-image's brick, grass or gravel photographs, or procedural stripes, dots or checkerboard in two
    named colours); one object pasted in another named colour: a real MNIST test digit (``"digit 0"`` ..
    ``"digit 9"``) or a real Fashion-MNIST test item (``"T-shirt/top"``, ...), enlarged to 30-45% of the side.
    Every random draw comes from a generator seeded by ``seed``.

    Parameters
    ----------
    n : int
        Number of scenes.
    seed : int, default 0
    size : int, default 224
        Image side.
    mask_size : int, optional
        Mask side (default ``size // 2``, as Broden).

    Returns
    -------
    TensorConceptSet
        Masks ``N x 3 x h x w``: layer 0 colour (background and object pixels), 1 texture, 2 object.
        ``.targets`` (int64 ``N``): the object class (0-9 digits, 10-19 Fashion-MNIST, names in ``.objects``);
        ``.texture_targets``: the texture (index into :data:`PROBE_TEXTURES`): tasks to train on.
    """
    from .data import FASHION_CLASSES, fashion_mnist, mnist

    check_range(n, "n", 1, integer=True)
    check_range(seed, "seed", 0, integer=True)
    check_range(size, "size", 32, integer=True)
    mask_size = size // 2 if mask_size is None else check_range(mask_size, "mask_size", 1, size, integer=True)
    digits, fashion = mnist("test"), fashion_mnist("test")
    objects = [f"digit {d}" for d in range(10)] + list(FASHION_CLASSES)
    concepts = ["-"] + [f"{c}-c" for c in PROBE_COLORS] + list(PROBE_TEXTURES) + objects
    categories = ["-"] + ["color"] * len(PROBE_COLORS) + ["texture"] * len(PROBE_TEXTURES) + ["object"] * len(objects)
    first_texture, first_object = 1 + len(PROBE_COLORS), 1 + len(PROBE_COLORS) + len(PROBE_TEXTURES)
    gen = torch.Generator().manual_seed(seed)
    images = torch.empty(n, 3, size, size)
    masks = torch.zeros(n, 3, size, size, dtype=torch.long)
    targets = torch.empty(n, dtype=torch.long)
    texture_targets = torch.empty(n, dtype=torch.long)
    protos = torch.tensor([BRODEN_COLORS[c] for c in PROBE_COLORS], dtype=torch.float32) / 255
    for i in range(n):
        bg, fg = (int(v) for v in torch.randperm(len(PROBE_COLORS), generator=gen)[:2])
        noise = 0.03 * torch.randn(3, size, size, generator=gen)
        images[i] = (protos[bg][:, None, None] + noise).clamp(0, 1)
        masks[i, 0] = 1 + bg
        # a texture rectangle, 30-60% of the side
        t = int(torch.randint(len(PROBE_TEXTURES), (1,), generator=gen))
        th, tw = (int(v) for v in torch.randint(int(0.3 * size), int(0.6 * size) + 1, (2,), generator=gen))
        ty = int(torch.randint(0, size - th + 1, (1,), generator=gen))
        tx = int(torch.randint(0, size - tw + 1, (1,), generator=gen))
        patch = _texture(PROBE_TEXTURES[t], max(th, tw), gen)[:, :th, :tw]
        images[i, :, ty:ty + th, tx:tx + tw] = patch
        masks[i, 0, ty:ty + th, tx:tx + tw] = 0
        masks[i, 1, ty:ty + th, tx:tx + tw] = first_texture + t
        texture_targets[i] = t
        # one object, 30-45% of the side, anywhere
        cls = int(torch.randint(len(objects), (1,), generator=gen))
        source = digits if cls < 10 else fashion
        pool = (source.targets == cls % 10).nonzero().flatten()
        item = source.images[int(pool[int(torch.randint(len(pool), (1,), generator=gen))])].float() / 255
        side = int(torch.randint(int(0.30 * size), int(0.45 * size) + 1, (1,), generator=gen))
        shape = F.interpolate(item[None], size=(side, side), mode="bilinear", align_corners=False)[0, 0]
        oy, ox = (int(v) for v in torch.randint(0, size - side + 1, (2,), generator=gen))
        alpha = shape.clamp(0, 1)
        region = images[i, :, oy:oy + side, ox:ox + side]
        images[i, :, oy:oy + side, ox:ox + side] = region * (1 - alpha) + protos[fg][:, None, None] * alpha
        on = alpha > 0.5
        masks[i, 0, oy:oy + side, ox:ox + side][on] = 1 + fg
        masks[i, 1, oy:oy + side, ox:ox + side][on] = 0
        masks[i, 2, oy:oy + side, ox:ox + side][on] = first_object + cls
        targets[i] = cls
    if mask_size != size:
        masks = F.interpolate(masks.float(), size=(mask_size, mask_size), mode="nearest").long()
    data = TensorConceptSet(images.clamp(0, 1), masks, concepts, categories,
                            f"concept probe (generated, seed {seed}): MNIST/Fashion-MNIST test items as objects, "
                            f"scikit-image and procedural textures, named colours; {digits.source}")
    data.targets, data.objects, data.texture_targets = targets, objects, texture_targets
    return data


# --------------------------------------------------------------------------- released results

def released_results(name: str = "alexnet_places365") -> DissectionTable:
    """The NetDissect results the authors released (github.com/CSAILVision/NetDissect, ``plot/*.csv``),
    read from ``data/netdissect-results/``.

    Parameters
    ----------
    name : str
        A key of :data:`RELEASED`: ``"alexnet_places365"`` (the lecture's), ``"alexnet_places205"``,
        ``"alexnet_imagenet"``, ``"resnet152_imagenet"``, ``"resnet152_places365"``.

    Returns
    -------
    DissectionTable
        Units numbered as in the CSV and the paper's figures (unit 79 = car, 107 = road in AlexNet-Places365
        conv5), sorted by unit.
    """
    from .config import data_dir

    check_choice(name, "name", list(RELEASED))
    file, title, layer = RELEASED[name]
    path = data_dir() / "netdissect-results" / file
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: copy it from github.com/CSAILVision/NetDissect (plot/{file}); "
                                f"see data/README.md")
    with open(path, newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["unit"]))
    cats = [c[: -len("-iou")] for c in rows[0] if c.endswith("-iou")]
    best = {c: ([r[f"{c}-label"] for r in rows], torch.tensor([float(r[f"{c}-iou"]) for r in rows], dtype=torch.float64))
            for c in cats}
    return DissectionTable(title, layer, [int(r["unit"]) for r in rows], [r["label"] for r in rows],
                           [r["category"] for r in rows], torch.tensor([float(r["score"]) for r in rows],
                                                                       dtype=torch.float64), best)


# --------------------------------------------------------------------------- a CNN trained on probe scenes

class ProbeNet(nn.Module):
    """A small CNN for probe scenes (``3 x 64 x 64`` in [0, 1]): four 3x3 convolutions (16, 32, 64, 64 channels),
    each followed by batch norm and a ReLU (the first three also by 2x2 max-pooling), global average pooling
    and a linear layer. Layers to dissect: ``"relu1"`` .. ``"relu4"``."""

    def __init__(self, num_classes: int = 6):
        super().__init__()
        chans = [3, 16, 32, 64, 64]
        for i in range(4):
            self.add_module(f"conv{i + 1}", nn.Conv2d(chans[i], chans[i + 1], 3, padding=1))
            self.add_module(f"bn{i + 1}", nn.BatchNorm2d(chans[i + 1]))
            self.add_module(f"relu{i + 1}", nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 5):
            x = getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))
            if i < 4:
                x = self.pool(x)
        return self.fc(x.mean((2, 3)))


PROBE_TASKS = ("texture", "object")


def probe_training_config(seed: int = 0, n_train: int = 2000, epochs: int = 4, task: str = "texture") -> dict:
    """The recipe of :func:`probe_model` (part of its cache key)."""
    return {"name": "probenet", "task": task, "seed": seed, "n_train": n_train, "n_test": 500, "size": 64,
            "epochs": epochs, "lr": 2e-3, "batch_size": 64, "optimizer": "adam", "lr_schedule": "cosine",
            "data_seed": 1000 + seed}


def probe_model(seed: int = 0, *, task: str = "texture", n_train: int = 2000, epochs: int = 4,
                pretrained: bool = True, progress: bool = True) -> ProbeNet:
    """A :class:`ProbeNet` trained to name the texture (or the object) in probe scenes of 64 x 64 px.

    Trained once by :func:`train.fit` on ``n_train`` scenes of :func:`concept_probe` (seed ``1000 + seed``) and
    cached under its recipe and seed (:func:`cache.cached_model`); ``pretrained=False`` gives the same network
    with its random initial weights (the control). ``model.test_accuracy``: on 500 scenes of another seed.
    Naming the object is much harder than naming the texture at this scale (in our runs a few thousand scenes
    gave well under 20% after several epochs), so the lesson trains on textures.

    Parameters
    ----------
    seed : int, default 0
        Seed of the initial weights and of training, ``>= 0``; the training scenes use seed ``1000 + seed``.
    task : {"texture", "object"}, default "texture"
        What the network names: the texture (6 classes, :data:`PROBE_TEXTURES`) or the object (20 classes:
        digits 0-9, then the 10 Fashion-MNIST items).
    n_train : int, default 2000
        Number of training scenes, ``>= 100``.
    epochs : int, default 4
        Training epochs, ``>= 1``.
    pretrained : bool, default True
        False: the untrained network (its random initial weights), with ``test_accuracy = None``.
    progress : bool, default True
        Show training progress (when the model is not in the cache).

    Returns
    -------
    ProbeNet
        On the CPU in eval mode, taking ``B x 3 x 64 x 64`` images in [0, 1]; attributes ``test_accuracy``
        (float, or None when untrained) and, when trained, ``history`` (:func:`train.fit`'s per-epoch records).

    Raises
    ------
    ValueError
        When an argument is out of range or ``task`` is not one of the two.
    TypeError
        When ``seed``, ``n_train`` or ``epochs`` is not an int, or ``pretrained`` is not a bool.
    """
    from . import cache, train
    from .config import seeded

    check_range(seed, "seed", 0, integer=True)
    check_choice(task, "task", PROBE_TASKS)
    check_range(n_train, "n_train", 100, integer=True)
    check_range(epochs, "epochs", 1, integer=True)
    check_flag(pretrained, "pretrained")
    cfg = probe_training_config(seed, n_train, epochs, task)
    classes = len(PROBE_TEXTURES) if task == "texture" else 20

    def build() -> ProbeNet:
        with seeded(seed):
            return ProbeNet(classes)

    if not pretrained:
        model = build().eval()
        model.test_accuracy = None
        return model

    def fit(model: ProbeNet) -> dict:
        scenes = concept_probe(n_train, cfg["data_seed"], size=cfg["size"])
        test = concept_probe(cfg["n_test"], cfg["data_seed"] + 500, size=cfg["size"])
        label = (lambda d: d.texture_targets) if task == "texture" else (lambda d: d.targets)
        history = train.fit(model, (scenes._images, label(scenes)), (test._images, label(test)), epochs=epochs,
                            lr=cfg["lr"], batch_size=cfg["batch_size"], seed=seed, progress=progress)
        return {"history": history, "test_accuracy": history[-1]["test_acc"]}

    model, meta = cache.cached_model("probenet", cfg, build, fit)
    model.history, model.test_accuracy = meta.get("history"), meta.get("test_accuracy")
    return model.cpu().eval()
