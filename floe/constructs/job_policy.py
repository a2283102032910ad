"""The Layer-4 Job policy of ADR-0019, defined once.

Every pipeline run is a Kubernetes Job with this policy, whoever creates it: the orchestrator's
run launcher (``floe.components.dagster``) and the Job templates of each data product.
"""

from dataclasses import dataclass

from floe.config.resources import JOB_BURST
from floe.constructs.kube import k8s
from floe.constructs.pod import PodProps, restarted


@dataclass(frozen=True)
class JobPolicy:
    backoff_limit: int = 0
    """ADR-0019: fail fast, the orchestrator decides about retries."""
    ttl_seconds_after_finished: int = 3600
    """ADR-0019: a finished Job and its pod are cleaned up after an hour."""
    restart_policy: str = "Never"
    """A failed container is a failed run, never restarted in place."""
    resources_preset: str = JOB_BURST
    """The resource preset of a run (ADR-0019 "Jobs (Burst)"); environments may redefine it."""

    def pod(self, props: PodProps) -> PodProps:
        """The pod of a run: never restarted in place."""
        return restarted(props, self.restart_policy)

    def spec(self, template: k8s.PodTemplateSpec, active_deadline_seconds: int) -> k8s.JobSpec:
        """The ``spec`` of a run's Job (a job template's, in a CronJob): the policy, the environment's deadline
        (``jobs.active_deadline_seconds``) and the pod ``template`` (its pod made by :meth:`pod`)."""
        return k8s.JobSpec(
            backoff_limit=self.backoff_limit,
            ttl_seconds_after_finished=self.ttl_seconds_after_finished,
            active_deadline_seconds=active_deadline_seconds,
            template=template,
        )

    def job_spec(self, active_deadline_seconds: int) -> dict[str, int]:
        """The policy's fields of a Job's ``spec``, as the Kubernetes API spells them, for a launcher that makes
        the Job itself (Dagster's run launcher); the deadline is the environment's."""
        return {
            "backoffLimit": self.backoff_limit,
            "ttlSecondsAfterFinished": self.ttl_seconds_after_finished,
            "activeDeadlineSeconds": active_deadline_seconds,
        }


JOB_POLICY = JobPolicy()
