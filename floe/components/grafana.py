"""Grafana: dashboards over Prometheus, which it gets as a provisioned data source.

One replica (its SQLite database lives on a ReadWriteOnce volume), run as the image's UID 472.
The image's default paths are kept: data on the volume, logs and temp files in emptyDirs,
provisioning read-only from ConfigMaps.
"""

from constructs import Construct

from floe.components import prometheus
from floe.components.telemetry import collector_endpoint, otlp_env
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.constructs import env
from floe.constructs.config_files import config_map, config_text
from floe.constructs.container import Container, Port
from floe.constructs.ingress import ServiceIngress
from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.constructs.service import PlatformService, ServiceProps
from floe.constructs.volumes import standalone_claim
from floe.tiers import OBSERVABILITY

INSTANCE = "grafana"
PORT = 3000
DATA_DIR = "/var/lib/grafana"
DATASOURCES_DIR = "/etc/grafana/provisioning/datasources"
DATASOURCES_FILE = "datasources.yaml"
CLAIM = f"{INSTANCE}-data"
RUN_AS = RunAs(user=472, group=472, fs_group=472)
ADMIN_USER_KEY = "admin-user"
ADMIN_PASSWORD_KEY = "admin-password"


def datasources(environment: Environment) -> dict:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "type": "prometheus",
                "access": "proxy",
                "url": prometheus.url(environment),
                "isDefault": True,
                "editable": False,
            }
        ],
    }


def render(scope: Construct, environment: Environment) -> None:
    settings = environment.observability.grafana
    if not settings.enabled:
        return
    namespace = environment.namespaces.platform
    image = environment.release.images.grafana
    identity = AppIdentity(name="grafana", instance=INSTANCE, component="dashboards",
                           version=image_tag(image), tier=OBSERVABILITY)
    text = config_text(datasources(environment))
    config = config_map(scope, identity, f"{INSTANCE}-datasources", namespace, {DATASOURCES_FILE: text})
    standalone_claim(scope, identity, CLAIM, namespace, settings.storage)
    ingress = settings.ingress
    root_url = ()
    if ingress:
        scheme = "https" if ingress.tls_secret else "http"
        # Redirects and links in e-mails use it; Grafana cannot guess it behind a proxy.
        root_url = (env.literal("GF_SERVER_ROOT_URL", f"{scheme}://{ingress.host}/"),)
    container = Container(
        name="grafana",
        image=image,
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
        mounts=(k8s.VolumeMount(name="data", mount_path=DATA_DIR), config.mount(DATASOURCES_DIR)),
    )
    PlatformService(
        scope, "grafana",
        ServiceProps(
            identity=identity,
            namespace=namespace,
            replicas=1,
            # The ReadWriteOnce volume can be attached to one pod at a time.
            recreate=True,
            pod_annotations=config.annotations,
            pod=PodProps(
                containers=(container,),
                run_as=RUN_AS,
                volumes=(
                    k8s.Volume(name="data",
                               persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=CLAIM)),
                    config.volume,
                ),
            ),
        ),
    )
    if ingress:
        ServiceIngress(scope, "grafana-ingress", identity=identity, namespace=namespace, settings=ingress,
                       service=INSTANCE, port="http")
