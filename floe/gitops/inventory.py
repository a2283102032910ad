"""Facts about a rendered environment that the GitOps objects are derived from."""

from collections.abc import Iterable
from dataclasses import dataclass

from floe.rendered import JsonView


@dataclass(frozen=True, order=True)
class GroupKind:
    group: str
    kind: str
    namespaced: bool = True


EMITTABLE_KINDS: tuple[GroupKind, ...] = (
    GroupKind("", "Namespace", namespaced=False),
    GroupKind("", "ConfigMap"),
    GroupKind("", "LimitRange"),
    GroupKind("", "PersistentVolumeClaim"),
    GroupKind("", "ResourceQuota"),
    GroupKind("", "Service"),
    GroupKind("", "ServiceAccount"),
    GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", namespaced=False),
    GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", namespaced=False),
    GroupKind("apps", "Deployment"),
    GroupKind("apps", "StatefulSet"),
    GroupKind("argoproj.io", "Rollout"),
    GroupKind("autoscaling", "HorizontalPodAutoscaler"),
    GroupKind("batch", "CronJob"),
    GroupKind("batch", "Job"),
    GroupKind("cert-manager.io", "Certificate"),
    GroupKind("external-secrets.io", "ExternalSecret"),
    GroupKind("networking.k8s.io", "Ingress"),
    GroupKind("networking.k8s.io", "NetworkPolicy"),
    GroupKind("policy", "PodDisruptionBudget"),
    GroupKind("rbac.authorization.k8s.io", "Role"),
    GroupKind("rbac.authorization.k8s.io", "RoleBinding"),
)
"""Every kind the generator can emit under any environment setting, and its scope.

The Argo CD project's whitelists come from this list, never from the current render: a kind that
leaves the render (Grafana disabled: no PersistentVolumeClaim) must stay allowed, or Argo CD could
no longer prune or even show the objects of that kind still in the cluster; a kind added in the
same commit as its first object would race the project update. A test fails when a rendered kind is
missing here. Secrets are absent on purpose: none is ever rendered (the operator or an
ExternalSecret creates them), so Argo CD can neither change nor prune one."""


def group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def group_kind_of(obj: JsonView) -> GroupKind:
    return GroupKind(group_of(obj["apiVersion"]), obj["kind"], "namespace" in obj["metadata"])


def emittable_kinds(namespaced: bool) -> list[GroupKind]:
    return [k for k in EMITTABLE_KINDS if k.namespaced == namespaced]


def autoscaled_targets(objects: Iterable[JsonView]) -> list[tuple[str, str, str, str]]:
    """(group, kind, namespace, name) of every workload whose replicas an autoscaler owns."""
    return sorted(
        (group_of(o["spec"]["scaleTargetRef"]["apiVersion"]), o["spec"]["scaleTargetRef"]["kind"],
         o["metadata"]["namespace"], o["spec"]["scaleTargetRef"]["name"])
        for o in objects if o["kind"] == "HorizontalPodAutoscaler"
    )
