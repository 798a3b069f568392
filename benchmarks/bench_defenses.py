"""Benchmark lectures_lib.defenses, measured in one run on this machine.

    python benchmarks/bench_defenses.py [--repeats 5] [--images 1000] [--threads N] [--train]

1. The input transforms beside their references, alternated, after a warm-up, medians of ``--repeats``:
   ``bit_depth`` vs ART's formula in NumPy (``np.rint(x * (2^b - 1)) / (2^b - 1)``), ``median_filter`` (3 x 3)
   vs ``scipy.ndimage.median_filter`` (mode "mirror"), ``jpeg`` (libjpeg through torchvision) vs PIL; on the first
   ``--images`` MNIST test digits. Results are checked equal (or within a grey level for JPEG).
2. Fast FGSM (``defenses.fgsm_random_start``) vs torchattacks' ``FFGSM`` (the same attack, Wong et al. 2020), and
   the robust evaluation's PGD-50 vs torchattacks' ``PGD``, on the lesson's fast-trained MNIST model.
3. With ``--train``: the training cost of each defence: seconds per epoch of ``train.fit`` with each hook on MNIST's
   5,000 offline digits and on Fashion-MNIST's 60,000 images, measured over one epoch (not cached), and the
   resulting time of each run mode's recipe (fast / lesson / paper epochs, as the notebook picks them).

Timings on a shared machine move with the other processes' load: the script prints the load average.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import time

import numpy as np
import torch


def _alternate(fns: dict, repeats: int) -> dict:
    for fn in fns.values():   # warm-up
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _report(title: str, medians: dict) -> None:
    names = list(medians)
    ratio = medians[names[0]] / medians[names[1]]
    print(f"{title}: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in medians.items()) + f"  (ratio {ratio:.2f})")


def bench_transforms(n: int, repeats: int) -> None:
    from PIL import Image
    from scipy.ndimage import median_filter

    from lectures_lib import data
    from lectures_lib import defenses as D

    x, _ = data.stack(data.mnist("test"), n)
    xn = x.numpy()
    assert np.array_equal(D.bit_depth(x, 4).numpy(), np.rint(xn * 15) / 15)
    _report("bit_depth(4)", _alternate({"ours": lambda: D.bit_depth(x, 4),
                                        "ART formula (NumPy)": lambda: np.rint(xn * 15) / 15}, repeats))
    assert np.array_equal(D.median_filter(x, 3).numpy(), median_filter(xn, size=(1, 1, 3, 3), mode="mirror"))
    _report("median_filter(3)", _alternate({"ours": lambda: D.median_filter(x, 3),
                                            "scipy.ndimage": lambda: median_filter(xn, size=(1, 1, 3, 3), mode="mirror")},
                                           repeats))
    as_bytes = (x[:, 0] * 255).round().byte().numpy()

    def pil_jpeg():
        out = []
        for img in as_bytes:
            buf = io.BytesIO()
            Image.fromarray(img, mode="L").save(buf, "JPEG", quality=20)
            out.append(np.array(Image.open(buf)))
        return np.stack(out)

    diff = np.abs(D.jpeg(x, 20)[:, 0].numpy() * 255 - pil_jpeg()).max()
    print(f"jpeg(20) vs PIL: max difference {diff:.0f} grey levels")
    _report("jpeg(20)", _alternate({"ours (torchvision)": lambda: D.jpeg(x, 20), "PIL": pil_jpeg}, repeats))


def bench_attacks(n: int, repeats: int) -> None:
    import torchattacks

    from lectures_lib import attacks, data
    from lectures_lib import defenses as D

    model = D.defended_model("fast", progress=False)
    x, y = data.stack(data.mnist("test"), n)
    _report("fast FGSM (eps 0.3)", _alternate({"ours": lambda: D.fgsm_random_start(model, x, y, eps=0.3, alpha=0.3),
                                               "torchattacks FFGSM": lambda: torchattacks.FFGSM(model, eps=0.3, alpha=0.3)(x, y)},
                                              repeats))
    ta_pgd = torchattacks.PGD(model, eps=0.3, alpha=0.01, steps=50)
    _report("PGD-50 (eps 0.3)", _alternate({"ours": lambda: attacks.pgd(model, x, y, eps=0.3, alpha=0.01, steps=50),
                                            "torchattacks PGD": lambda: ta_pgd(x, y)}, max(1, repeats // 2)))


def bench_training() -> None:
    from lectures_lib import config, data, train
    from lectures_lib import defenses as D

    epochs = {"mnist": {"fast": 3, "lesson": 30, "paper": 30}, "fashion_mnist": {"fast": 1, "lesson": 3, "paper": 5}}
    for dataset in ("mnist", "fashion_mnist"):
        loader = data.mnist if dataset == "mnist" else data.fashion_mnist
        train_data = loader("train")
        for defence in ("standard", "fast", "ensemble", "pgd"):
            recipe = D.defence_recipe(defence, dataset, epochs=1)
            with config.seeded(0):
                model = D.WongNet()
            t = time.perf_counter()
            train.fit(model, train_data, epochs=1, lr=recipe["lr"], batch_size=recipe["batch_size"],
                      perturb=D._defence_hook(recipe), seed=0, progress=False)
            per_epoch = time.perf_counter() - t
            modes = ", ".join(f"{m} {per_epoch * e:.0f} s" for m, e in epochs[dataset].items())
            print(f"{dataset:13s} {defence:9s} {per_epoch:6.1f} s per epoch -> {modes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--train", action="store_true", help="also time one epoch of each defence's training")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} "
          f"(a shared machine: timings move with the load)")
    bench_transforms(args.images, args.repeats)
    bench_attacks(args.images, args.repeats)
    if args.train:
        bench_training()


if __name__ == "__main__":
    main()
