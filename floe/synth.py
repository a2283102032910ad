"""Synthesis: validate every environment, render each, then write ``dist/`` in one swap.

Validation happens before anything is written, so a bad environment file changes nothing.
"""

import argparse
import contextlib
import gc
import importlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from floe.errors import FloeError
from floe.output import tree_files, write_tree, writing_tree

if TYPE_CHECKING:
    from floe.config.environment import Environment

DEFAULT_OUTDIR = Path("dist")
GITOPS_DIR = "gitops"
CAPACITY_FILE = "capacity.md"
TOPOLOGY_FILE = "topology.md"


BRIDGE_MODULES = ("cdk8s", "cdk8s_plus_32", "floe.imports.io.argoproj", "floe.imports.io.fluxcd.toolkit.source",
                  "floe.imports.io.fluxcd.toolkit.kustomize", "floe.imports.io.cert_manager")
"""What importing starts in the jsii bridge: Node.js, then cdk8s and each binding's JavaScript."""
_BRIDGE_STARTING = threading.Lock()
"""Held while :func:`_start_bridge`'s thread loads :data:`BRIDGE_MODULES`. jsii's client is not thread-safe
(one pipe, requests and answers in turn): a second thread's request in between can leave both waiting
for ever, so nothing else talks to the bridge until the thread is done."""


def render(environment: "Environment") -> dict[str, str]:
    """Every file of one environment, keyed by its path relative to ``dist/``."""
    with _BRIDGE_STARTING:  # the bridge's own start first, if main() began one
        from floe.app import render_objects  # starts the jsii bridge: only once the input is known good
    from floe.capacity import capacity_report
    from floe.gitops.kustomize import kustomizations
    from floe.topology import topology_report

    folders = render_objects(environment)
    files = tree_files(environment.name, folders)
    synced = [folder for folder in folders if folder.startswith(f"{environment.name}/")]
    files |= kustomizations(environment.name, synced, list(files))
    # Beside the manifests, so a pull request shows how its change moves the cluster's capacity.
    files[f"{environment.name}/{CAPACITY_FILE}"] = capacity_report(obj for f in synced for obj in folders[f])
    files[f"{environment.name}/{TOPOLOGY_FILE}"] = topology_report(environment, folders)  # what talks to what
    return files


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """A render allocates millions of small mappings and lists that all live until the tree is written,
    and makes no garbage cycles worth collecting: the cyclic collector would only traverse them all,
    again and again as they grow (most of a large render's time). It is off while one runs."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def owned_folders(name: str) -> tuple[str, str]:
    """The two folders of ``dist/`` that belong to one environment."""
    return name, f"{GITOPS_DIR}/{name}"


def _validated(names: list[str] | None, environments_dir: Path | None) -> "list[Environment]":
    """The named environments (all by default), every one valid before any is rendered."""
    from floe.config.loader import ENVIRONMENTS_DIR, load_environments

    return load_environments(names, environments_dir or ENVIRONMENTS_DIR)


def render_environments(names: list[str] | None = None,
                        environments_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """Every file of the named environments (all by default), keyed by environment, then by path in ``dist/``;
    nothing is written."""
    environments = _validated(names, environments_dir)
    with _without_cycle_collection():
        return {environment.name: render(environment) for environment in environments}


def synthesize(outdir: Path, names: list[str] | None = None,
               environments_dir: Path | None = None) -> dict[str, dict[str, str]]:
    """Render the named environments (all by default) into ``outdir``, one after the other in this process and
    its one jsii bridge (a render worker would spend longer starting its own bridge than rendering).

    Rendering all environments replaces ``outdir`` whole, removing environments that no longer exist; each
    one's files are written while the next one renders. Rendering some replaces only their folders, once all
    are rendered.
    """
    if names:
        rendered = render_environments(names, environments_dir)
        write_rendered(outdir, {path: text for files in rendered.values() for path, text in files.items()}, names)
        return rendered
    environments = _validated(None, environments_dir)
    rendered = {}
    with _without_cycle_collection(), writing_tree(outdir) as write:
        for environment in environments:
            rendered[environment.name] = render(environment)
            write(rendered[environment.name])
    return rendered


def write_rendered(outdir: Path, files: Mapping[str, str], names: list[str] | None) -> None:
    """Write rendered files (keyed by path in ``dist/``) into ``outdir``: the whole tree, or only the named
    environments' folders."""
    if names is None:
        write_tree(outdir, files)
        return
    for name in names:
        for folder in owned_folders(name):
            write_tree(outdir / folder, {path.removeprefix(f"{folder}/"): text for path, text in files.items()
                                         if path.startswith(f"{folder}/")})


def _start_bridge() -> threading.Thread:
    """Start the jsii bridge in the background: Node.js starting and loading cdk8s and the bindings takes
    about as long as Python takes to import the environment models and validate the environments, and
    happens in another process, on another core. :func:`render` waits for it (:data:`_BRIDGE_STARTING`)."""
    def start() -> None:
        try:
            for module in BRIDGE_MODULES:
                importlib.import_module(module)
        except Exception:  # noqa: S110 - the render imports them again, and reports what fails
            pass
        finally:
            _BRIDGE_STARTING.release()

    _BRIDGE_STARTING.acquire()  # before the thread runs: a render that starts first must still wait
    # jsii's client first, alone: it is Python (a twentieth of a second) that Node.js cannot start without, and
    # sharing the interpreter with the models' import would start Node.js, the longest part, that much later.
    importlib.import_module("jsii")
    thread = threading.Thread(target=start, name="start-jsii-bridge")
    thread.start()
    return thread


def _spinner() -> contextlib.AbstractContextManager[object]:
    """A spinner on a terminal only (Rich is not even imported otherwise)."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status("rendering…")


def main(argv: list[str] | None = None) -> int:
    bridge = _start_bridge()
    try:
        return _main(argv)
    finally:
        bridge.join()  # a bad input ends the run before the bridge is needed: let it start, then stop


def _main(argv: list[str] | None) -> int:
    from floe.config.loader import ENVIRONMENTS_DIR

    parser = argparse.ArgumentParser(
        prog="main.py",
        description="Render every environment (or the named ones) into dist/ "
                    "(or $CDK8S_OUTDIR, as `cdk8s synth` sets it).",
    )
    parser.add_argument("--env", action="append", dest="names", metavar="NAME",
                        help="render only this environment (repeatable)")
    parser.add_argument("--outdir", type=Path, default=Path(os.environ.get("CDK8S_OUTDIR") or DEFAULT_OUTDIR))
    parser.add_argument("--environments", type=Path, default=ENVIRONMENTS_DIR,
                        help="directory of environment files (default: environments)")
    args = parser.parse_args(argv)
    before = rendered_environments(args.outdir)
    try:
        with _spinner():
            rendered = synthesize(args.outdir, args.names, args.environments)
    except FloeError as error:
        print("\n".join(f"error: {line}" for line in str(error).splitlines()), file=sys.stderr)
        return error.exit_code
    for name, files in rendered.items():
        print(f"{name}: {len(files)} files → {args.outdir / name}, {args.outdir / GITOPS_DIR / name}")
    removed = set() if args.names else before - set(rendered)
    for name in sorted(removed):
        print(f"{name}: removed {args.outdir / name} and {args.outdir / GITOPS_DIR / name} "
              f"(no {args.environments / name}.yaml any more)")
    return 0


def rendered_environments(outdir: Path) -> set[str]:
    """The environments a rendered tree holds (its folders other than the GitOps wiring)."""
    if not outdir.is_dir():
        return set()
    return {path.name for path in outdir.iterdir() if path.is_dir() and path.name != GITOPS_DIR
            and not path.name.startswith(".")}
