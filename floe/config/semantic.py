"""Settings of the semantic tier: the Cube API, its refresh worker and Cube Store."""

from typing import Annotated

from pydantic import Field

from floe.config.base import StrictModel
from floe.config.common import Ingress, Replicas, ScalableServiceSettings, ServiceSettings
from floe.config.types import BucketName, DnsSubdomain, Quantity

SubPath = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")]
"""A key prefix inside a bucket: lowercase path segments, no leading or trailing ``/``."""


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
    """Bucket for Cube Store's remote storage; must be one of ``storage.minio.buckets``."""
    sub_path: SubPath = "cube-store"
    """Prefix inside ``bucket``, so Cube Store's files never mix with the catalog's tables."""


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
    object_store_credentials_secret: DnsSubdomain | None = None
    """Secret with keys ``root-user`` and ``root-password`` used by DuckDB (reads) and Cube Store (writes) to
    reach MinIO; unset uses ``storage.minio.credentials_secret``. Point it at a narrower MinIO user's Secret
    with the same keys in production."""
    schema_configmap: DnsSubdomain | None = None
    """ConfigMap holding the data model files (one key per ``.yml``/``.js`` file), mounted read-only as Cube's
    model directory; unset leaves an empty model directory (the API starts, serving no cubes)."""
