"""The plumbing every lesson shares, written once: batching over a dataset, counting its items, eval
mode, where a model lives, running a model on images, the target classes, input gradients, forward
hooks and the streaming pass over a layer's activations.

The method modules (``visualize``, ``saliency``, ``attacks``, ...) keep only their math and call these.
Conventions:

- ``data`` is a Dataset of ``(image, label)``, a pair ``(x, y)`` of tensors, or a tensor ``x`` alone.
- ``model`` is any callable mapping ``B x C x H x W`` images in [0, 1] to ``B x K`` logits; an
  ``nn.Module`` is additionally put in eval mode and gets its inputs on its own device and dtype.
- Results come back on the device and in the dtype of the images they were computed from.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .validation import check_images, check_labels, check_logits, check_model, check_range, get_module

__all__ = [
    "count_items", "batches", "eval_mode", "model_device", "model_dtype", "run_model", "logits",
    "predicted_classes", "resolve_target", "input_gradient", "hooks", "layer_outputs",
    "stream_activations", "input_channels", "progress_bar",
]


# --------------------------------------------------------------------------- data

def count_items(data) -> int:
    """The number of items in ``data``.

    Parameters
    ----------
    data : Dataset, Tensor or pair ``(x, y)``
        A sized Dataset (its ``len``), a tensor (its first dimension), or a pair whose ``y`` (or None) has as many
        items as the tensor ``x``.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        For another kind of ``data``, or a pair whose ``x`` is not a tensor.
    ValueError
        For a 0-d tensor, a tuple that is not a pair, or ``x`` and ``y`` of different lengths.
    """
    if isinstance(data, torch.Tensor):
        if data.dim() == 0:
            raise ValueError("data must have a batch dimension, got a 0-d tensor")
        return int(data.shape[0])
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"data as a tuple must be a pair (x, y), got {len(data)} elements")
        x, y = data
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"data's images must be a tensor, got {type(x).__name__}")
        if y is not None and (not hasattr(y, "__len__") or len(y) != len(x)):
            got = len(y) if hasattr(y, "__len__") else type(y).__name__
            raise ValueError(f"data's x and y must hold as many items, got {len(x)} images and {got} labels")
        return len(x)
    if isinstance(data, Dataset) and hasattr(data, "__len__"):
        return len(data)
    raise TypeError(f"data must be a Dataset, a tensor or a tuple (x, y), got {type(data).__name__}")


def batches(data, batch_size: int = 256, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Iterate over ``data`` in batches, in order or shuffled.

    Datasets that keep their images as one tensor (a ``.tensors(indices)`` method, as
    :class:`~lectures_lib.data.ImageTensorDataset`) are sliced directly, without a DataLoader.

    Parameters
    ----------
    data : Dataset of ``(image, label)``, Tensor ``N x ...`` or pair ``(x, y)``
        The items.
    batch_size : int, default 256
        At least 1; the last batch may be smaller.
    shuffle : bool, default False
        Visit the items in an order drawn from ``generator``.
    generator : torch.Generator, optional
        The source of the shuffled order (torch's global RNG when None).

    Yields
    ------
    tuple
        ``(x, y)``: a batch of items and their labels (``y`` is None for a tensor of images alone).
    """
    check_range(batch_size, "batch_size", low=1, integer=True)
    n = count_items(data)
    if isinstance(data, torch.Tensor):
        data = (data, None)
    order = torch.randperm(n, generator=generator) if shuffle else None
    if isinstance(data, (tuple, list)):
        x, y = data
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size] if shuffle else slice(i, i + batch_size)
            yield x[idx], (None if y is None else y[idx])
    elif callable(getattr(data, "tensors", None)):  # the course's datasets (torch's TensorDataset has a tuple)
        for i in range(0, n, batch_size):
            yield data.tensors(order[i:i + batch_size] if shuffle else torch.arange(i, min(i + batch_size, n)))
    else:
        loader = DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
        for x, y in loader:
            yield x, torch.as_tensor(y)


def progress_bar(total: int, desc: str, progress: bool = True, unit: str = "it"):
    """A ``tqdm.auto`` progress bar, hidden when ``progress`` is False or ``total < 2``.

    Parameters
    ----------
    total : int
        The number of steps.
    desc : str
        The bar's label.
    progress : bool, default True
        False hides the bar.
    unit : str, default "it"
        The name of a step.

    Returns
    -------
    tqdm.auto.tqdm
        Use it as a context manager and call ``.update(n)``; it does not stay on screen when closed.
    """
    return tqdm(total=total, desc=desc, unit=unit, disable=not progress or total < 2, leave=False)


# --------------------------------------------------------------------------- models

@contextlib.contextmanager
def eval_mode(model):
    """Put ``model`` in eval mode for the block; afterwards every submodule gets its own train/eval flag back.

    A frozen BatchNorm inside a training model stays frozen; the flags come back even after an error.

    Parameters
    ----------
    model : nn.Module or callable
        Any other callable is left as it is.

    Yields
    ------
    nn.Module or callable
        ``model`` itself.
    """
    if not isinstance(model, nn.Module):
        yield model
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def _first_tensor(model):
    if not isinstance(model, nn.Module):
        return None
    t = next(model.parameters(), None)
    return t if t is not None else next(model.buffers(), None)


def model_device(model) -> torch.device:
    """The device of ``model``'s first parameter (or buffer).

    Parameters
    ----------
    model : nn.Module or callable

    Returns
    -------
    torch.device
        The CPU for a model without parameters and buffers, and for a plain callable.
    """
    t = _first_tensor(model)
    return t.device if t is not None else torch.device("cpu")


def model_dtype(model) -> torch.dtype | None:
    """The floating dtype of ``model``'s parameters (that of the first floating-point one).

    Parameters
    ----------
    model : nn.Module or callable

    Returns
    -------
    torch.dtype or None
        None for a plain callable or a model without floating-point parameters.
    """
    t = next((p for p in model.parameters() if p.is_floating_point()), None) if isinstance(model, nn.Module) else None
    return None if t is None else t.dtype


def input_channels(model) -> int | None:
    """The number of channels ``model`` takes, from its first ``nn.Conv2d``.

    Parameters
    ----------
    model : nn.Module or callable

    Returns
    -------
    int or None
        None when it has no convolution or is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        return None
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else conv.in_channels


def run_model(model, x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """``model(x)``, with ``x`` moved to an ``nn.Module``'s device and dtype (a plain callable gets ``x`` as it is).

    Eval/train mode and gradients are the caller's.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``B x C x H x W`` images to outputs (logits).
    x : Tensor
        The images.
    name : str, default "x"
        What to call ``x`` in error messages.

    Returns
    -------
    Tensor
        The model's output, where the model computed it; differentiable with respect to ``x``.

    Raises
    ------
    TypeError
        When ``model`` is not callable or does not return a tensor.
    ValueError
        When the model cannot run on ``x`` (wrong size, wrong channels): the message names ``name`` and its shape
        instead of a trace from deep inside torch.
    """
    check_model(model)
    if isinstance(model, nn.Module):
        dev, dtype = model_device(model), model_dtype(model)
        x = x.to(device=dev, dtype=dtype or x.dtype)
    try:
        out = model(x)
    except RuntimeError as err:
        raise ValueError(f"the model cannot run on {name} of shape {tuple(x.shape)} and dtype {x.dtype}: is it the "
                         f"image size and channel count the model expects? ({str(err).splitlines()[0]})") from err
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"model must return a tensor of logits, got {type(out).__name__}")
    return out


@torch.no_grad()
def logits(model, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The logits of ``model`` on images ``x``, in eval mode, batched, without gradients.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``B x C x H x W`` images in [0, 1] to ``B x K`` logits.
    x : Tensor
        ``B x C x H x W`` images in [0, 1], ``B >= 1`` (``C`` as the model's first convolution takes).
    batch_size : int, default 256
        Images per forward pass.

    Returns
    -------
    Tensor
        ``B x K``, on the device and in the dtype of ``x``.

    Raises
    ------
    ValueError
        For bad images, or a model that does not return ``B x K`` logits.
    """
    check_images(x, "x", channels=input_channels(model), min_batch=1)
    with eval_mode(model):
        outs = [check_logits(run_model(model, xb)).to(x.device, x.dtype) for xb, _ in batches(x, batch_size)]
    return torch.cat(outs)


def predicted_classes(model, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The class each image of ``x`` is predicted as: the argmax of :func:`logits`.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``B x C x H x W`` images in [0, 1] to ``B x K`` logits.
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    batch_size : int, default 256
        Images per forward pass.

    Returns
    -------
    Tensor
        ``B`` int64 class indices, on the device of ``x``.
    """
    return logits(model, x, batch_size).argmax(dim=1)


def resolve_target(model, x: torch.Tensor, target=None, num_classes: int | None = None,
                   batch_size: int = 256, name: str = "target") -> torch.Tensor:
    """The class each image is explained or attacked for: ``target``, or the model's prediction when it is None.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``B x C x H x W`` images in [0, 1] to ``B x K`` logits; run only when ``target`` is None.
    x : Tensor
        ``B x C x H x W`` images in [0, 1].
    target : int, sequence of int or Tensor, optional
        ``B`` class indices, or one int for every image; None means the predicted classes.
    num_classes : int, optional
        When given, ``target`` must lie in ``[0, num_classes)``.
    batch_size : int, default 256
        Images per forward pass when predicting.
    name : str, default "target"
        The argument's name in error messages.

    Returns
    -------
    Tensor
        ``B`` int64 class indices, on the device of ``x``.
    """
    if target is None:
        return predicted_classes(model, x, batch_size)
    return check_labels(target, x.shape[0], num_classes, name=name).to(x.device)


def input_gradient(model, x: torch.Tensor, objective: Callable[..., torch.Tensor], *extras: torch.Tensor,
                   batch_size: int = 256) -> torch.Tensor:
    """The gradient of a scalar objective of the model's output with respect to its input images.

    ``d objective(model(x), *extras) / d x``, one forward and one backward pass per chunk of ``batch_size`` images.
    Works inside ``torch.no_grad()``; call it with the model in eval mode (images then do not interact, so the result
    does not depend on ``batch_size``). Only the input's gradient is computed: parameters' ``.grad`` stay untouched.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``B x C x H x W`` images to outputs.
    x : Tensor
        ``B x C x H x W`` images.
    objective : callable
        ``objective(out, *extras_chunk) -> scalar`` summed over the chunk: gets a chunk's output and the matching
        rows of each tensor of ``extras``.
    *extras : Tensor
        Tensors with one row per image (labels, targets), moved to the output's device.
    batch_size : int, default 256
        Images per chunk.

    Returns
    -------
    Tensor
        ``B x C x H x W``, on the device and in the dtype of ``x``.
    """
    check_range(batch_size, "batch_size", 1, integer=True)
    grads = []
    with torch.enable_grad():
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size].detach().clone().requires_grad_(True)
            out = run_model(model, xb)
            value = objective(out, *(e[i:i + batch_size].to(out.device) for e in extras))
            (grad,) = torch.autograd.grad(value, xb)
            grads.append(grad)
    return torch.cat(grads) if grads else torch.zeros_like(x)


# --------------------------------------------------------------------------- forward hooks

@contextlib.contextmanager
def hooks(modules: Mapping[str, nn.Module], hook: Callable[[str, nn.Module, tuple, object], object]):
    """Register ``hook(name, module, inputs, output)`` as a forward hook on every module of ``modules`` for the block.

    The hooks are removed whatever happens. A hook that returns a value replaces the module's output, as in
    ``register_forward_hook``.

    Parameters
    ----------
    modules : mapping of str to nn.Module
        ``{name: module}``; the name is passed to ``hook``.
    hook : callable
        ``hook(name, module, inputs, output) -> None or a replacement output``.

    Yields
    ------
    None
    """
    handles = []
    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(
                lambda m, inputs, output, name=name: hook(name, m, inputs, output)))
        yield
    finally:
        for handle in handles:
            handle.remove()


class _Stop(Exception):
    """Raised by a hook to end a forward pass once every wanted layer has run."""


def layer_outputs(model: nn.Module, x: torch.Tensor, layers: Sequence[str], keep_graph: bool = False,
                  calls: dict[str, int] | None = None) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Run ``model(x)`` with a forward hook on each of ``layers`` and keep their outputs.

    Eval/train mode and gradients are the caller's.

    Parameters
    ----------
    model : nn.Module
    x : Tensor
        The model's input, ``B x C x H x W``.
    layers : sequence of str
        ``named_modules`` names.
    keep_graph : bool, default False
        False: each output is stored as a detached clone, so in-place operations later in the network cannot change
        it. True: the stored output stays in the autograd graph and the hook hands a clone downstream (as Captum
        does), with the same effect.
    calls : dict of str to int, optional
        Stop the forward pass as soon as every layer has run that many times (the rest of the network is skipped).

    Returns
    -------
    outputs : dict of str to Tensor
        Each layer's output at its last call (``B x ...``), where the model computed it.
    counts : dict of str to int
        How many times each layer ran.

    Raises
    ------
    ValueError
        For an unknown layer, a layer that never runs, or one whose output is not a tensor (naming it).
    """
    modules = {name: get_module(model, name) for name in layers}
    outputs: dict[str, torch.Tensor] = {}
    counts = dict.fromkeys(modules, 0)

    def keep(name, _module, _inputs, output):
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"layer {name!r} returns a {type(output).__name__}, not a tensor")
        counts[name] += 1
        outputs[name] = output if keep_graph else output.detach().clone()
        if calls is not None and all(counts[n] >= calls[n] for n in counts):
            raise _Stop
        return output.clone() if keep_graph else None

    with hooks(modules, keep), contextlib.suppress(_Stop):
        run_model(model, x)
    missing = [name for name, count in counts.items() if count == 0]
    if missing:
        raise ValueError(f"layer(s) {missing} did not run in the model's forward pass")
    return outputs, counts


def stream_activations(model: nn.Module, data, layers: str | Sequence[str], batch_size: int = 64,
                       progress: bool = True, desc: str = "activations") -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
    """The streaming pass over a dataset's activations, in eval mode, without gradients, one batch at a time.

    Never holds more than one batch; the network stops after the last wanted layer has run (its calls are counted on
    the first batch). Batches run in channels-last layout, about twice as fast for convolutions on CPUs (values agree
    with the usual layout to float rounding). Used for top-activating patches (lesson 03), features for neighbours and
    t-SNE, and per-unit activation quantiles in network dissection (lesson 05).

    Parameters
    ----------
    model : nn.Module
        Maps ``B x C x H x W`` images in [0, 1] to logits.
    data : Dataset of ``(image, label)``, Tensor ``N x C x H x W`` or pair ``(x, y)``
        Images in [0, 1].
    layers : str or sequence of str
        ``named_modules`` names, at least one.
    batch_size : int, default 64
        Images per forward pass.
    progress : bool, default True
        Show a progress bar counting images.
    desc : str, default "activations"
        The progress bar's label.

    Yields
    ------
    start : int
        The index in ``data`` of the batch's first image.
    activations : dict of str to Tensor
        ``{layer: batch x ...}``, on the model's device.

    Raises
    ------
    ValueError
        For no or unknown layers, or bad images.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("layers must name at least one layer")
    for name in names:
        get_module(model, name)
    calls, start, channels = None, 0, input_channels(model)
    with eval_mode(model), torch.no_grad(), progress_bar(count_items(data), desc, progress, "img") as bar:
        for xb, _ in batches(data, batch_size):
            check_images(xb, "data", channels=channels)
            xb = xb.to(model_device(model)).contiguous(memory_format=torch.channels_last)
            outputs, calls = layer_outputs(model, xb, names, calls=calls)
            yield start, outputs
            start += len(xb)
            bar.update(len(xb))
