"""The schema facts that server-side apply and its diff depend on, read from the published OpenAPI.

Built-in kinds use Kubernetes' own OpenAPI (the definitions shipped by the pinned
``kubernetes-validate`` package, the same schemas ``floe validate`` uses); custom resources use the
vendored CRDs of ``floe/crds``. From them:

* how a list merges (sigs.k8s.io/structured-merge-diff, as converted by kube-openapi's
  ``schemaconv``): ``x-kubernetes-list-type: map`` merges item by item on
  ``x-kubernetes-list-map-keys``, ``set`` merges values, ``atomic`` is replaced whole; without a
  list type, ``x-kubernetes-patch-strategy: merge`` with a ``patch-merge-key`` is a map keyed by it,
  and anything else is atomic. ``StatefulSetSpec.volumeClaimTemplates`` is
  ``x-kubernetes-list-type: atomic``, so an applied claim template replaces the live one whole.
* which fields are a ``resource.Quantity`` (``$ref`` to ``io.k8s.apimachinery.pkg.api.resource.Quantity``),
  the fields the API server re-serialises in canonical form. CRD schemas have no Quantity type
  (``x-kubernetes-int-or-string``), so a custom resource keeps the text it was given.
"""

import functools
import json

from floe.rendered import copy_json
from floe.validation import crd_schemas, schema_dir
from tests.engines.quantity import canonical

KUBERNETES_VERSION = "v1.35.0"  # the newest version floe validates against (README, "Kubernetes versions")
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
KEY_DEFAULTS = {"protocol": "TCP"}
"""A list-map key the server defaults (ServicePort, ContainerPort): SSA matches on the defaulted value."""


@functools.cache
def _definitions() -> dict:
    path = schema_dir() / f"{KUBERNETES_VERSION}-local" / "_definitions.json"
    return json.loads(path.read_text())["$defs"]


@functools.cache
def _builtin_kinds() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) → definition name, from each definition's x-kubernetes-group-version-kind."""
    kinds = {}
    for name, definition in _definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            kinds[(api_version, gvk["kind"])] = name
    return kinds


def is_builtin(obj: dict) -> bool:
    return (obj["apiVersion"], obj["kind"]) in _builtin_kinds()


def schema_of(obj: dict) -> dict:
    """The object's schema node: a built-in definition, else its CRD's, else an empty (atomic-list) schema."""
    name = _builtin_kinds().get((obj["apiVersion"], obj["kind"]))
    if name:
        return {"$ref": f"#/$defs/{name}"}
    return crd_schemas().get((obj["apiVersion"], obj["kind"]), {})


def resolve(node: dict) -> dict:
    while "$ref" in node:
        node = _definitions()[node["$ref"].rsplit("/", 1)[1]]
    return node


def field(node: dict, key: str) -> dict:
    node = resolve(node)
    if key in node.get("properties", {}):
        return node["properties"][key]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else {}


def items(node: dict) -> dict:
    return resolve(node).get("items", {})


def list_type(node: dict) -> tuple[str, list[str]]:
    """("map", keys) | ("set", []) | ("atomic", []) for a list field."""
    kind = node.get("x-kubernetes-list-type")
    if kind == "map":
        return "map", node["x-kubernetes-list-map-keys"]
    if kind in ("set", "atomic"):
        return kind, []
    if "merge" in node.get("x-kubernetes-patch-strategy", "") and node.get("x-kubernetes-patch-merge-key"):
        return "map", [node["x-kubernetes-patch-merge-key"]]
    return "atomic", []


def _item_key(item: dict, keys: list[str]) -> tuple:
    return tuple(item.get(k, KEY_DEFAULTS.get(k)) for k in keys)


def is_quantity(node: dict) -> bool:
    return node.get("$ref", "").endswith(QUANTITY)


def canonical_quantities(value, node: dict):
    """``value`` with every Quantity field in canonical form (what the server stores, and what a typed
    round trip through the Go structs gives: argo-cd's ``remarshal``)."""
    if is_quantity(node) and isinstance(value, str | int | float) and not isinstance(value, bool):
        return canonical(value)
    if isinstance(value, dict):
        return {k: canonical_quantities(v, field(node, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical_quantities(v, items(node)) for v in value]
    return value


def merge(live, applied, node: dict):
    """Server-side apply of ``applied`` over ``live`` (structured-merge-diff ``Updater.Apply``): maps
    merge key by key, associative lists item by item on their keys, sets by value; atomic lists and
    scalars are replaced whole. Fields only ``live`` has (defaults, other managers' fields) stay.
    Not modelled: removing a field the same manager applied before and no longer applies (no test
    here drops a field from git between two syncs)."""
    if isinstance(applied, dict) and isinstance(live, dict):
        merged = dict(live)
        for key, value in applied.items():
            merged[key] = merge(live.get(key), value, field(node, key))
        return merged
    if isinstance(applied, list) and isinstance(live, list):
        kind, keys = list_type(node)
        if kind == "map":
            remaining = {_item_key(i, keys): i for i in live}
            merged = [merge(remaining.pop(_item_key(i, keys), None), i, items(node)) for i in applied]
            return merged + list(remaining.values())
        if kind == "set":
            return copy_json(applied) + [v for v in live if v not in applied]
    return copy_json(applied)


def differences(expected, actual, node: dict, path: str = "") -> list[str]:
    """Paths where two objects differ; associative lists are compared item by item on their keys,
    atomic lists whole (one path for the list)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual)):
            sub = f"{path}.{key}" if path else key
            if key not in expected or key not in actual:
                found.append(sub)
            else:
                found += differences(expected[key], actual[key], field(node, key), sub)
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        kind, keys = list_type(node)
        if kind == "map":
            left = {_item_key(i, keys): i for i in expected}
            right = {_item_key(i, keys): i for i in actual}
            if list(left) != list(right):
                return [path]
            return [p for k in left for p in differences(left[k], right[k], items(node), f"{path}[{k}]")]
        if expected != actual and len(expected) == len(actual):  # atomic: one difference, explained
            inner = [p for i, (a, b) in enumerate(zip(expected, actual, strict=True))
                     for p in differences(a, b, items(node), f"[{i}]")]
            return [f"{path} (atomic list; differs at {', '.join(inner)})"]
    return [] if expected == actual else [path]
