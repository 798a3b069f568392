"""Per-interaction latency of the foundation widgets (the digit browser of lesson 01).

    python benchmarks/bench_widgets.py

Moves the browser's slider 30 times after one warm-up redraw and prints the median and the worst
redraw time. Target: every redraw under 0.5 s on a laptop CPU (the lesson widgets' latencies are in
bench_visualize.py, bench_saliency.py and bench_attacks.py).
"""
from __future__ import annotations

import statistics
import time

from lectures_lib import data, models, widgets


def main() -> None:
    test = data.mnist("test")
    x, y = test.tensors(slice(0, 500))
    model = models.mnist_model("lenet5", progress=False)
    browser = widgets.prediction_browser(model, x, y, test.classes, description="digit")
    times = []
    for i in range(1, 31):
        start = time.perf_counter()
        browser.controls["index"].value = (i * 37) % len(x)
        times.append(time.perf_counter() - start)
    print(f"prediction_browser: {len(times)} slider moves, median {statistics.median(times) * 1000:.0f} ms, "
          f"worst {max(times) * 1000:.0f} ms (target < 500 ms)")


if __name__ == "__main__":
    main()
