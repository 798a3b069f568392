"""Run time and peak memory of each lesson notebook in each run mode (each run in its own kernel).

    python benchmarks/bench_notebooks.py [--modes fast lesson] [--keep DIR] [notebooks/01_lenet_mnist.ipynb ...]

Each notebook runs in a fresh child process (nbclient, LECTURES_MODE=<mode>) that reports the wall time
and the peak resident memory of its kernel. Budgets on 2 CPU cores: fast under 60 s, lesson under 5 min.
Checkpoints already cached in data/ are used (run `make clean-cache` first to include training).
``--keep DIR`` writes each executed notebook to ``DIR/<mode>/`` (outputs included, and each cell's start and end
times in its metadata), to look at its figures; a failed run is written too. A cell may run 30 minutes, except in
paper mode, which has no limit.
The load average before and after each run is printed beside it: on a shared machine it says how far to trust it.
"""
from __future__ import annotations

import argparse
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
timeout = None if sys.argv[3] == "none" else int(sys.argv[3])
start = time.perf_counter()
try:
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
finally:  # a failed run is kept too, with the outputs and cell times up to the failure
    if len(sys.argv) > 4:
        nbformat.write(nb, sys.argv[4])
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel's peak (KiB on Linux)
print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024 if sys.platform != "darwin" else peak_kib / 2**20}))
"""


def run(notebook: Path, mode: str, keep: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "LECTURES_FAST"}
    env["LECTURES_MODE"] = mode
    extra = []
    if keep is not None:
        (keep / mode).mkdir(parents=True, exist_ok=True)
        extra = [str(keep / mode / notebook.name)]
    timeout = "none" if mode == "paper" else "1800"   # seconds per cell; the papers' sizes take as long as they take
    out = subprocess.run([sys.executable, "-c", CHILD, str(notebook), str(ROOT), timeout, *extra], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{notebook.name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["fast", "lesson"], choices=["fast", "lesson", "paper"])
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    notebooks = [Path(p) for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(f"{'notebook':40s} {'mode':>6s} {'seconds':>8s} {'peak MiB':>9s} {'load before/after':>18s}  "
          f"({os.cpu_count()} CPUs)")
    for nb in notebooks:
        for mode in args.modes:
            before = os.getloadavg()[0]
            r = run(nb, mode, args.keep)
            print(f"{nb.name:40s} {mode:>6s} {r['seconds']:8.1f} {r['peak_mib']:9.0f} {before:9.1f} /{os.getloadavg()[0]:5.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
