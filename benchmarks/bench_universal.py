"""Benchmark lectures_lib.universal, measured in one run on this machine (wall and process CPU time: on a
shared machine the CPU time of a single-threaded run is the steadier number).

    python benchmarks/bench_universal.py [--repeats 3] [--digits 200] [--imagenet [--skip-paper-sources]] [--threads 1]

1. The paper's algorithm on LeNet-5 and ``--digits`` MNIST test digits (L-inf xi = 0.3, 2 passes, no early stop):
   ours (``universal.universal_perturbation``) beside ART's ``UniversalPerturbation`` with its DeepFool attacker
   (the reference implementation in a library), the same settings, alternated after a warm-up, medians of
   ``--repeats``; each one's training fooling rate is printed beside its time.
2. The SGD variant (``universal.sgd_universal_perturbation``) on the same digits, 2 epochs: time and fooling rate.
3. ``--imagenet``: the lesson's ImageNet computation: the SGD variant on 500 ImageNet samples with
   EfficientNet-Lite0 at 10/255 (lesson 07's settings: batch 10, step 1/255, Adam, no clamp, random crops and
   flips of the training images) and its held-out
   fooling rate on the other 500, with the `lesson` mode's 5 epochs and the `paper` mode's 10; then the `paper`
   mode's other two sources, Lite1 and Lite2 on the same 500 images for 10 epochs each (``--skip-paper-sources``
   leaves them out). The `paper`-mode total is the sum of its three perturbations (the issue's target: under
   20 minutes on 2 CPU cores).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

# lesson 07's ImageNet settings (its SGD dict; bench_imagenet adds its augment=train.random_crop_flip)
LESSON_SETTINGS = dict(delta=0.0, batch_size=10, step=1 / 255, step_decay=1.0, optimizer="adam", beta=None)


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def bench_mnist(n: int, repeats: int) -> None:
    from art.attacks.evasion import UniversalPerturbation
    from art.estimators.classification import PyTorchClassifier

    from lectures_lib import data, universal

    lenet = universal.mnist_transfer_model("lenet5", progress=False)
    x, _ = data.stack(data.mnist("test"), n)
    classifier = PyTorchClassifier(lenet, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 28, 28), nb_classes=10,
                                   clip_values=(0.0, 1.0), device_type="cpu")

    def ours():
        return universal.universal_perturbation(lenet, x, 0.3, delta=0.0, max_passes=2, progress=False).fooling_rates[-1]

    def art():
        np.random.seed(0)  # noqa: NPY002 - ART shuffles with numpy's global generator
        attack = UniversalPerturbation(classifier, attacker="deepfool", attacker_params={"verbose": False}, delta=0.0,
                                       max_iter=2, eps=0.3, norm=np.inf, verbose=False)
        attack.generate(x.numpy())
        return attack.fooling_rate

    def sgd():
        return universal.sgd_universal_perturbation(lenet, x, 0.3, delta=0.0, max_passes=2, progress=False).fooling_rates[-1]

    runs = {"ours (DeepFool algorithm)": ours, "ART UniversalPerturbation": art, "ours, SGD variant": sgd}
    for fn in runs.values():  # warm-up
        fn()
    results = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            results[name].append(_timed(fn))
    print(f"\nLeNet-5, {n} digits, L-inf xi 0.3, 2 passes (medians of {repeats}, alternated):")
    for name, rows in results.items():
        rate = rows[-1][0]
        wall, cpu = statistics.median(r[1] for r in rows), statistics.median(r[2] for r in rows)
        print(f"  {name:28s} wall {wall:7.2f} s   cpu {cpu:7.2f} s   training fooling rate {rate:.3f}")
    ours_cpu = statistics.median(r[2] for r in results["ours (DeepFool algorithm)"])
    art_cpu = statistics.median(r[2] for r in results["ART UniversalPerturbation"])
    print(f"  ratio ours / ART (cpu): {ours_cpu / art_cpu:.2f}")


def bench_imagenet(skip_paper_sources: bool = False) -> None:
    from torch.utils.data import Subset

    from lectures_lib import data, models, train, universal

    settings = {**LESSON_SETTINGS, "augment": train.random_crop_flip}
    net = models.imagenet_model("efficientnet_lite0")
    samples = data.imagenet_samples()
    (x_train, _), t_decode, c_decode = _timed(lambda: data.stack(Subset(samples, range(0, 1000, 2))))
    x_test, _ = data.stack(Subset(samples, range(1, 1000, 2)))
    print(f"\ndecoding 500 ImageNet samples: wall {t_decode:.1f} s, cpu {c_decode:.1f} s")
    paper_total = 0.0
    for mode, epochs in (("lesson", 5), ("paper", 10)):
        result, wall, cpu = _timed(lambda epochs=epochs: universal.sgd_universal_perturbation(
            net, x_train, 10 / 255, max_passes=epochs, **settings, progress=False))
        held_out, w2, c2 = _timed(lambda result=result: universal.fooling_rate(net, x_test, result.perturbation))
        print(f"EfficientNet-Lite0, SGD variant, 500 images, {epochs} epochs ({mode} mode): wall {wall:.0f} s, "
              f"cpu {cpu:.0f} s; training fooling rate per epoch {[round(r, 3) for r in result.fooling_rates]}; "
              f"held-out fooling rate on 500 images {held_out:.3f} (wall {w2:.0f} s, cpu {c2:.0f} s)", flush=True)
        if mode == "paper":
            paper_total += wall
    for name in () if skip_paper_sources else ("efficientnet_lite1", "efficientnet_lite2"):
        other = models.imagenet_model(name)
        result, wall, cpu = _timed(lambda other=other: universal.sgd_universal_perturbation(
            other, x_train, 10 / 255, max_passes=10, **settings, progress=False))
        paper_total += wall
        print(f"{name}, SGD variant, 500 images, 10 epochs (paper mode): wall {wall:.0f} s, cpu {cpu:.0f} s; "
              f"training fooling rate {result.fooling_rates[-1]:.3f}", flush=True)
    if not skip_paper_sources:
        print(f"paper mode, the three ImageNet perturbations: wall {paper_total / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--digits", type=int, default=200)
    parser.add_argument("--imagenet", action="store_true")
    parser.add_argument("--skip-paper-sources", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import os

    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    bench_mnist(args.digits, args.repeats)
    if args.imagenet:
        bench_imagenet(args.skip_paper_sources)


if __name__ == "__main__":
    main()
