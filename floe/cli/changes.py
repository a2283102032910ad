"""What changed between two renders: per-file summaries, field-level detail, and the changes
Kubernetes refuses to make in place (which would make a GitOps sync, or a rolling upgrade, fail).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml
from deepdiff import DeepDiff

from floe.cli.tree import is_hook
from floe.config.types import quantity_decimal


@dataclass
class FileChanges:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


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


def _dotted(parts: list) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(object)"


def _short(value: object, limit: int = 100) -> str:
    if isinstance(value, str) and "\n" in value:
        return f"<{value.count(chr(10)) + 1} lines of text>"
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip() \
        if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def field_changes(old: object, new: object) -> list[str]:
    """One line per changed field: ``path: old → new``, ``path: added …``, ``path: removed …``."""
    diff = DeepDiff(old, new, view="tree", verbose_level=2)
    lines = []
    for report, levels in diff.items():
        for level in levels:
            path = _dotted(level.path(output_format="list"))
            if report.endswith("_added"):
                lines.append(f"{path}: added {_short(level.t2)}")
            elif report.endswith("_removed"):
                lines.append(f"{path}: removed {_short(level.t1)}")
            else:
                lines.append(f"{path}: {_short(level.t1)} → {_short(level.t2)}")
    return sorted(lines)


def _at(obj: Mapping | None, *path: str) -> object:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


STATEFULSET_IMMUTABLE = ("selector", "volumeClaimTemplates", "serviceName", "podManagementPolicy")


def immutable_changes(old: Mapping, new: Mapping) -> list[str]:
    """Every change between two versions of one object that Kubernetes will refuse to make in place."""
    kind, problems = new["kind"], []
    if kind != old.get("kind"):
        return problems
    fields = {"Deployment": ("selector",), "StatefulSet": STATEFULSET_IMMUTABLE}.get(kind, ())
    problems += [f"spec.{name} changed" for name in fields if _at(old, "spec", name) != _at(new, "spec", name)]
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
