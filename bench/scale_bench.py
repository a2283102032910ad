#!/usr/bin/env python3
"""Benchmark: how synthesis grows with the number of data products (the platform's scale axis).

For 1, 10, 100 and 1,000 data products, renders one environment (dev's settings plus N products)
in a fresh process, as CI does, several times interleaved, and prints the median wall and CPU
time, the peak memory of the render's whole process tree (Python and its Node.js bridge, sampled
while it runs) and the marginal cost per rendered object. Each product adds a code location
(Deployment, Service, ServiceAccount) and four job templates, so the cost should grow linearly.

Goals: 1,000 products in 12 s or less and 400 MiB or less; the marginal cost per object from 100
to 1,000 products at most 1.2 times that from 10 to 100.

    .venv/bin/python bench/scale_bench.py [--runs 3] [--products 1 10 100 1000]
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tree_memory import Run, measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS, GOAL_MIB, GOAL_PRODUCTS, GOAL_LINEARITY = 12.0, 400.0, 1000, 1.2


def environment(products: int) -> dict:
    base = yaml.safe_load((ROOT / "environments" / "dev.yaml").read_text())
    base["data_products"] = [
        {"name": f"product-{i:03d}", "image": f"registry.example.com/floe/product-{i:03d}:1.0.0",
         "module": f"product_{i:03d}.definitions", "dlt": {"module": f"product_{i:03d}.ingest"}}
        for i in range(products)
    ]
    return base


def one_run(environments: Path, outdir: Path) -> Run:
    """One render in a fresh process: wall and CPU seconds, peak resident MiB of its process tree."""
    return measure([sys.executable, "-O", "main.py", "--environments", str(environments), "--outdir", str(outdir)],
                   ROOT)


def marginal(low: tuple[int, float], high: tuple[int, float]) -> float:
    """Milliseconds per object between two (objects, seconds) points."""
    return (high[1] - low[1]) / (high[0] - low[0]) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--products", type=int, nargs="+", default=[1, 10, 100, 1000])
    args = parser.parse_args()
    counts = sorted(set(args.products))
    runs: dict[int, list[Run]] = {count: [] for count in counts}
    objects: dict[int, int] = {}
    files: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            environments = Path(tmp) / f"env-{count}"
            environments.mkdir()
            (environments / "scale.yaml").write_text(yaml.safe_dump(environment(count)))
        one_run(Path(tmp) / f"env-{counts[0]}", Path(tmp) / "warm-up")  # compiled modules, page cache
        for i in range(args.runs):  # interleaved, so a busy moment of the machine spreads over every size
            for count in counts:
                outdir = Path(tmp) / f"out-{count}-{i}"
                runs[count].append(one_run(Path(tmp) / f"env-{count}", outdir))
                if i == 0:
                    written = list(outdir.rglob("*.yaml"))
                    files[count] = len(written)
                    objects[count] = sum(1 for path in written if path.name != "kustomization.yaml")
    seconds = {count: statistics.median(r.seconds for r in runs[count]) for count in counts}
    cpu = {count: statistics.median(r.cpu_seconds for r in runs[count]) for count in counts}
    memory = {count: max(r.peak_mib for r in runs[count]) for count in counts}
    print(f"{args.runs} runs per size, interleaved; peak MiB: the largest sampled sum of the resident memory of "
          "the render's processes")
    print(f"{'products':>8} {'objects':>8} {'files':>6} {'median s':>9} {'cpu s':>7} {'peak MiB':>9}")
    for count in counts:
        print(f"{count:>8} {objects[count]:>8} {files[count]:>6} {seconds[count]:>9.3f} {cpu[count]:>7.3f} "
              f"{memory[count]:>9.0f}")
    if len(counts) >= 3:
        low, middle, high = counts[-3:]
        for label, measured in (("wall", seconds), ("cpu", cpu)):
            before = marginal((objects[low], measured[low]), (objects[middle], measured[middle]))
            after = marginal((objects[middle], measured[middle]), (objects[high], measured[high]))
            print(f"marginal {label} cost per object: {low}→{middle} products {before:.3f} ms, "
                  f"{middle}→{high} products {after:.3f} ms, ratio {after / before:.2f}"
                  + (f" (goal ≤ {GOAL_LINEARITY}: {'met' if after / before <= GOAL_LINEARITY else 'MISSED'})"
                     if label == "wall" else ""))
        per_product = (memory[high] - memory[middle]) / (high - middle)
        print(f"marginal memory per product: {per_product:.3f} MiB")
    if GOAL_PRODUCTS in seconds:
        met = seconds[GOAL_PRODUCTS] <= GOAL_SECONDS and memory[GOAL_PRODUCTS] <= GOAL_MIB
        print(f"{GOAL_PRODUCTS} products: {seconds[GOAL_PRODUCTS]:.1f} s, {memory[GOAL_PRODUCTS]:.0f} MiB "
              f"(goal ≤ {GOAL_SECONDS:.0f} s and ≤ {GOAL_MIB:.0f} MiB: {'met' if met else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
