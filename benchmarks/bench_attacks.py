"""Benchmark lectures_lib.attacks against torchattacks, measured in one run on this machine.

    python benchmarks/bench_attacks.py [--repeats 5] [--images 1000] [--threads N]

1. PGD-40 (eps 0.3, alpha 0.01, random start) on the first ``--images`` MNIST test digits with the
   course's LeNet-5: ours (default: gradients in chunks of 256 images, which keeps the activations in
   cache) vs torchattacks' ``PGD`` with the same settings, runs alternated so that load
   from other processes hits both alike; best and median of ``--repeats`` each. Both are also run
   without random start on the same inputs and compared (max |difference|).
   Target: ratio ours / torchattacks <= 1.0.
2. FGSM, the same way (one step).
3. The loop's own overhead: PGD-40 on a linear model (the model costs ~nothing), same alternation,
   ours in one chunk (like torchattacks) and in our default chunks of 256 images.
4. The lesson's widget (``plotting.attacks.attack_widget``) on 4 ImageNet samples with EfficientNet-Lite0:
   the time to build it (``attacks.precompute_attacks``: all attacks precomputed) and the latency of each
   interaction (a control change and its redraw), median and worst over ``--changes`` changes.
   Target: the worst change within 0.5 s. (Latency is measured here, not asserted in tests or notebooks.)
5. Kurakin et al.'s curves (eps 2, 4, ..., 128 of 255, top-1 and top-5) on ``--kurakin`` ImageNet samples with
   EfficientNet-Lite0, for the basic iterative and the iterative least-likely methods: the full attacks (every
   epsilon from scratch, all of Kurakin's steps) beside ``early_stop=True`` (shared trajectories, images stop
   once their label has left the top 5), alternated, medians; and how far apart the two curves are.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch


def _alternate(fns: dict, repeats: int) -> dict:
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def bench_pgd_fgsm(n: int, repeats: int) -> None:
    import torchattacks

    from lectures_lib import attacks, data, models

    model = models.mnist_model("lenet5", progress=False)
    x, y = data.stack(data.mnist("test"), n)
    ta_pgd = torchattacks.PGD(model, eps=0.3, alpha=0.01, steps=40, random_start=True)
    ta_fgsm = torchattacks.FGSM(model, eps=0.3)

    # the same attack in float64 (exact, as in the tests) and float32 (where sign ties may flip a few pixels)
    diffs = {}
    for dtype in (torch.float64, torch.float32):
        m, xs = copy.deepcopy(model).to(dtype), x[:100].to(dtype)
        ref = torchattacks.PGD(m, eps=0.3, alpha=0.01, steps=40, random_start=False)(xs, y[:100])
        diff = (attacks.pgd(m, xs, y[:100], eps=0.3, alpha=0.01, steps=40, random_start=False) - ref).abs()
        diffs[str(dtype).split(".")[1]] = (float(diff.max()), float((diff > 1e-6).float().mean()))
    torch.manual_seed(0)
    adversarial = {"clean": x, "ours": attacks.pgd(model, x, y, eps=0.3, alpha=0.01, steps=40),
                   "torchattacks": ta_pgd(x, y)}
    with torch.no_grad():
        acc = {name: float((model(adv).argmax(1) == y).float().mean()) for name, adv in adversarial.items()}

    for label, fns in (
        ("PGD-40", {"ours": lambda: attacks.pgd(model, x, y, eps=0.3, alpha=0.01, steps=40),
                    "torchattacks": lambda: ta_pgd(x, y)}),
        ("FGSM", {"ours": lambda: attacks.fgsm(model, x, y, eps=0.3), "torchattacks": lambda: ta_fgsm(x, y)}),
    ):
        times = _alternate(fns, repeats)
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        print(flush=True)
        print(f"{label} on {n} MNIST digits, LeNet-5, {torch.get_num_threads()} thread(s), {repeats} alternated runs")
        print(f"  ours          best {best['ours']:.3f} s  median {med['ours']:.3f} s")
        print(f"  torchattacks  best {best['torchattacks']:.3f} s  median {med['torchattacks']:.3f} s")
        print(f"  ratio ours/torchattacks: best {best['ours'] / best['torchattacks']:.3f}  "
              f"median {med['ours'] / med['torchattacks']:.3f}  (target <= 1.0)")
        print(f"  all ours {[round(t, 3) for t in times['ours']]}")
        print(f"  all torchattacks {[round(t, 3) for t in times['torchattacks']]}")
    for dtype, (dmax, frac) in diffs.items():
        print(f"PGD-40 without random start, 100 digits, {dtype}: max |ours - torchattacks| = {dmax:.2e}, "
              f"pixels differing by > 1e-6: {frac:.2%}")
    print(f"LeNet accuracy: clean {acc['clean']:.4f}, after our PGD-40 {acc['ours']:.4f}, "
          f"after torchattacks' {acc['torchattacks']:.4f}")


def bench_overhead(repeats: int) -> None:
    """Per-step overhead of the attack loop itself: PGD-40 on a tiny linear model, where the model costs ~nothing."""
    import torchattacks

    from lectures_lib import attacks

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
    x, y = torch.rand(1000, 1, 28, 28), torch.randint(0, 10, (1000,))
    ta = torchattacks.PGD(model, eps=0.3, alpha=0.01, steps=40)
    times = _alternate({"ours": lambda: attacks.pgd(model, x, y, eps=0.3, alpha=0.01, steps=40, batch_size=len(x)),
                        "ours, chunks of 256": lambda: attacks.pgd(model, x, y, eps=0.3, alpha=0.01, steps=40),
                        "torchattacks": lambda: ta(x, y)}, repeats)
    best = {k: min(v) for k, v in times.items()}
    print(f"PGD-40 loop overhead (1000 images, a linear model that costs ~nothing): ours in one chunk "
          f"{best['ours'] * 1000:.1f} ms, torchattacks {best['torchattacks'] * 1000:.1f} ms, "
          f"ratio {best['ours'] / best['torchattacks']:.3f}; ours in chunks of 256 (the default, which pays off "
          f"on real models) {best['ours, chunks of 256'] * 1000:.1f} ms")


def bench_widget(n_changes: int = 20) -> None:
    """Build the widget once, then move its controls ``n_changes`` times (a fixed cycle through the
    attacks, epsilons and images) and time each change: the callback plus the redraw."""
    from lectures_lib import data, models
    from lectures_lib.plotting import attacks as attack_plots

    model = models.imagenet_model()
    x, y = data.stack(torch.utils.data.Subset(data.imagenet_samples(), [388, 817, 1, 207]))
    eps_values = (1 / 255, 4 / 255, 16 / 255)
    attack_names = ("fgsm", "iterative", "least_likely")
    t = time.perf_counter()
    widget = attack_plots.attack_widget(model, x, y, attacks=attack_names, eps_values=eps_values, progress=False)
    build = time.perf_counter() - t
    options = {"eps": list(eps_values), "attack": list(attack_names), "index": list(range(len(x)))}
    changes = []
    for i in range(n_changes):  # each control in turn, to its next value (cyclically): always a change
        name = ("eps", "attack", "index")[i % 3]
        values = options[name]
        value = values[(values.index(widget.controls[name].value) + 1) % len(values)]
        t = time.perf_counter()
        widget.controls[name].value = value
        changes.append(time.perf_counter() - t)
    print(f"widget on {len(x)} ImageNet samples (EfficientNet-Lite0, {len(attack_names)} attacks x "
          f"{len(eps_values)} eps precomputed): build {build:.1f} s")
    print(f"  per interaction over {len(changes)} changes: median {statistics.median(changes):.3f} s, "
          f"worst {max(changes):.3f} s (target: worst <= 0.5 s)")
    print(f"  all {[round(c, 3) for c in changes]}")


def bench_kurakin(n: int, repeats: int) -> None:
    from torch.utils.data import Subset

    from lectures_lib import attacks, data, models

    net = models.imagenet_model()
    x, y = data.stack(Subset(data.imagenet_samples(), list(range(0, 1000, 1000 // n))[:n]))
    eps = [e / 255 for e in (0, 2, 4, 8, 16, 32, 64, 128)]
    for name in ("iterative", "least_likely"):
        curves = {}

        def run(early: bool, name=name, curves=curves):
            curves[early] = attacks.accuracy_under_attack(net, (x, y), name, eps_values=eps, batch_size=8,
                                                          early_stop=early, progress=False)
        times = _alternate({"full": lambda: run(False), "early_stop": lambda: run(True)}, repeats)
        med = {k: statistics.median(v) for k, v in times.items()}
        gap = max(abs(a - b) for k in ("top1", "top5") for a, b in zip(curves[False][k], curves[True][k]))
        print(f"Kurakin curves, {name}, {n} ImageNet samples, eps 2..128: full {med['full']:.1f} s, "
              f"early_stop {med['early_stop']:.1f} s, speed-up {med['full'] / med['early_stop']:.1f}x; "
              f"largest accuracy difference {gap:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice; 1 is steadier on a shared machine)")
    parser.add_argument("--skip-widget", action="store_true")
    parser.add_argument("--changes", type=int, default=20, help="widget interactions timed")
    parser.add_argument("--kurakin", type=int, default=4, help="ImageNet samples for the Kurakin curves (0: skip)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bench_pgd_fgsm(args.images, args.repeats)
    bench_overhead(args.repeats)
    if not args.skip_widget:
        bench_widget(args.changes)
    if args.kurakin:
        bench_kurakin(args.kurakin, max(1, args.repeats // 2))


if __name__ == "__main__":
    main()
