"""Run a command and sample the resident memory of its whole process tree while it runs.

The render is Python plus its Node.js bridge (and any worker): peak memory is the largest sum of
their resident memory at one moment, read from /proc every few milliseconds by a thread.
"""

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Run:
    seconds: float
    """Wall time."""
    cpu_seconds: float
    """User and system time of the process and every child it waited for (the bridge among them)."""
    peak_mib: float
    """The largest sampled sum of the tree's resident memory."""


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and all its descendants now (0 once it is gone)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE
            for task in os.listdir(f"/proc/{current}/task"):
                pending += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(command: list[str], cwd: Path, env: dict[str, str] | None = None, interval: float = 0.005) -> Run:
    """Run ``command`` to completion (stdout discarded); raise if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(process.pid))
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, peak / 2**20)
