"""A container as a component describes it, rendered with the shared policies applied."""

from dataclasses import dataclass

from floe.config.resources import Resources
from floe.constructs.kube import k8s
from floe.constructs.probes import Probes
from floe.constructs.resources import resource_requirements
from floe.constructs.security import TMP, ScratchPath, container_security_context


@dataclass(frozen=True)
class Port:
    name: str
    number: int
    protocol: str = "TCP"
    expose: bool = True
    """Whether the component's Service publishes it."""


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    resources: Resources
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[k8s.EnvVar, ...] = ()
    ports: tuple[Port, ...] = ()
    probes: Probes = Probes()
    scratch: tuple[ScratchPath, ...] = (TMP,)
    """Paths the process writes that live only as long as the pod."""
    mounts: tuple[k8s.VolumeMount, ...] = ()
    """Mounts of the pod's other volumes (claims, ConfigMaps, Secrets)."""
    working_dir: str | None = None
    pre_stop: tuple[str, ...] = ()
    """A command run before the container is stopped (a database's fast shutdown)."""

    def to_k8s(self) -> k8s.Container:
        return k8s.Container(
            name=self.name,
            image=self.image,
            image_pull_policy="IfNotPresent",
            command=list(self.command) or None,
            args=list(self.args) or None,
            env=list(self.env) or None,
            ports=[
                k8s.ContainerPort(name=p.name, container_port=p.number, protocol=p.protocol) for p in self.ports
            ]
            or None,
            liveness_probe=self.probes.liveness.to_k8s() if self.probes.liveness else None,
            readiness_probe=self.probes.readiness.to_k8s() if self.probes.readiness else None,
            startup_probe=self.probes.startup.to_k8s() if self.probes.startup else None,
            resources=resource_requirements(self.resources),
            security_context=container_security_context(),
            volume_mounts=[s.mount() for s in self.scratch] + list(self.mounts) or None,
            working_dir=self.working_dir,
            lifecycle=(
                k8s.Lifecycle(pre_stop=k8s.LifecycleHandler(exec=k8s.ExecAction(command=list(self.pre_stop))))
                if self.pre_stop
                else None
            ),
            termination_message_policy="FallbackToLogsOnError",
        )
