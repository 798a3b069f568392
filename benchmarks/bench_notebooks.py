"""Fast-mode run time and peak memory of each lesson notebook (each run in its own kernel).

    python benchmarks/bench_notebooks.py [notebooks/01_lenet_mnist.ipynb ...]

Each notebook runs in a fresh child process (nbclient, LECTURES_FAST=1) that reports the wall time
and the peak resident memory of its kernel. Target: each of lessons 01 and 02 under 90 s on 2 cores.
Checkpoints already cached in data/ are used (run `make clean-cache` first to include training).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel's peak (KiB on Linux)
print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024 if sys.platform != "darwin" else peak_kib / 2**20}))
"""


def run(notebook: Path) -> dict:
    env = dict(os.environ, LECTURES_FAST="1")
    out = subprocess.run([sys.executable, "-c", CHILD, str(notebook), str(ROOT)], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{notebook.name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(paths: list[str]) -> None:
    notebooks = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(f"{'notebook':40s} {'seconds':>8s} {'peak MiB':>9s}   (fast mode, {os.cpu_count()} CPUs)")
    for nb in notebooks:
        r = run(nb)
        print(f"{nb.name:40s} {r['seconds']:8.1f} {r['peak_mib']:9.0f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
