"""The typed Kubernetes 1.32 API (``cdk8s_plus_32.k8s``), with floe's objects rendered in Python.

cdk8s keeps every object in its Node.js process, behind the jsii bridge: creating one sends its whole
typed spec over a pipe (a round trip, and milliseconds spent serialising nested structs), and every
chart's ``to_json`` walks the whole app there. Rendering costs grew with each data product, so floe
renders its objects here, as plain data, and the bridge holds nothing but the app:

- :data:`k8s` is ``cdk8s_plus_32.k8s`` with its object classes (``k8s.KubeDeployment`` …) replaced by
  classes of the same names and arguments that build the JSON cdk8s writes: the typed structs'
  fields under their Kubernetes names (``clusterIP``), unset fields left out, metadata as
  :class:`cdk8s.ApiObject` writes it (empty labels or annotations dropped). ``manifest()`` too.
- :class:`Construct` groups objects under an id, as ``constructs.Construct`` does, in Python only.
- :func:`api_object` is an object of any kind from plain JSON (a CRD's, or one a typed binding would
  strip a field from).
- :func:`rendered_in_python` does the same for the generated CRD bindings' classes (``floe/imports``).
- :class:`Chart` is a chart in Python only. ``to_json()`` of a ``cdk8s.Chart`` (a test's, say) returns
  the objects the bridge holds, then those rendered here, in order.

The typed structs (``k8s.Container`` …) were always plain Python; ``Quantity`` and ``IntOrString``
are bridge objects, created once per value (:func:`quantity`, :func:`int_or_string`) and read here
from a table, never over the bridge.
"""

import enum
import functools
import sys
import weakref
from collections.abc import Callable, Mapping
from typing import Any, cast

import cdk8s
import constructs
from cdk8s_plus_32 import k8s as _typed

from floe.rendered import Json, JsonView, copy_json

__all__ = ["Chart", "Construct", "Scope", "api_object", "chart_of", "int_or_string", "k8s",
           "plain_object", "quantity", "rendered_in_python"]

_K8S_RENAMED: dict[str, dict[str, str]] = {
    "ContainerPort": {"hostIp": "hostIP"},
    "PodSpec": {"hostIpc": "hostIPC", "hostPid": "hostPID", "setHostnameAsFqdn": "setHostnameAsFQDN"},
    "ServiceSpec": {"clusterIp": "clusterIP", "loadBalancerIp": "loadBalancerIP"},
    "SessionAffinityConfig": {"clientIp": "clientIP"},
    "Volume": {"downwardApi": "downwardAPI", "scaleIo": "scaleIO"},
    "VolumeProjection": {"downwardApi": "downwardAPI"},
    "PolicyRule": {"nonResourceUrLs": "nonResourceURLs"},
    "NonResourcePolicyRule": {"nonResourceUrLs": "nonResourceURLs"},
    "HorizontalPodAutoscalerSpec": {"targetCpuUtilizationPercentage": "targetCPUUtilizationPercentage"},
    "ApiServiceSpec": {"insecureSkipTlsVerify": "insecureSkipTLSVerify"},
    "AwsElasticBlockStoreVolumeSource": {"volumeId": "volumeID"},
    "AzureDiskVolumeSource": {"diskUri": "diskURI"},
    "CinderPersistentVolumeSource": {"volumeId": "volumeID"},
    "CinderVolumeSource": {"volumeId": "volumeID"},
    "CsiNodeDriver": {"nodeId": "nodeID"},
    "CustomResourceValidation": {"openApiv3Schema": "openAPIV3Schema"},
    "FcVolumeSource": {"targetWwNs": "targetWWNs"},
    "FlockerVolumeSource": {"datasetUuid": "datasetUUID"},
    "NodeSpec": {"externalId": "externalID", "podCidr": "podCIDR", "podCidRs": "podCIDRs", "providerId": "providerID"},
    "PersistentVolumeSpec": {"scaleIo": "scaleIO"},
    "PhotonPersistentDiskVolumeSource": {"pdId": "pdID"},
    "PortworxVolumeSource": {"volumeId": "volumeID"},
    "VsphereVirtualDiskVolumeSource": {"storagePolicyId": "storagePolicyID"},
    "JsonSchemaProps": {
        "ref": "$ref", "schema": "$schema",
        "xKubernetesEmbeddedResource": "x-kubernetes-embedded-resource",
        "xKubernetesIntOrString": "x-kubernetes-int-or-string",
        "xKubernetesListMapKeys": "x-kubernetes-list-map-keys", "xKubernetesListType": "x-kubernetes-list-type",
        "xKubernetesMapType": "x-kubernetes-map-type",
        "xKubernetesPreserveUnknownFields": "x-kubernetes-preserve-unknown-fields",
        "xKubernetesValidations": "x-kubernetes-validations",
    },
}
"""The struct fields whose Kubernetes name is not their jsii name: every one in cdk8s-plus-32's
``toJson_<Struct>`` functions (``lib/imports/k8s.js``), which cdk8s applies on output."""

_ARGO_RENAMED = {"repoUrl": "repoURL"}
_RENAMED: dict[str, dict[str, str]] = {
    **{f"cdk8s-plus-32.k8s.{struct}": fields for struct, fields in _K8S_RENAMED.items()},
    **{f"ioargoproj.{struct}": _ARGO_RENAMED for struct in (
        "ApplicationSpecSource", "ApplicationSpecSources", "ApplicationOperationSyncSource",
        "ApplicationOperationSyncSources", "ApplicationSpecSourceHydratorDrySource",
        "ApplicationSpecSourceHydratorSyncSource")},
    "ioargoproj.AppProjectSpecSignatureKeys": {"keyId": "keyID"},
}
"""Struct (jsii fqn) → its fields named otherwise in Kubernetes: cdk8s-plus-32's, and those of the
generated bindings (``floe/imports``, their ``toJson_<Struct>`` functions; Flux's have none)."""

_ENUM_VALUES: dict[str, str] = {
    "iofluxcdtoolkitkustomize.KustomizationSpecSourceRefKind/GIT_REPOSITORY": "GitRepository",
    "iofluxcdtoolkitkustomize.KustomizationSpecSourceRefKind/OCI_REPOSITORY": "OCIRepository",
    "iofluxcdtoolkitkustomize.KustomizationSpecSourceRefKind/BUCKET": "Bucket",
    "iofluxcdtoolkitkustomize.KustomizationSpecDeletionPolicy/MIRROR_PRUNE": "MirrorPrune",
    "iofluxcdtoolkitkustomize.KustomizationSpecDeletionPolicy/DELETE": "Delete",
    "iofluxcdtoolkitkustomize.KustomizationSpecDeletionPolicy/WAIT_FOR_TERMINATION": "WaitForTermination",
    "iofluxcdtoolkitkustomize.KustomizationSpecDeletionPolicy/ORPHAN": "Orphan",
    "iocert-manager.CertificateSpecUsages/SERVER_AUTH": "server auth",
    "iocert-manager.CertificateSpecUsages/DIGITAL_SIGNATURE": "digital signature",
    "iocert-manager.CertificateSpecUsages/KEY_ENCIPHERMENT": "key encipherment",
}
"""A generated binding's enum member (``fqn/NAME``) → the value its JavaScript writes (the Python enum
knows only the name); each one floe uses is compared with the bridge by ``tests/test_kube_objects.py``."""



# -- Quantity and IntOrString: bridge objects, created once per value -------------------------------------

_bridge_values: dict[int, str | int | float] = {}
"""id() of each Quantity or IntOrString the factories below made → its value (they live for good)."""


@functools.cache
def quantity(value: str) -> _typed.Quantity:
    made = _typed.Quantity.from_string(value)
    _bridge_values[id(made)] = value
    return made


@functools.cache
def int_or_string(value: int | str) -> _typed.IntOrString:
    made = _typed.IntOrString.from_number(value) if isinstance(value, int) else _typed.IntOrString.from_string(value)
    _bridge_values[id(made)] = value
    return made


def _bridge_value(value: _typed.IntOrString | _typed.Quantity) -> str | int | float:
    """The value of a Quantity or IntOrString; one made elsewhere is asked once, over the bridge."""
    if id(value) not in _bridge_values:
        _bridge_values[id(value)] = value.value
        _kept.append(value)  # keeps its id from being reused
    return _bridge_values[id(value)]


_kept: list[object] = []


# -- typed structs → JSON, as cdk8s writes them ------------------------------------------------------------


_FIELDS: dict[type, dict[str, str] | None] = {}
"""Struct class → python name → Kubernetes name of each field; None for a class that is not a struct."""


def _fields(cls: type) -> dict[str, str] | None:
    if cls not in _FIELDS:
        mapping = getattr(cls, "__jsii_name_mapping__", None)
        renamed = _RENAMED.get(getattr(cls, "__jsii_type__", None) or "", {})
        _FIELDS[cls] = None if mapping is None else {py: renamed.get(jsii, jsii) for py, jsii in mapping.items()}
    return _FIELDS[cls]


_LEAVES = (str, int, bool, type(None))


def _plain(value: Any, sanitize: bool) -> Any:
    """JSON of a value of a typed field: structs by their Kubernetes field names, Quantity and IntOrString
    by their value. ``sanitize`` (an object's output, not ``manifest()``): None dropped from mappings."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    fields = _FIELDS.get(kind) if kind in _FIELDS else _fields(kind)
    if fields is not None:
        out = {}
        for name, item in value._values.items():
            if type(item) in _LEAVES:
                if item is not None or not sanitize:
                    out[fields[name]] = item
            else:
                out[fields[name]] = _plain(item, sanitize)
        return out
    if kind is dict:
        return {key: item if type(item) in _LEAVES else _plain(item, sanitize) for key, item in value.items()
                if not (sanitize and item is None)}
    if kind is list or kind is tuple:
        return [item if type(item) in _LEAVES else _plain(item, sanitize) for item in value]
    if kind is float:  # the bridge's JSON makes 2.0 an integer
        return int(value) if value.is_integer() else value
    if isinstance(value, _typed.IntOrString | _typed.Quantity):
        return _bridge_value(value)
    if isinstance(value, enum.Enum) and hasattr(kind, "__jsii_type__"):
        member = f"{kind.__jsii_type__}/{value.name}"
        if member not in _ENUM_VALUES:
            raise TypeError(f"the value of enum member {member} is unknown here: add it to _ENUM_VALUES")
        return _ENUM_VALUES[member]
    if isinstance(value, Mapping):
        return _plain(dict(value), sanitize)
    if isinstance(value, list | tuple):
        return _plain(list(value), sanitize)
    if isinstance(value, str):  # a str enum: its value, as JSON would carry it
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"cannot render a {kind.__name__} in a Kubernetes object: {value!r}")


def _without_empty(value: Any) -> Any:
    """cdk8s's metadata sanitising: empty mappings and lists dropped, at any depth (None if nothing is left)."""
    if type(value) is dict:
        kept = {}
        for key, item in value.items():
            if type(item) is not str:
                item = _without_empty(item)
                if item is None:
                    continue
            kept[key] = item
        return kept or None
    if type(value) is list:
        return [_without_empty(item) for item in value] or None
    return value


# -- scopes: charts and constructs ------------------------------------------------------------------------


class _ChartObjects:
    """What floe rendered into one chart, in order, and the chart's namespace and labels (on every object)."""

    def __init__(self, namespace_and_labels: tuple[str | None, dict[str, str]] | None = None) -> None:
        self.objects: list[Json] = []
        self._namespace_and_labels = namespace_and_labels

    def namespace_and_labels(self, chart: "AnyChart") -> tuple[str | None, dict[str, str]]:
        if self._namespace_and_labels is None:  # a chart made elsewhere: asked over the bridge, once
            self._namespace_and_labels = (chart.namespace, dict(chart.labels or {}))
        return self._namespace_and_labels


_charts: "weakref.WeakKeyDictionary[cdk8s.Chart, _ChartObjects]" = weakref.WeakKeyDictionary()


class _Scope:
    def __init__(self, chart: "AnyChart", path: str) -> None:
        self.chart = chart
        self.path = path
        self._ids: set[str] = set()


class Chart(_Scope):
    """A chart of objects rendered in Python, not in the bridge (so it cannot hold an object made by a
    bridge class: wrap that class with :func:`rendered_in_python`).

    ``to_json()`` returns its objects, as ``cdk8s.Chart.to_json`` does.
    """

    def __init__(self, scope: "Scope", id: str, *, namespace: str | None = None,
                 labels: Mapping[str, str] | None = None) -> None:
        super().__init__(self, f"{_path(scope)}/{id}")
        self.namespace = namespace
        self.labels = dict(labels or {})
        self._objects = _ChartObjects((namespace, self.labels))

    def to_json(self) -> list[Any]:
        return list(self._objects.objects)


class Construct(_Scope):
    """A group of objects under an id in a chart, like ``constructs.Construct`` but not in the bridge.

    Objects are named explicitly (cdk8s would derive a name from the construct path, in Node.js).
    """

    def __init__(self, scope: "Scope", id: str) -> None:
        super().__init__(chart_of(scope), f"{_path(scope)}/{id}")
        _claim(scope, id)


AnyChart = Chart | cdk8s.Chart
Scope = _Scope | constructs.Construct
"""Where an object goes: a chart, or a :class:`Construct` in one."""


def chart_of(scope: Scope) -> AnyChart:
    if isinstance(scope, _Scope):
        return scope.chart
    if isinstance(scope, cdk8s.Chart):
        return scope
    return cdk8s.Chart.of(scope)


def _path(scope: Scope) -> str:
    return scope.path if isinstance(scope, _Scope) else f"<{id(scope)}>"


def _objects_of(chart: AnyChart) -> _ChartObjects:
    if isinstance(chart, Chart):
        return chart._objects
    if chart not in _charts:
        _charts[chart] = _ChartObjects()
    return _charts[chart]


_scope_ids: "weakref.WeakKeyDictionary[constructs.Construct, set[str]]" = weakref.WeakKeyDictionary()


def _claim(scope: Scope, id: str) -> None:
    """Ids are unique among a scope's children, as in cdk8s (an object's id says where it comes from)."""
    ids = scope._ids if isinstance(scope, _Scope) else _scope_ids.setdefault(scope, set())
    if id in ids:
        where = scope.path if isinstance(scope, _Scope) else "its scope"
        raise ValueError(f"There is already a Construct with name '{id}' in {where}")
    ids.add(id)


def _add(scope: Scope, id: str, obj: Json) -> None:
    _claim(scope, id)
    _objects_of(chart_of(scope)).objects.append(obj)


def _metadata(chart: AnyChart, metadata: JsonView) -> Json:
    """``metadata`` as :class:`cdk8s.ApiObject` writes it: the chart's namespace unless one is given, the
    chart's labels under the object's own, then empty mappings and lists dropped."""
    namespace, labels = _objects_of(chart).namespace_and_labels(chart)
    metadata = dict(metadata)
    if metadata.get("namespace") is None and namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = {**labels, **(metadata.get("labels") or {})}
    return _without_empty(metadata) or {}


def _chart_to_json(chart: cdk8s.Chart) -> list[Any]:
    """``cdk8s.Chart.to_json``: the objects in the bridge, then those floe rendered in Python."""
    rendered = _bridge_to_json(chart)
    entry = _charts.get(chart)
    return [*rendered, *entry.objects] if entry else rendered


_bridge_to_json: Callable[[cdk8s.Chart], list[Any]] = cdk8s.Chart.to_json
cdk8s.Chart.to_json = _chart_to_json  # type: ignore[method-assign,assignment]  # replacing it is the point


# -- objects ---------------------------------------------------------------------------------------------


def api_object(scope: Scope, id: str, api_version: str, kind: str, metadata: JsonView, **body: Any) -> Json:
    """An object of any kind, its fields (``spec`` …) written as given (as JSON patches of a plain
    :class:`cdk8s.ApiObject` would write them); ``metadata`` takes name, namespace, labels and annotations."""
    chart = chart_of(scope)
    meta = {key: _plain(metadata.get(key), True) for key in ("name", "namespace", "labels", "annotations")
            if metadata.get(key) is not None}
    obj = {"apiVersion": api_version, "kind": kind, "metadata": _metadata(chart, meta),
           **{key: copy_json(value) for key, value in sorted(body.items())}}
    _add(scope, id, obj)
    return obj


def plain_object(scope: Scope, id: str, manifest: Json) -> Json:
    """An object rendered exactly as ``manifest`` says, for a manifest built with a typed binding's
    ``manifest()`` and then given a field the binding does not know (which a typed object would drop)."""
    body = {key: value for key, value in manifest.items() if key not in ("apiVersion", "kind", "metadata")}
    return api_object(scope, id, manifest["apiVersion"], manifest["kind"], manifest["metadata"], **body)


class _KubeObject:
    """An object of the typed API, rendered in Python (see the module's docstring)."""

    _typed_class: type
    _props: type

    def __new__(cls, scope: Scope, id: str, **props: Any) -> Any:
        if not isinstance(scope, _Scope) and not _named(props):
            # cdk8s derives the name of an unnamed object from its path in the bridge: leave it there.
            return cls._typed_class(scope, id, **props)
        return super().__new__(cls)

    def __init__(self, scope: Scope, id: str, **props: Any) -> None:
        if not _named(props):
            raise ValueError(f"{type(self).__name__} {id!r}: floe names every object (metadata.name)")
        values = self._props(**props)._values
        chart = chart_of(scope)
        api_version, kind = _gvk(self._typed_class)
        obj = {"apiVersion": api_version, "kind": kind,
               "metadata": _metadata(chart, _plain(values["metadata"], True))}
        fields = _fields(self._props)
        assert fields is not None  # a <Name>Props class is a struct
        for name, value in values.items():
            if name != "metadata":
                obj[fields[name]] = _plain(value, True)
        self.json = obj
        _add(scope, id, obj)

    @classmethod
    def manifest(cls, **props: Any) -> Json:
        """The object's JSON without an object, as cdk8s's ``manifest()``: unset fields left out, no metadata
        defaults."""
        api_version, kind = _gvk(cls._typed_class)
        return {"apiVersion": api_version, "kind": kind, **_plain(cls._props(**props), False)}


def _named(props: Mapping[str, Any]) -> bool:
    metadata = props.get("metadata")
    if isinstance(metadata, dict):
        return bool(metadata.get("name"))
    return metadata is not None and bool(metadata.name)


_GVK = {
    "cdk8s-plus-32.k8s.KubeClusterRole": ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    "cdk8s-plus-32.k8s.KubeClusterRoleBinding": ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    "cdk8s-plus-32.k8s.KubeConfigMap": ("v1", "ConfigMap"),
    "cdk8s-plus-32.k8s.KubeCronJob": ("batch/v1", "CronJob"),
    "cdk8s-plus-32.k8s.KubeDeployment": ("apps/v1", "Deployment"),
    "cdk8s-plus-32.k8s.KubeHorizontalPodAutoscalerV2": ("autoscaling/v2", "HorizontalPodAutoscaler"),
    "cdk8s-plus-32.k8s.KubeIngress": ("networking.k8s.io/v1", "Ingress"),
    "cdk8s-plus-32.k8s.KubeJob": ("batch/v1", "Job"),
    "cdk8s-plus-32.k8s.KubeLimitRange": ("v1", "LimitRange"),
    "cdk8s-plus-32.k8s.KubeNamespace": ("v1", "Namespace"),
    "cdk8s-plus-32.k8s.KubeNetworkPolicy": ("networking.k8s.io/v1", "NetworkPolicy"),
    "cdk8s-plus-32.k8s.KubePersistentVolumeClaim": ("v1", "PersistentVolumeClaim"),
    "cdk8s-plus-32.k8s.KubePod": ("v1", "Pod"),
    "cdk8s-plus-32.k8s.KubePodDisruptionBudget": ("policy/v1", "PodDisruptionBudget"),
    "cdk8s-plus-32.k8s.KubePodTemplate": ("v1", "PodTemplate"),
    "cdk8s-plus-32.k8s.KubeResourceQuota": ("v1", "ResourceQuota"),
    "cdk8s-plus-32.k8s.KubeRole": ("rbac.authorization.k8s.io/v1", "Role"),
    "cdk8s-plus-32.k8s.KubeRoleBinding": ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    "cdk8s-plus-32.k8s.KubeSecret": ("v1", "Secret"),
    "cdk8s-plus-32.k8s.KubeService": ("v1", "Service"),
    "cdk8s-plus-32.k8s.KubeServiceAccount": ("v1", "ServiceAccount"),
    "cdk8s-plus-32.k8s.KubeStatefulSet": ("apps/v1", "StatefulSet"),
    "cdk8s-plus-32.k8s.KubeValidatingAdmissionPolicy": ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    "cdk8s-plus-32.k8s.KubeValidatingAdmissionPolicyBinding": ("admissionregistration.k8s.io/v1",
                                                               "ValidatingAdmissionPolicyBinding"),
    "ioargoproj.Application": ("argoproj.io/v1alpha1", "Application"),
    "ioargoproj.AppProject": ("argoproj.io/v1alpha1", "AppProject"),
    "iocert-manager.Certificate": ("cert-manager.io/v1", "Certificate"),
    "iofluxcdtoolkitkustomize.Kustomization": ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    "iofluxcdtoolkitsource.GitRepository": ("source.toolkit.fluxcd.io/v1", "GitRepository"),
}
"""apiVersion and kind of the classes floe uses (each ``GVK`` is three bridge round trips; a test compares)."""


@functools.cache
def _gvk(typed_class: type) -> tuple[str, str]:
    # Both set by jsii's metaclass, which a type checker does not see.
    fqn: str = getattr(typed_class, "__jsii_type__")  # noqa: B009
    if fqn in _GVK:
        return _GVK[fqn]
    gvk: cdk8s.GroupVersionKind = getattr(typed_class, "GVK")  # noqa: B009
    return gvk.api_version, gvk.kind


def rendered_in_python(typed: type) -> type[_KubeObject]:
    """A class of the same name and arguments as ``typed`` (a typed binding's object class: cdk8s-plus-32's
    or a generated one's, with a ``<Name>Props`` struct beside it) whose objects are rendered here."""
    props = getattr(sys.modules[typed.__module__], f"{typed.__name__}Props")
    made = type(typed.__name__, (_KubeObject,), {"_typed_class": typed, "_props": props, "__doc__": typed.__doc__})
    return cast(type[_KubeObject], made)


class _K8s:
    """``cdk8s_plus_32.k8s``, its ``Kube*`` object classes rendered in Python."""

    def __getattr__(self, name: str) -> Any:
        typed = getattr(_typed, name)
        if (name.startswith("Kube") and isinstance(typed, type) and issubclass(typed, cdk8s.ApiObject)
                and hasattr(_typed, f"{name}Props")):
            typed = rendered_in_python(typed)
        setattr(self, name, typed)  # found without __getattr__ from now on
        return typed


k8s: Any = _K8s()
