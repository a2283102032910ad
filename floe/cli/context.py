"""What every command shares: the root options (where the environments and ``dist/`` are, which cluster),
the consoles, and reading environments.

The root callback puts one :class:`Settings` on the invocation's Typer context; each command takes it
from there (:func:`settings`) and passes it on, so nothing is read from a module-level global.
"""

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


@dataclass(frozen=True)
class Settings:
    """floe's root options for one invocation (``--environments``, ``--dist``, ``--context``)."""

    environments: Path = ENVIRONMENTS_DIR
    dist: Path = DEFAULT_OUTDIR
    context: str | None = None

    def environment_names(self) -> list[str]:
        """Every environment of the environments folder; none at all is a mistake, not an empty result."""
        names = [path.stem for path in environment_files(self.environments)]
        if not names:
            raise FloeError(f"{self.environments}: no environment files (<name>.yaml); run floe from the "
                            "repository's root or point --environments at the folder")
        return names

    def checked_names(self, env: str | None) -> list[str]:
        """The named environment (which must exist) or all of them."""
        return [self.one_environment(env).name] if env else self.environment_names()

    def one_environment(self, name: str | None) -> Environment:
        """The named environment; without a name, ``$FLOE_ENV`` or the only one there is."""
        name = name or os.environ.get("FLOE_ENV")
        if not name:
            names = self.environment_names()
            if len(names) != 1:
                raise FloeError(f"name an environment with --env (environments: {', '.join(names) or 'none'})")
            name = names[0]
        return load_environment(self.environments / f"{name}.yaml")

    def cluster(self, context: str | None = None) -> Cluster:
        """The cluster of ``context``, else of the root ``--context``, else the current kubeconfig context."""
        return connect(context or self.context)


def settings(ctx: typer.Context) -> Settings:
    """The root options of this invocation, as the root callback stored them."""
    found = ctx.find_object(Settings)
    if found is None:  # a command invoked without floe's root callback: a bug in floe, not a user's mistake
        raise RuntimeError("floe's root options are missing from the command's context")
    return found


def console() -> Console:
    """Standard output; colour only on a terminal and never with ``NO_COLOR`` (Rich honours both)."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def err_console() -> Console:
    return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


ContextOption = Annotated[str | None, typer.Option(
    "--context", metavar="NAME", help="kubeconfig context (default: the current one, or floe's own --context).")]
