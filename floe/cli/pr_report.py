"""The pull-request report of ``floe diff --format markdown``: what a change does to ``dist/``, for a comment.

Deterministic (the same trees give the same text) and bounded (:data:`REPORT_LIMIT`): the changes
Kubernetes refuses in place first, then the summary tables (objects, capacity, images, topology), then
each environment's tiers in collapsed sections, with field-level detail while the comment fits.
"""

import re
from collections.abc import Callable, Mapping
from decimal import Decimal

from floe import capacity as capacity_model
from floe.cli.changes import (
    FileChanges,
    Refusal,
    compare_files,
    field_changes,
    image_changes,
    load_object,
    plural,
    refused_in_place,
)
from floe.cli.tree import describe, parse
from floe.rendered import Json
from floe.synth import CAPACITY_FILE, GITOPS_DIR, TOPOLOGY_FILE, owned_folders

Folders = dict[tuple[str, str], FileChanges]
"""(environment, tier folder) → the changes inside it, in report order."""

REPORT_MARKER = "<!-- floe diff --format markdown -->"
"""The report's first line: what a bot looks for to update its earlier comment instead of adding one."""
REPORT_LIMIT = 60_000
"""Characters: GitHub refuses a comment above 65,536, GitLab a note above 1,000,000."""
FIELD_LINES = 12
"""Field-level lines shown per changed object; `floe diff` shows them all."""
COLLAPSE_IMAGES = 20
"""More image changes than this (a platform upgrade) go into a collapsed section."""
REPORTS = "reports"
"""The 'tier' of an environment's own files (capacity.md, topology.md)."""


def place(path: str) -> tuple[str, str]:
    """(environment, tier folder) of a path in ``dist/``: ``gitops/<env>/…`` is the environment's ``gitops``."""
    parts = path.split("/")
    if parts[0] == GITOPS_DIR and len(parts) > 2:
        return parts[1], GITOPS_DIR
    return parts[0], parts[1] if len(parts) > 2 else REPORTS


def _place_order(item: tuple[str, str]) -> tuple[str, int, str]:
    env, tier = item
    return env, {GITOPS_DIR: 1, REPORTS: 2}.get(tier, 0), tier


def _cell(text: object) -> str:
    """Text that cannot break a Markdown table row."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if fence != "`" else f"`{text}`"


def _block(lines: list[str]) -> list[str]:
    """A fenced block longer than any backtick run inside it."""
    fence = "`" * max(3, max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0) + 1)
    return [f"{fence}text", *lines, fence]


def _delta(before: Decimal, after: Decimal, show: Callable[[Decimal], str]) -> str:
    if before == after:
        return show(after)
    change = after - before
    sign = "+" if change > 0 else "−"
    return f"{show(before)} → **{show(after)}** ({sign}{show(abs(change))})"


def _environment_objects(files: Mapping[str, str], env: str) -> list[Json]:
    folders = tuple(f"{folder}/" for folder in owned_folders(env))
    return list(parse({path: text for path, text in files.items() if path.startswith(folders)}).values())


def _what(text: str | None) -> str:
    obj = load_object(text) if text is not None else None
    return describe(obj) if isinstance(obj, dict) and "kind" in obj and isinstance(obj.get("metadata"), dict) else ""


def _capacity_rows(old: Mapping[str, str], new: Mapping[str, str], envs: list[str]) -> list[str]:
    rows = []
    for env in envs:
        before = capacity_model.total(_environment_objects(old, env))
        after = capacity_model.total(_environment_objects(new, env))
        cells = [_delta(Decimal(before.pods), Decimal(after.pods), lambda value: str(int(value)))]
        for side in ("requests", "limits"):
            cells.append(_delta(getattr(before, side)["cpu"], getattr(after, side)["cpu"], capacity_model.cpu))
        for side in ("requests", "limits"):
            cells.append(_delta(getattr(before, side)["memory"], getattr(after, side)["memory"], capacity_model.size))
        cells.append(_delta(before.storage, after.storage, capacity_model.size))
        unchanged = "" if (before.pods, before.requests, before.limits, before.storage) != (
            after.pods, after.requests, after.limits, after.storage) else " (unchanged)"
        rows.append(f"| {env}{unchanged} | " + " | ".join(cells) + " |")
    return rows


def _object_lines(path: str, kind: str, old: Mapping[str, str], new: Mapping[str, str],
                  refusals: list[Refusal], detail: bool) -> list[str]:
    mark = {"added": "+", "changed": "~", "removed": "−"}[kind]
    what = _what(new.get(path) if kind != "removed" else old.get(path))
    lines = ["", f"{mark} {_code(path)}" + (f" {_cell(what)}" if what else "") + f" ({kind})  "]
    lines += [f"⛔ **refused in place:** {_cell(r.problem)}  " for r in refusals if r.path == path]
    if kind == "changed" and detail:
        fields = field_changes(load_object(old[path]), load_object(new[path]))
        if len(fields) > FIELD_LINES:
            fields = [*fields[:FIELD_LINES], f"… {len(fields) - FIELD_LINES} more lines: run floe diff"]
        lines += ["", *_block(fields)] if fields else []
    return lines


def _section(where: tuple[str, str], changes: FileChanges, old: Mapping[str, str], new: Mapping[str, str],
             refusals: list[Refusal], detail: bool) -> str:
    counts = ", ".join(f"{len(getattr(changes, kind))} {kind}" for kind in ("added", "changed", "removed")
                       if getattr(changes, kind))
    refused = sum(1 for r in refusals if place(r.path) == where)
    loud = f" · ⛔ {refused} refused in place" if refused else ""
    lines = ["<details>", f"<summary><b>{where[0]}</b> · {where[1]}: {counts}{loud}</summary>"]
    for kind in ("added", "changed", "removed"):
        for path in getattr(changes, kind):
            lines += _object_lines(path, kind, old, new, refusals, detail)
    if not detail and changes.changed:
        lines += ["", "_Field-level changes left out to keep this comment short: run `floe diff`._"]
    return "\n".join([*lines, "", "</details>", ""]) + "\n"


def markdown_report(old: Mapping[str, str], new: Mapping[str, str], where: str, *, dist: str = "dist",
                    link_base: str = "", against: str | None = None) -> str:
    """A pull-request comment on what a change does to ``dist/`` (``old`` and ``new``: path → text), the base
    named by ``where``; ``dist`` is the tree's folder as links show it, ``link_base`` their prefix."""
    changes = compare_files(old, new)
    lines = [REPORT_MARKER, "## floe: what this change does to the rendered manifests", "",
             f"A fresh render of the environment files compared with {where}."]
    if not changes:
        return "\n".join([*lines, "", "**No change** to the rendered manifests.", ""])
    refusals = refused_in_place(old, new)
    folders = _folders(changes)
    envs = sorted({env for env, _ in folders})
    lines += ["", f"**{len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed** "
                  f"in {', '.join(envs)}" + (f"; **⛔ {plural(len(refusals), 'change')} refused in place**"
                                              if refusals else "") + "."]
    lines += _refusal_lines(refusals) + _folder_table(changes, folders, refusals)
    lines += _capacity_section(old, new, envs, dist) + _image_section(old, new, envs)
    lines += _topology_section(changes, envs, dist, link_base)
    lines += ["", "### Changes per environment and tier", ""]
    head = "\n".join(lines) + "\n"
    footer = (f"\n<sub>Made by `floe diff{f' --against {against}' if against else ''} --format markdown`; "
              "`floe diff` without `--format` shows every field of every change.</sub>\n")
    return head + _sections(folders, old, new, refusals, REPORT_LIMIT - len(head) - len(footer) - 500) + footer


def _folders(changes: FileChanges) -> Folders:
    """The changes grouped by environment and tier, in report order."""
    folders: Folders = {}
    for kind in ("added", "changed", "removed"):
        for path in getattr(changes, kind):
            getattr(folders.setdefault(place(path), FileChanges()), kind).append(path)
    return dict(sorted(folders.items(), key=lambda item: _place_order(item[0])))


def _refusal_lines(refusals: list[Refusal]) -> list[str]:
    if not refusals:
        return []
    lines = ["", f"### ⛔ {plural(len(refusals), 'change')} Kubernetes refuses to make in place", "",
             "> [!CAUTION]",
             "> The sync of these objects will fail. Delete and recreate them (or plan a migration) as part of "
             "this change; `floe platform deploy` and `floe platform upgrade` refuse them without "
             "`--allow-recreate`.", "",
             "| environment | object | refused change | file |", "|---|---|---|---|"]
    return lines + [f"| {place(r.path)[0]} | {_cell(r.what)} | **{_cell(r.problem)}** | {_code(r.path)} |"
                    for r in refusals]


def _folder_table(changes: FileChanges, folders: Folders, refusals: list[Refusal]) -> list[str]:
    lines = ["", "### Objects per environment and tier", "",
             "| environment | tier | added | changed | removed |", "|---|---|---:|---:|---:|"]
    for (env, tier), found in folders.items():
        refused = sum(1 for r in refusals if place(r.path) == (env, tier))
        lines.append(f"| {env} | {tier}{f' ⛔ {refused}' if refused else ''} | {len(found.added)} | "
                     f"{len(found.changed)} | {len(found.removed)} |")
    lines.append(f"| **total** | | **{len(changes.added)}** | **{len(changes.changed)}** | "
                 f"**{len(changes.removed)}** |")
    return lines


def _capacity_section(old: Mapping[str, str], new: Mapping[str, str], envs: list[str], dist: str) -> list[str]:
    return ["", "### Capacity per environment", "",
            "Autoscaled workloads at their maximum; from each environment's rendered objects "
            f"(`{dist}/<env>/{CAPACITY_FILE}` has the table per layer and tier).", "",
            "| environment | pods | cpu requests | cpu limits | memory requests | memory limits | storage |",
            "|---|---:|---:|---:|---:|---:|---:|", *_capacity_rows(old, new, envs)]


def _image_section(old: Mapping[str, str], new: Mapping[str, str], envs: list[str]) -> list[str]:
    images = [(env, *row) for env in envs
              for row in image_changes(parse({p: t for p, t in old.items() if place(p)[0] == env}),
                                       parse({p: t for p, t in new.items() if place(p)[0] == env}))]
    if not images:
        return ["", "### Image changes", "", "None."]
    table = ["| environment | tier | workload | container | old | new |", "|---|---|---|---|---|---|"]
    table += [f"| {env} | {tier} | {_cell(workload)} | {container} | {_code(before)} | {_code(after)} |"
              for env, tier, workload, container, before, after in images]
    if len(images) > COLLAPSE_IMAGES:
        table = ["<details>", f"<summary>{plural(len(images), 'image change')}</summary>", "", *table, "",
                 "</details>"]
    return ["", "### Image changes", "", *table]


def _topology_section(changes: FileChanges, envs: list[str], dist: str, link_base: str) -> list[str]:
    states = {**dict.fromkeys(changes.added, "added"), **dict.fromkeys(changes.changed, "changed"),
              **dict.fromkeys(changes.removed, "removed")}
    notes = {"added": " (a new drawing)", "changed": " (redrawn by this change)", "removed": " (removed)"}
    lines = ["", "### Topology", ""]
    for env in envs:
        path = f"{env}/{TOPOLOGY_FILE}"
        note = notes.get(states.get(path, ""), " (unchanged)")
        lines.append(f"- {env}: [{dist}/{path}]({link_base}{dist}/{path}){note}")
    return lines


def _sections(folders: Folders, old: Mapping[str, str], new: Mapping[str, str], refusals: list[Refusal],
              spare: int) -> str:
    """Every folder's section within ``spare`` characters: every object named first (brief sections), then
    field-level detail, tier by tier, while it fits; the folders left out named at the end."""
    briefs = {where: _section(where, found, old, new, refusals, detail=False) for where, found in folders.items()}
    chosen, omitted = {}, []
    for where, brief in briefs.items():
        if len(brief) <= spare:
            chosen[where], spare = brief, spare - len(brief)
        else:
            omitted.append(where)
    for where in chosen:
        full = _section(where, folders[where], old, new, refusals, detail=True)
        if len(full) - len(chosen[where]) <= spare:
            chosen[where], spare = full, spare - (len(full) - len(chosen[where]))
    body = "".join(chosen.values())
    if omitted:
        body += (f"_{plural(len(omitted), 'more folder')} left out to keep this comment short "
                 f"({', '.join(f'{env}/{tier}' for env, tier in omitted)}): run `floe diff`._\n")
    return body
