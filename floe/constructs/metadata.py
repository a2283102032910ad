"""Object metadata: name, namespace, labels, the sync-wave derived from the tier, and the
annotations that tell both GitOps engines how to treat an object."""

from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity
from floe.tiers import FINAL_WAVE, SYNC_WAVE, Step

ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
ARGO_COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
IGNORE_HEALTH = "argocd.argoproj.io/ignore-healthcheck"
"""Leaves an object out of its Application's health (Argo CD >= 2.14)."""

PROTECTED = {
    ARGO_SYNC_OPTIONS: "Prune=false,Delete=false",
    ARGO_COMPARE_OPTIONS: "IgnoreExtraneous",
    FLUX_PRUNE: "disabled",
}
"""On objects that hold data (Namespaces, standalone claims): neither engine ever deletes them.

Argo CD skips ``Prune=false`` objects when pruning and ``Delete=false`` objects when an Application
is deleted (argo-cd ``shouldBeDeleted``); once such an object leaves the render, ``IgnoreExtraneous``
keeps it from holding the Application OutOfSync (and self-heal re-syncing) until someone deletes it.
kustomize-controller excludes ``prune: disabled`` objects both from garbage collection and from the
deletion of their Kustomization (its ``prune`` and ``finalize`` share the exclusion)."""


def object_meta(
    identity: AppIdentity,
    name: str,
    namespace: str | None,
    step: Step = Step.SERVE,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    *,
    wave: int | None = None,
) -> k8s.ObjectMeta:
    """Metadata of one object; ``namespace`` is None for cluster-scoped kinds. The sync wave is the
    tier's at ``step`` unless ``wave`` names another."""
    wave = identity.tier.wave_of(step) if wave is None else wave
    return k8s.ObjectMeta(
        name=name,
        namespace=namespace,
        labels={**identity.labels, **(labels or {})},
        annotations={SYNC_WAVE: str(wave), **(annotations or {})},
    )


def final_meta(identity: AppIdentity, name: str, namespace: str) -> k8s.ObjectMeta:
    """Metadata of an autoscaler or an Ingress: synced in :data:`~floe.tiers.FINAL_WAVE`, after every
    tier, since its health would only hold back the waves after it."""
    return object_meta(identity, name, namespace, wave=FINAL_WAVE)
