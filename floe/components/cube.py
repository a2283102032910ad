"""Cube, the semantic layer: the API, its refresh worker, and Cube Store (router and workers).

The seed backs Cube with Redis, but current Cube releases removed the Redis driver:
``CUBEJS_CACHE_AND_QUEUE_DRIVER`` accepts only ``cubestore`` or ``memory``, so Cube Store takes
Redis's place as cache and queue (and holds the pre-aggregations).

Data source: DuckDB inside the Cube process, reading the lakehouse's Iceberg tables from MinIO
(``httpfs`` and ``iceberg`` extensions, S3 settings in ``CUBEJS_DB_DUCKDB_S3_*``). Cube Store keeps
its durable copy in MinIO too (``CUBESTORE_MINIO_*``), so its pods only need scratch space.

The images declare no user; Cube runs as the Node image's ``node`` user (1000), Cube Store as the
same unprivileged IDs. Service names avoid ``cubestore-*``: Kubernetes' service-link variables of
such names (``CUBESTORE_PORT``...) break Cube Store's configuration (cube-js/cube#3158).
"""

from constructs import Construct

from floe.components import minio
from floe.components.dns import service_host
from floe.components.telemetry import otlp_env
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.constructs import env
from floe.constructs.container import Container, Port
from floe.constructs.ingress import ServiceIngress
from floe.constructs.kube import k8s
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
MODEL_DIR = "/cube/conf/model"
CUBE_STORE_DIR = "/cube/.cubestore"
CUBE_STORE_STEP = Step.PREPARE
"""Cube Store syncs one wave before the API and refresh worker, whose readiness needs it."""


def render(scope: Construct, environment: Environment) -> None:
    if not environment.semantic.enabled:
        return
    _cube_store(scope, environment)
    _cube(scope, environment)


def _pod_host(environment: Environment, statefulset: str, pod: str) -> str:
    """The stable DNS name of a StatefulSet pod, through the headless Service PlatformService renders."""
    return service_host(environment, f"{pod}.{statefulset}-headless")


def _object_store_secret(environment: Environment) -> str:
    return environment.semantic.object_store_credentials_secret or environment.storage.minio.credentials_secret


def _identity(image: str, name: str, instance: str, component: str) -> AppIdentity:
    return AppIdentity(name=name, instance=instance, component=component, version=image_tag(image), tier=SEMANTIC)


# Cube Store -----------------------------------------------------------------------------------------


def _cube_store(scope: Construct, environment: Environment) -> None:
    settings = environment.semantic.cube_store
    image = environment.release.images.cubestore
    secret = _object_store_secret(environment)
    router_pod = f"{ROUTER}-0"
    workers = ",".join(
        f"{_pod_host(environment, WORKER, f'{WORKER}-{index}')}:{WORKER_PORT}"
        for index in range(settings.workers.replicas)
    )
    common = (
        env.literal("CUBESTORE_WORKERS", workers),
        env.literal("CUBESTORE_DATA_DIR", f"{CUBE_STORE_DIR}/data"),
        env.literal("CUBESTORE_MINIO_SERVER_ENDPOINT", minio.endpoint(environment)),
        env.literal("CUBESTORE_MINIO_BUCKET", settings.bucket),
        env.literal("CUBESTORE_MINIO_SUB_PATH", settings.sub_path),
        env.literal("CUBESTORE_MINIO_REGION", minio.REGION),
        env.from_secret("CUBESTORE_MINIO_ACCESS_KEY_ID", secret, minio.ROOT_USER_KEY),
        env.from_secret("CUBESTORE_MINIO_SECRET_ACCESS_KEY", secret, minio.ROOT_PASSWORD_KEY),
        env.literal("CUBESTORE_TELEMETRY", "false"),
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
    )
    PlatformService(
        scope, ROUTER,
        ServiceProps(
            identity=_identity(image, "cube-store", ROUTER, "cache-router"),
            namespace=environment.namespaces.platform,
            kind=WorkloadKind.STATEFUL_SET,
            replicas=1,
            step=CUBE_STORE_STEP,
            pod=PodProps(containers=(router,), run_as=RUN_AS),
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
            pod=PodProps(containers=(worker,), run_as=RUN_AS),
        ),
    )


# Cube API and refresh worker ------------------------------------------------------------------------


def _cube_env(environment: Environment, service_name: str, refresh_worker: bool) -> tuple[k8s.EnvVar, ...]:
    """What the API and the refresh worker share: secret, cache/queue, data source, model."""
    secret = _object_store_secret(environment)
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
        env.literal("CUBEJS_DB_TYPE", "duckdb"),
        env.literal("CUBEJS_DB_DUCKDB_EXTENSIONS", "httpfs,iceberg"),
        # DuckDB's s3_endpoint is host:port, without a scheme; MinIO needs path-style URLs.
        env.literal("CUBEJS_DB_DUCKDB_S3_ENDPOINT", minio.endpoint(environment).removeprefix("http://")),
        env.literal("CUBEJS_DB_DUCKDB_S3_USE_SSL", "false"),
        env.literal("CUBEJS_DB_DUCKDB_S3_URL_STYLE", "path"),
        env.literal("CUBEJS_DB_DUCKDB_S3_REGION", minio.REGION),
        env.from_secret("CUBEJS_DB_DUCKDB_S3_ACCESS_KEY_ID", secret, minio.ROOT_USER_KEY),
        env.from_secret("CUBEJS_DB_DUCKDB_S3_SECRET_ACCESS_KEY", secret, minio.ROOT_PASSWORD_KEY),
        # DuckDB installs extensions under $HOME/.duckdb; the image's home is on the read-only root.
        env.literal("HOME", TMP.path),
    )


def _model(environment: Environment) -> tuple[tuple[ScratchPath, ...], tuple[k8s.Volume, ...],
                                               tuple[k8s.VolumeMount, ...]]:
    """The data model directory: the ConfigMap when one is set, else an empty scratch directory."""
    configmap = environment.semantic.schema_configmap
    if configmap is None:
        return (TMP, ScratchPath(MODEL_DIR)), (), ()
    volume = k8s.Volume(name="model", config_map=k8s.ConfigMapVolumeSource(name=configmap))
    mount = k8s.VolumeMount(name="model", mount_path=MODEL_DIR, read_only=True)
    return (TMP,), (volume,), (mount,)


def _cube(scope: Construct, environment: Environment) -> None:
    settings = environment.semantic
    image = environment.release.images.cube
    namespace = environment.namespaces.platform
    scratch, volumes, mounts = _model(environment)
    # The server compiles the model and installs DuckDB extensions before it answers.
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
    identity = _identity(image, "cube", API, "semantic-api")
    PlatformService(
        scope, API,
        ServiceProps(
            identity=identity,
            namespace=namespace,
            replicas=settings.api.replicas,
            autoscaling=settings.api.autoscaling,
            blue_green=settings.api.blue_green,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            pod=PodProps(containers=(api,), run_as=RUN_AS, volumes=volumes),
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
            pod=PodProps(containers=(worker,), run_as=RUN_AS, volumes=volumes),
        ),
    )
