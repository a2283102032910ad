"""Grafana: dashboards over Prometheus, which it gets as a provisioned data source.

One replica (its SQLite database lives on a ReadWriteOnce volume), run as the image's UID 472.
The image's default paths are kept: data on the volume, logs and temp files in emptyDirs,
provisioning read-only from ConfigMaps. The dashboards (:mod:`floe.observability.dashboards`) are
files too: one ConfigMap per layer, mounted as that layer's folder, which a dashboard provider file
under ``provisioning/dashboards`` names; a changed dashboard changes the pod's checksum and rolls it.
Grafana serves its own metrics at ``/metrics`` on its HTTP port, which Prometheus scrapes.
"""


from floe.components.telemetry import collector_endpoint, otlp_env, prometheus_url
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.constructs import env
from floe.constructs.config_files import CHECKSUM_ANNOTATION, ConfigFiles, config_checksum, config_map, config_text
from floe.constructs.container import Container, Port
from floe.constructs.ingress import ServiceIngress
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.constructs.service import PlatformService, ServiceProps
from floe.constructs.volumes import standalone_claim
from floe.observability.dashboards import DATASOURCE_UID, FOLDERS, dashboards
from floe.rendered import Json
from floe.tiers import OBSERVABILITY

INSTANCE = "grafana"
PORT = 3000
DATA_DIR = "/var/lib/grafana"
DATASOURCES_DIR = "/etc/grafana/provisioning/datasources"
DATASOURCES_FILE = "datasources.yaml"
PROVIDERS_DIR = "/etc/grafana/provisioning/dashboards"
PROVIDERS_FILE = "dashboards.yaml"
DASHBOARDS_DIR = "/etc/grafana/dashboards"
"""One folder per layer below it, each a ConfigMap of that layer's dashboards."""
CLAIM = f"{INSTANCE}-data"
RUN_AS = RunAs(user=472, group=472, fs_group=472)
ADMIN_USER_KEY = "admin-user"
ADMIN_PASSWORD_KEY = "admin-password"


def datasources(environment: Environment) -> Json:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": prometheus_url(environment),
                "isDefault": True,
                "editable": False,
            }
        ],
    }


def dashboard_providers() -> Json:
    """One file provider per layer: its folder in Grafana and the mounted ConfigMap it reads."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": layer.value,
                "folder": folder,
                "folderUid": f"floe-{layer.value}",
                "type": "file",
                # Provisioned from git: the UI may neither delete nor save over them.
                "disableDeletion": True,
                "allowUiUpdates": False,
                "options": {"path": f"{DASHBOARDS_DIR}/{layer.value}"},
            }
            for layer, folder in FOLDERS.items()
        ],
    }


def dashboard_files(environment: Environment) -> dict[str, dict[str, str]]:
    """Per layer (its ``Layer`` value), the dashboards' files: ``<uid>.json`` → JSON."""
    files: dict[str, dict[str, str]] = {layer.value: {} for layer in FOLDERS}
    for board in dashboards(environment):
        files[board.layer.value][board.file] = board.text()
    return files


def render(scope: Scope, environment: Environment) -> None:
    settings = environment.observability.grafana
    if not settings.enabled:
        return
    namespace = environment.namespaces.platform
    identity = AppIdentity(name="grafana", instance=INSTANCE, component="dashboards",
                           version=image_tag(environment.release.images.grafana), tier=OBSERVABILITY)
    provisioned = _provisioned_files(scope, environment, identity)
    standalone_claim(scope, identity, CLAIM, namespace, settings.storage)
    data = k8s.Volume(name="data", persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=CLAIM))
    PlatformService(
        scope, "grafana",
        ServiceProps(
            identity=identity,
            namespace=namespace,
            replicas=1,
            # The ReadWriteOnce volume can be attached to one pod at a time.
            recreate=True,
            # Any provisioned file rolls the pod: Grafana reads data sources only at start, and a rolled pod
            # shows a changed dashboard at once rather than after the kubelet refreshes the mounted ConfigMap.
            pod_annotations={CHECKSUM_ANNOTATION: config_checksum(*(text for files, _ in provisioned
                                                                     for text in files.files.values()))},
            pod=PodProps(containers=(_container(environment, provisioned),), run_as=RUN_AS,
                         volumes=(data, *(files.volume for files, _ in provisioned))),
        ),
    )
    if settings.ingress:
        ServiceIngress(scope, "grafana-ingress", identity=identity, namespace=namespace, settings=settings.ingress,
                       service=INSTANCE, port="http")


def _provisioned_files(scope: Scope, environment: Environment,
                       identity: AppIdentity) -> list[tuple[ConfigFiles, str]]:
    """The ConfigMaps Grafana provisions itself from at start, each its own volume, with where it is mounted:
    the data source, the dashboard providers, and one ConfigMap of dashboards per layer."""
    namespace = environment.namespaces.platform
    provisioned = [
        (config_map(scope, identity, f"{INSTANCE}-datasources", namespace,
                    {DATASOURCES_FILE: config_text(datasources(environment))}), DATASOURCES_DIR),
        (config_map(scope, identity, f"{INSTANCE}-dashboard-providers", namespace,
                    {PROVIDERS_FILE: config_text(dashboard_providers())}, "dashboard-providers"), PROVIDERS_DIR),
    ]
    provisioned += [(config_map(scope, identity, f"{INSTANCE}-dashboards-{layer}", namespace, files,
                                f"dashboards-{layer}"), f"{DASHBOARDS_DIR}/{layer}")
                    for layer, files in dashboard_files(environment).items()]
    return provisioned


def _container(environment: Environment, provisioned: list[tuple[ConfigFiles, str]]) -> Container:
    settings = environment.observability.grafana
    root_url: tuple[k8s.EnvVar, ...] = ()
    if settings.ingress:
        scheme = "https" if settings.ingress.tls_secret else "http"
        # Redirects and links in e-mails use it; Grafana cannot guess it behind a proxy.
        root_url = (env.literal("GF_SERVER_ROOT_URL", f"{scheme}://{settings.ingress.host}/"),)
    return Container(
        name="grafana",
        image=environment.release.images.grafana,
        resources=environment.resources(settings.resources),
        env=(
            env.from_secret("GF_SECURITY_ADMIN_USER", settings.admin_secret, ADMIN_USER_KEY),
            env.from_secret("GF_SECURITY_ADMIN_PASSWORD", settings.admin_secret, ADMIN_PASSWORD_KEY),
            # A platform service does not phone home.
            env.literal("GF_ANALYTICS_REPORTING_ENABLED", "false"),
            env.literal("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
            # [plugins] preinstall_disabled: Grafana 12+ otherwise downloads its preinstalled plugins
            # (Drilldown apps and more) from grafana.com at every start; the image's bundled ones stay.
            env.literal("GF_PLUGINS_PREINSTALL_DISABLED", "true"),
            # Grafana's exporter takes host:port over gRPC from its own setting, never from
            # OTEL_EXPORTER_OTLP_ENDPOINT; it does read OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
            # (pkg/infra/tracing: resource.WithFromEnv), so otlp_env still names its spans.
            env.literal("GF_TRACING_OPENTELEMETRY_OTLP_ADDRESS",
                        collector_endpoint(environment).removeprefix("http://")),
            env.literal("GF_TRACING_OPENTELEMETRY_OTLP_PROPAGATION", "w3c"),
        ) + root_url + otlp_env(environment, "grafana"),
        ports=(Port("http", PORT),),
        # Database migrations run before the first answer: allow a slow first start.
        probes=Probes.http("http", "/api/health", "/api/health", startup=True),
        scratch=(TMP, ScratchPath("/var/log/grafana", size_limit="1Gi")),
        mounts=(k8s.VolumeMount(name="data", mount_path=DATA_DIR), *(files.mount(path) for files, path in provisioned)),
    )
