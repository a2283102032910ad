"""Scheduled logical backups of each in-cluster PostgreSQL instance to the object store.

Per instance, a CronJob (``postgres-<consumer>-backup``) whose pod first dumps the database with
``pg_dump`` in the instance's own image (same pinned version, same credentials Secret, through
its Service) into a scratch volume, then uploads the dump with MinIO's client to
``<bucket>/postgres/<instance>/<UTC time>.dump`` and only then removes the instance's dumps older
than the retention: a run that fails never prunes, so the last good dumps outlive any outage.

The upload uses a backup identity of its own (``storage.postgres.backup.credentials_secret``),
never MinIO's root user: ``floe-backups`` (``floe.components.minio_users``), a MinIO user or, with an
external store, an identity its operator made with that policy.
"""

from collections.abc import Callable

from floe.components import minio, postgres
from floe.components.object_store import object_store_of
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.constructs import env
from floe.constructs.container import Container
from floe.constructs.job_template import JobTemplate, JobTemplateProps
from floe.constructs.kube import Construct, Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.constructs.pod import PodProps
from floe.constructs.scripts import shell_command
from floe.constructs.security import TMP, ScratchPath
from floe.tiers import STORAGE

DUMP_DIR = ScratchPath("/backup")
"""Where the dump waits between its two containers; the pod's own scratch, gone with the pod."""
DUMP_FILE = f"{DUMP_DIR.path}/database.dump"
ALIAS = "backup"
"""The ``mc`` alias of the object store, defined by the ``MC_HOST_<alias>`` variable alone."""


def instance_name(consumer: str) -> str:
    return f"{postgres.instance_name(consumer)}-backup"


def prefix(environment: Environment, consumer: str) -> str:
    """``<bucket>/postgres/<instance>``: where one instance's dumps live."""
    return f"{environment.storage.postgres.backup.bucket}/postgres/{postgres.instance_name(consumer)}"


def renderer(consumer: str) -> Callable[[Scope, Environment], None]:
    """The render function of one instance's backup: nothing when the database is external or
    backups are off."""

    def render(scope: Scope, environment: Environment) -> None:
        if consumer in environment.storage.postgres.backed_up():
            PostgresBackup(scope, consumer, environment)

    return render


def dump(environment: Environment, consumer: str) -> Container:
    """``pg_dump`` run directly (no shell): libpq reads the connection, password included, from the
    environment, so no credential is ever on a command line."""
    database = postgres.database_of(environment, consumer)
    return Container(
        name="dump",
        image=environment.release.images.postgres,
        resources=environment.resources(environment.storage.postgres.backup.resources),
        command=("pg_dump",),
        # Custom format: compressed, and pg_restore can restore it whole or in part.
        args=("--format=custom", f"--file={DUMP_FILE}", "--no-password"),
        env=(
            *database.libpq_env(),
            env.from_secret("PGUSER", database.credentials_secret, postgres.USERNAME_KEY),
            env.from_secret("PGPASSWORD", database.credentials_secret, postgres.PASSWORD_KEY),
        ),
        scratch=(TMP, DUMP_DIR),
        mounts=database.ca_mounts(),
    )


def upload(environment: Environment, consumer: str) -> Container:
    """``mc`` uploads the dump, then prunes the old ones (``floe/scripts/postgres-backup-upload.sh``); it
    reads its credentials from ``MC_HOST_<alias>``, which Kubernetes assembles from the Secret's keys
    (``$(VAR)``)."""
    backup = environment.storage.postgres.backup
    store = object_store_of(environment)
    return Container(
        name="upload",
        image=environment.release.images.minio_client,
        resources=environment.resources(backup.resources),
        command=shell_command("postgres-backup-upload.sh"),
        env=(
            env.from_secret("ACCESS_KEY", backup.credentials_secret, minio.USER_ACCESS_KEY),
            env.from_secret("SECRET_KEY", backup.credentials_secret, minio.USER_SECRET_KEY),
            env.literal(f"MC_HOST_{ALIAS}", f"{store.scheme}://$(ACCESS_KEY):$(SECRET_KEY)@{store.address}"),
            minio.client_config_env(),
            env.literal("DUMP_FILE", DUMP_FILE),
            env.literal("TARGET", f"{ALIAS}/{prefix(environment, consumer)}"),
            env.literal("RETENTION_DAYS", backup.retention_days),
        ),
        scratch=(TMP, DUMP_DIR),
        mounts=store.ca_mounts(minio.CLIENT_CAS_DIR),
    )


class PostgresBackup(Construct):
    """The CronJob of one instance's backup and the ServiceAccount its pods run as (no API token)."""

    def __init__(self, scope: Scope, consumer: str, environment: Environment) -> None:
        name = instance_name(consumer)
        super().__init__(scope, name)
        backup, namespace = environment.storage.postgres.backup, environment.namespaces.platform
        identity = AppIdentity(name="postgres-backup", instance=name, component="backup",
                               version=image_tag(environment.release.images.postgres), tier=STORAGE)
        k8s.KubeServiceAccount(self, "service-account", metadata=object_meta(identity, name, namespace),
                               automount_service_account_token=False)
        # The template's step (serve) is the instance's own: created with it, never waited for (its
        # health is ignored), and it runs only when the schedule says, long after the tier is up.
        JobTemplate(
            self, "cronjob",
            JobTemplateProps(
                identity=identity,
                name=name,
                namespace=namespace,
                # Dump first, as an init container: the upload starts only once the dump is complete.
                pod=PodProps(containers=(upload(environment, consumer),),
                             init_containers=(dump(environment, consumer),),
                             run_as=postgres.RUN_AS,
                             volumes=(*postgres.database_of(environment, consumer).ca_volumes(),
                                      *object_store_of(environment).ca_volumes())),
                service_account=name,
                active_deadline_seconds=backup.active_deadline_seconds,
                schedule=backup.schedule,
            ),
        )
