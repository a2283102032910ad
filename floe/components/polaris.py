"""Apache Polaris, the Iceberg REST catalog, and the bootstrap step that prepares its realm and catalog.

A stateless Deployment whose metastore is its own PostgreSQL (``relational-jdbc``). Ports,
health endpoints, UID 10000 / GID 10001 and the config keys are those of the image and the
project's Helm chart. The bootstrap Job runs once Polaris is Ready and reconciles on every sync:
the schema is created ``IF NOT EXISTS``, the admin tool skips a bootstrapped realm (Polaris
1.7+), and the bootstrap-catalog step makes the catalog, the products' namespaces and the catalog's
principals match the render (see ``floe/scripts/polaris-bootstrap-catalog.sh``).
"""

import json
from dataclasses import dataclass

from floe.components import minio
from floe.components.dns import service_host
from floe.components.object_store import java_trust, object_store_of
from floe.components.postgres import PASSWORD_KEY, USERNAME_KEY, Database, database_of
from floe.components.telemetry import otlp_env
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.config.resources import SMALL
from floe.constructs import env
from floe.constructs.bootstrap import BootstrapJob, BootstrapProps
from floe.constructs.certificate import (
    TLS_CERT,
    TLS_KEY,
    ServingTls,
    render_certificate,
    serving_certificate,
    trusted_ca,
)
from floe.constructs.config_files import ConfigFiles, config_map
from floe.constructs.container import Container, Port
from floe.constructs.ingress import ServiceIngress
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.scripts import shell_command
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.constructs.service import PlatformService, ServiceProps
from floe.constructs.trust import TrustedCa, ca_mounts, ca_volumes
from floe.rendered import Json
from floe.tiers import CATALOG

INSTANCE = "polaris"
API_PORT = 8181
MANAGEMENT_PORT = 8182
RUN_AS = RunAs(user=10000, group=10001, fs_group=10001)
APP_DIR = "/deployments"
"""Quarkus reads ``config/application.properties`` relative to its working directory."""
TOKEN_BROKER_DIR = "/deployments/token-broker"
TLS_DIR = "/deployments/tls"
"""Where Polaris's certificate Secret is mounted, with in-cluster TLS."""
PUBLIC_KEY = "public.pem"
PRIVATE_KEY = "private.pem"
CLIENT_ID_KEY = "client-id"
CLIENT_SECRET_KEY = "client-secret"
ROOT_CREDENTIALS_SCRATCH = ScratchPath("/run/polaris-bootstrap", in_memory=True, size_limit="1Mi")
ROOT_CREDENTIALS_FILE = f"{ROOT_CREDENTIALS_SCRATCH.path}/root-credentials.yaml"
ACCESS_TOKEN_SCRATCH = ScratchPath("/run/polaris-access", in_memory=True, size_limit="1Mi")
"""The catalog step's own in-memory folder: it never shares the admin tool's, which held the root secret."""
AUTHORIZATION_HEADER_FILE = f"{ACCESS_TOKEN_SCRATCH.path}/authorization"
"""The bootstrap's ``Authorization`` header, in memory, so the root's access token is on no command line."""
REQUESTS_DIR = "/etc/polaris-bootstrap"
"""The bootstrap's request lists (ConfigMap ``polaris-bootstrap-requests``): one request a line, as many as
there are products, too long for env vars (the kernel refuses one over 128 KiB at exec)."""
PRINCIPALS_DIR = "/run/polaris-principals"
"""Each managed principal's Secret mounted at ``<dir>/<principal>/`` (files ``client-id``, ``client-secret``)."""
SEMANTIC_PRINCIPAL = "floe-semantic"
WRITE_PRIVILEGES = (
    "NAMESPACE_LIST", "NAMESPACE_READ_PROPERTIES",
    "TABLE_CREATE", "TABLE_DROP", "TABLE_LIST", "TABLE_READ_DATA", "TABLE_READ_PROPERTIES", "TABLE_WRITE_DATA",
    "TABLE_WRITE_PROPERTIES",
    "VIEW_CREATE", "VIEW_DROP", "VIEW_LIST", "VIEW_READ_PROPERTIES", "VIEW_WRITE_PROPERTIES",
)
"""A product on its own namespace: its tables and views (dbt builds both), not the namespace itself."""
READ_PRIVILEGES = (
    "NAMESPACE_LIST", "NAMESPACE_READ_PROPERTIES",
    "TABLE_LIST", "TABLE_READ_DATA", "TABLE_READ_PROPERTIES",
    "VIEW_LIST", "VIEW_READ_PROPERTIES",
)
"""What listing, loading and scanning tables and views needs (DuckDB's ATTACH and SELECT among them)."""
SCHEMA = "polaris_schema"
"""Polaris 1.8 no longer creates its schema; its default ``POLARIS_SCHEMA`` folds to this name in PostgreSQL."""


def scheme(environment: Environment) -> str:
    """``https`` where the environment has in-cluster TLS: Polaris then serves its API and management
    interface only over TLS."""
    return "https" if environment.tls else "http"


def catalog_uri(environment: Environment) -> str:
    """The Iceberg REST catalog URL every client of the catalog uses."""
    return f"{scheme(environment)}://{service_host(environment, INSTANCE)}:{API_PORT}/api/catalog"


def http_properties(environment: Environment) -> dict[str, str]:
    """Where Polaris listens. With in-cluster TLS (Quarkus' HTTP reference, its ``ssl`` settings): the API on
    its HTTPS port alone (``insecure-requests=disabled`` keeps the HTTP port closed), the management interface
    over HTTPS (it then refuses plain HTTP: Quarkus' management interface reference), both with the mounted
    certificate, re-read every hour so that cert-manager's renewals apply without a restart."""
    ports = {"quarkus.management.port": str(MANAGEMENT_PORT)}
    if not environment.tls:
        return ports | {"quarkus.http.port": str(API_PORT)}
    files = {"certificate.files": f"{TLS_DIR}/{TLS_CERT}", "certificate.key-files": f"{TLS_DIR}/{TLS_KEY}",
             "certificate.reload-period": "1h"}
    return ports | {"quarkus.http.ssl-port": str(API_PORT), "quarkus.http.insecure-requests": "disabled",
                    **{f"quarkus.http.ssl.{key}": value for key, value in files.items()},
                    **{f"quarkus.management.ssl.{key}": value for key, value in files.items()}}


def serving_tls(scope: Scope, environment: Environment, identity: AppIdentity) -> ServingTls:
    """Polaris's Certificate, for its Service (clients, the ingress controller) and its headless Service's name
    (Prometheus reaches each replica by address, and checks this name: ``tls_config.server_name``)."""
    tls = environment.tls
    if tls is None:
        return ServingTls()
    namespace = environment.namespaces.platform
    certificate = serving_certificate(INSTANCE, namespace, environment.network.cluster_domain,
                                      (service_host(environment, f"{INSTANCE}-headless"),))
    render_certificate(scope, identity, namespace, certificate, tls.issuer)
    return ServingTls(mounts=(certificate.mount(TLS_DIR),), volumes=(certificate.volume(),))


def jdbc_url(database: Database) -> str:
    # currentSchema in the URL wins over Polaris's shipped default, so server and admin tool agree.
    root_certificate = f"&sslrootcert={database.ca_file}" if database.ca_file else ""
    return (f"jdbc:postgresql://{database.host}:{database.port}/{database.name}"
            f"?currentSchema={SCHEMA}&sslmode={database.ssl_mode}{root_certificate}")


def application_properties(environment: Environment) -> str:
    """The server's config file; credentials come from env vars, never from here."""
    settings = environment.catalog.polaris
    properties = {
        "polaris.realm-context.realms": settings.realm,
        "polaris.persistence.type": "relational-jdbc",
        "quarkus.datasource.jdbc.url": jdbc_url(database_of(environment, "polaris")),
        "polaris.authentication.token-broker.type": "rsa-key-pair",
        "polaris.authentication.token-broker.rsa-key-pair.public-key-file": f"{TOKEN_BROKER_DIR}/{PUBLIC_KEY}",
        "polaris.authentication.token-broker.rsa-key-pair.private-key-file": f"{TOKEN_BROKER_DIR}/{PRIVATE_KEY}",
        **http_properties(environment),
        # The image's defaults turn on a file handler writing ./logs/polaris.log under the read-only
        # working directory; the console (stdout, collected from the pod) keeps every line.
        "quarkus.log.file.enabled": "false",
        # The image disables tracing by default; export to the collector with otlp_env's settings.
        "quarkus.otel.sdk.disabled": "false",
        "quarkus.otel.exporter.otlp.endpoint": "${OTEL_EXPORTER_OTLP_ENDPOINT}",
        "quarkus.otel.service.name": "${OTEL_SERVICE_NAME}",
        "quarkus.otel.resource.attributes": "${OTEL_RESOURCE_ATTRIBUTES}",
    }
    return "".join(f"{key}={properties[key]}\n" for key in sorted(properties))


def storage_credentials(environment: Environment) -> tuple[k8s.EnvVar, ...]:
    """Polaris's own object-store identity (``floe-catalog``), never MinIO's root."""
    secret = environment.catalog.polaris.object_store_credentials_secret
    return (
        env.from_secret("AWS_ACCESS_KEY_ID", secret, minio.USER_ACCESS_KEY),
        env.from_secret("AWS_SECRET_ACCESS_KEY", secret, minio.USER_SECRET_KEY),
        env.literal("AWS_REGION", object_store_of(environment).region),
    )


def _token_broker(environment: Environment) -> k8s.Volume:
    """The token broker's key pair: owner and group read only (the pod's fsGroup is the process's group)."""
    return k8s.Volume(name="token-broker", secret=k8s.SecretVolumeSource(
        secret_name=environment.catalog.polaris.token_broker_secret, default_mode=0o440,
        items=[k8s.KeyToPath(key=key, path=key) for key in (PUBLIC_KEY, PRIVATE_KEY)]))


def render(scope: Scope, environment: Environment) -> None:
    settings = environment.catalog.polaris
    namespace = environment.namespaces.platform
    database = database_of(environment, "polaris")
    image = environment.release.images.polaris
    identity = AppIdentity(name="polaris", instance=INSTANCE, component="catalog", version=image_tag(image),
                           tier=CATALOG)
    properties = application_properties(environment)
    config = config_map(scope, identity, f"{INSTANCE}-config", namespace, {"application.properties": properties})
    trust = java_trust(object_store_of(environment), image, environment.resources(settings.resources))
    tls = serving_tls(scope, environment, identity)
    server = Container(
        name="polaris",
        image=image,
        resources=environment.resources(settings.resources),
        working_dir=APP_DIR,
        env=(
            # The chart's form: Quarkus reads env vars named exactly as the property.
            env.from_secret("quarkus.datasource.username", database.credentials_secret, USERNAME_KEY),
            env.from_secret("quarkus.datasource.password", database.credentials_secret, PASSWORD_KEY),
            *storage_credentials(environment),
            *trust.env,
            *otlp_env(environment, INSTANCE),
        ),
        ports=(Port("api", API_PORT), Port("management", MANAGEMENT_PORT)),
        probes=Probes.http("management", "/q/health/live", "/q/health/ready", startup=True,
                           tls=environment.tls is not None),
        scratch=(TMP, *trust.scratch),
        mounts=(
            config.mount(f"{APP_DIR}/config"),
            k8s.VolumeMount(name="token-broker", mount_path=TOKEN_BROKER_DIR, read_only=True),
            *database.ca_mounts(),
            *tls.mounts,
        ),
    )
    service = PlatformService(
        scope, "polaris",
        ServiceProps(
            identity=identity,
            namespace=namespace,
            replicas=settings.replicas,
            autoscaling=settings.autoscaling,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            per_pod_dns=True,  # Prometheus scrapes each replica's /q/metrics
            pod_annotations=config.annotations,
            pod=PodProps(containers=(server,), run_as=RUN_AS, init_containers=trust.init_containers,
                         volumes=(config.volume, _token_broker(environment), *database.ca_volumes(),
                                  *trust.volumes, *tls.volumes)),
        ),
    )
    if settings.ingress:
        ServiceIngress(scope, "polaris-ingress", identity=identity, namespace=namespace, settings=settings.ingress,
                       service=service.name, port="api", path="/api", backend_https=environment.tls is not None)
    _bootstrap(scope, environment, database)


def _root_credentials(environment: Environment) -> tuple[k8s.EnvVar, ...]:
    secret = environment.catalog.polaris.root_credentials_secret
    return (env.from_secret("ROOT_CLIENT_ID", secret, CLIENT_ID_KEY),
            env.from_secret("ROOT_CLIENT_SECRET", secret, CLIENT_SECRET_KEY))


def _create_schema(environment: Environment, database: Database) -> Container:
    """psql in the PostgreSQL image, as the catalog's own role: the schema Polaris 1.8 no longer creates."""
    return Container(
        name="create-schema",
        image=environment.release.images.postgres,
        resources=environment.presets[SMALL],
        command=("psql", "--no-psqlrc", "--set=ON_ERROR_STOP=1",
                 "--command", f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"),
        env=(
            *database.libpq_env(),
            env.from_secret("PGUSER", database.credentials_secret, USERNAME_KEY),
            env.from_secret("PGPASSWORD", database.credentials_secret, PASSWORD_KEY),
        ),
        mounts=database.ca_mounts(),
    )


def _bootstrap_realm(environment: Environment, database: Database) -> Container:
    """The admin tool bootstraps the realm; the root credentials reach it as a file, never on its command line."""
    return Container(
        name="bootstrap-realm",
        image=environment.release.images.polaris_admin_tool,
        resources=environment.presets[SMALL],
        command=shell_command("polaris-bootstrap-realm.sh"),
        env=_root_credentials(environment) + (
            env.literal("REALM", environment.catalog.polaris.realm),
            env.literal("ROOT_CREDENTIALS_FILE", ROOT_CREDENTIALS_FILE),
            env.literal("POLARIS_PERSISTENCE_TYPE", "relational-jdbc"),
            env.literal("QUARKUS_DATASOURCE_JDBC_URL", jdbc_url(database)),
            env.from_secret("QUARKUS_DATASOURCE_USERNAME", database.credentials_secret, USERNAME_KEY),
            env.from_secret("QUARKUS_DATASOURCE_PASSWORD", database.credentials_secret, PASSWORD_KEY),
            *otlp_env(environment, "polaris-admin-tool"),
        ),
        scratch=(TMP, ROOT_CREDENTIALS_SCRATCH),
        mounts=database.ca_mounts(),
    )


def _bootstrap_catalog(environment: Environment, principals: tuple["CatalogPrincipal", ...],
                       bodies: dict[str, str], requests: ConfigFiles, ca: TrustedCa | None) -> Container:
    """curl in the server image (the project's own compose health checks use it) against the catalog's APIs;
    with in-cluster TLS it verifies Polaris against the CA (curl reads ``CURL_CA_BUNDLE`` as ``--cacert``)."""
    settings = environment.catalog.polaris
    return Container(
        name="bootstrap-catalog",
        image=environment.release.images.polaris,
        resources=environment.presets[SMALL],
        command=shell_command("polaris-bootstrap-catalog.sh"),
        env=_root_credentials(environment) + (
            env.literal("CATALOG_URI", catalog_uri(environment)),
            env.literal("REALM", settings.realm),
            env.literal("CATALOG", settings.catalog),
            env.literal("AUTHORIZATION_HEADER_FILE", AUTHORIZATION_HEADER_FILE),
            env.literal("REQUESTS", REQUESTS_DIR),
            *((env.literal("CURL_CA_BUNDLE", ca.file),) if ca else ()),
            # The request bodies as sent; tests/conformance/test_polaris_models.py checks them, and the lists'.
            *(env.literal(name, text) for name, text in bodies.items()),
        ),
        scratch=(TMP, ACCESS_TOKEN_SCRATCH),
        mounts=(requests.mount(REQUESTS_DIR), *ca_mounts(ca),
                *(k8s.VolumeMount(name=p.name, mount_path=p.credentials, read_only=True) for p in principals)),
    )


def _bootstrap(scope: Scope, environment: Environment, database: Database) -> None:
    """The Job: the schema and the realm (init containers), then the catalog and its principals."""
    principals = catalog_principals(environment)
    bodies, lists = bootstrap_requests(environment, principals)
    identity = AppIdentity(name="polaris", instance="polaris-bootstrap", component="bootstrap",
                           version=image_tag(environment.release.images.polaris), tier=CATALOG)
    requests = config_map(scope, identity, "polaris-bootstrap-requests", environment.namespaces.platform, lists)
    ca = trusted_ca(environment.tls)
    credentials = tuple(
        # Owner and group read only; the pod's fsGroup is the process's group.
        k8s.Volume(name=p.name, secret=k8s.SecretVolumeSource(
            secret_name=p.secret, default_mode=0o440,
            items=[k8s.KeyToPath(key=key, path=key) for key in (CLIENT_ID_KEY, CLIENT_SECRET_KEY)]))
        for p in principals)
    BootstrapJob(
        scope, "polaris-bootstrap",
        BootstrapProps(
            identity=identity,
            namespace=environment.namespaces.platform,
            pod_annotations=requests.annotations,
            pod=PodProps(
                init_containers=(_create_schema(environment, database), _bootstrap_realm(environment, database)),
                containers=(_bootstrap_catalog(environment, principals, bodies, requests, ca),),
                run_as=RUN_AS,
                volumes=(*database.ca_volumes(), requests.volume, *credentials, *ca_volumes(ca)),
            ),
        ),
    )


@dataclass(frozen=True)
class CatalogPrincipal:
    """A principal the bootstrap manages: its principal role and catalog role share its name, and its
    credentials are the Secret's."""

    name: str
    secret: str
    grants: tuple[Json, ...]
    """Its catalog role's grants, as the management API's ``CatalogGrant`` / ``NamespaceGrant``; any
    other grant the role holds is revoked."""

    @property
    def credentials(self) -> str:
        """Where the bootstrap mounts its Secret."""
        return f"{PRINCIPALS_DIR}/{self.name}"


def _namespace_grants(namespace: str, privileges: tuple[str, ...]) -> tuple[Json, ...]:
    return tuple({"type": "namespace", "namespace": [namespace], "privilege": p} for p in privileges)


def catalog_principals(environment: Environment) -> tuple[CatalogPrincipal, ...]:
    """Each data product's principal (its jobs and Dagster runs: writes its own namespace, reads those it
    declares) and, where Cube attaches the catalog, the semantic layer's (reads everything)."""
    principals = [
        CatalogPrincipal(
            name=f"floe-product-{product.name}",
            secret=product.catalog_credentials_secret,
            grants=_namespace_grants(product.name, WRITE_PRIVILEGES)
            + tuple(g for read in product.reads for g in _namespace_grants(read, READ_PRIVILEGES)),
        )
        for product in environment.data_products
    ]
    semantic = environment.semantic
    if semantic.enabled and semantic.duckdb_extensions is not None:
        principals.append(CatalogPrincipal(
            name=SEMANTIC_PRINCIPAL,
            secret=semantic.catalog_credentials_secret,
            grants=tuple({"type": "catalog", "privilege": p} for p in ("CATALOG_READ_PROPERTIES", *READ_PRIVILEGES)),
        ))
    return tuple(principals)


def _catalog(environment: Environment) -> Json:
    """The catalog as created (``Catalog``); an existing one is updated to its properties and storage."""
    settings = environment.catalog.polaris
    base_location = f"s3://{settings.warehouse_bucket}/"
    store = object_store_of(environment)
    return {
        "name": settings.catalog,
        "type": "INTERNAL",
        "properties": {"default-base-location": base_location},
        "storageConfigInfo": {
            "storageType": "S3",
            "allowedLocations": [base_location],
            "endpoint": store.endpoint,
            "endpointInternal": store.endpoint,
            "pathStyleAccess": store.path_style,
            "region": store.region,
            # No STS is asked of the store (MinIO here, or an external one): clients bring their own credentials.
            "stsUnavailable": True,
        },
    }


def bootstrap_requests(environment: Environment,
                       principals: tuple[CatalogPrincipal, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """The bodies the bootstrap script sends, none holding a secret: env var → the catalog's, and file →
    the lists, one request a line after the names its path needs."""
    catalog = _catalog(environment)
    update = {key: catalog[key] for key in ("properties", "storageConfigInfo")}

    def body(value: Json) -> str:
        return json.dumps(value, sort_keys=True)

    def lines(rows: list[tuple[str, Json]]) -> str:
        return "".join(f"{name} {body(value)}\n".lstrip() for name, value in rows)

    bodies = {
        "CATALOG_REQUEST": body({"catalog": catalog}),
        # UpdateCatalogRequest without currentEntityVersion, which the script reads from the catalog first.
        "CATALOG_UPDATE": body(update),
        # catalog_admin: the catalog role Polaris creates with the catalog, held by the root's service_admin.
        "GRANT_REQUEST": body({"grant": {"type": "catalog", "privilege": "CATALOG_MANAGE_CONTENT"}}),
    }
    lists = {
        "namespaces": lines([("", {"namespace": [p.name]}) for p in environment.data_products]),
        # A principal, where its Secret is mounted, its CreatePrincipalRequest.
        "principals": lines([(f"{p.name} {p.credentials}", {"principal": {"name": p.name}}) for p in principals]),
        # Each principal's principal role and catalog role share its name: created, then granted to it.
        "principal-roles": lines([(p.name, {"principalRole": {"name": p.name}}) for p in principals]),
        "catalog-roles": lines([(p.name, {"catalogRole": {"name": p.name}}) for p in principals]),
        "grants": lines([(p.name, {"grant": grant}) for p in principals for grant in p.grants]),
    }
    return bodies, lists
