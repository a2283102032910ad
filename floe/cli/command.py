"""How every floe command behaves: a user's mistake is one line and an exit code, help is readable."""

import os
import sys
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

from floe.cli.context import err_console
from floe.errors import FloeError

if TYPE_CHECKING:  # the types Typer's commands declare: those of the click it vendors
    from typer._click import Context, Parameter

INTERNAL_ERROR = 70
"""A bug in floe (sysexits' EX_SOFTWARE); every mistake a user can make has a documented code instead."""


def _plain_flags(params: "list[Parameter]") -> "list[Parameter]":
    """On/off flags take no value, so help shows no type for them (Typer would print ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class FloeCommand(TyperCommand):
    """A command whose help shows flags without a value type."""

    def get_params(self, ctx: "Context") -> "list[Parameter]":
        return _plain_flags(super().get_params(ctx))


class FloeGroup(TyperGroup):
    """Maps the errors a user can cause to one line on stderr and an exit code."""

    def get_params(self, ctx: "Context") -> "list[Parameter]":
        return _plain_flags(super().get_params(ctx))

    def invoke(self, ctx: "Context") -> Any:
        try:
            return super().invoke(ctx)
        except FloeError as error:
            for line in str(error).splitlines():
                err_console().print(f"error: {line}", markup=False, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # The reader went away (`floe diff | head`): stop quietly, as other command-line tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except Exception as error:
            if os.environ.get("FLOE_DEBUG"):
                raise
            err_console().print(f"error: internal error ({type(error).__name__}: {error}); this is a bug in floe: "
                                "rerun with FLOE_DEBUG=1 and report the traceback", markup=False, soft_wrap=True)
            raise typer.Exit(INTERNAL_ERROR) from None
