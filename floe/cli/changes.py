"""What changed between two renders: per-file summaries, field-level detail, and the change guard.

The guard (:func:`refused_in_place`) finds the changes Kubernetes refuses to make in place, which
would make a GitOps sync (or a direct apply) fail. ``floe diff`` shows them, ``floe platform
deploy`` and ``floe platform upgrade`` refuse them unless told the objects will be recreated: all
three call the same function, so what one flags the others flag.
"""

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from deepdiff import DeepDiff

from floe.cli.tree import KUSTOMIZATION, describe, load_yaml
from floe.config.types import quantity_decimal
from floe.constructs.labels import TIER
from floe.rendered import POD_KINDS, Json, JsonView, is_hook, pod_spec
from floe.tiers import TIERS


@dataclass
class FileChanges:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def __len__(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


def compare_files(old: Mapping[str, str], new: Mapping[str, str]) -> FileChanges:
    return FileChanges(
        added=sorted(set(new) - set(old)),
        changed=sorted(p for p in set(old) & set(new) if old[p] != new[p]),
        removed=sorted(set(old) - set(new)),
    )


def folder_of(path: str) -> str:
    """The folder a file belongs to in a summary: ``<env>/<NN-tier>`` or ``gitops/<env>``."""
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def by_folder(changes: FileChanges) -> dict[str, FileChanges]:
    folders: dict[str, FileChanges] = {}
    for kind in ("added", "changed", "removed"):
        for path in getattr(changes, kind):
            getattr(folders.setdefault(folder_of(path), FileChanges()), kind).append(path)
    return dict(sorted(folders.items()))


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# -- field-level detail -------------------------------------------------------------------------------------


class _Named(str):
    """A list item's ``name``, standing for its position: Kubernetes lists (containers, env, ports,
    volumes) are keyed by name, so an insertion shows as one item added, not every later one changed."""


def _keyed(value: object) -> object:
    if isinstance(value, Mapping):
        return {key: _keyed(item) for key, item in value.items()}
    if isinstance(value, list):
        names = [item.get("name") for item in value if isinstance(item, Mapping)]
        if len(names) == len(value) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return {_Named(item["name"]): _keyed(item) for item in value}
        return [_keyed(item) for item in value]
    return value


def _dotted(parts: Sequence[object]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int | _Named) else (f".{part}" if text else str(part))
    return text or "(file)"


def _order(parts: Sequence[object]) -> tuple[tuple[int, int, str], ...]:
    """Document order: keys by name, list indexes by number (``[2]`` before ``[10]``)."""
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in parts)


def _short(value: object, limit: int = 100) -> str:
    text = repr(value) if isinstance(value, str) else \
        yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def text_changes(old: str, new: str) -> list[str]:
    """The changed lines of a text (a config file, ``capacity.md``), as ``-old`` and ``+new``."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [line for line in lines if not line.startswith(("---", "+++", "@@"))]


def field_changes(old: object, new: object) -> list[str]:
    """What changed, in document order: ``path: old → new``, ``path: added …``, ``path: removed …``;
    a multi-line text as its changed lines under its path."""
    diff = DeepDiff(_keyed(old), _keyed(new), view="tree", verbose_level=2)
    found = []
    for report, levels in diff.items():
        for level in levels:
            parts = level.path(output_format="list")
            path = _dotted(parts)
            if report.endswith("_added"):
                found.append((parts, [f"{path}: added {_short(level.t2)}"]))
            elif report.endswith("_removed"):
                found.append((parts, [f"{path}: removed {_short(level.t1)}"]))
            elif isinstance(level.t1, str) and isinstance(level.t2, str) and "\n" in level.t1 + level.t2:
                found.append((parts, [f"{path}:", *(f"  {line}" for line in text_changes(level.t1, level.t2))]))
            else:
                found.append((parts, [f"{path}: {_short(level.t1)} → {_short(level.t2)}"]))
    return [line for _, lines in sorted(found, key=lambda item: _order(item[0])) for line in lines]


# -- the change guard ---------------------------------------------------------------------------------------


def _at(obj: JsonView | None, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


STATEFULSET_IMMUTABLE = ("selector", "volumeClaimTemplates", "serviceName", "podManagementPolicy")


def _as_stored(field: str, value: object) -> object:
    """A spec field as the API server stores it: it adds ``apiVersion`` and ``kind`` to each claim template,
    so a render that writes them (or stops writing them) changes nothing in the cluster."""
    if field == "volumeClaimTemplates" and isinstance(value, list):
        return [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", **template} for template in value]
    return value


def immutable_changes(old: JsonView, new: JsonView) -> list[str]:
    """Every change between two versions of one object that Kubernetes will refuse to make in place."""
    kind = new["kind"]
    problems: list[str] = []
    if kind != old.get("kind"):
        return problems
    fields = {"Deployment": ("selector",), "StatefulSet": STATEFULSET_IMMUTABLE}.get(kind, ())
    problems += [f"spec.{name} changed" for name in fields
                 if _as_stored(name, _at(old, "spec", name)) != _as_stored(name, _at(new, "spec", name))]
    if kind == "Service" and _at(old, "spec", "clusterIP") != _at(new, "spec", "clusterIP"):
        problems.append(f"spec.clusterIP changed ({_at(old, 'spec', 'clusterIP')} → {_at(new, 'spec', 'clusterIP')})")
    if kind == "PersistentVolumeClaim":
        before = _at(old, "spec", "resources", "requests", "storage")
        after = _at(new, "spec", "resources", "requests", "storage")
        if before and after and quantity_decimal(after) < quantity_decimal(before):
            problems.append(f"storage request shrinks ({before} → {after}); a volume cannot shrink")
        if _at(old, "spec", "storageClassName") != _at(new, "spec", "storageClassName"):
            problems.append(f"spec.storageClassName changed ({_at(old, 'spec', 'storageClassName')} → "
                            f"{_at(new, 'spec', 'storageClassName')})")
    if kind == "Job" and not (is_hook(old) or is_hook(new)) and _at(old, "spec", "template") != _at(new, "spec",
                                                                                                   "template"):
        problems.append("spec.template changed on a Job that is not a sync hook (a Job's pod template is immutable)")
    return problems


@dataclass(frozen=True)
class Refusal:
    """One change Kubernetes refuses to make in place: the file (in the new tree), the object, why."""

    path: str
    what: str
    problem: str

    def __str__(self) -> str:
        return f"{self.what}: {self.problem}"


def load_object(text: str) -> object:
    """A file's parsed content, or its text when it is not YAML (``capacity.md``)."""
    try:
        return load_yaml(text)
    except yaml.YAMLError:
        return text


def _objects(files: Mapping[str, str]) -> dict[tuple[str, str | None, str | None], tuple[str, Json]]:
    """(kind, namespace, name) → (path, object): an object keeps its identity when it moves to another file."""
    found = {}
    for path, text in files.items():
        obj = load_object(text) if path.endswith(".yaml") and not path.endswith(KUSTOMIZATION) else None
        if isinstance(obj, dict) and "kind" in obj:
            meta = obj.get("metadata") or {}
            found[(obj["kind"], meta.get("namespace"), meta.get("name"))] = (path, obj)
    return found


def refused_in_place(old: Mapping[str, str], new: Mapping[str, str]) -> list[Refusal]:
    """Every change from the ``old`` tree to the ``new`` one (path → text) that Kubernetes refuses in place."""
    changed = {path for path in new if old.get(path) != new[path]}
    before = _objects({path: text for path, text in old.items() if new.get(path) != text})
    refusals = []
    for key, (path, obj) in sorted(_objects({p: new[p] for p in changed}).items(), key=lambda item: item[1][0]):
        if key in before:
            refusals += [Refusal(path, describe(obj), problem) for problem in immutable_changes(before[key][1], obj)]
    return refusals


# -- image changes ------------------------------------------------------------------------------------------


def _images(obj: JsonView) -> dict[str, str]:
    """Container name → image of a workload (nothing for other kinds, or an object not rendered before)."""
    if obj["kind"] not in POD_KINDS or not obj.get("spec"):
        return {}
    pod = pod_spec(obj)
    return {c["name"]: c["image"] for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]}


def image_changes(before: Mapping[str, JsonView],
                  after: Mapping[str, JsonView]) -> list[tuple[str, str, str, str, str]]:
    """(tier, workload, container, old image, new image) for every container whose image changes between two
    parsed trees (path → object), in startup order; a workload or container that is new is not a change of image.
    ``floe platform upgrade`` and ``floe diff --format markdown`` both show these."""
    rows = []
    for path, new in after.items():
        old_images, new_images = _images(before.get(path, {"kind": new["kind"]})), _images(new)
        tier = (new["metadata"].get("labels") or {}).get(TIER, "")
        for container, image in new_images.items():
            if old_images.get(container, image) != image:
                rows.append((tier, describe(new), container, old_images[container], image))
    order = {tier.name: index for index, tier in enumerate(TIERS)}
    return sorted(rows, key=lambda row: (order.get(row[0], len(order)), row[1], row[2]))
