"""Is a live object Ready, and if not, why: pure functions over objects as the API returns them."""

from collections.abc import Iterable
from dataclasses import dataclass

from floe.rendered import JsonView

READY, PROGRESSING, FAILED, MISSING, COMPLETE = "ready", "progressing", "failed", "missing", "complete"
WORKLOADS = ("Deployment", "StatefulSet", "Rollout", "Job")


@dataclass(frozen=True)
class Readiness:
    state: str
    desired: int | None = None
    ready: int | None = None
    reason: str = ""

    @property
    def done(self) -> bool:
        return self.state in (READY, COMPLETE)


def _condition(obj: JsonView, kind: str) -> JsonView | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def readiness(obj: JsonView | None) -> Readiness:
    """The rollout state of a Deployment, StatefulSet, Argo Rollout or Job; other kinds are ready once they exist."""
    if obj is None:
        return Readiness(MISSING, reason="not in the cluster")
    kind, spec, status = obj["kind"], obj.get("spec") or {}, obj.get("status") or {}
    if kind == "Job":
        return _job(obj)
    if kind not in ("Deployment", "StatefulSet", "Rollout"):
        return Readiness(READY)
    desired = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    if status.get("observedGeneration", 0) < (obj.get("metadata") or {}).get("generation", 0):
        return Readiness(PROGRESSING, desired, ready, "the controller has not yet seen the latest change")
    if kind == "Rollout":
        phase = status.get("phase", "")
        if phase == "Healthy":
            return Readiness(READY, desired, ready)
        state = FAILED if phase == "Degraded" else PROGRESSING
        return Readiness(state, desired, ready, f"{phase or 'Progressing'}: {status.get('message', '')}".strip(": "))
    progressing = _condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Readiness(FAILED, desired, ready, progressing.get("message", "progress deadline exceeded"))
    updated = status.get("updatedReplicas", 0)
    if kind == "StatefulSet" and status.get("currentRevision") != status.get("updateRevision"):
        updated = min(updated, ready)
        if updated < desired:
            return Readiness(PROGRESSING, desired, ready, f"{updated}/{desired} replicas updated")
    available = status.get("availableReplicas", 0)
    if ready >= desired and available >= desired and updated >= desired \
            and status.get("replicas", desired) <= desired:
        return Readiness(READY, desired, ready)
    if updated < desired:
        return Readiness(PROGRESSING, desired, ready, f"{updated}/{desired} replicas updated")
    unavailable = _condition(obj, "Available")
    reason = unavailable.get("message", "") if unavailable and unavailable.get("status") == "False" else ""
    return Readiness(PROGRESSING, desired, ready, reason or f"{ready}/{desired} replicas ready")


def _job(obj: JsonView) -> Readiness:
    status = obj.get("status") or {}
    for kind, state in (("Complete", COMPLETE), ("SuccessCriteriaMet", COMPLETE), ("Failed", FAILED)):
        condition = _condition(obj, kind)
        if condition and condition.get("status") == "True":
            reason = ": ".join(p for p in (condition.get("reason"), condition.get("message")) if p)
            return Readiness(state, 1, status.get("succeeded", 0), reason if state == FAILED else "")
    return Readiness(PROGRESSING, 1, status.get("succeeded", 0),
                     "running" if status.get("active") else "waiting for its pod")


def job_state(obj: JsonView) -> str:
    """A run's state in words: Succeeded, Failed, Running, Suspended or Pending."""
    result = _job(obj)
    if result.state == COMPLETE:
        return "Succeeded"
    if result.state == FAILED:
        return "Failed"
    if (obj.get("spec") or {}).get("suspend"):
        return "Suspended"
    return "Running" if (obj.get("status") or {}).get("active") else "Pending"


def pod_problem(pods: Iterable[JsonView]) -> str:
    """The first reason a pod is not Ready, from its containers' states (CrashLoopBackOff, OOMKilled, ...)."""
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            last = (container.get("lastState") or {}).get("terminated")
            if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
                detail = f"; last exit: {terminated_reason(last)}" if last else ""
                return f"{name}/{container['name']}: {waiting['reason']}: {waiting.get('message', '')}".rstrip(": ") \
                    + detail
            if terminated and terminated.get("exitCode", 0) != 0:
                return f"{name}/{container['name']}: {terminated_reason(terminated)}"
        scheduled = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        if scheduled and scheduled.get("status") == "False":
            return f"{name}: unschedulable: {scheduled.get('message', scheduled.get('reason', ''))}"
    return ""


def terminated_reason(terminated: JsonView) -> str:
    parts = [terminated.get("reason") or "Terminated", f"exit code {terminated.get('exitCode')}"]
    if terminated.get("message"):
        parts.append(terminated["message"].strip().splitlines()[-1])
    return ", ".join(parts)


def selector(obj: JsonView) -> str:
    """The label selector of a workload's pods (a Job's pods carry its name), or '' for other kinds."""
    if obj["kind"] == "Job":
        return f"batch.kubernetes.io/job-name={obj['metadata']['name']}"
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
