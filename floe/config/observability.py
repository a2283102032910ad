"""Settings of the observability tier: the OTLP collector, Prometheus and Grafana."""

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, model_validator

from floe.config.base import FieldError, StrictModel
from floe.config.common import Destination, Ingress, ReplicatedServiceSettings, ServiceSettings, Storage
from floe.config.types import DnsSubdomain

# Prometheus' own duration grammar (model.ParseDuration): units from largest to smallest, each at most once.
_DURATION = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_HOST_PORT = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:\d{1,5}$")
_BASE_URL = re.compile(r"^https?://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?(/[-._~a-zA-Z0-9/]*)?$")
_HEADER = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9]*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


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


def _base_url(value: str) -> str:
    if not _BASE_URL.match(value) or value.endswith("/v1/logs"):
        raise ValueError(
            f"{value!r} is not an OTLP/HTTP base URL: use http(s)://host[:port][/path] without /v1/logs "
            "(the collector appends it), such as http://loki-gateway.monitoring.svc.cluster.local/otlp"
        )
    return value


PrometheusDuration = Annotated[str, AfterValidator(_duration),
                               Field(json_schema_extra={"pattern": _DURATION.pattern})]
HostPort = Annotated[str, AfterValidator(_host_port), Field(json_schema_extra={"pattern": _HOST_PORT.pattern})]
BaseUrl = Annotated[str, AfterValidator(_base_url), Field(json_schema_extra={"pattern": _BASE_URL.pattern})]
HeaderName = Annotated[str, Field(pattern=_HEADER.pattern, max_length=100)]


class SecretValue(StrictModel):
    """A value read from one key of a Secret (never rendered, only referenced)."""

    secret: DnsSubdomain
    key: Annotated[str, Field(pattern=_SECRET_KEY.pattern, max_length=253)]


class LogsBackend(StrictModel):
    """Where the collector sends the logs workloads export over OTLP: any OTLP endpoint (Loki 3+, a vendor)."""

    endpoint: str
    """``http``: the base URL, to which the collector appends ``/v1/logs`` (Loki's native OTLP ingestion is
    ``http://<loki>/otlp``); ``grpc``: host:port without scheme."""
    protocol: Literal["http", "grpc"] = "http"
    """OTLP over HTTP (protobuf) or gRPC."""
    insecure: bool = True
    """gRPC only: send without TLS (a backend inside the cluster). Over HTTP the URL's scheme decides."""
    headers: dict[HeaderName, SecretValue] = {}
    """Headers sent with every export, each read from a Secret key (a vendor's API key, Loki's tenant)."""
    egress: tuple[Destination, ...] = ()
    """Where its pods are, for the NetworkPolicies: required unless the endpoint is a Service of the cluster
    (``<service>.<namespace>.svc...``) whose pods listen on the address's own port."""

    @model_validator(mode="after")
    def _endpoint_fits_protocol(self) -> Self:
        check = _base_url if self.protocol == "http" else _host_port
        try:
            check(self.endpoint)
        except ValueError as error:
            raise FieldError(("endpoint",), str(error)) from None
        if self.protocol == "http" and "insecure" in self.model_fields_set:
            raise FieldError(("insecure",), "insecure applies to gRPC only: over HTTP use an http:// endpoint")
        return self


def _plaintext(value: object) -> object:
    if value != "plaintext":
        raise ValueError(f"{value!r} is neither plaintext nor TLS settings: write plaintext (traces unencrypted), "
                         "{} (TLS verified against the system's roots) or {ca_secret: <Secret with ca.crt>}")
    return value


class TraceTls(StrictModel):
    """TLS to the trace backend, its certificate verified."""

    ca_secret: DnsSubdomain | None = None
    """Secret with key ``ca.crt``: the CA that signed the backend's certificate; unset: the system's roots."""


class OtelCollectorSettings(ReplicatedServiceSettings):
    """The OpenTelemetry Collector every workload sends OTLP to (a stateless Deployment)."""

    traces_endpoint: HostPort | None = None
    """OTLP/gRPC trace backend (Tempo, Jaeger) as host:port; unset logs a summary of each batch instead."""
    traces_egress: tuple[Destination, ...] = ()
    """Where the trace backend's pods are, for the NetworkPolicies: required unless ``traces_endpoint`` is a
    Service of the cluster (``<service>.<namespace>.svc...``) whose pods listen on the address's own port."""
    traces_tls: Annotated[
        Annotated[TraceTls, Tag("tls")]
        | Annotated[Literal["plaintext"], BeforeValidator(_plaintext), Tag("plaintext")],
        # A mapping is TLS settings, anything else must be `plaintext`: each mistake gets the message that fits.
        Discriminator(lambda value: "tls" if isinstance(value, dict | TraceTls) else "plaintext"),
    ] = TraceTls()
    """How traces travel to ``traces_endpoint``: TLS, the backend's certificate verified against ``ca_secret``'s CA
    or, without one, the system's roots (the default); ``plaintext`` sends them unencrypted, only ever by this
    explicit setting."""
    logs: LogsBackend | None = None
    """OTLP backend for the logs workloads export; unset logs a summary of each batch instead."""
    debug: bool | None = None
    """The ``debug`` exporter (a one-line summary of each batch in the collector's own output), for traces and
    logs alike. Unset: a signal with no backend goes there, so no export is ever refused. True: every signal also
    goes there (development). False: never; then ``traces_endpoint`` and ``logs`` are required."""

    @model_validator(mode="after")
    def _every_signal_has_an_exporter(self) -> Self:
        if self.debug is False:
            for field, value in (("traces_endpoint", self.traces_endpoint), ("logs", self.logs)):
                if value is None:
                    raise FieldError((field,), f"debug is false, so {field} must name a backend: "
                                               "without one the collector would refuse or drop what it receives")
        return self


class ScrapeAddress(StrictModel):
    """An exporter the cluster already runs, scraped over plain HTTP at ``/metrics``."""

    address: HostPort
    """host:port of its Service, such as kube-state-metrics.monitoring.svc.cluster.local:8080."""
    egress: tuple[Destination, ...] = ()
    """Where its pods are, for the NetworkPolicies: required unless the address is a Service of the cluster
    (``<service>.<namespace>.svc...``) whose pods listen on the address's own port."""


class KubeletMetrics(StrictModel):
    """The kubelets' metrics: cAdvisor's ``container_*`` and the volume stats ``kubelet_volume_stats_*``.

    Scraping each kubelet needs a ClusterRole on ``nodes/metrics``, which the platform never renders, so they are
    federated from the Prometheus the cluster's monitoring already runs (it must scrape the kubelets' ``/metrics``
    and ``/metrics/cadvisor``); only the platform's two namespaces are asked for."""

    federate: HostPort
    """host:port of that Prometheus, whose ``/federate`` is read, such as
    prometheus-k8s.monitoring.svc.cluster.local:9090."""
    egress: tuple[Destination, ...] = ()
    """Where its pods are, for the NetworkPolicies: required unless the address is a Service of the cluster
    (``<service>.<namespace>.svc...``) whose pods listen on the address's own port."""


class ClusterMetrics(StrictModel):
    """Where the cluster-level facts come from: pod readiness, restarts, requests and limits, Jobs, quotas
    (kube-state-metrics) and CPU, memory and volume usage (the kubelets)."""

    kube_state_metrics: Annotated[
        Annotated[Literal["render"], Tag("own-kube-state-metrics")]
        | Annotated[ScrapeAddress, Tag("cluster-kube-state-metrics")],
        # A mapping is an address, anything else must be `render`: each mistake gets the one message that fits.
        Discriminator(lambda value: "cluster-kube-state-metrics" if isinstance(value, dict | ScrapeAddress)
                      else "own-kube-state-metrics"),
    ] = "render"
    """``render``: the platform runs its own, limited by Roles to the kinds it reads in its two namespaces; or the
    ``address`` of the cluster's (it must export the ``app.kubernetes.io/instance`` and ``floe.dev/data-product``
    labels of pods and Jobs: ``--metric-labels-allowlist``)."""
    kubelet: KubeletMetrics | None = None
    """Unset: no CPU, memory or volume usage; the volume alerts and those panels stay empty."""


class PrometheusSettings(ServiceSettings):
    """Prometheus, scraping the platform's own services (a StatefulSet with one volume)."""

    storage: Storage = Storage(size="20Gi")
    """The TSDB volume."""
    retention_time: PrometheusDuration = "15d"
    """How long samples are kept (``--storage.tsdb.retention.time``); size the volume to match."""
    scrape_interval: PrometheusDuration = "30s"
    cluster_metrics: ClusterMetrics = ClusterMetrics()
    minio_token_secret: DnsSubdomain = "minio-metrics-token"
    """Secret with key ``token``: the bearer token MinIO's metrics ask for (``mc admin prometheus generate``)."""


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
