"""The Layer-4 Job policy of ADR-0019, defined once.

Every pipeline run is a Kubernetes Job with this policy, whoever creates it: the orchestrator's
run launcher (``floe.components.dagster``) and the Job templates of each data product.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class JobPolicy:
    backoff_limit: int = 0
    """ADR-0019: fail fast, the orchestrator decides about retries."""
    ttl_seconds_after_finished: int = 3600
    """ADR-0019: a finished Job and its pod are cleaned up after an hour."""
    restart_policy: str = "Never"
    """A failed container is a failed run, never restarted in place."""
    resources_preset: str = "job-burst"
    """The resource preset of a run (ADR-0019 "Jobs (Burst)"); environments may redefine it."""

    def job_spec(self, active_deadline_seconds: int) -> dict[str, int]:
        """The policy's fields of a Job's ``spec``, as the Kubernetes API spells them; the deadline is
        the environment's (``jobs.active_deadline_seconds``)."""
        return {
            "backoffLimit": self.backoff_limit,
            "ttlSecondsAfterFinished": self.ttl_seconds_after_finished,
            "activeDeadlineSeconds": active_deadline_seconds,
        }


JOB_POLICY = JobPolicy()
