"""floe renders its objects in Python (``floe.constructs.kube``): each is exactly what cdk8s writes.

Every object, ``manifest()`` and plain object of the production environment (blue-green, ingresses, a
secret store, two compute engines, Argo CD and Flux objects) is rendered again through the cdk8s
classes in the jsii bridge, and compared.
"""

import copy

import cdk8s
import pytest

from floe.app import render_objects
from floe.constructs import kube, rollout
from floe.constructs.kube import Construct, k8s
from floe.imports.io import argoproj, cert_manager
from floe.imports.io.fluxcd.toolkit import kustomize, source
from floe.security import external_secrets


@pytest.fixture(scope="module")
def recorded(environments) -> dict[str, list]:
    """What rendering prod made in Python: typed objects, manifests and plain objects, with their arguments."""
    made: dict[str, list] = {"objects": [], "manifests": [], "plain": []}
    real_init, real_manifest, real_api_object = kube._KubeObject.__init__, kube._KubeObject.manifest, kube.api_object

    def init(self, scope, id, **props):
        real_init(self, scope, id, **props)
        # Copied as made: the render annotates objects afterwards (floe.security.checkov), as cdk8s cannot.
        made["objects"].append((type(self)._typed_class, props, copy.deepcopy(self.json)))

    def manifest(cls, **props):
        result = real_manifest.__func__(cls, **props)
        made["manifests"].append((cls._typed_class, props, copy.deepcopy(result)))  # callers add to it
        return result

    def api_object(scope, id, api_version, kind, metadata, **body):
        result = real_api_object(scope, id, api_version, kind, metadata, **body)
        made["plain"].append((api_version, kind, metadata, body, copy.deepcopy(result)))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kube._KubeObject, "__init__", init)
        patch.setattr(kube._KubeObject, "manifest", classmethod(manifest))
        for module in (kube, rollout, external_secrets):
            patch.setattr(module, "api_object", api_object)
        render_objects(environments["prod"])
    return made


def test_every_kind_of_object_is_rendered_in_python(recorded) -> None:
    kinds = {obj["kind"] for _, _, obj in recorded["objects"]}
    assert {"Deployment", "CronJob", "Job", "Service", "NetworkPolicy", "Ingress"} <= kinds
    assert {"Application", "AppProject", "Kustomization", "GitRepository"} <= kinds  # generated bindings
    assert {kind for _, kind, _, _, _ in recorded["plain"]} >= {"StatefulSet", "Rollout", "ExternalSecret"}
    assert recorded["manifests"]


def test_typed_objects_are_what_cdk8s_writes(recorded) -> None:
    chart = cdk8s.Chart(cdk8s.App(), "bridge")
    for index, (typed, props, _) in enumerate(recorded["objects"]):
        typed(chart, f"object-{index}", **props)
    assert chart.to_json() == [obj for _, _, obj in recorded["objects"]]


def test_manifests_are_what_cdk8s_writes(recorded) -> None:
    for typed, props, result in recorded["manifests"]:
        assert typed.manifest(**props) == result


def test_plain_objects_are_what_cdk8s_writes(recorded) -> None:
    chart = cdk8s.Chart(cdk8s.App(), "bridge")
    for index, (api_version, kind, metadata, body, _) in enumerate(recorded["plain"]):
        obj = cdk8s.ApiObject(chart, f"object-{index}", api_version=api_version, kind=kind,
                              metadata=cdk8s.ApiObjectMetadata(**{key: metadata.get(key) for key in
                                                                  ("name", "namespace", "labels", "annotations")}))
        for key, value in sorted(body.items()):
            obj.add_json_patch(cdk8s.JsonPatch.add(f"/{key}", value))
    assert chart.to_json() == [result for *_, result in recorded["plain"]]


def test_a_chart_returns_its_objects_from_the_bridge_then_from_python() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c", labels={"team": "data"}, namespace="default-ns")
    cdk8s.ApiObject(chart, "in-bridge", api_version="v1", kind="ConfigMap",
                    metadata=cdk8s.ApiObjectMetadata(name="in-bridge"))
    k8s.KubeConfigMap(chart, "in-python", metadata=k8s.ObjectMeta(name="in-python", annotations={}),
                      data={"key": "value"})
    assert chart.to_json() == [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "in-bridge", "namespace": "default-ns", "labels": {"team": "data"}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "data": {"key": "value"},
         "metadata": {"name": "in-python", "namespace": "default-ns", "labels": {"team": "data"}}},
    ]


def test_ids_stay_unique_in_their_scope() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    group = Construct(chart, "group")
    k8s.KubeServiceAccount(group, "account", metadata=k8s.ObjectMeta(name="a"))
    k8s.KubeServiceAccount(chart, "account", metadata=k8s.ObjectMeta(name="b"))
    with pytest.raises(ValueError, match="There is already a Construct with name 'account'"):
        k8s.KubeServiceAccount(group, "account", metadata=k8s.ObjectMeta(name="c"))
    with pytest.raises(ValueError, match="There is already a Construct with name 'group'"):
        Construct(chart, "group")


def test_an_unnamed_object_is_left_to_cdk8s_which_names_it() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    k8s.KubePod(chart, "pod", spec=k8s.PodSpec(containers=[k8s.Container(name="main")]))
    [pod] = chart.to_json()
    assert pod["metadata"]["name"].startswith("c-pod-")
    with pytest.raises(ValueError, match="floe names every object"):
        k8s.KubePod(Construct(chart, "group"), "pod", spec=k8s.PodSpec(containers=[]))


def test_the_known_kinds_are_those_of_the_typed_classes() -> None:
    classes = {cls.__jsii_type__: cls for module in (kube._typed, argoproj, source, kustomize, cert_manager)
               for cls in vars(module).values() if isinstance(cls, type) and issubclass(cls, cdk8s.ApiObject)}
    for fqn, (api_version, kind) in kube._GVK.items():
        gvk = classes[fqn].GVK
        assert (gvk.api_version, gvk.kind) == (api_version, kind)


def test_a_python_chart_holds_objects_and_constructs_without_the_bridge() -> None:
    chart = kube.Chart(cdk8s.App(), "c", namespace="ns", labels={"team": "data"})
    group = Construct(chart, "group")
    k8s.KubeConfigMap(group, "map", metadata=k8s.ObjectMeta(name="map"), data={"a": "b"})
    assert chart.to_json() == [{"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                                "metadata": {"name": "map", "namespace": "ns", "labels": {"team": "data"}}}]
