"""What every command shares: where the environments and ``dist/`` are, the console, the cluster."""

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from floe.cli.cluster import Cluster, connect
from floe.config.environment import Environment
from floe.config.loader import ENVIRONMENTS_DIR, environment_files, load_environment
from floe.errors import FloeError
from floe.synth import DEFAULT_OUTDIR


@dataclass
class Settings:
    environments: Path = ENVIRONMENTS_DIR
    dist: Path = DEFAULT_OUTDIR
    context: str | None = None


settings = Settings()
"""Set once per invocation by the root callback (``--environments``, ``--dist``, ``--context``)."""


def console() -> Console:
    """Standard output; colour only on a terminal and never with ``NO_COLOR`` (Rich honours both)."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def err_console() -> Console:
    return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def environment_names() -> list[str]:
    """Every environment of the environments folder; none at all is a mistake, not an empty result."""
    names = [path.stem for path in environment_files(settings.environments)]
    if not names:
        raise FloeError(f"{settings.environments}: no environment files (<name>.yaml); run floe from the "
                        "repository's root or point --environments at the folder")
    return names


def checked_names(env: str | None) -> list[str]:
    """The named environment (which must exist) or all of them."""
    return [one_environment(env).name] if env else environment_names()


def one_environment(name: str | None) -> Environment:
    """The named environment; without a name, ``$FLOE_ENV`` or the only one there is."""
    name = name or os.environ.get("FLOE_ENV")
    if not name:
        names = environment_names()
        if len(names) != 1:
            raise FloeError(f"name an environment with --env (environments: {', '.join(names) or 'none'})")
        name = names[0]
    return load_environment(settings.environments / f"{name}.yaml")


ContextOption = Annotated[str | None, typer.Option(
    "--context", metavar="NAME", help="kubeconfig context (default: the current one, or floe's own --context).")]


def cluster(context: str | None = None) -> Cluster:
    """The cluster of ``context``, else of the root ``--context``, else the current kubeconfig context."""
    return connect(context or settings.context)
