"""Lesson 03: what have ConvNets learned?

The lecture's "basic visualisation techniques", each a short function of a model and images in [0, 1].
This module holds the math only; the figures and the widget are in :mod:`lectures_lib.plotting.visualize`.

- :func:`capture_activations` and :func:`activation_maps`: the output of named layers for some images.
- :func:`collect_features`: one layer's activations over a whole dataset, in one streaming pass.
- :func:`receptive_field` and :func:`top_activating_patches`: the image patches that excite a unit most.
- :func:`nearest_neighbors` and :func:`neighbor_agreement`: neighbours in feature space versus pixel space.
- :func:`embed_tsne` and :func:`grid_layout`: t-SNE maps of the features (van der Maaten and Hinton 2008),
  snapped to Karpathy's thumbnail grid.
- :func:`deconvnet` (Zeiler and Fergus, ECCV 2014) and :func:`guided_backprop` (Springenberg et al.,
  ICLR 2015 workshop): a class or a unit projected back to pixel space, by swapping the backward rule of
  every ReLU inside the :class:`relu_rule` context; :func:`projection_image` and
  :func:`project_top_patches` make them displayable.

Conventions (the course's contract): ``method(model, x, target=None, *, options)``; ``target=None`` is the
model's predicted class (or, with a ``layer``, each image's most strongly activated channel); results come
back on the device and in the dtype of ``x``; float32 and float64 models both work. Layer names are
``model.named_modules()`` names (``"c1"`` for LeNet-5, ``"net._blocks.10"`` for EfficientNet-Lite0). A module
called several times in one forward pass (EfficientNet's ``_swish`` ReLU6 is) stands for its **last** call,
as in Captum.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

from .plumbing import (
    count_items,
    eval_mode,
    hooks,
    input_channels,
    input_gradient,
    layer_outputs,
    model_device,
    run_model,
    stream_activations,
)
from .validation import check_choice, check_features, check_images, check_labels, check_model, check_range, get_module

__all__ = [
    "RULES", "Neighbors", "ReceptiveField", "TopPatches", "activation_maps", "capture_activations", "collect_features",
    "deconvnet", "deconvnet_without_switches", "embed_tsne", "grid_layout", "guided_backprop", "layer_depth",
    "nearest_neighbors", "neighbor_agreement", "no_switches", "project_top_patches", "projection_image",
    "receptive_field", "relu_rule", "top_activating_patches", "unit_selectivity",
]


# --------------------------------------------------------------------------- activations

def _layer_names(layers) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers) if isinstance(layers, (list, tuple)) else None
    if names is None:
        raise TypeError(f"layers must be a layer name or a list of names, got {type(layers).__name__}")
    if not names:
        raise ValueError("layers must name at least one layer")
    return names


def capture_activations(model: nn.Module, x: torch.Tensor, layers: str | Sequence[str]) -> dict[str, torch.Tensor]:
    """The outputs of named layers for images ``x``, from one forward pass with hooks.

    Parameters
    ----------
    model : nn.Module
        Maps ``B x C x H x W`` images in [0, 1] to logits.
    x : Tensor
        ``B x C x H x W`` images in [0, 1] (any float dtype: the model's dtype is used inside).
    layers : str or list of str
        ``model.named_modules()`` names.

    Returns
    -------
    dict
        ``{layer: B x ...}`` (``B x K x h x w`` for a convolution), on the device and in the dtype of ``x``.
        They are copies, so in-place ReLUs later in the network cannot change them. Runs in eval mode
        without gradients; the hooks are removed and every module's train/eval flag restored, even after
        an error.
    """
    check_images(x, "x", channels=input_channels(model), min_batch=1)
    names = _layer_names(layers)
    with eval_mode(model), torch.no_grad():
        outputs, _ = layer_outputs(model, x, names)
    return {name: out.to(x.device, x.dtype) for name, out in outputs.items()}


def activation_maps(model: nn.Module, x: torch.Tensor, layers: str | Sequence[str]) -> dict[str, torch.Tensor]:
    """The precomputation behind the activation-map widget: every channel's map at each of ``layers`` for
    all images ``x``, computed once (:func:`capture_activations`), refusing layers whose output is not a map.

    Parameters
    ----------
    model, x, layers
        As in :func:`capture_activations`.

    Returns
    -------
    dict
        ``{layer: B x K x h x w}`` on the device and in the dtype of ``x``.
    """
    acts = capture_activations(model, x, layers)
    for name, a in acts.items():
        if a.dim() != 4:
            raise ValueError(f"layers: layer {name!r} gives {tuple(a.shape)} activations, not B x K x h x w maps")
    return acts


def _image_at(data, i: int) -> torch.Tensor:
    """Image ``i`` (``C x H x W``) of a tensor, an ``(x, y)`` pair or a Dataset of ``(image, label)``."""
    if isinstance(data, torch.Tensor):
        return data[i]
    if isinstance(data, (tuple, list)):
        return data[0][i]
    return data[i][0]


def _first_image(data) -> torch.Tensor:
    """The first image of ``data``, after checking that there is one (its device and dtype are the results')."""
    if count_items(data) == 0:
        raise ValueError("data must hold at least one image, got none")
    image = _image_at(data, 0)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"data must hold image tensors, got {type(image).__name__}")
    return image


def collect_features(model: nn.Module, data, layer: str, *, batch_size: int = 64, flatten: bool = True,
                     progress: bool = True) -> torch.Tensor:
    """The activations of ``layer`` for every image of ``data``, in one streaming pass
    (:func:`lectures_lib.plumbing.stream_activations`; the network after ``layer`` is not run).

    Parameters
    ----------
    model : nn.Module
    data : Dataset of ``(image, label)``, tensor ``N x C x H x W`` or pair ``(x, y)``
        Images in [0, 1].
    layer : str
        A ``named_modules`` name, e.g. the penultimate layer for neighbours and t-SNE.
    batch_size : int, default 64
    flatten : bool, default True
        ``N x D`` features; False keeps each image's activation shape (``N x ...``).
    progress : bool, default True
        Show a progress bar.

    Returns
    -------
    Tensor
        ``N x D`` (or ``N x ...``) on the device and in the dtype of the data's images.
    """
    check_range(batch_size, "batch_size", 1, integer=True)
    ref = _first_image(data)
    if not isinstance(layer, str):
        raise TypeError(f"layer must be one layer name (a str), got {type(layer).__name__}")
    feats = torch.cat([acts[layer].to(ref.device, ref.dtype)
                       for _, acts in stream_activations(model, data, [layer], batch_size, progress, f"features {layer}")])
    return feats.flatten(1) if flatten else feats


# --------------------------------------------------------------------------- receptive fields

_Axis = tuple  # (start, size, jump) along one image axis, in input pixels
GLOBAL, UNKNOWN = "global", "unknown"


@dataclass(frozen=True)
class ReceptiveField:
    """Where a unit of a layer looks in the input image, from the layer arithmetic.

    Unit ``(row, col)`` of the layer's map sees input rows ``start[0] + row * jump[0]`` up to (not including)
    that plus ``size[0]``, and likewise for columns. ``start`` is negative where the field begins in the
    padding. A layer whose units see the whole image (after global pooling or a linear layer) has
    ``size == image_size`` and ``jump == (0, 0)``. (After a dilated convolution whose taps lie further apart
    than the fields below them, the field has holes; the box is their bounding box.)
    """
    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]
    image_size: tuple[int, int]
    map_size: tuple[int, int]

    @property
    def offset(self) -> tuple[float, float]:
        """Centre of unit (0, 0)'s field: ``start + (size - 1) / 2`` (the "start" of the usual formulas)."""
        return tuple(s + (z - 1) / 2 for s, z in zip(self.start, self.size))

    def box(self, row: int, col: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of unit ``(row, col)``'s field, clipped to the image (bottom, right excluded)."""
        (h, w), (top, left) = self.image_size, self._corner(row, col)
        return max(top, 0), max(left, 0), min(top + self.size[0], h), min(left + self.size[1], w)

    def crop(self, image: torch.Tensor, row: int, col: int, fill: float = 0.5) -> torch.Tensor:
        """The field of unit ``(row, col)`` cut from ``image`` (``C x H x W``), on a canvas of the field's size
        (at most the image's: ``C x min(size[0], H) x min(size[1], W)``) with ``fill`` where the field
        reaches beyond the image. A field larger than the image gives the image, padded on its cut side."""
        (top, left), (t0, l0, t1, l1) = self._corner(row, col), self.box(row, col)
        ch, cw = min(self.size[0], image.shape[1]), min(self.size[1], image.shape[2])
        patch = image.new_full((image.shape[0], ch, cw), fill)
        if t1 > t0 and l1 > l0:
            oy, ox = min(max(t0 - top, 0), ch - (t1 - t0)), min(max(l0 - left, 0), cw - (l1 - l0))
            patch[:, oy:oy + t1 - t0, ox:ox + l1 - l0] = image[:, t0:t1, l0:l1]
        return patch

    def _corner(self, row: int, col: int) -> tuple[int, int]:
        return self.start[0] + row * self.jump[0], self.start[1] + col * self.jump[1]


def _pair(v) -> tuple:
    return (v, v) if isinstance(v, (int, float)) else (tuple(v) * 2)[:2] if len(v) == 1 else tuple(v)


def _arg(args, kwargs, i: int, name: str, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _window(axis: _Axis, k: int, stride: int, pad: int, dilation: int = 1) -> _Axis:
    """A ``k``-wide window (stride, left padding, dilation) over units whose fields are ``axis``:
    start_out = start - pad * jump; size_out = size + (k - 1) * dilation * jump; jump_out = jump * stride."""
    start, size, jump = axis
    return start - pad * jump, size + (k - 1) * dilation * jump, jump * stride


def _op_field(func, args, kwargs, x: torch.Tensor, out: torch.Tensor, fld):
    """The field of the output ``out`` of ``func(x, ...)`` when ``x``'s units have field ``fld``."""
    name = getattr(func, "__name__", "")
    if fld in (GLOBAL, UNKNOWN):
        return fld
    if out.dim() != 4 or x.dim() != 4:
        return GLOBAL                                   # flattened or pooled away: every unit sees everything
    if name == "conv2d":
        k, s, d = args[1].shape[-2:], _pair(_arg(args, kwargs, 3, "stride", 1)), _pair(_arg(args, kwargs, 5, "dilation", 1))
        p = _arg(args, kwargs, 4, "padding", 0)
        p = (0, 0) if p == "valid" else tuple(di * (ki - 1) // 2 for ki, di in zip(k, d)) if p == "same" else _pair(p)
        return tuple(_window(a, *kspd) for a, kspd in zip(fld, zip(k, s, p, d)))
    if name in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
        k = _pair(_arg(args, kwargs, 1, "kernel_size"))
        s = _arg(args, kwargs, 2, "stride", None)
        s = k if s is None or (not isinstance(s, int) and len(s) == 0) else _pair(s)
        p = _pair(_arg(args, kwargs, 3, "padding", 0))
        d = _pair(_arg(args, kwargs, 4, "dilation", 1)) if name.startswith("max") else (1, 1)
        return tuple(_window(a, *kspd) for a, kspd in zip(fld, zip(k, s, p, d)))
    if name in ("pad", "constant_pad_nd"):
        pad = tuple(_arg(args, kwargs, 1, "pad"))
        left, top = pad[0], pad[2] if len(pad) >= 4 else 0
        return tuple((start - p * jump, size, jump) for (start, size, jump), p in zip(fld, (top, left)))
    if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        (h, w), (oh, ow) = x.shape[-2:], out.shape[-2:]
        if oh == ow == 1:
            return GLOBAL
        if h % oh or w % ow:
            return UNKNOWN
        return tuple(_window(a, n // o, n // o, 0) for a, n, o in zip(fld, (h, w), (oh, ow)))
    return fld if out.shape[-2:] == x.shape[-2:] else UNKNOWN   # pointwise, per-channel or channel-mixing ops


def _union(fields: list):
    """The field of a tensor computed from several (a residual sum, a concatenation): the union of the boxes."""
    if UNKNOWN in fields or GLOBAL in fields:
        return UNKNOWN if UNKNOWN in fields else GLOBAL
    axes = []
    for axis in zip(*fields):
        if len({jump for _, _, jump in axis}) > 1:
            return UNKNOWN
        lo, hi = min(s for s, _, _ in axis), max(s + z for s, z, _ in axis)
        axes.append((lo, hi - lo, axis[0][2]))
    return tuple(axes)


class _FieldTracer(TorchFunctionMode):
    """Follows one forward pass call by call and attaches to every tensor the receptive field of its
    units. Functional calls count too (LeNet-5 pads its input with ``F.pad``; EfficientNet's
    "same"-padding convolutions pad in a ``ZeroPad2d`` module before calling ``F.conv2d``)."""

    def __init__(self):
        super().__init__()
        self.fields = WeakIdKeyDictionary()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor) and t in self.fields]
        if inputs:
            fld = _union([self.fields[t] for t in inputs])
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    self.fields[t] = _op_field(func, args, kwargs, inputs[0], t, fld)
        return out


def _default_image_shape(model: nn.Module) -> tuple[int, int, int]:
    return (1, 28, 28) if input_channels(model) == 1 else (3, 224, 224)


def _check_image_shape(image_shape, model) -> tuple[int, int, int]:
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list, torch.Size)) else None
    if shape is None or len(shape) != 3 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                                   and s >= 1 for s in shape):
        raise ValueError(f"image_shape must be (C, H, W), three ints >= 1, got {image_shape!r}")
    channels = input_channels(model)
    if channels is not None and shape[0] != channels:
        raise ValueError(f"image_shape must have {channels} channel(s) for this model, got {shape}")
    return shape


def receptive_field(model: nn.Module, layer: str, *, image_shape: Sequence[int] | None = None) -> ReceptiveField:
    """Receptive field size, jump (stride in input pixels) and start of the units of ``layer``.

    The layer arithmetic (references.md): per convolution or pooling of kernel k, stride s, padding p,
    dilation d: ``jump_out = jump_in * s``, ``size_out = size_in + (k - 1) * d * jump_in``,
    ``start_out = start_in - p * jump_in``; explicit padding moves the start; where branches meet
    (residual sums) the fields are united. The operations are read off one forward pass on a grey dummy
    image, so functional padding and TensorFlow-style "same" padding are followed too.

    Parameters
    ----------
    model : nn.Module
    layer : str
        A ``named_modules`` name.
    image_shape : (C, H, W), optional
        The input size; default ``1 x 28 x 28`` for one-channel models, else ``3 x 224 x 224``.

    Returns
    -------
    ReceptiveField
        ``size``, ``jump``, ``start`` (rows, cols) in input pixels, the image and map sizes; ``box`` and
        ``crop`` locate a unit's field.
    """
    module = get_module(model, layer)
    shape = _check_image_shape(image_shape, model) if image_shape is not None else _default_image_shape(model)
    x = torch.full((1, *shape), 0.5, device=model_device(model))
    tracer, seen = _FieldTracer(), {}

    def keep(_name, _module, _inputs, output):
        seen["field"], seen["shape"] = tracer.fields.get(output, UNKNOWN), tuple(output.shape)

    with hooks({layer: module}, keep), eval_mode(model), torch.no_grad(), tracer:
        tracer.fields[x] = ((0, 1, 1), (0, 1, 1))
        run_model(model, x, "image_shape")
    fld, out_shape = seen.get("field", UNKNOWN), seen.get("shape", ())
    if fld == UNKNOWN:
        raise ValueError(f"cannot work out the receptive field of layer {layer!r}: an operation before it changes "
                         "the map size in a way receptive_field does not follow (it knows convolutions, pooling, "
                         "padding and pointwise operations)")
    map_size = tuple(out_shape[-2:]) if len(out_shape) == 4 else (1, 1)
    if fld == GLOBAL:
        return ReceptiveField(shape[1:], (0, 0), (0, 0), shape[1:], map_size)
    return ReceptiveField(tuple(a[1] for a in fld), tuple(a[2] for a in fld), tuple(a[0] for a in fld),
                          shape[1:], map_size)


# --------------------------------------------------------------------------- maximally activating patches

@dataclass
class TopPatches:
    """What :func:`top_activating_patches` found for one layer: for unit ``units[u]``, the ``k`` strongest
    images (at most one hit per image) in descending order: ``values[u]``, ``image_index[u]`` and
    ``position[u]`` (``k x 2``: row, col of the strongest unit in that image's map). ``field`` is the
    layer's :class:`ReceptiveField`; ``data`` the images searched."""
    layer: str
    units: list[int]
    values: torch.Tensor
    image_index: torch.Tensor
    position: torch.Tensor
    field: ReceptiveField
    data: Any = field(repr=False)

    def _row(self, unit: int) -> int:
        if isinstance(unit, bool) or not isinstance(unit, numbers.Integral) or unit not in self.units:
            raise ValueError(f"unit {unit!r} was not searched; units searched: {self.units[:8]}"
                             + (" ..." if len(self.units) > 8 else ""))
        return self.units.index(unit)

    def boxes(self, unit: int) -> list[tuple[int, int, int, int]]:
        """``(top, left, bottom, right)`` of each hit's receptive field in its image."""
        return [self.field.box(int(r), int(c)) for r, c in self.position[self._row(unit)]]

    def patches(self, unit: int, fill: float = 0.5) -> torch.Tensor:
        """The ``k`` patches of ``unit``: ``k x C x h x w`` crops of the receptive fields from their images
        (:meth:`ReceptiveField.crop`), ``fill`` (in [0, 1]) where a field leaves its image."""
        u, fill = self._row(unit), check_range(fill, "fill", 0, 1)
        return torch.stack([self.field.crop(_image_at(self.data, int(i)), int(r), int(c), fill)
                            for i, (r, c) in zip(self.image_index[u], self.position[u])])

    def strongest_units(self, n: int) -> list[int]:
        """The ``n`` units with the largest top activation."""
        check_range(n, "n", 1, integer=True)
        order = torch.argsort(self.values[:, 0], descending=True, stable=True)[:n]
        return [self.units[int(i)] for i in order]


def _merge_top(best, new, k: int):
    """Keep the ``k`` largest of (running best, new batch) per unit. The stable sort breaks ties in
    favour of the earlier image, so the result does not depend on how the data are batched."""
    merged = new if best is None else tuple(torch.cat([b, n], dim=1) for b, n in zip(best, new))
    order = torch.sort(merged[0], dim=1, descending=True, stable=True).indices[:, :k]
    return tuple(t.gather(1, order) for t in merged)


def _check_units(unit, channels: int) -> list[int]:
    if unit is None:
        return list(range(channels))
    units = list(unit.tolist() if isinstance(unit, torch.Tensor) else unit) if isinstance(
        unit, (list, tuple, torch.Tensor)) else [unit]
    if not units:
        raise ValueError("unit must name at least one unit (or be None for all)")
    for u in units:
        check_range(u, "unit", 0, channels - 1, integer=True)
    return [int(u) for u in units]


def top_activating_patches(model: nn.Module, data, layer: str | Sequence[str], unit: int | Sequence[int] | None = None,
                           *, k: int = 9, batch_size: int = 64, progress: bool = True) -> TopPatches | dict[str, TopPatches]:
    """The image patches that activate units of ``layer`` most (the lecture's "maximally activating patches").

    One streaming pass over ``data``: each batch's activations give every unit's strongest position per
    image, and a running top-``k`` over batches keeps the ``k`` best images per unit (ties go to the earlier
    image, so batching does not matter). The patches are the hits' receptive fields
    (:func:`receptive_field`), cropped on demand by :meth:`TopPatches.patches`.

    Parameters
    ----------
    model : nn.Module
    data : Dataset of ``(image, label)``, tensor ``N x C x H x W`` or pair ``(x, y)``
        Images in [0, 1].
    layer : str or list of str
        One layer, or several searched in the same pass.
    unit : int, list of int or None, default None
        Channels of the layer to search; None searches them all.
    k : int, default 9
        Hits kept per unit, ``1 <= k <= N``.
    batch_size : int, default 64
    progress : bool, default True

    Returns
    -------
    TopPatches, or ``{layer: TopPatches}`` when ``layer`` is a list
        Values on the device and in the dtype of the data's images.
    """
    ref = _first_image(data)
    check_range(k, "k", 1, count_items(data), integer=True)
    check_range(batch_size, "batch_size", 1, integer=True)
    names = _layer_names(layer)
    best, units, widths = {}, {}, {}
    for start, outputs in stream_activations(model, data, names, batch_size, progress, "top patches"):
        for name in names:
            acts = outputs[name]
            if name not in units:
                units[name], widths[name] = _check_units(unit, acts.shape[1]), acts.shape[-1] if acts.dim() == 4 else 1
            maps = acts[:, units[name]].flatten(2) if acts.dim() > 2 else acts[:, units[name], None]
            values, flat = maps.max(dim=2)               # B x U: each image's strongest position per unit
            index = torch.arange(start, start + len(acts), device=acts.device)[:, None].expand_as(values)
            best[name] = _merge_top(best.get(name), (values.T, index.T, flat.T), k)
    result = {}
    for name in names:
        (values, index, flat), width = (t.to(ref.device) for t in best[name]), widths[name]
        result[name] = TopPatches(name, units[name], values.to(ref.dtype), index,
                                  torch.stack([flat // width, flat % width], -1),
                                  receptive_field(model, name, image_shape=tuple(ref.shape)), data)
    return result[names[0]] if isinstance(layer, str) else result


# --------------------------------------------------------------------------- nearest neighbours

class Neighbors(NamedTuple):
    """Indices (``k``, or ``Q x k`` for several queries) of the nearest rows, closest first, and their distances."""
    indices: torch.Tensor
    distances: torch.Tensor


def _as_features(features, name: str = "features", min_rows: int = 1) -> torch.Tensor:
    """``features`` (a tensor or array ``N x D``; images ``N x C x H x W`` are flattened) as a checked
    ``N x D`` tensor (:func:`~lectures_lib.validation.check_features`) with at least ``min_rows`` rows."""
    if isinstance(features, np.ndarray) and features.dtype.kind in "fiu":
        features = torch.from_numpy(features)
    if isinstance(features, torch.Tensor) and features.dim() > 2:
        features = features.flatten(1)
    feats = check_features(features, name).detach()
    if len(feats) < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} rows, got {len(feats)}")
    return feats


def _check_queries(query_index, n: int) -> tuple[torch.Tensor, bool]:
    single = isinstance(query_index, (numbers.Integral, np.integer)) and not isinstance(query_index, bool)
    raw = [query_index] if single else query_index
    if isinstance(raw, torch.Tensor):
        raw = raw.tolist() if raw.dim() == 1 and not raw.is_floating_point() and raw.dtype != torch.bool else None
    ok = isinstance(raw, (list, tuple, range)) and len(raw) > 0 and all(
        isinstance(q, (numbers.Integral, np.integer)) and not isinstance(q, bool) and 0 <= q < n for q in raw)
    if not ok:
        raise ValueError(f"query_index must be an index (or a non-empty list of indices) in [0, {n}), got {query_index!r}")
    return torch.as_tensor([int(q) for q in raw], dtype=torch.long), single


def nearest_neighbors(features: torch.Tensor, query_index: int | Sequence[int], *, k: int = 5,
                      metric: str = "euclidean") -> Neighbors:
    """The ``k`` rows of ``features`` nearest to row ``query_index``, the query itself excluded.

    Parameters
    ----------
    features : Tensor or array ``N x D``
        Finite features (``N >= 2``); images ``N x C x H x W`` are flattened (pixel space).
    query_index : int or sequence of int
        Row(s) in ``[0, N)``.
    k : int, default 5
        ``1 <= k <= N - 1``.
    metric : {"euclidean", "cosine"}, default "euclidean"
        ``"cosine"`` is 1 - cosine similarity.

    Returns
    -------
    Neighbors
        ``indices`` (int64) and ``distances`` (the dtype of ``features``), ``k`` for one query or
        ``Q x k``, closest first; ties go to the lower index. On the device of ``features``.
    """
    check_choice(metric, "metric", ("euclidean", "cosine"))
    feats = _as_features(features, min_rows=2)
    n = len(feats)
    check_range(k, "k", 1, n - 1, integer=True)
    queries, single = _check_queries(query_index, n)
    queries = queries.to(feats.device)
    if metric == "euclidean":
        dist = torch.cdist(feats[queries].double(), feats.double())
    else:
        unit = F.normalize(feats.double(), dim=1)
        dist = 1 - unit[queries] @ unit.T
    dist[torch.arange(len(queries)), queries] = float("inf")       # not its own neighbour
    d, idx = torch.sort(dist, dim=1, stable=True)
    d, idx = d[:, :k].to(feats.dtype), idx[:, :k]
    return Neighbors(idx[0], d[0]) if single else Neighbors(idx, d)


def neighbor_agreement(features: torch.Tensor, labels: torch.Tensor, *, k: int = 5, metric: str = "euclidean",
                       chunk: int = 512) -> float:
    """How well a feature space groups the classes: the mean fraction of each row's ``k`` nearest
    neighbours (itself excluded, :func:`nearest_neighbors`) that share its label.

    Parameters
    ----------
    features : Tensor or array ``N x D`` (images are flattened)
    labels : Tensor ``N`` of class indices
    k, metric
        As in :func:`nearest_neighbors`.
    chunk : int, default 512
        Queries per distance computation (memory ``chunk x N``).

    Returns
    -------
    float
        In [0, 1]; 1.0 = neighbours always of the same class.
    """
    feats = _as_features(features, min_rows=2)
    n = len(feats)
    labels = check_labels(labels, n, name="labels").to(feats.device)
    check_range(chunk, "chunk", 1, integer=True)
    same = [labels[nearest_neighbors(feats, list(range(i, min(i + chunk, n))), k=k, metric=metric).indices]
            == labels[i:i + chunk, None] for i in range(0, n, chunk)]
    return float(torch.cat(same).float().mean())


# --------------------------------------------------------------------------- t-SNE maps

def embed_tsne(features: torch.Tensor, *, perplexity: float = 30.0, pca_dims: int = 50, seed: int = 0,
               max_iter: int = 1000) -> np.ndarray:
    """2-D t-SNE embedding (van der Maaten and Hinton, JMLR 2008) of ``features``: PCA to ``pca_dims``
    dimensions first (as is usual: less noise, faster), then scikit-learn's Barnes-Hut t-SNE with PCA
    initialisation, seeded.

    Parameters
    ----------
    features : Tensor or array ``N x D`` (images are flattened), finite
    perplexity : float, default 30
        The effective number of neighbours, ``0 < perplexity < N``.
    pca_dims : int, default 50
        At least 2.
    seed : int, default 0
    max_iter : int, default 1000
        At least 250 (scikit-learn's minimum).

    Returns
    -------
    ndarray
        ``N x 2`` float32 coordinates.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = _as_features(features, min_rows=2).cpu().double().numpy()
    check_range(perplexity, "perplexity", 0, len(x) - 1, low_inclusive=False)
    check_range(pca_dims, "pca_dims", 2, integer=True)
    check_range(seed, "seed", 0, 2**32 - 1, integer=True)
    check_range(max_iter, "max_iter", 250, integer=True)
    if x.shape[1] > pca_dims:
        x = PCA(min(pca_dims, len(x)), random_state=seed).fit_transform(x)
    tsne = TSNE(2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed, max_iter=max_iter)
    return tsne.fit_transform(x).astype(np.float32)


def grid_layout(points, rows: int, cols: int) -> np.ndarray:
    """Snap 2-D points to a ``rows x cols`` grid, one point per cell, keeping the layout (Karpathy's t-SNE
    grid): the assignment of points to cells with the least total squared distance, points and cells both
    scaled to the unit square (the Hungarian algorithm, scipy's ``linear_sum_assignment``).

    Parameters
    ----------
    points : array or Tensor ``N x 2``, finite
    rows, cols : int
        ``rows * cols >= N``.

    Returns
    -------
    ndarray
        ``N`` cell indices (``row * cols + col``; row 0 at the top, as y points up in a scatter plot).
    """
    from scipy.optimize import linear_sum_assignment

    p = _as_features(points, "points").cpu().double().numpy()
    if p.shape[1] != 2:
        raise ValueError(f"points must be an N x 2 array, got shape {p.shape}")
    check_range(rows, "rows", 1, integer=True)
    check_range(cols, "cols", 1, integer=True)
    if rows * cols < len(p):
        raise ValueError(f"rows x cols: a {rows} x {cols} grid has fewer cells than the {len(p)} points")
    p = (p - p.min(0)) / np.maximum(p.max(0) - p.min(0), 1e-12)
    cy, cx = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols, indexing="ij")
    cells = np.stack([cx.ravel(), 1 - cy.ravel()], 1)              # y up, as in a scatter plot
    cost = ((p[:, None, :] - cells[None]) ** 2).sum(-1)
    point, cell = linear_sum_assignment(cost)
    return cell[np.argsort(point)]


# --------------------------------------------------------------------------- deconvnet and guided backprop

RULES = ("deconvnet", "guided")

class _RuleReLU(torch.autograd.Function):
    """ReLU (``upper=None``) or ReLU6 (``upper=6``) whose backward pass follows a visualisation rule.

    deconvnet (Zeiler and Fergus 2014): the signal going down is rectified, ``relu(g)``, and the
    forward pass is ignored. guided backprop (Springenberg et al. 2015): ``relu(g)`` times the unit's
    own gradient gate: ``x > 0`` for ReLU and ``0 < x < 6`` for ReLU6 (a ReLU6 that saturated passes
    nothing back, as its true gradient is zero there). The upper clip of ReLU6 is not applied to the
    signal going down (its scale is arbitrary), so both rules treat ReLU6 as a ReLU except for that gate.
    """

    @staticmethod
    def forward(ctx, x, upper, inplace, rule):
        y = x.clamp_(0, upper) if inplace else x.clamp(0, upper)
        if inplace:
            ctx.mark_dirty(x)
        ctx.save_for_backward(y)
        ctx.upper, ctx.rule = upper, rule
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        grad = grad.clamp(min=0)                              # both rules: only positive signals go down
        if ctx.rule == "guided":                              # guided backprop also keeps the ReLU's gate
            gate = (y > 0) if ctx.upper is None else (y > 0) & (y < ctx.upper)
            grad = grad * gate
        return grad, None, None, None


_RELU_FUNCS = {F.relu, torch.relu, torch.relu_, F.relu_, torch.Tensor.relu, torch.Tensor.relu_}
_HARDTANH_FUNCS = {F.hardtanh, F.hardtanh_, F.relu6}


def _relu_call(func, args, kwargs):
    """``(x, upper, inplace)`` when ``func(*args, **kwargs)`` computes a ReLU or a ReLU6, else None."""
    if func in _RELU_FUNCS:
        return args[0], None, func in (torch.relu_, F.relu_, torch.Tensor.relu_) or bool(_arg(args, kwargs, 1, "inplace", False))
    if func in _HARDTANH_FUNCS:
        low, high = (0.0, 6.0) if func is F.relu6 else (_arg(args, kwargs, 1, "min_val", -1.0),
                                                        _arg(args, kwargs, 2, "max_val", 1.0))
        inplace = func is F.hardtanh_ or bool(_arg(args, kwargs, 1 if func is F.relu6 else 3, "inplace", False))
        return (args[0], float(high), inplace) if low == 0 else None
    return None


class relu_rule(TorchFunctionMode):
    """Context manager: inside ``with relu_rule("guided"):`` (or ``"deconvnet"``) every ReLU and ReLU6 the
    model computes (``nn.ReLU``/``nn.ReLU6`` modules, in-place or not, reused or not, and functional
    ``F.relu``/``F.relu6``) runs as an autograd function whose backward is the chosen rule
    (:class:`_RuleReLU`). The forward values are unchanged, and nothing in the model is modified: the
    interception ends with the block."""

    def __init__(self, rule: str):
        check_choice(rule, "rule", RULES)
        super().__init__()
        self.rule = rule

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        call = _relu_call(func, args, kwargs)
        if call is None:
            return func(*args, **kwargs)
        x, upper, inplace = call
        return _RuleReLU.apply(x, upper, inplace, self.rule)




def _check_position(position, n: int) -> torch.Tensor:
    """``position`` (``(row, col)`` for every image, or ``B x 2``) as a ``B x 2`` int64 tensor."""
    try:
        pos = torch.as_tensor(position)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"position must be (row, col) or B x 2 integer indices, got {position!r}") from err
    if pos.is_floating_point() or pos.is_complex() or pos.dtype == torch.bool or tuple(pos.shape) not in ((2,), (n, 2)):
        raise ValueError(f"position must be (row, col) or {n} x 2 integer indices, got {position!r}")
    if (pos < 0).any():
        raise ValueError(f"position must hold indices >= 0, got {position!r}")
    return pos.long().reshape(-1, 2).expand(n, 2)


def _unit_value(acts: torch.Tensor, channel: torch.Tensor | None, position: torch.Tensor | None,
                layer: str | None) -> torch.Tensor:
    """The sum over images of one unit per image: for logits ``B x K``, entry ``channel`` (None: the
    largest, i.e. the predicted class); for maps ``B x K x h x w``, channel ``channel`` (None: the one with
    the strongest activation in that image) at ``position`` (None: where that channel is strongest)."""
    b, k = acts.shape[:2]
    what = "a class index" if layer is None else f"a channel index of layer {layer!r}"
    if acts.dim() not in (2, 4):
        wanted = "the model must return B x K logits" if layer is None else \
            f"layer {layer!r} must give B x K or B x K x h x w activations"
        raise ValueError(f"{wanted}, got shape {tuple(acts.shape)}")
    rows = torch.arange(b, device=acts.device)
    strength = acts.detach().flatten(2).amax(dim=2) if acts.dim() == 4 else acts.detach()
    if channel is None:
        channel = strength.argmax(dim=1)
    elif channel.numel() and channel.max() >= k:
        raise ValueError(f"target must be {what} in [0, {k}), got {int(channel.max())}")
    channel = channel.to(acts.device)
    if acts.dim() == 2:
        if position is not None:
            raise ValueError(f"position needs a layer with B x K x h x w maps; {layer or 'the logits'} "
                             f"give shape {tuple(acts.shape)}")
        return acts[rows, channel].sum()
    h, w = acts.shape[-2:]
    maps = acts[rows, channel].flatten(1)                          # B x (h * w)
    if position is None:
        flat = maps.detach().argmax(dim=1)
    else:
        position = position.to(acts.device)
        if (position[:, 0] >= h).any() or (position[:, 1] >= w).any():
            raise ValueError(f"position must be (row, col) inside the {h} x {w} map of layer {layer!r}, "
                             f"got rows up to {int(position[:, 0].max())}, cols up to {int(position[:, 1].max())}")
        flat = position[:, 0] * w + position[:, 1]
    return maps.gather(1, flat[:, None]).sum()


def _project(model: nn.Module, x: torch.Tensor, target, layer: str | None, position, rule: str,
             batch_size: int) -> torch.Tensor:
    """Gradient of one unit per image (:func:`_unit_value`) w.r.t. ``x``, every ReLU's backward replaced
    by ``rule`` (:class:`relu_rule`). Max-pooling keeps its switches (autograd routes to the argmax) and
    convolutions go back through their transposes, as in Zeiler and Fergus's deconvnet."""
    check_model(model)
    check_images(x, "x", channels=input_channels(model), min_batch=1)
    check_range(batch_size, "batch_size", 1, integer=True)
    n = x.shape[0]
    channel = None if target is None else check_labels(target, n, name="target")
    if layer is None:
        if position is not None:
            raise ValueError("position needs a layer: with layer=None a class logit is projected")
        forward = model
    else:
        get_module(model, layer)
        position = None if position is None else _check_position(position, n)

        def forward(xb):
            return layer_outputs(model, xb, [layer], keep_graph=True)[0][layer]

    def objective(acts, rows):
        return _unit_value(acts, None if channel is None else channel[rows.cpu()],
                           None if position is None else position[rows.cpu()], layer)

    with eval_mode(model), relu_rule(rule):
        return input_gradient(forward, x, objective, torch.arange(n, device=x.device), batch_size=batch_size)


def deconvnet(model: nn.Module, x: torch.Tensor, target=None, *, layer: str | None = None, position=None,
              batch_size: int = 32) -> torch.Tensor:
    """Zeiler and Fergus's deconvnet projection ("Visualizing and understanding convolutional networks",
    ECCV 2014): a class or a unit projected back to pixel space.

    Going down, every ReLU rectifies the signal (``relu(g)``, ignoring the forward pass), max-pooling
    uses the forward switches and convolutions their transposed filters: the gradient of the unit, with
    each ReLU's backward replaced (:class:`relu_rule`). Equals Captum's ``Deconvolution`` and
    ``NeuronDeconvolution``.

    Parameters
    ----------
    model : nn.Module
    x : Tensor ``B x C x H x W`` in [0, 1]
    target : int, sequence or Tensor of ``B`` ints, or None
        Without ``layer``: the class whose logit is projected (None: the predicted class). With ``layer``:
        a channel of that layer (None: each image's most strongly activated channel, the one whose maximum
        over positions is largest).
    layer : str, optional
        A ``named_modules`` name; the channel is projected from its strongest position in each image.
    position : (row, col) or ``B x 2`` ints, optional
        With ``layer``: project from this position of the map instead.
    batch_size : int, default 32
        Images per forward and backward pass.

    Returns
    -------
    Tensor
        ``B x C x H x W``, any scale (:func:`projection_image` makes it displayable), on the device and
        in the dtype of ``x``.
    """
    return _project(model, x, target, layer, position, "deconvnet", batch_size)


def guided_backprop(model: nn.Module, x: torch.Tensor, target=None, *, layer: str | None = None, position=None,
                    batch_size: int = 32) -> torch.Tensor:
    """Guided backpropagation (Springenberg et al., "Striving for simplicity: the all convolutional net",
    ICLR 2015 workshop).

    The gradient of a class logit (or a unit) with respect to ``x``, where every ReLU passes back only
    positive signals through units that were active: ``relu(g) * (x > 0)`` (ReLU6: ``0 < x < 6``).
    Equals Captum's ``GuidedBackprop`` and ``NeuronGuidedBackprop``.

    Parameters
    ----------
    model, x, target, layer, position, batch_size
        As in :func:`deconvnet`: ``target=None`` is the predicted class, or with ``layer`` each image's
        most strongly activated channel.

    Returns
    -------
    Tensor
        ``B x C x H x W`` on the device and in the dtype of ``x``.
    """
    return _project(model, x, target, layer, position, "guided", batch_size)


def projection_image(grad: torch.Tensor, *, percentile: float = 99.5) -> torch.Tensor:
    """A projection as images in [0, 1], grey = 0: ``0.5 + 0.5 * g / s`` clipped, per image, with ``s`` the
    ``percentile`` of the non-zero ``|g|`` (100: the maximum; a little lower keeps a few extreme pixels from
    turning the rest grey).

    Parameters
    ----------
    grad : Tensor ``B x C x H x W`` or ``C x H x W``, finite
    percentile : float in (0, 100], default 99.5

    Returns
    -------
    Tensor
        Same shape, device and dtype as ``grad``, values in [0, 1].
    """
    check_range(percentile, "percentile", 0, 100, low_inclusive=False)
    if not isinstance(grad, torch.Tensor) or grad.dim() not in (3, 4) or not grad.is_floating_point():
        raise ValueError(f"grad must be a float tensor B x C x H x W or C x H x W, got "
                         f"{tuple(grad.shape) if isinstance(grad, torch.Tensor) else type(grad).__name__}")
    if not torch.isfinite(grad).all():
        raise ValueError("grad must be finite, got NaN or infinite values")
    g = grad.detach()
    flat = g.reshape(g.shape[0] if g.dim() == 4 else 1, -1)
    scale = torch.stack([torch.quantile(a[a > 0], percentile / 100) if (a > 0).any() else a.new_ones(())
                         for a in flat.abs()])
    return (0.5 + 0.5 * flat / scale[:, None]).clamp(0, 1).reshape(g.shape)


def project_top_patches(model: nn.Module, top: TopPatches, unit: int, *, method: str = "deconvnet",
                        fill: float = 0.5) -> torch.Tensor:
    """Each of a unit's top hits projected back to pixel space and cropped to its receptive field, to show
    beside ``top.patches(unit)`` (Zeiler and Fergus's figure 2).

    Parameters
    ----------
    model : nn.Module
        The model ``top`` was computed with.
    top : TopPatches
        From :func:`top_activating_patches`.
    unit : int
        One of ``top.units``.
    method : {"deconvnet", "guided"}, default "deconvnet"
    fill : float in [0, 1], default 0.5
        Where a field leaves its image.

    Returns
    -------
    Tensor
        ``k x C x h x w`` in [0, 1] (:func:`projection_image`), on the device and in the dtype of the images.
    """
    check_choice(method, "method", RULES)
    if not isinstance(top, TopPatches):
        raise TypeError(f"top must be the TopPatches of top_activating_patches, got {type(top).__name__}")
    u, fill = top._row(unit), check_range(fill, "fill", 0, 1)
    images = torch.stack([_image_at(top.data, int(i)) for i in top.image_index[u]])
    grads = _project(model, images, unit, top.layer, top.position[u], method, 32)
    shown = projection_image(grads)
    return torch.stack([top.field.crop(img, int(r), int(c), fill) for img, (r, c) in zip(shown, top.position[u])])


# --------------------------------------------------------------------------- deconvnet without switches

class _SwitchlessMaxPool(torch.autograd.Function):
    """Max-pooling going forward; going back, no switches: each pooled signal is copied to every
    position of its window (the backward of a sum-pooling), whatever the forward pass chose."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode):
        ctx.shape, ctx.pool = x.shape, (kernel, stride, padding, ceil_mode)
        return F.max_pool2d(x, kernel, stride, padding, 1, ceil_mode)

    @staticmethod
    def backward(ctx, grad):
        kernel, stride, padding, ceil_mode = ctx.pool
        with torch.enable_grad():
            z = grad.new_zeros(ctx.shape).requires_grad_(True)
            out = F.avg_pool2d(z, kernel, stride, padding, ceil_mode, True, 1)    # divisor 1: a sum
            (spread,) = torch.autograd.grad(out, z, grad)
        return spread, None, None, None, None


class no_switches(TorchFunctionMode):
    """Context manager: inside ``with no_switches():`` every 2-D max-pooling (``nn.MaxPool2d`` or
    ``F.max_pool2d``) computes its usual output, but its backward pass forgets the switches (where each
    maximum came from) and copies each signal to its whole window. With the deconvnet's ReLU rule, which
    also ignores the forward pass, nothing of the image is left in the projection
    (:func:`deconvnet_without_switches`). Max-poolings that return their indices are left alone; dilated
    ones raise a ``ValueError``."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in (F.max_pool2d, torch.max_pool2d) or _arg(args, kwargs, 6, "return_indices", False):
            return func(*args, **kwargs)
        kernel = _arg(args, kwargs, 1, "kernel_size")
        stride = _arg(args, kwargs, 2, "stride", None)
        stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else stride
        if _pair(_arg(args, kwargs, 4, "dilation", 1)) != (1, 1):
            raise ValueError("model: no_switches supports max-pooling without dilation only")
        return _SwitchlessMaxPool.apply(args[0], kernel, stride, _arg(args, kwargs, 3, "padding", 0),
                                        bool(_arg(args, kwargs, 5, "ceil_mode", False)))


def deconvnet_without_switches(model: nn.Module, x: torch.Tensor, target=None, *, layer: str | None = None,
                               position=None, batch_size: int = 32) -> torch.Tensor:
    """The deconvnet projection (:func:`deconvnet`) with the max-pooling switches thrown away: going down,
    each pooled signal is spread over its whole pooling window (:class:`no_switches`), ReLUs rectify the
    signal and convolutions run transposed.

    Every step then ignores the forward pass, so the projection of a unit at a given position is the same
    for every image: the switches carry the image's information in Zeiler and Fergus's figures (Mahendran
    and Vedaldi, "Salient deconvolutional networks", ECCV 2016). On a network without max-pooling
    (EfficientNet, all-convolutional nets) the plain deconvnet behaves like this already.

    Parameters
    ----------
    model, x, target, layer, position, batch_size
        As in :func:`deconvnet`. ``target`` and ``position`` still depend on the image when left None
        (its most active channel, that channel's strongest position).

    Returns
    -------
    Tensor
        ``B x C x H x W`` on the device and in the dtype of ``x``.
    """
    with no_switches():
        return _project(model, x, target, layer, position, "deconvnet", batch_size)


# --------------------------------------------------------------------------- naming layers, choosing units

def layer_depth(model: nn.Module, layer: str, *, image_shape: Sequence[int] | None = None) -> int:
    """How deep ``layer`` sits: the number of weight layers (convolutions and linear layers) that have run
    when its output is computed, counted on one forward pass (its last call, if it is called several times).

    Parameters
    ----------
    model : nn.Module
    layer : str
        A ``named_modules`` name.
    image_shape : (C, H, W), optional
        As in :func:`receptive_field`.

    Returns
    -------
    int
        0 for a layer before the first convolution; e.g. 3 for LeNet-5's ``"c5"``.
    """
    target = get_module(model, layer)
    shape = _check_image_shape(image_shape, model) if image_shape is not None else _default_image_shape(model)
    weighted = {n: m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m is not target}
    ran, depth = [0], [None]

    def count(name, _module, _inputs, _output):
        if name != layer:
            ran[0] += 1
        if name == layer:
            depth[0] = ran[0] + isinstance(target, (nn.Conv2d, nn.Linear))
            ran[0] = depth[0]

    with hooks({**weighted, layer: target}, count), eval_mode(model), torch.no_grad():
        run_model(model, torch.full((1, *shape), 0.5, device=model_device(model)), "image_shape")
    if depth[0] is None:
        raise ValueError(f"layer {layer!r} did not run in the model's forward pass")
    return int(depth[0])


def unit_selectivity(model: nn.Module, data, layers: str | Sequence[str], *, k: int = 9, batch_size: int = 64,
                     progress: bool = True) -> torch.Tensor | dict[str, torch.Tensor]:
    """How selective each unit is: how far its ``k`` best images stand out from the typical image, to choose
    units worth showing (a unit that fires on everything has top patches that teach nothing).

    Each image's response of a unit is its strongest activation over positions, ``m_i``; the selectivity is
    the z-score of the top ``k``: ``(mean of the k largest m_i - mean of all m_i) / std of all m_i``.
    One streaming pass over ``data`` (:func:`lectures_lib.plumbing.stream_activations`).

    Parameters
    ----------
    model : nn.Module
    data : Dataset of ``(image, label)``, tensor ``N x C x H x W`` or pair ``(x, y)``
        Images in [0, 1], ``N >= 2``.
    layers : str or list of str
    k : int, default 9
        ``1 <= k <= N``, as in :func:`top_activating_patches`.
    batch_size : int, default 64
    progress : bool, default True

    Returns
    -------
    Tensor ``U`` (one value per channel), or ``{layer: Tensor}`` when ``layers`` is a list
        On the device and in the dtype of the data's images; a constant unit gets 0.
    """
    ref = _first_image(data)
    n = count_items(data)
    if n < 2:
        raise ValueError(f"data must hold at least 2 images to measure selectivity, got {n}")
    check_range(k, "k", 1, n, integer=True)
    check_range(batch_size, "batch_size", 1, integer=True)
    names = _layer_names(layers)
    peaks: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for _, outputs in stream_activations(model, data, names, batch_size, progress, "selectivity"):
        for name in names:
            a = outputs[name]
            peaks[name].append((a.flatten(2).amax(dim=2) if a.dim() > 2 else a).double().cpu())
    result = {}
    for name in names:
        m = torch.cat(peaks[name])                                   # N x U
        top = m.topk(k, dim=0).values.mean(dim=0)
        spread = m.std(dim=0)
        z = torch.where(spread > 0, (top - m.mean(dim=0)) / spread.clamp_min(1e-300), torch.zeros_like(top))
        result[name] = z.to(ref.device, ref.dtype)
    return result[names[0]] if isinstance(layers, str) else result
