"""OpenTelemetry settings every instrumented workload gets: where the collector is, who it is.

The collector's address is defined here once; services and jobs call :func:`otlp_env`. Prometheus's query
address too (:func:`prometheus_url`), so Grafana reads it without importing Prometheus, which scrapes Grafana.

Logs over OTLP: of the programs the platform runs, none exports its own logs when told to by env vars.
Polaris' Quarkus fixes ``quarkus.otel.logs.enabled`` at build time and the image is built without it; the
Dagster webserver, daemon and ``dagster api grpc``, dbt, Soda, Cube, Cube Store and Grafana have no OTLP log
exporter. A data product's own Python code does when its image runs the OpenTelemetry SDK's env-var
configuration (``opentelemetry-instrument`` or its ``sitecustomize`` on ``PYTHONPATH``), which attaches a
logging handler only with ``OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED``; so the workloads that run
product code (code locations, the runs Dagster launches, job templates) get :data:`PRODUCT_LOGS_ENV`.
"""

from floe.components.dns import service_host
from floe.config.environment import Environment
from floe.constructs import env
from floe.constructs.kube import k8s

COLLECTOR = "otel-collector"
PROMETHEUS = "prometheus"
PROMETHEUS_PORT = 9090
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
PRODUCT_ATTRIBUTE = "floe.data_product"
"""The resource attribute of every workload running one data product's code."""
DAGSTER_RUN = "dagster-run"
"""The service name of the runs Dagster launches: product code in the product's image, for any product."""
PRODUCT_LOGS_ENV = (
    # The SDK's default, stated: the Python distro sets it only when opentelemetry-distro is installed.
    ("OTEL_LOGS_EXPORTER", "otlp"),
    # Without it the Python auto-instrumentation only correlates log records and exports none.
    ("OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED", "true"),
)


def collector_endpoint(environment: Environment) -> str:
    return f"http://{service_host(environment, COLLECTOR)}:{OTLP_GRPC_PORT}"


def prometheus_url(environment: Environment) -> str:
    """The query API every consumer (Grafana) uses."""
    return f"http://{service_host(environment, PROMETHEUS)}:{PROMETHEUS_PORT}"


def runs_product_code(service_name: str, attributes: dict[str, str]) -> bool:
    return PRODUCT_ATTRIBUTE in attributes or service_name == DAGSTER_RUN


def otlp_env(environment: Environment, service_name: str, **attributes: str) -> tuple[k8s.EnvVar, ...]:
    """OTLP exporter settings; ``attributes`` join the standard resource attributes.

    Workloads running product code also get :data:`PRODUCT_LOGS_ENV`; the others would ignore it.
    """
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
        *(env.literal(name, value) for name, value in
          (PRODUCT_LOGS_ENV if runs_product_code(service_name, attributes) else ())),
    )
