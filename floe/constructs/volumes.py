"""Persistent volume claims: one spec for StatefulSet claim templates and standalone claims alike."""

from floe.config.common import Storage
from floe.constructs.kube import k8s, quantity


def claim_spec(storage: Storage) -> k8s.PersistentVolumeClaimSpec:
    """A single-node read-write volume of the configured size and class."""
    return k8s.PersistentVolumeClaimSpec(
        access_modes=["ReadWriteOnce"],
        storage_class_name=storage.storage_class,
        resources=k8s.VolumeResourceRequirements(requests={"storage": quantity(storage.size)}),
    )
