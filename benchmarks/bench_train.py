"""LeNet-5 training and inference throughput on this machine's CPU, and the ImageNet model's.

    python benchmarks/bench_train.py
"""
from __future__ import annotations

import time

import torch

from lectures_lib import data, models, train


def images_per_second(fn, n_images: int, repeats: int = 3) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_images / best


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    digits = data.mnist("train")
    x, y = digits.tensors()
    print("MNIST train:", digits.source)
    for variant in ("modern", "classic"):
        config = models.mnist_training_config("lenet5" if variant == "modern" else "lenet5_classic")

        def one_epoch(variant=variant, config=config):
            model = models.LeNet5(variant)
            train.fit(model, (x, y), None, epochs=1, lr=config["lr"], batch_size=config["batch_size"],
                      perturb=train.shift_augmentation(config["augment_shift"]), progress=False)

        rate = images_per_second(one_epoch, len(y))
        print(f"LeNet-5 {variant:8s} training: {rate:8.0f} images/s  -> one epoch of 60,000 digits: {60000 / rate:5.1f} s")
        model = models.LeNet5(variant).eval()
        rate = images_per_second(lambda model=model: train.logits(model, x, 1024), len(y))
        print(f"LeNet-5 {variant:8s} inference: {rate:7.0f} images/s")
    net = models.imagenet_model()
    batch = torch.rand(32, 3, 224, 224)
    rate = images_per_second(lambda: train.logits(net, batch, 32), 32, repeats=2)
    print(f"EfficientNet-Lite0 inference (batch 32): {rate:.1f} images/s -> 1000 samples: {1000 / rate:.0f} s")


if __name__ == "__main__":
    main()
