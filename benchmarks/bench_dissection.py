"""Benchmark of lesson 05 (network dissection).

1. The issue's bar: one layer of the ImageNet model (EfficientNet-Lite0) dissected against colour concepts over
   the 1000 ImageNet samples (both passes: thresholds, then IoU), its time and the peak memory of the process
   (each measured in a fresh subprocess, so the peak is this job's alone).
2. The streaming thresholds beside the in-memory reference (all activation maps collected, then
   ``numpy.quantile``-style exact selection): the same thresholds, timed alternating after a warm-up, medians.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dissection.py [--n 1000] [--layer net._blocks.8] [--repeats 3]

Timings on a shared machine vary with its load: the script prints the load average beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch


def _job(n: int, layer: str, batch_size: int) -> dict:
    from torch.utils.data import Subset

    from lectures_lib import data, models
    from lectures_lib import dissection as D

    model = models.imagenet_model()
    samples = data.imagenet_samples()
    subset = Subset(samples, list(range(0, len(samples), max(1, len(samples) // n)))[:n])
    concepts = D.color_concepts(subset)
    start = time.perf_counter()
    result = D.dissect(model, layer, concepts, batch_size=batch_size, progress=False)
    seconds = time.perf_counter() - start
    table = result.table()
    return {"n": len(subset), "layer": layer, "batch_size": batch_size, "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "units": len(table), "colour_units": table.count(), "best": table.detectors()[:3]}


def full_dissection(n: int, layer: str, batch_size: int) -> dict:
    """Run :func:`_job` in a fresh interpreter (its own peak memory)."""
    out = subprocess.run([sys.executable, __file__, "--job", "--n", str(n), "--layer", layer, "--batch-size", str(batch_size)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def thresholds_beside_reference(n: int, layer: str, repeats: int) -> dict:
    from lectures_lib import data, models, plumbing
    from lectures_lib import dissection as D

    model = models.imagenet_model()
    samples = data.imagenet_samples()
    x = torch.stack([samples[i][0] for i in range(0, len(samples), len(samples) // n)][:n])

    def ours():
        return D.unit_thresholds(model, layer, x, batch_size=50, progress=False)

    def reference():  # every map held in memory, then an exact selection per unit with numpy
        maps = torch.cat([out[layer] for _, out in plumbing.stream_activations(model, x, layer, 50, progress=False)])
        values = maps.transpose(0, 1).flatten(1).numpy()
        k = max(1, int(0.005 * values.shape[1] + 0.5))
        held = maps.numel() * maps.element_size()
        return torch.from_numpy(-np.partition(-values, k, axis=1)[:, k]), held

    ours()
    reference()                                                   # warm-up
    times = {"ours": [], "reference": []}
    for _ in range(repeats):
        for name, fn in (("ours", ours), ("reference", reference)):
            start = time.perf_counter()
            res = fn()
            times[name].append(time.perf_counter() - start)
            if name == "ours":
                t_ours = res
            else:
                t_ref, held = res
    agree = float((t_ours - t_ref).abs().max())
    return {"n": n, "layer": layer, "ours_s": statistics.median(times["ours"]),
            "reference_s": statistics.median(times["reference"]), "max_difference": agree,
            "reference_holds_mb": held / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--layer", default="net._blocks.8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        print(json.dumps(_job(args.n, args.layer, args.batch_size)))
        return
    print(f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"load average {os.getloadavg()[0]:.1f}")
    res = full_dissection(args.n, args.layer, args.batch_size)
    print(f"dissect {res['layer']} ({res['units']} units) vs colour concepts on {res['n']} ImageNet samples, batch size "
          f"{res['batch_size']}: "
          f"{res['seconds']:.0f} s, peak memory {res['peak_rss_mb']:.0f} MB (bar: 180 s, 2048 MB); "
          f"{res['colour_units']} colour units, best {res['best']}")
    small = min(args.n, 200)
    cmp = thresholds_beside_reference(small, args.layer, args.repeats)
    print(f"thresholds on {small} images, {args.layer}: streaming exact {cmp['ours_s']:.1f} s, in-memory numpy "
          f"{cmp['reference_s']:.1f} s (holds {cmp['reference_holds_mb']:.0f} MB of maps; ratio "
          f"{cmp['ours_s'] / cmp['reference_s']:.2f}); max difference {cmp['max_difference']:.2e}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
