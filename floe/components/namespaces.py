"""The two namespaces of ADR-0019's layers, with Pod Security Admission enforcing ``restricted``.

Every platform service passes the restricted standard (see ``floe.constructs.security``), so
the platform namespace enforces it too: a pod that regresses is refused, not merely reported.
Deleting a namespace deletes everything in it (claims, hand-made Secrets), so neither engine
ever does (:data:`floe.constructs.metadata.PROTECTED`).
"""


from floe.config.environment import Environment
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity, Layer
from floe.constructs.metadata import PROTECTED, object_meta
from floe.tiers import FOUNDATION, Step

POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
}


def render(scope: Scope, environment: Environment) -> None:
    layers = {
        environment.namespaces.platform: Layer.PLATFORM_SERVICES,
        environment.namespaces.jobs: Layer.PIPELINE_JOBS,
    }
    for name, layer in layers.items():
        identity = AppIdentity(name="floe", instance=name, component="namespace",
                               version=environment.platform_version, tier=FOUNDATION, layer=layer)
        k8s.KubeNamespace(scope, name, metadata=object_meta(identity, name, None, Step.PREPARE, annotations=PROTECTED,
                                                           labels=POD_SECURITY))
