"""Bad-input cases for the foundation modules: config, data, models, cache, train, plumbing, validation,
plotting and widgets (see ``bad_inputs.py``)."""
from __future__ import annotations

import gzip
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from bad_inputs import BAD_IMAGES, Case, images, labels, tiny_cnn
from torch import nn

from lectures_lib import cache, config, data, models, plotting, plumbing, train, validation, widgets

CASES: list[Case] = []


def add(id: str, names: str, call) -> None:
    CASES.append(Case(id, call, names))


def _env(var: str, value: str, fn):
    def call():
        old = os.environ.get(var)
        os.environ[var] = value
        try:
            return fn()
        finally:
            if old is None:
                del os.environ[var]
            else:
                os.environ[var] = old
    return call


# --------------------------------------------------------------------------- config
add("config.device: unknown name", "LECTURES_DEVICE", _env("LECTURES_DEVICE", "potato", config.device))
add("config.device: cuda missing", "LECTURES_DEVICE", _env("LECTURES_DEVICE", "cuda:7", config.device))
add("config.mode: unknown mode", "LECTURES_MODE", _env("LECTURES_MODE", "full", config.mode))
add("config.pick: unknown mode", "LECTURES_MODE", _env("LECTURES_MODE", "quick", lambda: config.pick(fast=1, lesson=2)))
for bad in (-1, 1.5, "0", None, True):
    add(f"config.seed_everything: seed {bad!r}", "seed", lambda bad=bad: config.seed_everything(bad))
    add(f"config.seeded: seed {bad!r}", "seed", lambda bad=bad: config.seeded(bad).__enter__())

# --------------------------------------------------------------------------- validation
for bad, name in ((float("nan"), "nan"), (float("inf"), "inf"), (-float("inf"), "-inf"), ("0.1", "a string"),
                  (None, "None"), (True, "a bool"), (torch.tensor([0.1, 0.2]), "a 2-element tensor"), (1.5, "1.5")):
    add(f"validation.check_eps: {name}", "eps", lambda bad=bad: validation.check_eps(bad))
add("validation.check_range: int expected", "steps", lambda: validation.check_range(2.5, "steps", 1, integer=True))
add("validation.check_range: above high", "p", lambda: validation.check_range(1.5, "p", 0, 1))
add("validation.check_range: strict high", "p", lambda: validation.check_range(1.0, "p", 0, 1, high_inclusive=False))
add("validation.check_choice: unhashable", "mode", lambda: validation.check_choice(["a"], "mode", {"a", "b"}))
add("validation.check_labels: float labels", "y", lambda: validation.check_labels(torch.rand(4), 4, 10))
add("validation.check_labels: bool labels", "y", lambda: validation.check_labels(torch.ones(4, dtype=torch.bool), 4))
add("validation.check_labels: wrong count", "y", lambda: validation.check_labels(labels(3), 4, 10))
add("validation.check_labels: out of range", "y", lambda: validation.check_labels(torch.tensor([0, 1, 2, 200]), 4, 10))
add("validation.check_labels: negative", "y", lambda: validation.check_labels(torch.tensor([0, -1, 2, 3]), 4))
add("validation.check_labels: a string", "y", lambda: validation.check_labels("cat", 4))
add("validation.check_maps: NaN map", "saliency", lambda: validation.check_maps(torch.full((4, 28, 28), float("nan")), images()))
add("validation.check_maps: wrong shape", "saliency", lambda: validation.check_maps(torch.rand(4, 14, 14), images()))
add("validation.check_features: NaN row", "features",
    lambda: validation.check_features(torch.tensor([[1.0, 2.0], [float("nan"), 0.0]])))
add("validation.check_features: 1-d", "features", lambda: validation.check_features(torch.rand(5)))
add("validation.check_features: empty", "features", lambda: validation.check_features(torch.rand(0, 3)))
add("validation.check_features: ints", "features", lambda: validation.check_features(torch.ones(3, 2, dtype=torch.long)))
add("validation.check_topk: zero", "topk", lambda: validation.check_topk((0,)))
add("validation.check_topk: empty", "topk", lambda: validation.check_topk(()))
add("validation.check_topk: above classes", "topk", lambda: validation.check_topk((1, 5), 3))
add("validation.get_module: unknown layer", "layer", lambda: validation.get_module(tiny_cnn(), "conv9"))
add("validation.get_module: not a module", "model", lambda: validation.get_module(lambda x: x, "0"))
add("validation.check_model: not callable", "model", lambda: validation.check_model(42))

# --------------------------------------------------------------------------- plumbing
for kind, make in BAD_IMAGES.items():
    if kind != "wrong channels":
        add(f"plumbing.logits: x {kind}", "x", lambda make=make: plumbing.logits(tiny_cnn(), make()))
add("plumbing.logits: wrong channels", "x", lambda: plumbing.logits(tiny_cnn(), images(channels=3)))
add("plumbing.logits: wrong size for a linear model", "x",
    lambda: plumbing.logits(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), images(size=20)))
add("plumbing.logits: model returns a tuple", "model", lambda: plumbing.logits(lambda x: (x, x), images()))
add("plumbing.logits: model returns maps", "model", lambda: plumbing.logits(lambda x: x, images()))
add("plumbing.logits: model not callable", "model", lambda: plumbing.logits("lenet", images()))
add("plumbing.count_items: triple", "data", lambda: plumbing.count_items((images(), labels(), labels())))
add("plumbing.count_items: x/y lengths differ", "data", lambda: plumbing.count_items((images(4), labels(3))))
add("plumbing.count_items: a string", "data", lambda: plumbing.count_items("digits"))
add("plumbing.count_items: 0-d tensor", "data", lambda: plumbing.count_items(torch.tensor(1.0)))
add("plumbing.batches: batch_size 0", "batch_size", lambda: list(plumbing.batches(images(), 0)))
add("plumbing.batches: batch_size 2.5", "batch_size", lambda: list(plumbing.batches(images(), 2.5)))
add("plumbing.resolve_target: out of range", "target",
    lambda: plumbing.resolve_target(tiny_cnn(), images(), torch.tensor([0, 1, 2, 10]), num_classes=10))
add("plumbing.resolve_target: float target", "target", lambda: plumbing.resolve_target(tiny_cnn(), images(), 1.5))
add("plumbing.layer_outputs: unknown layer", "layer", lambda: plumbing.layer_outputs(tiny_cnn(), images(), ["fc9"]))
add("plumbing.layer_outputs: layer never runs", "did not run",
    lambda: plumbing.layer_outputs(_with_spare(), images(), ["spare"]))
add("plumbing.stream_activations: no layers", "layers", lambda: next(plumbing.stream_activations(tiny_cnn(), images(), [])))
add("plumbing.stream_activations: NaN data", "data",
    lambda: next(plumbing.stream_activations(tiny_cnn(), BAD_IMAGES["NaN"](), "1", progress=False)))


class _WithSpare(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.spare = tiny_cnn(), nn.ReLU()  # spare is registered but never called in forward

    def forward(self, x):
        return self.body(x)


def _with_spare() -> nn.Module:
    return _WithSpare()


# --------------------------------------------------------------------------- train
def _fit(**kw):
    base = dict(epochs=1, lr=1e-3, batch_size=4, progress=False)
    base.update(kw)
    data_ = base.pop("data", (images(8), labels(8)))
    model = base.pop("model", tiny_cnn())
    return lambda: train.fit(model, data_, **base)


for name, value in (("epochs", 0), ("epochs", 1.5), ("lr", float("inf")), ("lr", float("nan")), ("lr", 0.0),
                    ("lr", -1.0), ("batch_size", 0), ("weight_decay", -0.1), ("weight_decay", float("nan")),
                    ("optimizer", "rmsprop"), ("lr_schedule", "step"), ("lr_schedule", "Cosine"), ("seed", -3),
                    ("perturb", "shift")):
    add(f"train.fit: {name}={value!r}", name, _fit(**{name: value}))
for kind, make in BAD_IMAGES.items():
    if kind not in ("3-d", "a list", "wrong channels", "empty batch"):
        add(f"train.fit: train images {kind}", "train_data", _fit(data=(make(), labels(4))))
add("train.fit: x and y lengths differ", "data", _fit(data=(images(8), labels(7))))
add("train.fit: empty training set", "train_data", _fit(data=(images(8)[:0], labels(8)[:0])))
add("train.fit: labels out of range", "labels", _fit(data=(images(4), torch.tensor([0, 1, 2, 200]))))
add("train.fit: float labels", "labels", _fit(data=(images(4), torch.rand(4))))
add("train.fit: images without labels", "labels", _fit(data=images(4)))
add("train.fit: wrong channels", "train_data", _fit(data=(images(4, channels=3), labels(4))))
add("train.fit: not a module", "model", _fit(model=lambda x: x))
add("train.fit: a list as data", "data", _fit(data=[1, 2, 3]))
add("train.fit: perturb returns NaN images", "perturb",
    _fit(perturb=lambda m, x, y: x * float("nan")))
for kind, make in BAD_IMAGES.items():
    if kind not in ("3-d", "a list", "wrong channels"):
        add(f"train.evaluate: images {kind}", "data", lambda make=make: train.evaluate(tiny_cnn(), (make(), labels(len(make())))))
add("train.evaluate: topk 0", "topk", lambda: train.evaluate(tiny_cnn(), (images(), labels()), topk=(0,)))
add("train.evaluate: topk above classes", "topk", lambda: train.evaluate(tiny_cnn(), (images(), labels()), topk=(1, 11)))
add("train.evaluate: labels out of range", "labels", lambda: train.evaluate(tiny_cnn(), (images(), labels() + 10)))
add("train.evaluate: x and y lengths differ", "data", lambda: train.evaluate(tiny_cnn(), (images(4), labels(3))))
add("train.evaluate: no labels", "labels", lambda: train.evaluate(tiny_cnn(), images()))
add("train.predict: 0-255 images", "x", lambda: train.predict(tiny_cnn(), images() * 255))
add("train.topk_accuracy: 1-d scores", "scores", lambda: train.topk_accuracy(torch.rand(4), labels()))
add("train.topk_accuracy: k 0", "topk", lambda: train.topk_accuracy(torch.rand(4, 10), labels(), topk=(0,)))
add("train.topk_accuracy: labels out of range", "y", lambda: train.topk_accuracy(torch.rand(4, 10), labels() + 20))
add("train.random_shift: negative shift", "max_shift", lambda: train.random_shift(images(), -1))
add("train.shift_augmentation: float shift", "max_shift", lambda: train.shift_augmentation(1.5))
for why, v in (("0", 0.0), ("above 1", 1.5), ("NaN", float("nan")), ("a string", "0.8")):
    add(f"train.random_crop_flip: min_scale is {why}", "min_scale", lambda v=v: train.random_crop_flip(images(), v))
add("train.random_crop_flip: flip is a string", "flip", lambda: train.random_crop_flip(images(), flip="yes"))
add("train.random_crop_flip: 0-255 images", "x", lambda: train.random_crop_flip(images() * 255))
add("train.random_crop_flip: one image without a batch", "x", lambda: train.random_crop_flip(images()[0]))

# --------------------------------------------------------------------------- models
add("models.LeNet5: unknown variant", "variant", lambda: models.LeNet5("vintage"))
add("models.imagenet_model: unknown name", "name", lambda: models.imagenet_model("resnet9000"))
add("models.build_mnist_model: unknown name", "name", lambda: models.build_mnist_model("vgg16"))
add("models.build_mnist_model: unknown dataset", "dataset", lambda: models.build_mnist_model("lenet5", "cifar10"))
add("models.mnist_training_config: negative seed", "seed", lambda: models.mnist_training_config(seed=-1))
add("models.mnist_model: unknown dataset (checked before loading)", "dataset", lambda: models.mnist_model(dataset="kmnist"))
add("models.mnist_model: unknown name", "name", lambda: models.mnist_model("alexnet"))
add("models.mnist_model: float seed", "seed", lambda: models.mnist_model(seed=0.5))
add("models.layer_table: wrong channels", "x", lambda: models.layer_table(models.LeNet5(), images(channels=3)))
add("models.count_macs: wrong input shape", "input_shape", lambda: models.count_macs(models.LeNet5(), (3, 28, 28)))

# --------------------------------------------------------------------------- data
add("data.mnist: unknown split", "split", lambda: data.mnist("validation"))
add("data.fashion_mnist: unknown split", "split", lambda: data.fashion_mnist("dev"))
add("data.load_image: missing file", "image file not found", lambda: data.load_image("/nonexistent/cat.png"))
add("data.load_image_bytes: not bytes", "raw", lambda: data.load_image_bytes("cat.png"))
add("data.load_image_bytes: text", "upload", lambda: data.load_image_bytes(b"hello"))
add("data.imagenet_preprocess: 4-d", "image", lambda: data.imagenet_preprocess(torch.rand(1, 3, 64, 64)))
add("data.imagenet_preprocess: grey", "image", lambda: data.imagenet_preprocess(torch.rand(1, 64, 64)))
add("data.imagenet_preprocess: 0-255", "image", lambda: data.imagenet_preprocess(torch.rand(3, 64, 64) * 255))
add("data.ImageTensorDataset: float images", "images",
    lambda: data.ImageTensorDataset(torch.rand(4, 1, 28, 28), labels(), data.MNIST_CLASSES, "test"))
add("data.ImageTensorDataset: label count", "targets",
    lambda: data.ImageTensorDataset(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), labels(3), data.MNIST_CLASSES, "t"))
add("data.ImageTensorDataset: label of 200", "targets",
    lambda: data.ImageTensorDataset(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.tensor([0, 1, 2, 200]),
                                    data.MNIST_CLASSES, "t"))


def _tmp(name: str, content: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="badinput-"))
    path = folder / name
    path.write_bytes(content)
    return path


def _idx(values: np.ndarray) -> bytes:
    header = (0x0800 | values.ndim).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in values.shape)
    return header + values.astype(np.uint8).tobytes()


def _fashion_folder(n_images: int, label_values) -> Path:
    """An uncompressed Fashion-MNIST test pair in torchvision's layout under a fresh data folder."""
    root = Path(tempfile.mkdtemp(prefix="badinput-data-"))
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(_idx(np.zeros((n_images, 28, 28))))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.asarray(label_values)))
    return root


def _mnist_from(root: Path):
    return _env("LECTURES_DATA", str(root), lambda: _env("LECTURES_OFFLINE", "1", lambda: data.mnist("test"))())


def _fashion_from(root: Path):
    return _env("LECTURES_DATA", str(root), lambda: _env("LECTURES_OFFLINE", "1", lambda: data.fashion_mnist("test"))())


add("data.fashion_mnist: 9 labels for 10 images", "labels", lambda: _fashion_from(_fashion_folder(10, range(9)))())
add("data.fashion_mnist: a label of 200", "label", lambda: _fashion_from(_fashion_folder(3, [0, 200, 1]))())
add("data.mnist: edited labels of an official file", "differs from the official",
    lambda: _mnist_from(_edited_official_labels())())


def _edited_official_labels() -> Path:
    src = data.data_dir() / "mnist-test"
    root = Path(tempfile.mkdtemp(prefix="badinput-data-"))
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images_gz, labels_gz = src / "t10k-images-idx3-ubyte.gz", src / "t10k-labels-idx1-ubyte.gz"
    if not images_gz.is_file():  # without the official files the case still needs one mismatching file
        (raw / "t10k-images-idx3-ubyte").write_bytes(_idx(np.zeros((3, 28, 28))))
        (raw / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.asarray([1, 2, 3])))
        return root
    with gzip.open(images_gz) as f:
        (raw / "t10k-images-idx3-ubyte").write_bytes(f.read())
    with gzip.open(labels_gz) as f:
        lab = bytearray(f.read())
    lab[8] = (lab[8] + 1) % 10  # one edited label
    (raw / "t10k-labels-idx1-ubyte").write_bytes(bytes(lab))
    return root


add("data.read_idx: not an IDX file", "IDX", lambda: data.read_idx(_tmp("x-idx1-ubyte", b"\x00\x00\x07\x01abcdefgh")))
add("data.read_idx: truncated", "truncated", lambda: data.read_idx(_tmp("y-idx1-ubyte", _idx(np.arange(10))[:-3])))
add("data.read_idx: broken gzip", "cannot read", lambda: data.read_idx(_tmp("z-idx1-ubyte.gz", b"\x1f\x8b\x08garbage")))


def _bomb_png() -> Path:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (14000, 14000)).save(buf, format="PNG")  # 196 Mpixels > PIL's 2 x 89.5 Mpixel bomb limit
    return _tmp("bomb.png", buf.getvalue())


add("data.load_image: decompression bomb", "too large", lambda: data.load_image(_bomb_png()))
add("data.load_image: not an image", "not an image", lambda: data.load_image(_tmp("notes.png", b"just text")))
add("data.load_image: truncated PNG", "bad.png", lambda: data.load_image(_tmp("bad.png", b"\x89PNG\r\n\x1a\n\x00\x00")))


def _samples_with(rows: str):
    root = Path(tempfile.mkdtemp(prefix="badinput-samples-"))
    (root / "labels.csv").write_text("class_index,wnid,name,file\n" + rows)
    return lambda: data.ImageNetSamples(root)


add("data.ImageNetSamples: class_index 1000", "class_index", _samples_with("1000,n0,x,n0.JPEG\n"))
add("data.ImageNetSamples: class_index -1", "class_index", _samples_with("-1,n0,x,n0.JPEG\n"))
add("data.ImageNetSamples: class_index not a number", "class_index", _samples_with("cat,n0,x,n0.JPEG\n"))

# --------------------------------------------------------------------------- cache
add("cache.load_checkpoint: a folder", "not a file",
    lambda: cache.load_checkpoint(Path(tempfile.mkdtemp()), nn.Linear(2, 2), {}))
add("cache.load_checkpoint: garbage", "unreadable",
    lambda: cache.load_checkpoint(_tmp("m.pt", b"garbage"), nn.Linear(2, 2), {}))

# --------------------------------------------------------------------------- plotting and widgets
add("plotting.image_grid: empty", "images", lambda: plotting.image_grid([]))
add("plotting.image_grid: ncols 0", "ncols", lambda: plotting.image_grid(images(), ncols=0))
add("plotting.image_grid: a string", "images", lambda: plotting.image_grid("digits"))
add("plotting.image_grid: 5-channel images", "images[0]", lambda: plotting.image_grid(torch.rand(2, 5, 8, 8)))
add("plotting.image_grid: titles count", "titles", lambda: plotting.image_grid(images(), titles=["a"]))
add("plotting.image_grid: unknown scale", "scale", lambda: plotting.image_grid(images(), scale="log"))
add("plotting.training_curves: empty history", "history", lambda: plotting.training_curves([]))
add("plotting.training_curves: not a history", "history", lambda: plotting.training_curves([{"loss": 1}]))
add("plotting.confusion_matrix: negative label", "y_true", lambda: plotting.confusion_matrix([0, -1], [0, 1], 10))
add("plotting.confusion_matrix: label above classes", "y_pred", lambda: plotting.confusion_matrix([0, 1], [0, 12], 10))
add("plotting.confusion_matrix: lengths differ", "y_pred", lambda: plotting.confusion_matrix([0, 1, 2], [0, 1], 10))
add("plotting.topk_bars: wrong length", "probs", lambda: plotting.topk_bars(torch.rand(5), ["a", "b"]))
add("plotting.topk_bars: logits", "probs", lambda: plotting.topk_bars(torch.tensor([3.0, -1.0]), ["a", "b"]))
add("plotting.topk_bars: k 0", "k", lambda: plotting.topk_bars(torch.tensor([0.3, 0.7]), ["a", "b"], k=0))
add("plotting.topk_bars: a string", "probs", lambda: plotting.topk_bars("0.5", ["a"]))
add("widgets.prediction_browser: 0-255 images", "images",
    lambda: widgets.prediction_browser(tiny_cnn(), images() * 255, labels(), data.MNIST_CLASSES))
add("widgets.prediction_browser: empty", "images",
    lambda: widgets.prediction_browser(tiny_cnn(), images()[:0], labels()[:0], data.MNIST_CLASSES))
add("widgets.prediction_browser: labels count", "labels",
    lambda: widgets.prediction_browser(tiny_cnn(), images(), labels(3), data.MNIST_CLASSES))
add("widgets.prediction_browser: probs shape", "probs",
    lambda: widgets.prediction_browser(tiny_cnn(), images(), labels(), data.MNIST_CLASSES, probs=torch.rand(4, 3)))
add("widgets.prediction_browser: k 0", "k",
    lambda: widgets.prediction_browser(tiny_cnn(), images(), labels(), data.MNIST_CLASSES, k=0))
