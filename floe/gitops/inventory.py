"""Facts about a rendered environment that the GitOps objects are derived from."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class GroupKind:
    group: str
    kind: str


def group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def kinds(objects: Iterable[Mapping], namespaced: bool) -> list[GroupKind]:
    """The distinct kinds rendered, namespaced or cluster-scoped, sorted."""
    return sorted({
        GroupKind(group_of(o["apiVersion"]), o["kind"])
        for o in objects if ("namespace" in o["metadata"]) == namespaced
    })


def autoscaled_targets(objects: Iterable[Mapping]) -> list[tuple[str, str, str, str]]:
    """(group, kind, namespace, name) of every workload whose replicas an autoscaler owns."""
    return sorted(
        (group_of(o["spec"]["scaleTargetRef"]["apiVersion"]), o["spec"]["scaleTargetRef"]["kind"],
         o["metadata"]["namespace"], o["spec"]["scaleTargetRef"]["name"])
        for o in objects if o["kind"] == "HorizontalPodAutoscaler"
    )
