"""A bootstrap step: a Job that prepares a server once it is Ready, safe to run on every sync.

Argo CD runs it as a Sync hook in its wave and deletes the previous run first
(``BeforeHookCreation``), so each sync re-runs it; the step itself must be idempotent. Flux has
no hooks: the ``force`` annotation makes Flux recreate the Job when its (immutable) template
changes. No TTL is set, so a finished Job stays until the next sync replaces it, instead of
being re-created by Flux every reconcile.
"""

from dataclasses import dataclass, field

from floe.constructs.kube import Construct, Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.constructs.pod import PodProps, pod_spec, restarted
from floe.rendered import ARGO_HOOK
from floe.tiers import Step

ARGO_HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
FLUX_FORCE = "kustomize.toolkit.fluxcd.io/force"
RESTART_POLICY = "Never"
"""A failed attempt is a new pod, counted against the backoff limit, never a container restarted in place."""


@dataclass(frozen=True)
class BootstrapProps:
    identity: AppIdentity
    namespace: str
    pod: PodProps
    step: Step = Step.BOOTSTRAP
    backoff_limit: int = 4
    """Retries of a step that failed once its server answered (a request refused while the server
    settles); a step's script waits for its server with no count of its own (``until ...; do sleep``),
    so that wait is bounded by the deadline alone."""
    active_deadline_seconds: int = 600
    """How long the Job may run in all, waits and retries included."""
    pod_annotations: dict[str, str] = field(default_factory=dict)
    """On the pod template: a config checksum there changes the template, so Flux recreates the Job
    when only a mounted ConfigMap changed."""


class BootstrapJob(Construct):
    def __init__(self, scope: Scope, id: str, props: BootstrapProps) -> None:
        super().__init__(scope, id)
        name = props.identity.instance
        k8s.KubeServiceAccount(
            self, "service-account",
            metadata=object_meta(props.identity, name, props.namespace, props.step),
            automount_service_account_token=False,
        )
        k8s.KubeJob(
            self, "job",
            metadata=object_meta(
                props.identity, name, props.namespace, props.step,
                annotations={
                    ARGO_HOOK: "Sync",
                    ARGO_HOOK_DELETE_POLICY: "BeforeHookCreation",
                    FLUX_FORCE: "enabled",
                },
            ),
            spec=k8s.JobSpec(
                backoff_limit=props.backoff_limit,
                active_deadline_seconds=props.active_deadline_seconds,
                template=k8s.PodTemplateSpec(
                    metadata=k8s.ObjectMeta(labels=props.identity.labels, annotations=props.pod_annotations or None),
                    spec=pod_spec(restarted(props.pod, RESTART_POLICY), name),
                ),
            ),
        )
