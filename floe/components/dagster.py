"""Dagster: the schema migration, webserver, daemon, and one code location per data product.

Webserver, daemon and migration run ``environment.release.images.dagster`` (``dagster/dagster-k8s``,
which bundles dagster-webserver, dagster-postgres and dagster-k8s); each code location runs its
data product's image. Runs are Kubernetes Jobs in the jobs namespace, launched by the daemon
(the ``QueuedRunCoordinator`` hands queued runs to it) with the Layer-4 Job policy; each code
location's ``DAGSTER_CONTAINER_CONTEXT`` gives its runs the product's pod, the same as its job
templates'. The launcher admits from a code location or a run's tags only what those contexts
set (:data:`USER_DEFINED_K8S_CONFIG`).

The webservers have no Ingress of their own: the UI is reached from outside the cluster only
through its login (``floe.components.oauth2_proxy``), and with ``orchestrator.webserver.viewer``
a second, ``--read-only`` webserver without token or run launcher serves the viewers.

The dagster-k8s image has no ``USER`` (it would run as root): every Dagster pod runs as UID/GID
10001, a non-root ID with no meaning in the image and above any node's own users, so ``HOME``
points at the writable ``/tmp``.
``DAGSTER_HOME`` is an emptyDir (the instance writes local artifacts there) with ``dagster.yaml``
mounted into it from the instance ConfigMap.
"""

from collections.abc import Mapping
from dataclasses import replace

from floe.components import minio
from floe.components.dns import service_host
from floe.components.object_store import object_store_of
from floe.components.postgres import PASSWORD_KEY, USERNAME_KEY, database_of
from floe.components.telemetry import DAGSTER_RUN, otlp_env
from floe.config.environment import Environment
from floe.config.orchestrator import ViewerSettings
from floe.config.products import DataProduct
from floe.config.releases import image_tag
from floe.config.resources import ResourceChoice
from floe.constructs import env
from floe.constructs.bootstrap import BootstrapJob, BootstrapProps
from floe.constructs.config_files import CHECKSUM_ANNOTATION, config_checksum, config_map, config_text
from floe.constructs.container import Container, Port
from floe.constructs.job_policy import JOB_POLICY
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import LAUNCHED_BY, LAYER, OWNER, PART_OF, AppIdentity, Layer, Owner
from floe.constructs.pod import PodProps, pod_spec
from floe.constructs.probes import LIVENESS, READINESS, STARTUP, Probe, Probes
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.constructs.service import PlatformService, ServiceProps
from floe.jobs.product_pod import container_context_env, product_env, trusted_cas
from floe.rendered import Json
from floe.tiers import ORCHESTRATOR, Step

WEBSERVER = "dagster-webserver"
VIEWER = "dagster-webserver-viewer"
"""The read-only webserver, rendered with ``orchestrator.webserver.viewer``."""
DAEMON = "dagster-daemon"
WEBSERVER_PORT = 3000
CODE_LOCATION_PORT = 3030
DAGSTER_HOME = "/opt/dagster/dagster_home"
WORKSPACE_DIR = "/dagster-workspace"
INSTANCE_FILE = "dagster.yaml"
MIGRATION_INSTANCE_FILE = "dagster-migrate.yaml"
"""The migration Job's instance: the servers' storage, no run launcher (see :func:`migration_instance_config`)."""
VIEWER_INSTANCE_FILE = "dagster-viewer.yaml"
"""The read-only webserver's instance: what it shows, no run launcher (see :func:`viewer_instance_config`)."""
WORKSPACE_FILE = "workspace.yaml"
INSTANCE_CONFIG_MAP = "dagster-instance"
WORKSPACE_CONFIG_MAP = "dagster-workspace"
RUN_AS = RunAs(user=10001, group=10001)
PG_USERNAME_ENV = "DAGSTER_PG_USERNAME"
PG_PASSWORD_ENV = "DAGSTER_PG_PASSWORD"
RUN_SELECTOR = {LAUNCHED_BY: "dagster"}
"""Labels of every run pod the run launcher starts, and of no other pod: what NetworkPolicies select runs by."""
USER_DEFINED_K8S_CONFIG = {
    "container_config": {"env": True, "resources": True},
    "pod_template_spec_metadata": {"labels": True},
    "job_metadata": {"labels": True},
}
"""The only Kubernetes settings of a run not taken from the run launcher: the run launcher's
``only_allow_user_defined_k8s_config_fields``. A run launched with any other in its
``dagster-k8s/config`` tag (image, command, args, env_from, volumes, service account, security
context, namespace...) fails before its Job is created.

dagster-k8s 0.29.24 ``K8sContainerContext.create_for_run`` merges the code location's container
context and the run's tags into one "user-defined" context, then checks *that* against the list
(``validate_user_k8s_config_for_run``); only the launcher's own settings are exempt. So the list
must admit what the code locations' contexts set (``floe.jobs.product_pod.container_context``: the
product's env, resources and labels) and nothing else; ``only_allow_user_defined_env_vars``
(:func:`user_defined_env_vars`) narrows the env to the variables those contexts name."""
HEARTBEAT_TOLERANCE_SECONDS = 300
"""How long the daemon's heartbeats may be missing before it counts as down (the chart's default)."""

PYTHON_CHECK = replace(READINESS, period_seconds=10, timeout_seconds=10)
"""Probes that start a Python interpreter importing Dagster need seconds, not the default 3."""
PYTHON_LIVENESS = replace(LIVENESS, period_seconds=20, timeout_seconds=10)
PYTHON_STARTUP = replace(STARTUP, timeout_seconds=10)
DAEMON_LIVENESS = replace(PYTHON_LIVENESS, initial_delay_seconds=120, period_seconds=60)

DAGSTER_HOME_SCRATCH = ScratchPath(DAGSTER_HOME)
PRODUCT_CODE_ENV = (
    # Product code loads and runs dbt projects (dagster-dbt); the image's own tree is read-only.
    env.literal("DBT_TARGET_PATH", "/tmp/dbt/target"),
    env.literal("DBT_LOG_PATH", "/tmp/dbt/logs"),
)
INSTANCE_VOLUME = k8s.Volume(name="instance", config_map=k8s.ConfigMapVolumeSource(name=INSTANCE_CONFIG_MAP))
MIGRATION_INSTANCE_VOLUME = k8s.Volume(
    name="instance",
    # The migration file, projected under the name Dagster reads from DAGSTER_HOME.
    config_map=k8s.ConfigMapVolumeSource(name=INSTANCE_CONFIG_MAP,
                                         items=[k8s.KeyToPath(key=MIGRATION_INSTANCE_FILE, path=INSTANCE_FILE)]),
)
VIEWER_INSTANCE_VOLUME = k8s.Volume(
    name="instance",
    config_map=k8s.ConfigMapVolumeSource(name=INSTANCE_CONFIG_MAP,
                                         items=[k8s.KeyToPath(key=VIEWER_INSTANCE_FILE, path=INSTANCE_FILE)]),
)
WORKSPACE_VOLUME = k8s.Volume(name="workspace", config_map=k8s.ConfigMapVolumeSource(name=WORKSPACE_CONFIG_MAP))
INSTANCE_MOUNT = k8s.VolumeMount(name="instance", mount_path=f"{DAGSTER_HOME}/{INSTANCE_FILE}",
                                 sub_path=INSTANCE_FILE, read_only=True)
WORKSPACE_MOUNT = k8s.VolumeMount(name="workspace", mount_path=WORKSPACE_DIR, read_only=True)

LOCATIONS_LOADED = """\
import json, sys, urllib.request
query = ("{workspaceOrError {__typename ... on Workspace "
         "{locationEntries {name loadStatus locationOrLoadError {__typename}}}}}")
request = urllib.request.Request("http://127.0.0.1:%d/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
workspace = json.load(urllib.request.urlopen(request, timeout=8))["data"]["workspaceOrError"]
entries = workspace.get("locationEntries") or []
loaded = {e["name"] for e in entries
          if e["loadStatus"] == "LOADED" and (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"}
sys.exit(0 if workspace["__typename"] == "Workspace" and loaded == set(sys.argv[1:]) else 1)
""" % WEBSERVER_PORT  # noqa: UP031 (the snippet is full of GraphQL braces)
"""Readiness of the webserver: every expected code location LOADED, none a load error
(checked against dagster-webserver 1.13.24: not ready while a code server is down, ready again
seconds after it is back).

``/server_info`` only says the HTTP server is up. The workspace's load status is what the UI
shows per location (GraphQL ``workspaceOrError.locationEntries``: ``loadStatus`` LOADING/LOADED,
``locationOrLoadError`` a ``RepositoryLocation`` or a ``PythonError``). The webserver watches each
gRPC server and reloads a location when its server comes back, so readiness recovers on its own.
"""


def code_location_name(product: DataProduct) -> str:
    return f"dagster-code-{product.name}"


def instance_config(environment: Environment) -> Json:
    """dagster.yaml: storage on PostgreSQL, runs as Jobs in the jobs namespace with the Job policy."""
    database = database_of(environment, "dagster")
    settings = environment.orchestrator
    postgres = {
        "postgres_db": {
            "username": {"env": PG_USERNAME_ENV},
            "password": {"env": PG_PASSWORD_ENV},
            "hostname": database.host,
            "port": database.port,
            "db_name": database.name,
            "params": {"sslmode": database.ssl_mode,
                       **({"sslrootcert": database.ca_file} if database.ca_file else {})},
        }
    }
    return {
        "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage",
                        "config": postgres},
        "event_log_storage": {"module": "dagster_postgres.event_log", "class": "PostgresEventLogStorage",
                              "config": postgres},
        "schedule_storage": {"module": "dagster_postgres.schedule_storage", "class": "PostgresScheduleStorage",
                             "config": postgres},
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"max_concurrent_runs": settings.max_concurrent_runs},
        },
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": {
                "load_incluster_config": True,
                "job_namespace": environment.namespaces.jobs,
                "service_account_name": environment.jobs.service_account,
                # The fallback only: a run uses the image its code location reports (DAGSTER_CURRENT_IMAGE).
                "job_image": environment.release.images.dagster,
                "image_pull_policy": "IfNotPresent",
                "dagster_home": DAGSTER_HOME,
                "instance_config_map": INSTANCE_CONFIG_MAP,
                # No postgres_password_secret: it expects the chart's key `postgresql-password`;
                # the run container gets our Secret's keys as env vars below instead.
                "labels": {"app.kubernetes.io/part-of": PART_OF, LAYER: Layer.PIPELINE_JOBS.value,
                           OWNER: Owner.DATA_TEAM.value, **RUN_SELECTOR},
                "run_k8s_config": run_k8s_config(environment),
                "only_allow_user_defined_k8s_config_fields": USER_DEFINED_K8S_CONFIG,
                "only_allow_user_defined_env_vars": user_defined_env_vars(environment),
            },
        },
        "compute_logs": compute_log_config(environment),
        "run_monitoring": {"enabled": True},
        "telemetry": {"enabled": False},
    }


def user_defined_env_vars(environment: Environment) -> list[str]:
    """The variables a run's code location or tags may set: those the data products' code locations set.

    Others are dropped from the run (with a warning in the daemon's log), so a tag cannot add
    ``PYTHONPATH`` or ``LD_PRELOAD``; it can still give one of these names another value."""
    return sorted({variable.name for product in environment.data_products
                   for variable in product_env(environment, product)})


def compute_log_config(environment: Environment) -> Json:
    """Steps' stdout and stderr, uploaded to the object store while they run and read back by the UI.

    ``dagster_aws`` is in the pinned ``dagster/dagster-k8s`` image (its Dockerfile installs it); every
    product image must install it too, since the run process loads this instance. Credentials come
    from the standard ``AWS_*`` variables: a run's are its product's, the webserver's its own.
    """
    settings = environment.orchestrator.compute_logs
    store = object_store_of(environment)
    return {
        "module": "dagster_aws.s3.compute_log_manager",
        "class": "S3ComputeLogManager",
        "config": {
            "bucket": settings.bucket,
            "prefix": settings.prefix,
            "endpoint_url": store.endpoint,
            "use_ssl": store.use_ssl,
            "region": store.region,
            # Staged in DAGSTER_HOME, the writable scratch directory of every pod with an instance.
            "local_dir": f"{DAGSTER_HOME}/compute-logs",
            "upload_interval": settings.upload_interval_seconds,
            "skip_empty_files": True,
        },
    }


def compute_log_reader_env(environment: Environment) -> tuple[k8s.EnvVar, ...]:
    """The webserver's own object-store identity, with which it reads the logs back for the UI; and the CA of
    an external store's certificate, which boto3 trusts from ``AWS_CA_BUNDLE``."""
    secret = environment.orchestrator.compute_logs.credentials_secret
    store = object_store_of(environment)
    return (
        env.literal("AWS_REGION", store.region),
        *((env.literal("AWS_CA_BUNDLE", store.ca_file),) if store.ca_file else ()),
        env.from_secret("AWS_ACCESS_KEY_ID", secret, minio.USER_ACCESS_KEY),
        env.from_secret("AWS_SECRET_ACCESS_KEY", secret, minio.USER_SECRET_KEY),
    )


MIGRATION_SECTIONS = ("run_storage", "event_log_storage", "schedule_storage", "telemetry")
"""What ``dagster instance migrate`` needs: the storages it migrates. Loading the instance builds its
run launcher too (the K8sRunLauncher reads the in-cluster service-account token when built), and
the migration pod mounts no token: it never calls the Kubernetes API."""


def migration_instance_config(environment: Environment) -> Json:
    """The migration Job's dagster.yaml: the servers' own storage sections, and no run launcher.

    Without one Dagster builds its default launcher, which needs nothing; nothing here launches
    runs. The sections are copied from :func:`instance_config`, so both files name the same database.
    """
    config = instance_config(environment)
    return {section: config[section] for section in MIGRATION_SECTIONS}


VIEWER_SECTIONS = (*MIGRATION_SECTIONS, "compute_logs")


def viewer_instance_config(environment: Environment) -> Json:
    """The read-only webserver's dagster.yaml: the storage and compute logs it shows, nothing that launches.

    Without a run launcher or coordinator Dagster builds its defaults, which need no Kubernetes
    token; ``--read-only`` turns every mutation off besides. Copied from :func:`instance_config`."""
    config = instance_config(environment)
    return {section: config[section] for section in VIEWER_SECTIONS}


def run_k8s_config(environment: Environment) -> Json:
    """The run Job, rendered through the same container and pod policies as every workload.

    What every run needs: the instance's database, telemetry, the Job and pod policy. What a data
    product's runs need besides (its catalog, object-store and compute credentials, labels and
    resources) comes from its code location's container context (``floe.jobs.product_pod``),
    which the launcher merges over this; the resources here are the fallback it replaces."""
    database = database_of(environment, "dagster")
    run = Container(
        name="dagster",
        image=environment.release.images.dagster,
        resources=environment.resources(JOB_POLICY.resources_preset),
        env=database_env(database.credentials_secret) + (env.literal("HOME", "/tmp"),) + PRODUCT_CODE_ENV
        + otlp_env(environment, DAGSTER_RUN),
        scratch=(TMP, DAGSTER_HOME_SCRATCH),
        mounts=(*database.ca_mounts(), *trusted_cas(environment)[1]),
    )
    # Runs execute the product's code in the product's image, as its job templates do.
    pod = JOB_POLICY.pod(PodProps(containers=(run,), run_as=product_run_as(environment),
                                  volumes=(*database.ca_volumes(), *trusted_cas(environment)[0])))
    spec = k8s.KubePod.manifest(spec=pod_spec(pod, environment.jobs.service_account))["spec"]
    container = spec["containers"][0]
    return {
        "job_spec_config": JOB_POLICY.job_spec(environment.jobs.active_deadline_seconds),
        "container_config": {key: container[key] for key in ("env", "resources", "securityContext", "volumeMounts")},
        "pod_spec_config": {
            key: spec[key]
            for key in ("automountServiceAccountToken", "enableServiceLinks", "restartPolicy", "securityContext",
                        "volumes")
        },
    }


def workspace_config(environment: Environment) -> Json:
    return {
        "load_from": [
            {
                "grpc_server": {
                    "host": service_host(environment, code_location_name(product)),
                    "port": CODE_LOCATION_PORT,
                    "location_name": product.name,
                }
            }
            for product in environment.data_products
        ]
    }


def product_run_as(environment: Environment) -> RunAs:
    """The identity product images run as, in code locations and runs alike."""
    return RunAs(user=environment.jobs.run_as_user, group=environment.jobs.run_as_user)


def instance_volumes(environment: Environment, *extra: k8s.Volume) -> tuple[k8s.Volume, ...]:
    """The volumes of every pod with a Dagster instance: its config, extras, the database's CA."""
    return (INSTANCE_VOLUME, *extra, *database_of(environment, "dagster").ca_volumes())


def database_env(credentials_secret: str) -> tuple[k8s.EnvVar, ...]:
    """The env vars dagster.yaml reads the database credentials from."""
    return (
        env.from_secret(PG_USERNAME_ENV, credentials_secret, USERNAME_KEY),
        env.from_secret(PG_PASSWORD_ENV, credentials_secret, PASSWORD_KEY),
    )


def dagster_container(environment: Environment, name: str, image: str, resources: ResourceChoice,
                      command: tuple[str, ...], *, env_vars: tuple[k8s.EnvVar, ...] = (),
                      ports: tuple[Port, ...] = (), probes: Probes = Probes(), mounts: tuple[k8s.VolumeMount, ...] = (),
                      attributes: Mapping[str, str] | None = None) -> Container:
    """A container with the Dagster instance: DAGSTER_HOME, database credentials and telemetry (with the
    resource ``attributes`` given)."""
    return Container(
        name=name,
        image=image,
        resources=environment.resources(resources),
        command=command,
        env=database_env(database_of(environment, "dagster").credentials_secret)
        + (env.literal("DAGSTER_HOME", DAGSTER_HOME), env.literal("HOME", "/tmp")) + env_vars
        + otlp_env(environment, name, **(attributes or {})),
        ports=ports,
        probes=probes,
        scratch=(TMP, DAGSTER_HOME_SCRATCH),
        mounts=(INSTANCE_MOUNT, *mounts, *database_of(environment, "dagster").ca_mounts()),
    )


WORKSPACE_FLAG = ("-w", f"{WORKSPACE_DIR}/{WORKSPACE_FILE}")


def webserver_container(environment: Environment, name: str, resources: ResourceChoice, *flags: str) -> Container:
    """A webserver on the workspace, reading runs' logs back: the UI, or with ``--read-only`` the viewers' UI."""
    server_info = Probe.from_http_get("/server_info", "http")
    locations_loaded = ["python", "-c", LOCATIONS_LOADED, *(product.name for product in environment.data_products)]
    return dagster_container(
        environment, name, environment.release.images.dagster, resources,
        ("dagster-webserver", "-h", "0.0.0.0", "-p", str(WEBSERVER_PORT), *WORKSPACE_FLAG, *flags),
        env_vars=compute_log_reader_env(environment),
        ports=(Port("http", WEBSERVER_PORT),),
        probes=Probes(
            liveness=server_info.with_timing(LIVENESS),
            readiness=Probe.from_exec(locations_loaded, PYTHON_CHECK),
            startup=server_info.with_timing(STARTUP),
        ),
        mounts=(WORKSPACE_MOUNT, *object_store_of(environment).ca_mounts()),
    )


def render(scope: Scope, environment: Environment) -> None:
    namespace = environment.namespaces.platform
    image = environment.release.images.dagster
    web = environment.orchestrator.webserver
    instance_text = config_text(instance_config(environment))
    migration_text = config_text(migration_instance_config(environment))
    workspace_text = config_text(workspace_config(environment))
    viewer_text = config_text(viewer_instance_config(environment)) if web.viewer else None

    # Both in the PREPARE wave: the migration Job mounts the instance file before any server starts.
    config_map(scope, identity(INSTANCE_CONFIG_MAP, "config", image), INSTANCE_CONFIG_MAP, namespace,
               {INSTANCE_FILE: instance_text, MIGRATION_INSTANCE_FILE: migration_text,
                **({VIEWER_INSTANCE_FILE: viewer_text} if viewer_text else {})})
    config_map(scope, identity(WORKSPACE_CONFIG_MAP, "config", image), WORKSPACE_CONFIG_MAP, namespace,
               {WORKSPACE_FILE: workspace_text})
    _migration(scope, environment)

    both_files = {CHECKSUM_ANNOTATION: config_checksum(instance_text, workspace_text)}
    _webserver(scope, environment, both_files)
    if web.viewer and viewer_text:
        _viewer(scope, environment, web.viewer,
                {CHECKSUM_ANNOTATION: config_checksum(viewer_text, workspace_text)})
    _daemon(scope, environment, both_files)

    instance_file = {CHECKSUM_ANNOTATION: config_checksum(instance_text)}
    for product in environment.data_products:
        _code_location(scope, environment, product, instance_file)


def _migration(scope: Scope, environment: Environment) -> None:
    """The schema migration of the instance's database, before any server starts (the PREPARE wave).

    The daemon's resources: migrating imports the same Dagster libraries the daemon runs. Its
    dagster.yaml is the migration file (no run launcher), so it needs no service-account token."""
    image = environment.release.images.dagster
    migrate = dagster_container(environment, "dagster-migrate", image, environment.orchestrator.daemon.resources,
                                ("dagster", "instance", "migrate"))
    BootstrapJob(
        scope, "dagster-migrate",
        BootstrapProps(
            identity=identity("dagster-migrate", "migration", image),
            namespace=environment.namespaces.platform,
            step=Step.PREPARE,
            pod=PodProps(containers=(migrate,), run_as=RUN_AS,
                         volumes=(MIGRATION_INSTANCE_VOLUME, *database_of(environment, "dagster").ca_volumes())),
        ),
    )


def _webserver(scope: Scope, environment: Environment, pod_annotations: dict[str, str]) -> None:
    """The webserver: the UI and GraphQL API; terminating a run deletes its Job from here."""
    web = environment.orchestrator.webserver
    image = environment.release.images.dagster
    webserver = webserver_container(environment, WEBSERVER, web.resources)
    PlatformService(
        scope, WEBSERVER,
        ServiceProps(
            identity=identity(WEBSERVER, "webserver", image),
            namespace=environment.namespaces.platform,
            replicas=web.replicas,
            autoscaling=web.autoscaling,
            blue_green=web.blue_green,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            pod_annotations=pod_annotations,
            # Terminating a started run deletes its Job through the run launcher, from the webserver.
            pod=PodProps(containers=(webserver,), run_as=RUN_AS,
                         volumes=instance_volumes(environment, WORKSPACE_VOLUME,
                                                  *object_store_of(environment).ca_volumes()),
                         mount_service_account_token=True),
        ),
    )


def _viewer(scope: Scope, environment: Environment, settings: ViewerSettings,
            pod_annotations: dict[str, str]) -> None:
    """The read-only webserver: the UI without launching or terminating anything.

    No Ingress of its own: with one, the UI is reached through its login (floe.components.oauth2_proxy)."""
    image = environment.release.images.dagster
    viewer = webserver_container(environment, VIEWER, settings.resources, "--read-only")
    PlatformService(
        scope, VIEWER,
        ServiceProps(
            identity=identity(VIEWER, "webserver-viewer", image),
            namespace=environment.namespaces.platform,
            replicas=settings.replicas,
            autoscaling=settings.autoscaling,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            pod_annotations=pod_annotations,
            # No token, no run-terminator binding: it never calls the Kubernetes API.
            pod=PodProps(containers=(viewer,), run_as=RUN_AS,
                         volumes=(VIEWER_INSTANCE_VOLUME, WORKSPACE_VOLUME,
                                  *database_of(environment, "dagster").ca_volumes(),
                                  *object_store_of(environment).ca_volumes())),
        ),
    )


def _daemon(scope: Scope, environment: Environment, pod_annotations: dict[str, str]) -> None:
    """The daemon: schedules, sensors and the run queue; it launches every run as a Job."""
    image = environment.release.images.dagster
    daemon = dagster_container(
        environment, DAEMON, image, environment.orchestrator.daemon.resources,
        ("dagster-daemon", "run", *WORKSPACE_FLAG),
        env_vars=(env.literal("DAGSTER_DAEMON_HEARTBEAT_TOLERANCE", HEARTBEAT_TOLERANCE_SECONDS),),
        # `dagster-daemon liveness-check` fails once the daemons' heartbeats in the database are
        # older than the tolerance; the first heartbeats need a minute after a start.
        probes=Probes(liveness=Probe.from_exec(["dagster-daemon", "liveness-check"], DAEMON_LIVENESS)),
        mounts=(WORKSPACE_MOUNT,),
    )
    PlatformService(
        scope, DAEMON,
        ServiceProps(
            identity=identity(DAEMON, "daemon", image),
            namespace=environment.namespaces.platform,
            replicas=1,
            # Two daemons would both run the schedules and dequeue the same runs: never overlap them.
            recreate=True,
            pod_annotations=pod_annotations,
            # It creates the run Jobs through the Kubernetes API (RBAC in the jobs namespace).
            pod=PodProps(containers=(daemon,), run_as=RUN_AS, volumes=instance_volumes(environment, WORKSPACE_VOLUME),
                         mount_service_account_token=True),
        ),
    )


def _code_location(scope: Scope, environment: Environment, product: DataProduct,
                   pod_annotations: dict[str, str]) -> None:
    """A data product's code location: a gRPC server of its definitions, in the product's image."""
    grpc_health = Probe.from_exec(["dagster", "api", "grpc-health-check", "-p", str(CODE_LOCATION_PORT)])
    name = code_location_name(product)
    server = dagster_container(
        environment, name, product.image, environment.orchestrator.code_locations.resources,
        ("dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(CODE_LOCATION_PORT), "-m", product.module),
        # The server reports this image; the run launcher starts this location's runs in it,
        # with the product's pod (service account, labels, resources, env and Secrets) merged
        # into run_k8s_config from the container context the server reports with each run.
        env_vars=(env.literal("DAGSTER_CURRENT_IMAGE", product.image), container_context_env(environment, product),
                  *PRODUCT_CODE_ENV),
        ports=(Port("grpc", CODE_LOCATION_PORT),),
        probes=Probes(
            liveness=grpc_health.with_timing(PYTHON_LIVENESS),
            readiness=grpc_health.with_timing(PYTHON_CHECK),
            startup=grpc_health.with_timing(PYTHON_STARTUP),
        ),
        attributes={"floe.data_product": product.name},
    )
    PlatformService(
        scope, name,
        ServiceProps(
            identity=identity(name, "code-location", product.image),
            namespace=environment.namespaces.platform,
            pod_annotations=pod_annotations,
            pod=PodProps(containers=(server,), run_as=product_run_as(environment),
                         volumes=instance_volumes(environment)),
        ),
    )


def identity(instance: str, component: str, image: str) -> AppIdentity:
    return AppIdentity(name="dagster", instance=instance, component=component, version=image_tag(image),
                       tier=ORCHESTRATOR)
