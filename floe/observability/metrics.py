"""The metric names each exporter the platform scrapes exports, with where each list comes from.

Each scrape target carries one of these sets (:class:`floe.components.prometheus.ScrapeTarget`), and a
test checks that every metric an alert rule or a dashboard panel queries is in the set of a rendered
target: a query naming a metric nobody exports fails there, not on a blank panel. The sets hold at
least what the alerts and dashboards read, not each exporter's whole catalogue.

Not listed because they export no Prometheus metrics: the Dagster webserver and daemon (Dagster has no
metrics endpoint; their readiness, restarts and the run Jobs come from kube-state-metrics), the Cube
API (its server has none) and Cube Store (it only pushes StatsD over UDP, ``CUBESTORE_METRICS_FORMAT``
``statsd|dogstatsd``, ``rust/cubestore/cubestore/src/bin/cubestored.rs``).
"""

SCRAPE = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
"""Written by Prometheus for every target it scrapes (docs: "Jobs and instances", automatically generated
series)."""

PROMETHEUS = frozenset({
    # prometheus/prometheus: tsdb/head.go, config reload (cmd/prometheus/main.go), rules/manager.go.
    "prometheus_tsdb_head_series",
    "prometheus_config_last_reload_successful",
    "prometheus_rule_evaluation_failures_total",
})

OTEL_COLLECTOR = frozenset({
    # opentelemetry.io docs, "Internal telemetry", basic-level metrics; counters carry `_total` through the
    # Prometheus reader (the `_total` suffix section).
    *(f"otelcol_{kind}_{signal}_total"
      for kind in ("receiver_accepted", "receiver_refused", "exporter_sent", "exporter_send_failed",
                   "exporter_enqueue_failed")
      for signal in ("spans", "metric_points", "log_records")),
    "otelcol_exporter_queue_size",
    "otelcol_exporter_queue_capacity",
})

OTLP_METRICS: frozenset[str] = frozenset()
"""What workloads send over OTLP, re-exported by the collector: their own names, none the platform relies on."""

MINIO = frozenset({
    # minio/minio docs/metrics/prometheus/list.md, cluster metrics (/minio/v2/metrics/cluster).
    "minio_cluster_drive_offline_total",
    "minio_cluster_drive_online_total",
    "minio_cluster_nodes_online_total",
    "minio_cluster_nodes_offline_total",
    "minio_cluster_capacity_usable_total_bytes",
    "minio_cluster_capacity_usable_free_bytes",
    "minio_cluster_usage_total_bytes",
    "minio_cluster_usage_object_total",
    "minio_cluster_buckets_total",
    "minio_s3_requests_total",
    "minio_s3_requests_errors_total",
    "minio_s3_requests_5xx_errors_total",
    "minio_s3_traffic_received_bytes",
    "minio_s3_traffic_sent_bytes",
})

POLARIS = frozenset({
    # Quarkus Micrometer's Prometheus registry on the management port (/q/metrics): the HTTP server timer
    # (labels method, uri, status) and the JVM binders.
    "http_server_requests_seconds_count",
    "http_server_requests_seconds_sum",
    "jvm_memory_used_bytes",
    "jvm_memory_max_bytes",
})

POSTGRES_EXPORTER = frozenset({
    # prometheus-community/postgres_exporter v0.20: pg_up (the exporter's connection), the database and
    # stat_database collectors (default on), the settings collector (pg_settings_<name>).
    "pg_up",
    "pg_database_size_bytes",
    "pg_stat_database_numbackends",
    "pg_stat_database_xact_commit",
    "pg_stat_database_xact_rollback",
    "pg_stat_database_deadlocks",
    "pg_settings_max_connections",
})

GRAFANA = frozenset({
    # grafana/grafana pkg/middleware/request_metrics.go and pkg/infra/metrics (GET /metrics, on by default).
    "grafana_http_request_duration_seconds_count",
    "grafana_build_info",
})

KUBE_STATE_METRICS = frozenset({
    # kubernetes/kube-state-metrics docs/metrics: workload/pod-metrics.md, workload/job-metrics.md,
    # workload/cronjob-metrics.md, policy/resourcequota-metrics.md (the kinds its Roles let it read).
    "kube_pod_labels",
    "kube_pod_status_ready",
    "kube_pod_status_phase",
    "kube_pod_container_status_ready",
    "kube_pod_container_status_restarts_total",
    "kube_pod_container_resource_requests",
    "kube_pod_container_resource_limits",
    "kube_job_labels",
    "kube_job_owner",
    "kube_job_failed",
    "kube_job_complete",
    "kube_job_status_active",
    "kube_job_status_failed",
    "kube_job_status_succeeded",
    "kube_job_status_start_time",
    "kube_job_status_completion_time",
    "kube_cronjob_next_schedule_time",
    "kube_resourcequota",
})

KUBELET = frozenset({
    # The kubelet's /metrics (pkg/kubelet/metrics/collectors/volume_stats.go) and cAdvisor's
    # /metrics/cadvisor (container_* per container, labels namespace, pod, container).
    "kubelet_volume_stats_available_bytes",
    "kubelet_volume_stats_capacity_bytes",
    "kubelet_volume_stats_used_bytes",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
})
