"""Object metadata: name, namespace, labels and the sync-wave derived from the tier."""

from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity
from floe.tiers import SYNC_WAVE, Step


def object_meta(
    identity: AppIdentity,
    name: str,
    namespace: str | None,
    step: Step = Step.SERVE,
    annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> k8s.ObjectMeta:
    """Metadata of one object; ``namespace`` is None for cluster-scoped kinds."""
    return k8s.ObjectMeta(
        name=name,
        namespace=namespace,
        labels={**identity.labels, **(labels or {})},
        annotations={SYNC_WAVE: str(identity.tier.wave_of(step)), **(annotations or {})},
    )
