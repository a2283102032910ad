"""``floe object-store``: what each consumer of the object store may do, as S3 policy documents.

With MinIO in the cluster its bootstrap applies these documents itself; with an external store its
operator makes one identity per consumer with them (``floe/components/minio_users.py`` declares both).
"""

import typer

from floe.cli.command import FloeCommand, FloeGroup
from floe.cli.context import console, settings
from floe.cli.secrets import EnvOption
from floe.components.minio_users import object_store_users

app = typer.Typer(cls=FloeGroup, no_args_is_help=True, rich_markup_mode="markdown",
                  help="The object store's consumers: each one's Secret and the S3 policy it needs.")


@app.command(cls=FloeCommand, epilog="Example: `floe object-store policies --env prod`")
def policies(ctx: typer.Context, env: EnvOption = None) -> None:
    """Each consumer of the environment's object store: its Secret (keys `access-key`, `secret-key`) and the
    IAM-style policy document (JSON) of its least privilege, which an external store's identity must hold."""
    environment = settings(ctx).one_environment(env)
    out = console()
    for user in object_store_users(environment):
        out.print(f"# {user.policy}: Secret {user.secret}", markup=False)
        out.print(user.document, markup=False, highlight=False, end="")
