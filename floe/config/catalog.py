"""Settings of the catalog tier: Apache Polaris, the Iceberg REST catalog."""

from typing import Annotated

from pydantic import Field

from floe.config.base import StrictModel
from floe.config.common import Ingress, ReplicatedServiceSettings
from floe.config.types import BucketName, DnsSubdomain

RealmName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")]
"""No ``,`` or ``;``: the admin tool reads credentials as ``realm,clientId,secret`` lists."""
CatalogName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class PolarisSettings(ReplicatedServiceSettings):
    """Polaris (a stateless Deployment) with its metastore in its own PostgreSQL (``storage.postgres.polaris``).

    Replicas share nothing but the database and the token-broker key pair, so any replica can
    verify a token another one issued. Polaris reaches the object store as a MinIO user of its own
    (``object_store_credentials_secret``), never as MinIO's root.
    """

    realm: RealmName = "floe"
    """The realm the bootstrap step creates; Polaris serves only this one."""
    catalog: CatalogName = "warehouse"
    """The Iceberg catalog the bootstrap step creates (idempotently) in the realm."""
    warehouse_bucket: BucketName = "floe-warehouse"
    """Bucket holding the catalog's tables (base location ``s3://<bucket>/``); one of
    ``storage.object_store.buckets``."""
    root_credentials_secret: DnsSubdomain = "polaris-root-credentials"
    """Secret with keys ``client-id`` and ``client-secret``: the realm's root principal, set once at bootstrap
    (changing it later does not change the realm's credentials)."""
    object_store_credentials_secret: DnsSubdomain = "polaris-object-store-credentials"
    """Secret with keys ``access-key`` and ``secret-key``: the MinIO user Polaris reads, writes and deletes
    the warehouse bucket's objects as; MinIO's bucket bootstrap creates it with these values."""
    token_broker_secret: DnsSubdomain = "polaris-token-broker"
    """Secret with keys ``public.pem`` and ``private.pem``: the RSA key pair signing access tokens."""
    ingress: Ingress | None = None
    """Expose the REST API (``/api``) outside the cluster."""


class CatalogSettings(StrictModel):
    """The catalog tier: started after storage, before everything that reads or writes tables."""

    polaris: PolarisSettings = PolarisSettings()
