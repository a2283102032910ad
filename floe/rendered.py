"""Reading rendered objects back: which kinds run pods, and where a pod's template lives in each.

Capacity, the policy checks and the Secret inventory all read pods out of the rendered tree; this
is the one place that knows how a Deployment, a CronJob or a bare Pod nests its pod spec.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeAlias

Json: TypeAlias = dict[str, Any]
"""A rendered object, or a document inside one (a config file, a JSON schema): JSON-shaped nested dicts and
lists, read by key. ``Any`` because its shape is the Kubernetes API's or the component's, not Python's."""
JsonView: TypeAlias = Mapping[str, Any]
"""The same, read only: what the checks and reports that read rendered objects accept."""

ARGO_HOOK = "argocd.argoproj.io/hook"
"""The annotation that makes an object an Argo CD hook (a bootstrap Job: deleted and created again on each sync)."""

LONG_LIVED_KINDS = ("Deployment", "StatefulSet", "Rollout", "DaemonSet")
"""Kinds whose pods run until replaced: probed, and counted at their replicas."""
POD_KINDS = (*LONG_LIVED_KINDS, "Job", "CronJob", "Pod")


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (tuples become lists): mappings and lists anew, scalars shared. Several
    times faster than ``copy.deepcopy``, which keeps a memo for the cycles and shared parts JSON cannot have."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(item) for item in value]
    return value


def pod_template(obj: JsonView) -> JsonView:
    """The pod template (metadata and spec) of a workload; a bare Pod is its own template."""
    if obj["kind"] == "Pod":
        return obj
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: JsonView = spec["template"]
    return template


def pod_spec(obj: JsonView) -> JsonView:
    spec: JsonView = pod_template(obj)["spec"]
    return spec


def pod_specs(objects: Iterable[JsonView]) -> Iterator[tuple[JsonView, JsonView]]:
    """(object, pod spec) for every object that runs pods."""
    for obj in objects:
        if obj.get("kind") in POD_KINDS and obj.get("spec"):
            yield obj, pod_spec(obj)


def is_hook(obj: JsonView) -> bool:
    return ARGO_HOOK in (obj["metadata"].get("annotations") or {})
