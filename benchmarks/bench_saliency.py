"""Benchmark lectures_lib.saliency against Captum, measured in one run on this machine.

    python benchmarks/bench_saliency.py [--repeats 3] [--masks 4000] [--batch-size 16] [--all-classes] [--skip-rise]

1. Occlusion, 224 x 224 image, window 32, stride 16 (169 positions), EfficientNet-Lite0:
   ours vs Captum's ``Occlusion`` at equal settings (the same batch, ``perturbations_per_eval``), at each
   library's default, and both at 64; runs alternated after a warm-up, medians of ``--repeats``, and the
   paired ratio of each round. First with a model that costs almost nothing, which shows each library's own
   work (the forward passes are the same calls of the same model on the same images for both).
   Target: equal-settings ratio ours / Captum <= 1.0.
2. RISE with 4000 masks on one image (the predicted class's map; every class's map at once with
   ``--all-classes``), in a subprocess: wall time and peak resident memory
   (VmHWM, else ``ru_maxrss``) and CPU time, next to the same process's memory before RISE started (model loaded).
   Targets: under 3 minutes on 2 CPU cores, peak under 1.5 GB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

from lectures_lib import data, models, saliency


def _image() -> tuple[torch.Tensor, int]:
    image, label = data.imagenet_samples()[817]  # a sports car
    return image[None], label


def bench_occlusion(repeats: int, batch_size: int, model=None) -> dict:
    """Ours beside Captum's ``Occlusion``, alternating, after one warm-up run of each, medians:
    (1) equal settings (``batch_size`` occluded images per forward pass for both);
    (2) each library's default (ours: :func:`saliency.occlusion_batch_size`, 8 on a CPU; Captum: one position
    per forward pass, ``perturbations_per_eval=1``); (3) both at 64, the batch our default used to be.
    ``model``: default EfficientNet-Lite0; :func:`cheap_model` shows each library's own overhead.
    Besides the medians, the paired ratio of each round (ours / Captum within one round, so slow spells of a
    shared machine hit both sides) and their median and range."""
    from statistics import median

    from captum.attr import Occlusion

    model = models.imagenet_model() if model is None else model
    x, _ = _image()
    target = int(model(x).argmax())

    def probs(inp):
        return model(inp).softmax(dim=1)

    def ours(bs):
        return saliency.occlusion(model, x, target, window=32, stride=16, batch_size=bs, progress=False)

    def captum(ppe):
        with torch.no_grad():
            return Occlusion(probs).attribute(x, sliding_window_shapes=(3, 32, 32), strides=(3, 16, 16),
                                             baselines=0.0, target=target, perturbations_per_eval=ppe)

    pairs = {"equal": (lambda: ours(batch_size), lambda: captum(batch_size)),
             "defaults": (lambda: ours(None), lambda: captum(1)),
             "both_64": (lambda: ours(64), lambda: captum(64))}
    out = {"positions": None, "batch_size": batch_size, "default_batch": saliency.occlusion_batch_size(model, x)}
    for name, (a, b) in pairs.items():
        res, ref = a(), b()                          # warm-up, and the results compared
        times = {"ours": [], "captum": []}
        for r in range(repeats):  # alternate, and swap who goes first each round: the first run of a pair measured slower
            for side in (("ours", a), ("captum", b)) if r % 2 == 0 else (("captum", b), ("ours", a)):
                t = time.perf_counter()
                side[1]()
                times[side[0]].append(time.perf_counter() - t)
        med = {k: median(v) for k, v in times.items()}
        paired = sorted(o / c for o, c in zip(times["ours"], times["captum"]))
        out[name] = {"ours_s": med["ours"], "captum_s": med["captum"], "ratio": med["ours"] / med["captum"],
                     "paired_median": median(paired), "paired_min": paired[0], "paired_max": paired[-1],
                     "paired_below_1": sum(r < 1 for r in paired),
                     "all_ours_s": times["ours"], "all_captum_s": times["captum"],
                     "max_abs_diff": float((res.saliency - ref[0, 0]).abs().max())}
        out["positions"] = res.probability[0].numel()
    return out


def cheap_model() -> torch.nn.Module:
    """A model whose forward pass costs almost nothing (8 x 8 average pooling and a linear layer to 1000
    classes), so that timing occlusion with it measures each library's own work: building the occluded
    images, batching, picking the target and averaging the drops."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(8), torch.nn.Flatten(), torch.nn.Linear(192, 1000)).eval()


def _print_occlusion(occ: dict, repeats: int, what: str) -> None:
    print(f"occlusion 224x224, window 32, stride 16 ({occ['positions']} positions), {what}, medians of {repeats} "
          f"alternating runs after a warm-up:")
    labels = {"equal": f"equal settings (batch {occ['batch_size']} both)",
              "defaults": f"defaults (ours: batch {occ['default_batch']}; Captum: perturbations_per_eval=1)",
              "both_64": "both at batch 64"}
    for key, label in labels.items():
        r = occ[key]
        scale, unit = (1, "s") if r["captum_s"] > 0.5 else (1000, "ms")
        print(f"  {label}: ours {r['ours_s'] * scale:.2f} {unit}, Captum {r['captum_s'] * scale:.2f} {unit}, "
              f"ratio of medians {r['ratio']:.3f}; paired ratio per round: median {r['paired_median']:.3f}, "
              f"range {r['paired_min']:.3f}-{r['paired_max']:.3f}, below 1 in {r['paired_below_1']} of {repeats} "
              f"(max |ours - Captum| = {r['max_abs_diff']:.1e}); runs ours "
              f"{[round(t * scale, 2) for t in r['all_ours_s']]}, Captum {[round(t * scale, 2) for t in r['all_captum_s']]}")


def _peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (Linux), else ru_maxrss. (ru_maxrss of a child
    also counts the parent's memory at fork time on Linux, hence VmHWM first.)"""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _rise_child(n_masks: int, batch_size: int, all_classes: bool) -> None:
    """Runs in the subprocess: one RISE map, prints a JSON line."""
    model = models.imagenet_model()
    x, _ = _image()
    before = _peak_rss_mb()
    t, cpu = time.perf_counter(), time.process_time()
    sal = saliency.rise(model, x, n_masks=n_masks, all_classes=all_classes, batch_size=batch_size, progress=False)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = _peak_rss_mb()
    print(json.dumps({"n_masks": n_masks, "batch_size": batch_size, "all_classes": all_classes,
                      "seconds": seconds, "cpu_seconds": cpu,
                      "rss_before_mb": before, "peak_rss_mb": peak, "shape": list(sal.shape),
                      "threads": torch.get_num_threads()}))


def bench_rise(n_masks: int, batch_size: int, all_classes: bool = False) -> dict:
    out = subprocess.run([sys.executable, __file__, "--rise-child", "--masks", str(n_masks),
                          "--batch-size", str(batch_size)] + (["--all-classes"] if all_classes else []),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--masks", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=8,
                        help="images per forward pass for both libraries (small batches are faster on CPU)")
    parser.add_argument("--all-classes", action="store_true", help="RISE maps of all 1000 classes at once")
    parser.add_argument("--skip-rise", action="store_true")
    parser.add_argument("--skip-occlusion", action="store_true")
    parser.add_argument("--rise-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rise_child:
        return _rise_child(args.masks, args.batch_size, args.all_classes)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    if not args.skip_occlusion:
        occ = bench_occlusion(max(args.repeats, 5), args.batch_size, cheap_model())
        _print_occlusion(occ, max(args.repeats, 5), "a model that costs almost nothing (each library's own work)")
        occ = bench_occlusion(args.repeats, args.batch_size)
        _print_occlusion(occ, args.repeats, "EfficientNet-Lite0")
        print(f"  target: equal-settings ratio <= 1.0; load average at the end {os.getloadavg()[0]:.1f}")
    if not args.skip_rise:
        r = bench_rise(args.masks, args.batch_size, args.all_classes)
        what = "all classes" if r["all_classes"] else "predicted class"
        print(f"RISE {r['n_masks']} masks ({what}), batch {r['batch_size']}, {r['threads']} threads: "
              f"{r['seconds']:.1f} s "
              f"(target < 180 s; CPU time {r['cpu_seconds']:.0f} s, i.e. {r['cpu_seconds'] / r['threads']:.0f} s "
              f"if its {r['threads']} threads had their cores to themselves), "
              f"peak RSS {r['peak_rss_mb']:.0f} MB (target < 1536 MB; "
              f"{r['rss_before_mb']:.0f} MB with the model loaded, before RISE)")


if __name__ == "__main__":
    main()
