"""Benchmark lectures_lib.blackbox, measured in one run on this machine (timings on a shared machine vary: the
runs alternate so that load from other processes hits both sides alike; medians of ``--repeats``).

    python benchmarks/bench_blackbox.py [--repeats 3] [--images 12] [--steps 400] [--threads N]

1. SimBA (pixel basis, eps 0.3) on the first ``--images`` held-out MNIST digits with the course's LeNet-5:
   ours (the batch queried together, one or two queries per step) beside ART's ``SimBA(attack="px")``
   (one image at a time, two queries per step), at most ``--steps`` steps per image. Printed: seconds,
   queries per image (ours counted by the oracle; ART's are 1 + 2 x steps), and the share of digits fooled.
2. The substitute of the lesson: ``train_substitute`` with the paper's schedule (150 seeds, 6 rounds, 10 epochs),
   the MLP of the paper's tutorial and the small CNN of the notebook: seconds per run, and the substitute's
   accuracy on 2,000 held-out digits.
3. The oracle's own overhead per query of 256 digits against a bare ``torch.no_grad`` forward pass.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn


def _alternate(fns: dict, repeats: int) -> dict:
    times = {k: [] for k in fns}
    results = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t)
    return {k: (statistics.median(v), results[k]) for k, v in times.items()}


def bench_simba(n: int, steps: int, repeats: int) -> None:
    from art.attacks.evasion import SimBA
    from art.estimators.classification import PyTorchClassifier

    from lectures_lib import blackbox, data, models

    lenet = models.mnist_model("lenet5", progress=False)
    x, y = data.stack(data.mnist("test"), 150 + n)
    x, y = x[150:], y[150:]
    clf = PyTorchClassifier(nn.Sequential(lenet, nn.Softmax(dim=1)).eval(), loss=nn.CrossEntropyLoss(),
                            input_shape=(1, 28, 28), nb_classes=10, clip_values=(0.0, 1.0))

    def ours():
        oracle = blackbox.Oracle(lenet, output="probabilities")
        r = blackbox.simba(oracle, x, y, eps=0.3, max_queries=2 * steps + 1, progress=False)
        return r.success.float().mean().item(), r.queries.double().mean().item()

    def art():
        np.random.seed(0)  # noqa: NPY002 - ART draws its order from the legacy global RNG
        x_adv = SimBA(clf, attack="px", max_iter=steps, epsilon=0.3, verbose=False).generate(x.numpy())
        with torch.no_grad():
            return (lenet(torch.from_numpy(x_adv)).argmax(1) != y).float().mean().item(), float("nan")

    res = _alternate({"ours": ours, "ART": art}, repeats)
    print(f"1. SimBA pixel, eps 0.3, <= {steps} steps, {n} digits (median of {repeats}):")
    for name, (sec, (fooled, queries)) in res.items():
        q = f"{queries:.0f} queries/image" if queries == queries else "up to 1 + 2 x steps queries/image"
        print(f"   {name:5s} {sec:7.2f} s   {fooled:.0%} fooled   {q}")
    print(f"   ratio ours / ART: {res['ours'][0] / res['ART'][0]:.2f}")


def bench_substitute(repeats: int) -> None:
    from lectures_lib import blackbox, data, models

    lenet = models.mnist_model("lenet5", progress=False)
    x, y = data.stack(data.mnist("test"), 2150)

    def run(arch):
        oracle = blackbox.Oracle(lenet)
        r = blackbox.train_substitute(oracle, x[:150], arch, holdout=(x[150:], y[150:]), progress=False)
        return r.history[-1]["substitute_accuracy"]

    res = _alternate({"mlp": lambda: run("mlp"), "cnn": lambda: run("cnn")}, repeats)
    print("2. train_substitute, 150 seeds, 6 rounds (4,800 queries), 10 epochs per round:")
    for name, (sec, acc) in res.items():
        print(f"   {name}: {sec:7.1f} s, substitute accuracy {acc:.1%} on 2,000 held-out digits")


def bench_oracle(repeats: int) -> None:
    from lectures_lib import blackbox, data, models

    lenet = models.mnist_model("lenet5", progress=False)
    x, _ = data.stack(data.mnist("test"), 256)
    oracle = blackbox.Oracle(lenet)

    def bare():
        with torch.no_grad():
            for _ in range(20):
                lenet(x).argmax(1)

    def through_oracle():
        for _ in range(20):
            oracle(x)

    res = _alternate({"bare": bare, "oracle": through_oracle}, max(repeats, 5))
    print(f"3. 20 queries of 256 digits: bare forward {res['bare'][0]:.3f} s, through the oracle "
          f"{res['oracle'][0]:.3f} s (ratio {res['oracle'][0] / res['bare'][0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    bench_simba(args.images, args.steps, args.repeats)
    bench_oracle(args.repeats)
    bench_substitute(args.repeats)


if __name__ == "__main__":
    main()
