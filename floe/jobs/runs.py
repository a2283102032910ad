"""One run of a pipeline job template: the Job ``floe run`` creates from it, and what ``floe status`` says of it.

A run is a Job created from a product's job template (a CronJob in the jobs namespace) exactly as
``kubectl create job --from=cronjob/<template>`` does, plus a fresh run id on the Job and its pods.
"""

import copy
import re
import secrets
from collections.abc import Sequence
from datetime import datetime

from floe.errors import FloeError
from floe.jobs import RUN_ID_LABEL, RUN_ID_LENGTH, run_name
from floe.readiness import job_state, pod_problem, terminated_reason
from floe.rendered import Json, JsonView

INSTANTIATE = "cronjob.kubernetes.io/instantiate"
_RUN_ID = re.compile(rf"^[0-9a-f]{{{RUN_ID_LENGTH}}}$")


def new_run_id() -> str:
    return secrets.token_hex(RUN_ID_LENGTH // 2)


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise FloeError(f"{run_id!r} is not a run id: a run id is {RUN_ID_LENGTH} lowercase hex characters, "
                        "as `floe run` prints it")
    return run_id


def job_from_cronjob(cronjob: JsonView, run_id: str) -> Json:
    """The Job ``kubectl create job --from=cronjob/...`` creates, named and labelled with the run id.

    The job template's labels and annotations (plus ``cronjob.kubernetes.io/instantiate: manual``) and
    its spec, without ``suspend``; a controller ownerReference when the CronJob came from the cluster.
    """
    template = cronjob["spec"]["jobTemplate"]
    meta = template.get("metadata") or {}
    spec = copy.deepcopy(template["spec"])
    spec.pop("suspend", None)
    pod_meta = spec["template"].setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), RUN_ID_LABEL: run_id}
    owner = cronjob["metadata"]
    metadata = {
        "name": run_name(owner["name"], run_id),
        "namespace": owner["namespace"],
        "labels": {**(meta.get("labels") or {}), RUN_ID_LABEL: run_id},
        "annotations": {**(meta.get("annotations") or {}), INSTANTIATE: "manual"},
    }
    if owner.get("uid"):
        metadata["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": owner["name"],
                                        "uid": owner["uid"], "controller": True, "blockOwnerDeletion": True}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def duration(job: JsonView, now: datetime) -> str:
    """How long a run took (``4m05s``, ``1h02m03s``), or has taken until ``now``; ``-`` before it started."""
    status = job.get("status") or {}
    start = _time(status.get("startTime"))
    if not start:
        return "-"
    end = _time(status.get("completionTime")) or _ended(job) or now
    seconds = int((end - start).total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s" if seconds >= 3600 \
        else f"{seconds // 60}m{seconds % 60:02d}s"


def _ended(job: JsonView) -> datetime | None:
    failed = next((c for c in (job.get("status") or {}).get("conditions") or []
                   if c.get("type") == "Failed" and c.get("status") == "True"), None)
    return _time(failed.get("lastTransitionTime")) if failed else None


def exit_reason(job: JsonView, pods: Sequence[JsonView]) -> str:
    """Why a run ended: the pod's terminated state, else the Job's condition (deadline, backoff limit)."""
    state = job_state(job)
    if state == "Succeeded":
        return "Completed"
    if state != "Failed":
        return pod_problem(pods) or "-"
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated and terminated.get("exitCode", 0) != 0:
                return f"{container['name']}: {terminated_reason(terminated)}"
    failed: JsonView = next((c for c in (job.get("status") or {}).get("conditions") or []
                             if c.get("type") == "Failed"), {})
    return ": ".join(p for p in (failed.get("reason"), failed.get("message")) if p) or pod_problem(pods) or "failed"
