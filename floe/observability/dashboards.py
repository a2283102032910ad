"""Grafana dashboards, built with Grafana's typed Python builders (``grafana-foundation-sdk``) and provisioned
from ConfigMaps: one folder per layer, each dashboard one JSON file.

The SDK's build for "Grafana next" writes the classic dashboard JSON (``schemaVersion`` 41), which
Grafana 13 still loads and migrates on read. Every query names only metrics of a target Prometheus
scrapes (:mod:`floe.observability.metrics`, checked by a test), in the environment's namespaces; every
panel reads the provisioned Prometheus data source by its uid. Dagster exports no metrics: the orchestrator
dashboard shows what Kubernetes knows of it (kube-state-metrics) and says so.
"""

import json
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, text, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dashboard_model
from grafana_foundation_sdk.models.common import DataSourceRef
from grafana_foundation_sdk.models.dashboard import GridPos, VariableRefresh

from floe.components import dagster, minio, polaris
from floe.components.object_store import runs_minio
from floe.components.telemetry import COLLECTOR
from floe.config.environment import Environment
from floe.constructs.labels import Layer

DATASOURCE_UID = "prometheus"
"""The provisioned Prometheus data source's uid, which every panel names."""
DATASOURCE = DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
FOLDERS = {Layer.PLATFORM_SERVICES: "Platform services", Layer.PIPELINE_JOBS: "Pipeline jobs"}
"""Grafana folder of each layer's dashboards."""
COMPONENT = "label_app_kubernetes_io_instance"
PRODUCT = "label_floe_dev_data_product"
"""The pod and Job labels kube-state-metrics exports (``--metric-labels-allowlist``), as Prometheus names them."""
WIDTH = 24
"""Grafana's grid is 24 columns wide."""


@dataclass(frozen=True)
class Dashboard:
    """One provisioned dashboard: its layer (folder), file name and JSON."""

    layer: Layer
    uid: str
    model: dashboard_model.Dashboard

    @property
    def file(self) -> str:
        return f"{self.uid}.json"

    def text(self) -> str:
        return json.dumps(self.model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


class _Layout:
    """Places panels left to right, ``per_row`` to a row, in the order they are added."""

    def __init__(self, builder: dashboard.Dashboard, per_row: int = 2, height: int = 8) -> None:
        self.builder, self.per_row, self.height, self.count = builder, per_row, height, 0

    def add(self, panel: timeseries.Panel | stat.Panel | text.Panel) -> None:
        width = WIDTH // self.per_row
        x, y = (self.count % self.per_row) * width, (self.count // self.per_row) * self.height
        self.builder.with_panel(panel.grid_pos(GridPos(h=self.height, w=width, x=x, y=y)))
        self.count += 1


def _query(expr: str, legend: str, ref: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)


def _series(title: str, unit: str, *queries: tuple[str, str]) -> timeseries.Panel:
    """A time series panel of ``(expression, legend)`` queries."""
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE)
    for i, (expr, legend) in enumerate(queries):
        panel.with_target(_query(expr, legend, chr(ord("A") + i)))
    return panel


def _stat(title: str, unit: str, expr: str, legend: str) -> stat.Panel:
    return stat.Panel().title(title).unit(unit).datasource(DATASOURCE).with_target(_query(expr, legend, "A"))


def _new(uid: str, title: str, tags: tuple[str, ...]) -> dashboard.Dashboard:
    return (dashboard.Dashboard(title).uid(uid).tags(["floe", *tags]).readonly().refresh("1m")
            .time("now-6h", "now").timezone("utc"))


def _by_component(metric: str, namespace: str, extra: str = "") -> str:
    """``metric`` of each pod, summed per component (the pod's ``app.kubernetes.io/instance``)."""
    return (f"sum by ({COMPONENT}) ({metric} * on(namespace, pod) group_left({COMPONENT}) "
            f'kube_pod_labels{{namespace="{namespace}"{extra}}})')


def overview(environment: Environment) -> Dashboard:
    """Each component up and ready, its restarts, CPU and memory against requests and limits, volumes."""
    ns = environment.namespaces.platform
    pods = f'namespace="{ns}"'
    containers = f'{pods}, container!=""'
    cpu = f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{containers}}}[5m]))"
    memory = f"sum by (pod) (container_memory_working_set_bytes{{{containers}}})"
    builder = _new("floe-platform-overview", "Platform overview", ("platform-services",))
    layout = _Layout(builder)
    layout.add(_series("Scrape targets up", "short", ("sum by (job) (up)", "{{job}}")))
    ready = _by_component(f'kube_pod_status_ready{{{pods}, condition="true"}}', ns)
    layout.add(_series("Ready pods per component", "short", (ready, f"{{{{{COMPONENT}}}}}")))
    layout.add(_series("Container restarts (1h)", "short",
                       (f"sum by (pod) (increase(kube_pod_container_status_restarts_total{{{pods}}}[1h]))", "{{pod}}")))
    layout.add(_series("Volumes used", "percentunit",
                       (f"kubelet_volume_stats_used_bytes{{{pods}}} / kubelet_volume_stats_capacity_bytes{{{pods}}}",
                        "{{persistentvolumeclaim}}")))
    for name, resource, usage in (("CPU", "cpu", cpu), ("Memory", "memory", memory)):
        for bound in ("requests", "limits"):
            declared = f'sum by (pod) (kube_pod_container_resource_{bound}{{{pods}, resource="{resource}"}})'
            layout.add(_series(f"{name} used / {bound}", "percentunit", (f"{usage} / {declared}", "{{pod}}")))
    layout.add(_series("PostgreSQL connections / max", "percentunit",
                       ("sum by (job) (pg_stat_database_numbackends) "
                        "/ on(job) max by (job) (pg_settings_max_connections)", "{{job}}")))
    layout.add(_series("Collector export failures", "short",
                       ("sum by (exporter) (rate({__name__=~\"otelcol_exporter_send_failed_"
                        f'(spans|metric_points|log_records)_total", job="{COLLECTOR}"}}[5m]))', "{{exporter}}")))
    layout.add(_series("Prometheus head series", "short", ("prometheus_tsdb_head_series", "{{instance}}")))
    layout.add(_series("Grafana requests", "reqps",
                       ("sum by (status_code) (rate(grafana_http_request_duration_seconds_count[5m]))",
                        "{{status_code}}")))
    return Dashboard(Layer.PLATFORM_SERVICES, "floe-platform-overview", builder.build())


def orchestrator(environment: Environment) -> Dashboard:
    """Dagster as Kubernetes sees it: its pods, and the run Jobs in the jobs namespace by state."""
    platform, jobs = environment.namespaces.platform, environment.namespaces.jobs
    daemon = f'namespace="{platform}", container="{dagster.DAEMON}"'
    builder = _new("floe-orchestrator", "Orchestrator", ("platform-services", "dagster"))
    layout = _Layout(builder)
    layout.add(text.Panel().title("Where these numbers come from").content(
        "Dagster exports no Prometheus metrics: its run queue and the daemons' heartbeats live in its database. "
        "The daemon's liveness probe fails when the heartbeats are stale, so *daemon ready* stands for them; "
        "runs are the Jobs of the jobs namespace (kube-state-metrics), kept an hour after they finish."))
    layout.add(_series("Dagster pods ready", "short",
                       (_by_component(f'kube_pod_status_ready{{namespace="{platform}", condition="true"}}', platform,
                                      f', {COMPONENT}=~"dagster.*"'), f"{{{{{COMPONENT}}}}}")))
    layout.add(_stat("Daemon ready (heartbeats current)", "short",
                     f"max(kube_pod_container_status_ready{{{daemon}}})", "daemon"))
    layout.add(_series("Daemon restarts (1h)", "short",
                       (f"sum(increase(kube_pod_container_status_restarts_total{{{daemon}}}[1h]))", "restarts")))
    layout.add(_series("Runs by state", "short",
                       (f'sum(kube_job_status_active{{namespace="{jobs}"}})', "running"),
                       (f'sum(kube_job_complete{{namespace="{jobs}", condition="true"}})', "succeeded"),
                       (f'sum(kube_job_failed{{namespace="{jobs}", condition="true"}})', "failed")))
    layout.add(_series("Runs waiting for a node or the quota", "short",
                       (f'sum(kube_pod_status_phase{{namespace="{jobs}", phase="Pending"}})', "pending pods")))
    return Dashboard(Layer.PLATFORM_SERVICES, "floe-orchestrator", builder.build())


def object_store(environment: Environment) -> Dashboard:
    """MinIO's own cluster metrics."""
    job = f'job="{minio.INSTANCE}"'
    builder = _new("floe-object-store", "Object store (MinIO)", ("platform-services", "minio"))
    layout = _Layout(builder)
    layout.add(_series("Drives", "short", (f"max(minio_cluster_drive_online_total{{{job}}})", "online"),
                       (f"max(minio_cluster_drive_offline_total{{{job}}})", "offline")))
    layout.add(_series("Servers", "short", (f"max(minio_cluster_nodes_online_total{{{job}}})", "online"),
                       (f"max(minio_cluster_nodes_offline_total{{{job}}})", "offline")))
    layout.add(_series("Usable capacity", "bytes",
                       (f"max(minio_cluster_capacity_usable_total_bytes{{{job}}})", "total"),
                       (f"max(minio_cluster_capacity_usable_free_bytes{{{job}}})", "free"),
                       (f"max(minio_cluster_usage_total_bytes{{{job}}})", "used by objects")))
    layout.add(_series("Objects and buckets", "short", (f"max(minio_cluster_usage_object_total{{{job}}})", "objects"),
                       (f"max(minio_cluster_buckets_total{{{job}}})", "buckets")))
    layout.add(_series("S3 requests", "reqps", (f"sum(rate(minio_s3_requests_total{{{job}}}[5m]))", "all"),
                       (f"sum(rate(minio_s3_requests_errors_total{{{job}}}[5m]))", "errors"),
                       (f"sum(rate(minio_s3_requests_5xx_errors_total{{{job}}}[5m]))", "5xx")))
    layout.add(_series("S3 traffic", "Bps", (f"sum(rate(minio_s3_traffic_received_bytes{{{job}}}[5m]))", "received"),
                       (f"sum(rate(minio_s3_traffic_sent_bytes{{{job}}}[5m]))", "sent")))
    return Dashboard(Layer.PLATFORM_SERVICES, "floe-object-store", builder.build())


def catalog(environment: Environment) -> Dashboard:
    """Polaris' requests, latency and memory, and its database."""
    requests = f'http_server_requests_seconds_count{{job="{polaris.INSTANCE}"'
    builder = _new("floe-catalog", "Catalog (Polaris)", ("platform-services", "polaris"))
    layout = _Layout(builder)
    layout.add(_series("Requests by status", "reqps", (f"sum by (status) (rate({requests}}}[5m]))", "{{status}}")))
    layout.add(_series("Server errors", "percentunit",
                       (f'sum(rate({requests}, status=~"5.."}}[5m])) / sum(rate({requests}}}[5m]))', "5xx share")))
    layout.add(_series("Mean request time", "s",
                       (f'sum(rate(http_server_requests_seconds_sum{{job="{polaris.INSTANCE}"}}[5m])) '
                        f"/ sum(rate({requests}}}[5m]))", "mean")))
    layout.add(_series("Heap used / max", "percentunit",
                       (f'sum by (instance) (jvm_memory_used_bytes{{job="{polaris.INSTANCE}", area="heap"}}) / '
                        f'sum by (instance) (jvm_memory_max_bytes{{job="{polaris.INSTANCE}", area="heap"}})',
                        "{{instance}}")))
    layout.add(_series("Catalog database up", "short",
                       ('pg_up{job="postgres-polaris"}', "postgres-polaris")))
    return Dashboard(Layer.PLATFORM_SERVICES, "floe-catalog", builder.build())


def pipeline_jobs(environment: Environment) -> Dashboard:
    """Per data product: runs, failures, durations, and burst resource use against the jobs quota."""
    ns = environment.namespaces.jobs
    jobs = f'namespace="{ns}"'
    by_product = f'on(namespace, job_name) group_left({PRODUCT}) kube_job_labels{{{jobs}, {PRODUCT}=~"$product"}}'
    pod_product = f'on(namespace, pod) group_left({PRODUCT}) kube_pod_labels{{{jobs}, {PRODUCT}=~"$product"}}'
    builder = _new("floe-pipeline-jobs", "Pipeline jobs", ("pipeline-jobs",))
    builder.with_variable(
        dashboard.QueryVariable("product").label("Data product").datasource(DATASOURCE)
        .query(f"label_values(kube_job_labels{{{jobs}}}, {PRODUCT})").multi(True).include_all(True)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED))
    layout = _Layout(builder)
    layout.add(_series("Runs (Jobs kept: the last hour)", "short",
                       (f"count by ({PRODUCT}) (kube_job_status_start_time{{{jobs}}} * {by_product})",
                        f"{{{{{PRODUCT}}}}}")))
    layout.add(_series("Failed runs", "short",
                       (f'sum by ({PRODUCT}) (kube_job_failed{{{jobs}, condition="true"}} * {by_product})',
                        f"{{{{{PRODUCT}}}}}")))
    layout.add(_series("Run duration", "s",
                       (f"(kube_job_status_completion_time{{{jobs}}} - kube_job_status_start_time{{{jobs}}}) "
                        f"* {by_product}", "{{job_name}}")))
    layout.add(_series("CPU used by runs", "short",
                       (f"sum by ({PRODUCT}) (rate(container_cpu_usage_seconds_total{{{jobs}, container!=\"\"}}[5m])"
                        f" * {pod_product})", f"{{{{{PRODUCT}}}}}")))
    layout.add(_series("Memory used by runs", "bytes",
                       (f"sum by ({PRODUCT}) (container_memory_working_set_bytes{{{jobs}, container!=\"\"}}"
                        f" * {pod_product})", f"{{{{{PRODUCT}}}}}")))
    layout.add(_series("Jobs quota used", "percentunit",
                       (f'kube_resourcequota{{{jobs}, type="used"}} / ignoring(type) '
                        f'kube_resourcequota{{{jobs}, type="hard"}}', "{{resource}}")))
    return Dashboard(Layer.PIPELINE_JOBS, "floe-pipeline-jobs", builder.build())


def dashboards(environment: Environment) -> tuple[Dashboard, ...]:
    """Every dashboard of the environment; the object store's shows MinIO's metrics, which an external store
    does not export to the platform."""
    minio_only = (object_store,) if runs_minio(environment) else ()
    return tuple(make(environment) for make in (overview, orchestrator, *minio_only, catalog, pipeline_jobs))
