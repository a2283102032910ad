"""Config files in ConfigMaps: deterministic text, mounted read-only, and a checksum that rolls pods.

Kubernetes does not restart pods when a mounted ConfigMap changes; the checksum annotation on
the pod template does, since it changes the template whenever a file's text does.
"""

import hashlib
from dataclasses import dataclass

import yaml

from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.rendered import Json
from floe.tiers import Step

CHECKSUM_ANNOTATION = "floe.dev/config-checksum"
CONFIG_VOLUME = "config"


def config_checksum(*texts: str) -> str:
    """The pod annotation value that rolls the pods whenever one of their config files changes."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]


class _PlainDumper(yaml.CSafeDumper):
    """libyaml's emitter (PyYAML's own is several times slower), writing a value shared by two keys twice,
    never as a YAML anchor and alias."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def config_text(config: Json) -> str:
    """A YAML config file, with sorted keys so its text (and checksum) is stable."""
    return yaml.dump(config, Dumper=_PlainDumper, sort_keys=True)


@dataclass(frozen=True)
class ConfigFiles:
    """A rendered ConfigMap of config files, and how a pod uses it."""

    name: str
    files: dict[str, str]
    volume_name: str = CONFIG_VOLUME
    """The name of its volume in a pod; a pod that mounts two ConfigMaps gives each its own."""

    @property
    def volume(self) -> k8s.Volume:
        return k8s.Volume(name=self.volume_name, config_map=k8s.ConfigMapVolumeSource(name=self.name))

    def mount(self, path: str) -> k8s.VolumeMount:
        """The files, read-only, at ``path``."""
        return k8s.VolumeMount(name=self.volume_name, mount_path=path, read_only=True)

    @property
    def annotations(self) -> dict[str, str]:
        """The pod-template annotation that rolls the pods when a file changes."""
        return {CHECKSUM_ANNOTATION: config_checksum(*self.files.values())}


def config_map(scope: Scope, identity: AppIdentity, name: str, namespace: str,
               files: dict[str, str], volume_name: str = CONFIG_VOLUME) -> ConfigFiles:
    """A ConfigMap of config files, synced before the servers that mount it."""
    k8s.KubeConfigMap(scope, name, metadata=object_meta(identity, name, namespace, Step.PREPARE), data=files)
    return ConfigFiles(name, files, volume_name)
