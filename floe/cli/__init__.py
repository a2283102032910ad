"""The ``floe`` command: the platform's lifecycle and the reviewer's tools.

Exit codes: 0 ok, 1 drift or a validation failure, 2 a usage or input error, 3 a cluster error.
Errors are one sentence and what to do, never a traceback (``FLOE_DEBUG=1`` shows one for bugs).
"""

from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from floe.cli import object_store, platform, review, runs, secrets
from floe.cli.command import FloeGroup
from floe.cli.context import Settings, console
from floe.config.loader import ENVIRONMENTS_DIR
from floe.synth import DEFAULT_OUTDIR

PACKAGE = "floe-platform-manifests"

app = typer.Typer(
    cls=FloeGroup, name="floe", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    help="The floe platform: render, review and deploy the manifests; run and watch pipeline jobs.",
    epilog="Exit codes: 0 ok · 1 drift or validation failure · 2 usage or input error · 3 cluster error. "
           "Examples: `floe platform deploy --env dev`  ·  `floe diff`  ·  "
           "`floe run dbt-run --product sales --env prod`",
)


def _version(value: bool) -> None:
    if value:
        from floe.config.releases import known_versions

        console().print(f"floe {metadata.version(PACKAGE)} (platform releases: {', '.join(known_versions())})",
                        markup=False)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    environments: Annotated[Path, typer.Option(envvar="FLOE_ENVIRONMENTS", metavar="DIR",
                                               help="Folder of environment files.")] = ENVIRONMENTS_DIR,
    dist: Annotated[Path, typer.Option(envvar="FLOE_DIST", metavar="DIR", help="The rendered tree.")] = DEFAULT_OUTDIR,
    context: Annotated[str | None, typer.Option(envvar="FLOE_KUBE_CONTEXT", metavar="NAME",
                                                help="kubeconfig context (default: the current one).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print floe's version and the platform releases it knows.")] = False,
) -> None:
    ctx.obj = Settings(environments, dist, context)


app.add_typer(platform.app, name="platform")
app.add_typer(secrets.app, name="secrets")
app.add_typer(object_store.app, name="object-store")
runs.register(app)
review.register(app)


def main() -> None:
    app(prog_name="floe")
