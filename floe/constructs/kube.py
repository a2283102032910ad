"""The typed Kubernetes 1.32 API (``cdk8s_plus_32.k8s``) and cached bridge values.

``Quantity`` and ``IntOrString`` factories each cost a round trip to the jsii bridge; the same
few values recur in every manifest, so each is created once.
"""

import functools

import cdk8s
from cdk8s_plus_32 import k8s
from constructs import Construct

__all__ = ["k8s", "int_or_string", "plain_object", "quantity"]


@functools.cache
def quantity(value: str) -> k8s.Quantity:
    return k8s.Quantity.from_string(value)


@functools.cache
def int_or_string(value: int | str) -> k8s.IntOrString:
    if isinstance(value, int):
        return k8s.IntOrString.from_number(value)
    return k8s.IntOrString.from_string(value)


def plain_object(scope: Construct, id: str, manifest: dict) -> cdk8s.ApiObject:
    """An object rendered exactly as ``manifest`` says, for a manifest built with a typed binding's
    ``manifest()`` and then given a field the binding does not know.

    A typed object (``k8s.KubeStatefulSet``) passes its JSON through its props type on output,
    which drops such a field even when a JSON patch added it.
    """
    metadata = manifest["metadata"]
    obj = cdk8s.ApiObject(
        scope, id,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=cdk8s.ApiObjectMetadata(
            name=metadata["name"], namespace=metadata.get("namespace"),
            labels=metadata.get("labels"), annotations=metadata.get("annotations"),
        ),
    )
    for key in sorted(manifest.keys() - {"apiVersion", "kind", "metadata"}):
        obj.add_json_patch(cdk8s.JsonPatch.add(f"/{key}", manifest[key]))
    return obj
