#!/usr/bin/env python3
"""Benchmark: how synthesis grows with the number of data products (the platform's scale axis).

For 1, 10 and 100 data products, renders one environment (dev's settings plus N products) in a
fresh process, as CI does, and prints the median wall time, the peak memory of that process and
the marginal cost per product. Each product adds a code location (Deployment, Service,
ServiceAccount) and four job templates, so the cost should grow linearly.

    .venv/bin/python bench/scale_bench.py [--runs 3] [--products 1 10 100]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def environment(products: int) -> dict:
    base = yaml.safe_load((ROOT / "environments" / "dev.yaml").read_text())
    base["data_products"] = [
        {"name": f"product-{i:03d}", "image": f"registry.example.com/floe/product-{i:03d}:1.0.0",
         "module": f"product_{i:03d}.definitions", "dlt": {"module": f"product_{i:03d}.ingest"}}
        for i in range(products)
    ]
    return base


def one_run(environments: Path, outdir: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one render in a fresh process."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-O", "main.py", "--environments", str(environments), "--outdir",
                                str(outdir)], cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"render failed for {environments}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--products", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.products:
            environments = Path(tmp) / f"env-{count}"
            environments.mkdir()
            (environments / "scale.yaml").write_text(yaml.safe_dump(environment(count)))
            runs = [one_run(environments, Path(tmp) / f"out-{count}-{i}") for i in range(args.runs)]
            files = sum(1 for _ in (Path(tmp) / f"out-{count}-0").rglob("*.yaml"))
            seconds = statistics.median(r[0] for r in runs)
            memory = max(r[1] for r in runs)
            results.append((count, files, seconds, memory))
    print(f"{'products':>8} {'files':>6} {'median s':>9} {'peak MiB':>9}")
    for count, files, seconds, memory in results:
        print(f"{count:>8} {files:>6} {seconds:>9.3f} {memory:>9.0f}")
    (first, _, t_first, m_first), (last, _, t_last, m_last) = results[0], results[-1]
    if last > first:
        per_product_ms = (t_last - t_first) / (last - first) * 1000
        print(f"marginal cost per product: {per_product_ms:.1f} ms, {(m_last - m_first) / (last - first):.2f} MiB")
        middle = results[len(results) // 2]
        predicted = t_first + (middle[0] - first) * per_product_ms / 1000
        print(f"linearity: {middle[0]} products took {middle[2]:.3f} s, a straight line predicts {predicted:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
