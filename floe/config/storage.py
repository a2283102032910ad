"""Settings of the storage tier: the object store and the PostgreSQL instance of each consumer."""

from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Discriminator, Field, Tag, field_validator, model_validator

from floe.config.base import FieldError, StrictModel
from floe.config.common import Egress, Replicas, ServiceSettings, Storage
from floe.config.products import Cron
from floe.config.resources import SMALL, ResourceChoice
from floe.config.types import BucketName, DnsLabel, DnsSubdomain, Port

PostgresIdentifier = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]


def _listed_once(buckets: tuple[str, ...]) -> tuple[str, ...]:
    for index, bucket in enumerate(buckets):
        if bucket in buckets[:index]:
            raise FieldError((index,), f"{bucket!r} is listed twice; list each bucket once")
    return buckets


Buckets = Annotated[tuple[BucketName, ...], Field(min_length=1), AfterValidator(_listed_once)]


class InClusterObjectStore(ServiceSettings):
    """MinIO, the S3-compatible object store the platform runs itself (a StatefulSet)."""

    mode: Literal["in-cluster"] = "in-cluster"
    replicas: Replicas = 1
    """1 runs a single server; 4 or more run distributed erasure-coded mode (one drive each).
    Fixed for the life of the data: MinIO refuses a changed erasure set (grow by adding a pool)."""
    storage: Storage = Storage(size="20Gi")
    """The data volume of each replica."""
    buckets: Buckets = ("floe-warehouse", "floe-backups")
    """Buckets the bootstrap step creates (idempotently) once MinIO is Ready."""
    credentials_secret: DnsSubdomain = "minio-root-credentials"
    """Secret with keys ``root-user`` and ``root-password``; never rendered, only referenced. Read by MinIO and
    its bucket bootstrap alone: every other client is a MinIO user of its own, which the bootstrap makes."""

    @field_validator("replicas")
    @classmethod
    def _erasure_set(cls, replicas: int) -> int:
        """MinIO refuses to start otherwise: its erasure sets hold 2 to 16 drives and must divide the drive count."""
        if 1 < replicas < 4:
            raise ValueError(
                f"MinIO runs either 1 server or at least 4 (distributed mode needs 4 or more drives); got {replicas}"
            )
        if replicas > 16 and not any(replicas % size == 0 for size in range(2, 17)):
            raise ValueError(f"MinIO splits its drives into equal erasure sets of 2 to 16, and {replicas} servers "
                             "(one drive each) cannot be split so: use a count with a divisor from 2 to 16")
        return replicas


def _port(endpoint: str) -> int:
    """The port of an ``http(s)://`` URL: its own, else its scheme's (ValueError for one out of range)."""
    parts = urlsplit(endpoint)
    return parts.port or {"http": 80, "https": 443}[parts.scheme]


Region = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?$")]


class ExternalObjectStore(StrictModel):
    """An S3-compatible store the platform uses but does not run (a managed service, or a store of its own).

    The platform creates nothing in it: the buckets exist, and each consumer's credentials Secret holds
    an identity the store's operator made with the rights ``floe object-store policies`` prints.
    """

    mode: Literal["external"]
    endpoint: str
    """The S3 API's URL, ``https://host[:port]`` (no path), e.g. ``https://s3.eu-west-1.amazonaws.com``."""
    plain_http: bool = False
    """Allow an ``http://`` endpoint: credentials and data then cross the network unencrypted."""
    region: Region
    """The region requests are signed for (``eu-west-1``; many S3-compatible stores accept ``us-east-1``)."""
    addressing: Literal["virtual-host", "path"] = "virtual-host"
    """``virtual-host``: ``https://<bucket>.<host>/<key>`` (AWS); ``path``: ``https://<host>/<bucket>/<key>``
    (most S3-compatible stores, and any whose certificate does not cover ``*.<host>``)."""
    ca_secret: DnsSubdomain | None = None
    """Secret with key ``ca.crt``: the CA that signed the store's certificate, when the system's CAs did not."""
    egress: Annotated[tuple[Egress, ...], Field(min_length=1)]
    """The store's addresses, on the endpoint's port: the only ones its clients may reach for it."""
    buckets: Buckets
    """The buckets the platform uses, which must already exist: the warehouse, backups' and Cube Store's."""

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{endpoint!r} is not an S3 endpoint: write https://host[:port]")
        try:
            _port(endpoint)
        except ValueError:
            raise ValueError(f"{endpoint!r} has an invalid port: write one from 1 to 65535") from None
        if parts.username or parts.password or parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError(f"{endpoint!r}: write only https://host[:port], no path, query or credentials "
                             "(the buckets are listed in buckets, the credentials are in each consumer's Secret)")
        return endpoint.rstrip("/")

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        """Plain HTTP only when asked for; the endpoint's port among the addresses its clients may reach."""
        parts = urlsplit(self.endpoint)
        if parts.scheme == "http" and not self.plain_http:
            raise FieldError(("endpoint",), f"{self.endpoint} is plain HTTP, which sends data and signed requests "
                                            "unencrypted: use https://, or set plain_http: true")
        port = _port(self.endpoint)
        for index, egress in enumerate(self.egress):
            if port not in egress.ports:
                raise FieldError(("egress", index, "ports"), f"{egress.cidr} is opened on ports "
                                 f"{', '.join(map(str, egress.ports))}, not on {port}, the port of {self.endpoint}")
        if self.addressing == "virtual-host" and parts.scheme == "https":
            for index, bucket in enumerate(self.buckets):
                if "." in bucket:
                    raise FieldError(("buckets", index), f"{bucket!r} holds a '.', which no wildcard certificate "
                                     "of *.<host> covers in virtual-host addressing: use addressing: path")
        return self


def _mode(value: object) -> str:
    """Which of the in-cluster and external settings a value is (in-cluster when it does not say)."""
    if isinstance(value, dict):
        return str(value.get("mode", "in-cluster"))
    return getattr(value, "mode", "in-cluster")


ObjectStore = Annotated[
    Annotated[InClusterObjectStore, Tag("in-cluster")] | Annotated[ExternalObjectStore, Tag("external")],
    Discriminator(_mode, custom_error_type="object_store_mode",
                  custom_error_message="mode must be 'in-cluster' or 'external'"),
]


class InClusterPostgres(ServiceSettings):
    """A PostgreSQL instance run by the platform itself (a StatefulSet with one replica)."""

    mode: Literal["in-cluster"] = "in-cluster"
    storage: Storage = Storage()
    """The data volume."""
    database: PostgresIdentifier | None = None
    """Database name; defaults to the consumer's name (``dagster``, ``polaris``)."""
    credentials_secret: DnsSubdomain | None = None
    """Secret with keys ``username`` and ``password``; defaults to ``postgres-<consumer>-credentials``.
    The consumer's role: it logs in and owns the database, and is never a superuser (the bootstrap
    step makes it so on every sync)."""
    admin_secret: DnsSubdomain | None = None
    """Secret with keys ``username`` and ``password``; defaults to ``postgres-<consumer>-admin-credentials``.
    The instance's superuser, created by the first start; only the server and its bootstrap step read it.
    Must name a different role from ``credentials_secret``."""

    @model_validator(mode="after")
    def _superuser_apart(self) -> Self:
        """One Secret for both would make the consumer's role the superuser again."""
        if self.admin_secret is not None and self.admin_secret == self.credentials_secret:
            raise FieldError(("admin_secret",), f"{self.admin_secret!r} is also credentials_secret: the superuser "
                                                "needs a Secret (and a role) of its own")
        return self


class ExternalPostgres(StrictModel):
    """A PostgreSQL database the platform uses but does not run (a managed service)."""

    mode: Literal["external"]
    host: DnsSubdomain
    """Host name of the server."""
    port: Port = 5432
    database: PostgresIdentifier
    credentials_secret: DnsSubdomain
    """Secret with keys ``username`` and ``password``."""
    ssl_mode: Literal["disable", "require", "verify-ca", "verify-full"] = "verify-full"
    """libpq ``sslmode`` clients use; ``verify-ca`` and ``verify-full`` need ``ca_secret``."""
    ca_secret: DnsSubdomain | None = None
    """Secret with key ``ca.crt``: the certificate authority that signed the server's certificate."""
    egress: Annotated[tuple[Egress, ...], Field(min_length=1)]
    """The server's addresses: pipeline runs that write to it may reach only these."""

    @model_validator(mode="after")
    def _verifiable(self) -> Self:
        if self.ssl_mode.startswith("verify") and self.ca_secret is None:
            raise FieldError(("ca_secret",), f"ssl_mode {self.ssl_mode} verifies the server against a CA: "
                                             "set ca_secret, or use ssl_mode require")
        return self


PostgresDatabase = Annotated[
    Annotated[InClusterPostgres, Tag("in-cluster")] | Annotated[ExternalPostgres, Tag("external")],
    Discriminator(_mode, custom_error_type="postgres_mode",
                  custom_error_message="mode must be 'in-cluster' or 'external'"),
]


class PostgresBackup(StrictModel):
    """A scheduled logical backup (``pg_dump``) of each in-cluster instance to the object store.

    An external database is backed up by whoever runs it, never by the platform.
    """

    enabled: bool = True
    schedule: Cron = "30 2 * * *"
    """When each instance is dumped (cron, UTC): daily at 02:30 by default."""
    retention_days: Annotated[int, Field(strict=True, ge=1)] = 7
    """Dumps older than this are removed, each time a new dump has been uploaded (never otherwise)."""
    bucket: BucketName = "floe-backups"
    """Bucket holding the dumps, under ``postgres/<instance>/``; one of ``storage.object_store.buckets``."""
    credentials_secret: DnsSubdomain = "postgres-backup-object-store-credentials"
    """Secret in the platform namespace with keys ``access-key`` and ``secret-key`` (neither may contain ``:``):
    the identity ``floe-backups``, allowed to list, read, write and delete under ``bucket``/``postgres/``;
    MinIO's bucket bootstrap creates it with these values (an external store's operator does)."""
    resources: ResourceChoice = SMALL
    active_deadline_seconds: Annotated[int, Field(strict=True, ge=60)] = 60 * 60
    """Longest a backup run may take, dump and upload together, before Kubernetes stops it."""


class PostgresSettings(StrictModel):
    """One PostgreSQL database per stateful consumer, never shared between them."""

    dagster: PostgresDatabase = InClusterPostgres()
    """Run, event-log and schedule storage of the orchestrator."""
    polaris: PostgresDatabase = InClusterPostgres()
    """Metastore of the Iceberg catalog."""
    backup: PostgresBackup = PostgresBackup()
    """Backups of the in-cluster instances (external ones are their operator's to back up)."""

    def backed_up(self) -> tuple[str, ...]:
        """The consumers whose in-cluster instance gets a backup (none when backups are off)."""
        if not self.backup.enabled:
            return ()
        return tuple(name for name in type(self).model_fields if isinstance(getattr(self, name), InClusterPostgres))


class StorageSettings(StrictModel):
    """The storage tier: started first, everything else depends on it."""

    object_store: ObjectStore = InClusterObjectStore()
    """MinIO in the cluster (``mode: in-cluster``, the default), or an S3-compatible store outside it
    (``mode: external``)."""
    postgres: PostgresSettings = PostgresSettings()

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        """``storage.minio`` became ``storage.object_store``: say so rather than call it an unknown field."""
        if isinstance(data, dict) and "minio" in data:
            raise FieldError(("minio",), "storage.minio is now storage.object_store (MinIO is its mode: in-cluster, "
                                         "the default): rename the key; its settings are unchanged")
        return data

    @model_validator(mode="after")
    def _backup_bucket_created(self) -> Self:
        """Points at the bucket field if the file sets it, else at the bucket list that lost its default."""
        backup, buckets = self.postgres.backup, self.object_store.buckets
        if not self.postgres.backed_up() or backup.bucket in buckets:
            return self
        field = "storage.postgres.backup.bucket"
        if "bucket" in backup.model_fields_set:
            raise FieldError(("postgres", "backup", "bucket"), f"{field} {backup.bucket!r} is not one of "
                             f"storage.object_store.buckets ({', '.join(buckets)})")
        raise FieldError(("object_store", "buckets"), f"lacks {backup.bucket!r}, the default of {field}: list it, "
                                               f"set {field} to one of these, or set storage.postgres.backup.enabled "
                                               "false")


__all__ = ["DnsLabel", "ExternalObjectStore", "ExternalPostgres", "InClusterObjectStore", "InClusterPostgres",
           "PostgresBackup", "PostgresSettings", "StorageSettings"]
