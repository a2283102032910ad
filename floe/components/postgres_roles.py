"""The roles of each in-cluster PostgreSQL instance, reconciled by the storage tier's bootstrap step.

The instance's superuser comes from its own Secret (``postgres.admin_secret``) and stays with the
server; the consumer's Secret (``credentials_secret``) becomes an ordinary role that owns the database
and nothing else, since a superuser may run programs on the server (``COPY ... TO PROGRAM``). The
exporter's Secret becomes a role with ``pg_monitor`` alone. The Job (``postgres-<consumer>-roles``)
makes the roles match the Secrets on every sync and never writes a Secret
(``floe/scripts/postgres-reconcile-roles.sh``). An external database's roles are its operator's.
"""

from collections.abc import Callable

from floe.components import postgres
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.config.resources import SMALL
from floe.config.storage import InClusterPostgres
from floe.constructs import env
from floe.constructs.bootstrap import BootstrapJob, BootstrapProps
from floe.constructs.container import Container
from floe.constructs.kube import Scope
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.scripts import shell_command
from floe.tiers import STORAGE


def instance_name(consumer: str) -> str:
    return f"{postgres.instance_name(consumer)}-roles"


def renderer(consumer: str) -> Callable[[Scope, Environment], None]:
    """The render function of one instance's role bootstrap: nothing when the database is external."""

    def render(scope: Scope, environment: Environment) -> None:
        settings = getattr(environment.storage.postgres, consumer)
        if isinstance(settings, InClusterPostgres):
            render_roles(scope, consumer, environment, settings)

    return render


def render_roles(scope: Scope, consumer: str, environment: Environment, settings: InClusterPostgres) -> None:
    """psql in the instance's own image, as its superuser; every value from a Secret through the env."""
    database = postgres.database_of(environment, consumer)
    admin, monitoring = postgres.admin_secret(consumer, settings), postgres.monitoring_secret(consumer)
    container = Container(
        name="reconcile-roles",
        image=environment.release.images.postgres,
        resources=environment.presets[SMALL],
        command=shell_command("postgres-reconcile-roles.sh"),
        env=(
            *database.libpq_env(),
            env.from_secret("PGUSER", admin, postgres.USERNAME_KEY),
            env.from_secret("PGPASSWORD", admin, postgres.PASSWORD_KEY),
            env.from_secret("CLIENT_USER", database.credentials_secret, postgres.USERNAME_KEY),
            env.from_secret("CLIENT_PASSWORD", database.credentials_secret, postgres.PASSWORD_KEY),
            env.from_secret("MONITORING_USER", monitoring, postgres.USERNAME_KEY),
            env.from_secret("MONITORING_PASSWORD", monitoring, postgres.PASSWORD_KEY),
        ),
        mounts=database.ca_mounts(),
    )
    name = instance_name(consumer)
    BootstrapJob(
        scope, name,
        BootstrapProps(
            identity=AppIdentity(name="postgres", instance=name, component="bootstrap",
                                 version=image_tag(container.image), tier=STORAGE),
            namespace=environment.namespaces.platform,
            pod=PodProps(containers=(container,), run_as=postgres.RUN_AS,
                         volumes=database.ca_volumes()),
        ),
    )
