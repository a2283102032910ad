"""The ``floe`` command: the platform's lifecycle (ADR-0019) and the reviewer's tools.

Exit codes: 0 ok, 1 drift or a validation failure, 2 a usage or input error, 3 a cluster error.
Errors are one sentence and what to do, never a traceback (``FLOE_DEBUG=1`` shows one for bugs).
"""

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from floe.cli import platform, review, runs
from floe.cli.context import err_console, settings
from floe.config.loader import ENVIRONMENTS_DIR
from floe.errors import FloeError
from floe.synth import DEFAULT_OUTDIR

INTERNAL_ERROR = 70


class FloeGroup(TyperGroup):
    """Maps the errors a user can cause to one line on stderr and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FloeError as error:
            err_console().print(f"error: {error}", markup=False, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as error:
            if os.environ.get("FLOE_DEBUG"):
                raise
            err_console().print(f"error: internal error ({type(error).__name__}: {error}); this is a bug in floe: "
                                "rerun with FLOE_DEBUG=1 and report the traceback", markup=False, soft_wrap=True)
            raise typer.Exit(INTERNAL_ERROR) from None


app = typer.Typer(
    cls=FloeGroup, name="floe", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    help="The floe platform: render, review and deploy the manifests; run and watch pipeline jobs.",
    epilog="Exit codes: 0 ok · 1 drift or validation failure · 2 usage or input error · 3 cluster error. "
           "Examples: `floe platform deploy --env dev`  ·  `floe diff`  ·  "
           "`floe run dbt-run --product sales --env prod`",
)


@app.callback()
def root(
    environments: Annotated[Path, typer.Option(envvar="FLOE_ENVIRONMENTS", help="Folder of environment files.")]
    = ENVIRONMENTS_DIR,
    dist: Annotated[Path, typer.Option(envvar="FLOE_DIST", help="The rendered tree.")] = DEFAULT_OUTDIR,
    context: Annotated[str | None, typer.Option(envvar="FLOE_KUBE_CONTEXT",
                                                help="kubeconfig context (default: the current one).")] = None,
) -> None:
    settings.environments, settings.dist, settings.context = environments, dist, context


app.add_typer(platform.app, name="platform")
runs.register(app)
review.register(app)


def main() -> None:
    app(prog_name="floe")
