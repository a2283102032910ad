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


def render(environment: Environment) -> dict[str, str]:
    """Every file of one environment's folder, keyed by its path inside that folder."""
    from floe.app import build_app  # starts the jsii bridge: only once the input is known good

    _, charts = build_app(environment)
    folders = {tier.folder: chart.to_json() for tier, chart in charts.items()}
    return tree_files(environment.name, {folder: objs for folder, objs in folders.items() if objs})


def synthesize(outdir: Path, names: list[str] | None = None,
               environments_dir: Path = ENVIRONMENTS_DIR) -> dict[str, dict[str, str]]:
    """Render the named environments (all by default) into ``outdir/<env>/``.

    Rendering all environments replaces ``outdir`` whole, removing environments that no longer
    exist; rendering some replaces only their folders.
    """
    environments = load_environments(names, environments_dir)
    rendered = {environment.name: render(environment) for environment in environments}
    if names:
        for name, files in rendered.items():
            write_tree(outdir / name, files)
    else:
        write_tree(outdir, {f"{name}/{path}": text for name, files in rendered.items()
                            for path, text in files.items()})
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
        print(f"{name}: {len(files)} objects → {args.outdir / name}")
    return 0
