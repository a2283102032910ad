"""Prometheus alert rules: the platform's failure modes, declared as data and rendered into a rule file.

Each :class:`Alert` becomes one rule with a ``severity`` label and ``summary``, ``description`` and
``runbook_url`` annotations; the runbook URL points to the alert's section under "Alert runbooks" in
the README (relative to the repository holding ``dist/``). Label values (namespaces, scrape jobs,
container names) come from the constants the generator renders with.

The PromQL is what both Prometheus 2 and 3 accept: the image runs v3 while the rule tests run the
Debian package's ``promtool`` (v2.42), so the rules use no UTF-8 quoted names, no ``info()`` and no
v3-only functions, and every ``for``/range duration is a plain one.

Which scrape each alert reads (every one a job of :func:`floe.components.prometheus.scrape_targets`; a test
checks that each metric named here is exported by a rendered target):

* every target's ``up``: FloeTargetDown;
* the kubelets, federated from the cluster's Prometheus (``kubelet_volume_stats_*``): FloeVolumeFillingUp,
  FloeVolumeAlmostFull;
* kube-state-metrics (``kube_*``): FloeDagsterDaemonNotReady, FloeDagsterDaemonRestarting,
  FloePipelineJobFailed, FloeBootstrapJobFailed, FloeBackupJobFailed, FloeScheduledJobMissed;
* each in-cluster PostgreSQL's postgres_exporter sidecar (``pg_up``): FloePostgresDown;
* MinIO, the collector and Polaris: FloeMinioDriveOffline, FloeCollectorExportFailing,
  FloeCollectorRefusingData, FloePolarisErrorRate.
"""

from dataclasses import dataclass
from enum import StrEnum

from floe.components import dagster, minio, polaris
from floe.components.object_store import runs_minio
from floe.components.telemetry import COLLECTOR
from floe.config.environment import Environment
from floe.constructs.job_template import STARTING_DEADLINE_SECONDS
from floe.rendered import Json

GROUP = "floe-platform"
RUNBOOKS = "README.md"
FULL_WARNING = 0.80
FULL_CRITICAL = 0.95
POLARIS_ERROR_RATIO = 0.05


class Severity(StrEnum):
    CRITICAL = "critical"
    """Someone acts now: a service is down or data is at risk."""
    WARNING = "warning"
    """Someone looks today."""


@dataclass(frozen=True)
class Alert:
    """One alerting rule; the README's "Alert runbooks" has a section headed with its name."""

    name: str
    expr: str
    severity: Severity
    summary: str
    description: str
    duration: str | None = None
    """The rule's ``for``: how long the expression must hold before the alert fires (None: at once)."""

    @property
    def anchor(self) -> str:
        """The README heading's anchor: GitHub and GitLab lower-case a heading made of letters only."""
        return self.name.lower()

    def rule(self) -> Json:
        return {
            "alert": self.name,
            "expr": self.expr,
            **({"for": self.duration} if self.duration else {}),
            "labels": {"severity": self.severity.value},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": f"{RUNBOOKS}#{self.anchor}",
            },
        }


def _failed_jobs(namespace: str) -> str:
    """Jobs that gave up (their ``Failed`` condition): a failed pod the Job still retries is not one."""
    return (f'kube_job_status_failed{{namespace="{namespace}"}} > 0 '
            f'and on(namespace, job_name) (kube_job_failed{{condition="true", namespace="{namespace}"}} == 1)')


def _used_fraction(namespace: str) -> str:
    selector = f'{{namespace="{namespace}"}}'
    return f"1 - kubelet_volume_stats_available_bytes{selector} / kubelet_volume_stats_capacity_bytes{selector}"


def alerts(environment: Environment) -> tuple[Alert, ...]:
    """Every alert of the environment, in the rule file's order."""
    platform, jobs = environment.namespaces.platform, environment.namespaces.jobs
    return (*_targets_and_volumes(platform), *_orchestrator(platform, jobs), *_object_store(environment),
            *_collector_and_catalog(), *_platform_jobs(platform))


def _targets_and_volumes(platform: str) -> tuple[Alert, ...]:
    """Every target's ``up``, the kubelets' volume statistics and the PostgreSQL exporters' ``pg_up``."""
    return (
        Alert(
            "FloeTargetDown", "up == 0", Severity.WARNING,
            "A scrape target is down",
            "{{ $labels.job }} target {{ $labels.instance }} has not answered Prometheus' scrapes for 5 minutes.",
            "5m",
        ),
        Alert(
            "FloeVolumeFillingUp", f"{_used_fraction(platform)} > {FULL_WARNING}", Severity.WARNING,
            f"A volume is more than {FULL_WARNING:.0%} full",
            "{{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full.",
            "5m",
        ),
        Alert(
            "FloeVolumeAlmostFull", f"{_used_fraction(platform)} > {FULL_CRITICAL}", Severity.CRITICAL,
            f"A volume is more than {FULL_CRITICAL:.0%} full",
            "{{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is {{ $value | humanizePercentage }} full; "
            "its server stops writing when it is full.",
            "5m",
        ),
        Alert(
            "FloePostgresDown", "pg_up == 0", Severity.CRITICAL,
            "PostgreSQL does not accept connections",
            "The exporter at {{ $labels.instance }} cannot connect to its PostgreSQL server.",
            "2m",
        ),
    )


def _orchestrator(platform: str, jobs: str) -> tuple[Alert, ...]:
    """The Dagster daemon and the pipeline Jobs, from kube-state-metrics."""
    daemon = f'{{namespace="{platform}", container="{dagster.DAEMON}"}}'
    return (
        Alert(
            "FloeDagsterDaemonNotReady", f"kube_pod_container_status_ready{daemon} == 0", Severity.CRITICAL,
            "The Dagster daemon is not running",
            "{{ $labels.namespace }}/{{ $labels.pod }} has not been ready for 5 minutes: no schedule, sensor or "
            "queued run starts.",
            "5m",
        ),
        Alert(
            "FloeDagsterDaemonRestarting",
            f"increase(kube_pod_container_status_restarts_total{daemon}[30m]) >= 2", Severity.WARNING,
            "The Dagster daemon keeps restarting",
            "{{ $labels.namespace }}/{{ $labels.pod }} restarted at least twice in 30 minutes.",
        ),
        Alert(
            "FloePipelineJobFailed", _failed_jobs(jobs), Severity.WARNING,
            "A pipeline Job failed",
            "Job {{ $labels.namespace }}/{{ $labels.job_name }} failed and will not retry.",
        ),
        Alert(
            "FloeScheduledJobMissed",
            f'time() - kube_cronjob_next_schedule_time{{namespace=~"{jobs}|{platform}"}} > {STARTING_DEADLINE_SECONDS}',
            Severity.WARNING,
            "A scheduled Job did not start",
            "CronJob {{ $labels.namespace }}/{{ $labels.cronjob }} was due {{ $value | humanizeDuration }} ago and "
            "has not started its Job; past its starting deadline the run is skipped.",
        ),
    )


def _object_store(environment: Environment) -> tuple[Alert, ...]:
    """Only MinIO exports its drives' state; an external store's are its operator's to watch."""
    if not runs_minio(environment):
        return ()
    return (
        Alert(
            "FloeMinioDriveOffline",
            f'max by (job) (minio_cluster_drive_offline_total{{job="{minio.INSTANCE}"}}) > 0', Severity.CRITICAL,
            "MinIO drives are offline",
            "{{ $value }} MinIO drive(s) offline: the object store loses redundancy, then write quorum.",
            "5m",
        ),
    )


def _collector_and_catalog() -> tuple[Alert, ...]:
    """The OTLP collector's own metrics and Polaris' request counts."""
    polaris_requests = f'http_server_requests_seconds_count{{job="{polaris.INSTANCE}"'
    return (
        Alert(
            "FloeCollectorExportFailing",
            "sum by (job, instance, exporter) (rate({__name__=~"
            f'"otelcol_exporter_send_failed_(spans|metric_points|log_records)_total", job="{COLLECTOR}"}}[5m])) > 0',
            Severity.WARNING,
            "The OTLP collector fails to export",
            "Collector {{ $labels.instance }} fails to send through exporter {{ $labels.exporter }}: telemetry is "
            "being dropped.",
            "10m",
        ),
        Alert(
            "FloeCollectorRefusingData",
            "sum by (job, instance, receiver) (rate({__name__=~"
            f'"otelcol_receiver_refused_(spans|metric_points|log_records)_total", job="{COLLECTOR}"}}[5m])) > 0',
            Severity.WARNING,
            "The OTLP collector refuses telemetry",
            "Collector {{ $labels.instance }} refuses data on receiver {{ $labels.receiver }}: its senders drop it.",
            "10m",
        ),
        Alert(
            "FloePolarisErrorRate",
            f'sum by (job) (rate({polaris_requests}, status=~"5.."}}[5m])) '
            f"/ sum by (job) (rate({polaris_requests}}}[5m])) > {POLARIS_ERROR_RATIO}",
            Severity.WARNING,
            "Polaris answers with server errors",
            "{{ $value | humanizePercentage }} of Polaris' requests end in a 5xx status.",
            "10m",
        ),
    )


def _platform_jobs(platform: str) -> tuple[Alert, ...]:
    """The platform's own Jobs, from kube-state-metrics: a bootstrap or migration, or a backup (a CronJob's)."""
    cronjob_owned = 'on(namespace, job_name) kube_job_owner{owner_kind="CronJob"}'
    return (
        Alert(
            "FloeBootstrapJobFailed", f"{_failed_jobs(platform)} unless {cronjob_owned}", Severity.CRITICAL,
            "A bootstrap or migration Job failed",
            "Job {{ $labels.namespace }}/{{ $labels.job_name }} failed: its tier is not prepared and the sync "
            "does not go on.",
        ),
        Alert(
            "FloeBackupJobFailed", f"{_failed_jobs(platform)} and {cronjob_owned}", Severity.WARNING,
            "A database backup failed",
            "Backup Job {{ $labels.namespace }}/{{ $labels.job_name }} failed; the last good dumps are kept.",
        ),
    )


def rule_file(environment: Environment) -> Json:
    """The rule file Prometheus loads (``rule_files``)."""
    return {"groups": [{"name": GROUP, "rules": [alert.rule() for alert in alerts(environment)]}]}
