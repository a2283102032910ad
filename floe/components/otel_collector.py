"""The OpenTelemetry Collector: the one OTLP endpoint of the platform.

Metrics leave through a Prometheus exporter that Prometheus scrapes; traces and logs go to the OTLP
backends the environment names, and to the ``debug`` exporter as its ``debug`` setting says (by
default only a signal with no backend, so an export is never refused). The contrib image runs as
UID/GID 10001 (opentelemetry-collector-releases, distributions/otelcol-contrib/Dockerfile) and
writes nothing, so the pod needs no volume besides its config.
"""


from floe.components.telemetry import COLLECTOR, OTLP_GRPC_PORT, OTLP_HTTP_PORT
from floe.config.environment import Environment
from floe.config.observability import LogsBackend, OtelCollectorSettings
from floe.config.releases import image_tag
from floe.config.resources import Resources
from floe.config.types import quantity_value
from floe.constructs import env
from floe.constructs.config_files import config_map, config_text
from floe.constructs.container import Container, Port
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import RunAs
from floe.constructs.service import PlatformService, ServiceProps
from floe.constructs.trust import TrustedCa, ca_mounts, ca_volumes
from floe.rendered import Json
from floe.tiers import OBSERVABILITY

CONFIG_DIR = "/conf"
CONFIG_FILE = "config.yaml"
TELEMETRY_PORT = 8888
"""The collector's own metrics."""
EXPORTER_PORT = 8889
"""Metrics received over OTLP, re-exposed for Prometheus."""
HEALTH_PORT = 13133
TRACES_CA_DIR = "/etc/floe/traces-ca"
"""Where the trace backend's CA Secret is mounted (``ca.crt``)."""
RUN_AS = RunAs(user=10001, group=10001)
HEADLESS = f"{COLLECTOR}-headless"
"""Resolves to every replica (``per_pod_dns``), so Prometheus scrapes each one rather than whichever
the Service picks."""
MEMORY_LIMIT_SHARE = 0.8
"""GOMEMLIMIT as a share of the container's memory limit: the Go GC works hard before the kernel kills."""


def go_memory_limit(resources: Resources) -> str:
    """GOMEMLIMIT in MiB, from the resolved memory limit."""
    mebibytes = int(quantity_value(resources.limits.memory) * MEMORY_LIMIT_SHARE) // 2**20
    return f"{mebibytes}MiB"


DEBUG_EXPORTER = "debug"
PROCESSORS = ["memory_limiter", "batch"]
"""Every pipeline's processors, in this order."""
LOGS_HEADER_ENV = "FLOE_LOGS_HEADER_{}"
"""Env var holding one header of the logs backend, read from its Secret and expanded by the collector."""


def _logs_exporter(logs: LogsBackend) -> tuple[str, Json]:
    """The logs backend's exporter id and settings; header values come from the pod's env, never from here."""
    headers = {name: f"${{env:{LOGS_HEADER_ENV.format(i)}}}" for i, name in enumerate(sorted(logs.headers))}
    config: Json
    if logs.protocol == "http":
        # `otlphttp` was renamed `otlp_http` in v0.144.0, as `otlp` became `otlp_grpc`; it appends /v1/logs.
        exporter, config = "otlp_http/logs", {"endpoint": logs.endpoint}
    else:
        exporter, config = "otlp_grpc/logs", {"endpoint": logs.endpoint, "tls": {"insecure": logs.insecure}}
    return exporter, config | ({"headers": headers} if headers else {})


def logs_header_env(settings: OtelCollectorSettings) -> tuple[k8s.EnvVar, ...]:
    """The logs backend's headers, each from its Secret key, under the names the config expands."""
    logs = settings.logs
    if logs is None:
        return ()
    return tuple(env.from_secret(LOGS_HEADER_ENV.format(i), logs.headers[name].secret, logs.headers[name].key)
                 for i, name in enumerate(sorted(logs.headers)))


def _traces_tls(settings: OtelCollectorSettings) -> Json:
    """The trace exporter's ``tls`` (the collector's configtls): plaintext only when the environment says so;
    else verified, against the mounted CA when there is one (``ca_file``), the system's roots otherwise."""
    if settings.traces_tls == "plaintext":
        return {"insecure": True}
    ca = _traces_ca(settings)
    return {"insecure": False, "ca_file": ca.file} if ca else {"insecure": False}


def _traces_ca(settings: OtelCollectorSettings) -> TrustedCa | None:
    tls = settings.traces_tls
    if tls == "plaintext" or tls.ca_secret is None or not settings.traces_endpoint:
        return None
    return TrustedCa(tls.ca_secret, "traces-ca", TRACES_CA_DIR)


def traces_ca(settings: OtelCollectorSettings) -> tuple[tuple[k8s.Volume, ...], tuple[k8s.VolumeMount, ...]]:
    """The trace backend's CA Secret as a volume and its mount (none without one)."""
    ca = _traces_ca(settings)
    return ca_volumes(ca), ca_mounts(ca)


def collector_config(settings: OtelCollectorSettings) -> Json:
    """Metrics to Prometheus; traces and logs to their backends, and to ``debug`` as ``settings.debug`` says."""
    exporters: dict[str, Json] = {"prometheus": {"endpoint": f"0.0.0.0:{EXPORTER_PORT}"}}
    signals: dict[str, list[str]] = {"traces": [], "logs": []}
    if settings.traces_endpoint:
        # `otlp` was renamed `otlp_grpc` in collector v0.144.0; the old name only logs deprecation warnings.
        exporters["otlp_grpc/traces"] = {"endpoint": settings.traces_endpoint, "tls": _traces_tls(settings)}
        signals["traces"].append("otlp_grpc/traces")
    if settings.logs:
        exporter, config = _logs_exporter(settings.logs)
        exporters[exporter] = config
        signals["logs"].append(exporter)
    for names in signals.values():
        # Unset debug: a signal without a backend is summarised rather than refused (the model refuses
        # debug: false without both backends, so no pipeline is ever left without an exporter).
        if settings.debug or (settings.debug is None and not names):
            names.append(DEBUG_EXPORTER)
    if any(DEBUG_EXPORTER in names for names in signals.values()):
        exporters[DEBUG_EXPORTER] = {"verbosity": "basic"}
    return {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}},
        # Recent collectors bind to localhost unless told otherwise: every endpoint is explicit.
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
                }
            }
        },
        "processors": {
            # First in every pipeline: refuse data before the process runs out of memory.
            "memory_limiter": {"check_interval": "5s", "limit_percentage": 80, "spike_limit_percentage": 25},
            "batch": {},
        },
        "exporters": exporters,
        "service": {
            "extensions": ["health_check"],
            "telemetry": {
                "metrics": {
                    # `readers` replaced the removed `address` setting.
                    "readers": [{"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "port": TELEMETRY_PORT}}}}]
                }
            },
            "pipelines": {
                "metrics": {"receivers": ["otlp"], "processors": list(PROCESSORS), "exporters": ["prometheus"]},
                **{signal: {"receivers": ["otlp"], "processors": list(PROCESSORS), "exporters": names}
                   for signal, names in signals.items()},
            },
        },
    }


def render(scope: Scope, environment: Environment) -> None:
    settings = environment.observability.otel_collector
    namespace = environment.namespaces.platform
    image = environment.release.images.otel_collector
    identity = AppIdentity(name="otel-collector", instance=COLLECTOR, component="telemetry-collector",
                           version=image_tag(image), tier=OBSERVABILITY)
    resources = environment.resources(settings.resources)
    text = config_text(collector_config(settings))
    config = config_map(scope, identity, f"{COLLECTOR}-config", namespace, {CONFIG_FILE: text})
    ca_volumes, ca_mounts = traces_ca(settings)
    container = Container(
        name="otel-collector",
        image=image,
        resources=resources,
        args=(f"--config={CONFIG_DIR}/{CONFIG_FILE}",),
        # No otlp_env: this is the OTLP endpoint itself; its own metrics are scraped on TELEMETRY_PORT.
        env=(env.literal("GOMEMLIMIT", go_memory_limit(resources)), *logs_header_env(settings)),
        ports=(
            Port("otlp-grpc", OTLP_GRPC_PORT),
            Port("otlp-http", OTLP_HTTP_PORT),
            Port("telemetry", TELEMETRY_PORT),
            Port("prometheus", EXPORTER_PORT),
            Port("health", HEALTH_PORT, expose=False),
        ),
        probes=Probes.http("health", "/", "/"),
        scratch=(),
        mounts=(config.mount(CONFIG_DIR), *ca_mounts),
    )
    PlatformService(
        scope, "otel-collector",
        ServiceProps(
            identity=identity,
            namespace=namespace,
            replicas=settings.replicas,
            autoscaling=settings.autoscaling,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            per_pod_dns=True,
            pod_annotations=config.annotations,
            pod=PodProps(
                containers=(container,),
                run_as=RUN_AS,
                volumes=(config.volume, *ca_volumes),
            ),
        ),
    )
