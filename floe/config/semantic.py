"""Settings of the semantic tier: the Cube API, its refresh worker and Cube Store."""

import re
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from floe.config.base import FieldError, StrictModel
from floe.config.common import Destination, Ingress, Replicas, ScalableServiceSettings, ServiceSettings
from floe.config.products import AbsolutePath
from floe.config.releases import Image
from floe.config.types import BucketName, DnsSubdomain, KeyPrefix, Quantity

_REPOSITORY_URL = re.compile(r"^http://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?(/[-._~a-zA-Z0-9/]*)?$")
"""Plain HTTP: DuckDB fetches over https only through httpfs, the first extension it installs (it checks
every extension's signature, so the transport needs no TLS; extensions.duckdb.org is http too). No quote,
space or query: the URL goes into DuckDB's SQL as a string literal."""


class CubeApiSettings(ScalableServiceSettings):
    """The Cube API (REST/GraphQL on 4000, SQL on 15432): stateless, scaled and upgraded like a web service."""

    ingress: Ingress | None = None
    """Expose the HTTP API outside the cluster; unset keeps it reachable only in-cluster."""


class CubeStoreRouterSettings(ServiceSettings):
    """The Cube Store router: the metastore and the query planner (one replica, by Cube Store's design)."""

    cache_size_limit: Quantity = "5Gi"
    """Size limit of the local data directory, a scratch copy of what is kept in object storage."""


class CubeStoreWorkerSettings(ServiceSettings):
    """The Cube Store workers: they build and serve the pre-aggregation partitions."""

    replicas: Replicas = 1
    """Number of workers; every worker is listed in ``CUBESTORE_WORKERS`` of the router and each worker."""
    cache_size_limit: Quantity = "10Gi"
    """Size limit of each worker's local data directory (a scratch cache of object storage)."""


class CubeStoreSettings(StrictModel):
    """Cube Store: Cube's cache, queue and pre-aggregation store, persisted in MinIO.

    Pods keep only a scratch copy of the data; the durable copy (metastore snapshots and
    partitions) is in ``bucket`` under ``sub_path``.
    """

    router: CubeStoreRouterSettings = CubeStoreRouterSettings()
    workers: CubeStoreWorkerSettings = CubeStoreWorkerSettings()
    bucket: BucketName = "floe-warehouse"
    """Bucket for Cube Store's remote storage; must be one of ``storage.object_store.buckets``."""
    sub_path: KeyPrefix = "cube-store"
    """Prefix inside ``bucket``, so Cube Store's files never mix with the catalog's tables."""
    object_store_credentials_secret: DnsSubdomain = "cube-store-object-store-credentials"
    """Secret with keys ``access-key`` and ``secret-key``: the MinIO user the router and workers keep their
    files as, allowed only under ``bucket``/``sub_path``; MinIO's bucket bootstrap creates it with these values."""


def _repository_url(value: str) -> str:
    if not _REPOSITORY_URL.match(value):
        raise ValueError(
            f"{value!r} is not an extension repository URL: use http://host[:port][/path] with no query, such as "
            "http://duckdb-extensions.floe.example.internal (not https: DuckDB would need httpfs to install httpfs)"
        )
    return value.rstrip("/")


RepositoryUrl = Annotated[str, AfterValidator(_repository_url),
                          Field(json_schema_extra={"pattern": _REPOSITORY_URL.pattern})]


class DuckDBExtensionSource(StrictModel):
    """Where Cube's DuckDB takes httpfs, avro and iceberg from, never the public internet: one of two.

    Both hold the extensions of the Cube image's DuckDB (1.5.5) for the nodes' platforms
    (``linux_amd64``, ``linux_arm64``), laid out as DuckDB lays them out.
    """

    repository: RepositoryUrl | None = None
    """An internal mirror of DuckDB's extension repository (``extensions.duckdb.org``'s layout,
    ``<repository>/v1.5.5/<platform>/<name>.duckdb_extension.gz``); DuckDB installs from it at start."""
    egress: tuple[Destination, ...] = ()
    """Where the mirror is, for the NetworkPolicies: required with ``repository`` unless it is a Service of the
    cluster (``<service>.<namespace>.svc...``) whose pods listen on the URL's own port."""
    image: Image | None = None
    """An image the platform team builds, holding ``<image_path>/v1.5.5/<platform>/<name>.duckdb_extension``
    and ``cp``: an init container copies the files into DuckDB's extension directory; nothing is downloaded."""
    image_path: AbsolutePath = "/extensions"
    """Where ``image`` holds the extension directory."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.repository is None) == (self.image is None):
            raise FieldError((self.first_set("image", "repository"),),
                             "set exactly one of repository (a mirror DuckDB installs from) and image (an image "
                             "holding the extension files)")
        if self.repository is not None and "image_path" in self.model_fields_set:
            raise FieldError(("image_path",), "image_path goes with image, not with repository")
        return self


class SemanticSettings(StrictModel):
    """The semantic tier: Cube over the lakehouse, started after the orchestrator."""

    enabled: bool = True
    """False renders no semantic layer (an installation that serves no metrics API)."""
    api: CubeApiSettings = CubeApiSettings()
    refresh_worker: ServiceSettings = ServiceSettings()
    """The one refresh worker: builds pre-aggregations on schedule (same image, ``CUBEJS_REFRESH_WORKER``)."""
    cube_store: CubeStoreSettings = CubeStoreSettings()
    api_secret: DnsSubdomain = "cube-api-secret"
    """Secret with key ``api-secret``: the key that signs and verifies Cube's JWTs; never rendered."""
    object_store_credentials_secret: DnsSubdomain = "cube-object-store-credentials"
    """Secret with keys ``access-key`` and ``secret-key``: the MinIO user Cube's DuckDB reads the warehouse as
    (read only); MinIO's bucket bootstrap creates it with these values. Read only with ``duckdb_extensions``."""
    catalog_credentials_secret: DnsSubdomain = "cube-catalog-credentials"
    """Secret with keys ``client-id`` and ``client-secret``: the Polaris principal the semantic layer reads the
    catalog as, its own (never a product's or the realm's root); the catalog's bootstrap creates it with read
    access to the whole catalog and sets its credentials to these values. Read only with ``duckdb_extensions``,
    without which DuckDB cannot attach the catalog."""
    schema_configmap: DnsSubdomain | None = None
    """ConfigMap holding the data model files (one key per ``.yml``/``.js`` file), mounted read-only as Cube's
    model directory; unset leaves an empty model directory (the API starts, serving no cubes)."""
    duckdb_extensions: DuckDBExtensionSource | None = None
    """Where Cube's DuckDB takes its extensions from; unset, it installs and loads none and attaches no
    catalog (Cube starts, but can read neither the object store nor the Iceberg tables)."""
