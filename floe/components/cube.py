"""Cube, the semantic layer: the API, its refresh worker, and Cube Store (router and workers).

The seed backs Cube with Redis, but current Cube releases removed the Redis driver:
``CUBEJS_CACHE_AND_QUEUE_DRIVER`` accepts only ``cubestore`` or ``memory``, so Cube Store takes
Redis's place as cache and queue (and holds the pre-aggregations).

Data source: DuckDB inside the Cube process (``@duckdb/node-api``), set up by the rendered Cube
configuration file, ``cube.js``: its ``driverFactory`` hands the DuckDB driver an ``initSql``, which the
driver runs once per instance after its own settings. That SQL turns off installing extensions from
the public internet, loads httpfs, avro and iceberg from the environment's extension source (installed
from its mirror, or copied from its image by an init container), creates the object-store and
catalog secrets from env vars (Secret references; no credential is in the file) and attaches the
Polaris catalog as ``<catalog>``, so the model reads ``<catalog>.<namespace>.<table>``. The driver's
own ``CUBEJS_DB_DUCKDB_*`` settings are left unset: ``CUBEJS_DB_DUCKDB_EXTENSIONS`` installs from the
internet, and its ``SET s3_*`` would make DuckDB autoinstall httpfs from there before ``initSql`` runs.
Cube Store keeps its durable copy in MinIO (``CUBESTORE_MINIO_*``), so its pods only need scratch space.

The images declare no user; Cube runs as the Node image's ``node`` user (1000), Cube Store as the
same unprivileged IDs. Service names avoid ``cubestore-*``: Kubernetes' service-link variables of
such names (``CUBESTORE_PORT``...) break Cube Store's configuration (cube-js/cube#3158).
"""

import json

from floe.components import minio, polaris
from floe.components.dns import service_host
from floe.components.object_store import object_store_of
from floe.components.telemetry import otlp_env
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.config.resources import Resources
from floe.constructs import env
from floe.constructs.config_files import config_map
from floe.constructs.container import Container, Port
from floe.constructs.ingress import ServiceIngress
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import LIVENESS, Probe, Probes
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.constructs.service import PlatformService, ServiceProps, WorkloadKind
from floe.tiers import SEMANTIC, Step

API = "cube"
REFRESH_WORKER = "cube-refresh-worker"
ROUTER = "cube-store-router"
WORKER = "cube-store-worker"
HTTP_PORT = 4000
SQL_PORT = 15432
ROUTER_HTTP_PORT = 3030
"""Cube Store's HTTP (WebSocket) API, the one Cube connects to (``CUBEJS_CUBESTORE_PORT``)."""
META_PORT = 9999
STATUS_PORT = 3031
"""Only the router serves ``/livez`` and ``/readyz`` here (cubestore ``http/status.rs``)."""
WORKER_PORT = 9001
RUN_AS = RunAs(user=1000, group=1000)
API_SECRET_KEY = "api-secret"
CONFIG_DIR = "/cube/conf"
"""The image's working directory, where Cube's server looks for ``cube.js``."""
CONFIG_FILE = "cube.js"
MODEL_DIR = f"{CONFIG_DIR}/model"
EXTENSIONS = ("httpfs", "avro", "iceberg")
"""httpfs reads the object store and the catalog's REST API; iceberg reads its manifests with avro."""
EXTENSION_DIR = ScratchPath("/cube/duckdb-extensions", size_limit="512Mi")
"""DuckDB's ``extension_directory``: what it installs at start, about 80 MB for the three."""
CATALOG_SCOPE = "PRINCIPAL_ROLE:ALL"
"""The OAuth2 scope Polaris grants a principal's roles under (the one its own bootstrap asks for)."""
CATALOG_CLIENT_ID_ENV = "FLOE_CATALOG_CLIENT_ID"
CATALOG_CLIENT_SECRET_ENV = "FLOE_CATALOG_CLIENT_SECRET"
OBJECT_STORE_KEY_ID_ENV = "FLOE_OBJECT_STORE_ACCESS_KEY_ID"
OBJECT_STORE_SECRET_ENV = "FLOE_OBJECT_STORE_SECRET_ACCESS_KEY"
CUBE_STORE_DIR = "/cube/.cubestore"
CUBE_STORE_STEP = Step.PREPARE
"""Cube Store syncs one wave before the API and refresh worker, whose readiness needs it."""


def render(scope: Scope, environment: Environment) -> None:
    if not environment.semantic.enabled:
        return
    _cube_store(scope, environment)
    _cube(scope, environment)


def notices(environment: Environment) -> tuple[str, ...]:
    """What a valid environment leaves Cube without, said by ``floe validate``: it starts, but serves no data."""
    settings = environment.semantic
    if not settings.enabled:
        return ()
    said = []
    if settings.schema_configmap is None:
        said.append("semantic.schema_configmap is not set: Cube starts on an empty data model and serves no cubes")
    if settings.duckdb_extensions is None:
        said.append("semantic.duckdb_extensions is not set: Cube's DuckDB installs and loads no extension and "
                    "attaches no catalog, so it reads neither the object store nor the Iceberg tables")
    return tuple(said)


def _pod_host(environment: Environment, statefulset: str, pod: str) -> str:
    """The stable DNS name of a StatefulSet pod, through the headless Service PlatformService renders."""
    return service_host(environment, f"{pod}.{statefulset}-headless")


def _identity(image: str, name: str, instance: str, component: str) -> AppIdentity:
    return AppIdentity(name=name, instance=instance, component=component, version=image_tag(image), tier=SEMANTIC)


# Cube Store -----------------------------------------------------------------------------------------


def _cube_store(scope: Scope, environment: Environment) -> None:
    settings = environment.semantic.cube_store
    image = environment.release.images.cubestore
    secret = settings.object_store_credentials_secret
    store = object_store_of(environment)
    router_pod = f"{ROUTER}-0"
    workers = ",".join(
        f"{_pod_host(environment, WORKER, f'{WORKER}-{index}')}:{WORKER_PORT}"
        for index in range(settings.workers.replicas)
    )
    common = (
        env.literal("CUBESTORE_WORKERS", workers),
        env.literal("CUBESTORE_DATA_DIR", f"{CUBE_STORE_DIR}/data"),
        # Cube Store's S3-compatible client (remotefs/minio.rs), for MinIO or an external store alike: it
        # always sends path-style requests (``with_path_style()``), which the store must accept.
        env.literal("CUBESTORE_MINIO_SERVER_ENDPOINT", store.endpoint),
        env.literal("CUBESTORE_MINIO_BUCKET", settings.bucket),
        env.literal("CUBESTORE_MINIO_SUB_PATH", settings.sub_path),
        env.literal("CUBESTORE_MINIO_REGION", store.region),
        # Its own MinIO user (floe-cube-store), allowed only under bucket/sub_path.
        env.from_secret("CUBESTORE_MINIO_ACCESS_KEY_ID", secret, minio.USER_ACCESS_KEY),
        env.from_secret("CUBESTORE_MINIO_SECRET_ACCESS_KEY", secret, minio.USER_SECRET_KEY),
        env.literal("CUBESTORE_TELEMETRY", "false"),
        # The CA of an external store's certificate: OpenSSL and rustls-native-certs both read SSL_CERT_FILE.
        *((env.literal("SSL_CERT_FILE", store.ca_file),) if store.ca_file else ()),
    )

    router = Container(
        name="cube-store",
        image=image,
        resources=environment.resources(settings.router.resources),
        # otlp_env first: it defines K8S_POD_NAME, which CUBESTORE_SERVER_NAME expands.
        env=otlp_env(environment, ROUTER) + (
            env.literal("CUBESTORE_SERVER_NAME",
                        f"{_pod_host(environment, ROUTER, '$(K8S_POD_NAME)')}:{META_PORT}"),
            env.literal("CUBESTORE_META_PORT", META_PORT),
            env.literal("CUBESTORE_HTTP_PORT", ROUTER_HTTP_PORT),
            env.literal("CUBESTORE_STATUS_PORT", STATUS_PORT),
        ) + common,
        ports=(Port("http", ROUTER_HTTP_PORT), Port("meta", META_PORT), Port("status", STATUS_PORT)),
        # Startup restores the metastore from object storage before the router is live.
        probes=Probes.http("status", "/livez", "/readyz", startup=True),
        scratch=(TMP, ScratchPath(CUBE_STORE_DIR, size_limit=settings.router.cache_size_limit)),
        mounts=store.ca_mounts(),
    )
    PlatformService(
        scope, ROUTER,
        ServiceProps(
            identity=_identity(image, "cube-store", ROUTER, "cache-router"),
            namespace=environment.namespaces.platform,
            kind=WorkloadKind.STATEFUL_SET,
            replicas=1,
            step=CUBE_STORE_STEP,
            pod=PodProps(containers=(router,), run_as=RUN_AS, volumes=store.ca_volumes()),
        ),
    )

    # Workers serve no HTTP probe endpoint; their RPC port accepting connections is the signal.
    worker_probe = Probe.from_tcp_socket("worker")
    worker = Container(
        name="cube-store",
        image=image,
        resources=environment.resources(settings.workers.resources),
        env=otlp_env(environment, WORKER) + (
            env.literal("CUBESTORE_SERVER_NAME",
                        f"{_pod_host(environment, WORKER, '$(K8S_POD_NAME)')}:{WORKER_PORT}"),
            env.literal("CUBESTORE_WORKER_PORT", WORKER_PORT),
            env.literal("CUBESTORE_META_ADDR", f"{_pod_host(environment, ROUTER, router_pod)}:{META_PORT}"),
        ) + common,
        ports=(Port("worker", WORKER_PORT),),
        probes=Probes(liveness=worker_probe.with_timing(LIVENESS), readiness=worker_probe),
        scratch=(TMP, ScratchPath(CUBE_STORE_DIR, size_limit=settings.workers.cache_size_limit)),
        mounts=store.ca_mounts(),
    )
    PlatformService(
        scope, WORKER,
        ServiceProps(
            identity=_identity(image, "cube-store", WORKER, "cache-worker"),
            namespace=environment.namespaces.platform,
            kind=WorkloadKind.STATEFUL_SET,
            replicas=settings.workers.replicas,
            step=CUBE_STORE_STEP,
            # Workers are peers: none waits for another to be ready.
            parallel_start=True,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            pod=PodProps(containers=(worker,), run_as=RUN_AS, volumes=store.ca_volumes()),
        ),
    )


# Cube's configuration file: DuckDB's start-up SQL ---------------------------------------------------


def sql_literal(value: str) -> str:
    """A SQL string literal: single-quoted, a quote inside written twice."""
    return "'" + value.replace("'", "''") + "'"


def from_env(name: str) -> str:
    """A placeholder cube.js replaces, when Cube starts, by the env var's value as a SQL string literal."""
    return "${" + name + "}"


def init_sql(environment: Environment) -> tuple[str, ...]:
    """The statements DuckDB runs at start; credentials only as :func:`from_env` placeholders.

    Without an extension source nothing is installed or loaded and no catalog attached: a query of
    the object store fails at once instead of DuckDB fetching extensions from the public internet.
    """
    source = environment.semantic.duckdb_extensions
    statements = ["SET autoinstall_known_extensions = false"]
    if source is None:
        return tuple(statements)
    catalog = environment.catalog.polaris.catalog
    catalog_uri = polaris.catalog_uri(environment)
    store = object_store_of(environment)
    # From a mirror DuckDB installs each extension; from an image the init container has put them in place.
    installs = (f"INSTALL {name} FROM {sql_literal(source.repository)}" for name in EXTENSIONS if source.repository)
    return (
        *statements,
        f"SET extension_directory = {sql_literal(EXTENSION_DIR.path)}",
        *installs,
        *(f"LOAD {name}" for name in EXTENSIONS),
        # httpfs' setting: the CA of an external store's certificate, when the system's CAs did not sign it.
        *((f"SET ca_cert_file = {sql_literal(store.ca_file)}",) if store.ca_file else ()),
        # httpfs' enable_server_cert_verification is false by default in DuckDB 1.5.5 (duckdb_settings()): on
        # wherever the store or the catalog is reached over https, so that no client of httpfs skips the check.
        *(("SET enable_server_cert_verification = true",) if store.use_ssl or catalog_uri.startswith("https")
          else ()),
        # host:port without a scheme, which USE_SSL says; URL_STYLE 'path' or 'vhost' (DuckDB's S3 secret).
        f"CREATE SECRET floe_object_store (TYPE s3, KEY_ID {from_env(OBJECT_STORE_KEY_ID_ENV)}, "
        f"SECRET {from_env(OBJECT_STORE_SECRET_ENV)}, ENDPOINT {sql_literal(store.address)}, "
        f"URL_STYLE {sql_literal('path' if store.path_style else 'vhost')}, "
        f"USE_SSL {str(store.use_ssl).lower()}, REGION {sql_literal(store.region)})",
        f"CREATE SECRET floe_catalog (TYPE iceberg, CLIENT_ID {from_env(CATALOG_CLIENT_ID_ENV)}, "
        f"CLIENT_SECRET {from_env(CATALOG_CLIENT_SECRET_ENV)}, "
        f"OAUTH2_SERVER_URI {sql_literal(catalog_uri + '/v1/oauth/tokens')}, "
        f"OAUTH2_SCOPE {sql_literal(CATALOG_SCOPE)})",
        # The catalog vends no credentials (MinIO has no STS here): DuckDB reads with floe_object_store.
        f"ATTACH {sql_literal(catalog)} AS \"{catalog}\" (TYPE iceberg, SECRET floe_catalog, "
        f"ENDPOINT {sql_literal(catalog_uri)}, ACCESS_DELEGATION_MODE 'none')",
    )


def config_file(environment: Environment) -> str:
    """``cube.js``: the DuckDB driver's config, its ``initSql`` filled in from the env when Cube starts.

    Cube's DuckDB driver runs ``initSql`` with one call, statement after statement, and logs and skips
    a failure, so a statement that fails leaves the ones after it undone.
    """
    statements = json.dumps(init_sql(environment), indent=2)
    return rf"""// Rendered by floe: DuckDB's start-up SQL. Credentials come from the env, never from this file.
const statements = {statements};

// A placeholder ${{NAME}} becomes the env var's value as a SQL string literal; unset or empty stops Cube.
const fromEnv = (placeholder, name) => {{
  const value = process.env[name];
  if (!value) {{
    throw new Error(`${{name}} is not set: it holds a credential DuckDB's start-up SQL needs`);
  }}
  return `'${{value.replaceAll("'", "''")}}'`;
}};
const initSql = statements.map((statement) => statement.replace(/\$\{{([A-Z0-9_]+)\}}/g, fromEnv)).join(";\n");

module.exports = {{
  driverFactory: () => ({{ type: "duckdb", initSql }}),
}};
"""


# Cube API and refresh worker ------------------------------------------------------------------------


def _credentials(environment: Environment) -> tuple[k8s.EnvVar, ...]:
    """The credentials ``initSql`` reads: only when it creates the secrets, which needs the extensions."""
    settings = environment.semantic
    if settings.duckdb_extensions is None:
        return ()
    object_store = settings.object_store_credentials_secret  # floe-semantic: reads the warehouse, nothing else
    return (
        env.from_secret(CATALOG_CLIENT_ID_ENV, settings.catalog_credentials_secret, polaris.CLIENT_ID_KEY),
        env.from_secret(CATALOG_CLIENT_SECRET_ENV, settings.catalog_credentials_secret, polaris.CLIENT_SECRET_KEY),
        env.from_secret(OBJECT_STORE_KEY_ID_ENV, object_store, minio.USER_ACCESS_KEY),
        env.from_secret(OBJECT_STORE_SECRET_ENV, object_store, minio.USER_SECRET_KEY),
    )


def _extension_copy(environment: Environment, resources: Resources) -> tuple[Container, ...]:
    """With an extension image, the init container that copies its files into DuckDB's extension directory."""
    source = environment.semantic.duckdb_extensions
    if source is None or source.image is None:
        return ()
    return (Container(
        name="duckdb-extensions",
        image=source.image,
        # The server's own: the pod then asks for no more than the server does.
        resources=resources,
        command=("cp", "-R", f"{source.image_path}/.", EXTENSION_DIR.path),
        scratch=(EXTENSION_DIR,),
    ),)


def _cube_env(environment: Environment, service_name: str, refresh_worker: bool) -> tuple[k8s.EnvVar, ...]:
    """What the API and the refresh worker share: secret, cache/queue, data source, model."""
    return otlp_env(environment, service_name) + (
        env.from_secret("CUBEJS_API_SECRET", environment.semantic.api_secret, API_SECRET_KEY),
        env.literal("CUBEJS_DEV_MODE", "false"),
        env.literal("CUBEJS_TELEMETRY", "false"),
        env.literal("CUBEJS_REFRESH_WORKER", str(refresh_worker).lower()),
        env.literal("PORT", HTTP_PORT),
        env.literal("CUBEJS_SCHEMA_PATH", MODEL_DIR),
        env.literal("CUBEJS_CACHE_AND_QUEUE_DRIVER", "cubestore"),
        env.literal("CUBEJS_CUBESTORE_HOST", service_host(environment, ROUTER)),
        env.literal("CUBEJS_CUBESTORE_PORT", ROUTER_HTTP_PORT),
        # Cube's documented setting for the data source; cube.js's driverFactory returns the same type.
        env.literal("CUBEJS_DB_TYPE", "duckdb"),
        # DuckDB's defaults live under $HOME/.duckdb; the image's home is on the read-only root.
        env.literal("HOME", TMP.path),
    ) + _credentials(environment)


def _model(environment: Environment) -> tuple[tuple[ScratchPath, ...], tuple[k8s.Volume, ...],
                                               tuple[k8s.VolumeMount, ...]]:
    """The data model directory: the ConfigMap when one is set, else an empty scratch directory."""
    configmap = environment.semantic.schema_configmap
    if configmap is None:
        return (ScratchPath(MODEL_DIR),), (), ()
    volume = k8s.Volume(name="model", config_map=k8s.ConfigMapVolumeSource(name=configmap))
    mount = k8s.VolumeMount(name="model", mount_path=MODEL_DIR, read_only=True)
    return (), (volume,), (mount,)


def _cube(scope: Scope, environment: Environment) -> None:
    settings = environment.semantic
    image = environment.release.images.cube
    namespace = environment.namespaces.platform
    identity = _identity(image, "cube", API, "semantic-api")
    config = config_map(scope, identity, f"{API}-config", namespace, {CONFIG_FILE: config_file(environment)})
    model_scratch, model_volumes, model_mounts = _model(environment)
    extensions = (EXTENSION_DIR,) if settings.duckdb_extensions else ()
    scratch = (TMP, *model_scratch, *extensions)
    store = object_store_of(environment)
    volumes = (config.volume, *model_volumes, *store.ca_volumes())
    # One file into the image's working directory, beside the model directory mounted below it.
    mounts = (k8s.VolumeMount(name=config.volume.name, mount_path=f"{CONFIG_DIR}/{CONFIG_FILE}",
                              sub_path=CONFIG_FILE, read_only=True), *model_mounts, *store.ca_mounts())
    # The server compiles the model before it answers; DuckDB starts (installing its extensions from a
    # mirror) on the first query, /readyz's among them.
    probes = Probes.http("http", "/livez", "/readyz", startup=True)

    api = Container(
        name="cube",
        image=image,
        resources=environment.resources(settings.api.resources),
        env=_cube_env(environment, API, refresh_worker=False) + (env.literal("CUBEJS_PG_SQL_PORT", SQL_PORT),),
        ports=(Port("http", HTTP_PORT), Port("sql", SQL_PORT)),
        probes=probes,
        scratch=scratch,
        mounts=mounts,
    )
    PlatformService(
        scope, API,
        ServiceProps(
            identity=identity,
            namespace=namespace,
            pod_annotations=config.annotations,
            replicas=settings.api.replicas,
            autoscaling=settings.api.autoscaling,
            blue_green=settings.api.blue_green,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            pod=PodProps(containers=(api,), run_as=RUN_AS, volumes=volumes,
                         init_containers=_extension_copy(environment, api.resources)),
        ),
    )
    if settings.api.ingress:
        ServiceIngress(scope, "cube-ingress", identity=identity, namespace=namespace,
                       settings=settings.api.ingress, service=API, port="http")

    # The refresh worker runs the same server (it answers /livez and /readyz on its HTTP port too),
    # but takes no client traffic, so its port gets no Service.
    worker = Container(
        name="cube",
        image=image,
        resources=environment.resources(settings.refresh_worker.resources),
        env=_cube_env(environment, REFRESH_WORKER, refresh_worker=True),
        ports=(Port("http", HTTP_PORT, expose=False),),
        probes=probes,
        scratch=scratch,
        mounts=mounts,
    )
    PlatformService(
        scope, REFRESH_WORKER,
        ServiceProps(
            identity=_identity(image, "cube", REFRESH_WORKER, "semantic-refresh-worker"),
            namespace=namespace,
            replicas=1,
            pod_annotations=config.annotations,
            pod=PodProps(containers=(worker,), run_as=RUN_AS, volumes=volumes,
                         init_containers=_extension_copy(environment, worker.resources)),
        ),
    )
