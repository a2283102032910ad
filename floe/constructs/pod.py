"""The pod template every workload shares: security, scratch volumes, no ambient credentials."""

from dataclasses import dataclass, replace

from floe.constructs.container import Container
from floe.constructs.kube import k8s
from floe.constructs.security import RunAs


@dataclass(frozen=True)
class PodProps:
    containers: tuple[Container, ...]
    run_as: RunAs
    volumes: tuple[k8s.Volume, ...] = ()
    """Volumes besides the containers' scratch paths (ConfigMaps, Secrets, claims)."""
    init_containers: tuple[Container, ...] = ()
    restart_policy: str | None = None
    """Set by the Job constructs (:func:`restarted`); a long-lived workload's pods keep Kubernetes' ``Always``."""
    mount_service_account_token: bool = False
    """Only pods that call the Kubernetes API (the orchestrator) get a token."""
    termination_grace_period_seconds: int | None = None


def pod_spec(
    props: PodProps,
    service_account: str,
    topology_spread: list[k8s.TopologySpreadConstraint] | None = None,
) -> k8s.PodSpec:
    """The pod of a workload; ``service_account`` is the workload's own (created beside it)."""
    every = props.init_containers + props.containers
    scratch = {s.volume_name: s.volume() for c in every for s in c.scratch}
    return k8s.PodSpec(
        containers=[c.to_k8s() for c in props.containers],
        init_containers=[c.to_k8s() for c in props.init_containers] or None,
        volumes=[scratch[name] for name in sorted(scratch)] + list(props.volumes) or None,
        security_context=props.run_as.pod_security_context(),
        service_account_name=service_account,
        automount_service_account_token=props.mount_service_account_token,
        # Service links inject an env var per Service in the namespace; some images misread them.
        enable_service_links=False,
        restart_policy=props.restart_policy,
        termination_grace_period_seconds=props.termination_grace_period_seconds,
        topology_spread_constraints=topology_spread,
    )


def restarted(props: PodProps, policy: str) -> PodProps:
    """``props`` with the restart policy its workload dictates (a Job's pods: ``Never``); another one set by the
    caller is a mistake in floe, refused rather than overridden."""
    if props.restart_policy not in (None, policy):
        raise ValueError(f"restartPolicy {props.restart_policy!r}: these pods are always {policy!r}")
    return replace(props, restart_policy=policy)
