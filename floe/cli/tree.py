"""Reading a rendered tree (``dist/`` or a scratch render) back into objects, and ordering them.

The order of a direct apply derives from :data:`floe.tiers.TIERS` like everything else: tier by
tier, inside a tier by sync wave, inside a wave by kind (what others consume first), then name.
"""

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from floe.rendered import Json, JsonView, copy_json
from floe.synth import owned_folders
from floe.tiers import SYNC_WAVE, TIERS, Tier

KUSTOMIZATION = "kustomization.yaml"
KIND_ORDER = ("Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "ServiceAccount", "Secret",
              "ExternalSecret", "ConfigMap", "PersistentVolumeClaim", "ClusterRole", "ClusterRoleBinding", "Role",
              "RoleBinding", "Service", "DaemonSet", "Deployment", "StatefulSet", "Rollout", "Job", "CronJob",
              "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress")


def read_files(root: Path, folders: Iterable[str] | None = None) -> dict[str, str]:
    """path relative to ``root`` → text, for every file (under ``folders`` only, if given)."""
    if not root.is_dir():
        return {}
    tops = [root / folder for folder in folders] if folders is not None else [root]
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for top in tops if top.is_dir() for p in sorted(top.rglob("*")) if p.is_file()}


def environment_files(dist: Path, names: Iterable[str] | None) -> dict[str, str]:
    """The files of the named environments (all of ``dist`` when ``names`` is None)."""
    if names is None:
        return read_files(dist)
    return read_files(dist, [folder for name in names for folder in owned_folders(name)])


def parse(files: Mapping[str, str]) -> dict[str, Json]:
    """path → object, for the files that are Kubernetes objects (kustomization files are not)."""
    objects = {}
    for path, text in files.items():
        if path.endswith(".yaml") and not path.endswith(KUSTOMIZATION):
            obj = load_yaml(text)
            if isinstance(obj, dict) and "kind" in obj:
                objects[path] = obj
    return objects


def load_yaml(text: str) -> Any:
    """The document ``text`` holds, as the caller's own copy (see :func:`_loaded`)."""
    return copy_json(_loaded(text))


@functools.lru_cache(maxsize=4096)
def _loaded(text: str) -> Any:
    """Parsed once per text: commands read trees that are mostly the same files (a diff's two sides, a fresh
    render and dist/), and copying a parsed object costs a fifth of parsing it again, even with libyaml's
    parser (PyYAML still builds the objects in Python)."""
    return yaml.load(text, Loader=yaml.CSafeLoader)


def wave(obj: JsonView) -> int:
    return int((obj["metadata"].get("annotations") or {}).get(SYNC_WAVE, 0))


def kind_rank(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


@dataclass(frozen=True)
class ApplyWave:
    """One sync wave of one tier in a direct apply: objects applied together, then waited for.

    (Not :class:`floe.tiers.Step`, which is where inside its tier an object syncs.)"""

    tier: Tier
    wave: int
    objects: tuple[Json, ...]


def plan(objects: Mapping[str, Json], environment: str, tiers: Iterable[Tier] = TIERS) -> list[ApplyWave]:
    """The apply order of one environment's objects (``objects`` keyed by path relative to ``dist/``)."""
    steps = []
    for tier in tiers:
        prefix = f"{environment}/{tier.folder}/"
        members = [obj for path, obj in objects.items() if path.startswith(prefix)]
        for number in sorted({wave(obj) for obj in members}):
            ordered = sorted((obj for obj in members if wave(obj) == number),
                             key=lambda o: (kind_rank(o["kind"]), o["metadata"]["name"]))
            steps.append(ApplyWave(tier, number, tuple(ordered)))
    return steps


def describe(obj: JsonView) -> str:
    namespace = obj["metadata"].get("namespace")
    return f"{obj['kind']}/{obj['metadata']['name']}" + (f" ({namespace})" if namespace else "")
