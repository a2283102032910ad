"""Prometheus: scrapes every component that exports metrics and keeps the samples on its volume.

Runs as ``nobody`` (UID/GID 65534), as the image and the prometheus-community chart do. The scrape
targets of an environment are one declaration list (:func:`scrape_targets`) so the config and the tests
read the same facts; each job is named after the component's instance, which the alert rules
(:mod:`floe.components.alerts`, the ConfigMap's second file) select by. Each target in the platform
namespace names its registry component and port name: the same ``name:port`` the registry declares for
Prometheus (``depends_on``, or ``callers`` of a component that starts after it), from which the
NetworkPolicies admit it, so a test can prove no target is blocked. Cluster-level metrics come from
kube-state-metrics (the platform's own, or the cluster's) and from the kubelets through the cluster's
Prometheus (``/federate``); see :class:`floe.config.observability.ClusterMetrics`. Prometheus exports
traces only through a ``tracing`` block of its config and ignores the ``OTEL_*`` variables, so it gets
no ``otlp_env``.
"""

from dataclasses import dataclass

from floe.components import alerts, grafana, kube_state_metrics, minio, polaris, postgres
from floe.components.dns import service_host
from floe.components.object_store import runs_minio
from floe.components.otel_collector import EXPORTER_PORT, HEADLESS, TELEMETRY_PORT
from floe.components.telemetry import COLLECTOR, PROMETHEUS, PROMETHEUS_PORT
from floe.config.environment import Environment
from floe.config.observability import ScrapeAddress
from floe.config.releases import image_tag
from floe.config.storage import InClusterPostgres
from floe.constructs.certificate import IN_CLUSTER_CA_DIR, trusted_ca
from floe.constructs.config_files import config_map, config_text
from floe.constructs.container import Container, Port
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import RunAs
from floe.constructs.service import PlatformService, ServiceProps, VolumeClaim, WorkloadKind
from floe.constructs.trust import CA_CERT, ca_mounts, ca_volumes
from floe.observability import metrics
from floe.rendered import Json
from floe.tiers import OBSERVABILITY

INSTANCE = PROMETHEUS
PORT = PROMETHEUS_PORT
DATA_DIR = "/prometheus"
CONFIG_DIR = "/etc/config"
CONFIG_FILE = "prometheus.yml"
RULES_FILE = "alerts.yml"
CONFIG_MAP = f"{INSTANCE}-config"
RUN_AS = RunAs(user=65534, group=65534, fs_group=65534)
MINIO_TOKEN_DIR = "/etc/prometheus/secrets/minio"
MINIO_TOKEN_VOLUME = "minio-token"
KUBELET_JOB = "kubelet"


@dataclass(frozen=True)
class ScrapeTarget:
    """One scrape job: a host in the platform namespace (``localhost``, or an address outside it), its port and
    path, and the metric names its exporter exports."""

    job: str
    host: str
    port: int
    metrics: frozenset[str]
    path: str = "/metrics"
    every_replica: bool = False
    """Resolve ``host`` (a headless Service) to each replica; otherwise scrape the address as one target."""
    reaches: tuple[str, str] | None = None
    """(registry component, port name) of a target in the platform namespace, which its NetworkPolicy must admit
    Prometheus to; None for ``localhost`` and addresses outside the namespace."""
    token_file: str | None = None
    """Bearer token read from this file (a mounted Secret key) at every scrape."""
    params: tuple[tuple[str, str], ...] = ()
    honor_labels: bool = False
    """Keep the scraped series' own ``job`` and ``instance`` (federation)."""
    tls_name: str | None = None
    """The port serves TLS (in-cluster TLS): scraped over https, its certificate verified against the in-cluster
    CA and this name (the Service's, since a replica found by DNS is scraped at its address)."""

    @property
    def exported(self) -> frozenset[str]:
        """What the job's series are named: the exporter's metrics and the series Prometheus adds per target."""
        return self.metrics | metrics.SCRAPE

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _in_cluster_postgres(environment: Environment) -> tuple[str, ...]:
    settings = environment.storage.postgres
    return tuple(c for c in postgres.CONSUMERS if isinstance(getattr(settings, c), InClusterPostgres))


def _federated_match(environment: Environment) -> str:
    """The kubelet series federation asks for: the platform's namespaces only."""
    namespaces = environment.namespaces
    names = "|".join(sorted(metrics.KUBELET))
    return f'{{__name__=~"{names}", namespace=~"{namespaces.platform}|{namespaces.jobs}"}}'


def scrape_targets(environment: Environment) -> tuple[ScrapeTarget, ...]:
    """Every job of the environment's scrape config."""

    def host(name: str) -> str:
        return service_host(environment, name)

    cluster, tls = environment.observability.prometheus.cluster_metrics, environment.tls
    targets = [
        ScrapeTarget(INSTANCE, "localhost", PORT, metrics.PROMETHEUS),
        ScrapeTarget(COLLECTOR, host(HEADLESS), TELEMETRY_PORT, metrics.OTEL_COLLECTOR, every_replica=True,
                     reaches=(COLLECTOR, "telemetry")),
        # Each replica exports only the OTLP metrics it received itself.
        ScrapeTarget("otlp-metrics", host(HEADLESS), EXPORTER_PORT, metrics.OTLP_METRICS, every_replica=True,
                     reaches=(COLLECTOR, "prometheus")),
        # MinIO's own metrics; an external object store exports none to the platform.
        *((ScrapeTarget(minio.INSTANCE, host(minio.INSTANCE), minio.API_PORT, metrics.MINIO, minio.METRICS_PATH,
                        reaches=(minio.INSTANCE, "api"), token_file=f"{MINIO_TOKEN_DIR}/{minio.METRICS_TOKEN_KEY}",
                        tls_name=host(minio.INSTANCE) if tls else None),)
          if runs_minio(environment) else ()),
        ScrapeTarget(polaris.INSTANCE, host(f"{polaris.INSTANCE}-headless"), polaris.MANAGEMENT_PORT, metrics.POLARIS,
                     "/q/metrics", every_replica=True, reaches=(polaris.INSTANCE, "management"),
                     tls_name=host(f"{polaris.INSTANCE}-headless") if tls else None),
        *(ScrapeTarget(postgres.instance_name(c), host(postgres.instance_name(c)), postgres.METRICS_PORT,
                       metrics.POSTGRES_EXPORTER, reaches=(postgres.instance_name(c), "metrics"))
          for c in _in_cluster_postgres(environment)),
    ]
    if environment.observability.grafana.enabled:
        targets.append(ScrapeTarget(grafana.INSTANCE, host(grafana.INSTANCE), grafana.PORT, metrics.GRAFANA,
                                    reaches=(grafana.INSTANCE, "http")))
    if kube_state_metrics.renders(environment):
        targets.append(ScrapeTarget(kube_state_metrics.INSTANCE, host(kube_state_metrics.INSTANCE),
                                    kube_state_metrics.PORT, metrics.KUBE_STATE_METRICS,
                                    reaches=(kube_state_metrics.INSTANCE, "http-metrics")))
    else:
        assert isinstance(cluster.kube_state_metrics, ScrapeAddress)  # not "render": the cluster's own
        address, _, port = cluster.kube_state_metrics.address.rpartition(":")
        targets.append(ScrapeTarget(kube_state_metrics.INSTANCE, address, int(port), metrics.KUBE_STATE_METRICS))
    if cluster.kubelet:
        address, _, port = cluster.kubelet.federate.rpartition(":")
        targets.append(ScrapeTarget(KUBELET_JOB, address, int(port), metrics.KUBELET, "/federate",
                                    params=(("match[]", _federated_match(environment)),), honor_labels=True))
    return tuple(targets)


def notices(environment: Environment) -> tuple[str, ...]:
    """What a valid environment leaves Prometheus without, said by ``floe validate``."""
    if environment.observability.prometheus.cluster_metrics.kubelet:
        return ()
    return ("observability.prometheus.cluster_metrics.kubelet is not set: no CPU, memory or volume usage is collected, "
            "so the volume alerts never fire and the dashboards' usage panels stay empty",)


def scrape_config(target: ScrapeTarget) -> Json:
    if target.every_replica:
        # DNS discovery needs no Kubernetes API access, unlike kubernetes_sd_configs.
        discovery = {"dns_sd_configs": [{"names": [target.host], "type": "A", "port": target.port}]}
    else:
        discovery = {"static_configs": [{"targets": [target.address]}]}
    params: dict[str, list[str]] = {}
    for name, value in target.params:
        params.setdefault(name, []).append(value)
    return {
        "job_name": target.job,
        "metrics_path": target.path,
        **discovery,
        **({"authorization": {"credentials_file": target.token_file}} if target.token_file else {}),
        **({"params": params} if params else {}),
        **({"honor_labels": True} if target.honor_labels else {}),
        **({"scheme": "https", "tls_config": {"ca_file": f"{IN_CLUSTER_CA_DIR}/{CA_CERT}",
                                              "server_name": target.tls_name}} if target.tls_name else {}),
    }


def prometheus_config(environment: Environment) -> Json:
    settings = environment.observability.prometheus
    return {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.scrape_interval,
            "external_labels": {"environment": environment.name},
        },
        "rule_files": [f"{CONFIG_DIR}/{RULES_FILE}"],
        "scrape_configs": [scrape_config(t) for t in scrape_targets(environment)],
    }


def _minio_token(environment: Environment) -> tuple[k8s.Volume, ...]:
    """MinIO's metrics token, as a file Prometheus rereads at each scrape (a new token needs no restart);
    none without MinIO."""
    if not runs_minio(environment):
        return ()
    return (k8s.Volume(name=MINIO_TOKEN_VOLUME, secret=k8s.SecretVolumeSource(
        secret_name=environment.observability.prometheus.minio_token_secret,
        items=[k8s.KeyToPath(key=minio.METRICS_TOKEN_KEY, path=minio.METRICS_TOKEN_KEY)])),)


def render(scope: Scope, environment: Environment) -> None:
    settings = environment.observability.prometheus
    namespace = environment.namespaces.platform
    image = environment.release.images.prometheus
    identity = AppIdentity(name="prometheus", instance=INSTANCE, component="metrics-store",
                           version=image_tag(image), tier=OBSERVABILITY)
    # One ConfigMap for both files: its checksum rolls the pod when either changes.
    files = {CONFIG_FILE: config_text(prometheus_config(environment)),
             RULES_FILE: config_text(alerts.rule_file(environment))}
    config = config_map(scope, identity, CONFIG_MAP, namespace, files)
    tokens = _minio_token(environment)
    ca = trusted_ca(environment.tls)
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
        mounts=(k8s.VolumeMount(name="data", mount_path=DATA_DIR), config.mount(CONFIG_DIR),
                *(k8s.VolumeMount(name=v.name, mount_path=MINIO_TOKEN_DIR, read_only=True) for v in tokens),
                *ca_mounts(ca)),
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
                volumes=(config.volume, *tokens, *ca_volumes(ca)),
                # Time to flush the head block; a killed Prometheus replays its WAL at the next start.
                termination_grace_period_seconds=300,
            ),
        ),
    )
