"""A pipeline job template (ADR-0019 Layer 4): a CronJob whose ``jobTemplate`` carries the Job policy.

A bare Job cannot be re-applied (its pod template is immutable) and would run at every sync, so
each template is a CronJob: suspended unless the environment gives it a schedule, and
instantiated on demand (``floe run``, ``kubectl create job --from=cronjob/<name>``).
"""

from dataclasses import dataclass

from floe.constructs.job_policy import JOB_POLICY
from floe.constructs.kube import Construct, Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import IGNORE_HEALTH, object_meta
from floe.constructs.pod import PodProps, pod_spec
from floe.tiers import Step

NEVER = "0 0 31 2 *"
"""February 31st: the schedule a suspended template keeps, so unsuspending it by hand starts nothing."""
STARTING_DEADLINE_SECONDS = 600
"""A run that could not start within this long after its time is skipped (the alert rules use it too)."""


@dataclass(frozen=True)
class JobTemplateProps:
    identity: AppIdentity
    name: str
    namespace: str
    pod: PodProps
    service_account: str
    active_deadline_seconds: int
    schedule: str | None = None
    """Cron schedule; None keeps the template suspended."""
    labels: dict[str, str] | None = None
    """Labels beyond the identity's, on the CronJob, its Jobs and their pods (product, job type)."""


class JobTemplate(Construct):
    def __init__(self, scope: Scope, id: str, props: JobTemplateProps) -> None:
        super().__init__(scope, id)
        labels = {**props.identity.labels, **(props.labels or {})}
        k8s.KubeCronJob(
            self, "template",
            # A failed run is the data team's concern, not the platform's health (Argo CD >= 3.2 marks a
            # CronJob whose last Job failed Degraded, which would turn the whole Application Degraded).
            metadata=object_meta(props.identity, props.name, props.namespace, Step.SERVE, labels=props.labels,
                                 annotations={IGNORE_HEALTH: "true"}),
            spec=k8s.CronJobSpec(
                schedule=props.schedule or NEVER,
                suspend=props.schedule is None,
                time_zone="Etc/UTC",
                # A run still going when the next is due: skip the new one, never run two at once.
                concurrency_policy="Forbid",
                starting_deadline_seconds=STARTING_DEADLINE_SECONDS,
                successful_jobs_history_limit=3,
                failed_jobs_history_limit=3,
                job_template=k8s.JobTemplateSpec(
                    metadata=k8s.ObjectMeta(labels=labels),
                    spec=JOB_POLICY.spec(
                        k8s.PodTemplateSpec(
                            metadata=k8s.ObjectMeta(labels=labels),
                            spec=pod_spec(JOB_POLICY.pod(props.pod), props.service_account),
                        ),
                        props.active_deadline_seconds,
                    ),
                ),
            ),
        )
