"""Settings of the observability tier: the OTLP collector, Prometheus and Grafana."""

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from floe.config.base import StrictModel
from floe.config.common import Ingress, ReplicatedServiceSettings, ServiceSettings, Storage
from floe.config.types import DnsSubdomain

# Prometheus' own duration grammar (model.ParseDuration): units from largest to smallest, each at most once.
_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_HOST_PORT = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:\d{1,5}$")


def _duration(value: str) -> str:
    if not value or not _DURATION.match(value) or not any(c.isdigit() and c != "0" for c in value):
        raise ValueError(
            f"{value!r} is not a Prometheus duration: use a positive number with units from largest to "
            "smallest, such as 15d, 12h, 30s or 1w2d"
        )
    return value


def _host_port(value: str) -> str:
    if not _HOST_PORT.match(value) or not 1 <= int(value.rsplit(":", 1)[1]) <= 65535:
        raise ValueError(f"{value!r} is not host:port (no scheme), such as tempo.tracing.svc.cluster.local:4317")
    return value


PrometheusDuration = Annotated[str, AfterValidator(_duration),
                               Field(json_schema_extra={"pattern": _DURATION.pattern})]
HostPort = Annotated[str, AfterValidator(_host_port), Field(json_schema_extra={"pattern": _HOST_PORT.pattern})]


class OtelCollectorSettings(ReplicatedServiceSettings):
    """The OpenTelemetry Collector every workload sends OTLP to (a stateless Deployment)."""

    traces_endpoint: HostPort | None = None
    """OTLP/gRPC trace backend (Tempo, Jaeger) as host:port; unset logs a summary of each batch instead."""
    traces_insecure: bool = True
    """Send traces without TLS (a backend inside the cluster); false verifies the backend's certificate."""


class PrometheusSettings(ServiceSettings):
    """Prometheus, scraping the platform's own services (a StatefulSet with one volume)."""

    storage: Storage = Storage(size="20Gi")
    """The TSDB volume."""
    retention_time: PrometheusDuration = "15d"
    """How long samples are kept (``--storage.tsdb.retention.time``); size the volume to match."""
    scrape_interval: PrometheusDuration = "30s"


class GrafanaSettings(ServiceSettings):
    """Grafana, with Prometheus provisioned as its data source (one replica on a persistent volume)."""

    enabled: bool = True
    """False leaves dashboards to a Grafana outside the platform (Prometheus still runs)."""
    storage: Storage = Storage(size="5Gi")
    """The volume at ``/var/lib/grafana``: the SQLite database, sessions and plugins."""
    admin_secret: DnsSubdomain = "grafana-admin-credentials"
    """Secret with keys ``admin-user`` and ``admin-password``; never rendered, only referenced."""
    ingress: Ingress | None = None
    """Expose the UI outside the cluster; unset keeps it reachable only in-cluster."""


class ObservabilitySettings(StrictModel):
    """The observability tier: metrics and traces of the platform itself."""

    otel_collector: OtelCollectorSettings = OtelCollectorSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    grafana: GrafanaSettings = GrafanaSettings()
