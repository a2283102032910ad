"""Where the object store is, for every client: MinIO in the cluster, or an S3-compatible store outside it.

Clients never branch on ``storage.object_store.mode``: they ask :func:`object_store_of` for the endpoint,
region, addressing and the CA to trust, and the registry asks :func:`egress` where an external store is
(``floe.registry``: MinIO's component, with no pods then, stands for those addresses).
"""

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from floe.components import minio
from floe.config.common import Egress
from floe.config.environment import Environment
from floe.config.resources import Resources
from floe.config.storage import ExternalObjectStore
from floe.constructs import env
from floe.constructs.container import Container
from floe.constructs.kube import k8s
from floe.constructs.scripts import shell_command
from floe.constructs.security import TMP, ScratchPath
from floe.constructs.trust import TrustedCa, TrustsCa

CA_DIR = "/etc/floe/object-store-ca"
TRUSTSTORE_DIR = ScratchPath("/var/run/floe-truststore")
TRUSTSTORE = f"{TRUSTSTORE_DIR.path}/object-store-ca.p12"


@dataclass(frozen=True)
class ObjectStore(TrustsCa):
    """How a client reaches the object store, whichever runs it."""

    endpoint: str
    """``scheme://host[:port]`` of the S3 API."""
    region: str
    """The region requests are signed for."""
    addressing: Literal["path", "virtual-host"]
    ca_secret: str | None = None
    """Secret (key ``ca.crt``) holding the CA that signed the store's certificate; None: the system's CAs."""

    @property
    def path_style(self) -> bool:
        return self.addressing == "path"

    @property
    def scheme(self) -> str:
        return urlsplit(self.endpoint).scheme

    @property
    def use_ssl(self) -> bool:
        return self.scheme == "https"

    @property
    def address(self) -> str:
        """``host[:port]``, without the scheme (DuckDB's ``ENDPOINT``, ``mc``'s alias URL after the keys)."""
        return urlsplit(self.endpoint).netloc

    @property
    def ca(self) -> TrustedCa | None:
        return TrustedCa(self.ca_secret, "object-store-ca", CA_DIR) if self.ca_secret else None

    def sdk_env(self) -> tuple[k8s.EnvVar, ...]:
        """The AWS SDKs' own variables (boto3, pyarrow, DuckDB and dlt read them): endpoint, region, CA bundle."""
        ca_bundle = (env.literal("AWS_CA_BUNDLE", self.ca_file),) if self.ca_file else ()
        return (env.literal("AWS_ENDPOINT_URL", self.endpoint), env.literal("AWS_REGION", self.region), *ca_bundle)


@dataclass(frozen=True)
class JavaTrust:
    """What a JVM client's pod adds to trust the store's CA (nothing without one): an init container that
    writes a truststore (``floe/scripts/java-truststore.sh``, keytool of the client's own image) and the
    ``JAVA_TOOL_OPTIONS`` the JVM reads at start. The AWS SDK for Java reads no ``AWS_CA_BUNDLE``."""

    init_containers: tuple[Container, ...] = ()
    scratch: tuple[ScratchPath, ...] = ()
    volumes: tuple[k8s.Volume, ...] = ()
    env: tuple[k8s.EnvVar, ...] = ()


def java_trust(store: ObjectStore, image: str, resources: Resources) -> JavaTrust:
    if not store.ca_file:
        return JavaTrust()
    writer = Container(name="object-store-truststore", image=image, resources=resources,
                       command=shell_command("java-truststore.sh"),
                       env=(env.literal("CA_FILE", store.ca_file), env.literal("TRUSTSTORE", TRUSTSTORE)),
                       scratch=(TMP, TRUSTSTORE_DIR), mounts=store.ca_mounts())
    return JavaTrust(init_containers=(writer,), scratch=(TRUSTSTORE_DIR,), volumes=store.ca_volumes(),
                     env=(env.literal("JAVA_TOOL_OPTIONS", f"-Djavax.net.ssl.trustStore={TRUSTSTORE}"),))


def object_store_of(environment: Environment) -> ObjectStore:
    settings = environment.storage.object_store
    if isinstance(settings, ExternalObjectStore):
        return ObjectStore(settings.endpoint, settings.region, settings.addressing, settings.ca_secret)
    # MinIO answers path-style requests; virtual-host ones only with MINIO_DOMAIN set, which it is not. With
    # in-cluster TLS its certificate is signed by the environment's issuer, whose CA clients then trust.
    return ObjectStore(minio.endpoint(environment), minio.REGION, "path",
                       environment.tls.ca_secret if environment.tls else None)


def runs_minio(environment: Environment) -> bool:
    """Whether the platform runs the object store itself (MinIO, its bootstrap, its metrics)."""
    return not isinstance(environment.storage.object_store, ExternalObjectStore)


def egress(environment: Environment) -> tuple[Egress, ...]:
    """The addresses of an external store (none when MinIO runs in the cluster)."""
    settings = environment.storage.object_store
    return settings.egress if isinstance(settings, ExternalObjectStore) else ()
