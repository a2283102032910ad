"""Security policy: Pod Security Standard ``restricted`` with a read-only root filesystem.

A component states only its user, group and the paths its process writes; each such path gets
an emptyDir so the root filesystem can stay read-only.
"""

import re
from dataclasses import dataclass

from floe.constructs.kube import k8s, quantity


@dataclass(frozen=True)
class RunAs:
    """The identity a component's image is built to run as."""

    user: int
    group: int
    fs_group: int | None = None
    """Group that owns mounted volumes; needed when the process writes to a persistent volume."""

    def pod_security_context(self) -> k8s.PodSecurityContext:
        return k8s.PodSecurityContext(
            run_as_non_root=True,
            run_as_user=self.user,
            run_as_group=self.group,
            fs_group=self.fs_group,
            fs_group_change_policy="OnRootMismatch" if self.fs_group is not None else None,
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
        )


def container_security_context() -> k8s.SecurityContext:
    """The same for every container: nothing to escalate, no capabilities, nothing to write."""
    return k8s.SecurityContext(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.Capabilities(drop=["ALL"]),
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


@dataclass(frozen=True)
class ScratchPath:
    """A path the process writes that must not outlive the pod (an emptyDir)."""

    path: str
    in_memory: bool = False
    size_limit: str | None = None

    @property
    def volume_name(self) -> str:
        return "scratch-" + (re.sub(r"[^a-z0-9]+", "-", self.path.lower()).strip("-") or "root")

    def volume(self) -> k8s.Volume:
        return k8s.Volume(
            name=self.volume_name,
            empty_dir=k8s.EmptyDirVolumeSource(
                medium="Memory" if self.in_memory else None,
                size_limit=quantity(self.size_limit) if self.size_limit else None,
            ),
        )

    def mount(self) -> k8s.VolumeMount:
        return k8s.VolumeMount(name=self.volume_name, mount_path=self.path)


TMP = ScratchPath("/tmp", size_limit="1Gi")
