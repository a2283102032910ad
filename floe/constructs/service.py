"""A long-lived platform service (ADR-0019 Layer 3): its workload and everything around it.

One construct renders the Deployment or StatefulSet, its ServiceAccount, its Service (plus a
headless Service for a StatefulSet), and when replicas can exceed one a PodDisruptionBudget,
with an optional HorizontalPodAutoscaler. A blue-green Deployment becomes an Argo Rollouts
``Rollout`` with a second, preview Service.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from floe.config.common import Autoscaling, BlueGreen, Storage
from floe.constructs.container import Port
from floe.constructs.kube import Construct, Scope, int_or_string, k8s, plain_object
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import final_meta, object_meta
from floe.constructs.pod import PodProps, pod_spec
from floe.constructs.rollout import API_VERSION as ROLLOUT_API_VERSION
from floe.constructs.rollout import KIND as ROLLOUT_KIND
from floe.constructs.rollout import BlueGreenRollout, BlueGreenStrategy
from floe.constructs.volumes import claim_template
from floe.tiers import Step


class WorkloadKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"


@dataclass(frozen=True)
class VolumeClaim:
    """A per-replica persistent volume of a StatefulSet."""

    name: str
    storage: Storage


@dataclass(frozen=True)
class ServiceProps:
    identity: AppIdentity
    namespace: str
    pod: PodProps
    kind: WorkloadKind = WorkloadKind.DEPLOYMENT
    replicas: int = 1
    """Fixed replicas; ignored when ``autoscaling`` is set."""
    autoscaling: Autoscaling | None = None
    volume_claims: tuple[VolumeClaim, ...] = ()
    """StatefulSet only: one volume per replica, kept when the StatefulSet is deleted or scaled down."""
    recreate: bool = False
    """Deployment only: stop the old pod before starting the new one (singletons, RWO volumes)."""
    blue_green: BlueGreen | None = None
    """Deployment only: render an Argo Rollouts blue-green ``Rollout`` in its place."""
    parallel_start: bool = False
    """StatefulSet only: start all replicas at once (peers that form a quorum together)."""
    spread_across_nodes: bool = False
    per_pod_dns: bool = False
    """Deployment only: also a headless Service, so each replica resolves on its own (per-replica
    metrics scraping). A StatefulSet always has one."""
    pod_annotations: dict[str, str] = field(default_factory=dict)
    step: Step = Step.SERVE

    def __post_init__(self) -> None:
        if self.blue_green and (self.kind is not WorkloadKind.DEPLOYMENT or self.recreate):
            raise ValueError(f"{self.identity.instance}: blue-green needs a Deployment that is not recreated")


class PlatformService(Construct):
    """Renders a long-lived service from its props; exposes the names other components need."""

    def __init__(self, scope: Scope, id: str, props: ServiceProps) -> None:
        super().__init__(scope, id)
        self.props = props
        self.name = props.identity.instance
        self.headless_name = f"{self.name}-headless"
        self.preview_name = f"{self.name}-preview"
        identity = props.identity

        k8s.KubeServiceAccount(
            self, "service-account",
            metadata=self._meta(self.name),
            automount_service_account_token=props.pod.mount_service_account_token,
        )
        template = k8s.PodTemplateSpec(
            metadata=k8s.ObjectMeta(labels=identity.labels, annotations=props.pod_annotations or None),
            spec=pod_spec(props.pod, self.name, self._topology_spread()),
        )
        selector = k8s.LabelSelector(match_labels=identity.selector)
        replicas = None if props.autoscaling else props.replicas
        if props.kind is WorkloadKind.STATEFUL_SET:
            self._stateful_set(template, selector, replicas)
        elif props.blue_green:
            self._rollout(template, selector, replicas, props.blue_green)
        else:
            self._deployment(template, selector, replicas)
        self._services()
        if self.max_replicas > 1:
            k8s.KubePodDisruptionBudget(
                self, "disruption-budget",
                metadata=self._meta(self.name),
                spec=k8s.PodDisruptionBudgetSpec(max_unavailable=int_or_string(1), selector=selector),
            )
        if props.autoscaling:
            self._autoscaler(props.autoscaling)

    @property
    def max_replicas(self) -> int:
        return self.props.autoscaling.max_replicas if self.props.autoscaling else self.props.replicas

    @property
    def exposed_ports(self) -> list[Port]:
        return [p for c in self.props.pod.containers for p in c.ports if p.expose]

    def _meta(self, name: str) -> k8s.ObjectMeta:
        return object_meta(self.props.identity, name, self.props.namespace, self.props.step)

    def _topology_spread(self) -> list[k8s.TopologySpreadConstraint] | None:
        if not (self.props.spread_across_nodes and self.max_replicas > 1):
            return None
        return [
            k8s.TopologySpreadConstraint(
                max_skew=1,
                topology_key="kubernetes.io/hostname",
                when_unsatisfiable="DoNotSchedule",
                label_selector=k8s.LabelSelector(match_labels=self.props.identity.selector),
            )
        ]

    def _deployment(self, template: k8s.PodTemplateSpec, selector: k8s.LabelSelector, replicas: int | None) -> None:
        if self.props.recreate:
            strategy = k8s.DeploymentStrategy(type="Recreate")
        else:
            # Never take a ready replica away before its replacement is ready.
            strategy = k8s.DeploymentStrategy(
                type="RollingUpdate",
                rolling_update=k8s.RollingUpdateDeployment(
                    max_unavailable=int_or_string(0), max_surge=int_or_string(1)
                ),
            )
        k8s.KubeDeployment(
            self, "workload",
            metadata=self._meta(self.name),
            spec=k8s.DeploymentSpec(
                replicas=replicas, selector=selector, template=template, strategy=strategy,
                revision_history_limit=5,
            ),
        )

    def _rollout(self, template: k8s.PodTemplateSpec, selector: k8s.LabelSelector, replicas: int | None,
                 blue_green: BlueGreen) -> None:
        BlueGreenRollout(
            self, "workload",
            metadata=self._meta(self.name),
            selector=selector,
            template=template,
            replicas=replicas,
            strategy=BlueGreenStrategy(
                active_service=self.name,
                preview_service=self.preview_name,
                auto_promote=blue_green.auto_promote,
                scale_down_delay_seconds=blue_green.scale_down_delay_seconds,
            ),
            revision_history_limit=5,
        )

    def _stateful_set(self, template: k8s.PodTemplateSpec, selector: k8s.LabelSelector, replicas: int | None) -> None:
        manifest = k8s.KubeStatefulSet.manifest(
            metadata=self._meta(self.name),
            spec=k8s.StatefulSetSpec(
                replicas=replicas,
                selector=selector,
                service_name=self.headless_name,
                template=template,
                pod_management_policy="Parallel" if self.props.parallel_start else "OrderedReady",
                update_strategy=k8s.StatefulSetUpdateStrategy(type="RollingUpdate"),
                persistent_volume_claim_retention_policy=k8s.StatefulSetPersistentVolumeClaimRetentionPolicy(
                    when_deleted="Retain", when_scaled="Retain"
                ),
                revision_history_limit=5,
            ),
        )
        if self.props.volume_claims:
            # volumeClaimTemplates are immutable: only stable labels, never the version.
            manifest["spec"]["volumeClaimTemplates"] = [
                claim_template(claim.name, self.props.identity.selector, claim.storage)
                for claim in self.props.volume_claims
            ]
        # Plain, so that the claims keep the apiVersion and kind the typed spec would drop.
        plain_object(self, "workload", manifest)

    def _services(self) -> None:
        ports = [
            k8s.ServicePort(name=p.name, port=p.number, target_port=int_or_string(p.name), protocol=p.protocol)
            for p in self.exposed_ports
        ]
        if not ports:
            return
        k8s.KubeService(
            self, "service",
            metadata=self._meta(self.name),
            spec=k8s.ServiceSpec(type="ClusterIP", selector=self.props.identity.selector, ports=ports),
        )
        if self.props.blue_green:
            # Argo Rollouts points it at the new version's pods until promotion.
            k8s.KubeService(
                self, "preview-service",
                metadata=self._meta(self.preview_name),
                spec=k8s.ServiceSpec(type="ClusterIP", selector=self.props.identity.selector, ports=ports),
            )
        stateful = self.props.kind is WorkloadKind.STATEFUL_SET
        if stateful or self.props.per_pod_dns:
            k8s.KubeService(
                self, "headless-service",
                metadata=self._meta(self.headless_name),
                spec=k8s.ServiceSpec(
                    cluster_ip="None",
                    # StatefulSet peers must resolve each other before they are ready.
                    publish_not_ready_addresses=stateful or None,
                    selector=self.props.identity.selector,
                    ports=ports,
                ),
            )

    def _autoscaler(self, autoscaling: Autoscaling) -> None:
        if self.props.blue_green:
            api_version, kind = ROLLOUT_API_VERSION, ROLLOUT_KIND
        else:
            api_version, kind = "apps/v1", self.props.kind.value
        k8s.KubeHorizontalPodAutoscalerV2(
            self, "autoscaler",
            # Degraded in Argo CD until the metrics server has samples: after every tier.
            metadata=final_meta(self.props.identity, self.name, self.props.namespace),
            spec=k8s.HorizontalPodAutoscalerSpecV2(
                scale_target_ref=k8s.CrossVersionObjectReferenceV2(api_version=api_version, kind=kind, name=self.name),
                min_replicas=autoscaling.min_replicas,
                max_replicas=autoscaling.max_replicas,
                metrics=[
                    k8s.MetricSpecV2(
                        type="Resource",
                        resource=k8s.ResourceMetricSourceV2(
                            name="cpu",
                            target=k8s.MetricTargetV2(
                                type="Utilization", average_utilization=autoscaling.target_cpu_utilization
                            ),
                        ),
                    )
                ],
            ),
        )
