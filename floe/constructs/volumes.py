"""Persistent volume claims: one spec for StatefulSet claim templates and standalone claims alike."""


from floe.config.common import Storage
from floe.constructs.kube import Scope, k8s, quantity
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import PROTECTED, object_meta
from floe.rendered import Json


def claim_spec(storage: Storage) -> k8s.PersistentVolumeClaimSpec:
    """A single-node read-write volume of the configured size and class."""
    return k8s.PersistentVolumeClaimSpec(
        access_modes=["ReadWriteOnce"],
        storage_class_name=storage.storage_class,
        resources=k8s.VolumeResourceRequirements(requests={"storage": quantity(storage.size)}),
    )


def claim_template(name: str, labels: dict[str, str], storage: Storage) -> Json:
    """A StatefulSet's ``volumeClaimTemplates`` item, with ``apiVersion: v1`` and ``kind: PersistentVolumeClaim``.

    The API server stores every template with those two fields (apps/v1 conversion), and the list is
    atomic: a template without them differs from the live one forever under a server-side diff
    (argo-cd#11143). The typed ``StatefulSetSpec`` drops them, so the template is rendered as a
    whole PersistentVolumeClaim.
    """
    template: Json = k8s.KubePersistentVolumeClaim.manifest(
        metadata=k8s.ObjectMeta(name=name, labels=labels), spec=claim_spec(storage)
    )
    return template


def standalone_claim(scope: Scope, identity: AppIdentity, name: str, namespace: str, storage: Storage) -> None:
    """A claim of its own (not a StatefulSet's), in its pod's wave, which neither engine ever deletes.

    It is in the wave of the pod that binds it: a claim is healthy only once bound, and a
    WaitForFirstConsumer class binds it only when the pod is scheduled, so an earlier wave would
    block the sync forever. Removing it from git or deleting its tier leaves the volume in place.
    """
    k8s.KubePersistentVolumeClaim(
        scope, name,
        metadata=object_meta(identity, name, namespace, annotations=PROTECTED),
        spec=claim_spec(storage),
    )
