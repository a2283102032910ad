"""An Argo Rollouts blue-green ``Rollout``: a Deployment's pods, upgraded beside the running version.

Rendered as a plain object (:func:`floe.constructs.kube.api_object`) whose keys follow the Rollout CRD
(``floe/crds/argoproj.io_rollouts.yaml``, argoproj/argo-rollouts @ 9f8d111d8f8e). A typed
binding from ``cdk8s import`` of that CRD was tried and not used: its pod template is a separate
generated type that refuses the ``k8s.PodTemplateSpec`` every other workload uses, and its
serializer drops int-or-string fields (probe ports) from an already rendered template.

Argo CD dry-runs every object before it applies any; while the Rollout CRD is missing (Argo Rollouts
installed by another Application, or not yet), that dry run fails the whole sync ("the server could
not find the requested resource") unless the Rollout skips it (``SkipDryRunOnMissingResource``;
the dry run still runs once the CRD exists).
"""

from dataclasses import dataclass

from floe.constructs.kube import Construct, Scope, api_object, k8s
from floe.constructs.metadata import ARGO_SYNC_OPTIONS
from floe.rendered import Json

API_VERSION = "argoproj.io/v1alpha1"
KIND = "Rollout"
SKIP_DRY_RUN = {ARGO_SYNC_OPTIONS: "SkipDryRunOnMissingResource=true"}


@dataclass(frozen=True)
class BlueGreenStrategy:
    active_service: str
    """The Service that sends traffic to the promoted version."""
    preview_service: str
    """The Service that reaches the new version before promotion, for checks."""
    auto_promote: bool
    """False: the new version waits for a person (``kubectl argo rollouts promote``)."""
    scale_down_delay_seconds: int

    def to_json(self) -> Json:
        return {
            "activeService": self.active_service,
            "previewService": self.preview_service,
            "autoPromotionEnabled": self.auto_promote,
            "scaleDownDelaySeconds": self.scale_down_delay_seconds,
        }


class BlueGreenRollout(Construct):
    """A ``Rollout`` with the selector and pod template a Deployment would have had."""

    def __init__(self, scope: Scope, id: str, *, metadata: k8s.ObjectMeta, selector: k8s.LabelSelector,
                 template: k8s.PodTemplateSpec, replicas: int | None, strategy: BlueGreenStrategy,
                 revision_history_limit: int) -> None:
        super().__init__(scope, id)
        # manifest() renders the typed template exactly as a Deployment's would be rendered.
        template_json = k8s.KubePodTemplate.manifest(template=template)["template"]
        spec = {
            "selector": {"matchLabels": dict(selector.match_labels)},
            "template": template_json,
            "strategy": {"blueGreen": strategy.to_json()},
            "revisionHistoryLimit": revision_history_limit,
        }
        if replicas is not None:
            spec["replicas"] = replicas
        api_object(self, "rollout", API_VERSION, KIND,
                   {"name": metadata.name, "namespace": metadata.namespace, "labels": metadata.labels,
                    "annotations": {**metadata.annotations, **SKIP_DRY_RUN}},
                   spec=spec)
