#!/usr/bin/env python3
"""Benchmark: cold full synthesis of every environment, as CI and `cdk8s synth` run it, beside its floor.

Each run is a fresh process (Python start, cdk8s import, jsii bridge start, render, write). The floor is
what no render can avoid: ``python -O`` starting, importing floe and cdk8s (which starts the jsii bridge)
and synthesising an empty app. Two renders are measured: a re-render into the tree an earlier render
wrote (how CI's drift gate, `cdk8s synth` and `floe platform deploy` run: dist/ is there, and most files
are as they were), which the goal applies to, and a first render into an empty folder. Floor and renders
run side by side, interleaved, so a busy machine slows all alike; the benchmark prints the median and
spread of each, their ratio to the floor (goal: at most 3), wall and CPU time (of every process the run
waited for, the bridge included), and the peak memory of the render's process tree (sampled while it runs).

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
    # As cdk8s.yaml runs it: -O skips jsii's run-time type checks (one test renders with them on).
    return measure([sys.executable, "-O", "main.py", "--outdir", str(outdir)], ROOT)


def floor() -> Run:
    return measure([sys.executable, "-O", "-c", FLOOR], ROOT)


def summary(label: str, runs: list[Run]) -> tuple[float, float]:
    seconds, cpu = statistics.median(r.seconds for r in runs), statistics.median(r.cpu_seconds for r in runs)
    print(f"  {label:<9} median {seconds:.3f} s (min {min(r.seconds for r in runs):.3f}, max "
          f"{max(r.seconds for r in runs):.3f})   cpu {cpu:.3f} s   peak {max(r.peak_mib for r in runs):.0f} MiB")
    return seconds, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    floors: list[Run] = []
    rerenders: list[Run] = []
    firsts: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        full(Path(tmp) / "tree")  # the tree every re-render replaces; also fills the OS page cache
        floor()
        for i in range(args.runs):
            floors.append(floor())
            rerenders.append(full(Path(tmp) / "tree"))
            firsts.append(full(Path(tmp) / f"first{i}"))
        files = sum(1 for _ in (Path(tmp) / "tree").rglob("*.yaml"))
    print(f"cold full synth, {args.runs} runs of each, interleaved with the floor, {files} files")
    floor_seconds, floor_cpu = summary("floor", floors)
    medians = {label: summary(label, runs) for label, runs in (("re-render", rerenders), ("first", firsts))}
    for label, (seconds, cpu) in medians.items():
        print(f"  {label:<9} {seconds / floor_seconds:.2f}x the floor (cpu {cpu / floor_cpu:.2f}x)   "
              f"per file {seconds / files * 1000:.2f} ms")
    seconds = medians["re-render"][0]
    print(f"  goal for a re-render: {GOAL_RATIO:.0f}x the floor: "
          f"{'met' if seconds / floor_seconds <= GOAL_RATIO else 'MISSED'};   "
          f"{GOAL_SECONDS:.1f} s: {'met' if seconds <= GOAL_SECONDS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
