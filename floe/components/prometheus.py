"""Prometheus: scrapes the platform's own services and keeps the samples on its volume.

Runs as ``nobody`` (UID/GID 65534), as the image and the prometheus-community chart do. The
scrape targets are one declaration list (:data:`SCRAPE_TARGETS`) so the config and the tests
read the same facts. Prometheus exports traces only through a ``tracing`` block of its config
and ignores the ``OTEL_*`` variables, so it gets no ``otlp_env``.
"""

from dataclasses import dataclass

from constructs import Construct

from floe.components import minio, polaris
from floe.components.dns import service_host
from floe.components.otel_collector import EXPORTER_PORT, HEADLESS, TELEMETRY_PORT
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.constructs.config_files import config_map, config_text
from floe.constructs.container import Container, Port
from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import RunAs
from floe.constructs.service import PlatformService, ServiceProps, VolumeClaim, WorkloadKind
from floe.tiers import OBSERVABILITY

INSTANCE = "prometheus"
PORT = 9090
DATA_DIR = "/prometheus"
CONFIG_DIR = "/etc/config"
CONFIG_FILE = "prometheus.yml"
RUN_AS = RunAs(user=65534, group=65534, fs_group=65534)


@dataclass(frozen=True)
class ScrapeTarget:
    """One scrape job: a host in the platform namespace (or ``localhost``), its port and path."""

    job: str
    host: str
    port: int
    path: str = "/metrics"
    every_replica: bool = False
    """Resolve ``host`` (a headless Service) to each replica; otherwise scrape the address as one target."""


SCRAPE_TARGETS: tuple[ScrapeTarget, ...] = (
    ScrapeTarget("prometheus", "localhost", PORT),
    ScrapeTarget("otel-collector", HEADLESS, TELEMETRY_PORT, every_replica=True),
    # Each replica exports only the OTLP metrics it received itself.
    ScrapeTarget("otlp-metrics", HEADLESS, EXPORTER_PORT, every_replica=True),
    # Cluster-wide metrics: any one MinIO server answers for all of them.
    ScrapeTarget("minio", minio.INSTANCE, minio.API_PORT, "/minio/v2/metrics/cluster"),
    ScrapeTarget("polaris", f"{polaris.INSTANCE}-headless", polaris.MANAGEMENT_PORT, "/q/metrics", every_replica=True),
)


def url(environment: Environment) -> str:
    """The query API every consumer (Grafana) uses."""
    return f"http://{service_host(environment, INSTANCE)}:{PORT}"


def scrape_config(target: ScrapeTarget, environment: Environment) -> dict:
    address = target.host if target.host == "localhost" else service_host(environment, target.host)
    if target.every_replica:
        # DNS discovery needs no Kubernetes API access, unlike kubernetes_sd_configs.
        discovery = {"dns_sd_configs": [{"names": [address], "type": "A", "port": target.port}]}
    else:
        discovery = {"static_configs": [{"targets": [f"{address}:{target.port}"]}]}
    return {"job_name": target.job, "metrics_path": target.path, **discovery}


def prometheus_config(environment: Environment) -> dict:
    settings = environment.observability.prometheus
    return {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.scrape_interval,
            "external_labels": {"environment": environment.name},
        },
        "scrape_configs": [scrape_config(t, environment) for t in SCRAPE_TARGETS],
    }


def render(scope: Construct, environment: Environment) -> None:
    settings = environment.observability.prometheus
    namespace = environment.namespaces.platform
    image = environment.release.images.prometheus
    identity = AppIdentity(name="prometheus", instance=INSTANCE, component="metrics-store",
                           version=image_tag(image), tier=OBSERVABILITY)
    text = config_text(prometheus_config(environment))
    config = config_map(scope, identity, f"{INSTANCE}-config", namespace, {CONFIG_FILE: text})
    container = Container(
        name="prometheus",
        image=image,
        resources=environment.resources(settings.resources),
        # The image's entrypoint is the prometheus binary. The console flags are gone: v3 images
        # no longer ship the console files.
        args=(
            f"--config.file={CONFIG_DIR}/{CONFIG_FILE}",
            f"--storage.tsdb.path={DATA_DIR}",
            f"--storage.tsdb.retention.time={settings.retention_time}",
            # POST /-/reload applies a new config without a restart.
            "--web.enable-lifecycle",
        ),
        ports=(Port("http", PORT),),
        probes=Probes.http("http", "/-/healthy", "/-/ready", startup=True),
        mounts=(k8s.VolumeMount(name="data", mount_path=DATA_DIR), config.mount(CONFIG_DIR)),
    )
    PlatformService(
        scope, "prometheus",
        ServiceProps(
            identity=identity,
            namespace=namespace,
            kind=WorkloadKind.STATEFUL_SET,
            replicas=1,
            volume_claims=(VolumeClaim("data", settings.storage),),
            pod_annotations=config.annotations,
            pod=PodProps(
                containers=(container,),
                run_as=RUN_AS,
                volumes=(config.volume,),
                # Time to flush the head block; a killed Prometheus replays its WAL at the next start.
                termination_grace_period_seconds=300,
            ),
        ),
    )
