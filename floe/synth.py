"""Synthesis: validate every environment, render each, then write ``dist/`` in one swap.

Validation happens before anything is written, so a bad environment file changes nothing.
"""

import argparse
import os
import sys
from pathlib import Path

from floe.config.environment import Environment
from floe.config.loader import ENVIRONMENTS_DIR, load_environments
from floe.errors import FloeError
from floe.output import tree_files, write_tree

DEFAULT_OUTDIR = Path("dist")
GITOPS_DIR = "gitops"


def render(environment: Environment) -> dict[str, str]:
    """Every file of one environment, keyed by its path relative to ``dist/``."""
    from floe.app import render_objects  # starts the jsii bridge: only once the input is known good
    from floe.gitops.kustomize import FILE, kustomization

    folders = render_objects(environment)
    files = tree_files(environment.name, folders)
    for folder in folders:
        if folder.startswith(f"{environment.name}/"):
            names = [path.rsplit("/", 1)[1] for path in files if path.rsplit("/", 1)[0] == folder]
            files[f"{folder}/{FILE}"] = kustomization(environment.name, names)
    return files


def owned_folders(name: str) -> tuple[str, str]:
    """The two folders of ``dist/`` that belong to one environment."""
    return name, f"{GITOPS_DIR}/{name}"


def synthesize(outdir: Path, names: list[str] | None = None,
               environments_dir: Path = ENVIRONMENTS_DIR) -> dict[str, dict[str, str]]:
    """Render the named environments (all by default) into ``outdir``.

    Rendering all environments replaces ``outdir`` whole, removing environments that no longer
    exist; rendering some replaces only their folders.
    """
    environments = load_environments(names, environments_dir)
    rendered = {environment.name: render(environment) for environment in environments}
    if not names:
        write_tree(outdir, {path: text for files in rendered.values() for path, text in files.items()})
        return rendered
    for name, files in rendered.items():
        for folder in owned_folders(name):
            write_tree(outdir / folder, {path.removeprefix(f"{folder}/"): text for path, text in files.items()
                                         if path.startswith(f"{folder}/")})
    return rendered


def main(argv: list[str] | None = None) -> int:
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
    try:
        rendered = synthesize(args.outdir, args.names, args.environments)
    except FloeError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    for name, files in rendered.items():
        print(f"{name}: {len(files)} files → {args.outdir / name}, {args.outdir / GITOPS_DIR / name}")
    return 0
