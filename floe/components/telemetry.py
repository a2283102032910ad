"""OpenTelemetry settings every instrumented workload gets: where the collector is, who it is.

The collector's address is defined here once; services and jobs call :func:`otlp_env`.
"""

from floe.components.dns import service_host
from floe.config.environment import Environment
from floe.constructs import env
from floe.constructs.kube import k8s

COLLECTOR = "otel-collector"
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318


def collector_endpoint(environment: Environment) -> str:
    return f"http://{service_host(environment, COLLECTOR)}:{OTLP_GRPC_PORT}"


def otlp_env(environment: Environment, service_name: str, **attributes: str) -> tuple[k8s.EnvVar, ...]:
    """OTLP exporter settings; ``attributes`` join the standard resource attributes."""
    resource = {
        "deployment.environment.name": environment.name,
        "service.namespace": "floe",
        "k8s.pod.name": "$(K8S_POD_NAME)",
        "k8s.namespace.name": "$(K8S_NAMESPACE)",
        **attributes,
    }
    return (
        env.from_field("K8S_POD_NAME", "metadata.name"),
        env.from_field("K8S_NAMESPACE", "metadata.namespace"),
        env.literal("OTEL_EXPORTER_OTLP_ENDPOINT", collector_endpoint(environment)),
        env.literal("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        env.literal("OTEL_SERVICE_NAME", service_name),
        env.literal("OTEL_RESOURCE_ATTRIBUTES", ",".join(f"{k}={v}" for k, v in resource.items())),
    )
