#!/usr/bin/env python3
"""Benchmark: cold full synthesis of every environment, as CI and `cdk8s synth` run it.

Each run is a fresh process (Python start, cdk8s import, jsii bridge start, render, write), into
a scratch directory. Prints the median and spread of several runs and the peak memory of the
process tree; the goal on a 2-core machine is a median of 2 s or less.

    .venv/bin/python bench/synth_bench.py [--runs 7]
"""

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 2.0


def one_run(outdir: Path) -> float:
    start = time.perf_counter()
    # As cdk8s.yaml runs it: -O skips jsii's run-time type checks (the tests keep them on).
    subprocess.run([sys.executable, "-O", "main.py", "--outdir", str(outdir)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one_run(Path(tmp) / "warmup")  # fills the OS page cache, as on a developer machine
        times = [one_run(Path(tmp) / f"run{i}") for i in range(args.runs)]
        files = sum(1 for _ in (Path(tmp) / "run0").rglob("*.yaml"))
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    median = statistics.median(times)
    print(f"cold full synth, {args.runs} runs, {files} files")
    print(f"  median {median:.3f} s   min {min(times):.3f} s   max {max(times):.3f} s")
    print(f"  per file {median / files * 1000:.2f} ms   peak RSS {peak_mib:.0f} MiB "
          "(the main process; each render worker is its own process)")
    print(f"  goal {GOAL_SECONDS:.1f} s: {'met' if median <= GOAL_SECONDS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
