"""PostgreSQL: one instance per stateful consumer (Dagster, Polaris), or their external database.

Official ``postgres`` image, run as its ``postgres`` user (UID/GID 999). PGDATA is a
subdirectory of the volume so a fresh volume's ``lost+found`` never blocks ``initdb``.

With in-cluster TLS (``in_cluster_tls``) each instance serves TLS with a certificate cert-manager issues
for its Service (``ssl``, ``ssl_cert_file``, ``ssl_key_file``, server settings passed as ``-c`` arguments,
which the image's entry point hands to ``postgres``), and every client connects with
``sslmode=verify-full`` against the environment's CA, the same way an external database's clients do.
"""

from collections.abc import Callable
from dataclasses import dataclass

from floe.components.dns import service_host
from floe.config.common import Egress
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.config.resources import SMALL
from floe.config.storage import ExternalPostgres, InClusterPostgres
from floe.constructs import env
from floe.constructs.certificate import (
    TLS_CERT,
    TLS_KEY,
    ServingCertificate,
    ServingTls,
    render_certificate,
    serving_certificate,
)
from floe.constructs.config_files import config_map
from floe.constructs.container import Container, Port
from floe.constructs.kube import Construct, Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.constructs.service import PlatformService, ServiceProps, VolumeClaim, WorkloadKind
from floe.constructs.trust import TrustedCa, TrustsCa
from floe.tiers import STORAGE

CONSUMERS = ("dagster", "polaris")
PORT = 5432
DATA_DIR = "/var/lib/postgresql/data"
RUN_AS = RunAs(user=999, group=999, fs_group=999)
USERNAME_KEY = "username"
PASSWORD_KEY = "password"
CA_DIR = "/etc/floe/postgres-ca"
TLS_DIR = "/etc/floe/postgres-tls"
"""Where the server's certificate Secret is mounted (``tls.crt``, ``tls.key``)."""
HBA_DIR = "/etc/floe/postgres-hba"
HBA_FILE = "pg_hba.conf"
HBA_TLS = """\
# The image's own rules (docker-library/postgres: initdb's local and loopback trust, then a password from
# any other host), but a password only over TLS: `hostssl`, so no client off the pod logs in unencrypted.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
host    all          all   ::1/128       trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
host    replication  all   ::1/128       trust
hostssl all          all   all           scram-sha-256
"""
"""The server's host-based authentication with in-cluster TLS (``hba_file``)."""
METRICS_PORT = 9187
"""postgres_exporter's default listen address (``:9187``), where Prometheus scrapes ``/metrics``."""


@dataclass(frozen=True)
class Database(TrustsCa):
    """How a consumer reaches its database, in-cluster or external alike."""

    host: str
    port: int
    name: str
    credentials_secret: str
    ssl_mode: str
    ca_secret: str | None = None
    """Secret holding the CA that signed the server's certificate (key ``ca.crt``): an external server's, or
    the in-cluster TLS issuer's."""
    egress: tuple[Egress, ...] = ()
    """Addresses outside the cluster (an external server's)."""

    @property
    def ca(self) -> TrustedCa | None:
        return TrustedCa(self.ca_secret, "postgres-ca", CA_DIR) if self.ca_secret else None

    def libpq_env(self) -> tuple[k8s.EnvVar, ...]:
        """Where libpq (psql, pg_dump) connects and how it checks the server; the login comes separately."""
        return (
            env.literal("PGHOST", self.host),
            env.literal("PGPORT", self.port),
            env.literal("PGDATABASE", self.name),
            env.literal("PGSSLMODE", self.ssl_mode),
            *((env.literal("PGSSLROOTCERT", self.ca_file),) if self.ca_file else ()),
        )


def database_of(environment: Environment, consumer: str) -> Database:
    settings = getattr(environment.storage.postgres, consumer)
    if isinstance(settings, ExternalPostgres):
        return Database(settings.host, settings.port, settings.database, settings.credentials_secret,
                        settings.ssl_mode, settings.ca_secret, settings.egress)
    instance, tls = instance_name(consumer), environment.tls
    return Database(
        host=service_host(environment, instance),
        port=PORT,
        name=settings.database or consumer,
        credentials_secret=settings.credentials_secret or f"{instance}-credentials",
        # Plain only where the environment says so (development): then the server has no certificate.
        ssl_mode="verify-full" if tls else "disable",
        ca_secret=tls.ca_secret if tls else None,
    )


def server_certificate(environment: Environment, consumer: str) -> ServingCertificate:
    """The instance's certificate: the names of its Service (clients use the full one)."""
    return serving_certificate(instance_name(consumer), environment.namespaces.platform,
                               environment.network.cluster_domain)


def server_tls(scope: Scope, environment: Environment, consumer: str, identity: AppIdentity) -> ServingTls:
    """The instance's Certificate and host-based authentication file, and the settings that use them: TLS with
    the mounted certificate, and no password accepted unencrypted. Plain, the image's ``pg_hba.conf`` in PGDATA
    stays in force."""
    tls = environment.tls
    if tls is None:
        return ServingTls()
    namespace = environment.namespaces.platform
    certificate = server_certificate(environment, consumer)
    render_certificate(scope, identity, namespace, certificate, tls.issuer)
    hba = config_map(scope, identity, f"{instance_name(consumer)}-hba", namespace, {HBA_FILE: HBA_TLS})
    return ServingTls(
        args=("-c", "ssl=on", "-c", f"ssl_cert_file={TLS_DIR}/{TLS_CERT}", "-c", f"ssl_key_file={TLS_DIR}/{TLS_KEY}",
              "-c", f"hba_file={HBA_DIR}/{HBA_FILE}"),
        mounts=(certificate.mount(TLS_DIR), hba.mount(HBA_DIR)),
        volumes=(certificate.volume(), hba.volume),
        annotations=hba.annotations,
    )


def notices(environment: Environment) -> tuple[str, ...]:
    """What ``floe validate`` says of an environment that leaves in-cluster TLS unsaid: it renders plain."""
    if environment.in_cluster_tls is not None:
        return ()
    return ("in_cluster_tls is not set: the platform's components talk to each other unencrypted (PostgreSQL "
            "with sslmode=disable); set in_cluster_tls: plain to say so, or name a cert-manager issuer",)


def egress_of(consumer: str) -> Callable[[Environment], tuple[Egress, ...]]:
    """The addresses of a consumer's database when it is external (none when in-cluster)."""
    return lambda environment: database_of(environment, consumer).egress


def instance_name(consumer: str) -> str:
    return f"postgres-{consumer}"


def admin_secret(consumer: str, settings: InClusterPostgres) -> str:
    """The instance's superuser (keys ``username``, ``password``): the server's and its role bootstrap's
    alone, never a client's (a superuser runs programs on the server with ``COPY ... TO PROGRAM``)."""
    return settings.admin_secret or f"{instance_name(consumer)}-admin-credentials"


def monitoring_secret(consumer: str) -> str:
    """The exporter's login (keys ``username``, ``password``): a role granted ``pg_monitor`` and nothing else.

    Creating that role in the database is the bootstrap's work; the platform only references the Secret."""
    return f"{instance_name(consumer)}-monitoring-credentials"


def exporter(consumer: str, environment: Environment, database: Database) -> Container:
    """prometheus-community's postgres_exporter beside the server, over loopback with its read-only role."""
    secret = monitoring_secret(consumer)
    return Container(
        name="metrics",
        image=environment.release.images.postgres_exporter,
        resources=environment.presets[SMALL],
        env=(
            # DATA_SOURCE_URI takes host:port/database?options without credentials; those come one by one.
            # Loopback, inside the pod: nothing crosses the network, so no TLS even where the server has it.
            env.literal("DATA_SOURCE_URI", f"127.0.0.1:{PORT}/{database.name}?sslmode=disable"),
            env.from_secret("DATA_SOURCE_USER", secret, USERNAME_KEY),
            env.from_secret("DATA_SOURCE_PASS", secret, PASSWORD_KEY),
        ),
        ports=(Port("metrics", METRICS_PORT),),
        # The landing page answers while the exporter runs, whether or not the server does (pg_up says that).
        probes=Probes.http("metrics", "/", "/"),
        scratch=(),
    )


def renderer(consumer: str) -> Callable[[Scope, Environment], None]:
    """The render function of one consumer's instance: nothing when its database is external."""

    def render(scope: Scope, environment: Environment) -> None:
        settings = getattr(environment.storage.postgres, consumer)
        if isinstance(settings, InClusterPostgres):
            PostgresInstance(scope, consumer, environment, settings)

    return render


class PostgresInstance(Construct):
    def __init__(self, scope: Scope, consumer: str, environment: Environment,
                 settings: InClusterPostgres) -> None:
        super().__init__(scope, instance_name(consumer))
        database = database_of(environment, consumer)
        image = environment.release.images.postgres
        identity = AppIdentity(name="postgres", instance=instance_name(consumer), component="database",
                               version=image_tag(image), tier=STORAGE)
        tls = server_tls(self, environment, consumer, identity)
        ready = ["/bin/sh", "-c", f'exec pg_isready -U "$POSTGRES_USER" -d "$POSTGRES_DB" -h 127.0.0.1 -p {PORT}']
        container = Container(
            name="postgres",
            image=image,
            resources=environment.resources(settings.resources),
            # The image's entry point prepends `postgres` to arguments that start with a dash.
            args=tls.args,
            env=(
                # initdb's superuser; the clients' role is made by the bootstrap (postgres_roles).
                env.from_secret("POSTGRES_USER", admin_secret(consumer, settings), USERNAME_KEY),
                env.from_secret("POSTGRES_PASSWORD", admin_secret(consumer, settings), PASSWORD_KEY),
                env.literal("POSTGRES_DB", database.name),
                env.literal("PGDATA", f"{DATA_DIR}/pgdata"),
            ),
            ports=(Port("postgres", PORT),),
            probes=Probes.exec(ready, startup=True),
            scratch=(
                TMP,
                ScratchPath("/var/run/postgresql"),
                # The runtime's default /dev/shm (64Mi) is too small for parallel queries.
                ScratchPath("/dev/shm", in_memory=True, size_limit="256Mi"),
            ),
            mounts=(k8s.VolumeMount(name="data", mount_path=DATA_DIR), *tls.mounts),
            # SIGTERM is a "smart" shutdown that waits for every client; stop fast and cleanly instead.
            pre_stop=("/bin/sh", "-c", 'exec pg_ctl stop -D "$PGDATA" -m fast -w -t 50'),
        )
        PlatformService(
            self, "service",
            ServiceProps(
                identity=identity,
                namespace=environment.namespaces.platform,
                kind=WorkloadKind.STATEFUL_SET,
                pod_annotations=tls.annotations,
                replicas=1,
                volume_claims=(VolumeClaim("data", settings.storage),),
                pod=PodProps(
                    containers=(container, exporter(consumer, environment, database)),
                    run_as=RUN_AS,
                    volumes=tls.volumes,
                    termination_grace_period_seconds=60,
                ),
            ),
        )
