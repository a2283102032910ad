"""A pinned tool, built once into a virtual environment of its own under ``.cache/conformance/``.

Some conformance tests need packages whose pins clash with the project's ``.venv`` (Polaris' client
wants an older pydantic); they run that package's Python in a subprocess instead. An environment is
reused while its marker names exactly its requirements; a build that stopped half-way leaves no
marker and is rebuilt from scratch. A lock file serialises concurrent test sessions: the second
waits for the first build.
"""

import fcntl
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "conformance"

Venv = tuple[str, tuple[str, ...]]
"""An environment's name under ``CACHE`` and the requirements it is built from."""


def ensure_venv(name: str, requirements: tuple[str, ...]) -> tuple[Path, float | None]:
    """The python of ``.cache/conformance/<name>``, built first if needed; and the seconds a build
    took (None when reused)."""
    venv = CACHE / name
    python, marker = venv / "bin" / "python", venv / "floe-built"
    wanted = "\n".join(requirements) + "\n"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text() == wanted:
            return python, None
        started = time.monotonic()
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, capture_output=True,
                       timeout=120)
        install = subprocess.run(
            [sys.executable, "-m", "pip", "--python", python, "install", "--disable-pip-version-check",
             "--no-input", "--index-url", "https://pypi.org/simple", *requirements],
            capture_output=True, text=True, timeout=1200)
        if install.returncode != 0:
            raise RuntimeError(f"installing {' '.join(requirements)} into {venv} failed:\n"
                               f"{install.stdout[-3000:]}\n{install.stderr[-3000:]}")
        marker.write_text(wanted)
        return python, time.monotonic() - started


def build_together(venvs: Iterable[Venv]) -> None:
    """Builds the environments side by side: on a fresh clone most of a build is waiting for downloads."""
    with ThreadPoolExecutor() as pool:
        for future in [pool.submit(ensure_venv, name, requirements) for name, requirements in set(venvs)]:
            future.result()
