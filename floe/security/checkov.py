"""The checkov checks the rendered workloads knowingly fail, each with its reason, in one list.

checkov (``checkov -d dist --framework kubernetes``) reads a skip from an object's own annotations,
``checkov.io/skip<N>: <check id>=<reason>``. Each exception here names the check, says why the
platform accepts it, and decides from the rendered object whether it applies, so an object that
stops failing a check (an environment that pins images by digest, say) also loses its skip. The
test suite runs checkov over ``dist/`` and expects no failed check and no skip that went unused.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from floe.rendered import LONG_LIVED_KINDS, Json, JsonView, pod_spec

SKIP_PREFIX = "checkov.io/skip"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
"""The workload kinds checkov's Kubernetes checks read (not Argo Rollouts)."""
HIGH_UID = 10000
"""checkov's CKV_K8S_40 wants UIDs at or above this, away from the host's own users."""


@dataclass(frozen=True)
class AcceptedFinding:
    check: str
    reason: str
    """Said on the object; checkov splits the annotation at ``=``, so a reason never contains one."""
    applies: Callable[[JsonView], bool]
    kinds: tuple[str, ...] = WORKLOADS


def _containers(obj: JsonView) -> list[JsonView]:
    spec = pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _secret_env(obj: JsonView) -> bool:
    return any("secretKeyRef" in (var.get("valueFrom") or {}) for c in _containers(obj) for var in c.get("env", []))


def _low_uid(obj: JsonView) -> bool:
    spec = pod_spec(obj)
    pod_user = spec.get("securityContext", {}).get("runAsUser")
    users = [c.get("securityContext", {}).get("runAsUser", pod_user) for c in spec["containers"]]
    return any(user is None or user < HIGH_UID for user in users)


ACCEPTED: tuple[AcceptedFinding, ...] = (
    AcceptedFinding(
        "CKV_K8S_43",
        "images are pinned by release tag in the release catalogue; a digest cannot be resolved offline "
        "when rendering, so the catalogue takes one where an operator supplies it",
        lambda obj: any("@sha256:" not in c["image"] for c in _containers(obj)),
    ),
    AcceptedFinding(
        "CKV_K8S_15",
        "release tags are never moved, so IfNotPresent pulls the same image as Always and pods still "
        "start while the registry is unreachable",
        lambda obj: any(c.get("imagePullPolicy") != "Always" for c in _containers(obj)),
    ),
    AcceptedFinding(
        "CKV_K8S_35",
        "the program reads these credentials from its environment as its image documents; they come "
        "from Secret references, never from the manifest, and only this container sees them",
        _secret_env,
    ),
    AcceptedFinding(
        "CKV_K8S_40",
        "runs as the user its image is built for (below UID 10000), which owns what the image ships "
        "and, for a stateful service, the data on its volume",
        _low_uid,
    ),
    AcceptedFinding(
        "CKV_K8S_9",
        "serves no traffic, so readiness would gate nothing; its liveness probe checks that it works",
        lambda obj: obj["kind"] in LONG_LIVED_KINDS
        and any("readinessProbe" not in c for c in pod_spec(obj)["containers"]),
    ),
    AcceptedFinding(
        "CKV_K8S_38",
        "calls the Kubernetes API with the rights of its Roles (floe/security/rbac.py, "
        "floe/components/kube_state_metrics.py)",
        lambda obj: pod_spec(obj).get("automountServiceAccountToken") is not False,
    ),
    AcceptedFinding(
        "CKV_K8S_158",
        "escalate is limited by name to the Roles its own Kustomization applies: Kubernetes refuses to "
        "let it write rights it does not hold, and those are the rights it hands its steps",
        lambda obj: any("escalate" in rule["verbs"] and rule.get("resourceNames") for rule in obj.get("rules", [])),
        kinds=("Role", "ClusterRole"),
    ),
)


def annotate(objects: Iterable[Json]) -> None:
    """Adds to every object a skip annotation for each accepted finding that applies to it."""
    for obj in objects:
        skips = [finding for finding in ACCEPTED if obj["kind"] in finding.kinds and finding.applies(obj)]
        if not skips:
            continue
        annotations = obj["metadata"].setdefault("annotations", {})
        for number, finding in enumerate(skips, start=1):
            annotations[f"{SKIP_PREFIX}{number}"] = f"{finding.check}={finding.reason}"
