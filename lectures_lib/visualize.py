"""Lesson 03: what have ConvNets learned?

The lecture's "basic visualisation techniques", each a short function of a model and images in [0, 1]:

- :func:`plot_filters`: first-layer weights as pictures.
- :func:`capture_activations`: the output of named layers (forward hooks that are always removed).
- :func:`receptive_field` and :func:`top_activating_patches`: the image patches that excite a unit most.
- :func:`nearest_neighbors` / :func:`plot_neighbors`: neighbours in feature space versus pixel space.
- :func:`embed_tsne` / :func:`plot_embedding`: t-SNE maps of the features (van der Maaten and Hinton 2008),
  with Karpathy's thumbnail grid.
- :func:`deconvnet` (Zeiler and Fergus, ECCV 2014) and :func:`guided_backprop` (Springenberg et al.,
  ICLR 2015 workshop): a unit projected back to pixel space, by swapping the backward rule of every ReLU
  inside the :class:`relu_rule` context.
- :func:`activation_widget`: one image's activation map at a chosen layer and channel.

Layer names are ``model.named_modules()`` names (``"c1"`` for LeNet-5, ``"net._blocks.10"`` for
EfficientNet-Lite0). A module called several times in one forward pass (EfficientNet's ``_swish``
ReLU6 is) stands for its **last** call, as in Captum.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary
from tqdm.auto import tqdm

from .train import model_device, batches, eval_mode
from .validation import check_choice, check_images, check_range, get_module

# --------------------------------------------------------------------------- running a model with hooks


class _Stop(Exception):
    """Raised by a hook to end a forward pass once every wanted layer has run."""


def _run(model: nn.Module, x: torch.Tensor):
    """``model(x)``, with an error naming ``x``'s shape instead of a deep torch trace when ``x`` does not fit."""
    try:
        return model(x)
    except RuntimeError as err:
        raise ValueError(f"the model cannot run on x of shape {tuple(x.shape)}; is it the image size the model "
                         f"expects? ({type(err).__name__}: {str(err).splitlines()[0]})") from err


def _in_channels(model: nn.Module) -> int | None:
    """Channels of the model's input: those of its first convolution (None when it has none)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else conv.in_channels


def _layer_names(layers) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("layers must name at least one layer")
    return names


def _hooked_forward(model: nn.Module, layers: Sequence[str], x: torch.Tensor, keep_graph: bool = False,
                    calls: dict[str, int] | None = None) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Run ``model(x)`` with a forward hook on each layer. Returns ``({layer: output of its last call},
    {layer: number of calls})``; the hooks are removed whatever happens.

    ``keep_graph=False``: each output is stored as a detached clone, so in-place operations later in the
    network cannot change it. ``keep_graph=True``: the stored output stays in the autograd graph and the
    hook hands a clone downstream (as Captum does), with the same effect. ``calls``: stop the forward
    pass as soon as every layer has run that many times (the rest of the network is skipped).
    """
    modules = {name: get_module(model, name) for name in layers}
    outputs: dict[str, torch.Tensor] = {}
    counts = dict.fromkeys(modules, 0)

    def hook_for(name):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {name!r} returns a {type(output).__name__}, not a tensor")
            counts[name] += 1
            outputs[name] = output if keep_graph else output.detach().clone()
            if calls is not None and all(counts[n] >= calls[n] for n in counts):
                raise _Stop
            return output.clone() if keep_graph else None
        return hook

    handles = []
    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(hook_for(name)))
        with contextlib.suppress(_Stop):
            _run(model, x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name, count in counts.items() if count == 0]
    if missing:
        raise ValueError(f"layer(s) {missing} did not run in the model's forward pass")
    return outputs, counts


def capture_activations(model: nn.Module, layers: str | Sequence[str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of ``layers`` (names from ``model.named_modules()``) for images ``x``.

    x: ``B x C x H x W`` in [0, 1]. Returns ``{layer: B x ...}`` (e.g. ``B x K x h x w`` for a convolution),
    detached clones, so in-place ReLUs later in the network cannot corrupt them. Runs in eval mode without
    gradients; the hooks are removed and every module's train/eval mode is restored, even after an error.
    """
    check_images(x, "x", channels=_in_channels(model))
    names = _layer_names(layers)
    with eval_mode(model), torch.no_grad():
        outputs, _ = _hooked_forward(model, names, x.to(model_device(model)))
    return outputs


def _image_count(data) -> int:
    return len(data[0]) if isinstance(data, (tuple, list)) else len(data)


def _image_at(data, i: int) -> torch.Tensor:
    """Image ``i`` (``C x H x W``) of a tensor, an ``(x, y)`` pair or a Dataset of ``(image, label)``."""
    if isinstance(data, torch.Tensor):
        return data[i]
    if isinstance(data, (tuple, list)):
        return data[0][i]
    return data[i][0]


def _activation_batches(model: nn.Module, layers: Sequence[str], data, batch_size: int, progress: bool, desc: str):
    """Yield ``(index of the batch's first image, {layer: activations})`` over ``data`` in eval mode.
    The first batch counts each layer's calls; later batches stop the forward pass after the last one.
    Batches go in channels-last layout, which runs convolutions about twice as fast on CPUs (the values
    agree with the usual layout to float rounding)."""
    dev, calls, start = model_device(model), None, 0
    with eval_mode(model), torch.no_grad(), tqdm(total=_image_count(data), desc=desc, unit="img",
                                              disable=not progress) as bar:
        for xb, _ in batches(data, batch_size):
            check_images(xb, "data", channels=_in_channels(model))
            xb = xb.to(dev).contiguous(memory_format=torch.channels_last)
            outputs, calls = _hooked_forward(model, layers, xb, calls=calls)
            yield start, outputs
            start += len(xb)
            bar.update(len(xb))


def collect_features(model: nn.Module, layer: str, data, batch_size: int = 64, flatten: bool = True,
                     progress: bool = True) -> torch.Tensor:
    """The activations of ``layer`` for every image of ``data`` (a Dataset of ``(image, label)``, a tensor or
    ``(x, y)``), in one batched pass: ``N x D`` on the CPU (``N x ...`` when ``flatten=False``).
    The network after ``layer`` is not run."""
    out = [acts[layer].cpu() for _, acts in _activation_batches(model, [layer], data, batch_size, progress,
                                                                f"features {layer}")]
    feats = torch.cat(out)
    return feats.flatten(1) if flatten else feats


# --------------------------------------------------------------------------- first-layer filters

def plot_filters(weight: torch.Tensor | nn.Module, ncols: int = 8, shared_scale: bool = False,
                 figsize: tuple[float, float] | None = None):
    """First-layer filters as pictures: ``weight`` is ``K x C x k x k`` with C = 1 (grey) or 3 (RGB), or a
    ``nn.Conv2d``. Each filter is scaled to its own range (``shared_scale=True``: one range for all, which
    shows which filters are strong). Returns a matplotlib Figure."""
    from .plotting import image_grid

    if isinstance(weight, nn.Module):
        weight = weight.weight
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        raise ValueError(f"weight must be a K x C x k x k convolution weight, got "
                         f"{tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__}")
    if weight.shape[1] not in (1, 3):
        raise ValueError(f"weight must have 1 or 3 input channels (first-layer filters), got shape "
                         f"{tuple(weight.shape)}; pick channels, e.g. weight[:, :1]")
    w = weight.detach().float().cpu()
    grey = w.shape[1] == 1
    return image_grid(w[:, 0] if grey else w, ncols=ncols, cmap="gray" if grey else None, figsize=figsize,
                      scale="shared" if shared_scale else "each")


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
    return (1, 28, 28) if _in_channels(model) == 1 else (3, 224, 224)


def receptive_field(model: nn.Module, layer: str, image_shape: Sequence[int] | None = None) -> ReceptiveField:
    """Receptive field size, jump (stride in input pixels) and start of the units of ``layer``.

    Uses the layer arithmetic (references.md): per convolution or pooling of kernel k, stride s,
    padding p, dilation d: ``jump_out = jump_in * s``, ``size_out = size_in + (k - 1) * d * jump_in``,
    ``start_out = start_in - p * jump_in``; explicit padding moves the start; where branches meet
    (residual sums) the fields are united. The operations are read off one forward pass on a dummy image
    of ``image_shape`` (default ``1 x 28 x 28`` for one-channel models, else ``3 x 224 x 224``), so
    functional padding and TensorFlow-style "same" padding are followed too.
    """
    module = get_module(model, layer)
    shape = tuple(image_shape) if image_shape is not None else _default_image_shape(model)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W), got {shape}")
    x = torch.full((1, *shape), 0.5, device=model_device(model))
    tracer, seen = _FieldTracer(), {}

    def hook(m, inputs, output):
        seen["field"], seen["shape"] = tracer.fields.get(output, UNKNOWN), tuple(output.shape)

    handle = module.register_forward_hook(hook)
    try:
        with eval_mode(model), torch.no_grad(), tracer:
            tracer.fields[x] = ((0, 1, 1), (0, 1, 1))
            _run(model, x)
    finally:
        handle.remove()
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
        if unit not in self.units:
            raise ValueError(f"unit {unit!r} was not searched; units searched: {self.units[:8]}"
                             + (" ..." if len(self.units) > 8 else ""))
        return self.units.index(unit)

    def boxes(self, unit: int) -> list[tuple[int, int, int, int]]:
        """``(top, left, bottom, right)`` of each hit's receptive field in its image."""
        return [self.field.box(int(r), int(c)) for r, c in self.position[self._row(unit)]]

    def patches(self, unit: int, fill: float = 0.5) -> torch.Tensor:
        """The ``k`` patches of ``unit``: ``k x C x h x w`` crops of the receptive fields from their images
        (:meth:`ReceptiveField.crop`)."""
        u = self._row(unit)
        return torch.stack([self.field.crop(_image_at(self.data, int(i)), int(r), int(c), fill)
                            for i, (r, c) in zip(self.image_index[u], self.position[u])])

    def strongest_units(self, n: int) -> list[int]:
        """The ``n`` units with the largest top activation."""
        order = torch.argsort(self.values[:, 0], descending=True, stable=True)[:n]
        return [self.units[int(i)] for i in order]


def _merge_top(best, new, k: int):
    """Keep the ``k`` largest of (running best, new batch) per unit. The stable sort breaks ties in
    favour of the earlier image, so the result does not depend on how the data are batched."""
    merged = new if best is None else tuple(torch.cat([b, n], dim=1) for b, n in zip(best, new))
    order = torch.sort(merged[0], dim=1, descending=True, stable=True).indices[:, :k]
    return tuple(t.gather(1, order) for t in merged)


def _check_units(unit, channels: int) -> list[int]:
    units = list(range(channels)) if unit is None else [unit] if isinstance(unit, int) else list(unit)
    for u in units:
        check_range(u, "unit", 0, channels - 1, integer=True)
    return units


def top_activating_patches(model: nn.Module, layer: str | Sequence[str], unit: int | Sequence[int] | None,
                           data, k: int = 9, batch_size: int = 64,
                           progress: bool = True) -> TopPatches | dict[str, TopPatches]:
    """The image patches that activate units of ``layer`` most (the lecture's "maximally activating patches").

    One pass over ``data`` (a Dataset of ``(image, label)``, a tensor or ``(x, y)``; images in [0, 1]):
    each batch's activations give every unit's strongest position per image, and a running top-``k`` over
    batches keeps the ``k`` best images per unit. ``unit=None`` searches all units (channels) of the layer
    at once; several layers (a list) are searched in the same pass and a dict is returned. The patches are
    the hits' receptive fields (:func:`receptive_field`), cropped on demand by :meth:`TopPatches.patches`.
    """
    check_range(k, "k", 1, _image_count(data), integer=True)
    names = _layer_names(layer)
    best, units, widths = {}, {}, {}
    for start, outputs in _activation_batches(model, names, data, batch_size, progress, "top patches"):
        for name in names:
            acts = outputs[name]
            if name not in units:
                units[name], widths[name] = _check_units(unit, acts.shape[1]), acts.shape[-1] if acts.dim() == 4 else 1
            maps = acts[:, units[name]].flatten(2) if acts.dim() > 2 else acts[:, units[name], None]
            values, flat = maps.max(dim=2)               # B x U: each image's strongest position per unit
            index = torch.arange(start, start + len(acts), device=acts.device)[:, None].expand_as(values)
            best[name] = _merge_top(best.get(name), (values.T.cpu(), index.T.cpu(), flat.T.cpu()), k)
    shape, result = tuple(_image_at(data, 0).shape), {}
    for name in names:
        (values, index, flat), width = best[name], widths[name]
        result[name] = TopPatches(name, units[name], values, index, torch.stack([flat // width, flat % width], -1),
                                  receptive_field(model, name, shape), data)
    return result[names[0]] if isinstance(layer, str) else result


# --------------------------------------------------------------------------- nearest neighbours

class Neighbors(NamedTuple):
    """Indices (``k``, or ``Q x k`` for several queries) of the nearest rows, closest first, and their distances."""
    indices: torch.Tensor
    distances: torch.Tensor


def _check_features(features, name: str = "features") -> torch.Tensor:
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    if not isinstance(features, torch.Tensor) or features.dim() < 2 or len(features) < 2:
        raise ValueError(f"{name} must be an N x D tensor (N >= 2; images are flattened), got "
                         f"{tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__}")
    return features.detach().flatten(1).float().cpu()


def nearest_neighbors(features: torch.Tensor, query_index: int | Sequence[int], k: int = 5,
                      metric: str = "euclidean") -> Neighbors:
    """The ``k`` rows of ``features`` (``N x D``; images are flattened) nearest to row ``query_index``,
    the query itself excluded. ``metric``: ``"euclidean"`` or ``"cosine"`` (1 - cosine similarity).
    Ties go to the lower index."""
    check_choice(metric, "metric", ("euclidean", "cosine"))
    feats = _check_features(features)
    n = len(feats)
    check_range(k, "k", 1, n - 1, integer=True)
    single = isinstance(query_index, (int, np.integer))
    queries = torch.as_tensor([query_index] if single else query_index, dtype=torch.long)
    if queries.dim() != 1 or len(queries) == 0 or queries.min() < 0 or queries.max() >= n:
        raise ValueError(f"query_index must be an index (or indices) in [0, {n}), got {query_index!r}")
    if metric == "euclidean":
        dist = torch.cdist(feats[queries].double(), feats.double())
    else:
        unit = F.normalize(feats.double(), dim=1)
        dist = 1 - unit[queries] @ unit.T
    dist[torch.arange(len(queries)), queries] = float("inf")       # not its own neighbour
    d, idx = torch.sort(dist, dim=1, stable=True)
    d, idx = d[:, :k].float(), idx[:, :k]
    return Neighbors(idx[0], d[0]) if single else Neighbors(idx, d)


def neighbor_agreement(features: torch.Tensor, labels: torch.Tensor, k: int = 5, metric: str = "euclidean",
                       chunk: int = 512) -> float:
    """Mean fraction of each row's ``k`` nearest neighbours (itself excluded) that share its label:
    how well the feature space groups the classes (1.0 = neighbours always of the same class)."""
    labels = torch.as_tensor(labels)
    n = len(_check_features(features))
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match features, got {tuple(labels.shape)}")
    same = [labels[nearest_neighbors(features, list(range(i, min(i + chunk, n))), k, metric).indices]
            == labels[i:i + chunk, None] for i in range(0, n, chunk)]
    return float(torch.cat(same).float().mean())


def plot_neighbors(features: torch.Tensor, images: torch.Tensor, query_indices: Sequence[int], k: int = 6,
                   metric: str = "euclidean", titles: Sequence[str] | None = None):
    """For each query image, its ``k`` nearest neighbours in feature space (first row) and, for contrast,
    in pixel space (second row: raw pixels compared with the same metric). ``images``: ``N x C x H x W``
    in [0, 1], row ``i`` belonging to ``features[i]``; ``titles``: optional name per image. Returns a Figure."""
    from .plotting import image_grid

    check_images(images, "images")
    if len(images) != len(_check_features(features)):
        raise ValueError(f"images ({len(images)}) and features ({len(features)}) must have the same number of rows")
    by_features = nearest_neighbors(features, list(query_indices), k, metric).indices
    by_pixels = nearest_neighbors(images, list(query_indices), k, metric).indices
    tiles, names = [], []
    for q, feat_nn, pix_nn in zip(query_indices, by_features, by_pixels):
        for space, row in (("features", feat_nn), ("pixels", pix_nn)):
            tiles += [images[q]] + [images[int(i)] for i in row]
            label = (lambda i: titles[i][:14]) if titles is not None else str
            names += [f"query ({space})\n{label(q)}"] + [label(int(i)) for i in row]
    cmap = "gray" if images.shape[1] == 1 else None
    return image_grid(torch.stack(tiles), titles=names, ncols=k + 1, cmap=cmap)


# --------------------------------------------------------------------------- t-SNE maps

def embed_tsne(features: torch.Tensor, perplexity: float = 30.0, pca_dims: int = 50, seed: int = 0,
               max_iter: int = 1000) -> np.ndarray:
    """2-D t-SNE embedding (van der Maaten and Hinton 2008) of ``features`` (``N x D``): PCA to ``pca_dims``
    dimensions first (as is usual: less noise, faster), then scikit-learn's Barnes-Hut t-SNE with PCA
    initialisation, seeded. Returns an ``N x 2`` float32 array."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = _check_features(features).double().numpy()
    check_range(perplexity, "perplexity", 0, len(x) - 1, low_inclusive=False)
    check_range(pca_dims, "pca_dims", 2, integer=True)
    if x.shape[1] > pca_dims:
        x = PCA(pca_dims, random_state=seed).fit_transform(x)
    tsne = TSNE(2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed, max_iter=max_iter)
    return tsne.fit_transform(x).astype(np.float32)


def grid_layout(points: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Snap 2-D points to a ``rows x cols`` grid, one point per cell, keeping the layout: the assignment of
    points to cells with the least total squared distance (points and cells both scaled to the unit square).
    Returns each point's cell index (``row * cols + col``)."""
    from scipy.optimize import linear_sum_assignment

    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must be an N x 2 array, got shape {p.shape}")
    if rows * cols < len(p):
        raise ValueError(f"a {rows} x {cols} grid has fewer cells than the {len(p)} points")
    p = (p - p.min(0)) / np.maximum(p.max(0) - p.min(0), 1e-12)
    cy, cx = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols, indexing="ij")
    cells = np.stack([cx.ravel(), 1 - cy.ravel()], 1)              # y up, as in a scatter plot
    cost = ((p[:, None, :] - cells[None]) ** 2).sum(-1)
    point, cell = linear_sum_assignment(cost)
    return cell[np.argsort(point)]


def _thumbnails(images: torch.Tensor, size: int) -> np.ndarray:
    """``N x size x size x 3`` uint8 thumbnails of ``N x C x H x W`` images in [0, 1]."""
    small = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    small = small.expand(-1, 3, -1, -1) if small.shape[1] == 1 else small
    return (small.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def plot_embedding(points: np.ndarray, images: torch.Tensor | None = None, labels=None,
                   classes: Sequence[str] | None = None, grid: tuple[int, int] | None = None,
                   thumb: int = 28, ax=None, title: str | None = None):
    """Draw a 2-D embedding (e.g. from :func:`embed_tsne`).

    - ``labels`` only: a scatter plot coloured by class (``classes`` names them in the legend).
    - ``images``: each image drawn as a ``thumb``-pixel thumbnail at its point.
    - ``images`` and ``grid=(rows, cols)``: Karpathy's t-SNE grid, every image snapped to its own cell
      (:func:`grid_layout`) so that nothing overlaps.
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    pts = np.asarray(points, dtype=np.float32)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be an N x 2 array, got shape {pts.shape}")
    if images is not None:
        check_images(images, "images")
        if len(images) != len(pts):
            raise ValueError(f"images ({len(images)}) and points ({len(pts)}) must have the same length")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 9) if images is not None else (8, 7))
    if images is not None and grid is not None:
        rows, cols = grid
        cell, thumbs = grid_layout(pts, rows, cols), _thumbnails(images, thumb)
        canvas = np.full((rows * thumb, cols * thumb, 3), 255, np.uint8)
        for c, t in zip(cell, thumbs):
            r, q = divmod(int(c), cols)
            canvas[r * thumb:(r + 1) * thumb, q * thumb:(q + 1) * thumb] = t
        ax.imshow(canvas)
    elif images is not None:
        ax.scatter(pts[:, 0], pts[:, 1], s=0)
        for (px, py), t in zip(pts, _thumbnails(images, thumb)):
            ax.add_artist(AnnotationBbox(OffsetImage(t, zoom=1.0), (px, py), frameon=False, pad=0))
    else:
        if labels is None:
            raise ValueError("plot_embedding needs labels (to colour the points) or images (to draw them)")
        lab = np.asarray(torch.as_tensor(labels))
        if lab.shape != (len(pts),):
            raise ValueError(f"labels must have shape ({len(pts)},), got {lab.shape}")
        for c in np.unique(lab):
            name = classes[int(c)] if classes is not None else str(c)
            ax.scatter(*pts[lab == c].T, s=4, alpha=0.7, label=name, color=plt.cm.tab10(int(c) % 10))
        ax.legend(markerscale=4, fontsize=8, loc="best")
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax.figure


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
        low, high = (0.0, 6.0) if func is F.relu6 else (_arg(args, kwargs, 1, "min_val", -1.0), _arg(args, kwargs, 2, "max_val", 1.0))
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


def _unit_seed(acts: torch.Tensor, unit, position=None, name: str = "unit") -> torch.Tensor:
    """The backward seed that selects one unit per image: 1 at ``(b, unit, row, col)``, 0 elsewhere. For a
    ``B x K x h x w`` map the position is the unit's strongest activation in image ``b`` unless ``position``
    (``(row, col)`` or ``B x 2``) is given; a ``B x K`` output (logits) needs none."""
    b, channels = acts.shape[:2]
    if isinstance(unit, torch.Tensor) and unit.dim() == 1:
        if len(unit) != b or unit.is_floating_point():
            raise ValueError(f"{name} must be an int or {b} integer indices, got shape {tuple(unit.shape)}")
        for u in unit.tolist():
            check_range(u, name, 0, channels - 1, integer=True)
        units = unit.long().to(acts.device)
    else:
        check_range(int(unit) if isinstance(unit, torch.Tensor) else unit, name, 0, channels - 1, integer=True)
        units = torch.full((b,), int(unit), dtype=torch.long, device=acts.device)
    rows = torch.arange(b, device=acts.device)
    seed = torch.zeros_like(acts)
    if acts.dim() == 2:
        seed[rows, units] = 1
        return seed
    maps = acts.detach()[rows, units].flatten(1)                 # B x (h * w)
    if position is None:
        flat = maps.argmax(dim=1)
    else:
        pos = torch.as_tensor(position, dtype=torch.long, device=acts.device).reshape(-1, 2).expand(b, 2)
        h, w = acts.shape[-2:]
        if (pos < 0).any() or (pos[:, 0] >= h).any() or (pos[:, 1] >= w).any():
            raise ValueError(f"position must be (row, col) inside the {h} x {w} map, got {position!r}")
        flat = pos[:, 0] * w + pos[:, 1]
    seed.view(b, channels, -1)[rows, units, flat] = 1
    return seed


def _project(model: nn.Module, x: torch.Tensor, layer: str | None, unit, rule: str, position=None,
             name: str = "unit") -> torch.Tensor:
    """Gradient of one unit per image (or of a logit when ``layer`` is None) w.r.t. ``x``, every ReLU's
    backward replaced by ``rule``. Max-pooling keeps its switches (autograd routes to the argmax) and
    convolutions go back through their transposes, as in Zeiler and Fergus's deconvnet."""
    check_images(x, "x", channels=_in_channels(model))
    if layer is not None:
        get_module(model, layer)
    x = x.detach().to(model_device(model)).requires_grad_(True)
    with eval_mode(model), torch.enable_grad(), relu_rule(rule):
        acts = _run(model, x) if layer is None else _hooked_forward(model, [layer], x, keep_graph=True)[0][layer]
        if layer is None and acts.dim() != 2:
            raise ValueError(f"the model must return B x K logits, got shape {tuple(acts.shape)}")
        (grad,) = torch.autograd.grad(acts, x, _unit_seed(acts, unit, position, name))
    return grad.detach()


def deconvnet(model: nn.Module, x: torch.Tensor, layer: str | None, unit, position=None) -> torch.Tensor:
    """Zeiler and Fergus's deconvnet projection (ECCV 2014) of a unit back to pixel space.

    x: ``B x C x H x W`` in [0, 1]. ``layer``/``unit``: a channel of a named layer, projected from its
    strongest activation in each image (or from ``position``, ``(row, col)`` or ``B x 2``); with
    ``layer=None``, ``unit`` is a class (int or ``B`` indices) and its logit is projected, as in
    Captum's ``Deconvolution``. Going down, every ReLU rectifies the signal (``relu(g)``, ignoring the
    forward pass), max-pooling uses the forward switches and convolutions their transposed filters.
    Returns ``B x C x H x W`` (any scale; :func:`projection_image` makes it displayable).
    """
    return _project(model, x, layer, unit, "deconvnet", position)


def guided_backprop(model: nn.Module, x: torch.Tensor, target, layer: str | None = None,
                    position=None) -> torch.Tensor:
    """Guided backpropagation (Springenberg et al., "Striving for simplicity", ICLR 2015 workshop).

    The gradient of class ``target``'s logit (int or ``B`` indices) with respect to ``x`` (``B x C x H x W``
    in [0, 1]), where every ReLU passes back only positive signals through units that were active:
    ``relu(g) * (x > 0)`` (ReLU6: ``0 < x < 6``). With ``layer`` given, ``target`` is a channel of that
    layer, projected from its strongest activation (or ``position``), like :func:`deconvnet`.
    Returns ``B x C x H x W``.
    """
    return _project(model, x, layer, target, "guided", position, name="target")


def projection_image(grad: torch.Tensor, percentile: float = 99.5) -> torch.Tensor:
    """A projection (``B x C x H x W`` or ``C x H x W``) as images in [0, 1], grey = 0:
    ``0.5 + 0.5 * g / s`` clipped, per image, with ``s`` the ``percentile`` of the non-zero ``|g|`` (100: the
    maximum; a little lower keeps a few extreme pixels from turning the rest grey)."""
    check_range(percentile, "percentile", 0, 100, low_inclusive=False)
    g = grad.detach().float()
    flat = g.reshape(g.shape[0] if g.dim() == 4 else 1, -1)
    scale = torch.stack([torch.quantile(a[a > 0], percentile / 100) if (a > 0).any() else a.new_ones(())
                         for a in flat.abs()])
    return (0.5 + 0.5 * flat / scale[:, None]).clamp(0, 1).reshape(g.shape)


def project_top_patches(model: nn.Module, top: TopPatches, unit: int, method: str = "deconvnet",
                        fill: float = 0.5) -> torch.Tensor:
    """For each of ``unit``'s top hits (``top`` from :func:`top_activating_patches`), the hit projected back
    to pixel space with ``method`` (``"deconvnet"`` or ``"guided"``) and cropped to its receptive field:
    ``k x C x size x size`` in [0, 1], beside ``top.patches(unit)``."""
    check_choice(method, "method", RULES)
    u = top._row(unit)
    images = torch.stack([_image_at(top.data, int(i)) for i in top.image_index[u]])
    grads = _project(model, images, top.layer, unit, method, position=top.position[u])
    shown = projection_image(grads).cpu()
    return torch.stack([top.field.crop(img, int(r), int(c), fill) for img, (r, c) in zip(shown, top.position[u])])


# --------------------------------------------------------------------------- activation-map widget

def _to_rgb(image: torch.Tensor) -> np.ndarray:
    img = image.detach().float().cpu().clamp(0, 1)
    img = img.expand(3, -1, -1) if img.shape[0] == 1 else img
    return (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def activation_panel(image: torch.Tensor, amap: torch.Tensor, vmin: float, vmax: float, cmap: str = "viridis") -> bytes:
    """PNG bytes: the image (``C x H x W``) beside one activation map (``h x w``, shown nearest-neighbour
    upsampled to the image size, colours from ``vmin`` to ``vmax``)."""
    from matplotlib import colormaps
    from PIL import Image

    rgb = _to_rgb(image)
    norm = ((amap.detach().float().cpu().numpy() - vmin) / max(vmax - vmin, 1e-12)).clip(0, 1)
    coloured = (colormaps[cmap](norm)[..., :3] * 255).round().astype(np.uint8)
    coloured = np.asarray(Image.fromarray(coloured).resize(rgb.shape[1::-1], Image.NEAREST))
    gap = np.full((rgb.shape[0], 4, 3), 255, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.concatenate([rgb, gap, coloured], axis=1)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def activation_widget(model: nn.Module, images: torch.Tensor, layers: Sequence[str], image_titles: Sequence[str] | None = None):
    """An ipywidgets box: pick a layer, a channel and an image; see that channel's activation map beside the image.

    The activations of all ``images`` (``B x C x H x W`` in [0, 1]) at all ``layers`` are computed once
    here, so each change only redraws a small PNG (well under 0.5 s). Colours span the channel's range over
    all the images, so a weak response looks weak. The box has ``.controls`` (``{"layer", "channel",
    "image"}`` widgets that code can set) and ``.view`` (the ``ipywidgets.Image``)."""
    import ipywidgets as widgets

    check_images(images, "images", channels=_in_channels(model))
    names = _layer_names(layers)
    acts = {name: a.cpu() for name, a in capture_activations(model, names, images).items()}
    for name, a in acts.items():
        if a.dim() != 4:
            raise ValueError(f"layer {name!r} gives {tuple(a.shape)} activations, not B x K x h x w maps")
    images = images.detach().cpu()
    titles = list(image_titles) if image_titles is not None else [f"image {i}" for i in range(len(images))]
    layer = widgets.Dropdown(options=names, value=names[0], description="layer")
    channel = widgets.IntSlider(value=0, min=0, max=acts[names[0]].shape[1] - 1, description="channel",
                                continuous_update=True)
    image = widgets.Dropdown(options=[(t, i) for i, t in enumerate(titles)], value=0, description="image")
    view, info = widgets.Image(format="png"), widgets.Label()

    def redraw(_=None):
        a = acts[layer.value]
        maps = a[:, channel.value]
        view.value = activation_panel(images[image.value], maps[image.value], float(maps.min()), float(maps.max()))
        info.value = (f"{layer.value}: {a.shape[1]} channels of {a.shape[2]} x {a.shape[3]}; channel {channel.value}, "
                      f"max here {float(maps[image.value].max()):.3g} (over all images {float(maps.max()):.3g})")

    def new_layer(_):
        channel.max = acts[layer.value].shape[1] - 1      # (may clamp the channel, which redraws too)
        redraw()

    layer.observe(new_layer, names="value")
    channel.observe(redraw, names="value")
    image.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox([layer, channel, image]), view, info])
    box.controls, box.view, box.info = {"layer": layer, "channel": channel, "image": image}, view, info
    return box
