"""``floe diff``, ``floe validate``, ``floe capacity``, ``floe topology``: the reviewer's and CI's tools."""

import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

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
from floe.cli.command import FloeCommand
from floe.cli.context import checked_names, console, err_console, one_environment, settings
from floe.cli.policy import file_problems, object_problems
from floe.cli.render import render_scratch, schema_problems
from floe.cli.tree import describe, environment_files, parse
from floe.components import cube, prometheus
from floe.config.releases import advisory_warnings
from floe.errors import FloeError
from floe.rendered import Json
from floe.synth import CAPACITY_FILE, GITOPS_DIR, TOPOLOGY_FILE, owned_folders
from floe.validation import Problem

EnvOption = Annotated[str | None, typer.Option("--env", "-e", metavar="NAME",
                                               help="Only this environment (default: all).")]


# -- diff -------------------------------------------------------------------------------------------------


def _git(where: Path, *args: str, stdin: str | None = None) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=where, input=stdin, capture_output=True, text=True,
                                check=False, timeout=60)
    except FileNotFoundError:
        raise FloeError("comparing with a commit needs git, which is not on PATH") from None
    if result.returncode:
        reason = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise FloeError(f"git {args[0]} failed in {where}: {reason}")
    return result.stdout


def git_files(ref: str, dist: Path, names: list[str] | None) -> dict[str, str]:
    """The files of ``dist/`` (the named environments' folders only, if given) as committed at ``ref``."""
    where = dist.resolve().parent
    try:
        top = Path(_git(where, "rev-parse", "--show-toplevel").strip())
    except FloeError:
        raise FloeError(f"--against {ref}: {where} is not inside a git repository") from None
    try:
        _git(where, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except FloeError:
        raise FloeError(f"--against {ref}: not a commit, branch or tag of the repository at {top}") from None
    base = (dist.resolve()).relative_to(top).as_posix()
    specs = [f"{base}/{folder}" for name in names for folder in owned_folders(name)] if names else [base]
    paths = [line for line in _git(top, "ls-tree", "-r", "--name-only", ref, "--", *specs).splitlines() if line]
    if not paths:
        return {}
    batch = _git(top, "cat-file", "--batch", stdin="".join(f"{ref}:{p}\n" for p in paths))
    files, rest = {}, batch.encode("utf-8")
    for path in paths:
        header, rest = rest.split(b"\n", 1)
        size = int(header.split()[2])
        files[path.removeprefix(f"{base}/")], rest = rest[:size].decode("utf-8"), rest[size + 1:]
    return files


def _committed(names: list[str] | None) -> dict[str, str] | None:
    """``dist/`` as committed at HEAD, or None where there is no commit to compare with."""
    try:
        return git_files("HEAD", settings.dist, names)
    except FloeError:
        return None


def _base(fresh: dict[str, str], names: list[str] | None, against: str | None) -> tuple[dict[str, str], str]:
    """What a fresh render is compared with, and how to name it.

    By default the working tree's ``dist/``; once that was re-rendered (it matches the render) but not committed,
    the committed tree, so that the re-render's changes are what is shown.
    """
    if against:
        return git_files(against, settings.dist, names), f"{settings.dist}/ as committed at {against}"
    working = environment_files(settings.dist, names)
    if working == fresh:
        committed = _committed(names)
        if committed is not None and committed != working:
            return committed, (f"{settings.dist}/ as committed at HEAD (the working tree's {settings.dist}/ was "
                               "re-rendered and already matches)")
    return working, f"{settings.dist}/ in the working tree"


class Format(str, Enum):
    text = "text"
    markdown = "markdown"


def diff(
    env: EnvOption = None,
    against: Annotated[str | None, typer.Option(metavar="REF", help="Compare with dist/ as committed at this git "
                                                                    "ref instead of the working tree.")] = None,
    output_format: Annotated[Format, typer.Option(
        "--format", help="text: every change, field by field, on the terminal. markdown: a report for a pull-request "
                         "comment, on stdout.")] = Format.text,
    link_base: Annotated[str, typer.Option(metavar="URL", help=(
        "markdown: the prefix that makes a repository path a link, e.g. "
        "https://github.com/OWNER/REPO/blob/SHA/ (default: links relative to the repository)."))] = "",
) -> None:
    """Compare a fresh render of the environment files with `dist/`, object by object, field by field.

    The base is the working tree's `dist/`, or, when that was re-rendered and already matches, `dist/` as committed
    at HEAD; `--against REF` names a commit. Warns loudly about every change Kubernetes refuses to make in place
    (selectors, StatefulSet volume claims, serviceName and podManagementPolicy, a Service's clusterIP, a shrinking
    PVC, a new storage class, the pod template of a Job that is not a sync hook): `floe platform deploy` and
    `upgrade` refuse the same changes. Exit code 1 on any difference, for CI.

    `--format markdown` writes a report fit for a pull-request comment instead: the changes refused in place first,
    objects added, changed and removed per environment and tier, the capacity delta per environment, image changes,
    links to the topology drawings, then each tier's changes field by field in collapsed sections (cut short to
    stay under a forge's comment size). Exit code 0 once the report is written, changes or not.
    """
    names = [one_environment(env).name] if env else None
    with err_console().status("rendering…"):
        fresh = render_scratch(names)
    old, where = _base(fresh, names, against)
    if output_format is Format.markdown:
        if against:
            commit = _git(settings.dist.resolve().parent, "rev-parse", "--short=12", f"{against}^{{commit}}").strip()
            where = f"`{_shown(settings.dist)}/` as committed at `{against}` ({commit})"
        else:
            where = where.replace(f"{settings.dist}/", f"`{_shown(settings.dist)}/`", 1)
        sys.stdout.write(markdown_report(old, fresh, where, dist=_shown(settings.dist), link_base=link_base,
                                         against=against))
        return
    out = console()
    out.print(f"comparing a fresh render of {settings.environments}/ with {where}", markup=False, soft_wrap=True)
    changes = compare_files(old, fresh)
    if not changes:
        out.print("no drift: they match")
        return
    refusals = refused_in_place(old, fresh)
    for path in changes.added:
        out.print(f"[green]+ {path}[/] (added)")
    for path in changes.removed:
        out.print(f"[red]- {path}[/] (removed)")
    for path in changes.changed:
        out.print(f"[yellow]~ {path}[/] (changed)")
        for line in field_changes(load_object(old[path]), load_object(fresh[path])):
            out.print(f"    {line}", markup=False)
        for refusal in refusals:
            if refusal.path == path:
                out.print(f"    [bold red]!! REFUSED IN PLACE: {refusal.problem}: the sync of this object will fail; "
                          "delete and recreate it (or plan a migration) as part of this change[/]")
    out.print(f"drift against {where}: {len(changes.added)} added, {len(changes.changed)} changed, "
              f"{len(changes.removed)} removed", markup=False)
    if refusals:
        out.print(f"[bold red]WARNING: {plural(len(refusals), 'change')} Kubernetes will refuse to make in place "
                  "(see !! above)[/]")
    raise typer.Exit(1)


# -- the pull-request report ------------------------------------------------------------------------------

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


def _shown(path: Path) -> str:
    """A folder as a reviewer reads it: relative to the working directory where it can be."""
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return path.as_posix()
    return path.as_posix()


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
    """A pull-request comment on what a change does to ``dist/`` (``old`` and ``new``: path → text).

    Deterministic: the same trees give the same text. Loud things first (changes refused in place), then the
    summary tables, then each environment's tiers in collapsed sections, with field-level detail while the
    comment stays under :data:`REPORT_LIMIT` characters.
    """
    changes = compare_files(old, new)
    lines = [REPORT_MARKER, "## floe: what this change does to the rendered manifests", "",
             f"A fresh render of the environment files compared with {where}."]
    if not changes:
        return "\n".join([*lines, "", "**No change** to the rendered manifests.", ""])
    refusals = refused_in_place(old, new)
    folders: dict[tuple[str, str], FileChanges] = {}
    for kind in ("added", "changed", "removed"):
        for path in getattr(changes, kind):
            getattr(folders.setdefault(place(path), FileChanges()), kind).append(path)
    folders = dict(sorted(folders.items(), key=lambda item: _place_order(item[0])))
    envs = sorted({env for env, _ in folders})
    lines += ["", f"**{len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed** "
                  f"in {', '.join(envs)}" + (f"; **⛔ {plural(len(refusals), 'change')} refused in place**"
                                              if refusals else "") + "."]
    if refusals:
        lines += ["", f"### ⛔ {plural(len(refusals), 'change')} Kubernetes refuses to make in place", "",
                  "> [!CAUTION]",
                  "> The sync of these objects will fail. Delete and recreate them (or plan a migration) as part of "
                  "this change; `floe platform deploy` and `floe platform upgrade` refuse them without "
                  "`--allow-recreate`.", "",
                  "| environment | object | refused change | file |", "|---|---|---|---|"]
        lines += [f"| {place(r.path)[0]} | {_cell(r.what)} | **{_cell(r.problem)}** | {_code(r.path)} |"
                  for r in refusals]
    lines += ["", "### Objects per environment and tier", "",
              "| environment | tier | added | changed | removed |", "|---|---|---:|---:|---:|"]
    for (env, tier), found in folders.items():
        refused = sum(1 for r in refusals if place(r.path) == (env, tier))
        lines.append(f"| {env} | {tier}{f' ⛔ {refused}' if refused else ''} | {len(found.added)} | "
                     f"{len(found.changed)} | {len(found.removed)} |")
    lines.append(f"| **total** | | **{len(changes.added)}** | **{len(changes.changed)}** | "
                 f"**{len(changes.removed)}** |")
    lines += ["", "### Capacity per environment", "",
              "Autoscaled workloads at their maximum; from each environment's rendered objects "
              f"(`{dist}/<env>/{CAPACITY_FILE}` has the table per layer and tier).", "",
              "| environment | pods | cpu requests | cpu limits | memory requests | memory limits | storage |",
              "|---|---:|---:|---:|---:|---:|---:|", *_capacity_rows(old, new, envs)]
    images = [(env, *row) for env in envs
              for row in image_changes(parse({p: t for p, t in old.items() if place(p)[0] == env}),
                                       parse({p: t for p, t in new.items() if place(p)[0] == env}))]
    lines += ["", "### Image changes", ""]
    if images:
        table = ["| environment | tier | workload | container | old | new |", "|---|---|---|---|---|---|"]
        table += [f"| {env} | {tier} | {_cell(workload)} | {container} | {_code(before)} | {_code(after)} |"
                  for env, tier, workload, container, before, after in images]
        if len(images) > COLLAPSE_IMAGES:
            table = ["<details>", f"<summary>{plural(len(images), 'image change')}</summary>", "", *table, "",
                     "</details>"]
        lines += table
    else:
        lines.append("None.")
    lines += ["", "### Topology", ""]
    for env in envs:
        path = f"{env}/{TOPOLOGY_FILE}"
        state = {**dict.fromkeys(changes.added, "added"), **dict.fromkeys(changes.changed, "changed"),
                 **dict.fromkeys(changes.removed, "removed")}.get(path)
        note = {"added": " (a new drawing)", "changed": " (redrawn by this change)",
                "removed": " (removed)"}.get(state or "", " (unchanged)")
        lines.append(f"- {env}: [{dist}/{path}]({link_base}{dist}/{path}){note}")
    lines += ["", "### Changes per environment and tier", ""]
    head = "\n".join(lines) + "\n"
    footer = (f"\n<sub>Made by `floe diff{f' --against {against}' if against else ''} --format markdown`; "
              "`floe diff` without `--format` shows every field of every change.</sub>\n")
    # Every object named first (brief sections); then field-level detail, tier by tier, while it fits.
    briefs = {where_: _section(where_, found, old, new, refusals, detail=False) for where_, found in folders.items()}
    spare = REPORT_LIMIT - len(head) - len(footer) - 500
    chosen, omitted = {}, []
    for where_, brief in briefs.items():
        if len(brief) <= spare:
            chosen[where_], spare = brief, spare - len(brief)
        else:
            omitted.append(where_)
    for where_ in chosen:
        full = _section(where_, folders[where_], old, new, refusals, detail=True)
        if len(full) - len(chosen[where_]) <= spare:
            chosen[where_], spare = full, spare - (len(full) - len(chosen[where_]))
    body = "".join(chosen.values())
    if omitted:
        body += (f"_{plural(len(omitted), 'more folder')} left out to keep this comment short "
                 f"({', '.join(f'{env}/{tier}' for env, tier in omitted)}): run `floe diff`._\n")
    return head + body + footer


# -- validate ---------------------------------------------------------------------------------------------


def _rendered(names: list[str]) -> dict[str, Json]:
    objects = {}
    for name in names:
        found = parse(environment_files(settings.dist, [name]))
        if not found:
            raise FloeError(f"{settings.dist}/{name} holds no rendered objects; run: floe platform deploy --env {name}")
        objects.update(found)
    return objects


def _drift(committed: dict[str, str], fresh: dict[str, str]) -> list[Problem]:
    changes = compare_files(committed, fresh)
    return ([Problem(f"{settings.dist}/{p}", "drift", "missing: a fresh render has this file") for p in changes.added]
            + [Problem(f"{settings.dist}/{p}", "drift", "stale: differs from a fresh render") for p in changes.changed]
            + [Problem(f"{settings.dist}/{p}", "drift", "stale: a fresh render no longer has this file")
               for p in changes.removed])


def validate(env: EnvOption = None) -> None:
    """Check the environment files and `dist/`: every environment file valid, `dist/` exactly what they render,
    Kubernetes schemas (kubeconform when installed, else embedded strict schemas), custom resources against their
    CRDs, and the platform's policies: images pinned, every service probed and bounded, the restricted Pod
    Security Standard, no Secret and no credential in any file under `dist/` or `environments/`. Warns, without
    failing, of each rendered image a known CVE of the release catalogue's advisories affects.
    Exit code 1 on any failure, each one listed; 2 for a mistake in an environment file.
    """
    names = checked_names(env)
    with err_console().status("rendering the environments to compare with dist/…"):
        fresh = render_scratch(names if env else None)
    committed = environment_files(settings.dist, names if env else None)
    with err_console().status("validating…"):
        problems = _drift(committed, fresh)
        objects = _rendered(names)
        problems += schema_problems(objects)
        problems += object_problems((f"{settings.dist}/{path}", obj) for path, obj in objects.items())
        scanned = [settings.dist / path for path in committed]
        scanned += [p for p in sorted(settings.environments.rglob("*")) if p.is_file()]
        problems += file_problems(scanned, Path.cwd())
    out = console()
    # Valid, but worth knowing: what an environment leaves out on purpose (failing or not).
    for name in names:
        environment = one_environment(name)
        for notice in (*cube.notices(environment), *prometheus.notices(environment)):
            out.print(f"notice: {name}: {notice}", markup=False, soft_wrap=True)
        # Known vulnerabilities of the images it renders: worth fixing, but no reason to refuse the render.
        for warning in advisory_warnings(environment.release.images):
            out.print(f"warning: {name}: {warning}", markup=False, soft_wrap=True)
    for problem in problems:
        out.print(Text("✗ ", style="red") + Text(str(problem)), soft_wrap=True)
    if any(problem.version == "drift" for problem in problems):
        out.print(f"{settings.dist}/ is not what the environment files render: re-render it with "
                  "floe platform deploy (or python -O main.py), review the diff and commit it", markup=False,
                  soft_wrap=True)
    if problems:
        out.print(f"[red]{plural(len(problems), 'problem')}[/] in {plural(len(objects), 'object')} of "
                  f"{', '.join(names)}")
        raise typer.Exit(1)
    out.print(f"[green]✓[/] {plural(len(objects), 'object')} of {', '.join(names)} match a fresh render and pass "
              f"the schemas and the policies; {plural(len(scanned), 'file')} hold no credential")


# -- capacity ---------------------------------------------------------------------------------------------


def capacity(env: EnvOption = None) -> None:
    """Requests, limits and storage per layer and tier (autoscaled workloads at their maximum), and the jobs
    namespace's quota, from `dist/`.
    """
    names = checked_names(env)
    out = console()
    for name in names:
        objects = list(_rendered([name]).values())
        table = Table(title=f"{name}: capacity")
        for index, column in enumerate(capacity_model.HEADERS):
            table.add_column(column, justify="left" if index < 2 else "right")
        rows = capacity_model.rows(objects)
        for index, row in enumerate(rows):
            table.add_row(*row, style="bold" if index == len(rows) - 1 else None, end_section=index == len(rows) - 2)
        out.print(table)
        for namespace, quota, hard in capacity_model.quotas(objects):
            out.print(f"quota {namespace}/{quota}: " + ", ".join(f"{k}={v}" for k, v in hard.items()), markup=False)


# -- topology ---------------------------------------------------------------------------------------------


def topology(env: Annotated[str | None, typer.Option("--env", "-e", metavar="NAME", help=(
        "The environment (default: $FLOE_ENV, or the only one there is)."))] = None) -> None:
    """Print one environment's topology drawing, `dist/<env>/topology.md`: its tiers in startup order with their
    waves, each component and its declared dependencies, the network paths the NetworkPolicies open, and the
    engines' sync chain, as Markdown with Mermaid diagrams (a forge draws them in a pull request). Where `dist/`
    lacks the file, prints a fresh render's.
    """
    name = one_environment(env).name
    path = settings.dist / name / TOPOLOGY_FILE
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        with err_console().status("rendering…"):
            text = render_scratch([name])[f"{name}/{TOPOLOGY_FILE}"]
        err_console().print(f"{path} does not exist: printing a fresh render's drawing (re-render {settings.dist}/ "
                            "to keep it)", markup=False, soft_wrap=True)
    sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    app.command("diff", cls=FloeCommand, epilog="Examples: `floe diff` · `floe diff --env prod --against origin/main`")(
        diff)
    app.command("validate", cls=FloeCommand, epilog="Examples: `floe validate` · `floe validate --env prod`")(validate)
    app.command("capacity", cls=FloeCommand, epilog="Examples: `floe capacity --env prod`")(capacity)
    app.command("topology", cls=FloeCommand,
                epilog="Examples: `floe topology --env prod` · `floe topology --env dev > topology.md`")(topology)
