#!/usr/bin/env python3
"""Benchmark: cold full synthesis of every environment, as CI and `cdk8s synth` run it, beside its floor.

Each run is a fresh process (Python start, cdk8s import, jsii bridge start, render, write), into
a scratch directory. The floor is what no render can avoid: ``python -O`` starting, importing floe
and cdk8s (which starts the jsii bridge) and synthesising an empty app. Floor and full render run
side by side, interleaved, so a busy machine slows both alike; the benchmark prints the median and
spread of each, their ratio (goal: at most 3), wall and CPU time (of every process the run waited
for, the bridge included), and the peak memory of the render's process tree (sampled while it runs).

    .venv/bin/python bench/synth_bench.py [--runs 7]
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tree_memory import Run, measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 2.0
GOAL_RATIO = 3.0
FLOOR = ("import sys, tempfile\n"
         "import floe, cdk8s\n"
         "with tempfile.TemporaryDirectory() as tmp:\n"
         "    cdk8s.App(outdir=tmp).synth()\n")


def full(outdir: Path) -> Run:
    # As cdk8s.yaml runs it: -O skips jsii's run-time type checks (the tests keep them on).
    return measure([sys.executable, "-O", "main.py", "--outdir", str(outdir)], ROOT)


def floor() -> Run:
    return measure([sys.executable, "-O", "-c", FLOOR], ROOT)


def summary(label: str, runs: list[Run]) -> tuple[float, float]:
    seconds, cpu = statistics.median(r.seconds for r in runs), statistics.median(r.cpu_seconds for r in runs)
    print(f"  {label:<6} median {seconds:.3f} s (min {min(r.seconds for r in runs):.3f}, max "
          f"{max(r.seconds for r in runs):.3f})   cpu {cpu:.3f} s   peak {max(r.peak_mib for r in runs):.0f} MiB")
    return seconds, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    floors: list[Run] = []
    renders: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        full(Path(tmp) / "warmup")  # fills the OS page cache, as on a developer machine
        floor()
        for i in range(args.runs):
            floors.append(floor())
            renders.append(full(Path(tmp) / f"run{i}"))
        files = sum(1 for _ in (Path(tmp) / "run0").rglob("*.yaml"))
    print(f"cold full synth, {args.runs} runs of each, interleaved with the floor, {files} files")
    floor_seconds, floor_cpu = summary("floor", floors)
    seconds, cpu = summary("full", renders)
    ratio = seconds / floor_seconds
    print(f"  ratio {ratio:.2f}x the floor (cpu {cpu / floor_cpu:.2f}x)   per file {seconds / files * 1000:.2f} ms")
    print(f"  goal {GOAL_RATIO:.0f}x the floor: {'met' if ratio <= GOAL_RATIO else 'MISSED'};   "
          f"goal {GOAL_SECONDS:.1f} s: {'met' if seconds <= GOAL_SECONDS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
