"""``floe diff``, ``floe validate``, ``floe capacity``, ``floe topology``: the reviewer's and CI's tools."""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from floe import capacity as capacity_model
from floe.cli.changes import compare_files, field_changes, load_object, plural, refused_in_place
from floe.cli.command import FloeCommand
from floe.cli.context import Settings, console, err_console, settings
from floe.cli.pr_report import markdown_report
from floe.cli.render import render_scratch, schema_problems
from floe.cli.tree import environment_files, parse
from floe.components import cube, postgres, prometheus
from floe.config.releases import advisory_warnings
from floe.errors import FloeError
from floe.git import GitError, commit_of, committed_files
from floe.policy import file_problems, object_problems
from floe.rendered import Json, pod_specs
from floe.synth import TOPOLOGY_FILE, owned_folders
from floe.validation import Problem

EnvOption = Annotated[str | None, typer.Option("--env", "-e", metavar="NAME",
                                               help="Only this environment (default: all).")]


# -- diff -------------------------------------------------------------------------------------------------


def _committed(dist: Path, ref: str, names: list[str] | None) -> dict[str, str]:
    """``dist`` (the named environments' folders only, if given) as committed at ``ref``."""
    folders = [folder for name in names for folder in owned_folders(name)] if names else None
    try:
        return committed_files(ref, dist, folders)
    except GitError as error:
        raise FloeError(f"--against {error}") from None


def _base(options: Settings, fresh: dict[str, str], names: list[str] | None,
          against: str | None) -> tuple[dict[str, str], str]:
    """What a fresh render is compared with, and how to name it.

    By default the working tree's ``dist/``; once that was re-rendered (it matches the render) but not committed,
    the committed tree, so that the re-render's changes are what is shown.
    """
    dist = options.dist
    if against:
        return _committed(dist, against, names), f"{dist}/ as committed at {against}"
    working = environment_files(dist, names)
    if working == fresh:
        try:
            committed: dict[str, str] | None = _committed(dist, "HEAD", names)
        except FloeError:  # no repository, or no commit yet: nothing else to compare with
            committed = None
        if committed is not None and committed != working:
            return committed, (f"{dist}/ as committed at HEAD (the working tree's {dist}/ was "
                               "re-rendered and already matches)")
    return working, f"{dist}/ in the working tree"


def _shown(path: Path) -> str:
    """A folder as a reviewer reads it: relative to the working directory where it can be."""
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return path.as_posix()
    return path.as_posix()


class Format(str, Enum):
    text = "text"
    markdown = "markdown"


def diff(
    ctx: typer.Context,
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
    options = settings(ctx)
    names = [options.one_environment(env).name] if env else None
    with err_console().status("rendering…"):
        fresh = render_scratch(names, options.environments)
    old, where = _base(options, fresh, names, against)
    if output_format is Format.markdown:
        shown = _shown(options.dist)
        if against:
            where = f"`{shown}/` as committed at `{against}` ({commit_of(options.dist.resolve().parent, against, 12)})"
        else:
            where = where.replace(f"{options.dist}/", f"`{shown}/`", 1)
        sys.stdout.write(markdown_report(old, fresh, where, dist=shown, link_base=link_base, against=against))
        return
    console().print(f"comparing a fresh render of {options.environments}/ with {where}", markup=False,
                    soft_wrap=True)
    if _print_drift(old, fresh, where):
        raise typer.Exit(1)


def _print_drift(old: dict[str, str], fresh: dict[str, str], where: str) -> bool:
    """Print every change from ``old`` to ``fresh``, field by field, the refused ones loudly; any change at all?"""
    out = console()
    changes = compare_files(old, fresh)
    if not changes:
        out.print("no drift: they match")
        return False
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
    return True


# -- validate ---------------------------------------------------------------------------------------------


def _rendered(dist: Path, names: list[str]) -> dict[str, Json]:
    objects = {}
    for name in names:
        found = parse(environment_files(dist, [name]))
        if not found:
            raise FloeError(f"{dist}/{name} holds no rendered objects; run: floe platform deploy --env {name}")
        objects.update(found)
    return objects


def _drift(dist: Path, committed: dict[str, str], fresh: dict[str, str]) -> list[Problem]:
    changes = compare_files(committed, fresh)
    return ([Problem(f"{dist}/{p}", "drift", "missing: a fresh render has this file") for p in changes.added]
            + [Problem(f"{dist}/{p}", "drift", "stale: differs from a fresh render") for p in changes.changed]
            + [Problem(f"{dist}/{p}", "drift", "stale: a fresh render no longer has this file")
               for p in changes.removed])


def validate(ctx: typer.Context, env: EnvOption = None) -> None:
    """Check the environment files and `dist/`: every environment file valid, `dist/` exactly what they render,
    Kubernetes schemas (kubeconform when installed, else embedded strict schemas), custom resources against their
    CRDs, and the platform's policies: images pinned, every service probed and bounded, the restricted Pod
    Security Standard, no Secret and no credential in any file under `dist/` or `environments/`. Warns, without
    failing, of each rendered image a known CVE of the release catalogue's advisories affects.
    Exit code 1 on any failure, each one listed; 2 for a mistake in an environment file.
    """
    options = settings(ctx)
    names = options.checked_names(env)
    with err_console().status("rendering the environments to compare with dist/…"):
        fresh = render_scratch(names if env else None, options.environments)
    committed = environment_files(options.dist, names if env else None)
    with err_console().status("validating…"):
        problems = _drift(options.dist, committed, fresh)
        objects = _rendered(options.dist, names)
        problems += schema_problems({f"{options.dist}/{path}": obj for path, obj in objects.items()})
        problems += object_problems((f"{options.dist}/{path}", obj) for path, obj in objects.items())
        scanned = [options.dist / path for path in committed]
        scanned += [p for p in sorted(options.environments.rglob("*")) if p.is_file()]
        problems += file_problems(scanned, Path.cwd())
    _print_notices(options, names, objects)
    out = console()
    for problem in problems:
        out.print(Text("✗ ", style="red") + Text(str(problem)), soft_wrap=True)
    if any(problem.version == "drift" for problem in problems):
        out.print(f"{options.dist}/ is not what the environment files render: re-render it with "
                  "floe platform deploy (or python -O main.py), review the diff and commit it", markup=False,
                  soft_wrap=True)
    if problems:
        out.print(f"[red]{plural(len(problems), 'problem')}[/] in {plural(len(objects), 'object')} of "
                  f"{', '.join(names)}")
        raise typer.Exit(1)
    out.print(f"[green]✓[/] {plural(len(objects), 'object')} of {', '.join(names)} match a fresh render and pass "
              f"the schemas and the policies; {plural(len(scanned), 'file')} hold no credential")


def _print_notices(options: Settings, names: list[str], objects: dict[str, Json]) -> None:
    """Valid, but worth knowing: what an environment leaves out on purpose, and known vulnerabilities of the
    images it renders (worth fixing, but no reason to refuse the render)."""
    out = console()
    for name in names:
        environment = options.one_environment(name)
        for notice in (*cube.notices(environment), *prometheus.notices(environment), *postgres.notices(environment)):
            out.print(f"notice: {name}: {notice}", markup=False, soft_wrap=True)
        rendered = {container["image"] for _, spec in pod_specs(o for path, o in objects.items()
                                                                 if path.startswith(f"{name}/"))
                    for container in (*(spec.get("initContainers") or []), *spec["containers"])}
        for warning in advisory_warnings(environment.release.images, rendered):
            out.print(f"warning: {name}: {warning}", markup=False, soft_wrap=True)


# -- capacity ---------------------------------------------------------------------------------------------


def capacity(ctx: typer.Context, env: EnvOption = None) -> None:
    """Requests, limits and storage per layer and tier (autoscaled workloads at their maximum), and the jobs
    namespace's quota, from `dist/`.
    """
    options = settings(ctx)
    out = console()
    for name in options.checked_names(env):
        objects = list(_rendered(options.dist, [name]).values())
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


def topology(ctx: typer.Context, env: Annotated[str | None, typer.Option("--env", "-e", metavar="NAME", help=(
        "The environment (default: $FLOE_ENV, or the only one there is)."))] = None) -> None:
    """Print one environment's topology drawing, `dist/<env>/topology.md`: its tiers in startup order with their
    waves, each component and its declared dependencies, the network paths the NetworkPolicies open, and the
    engines' sync chain, as Markdown with Mermaid diagrams (a forge draws them in a pull request). Where `dist/`
    lacks the file, prints a fresh render's.
    """
    options = settings(ctx)
    name = options.one_environment(env).name
    path = options.dist / name / TOPOLOGY_FILE
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        with err_console().status("rendering…"):
            text = render_scratch([name], options.environments)[f"{name}/{TOPOLOGY_FILE}"]
        err_console().print(f"{path} does not exist: printing a fresh render's drawing (re-render {options.dist}/ "
                            "to keep it)", markup=False, soft_wrap=True)
    sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    app.command("diff", cls=FloeCommand, epilog="Examples: `floe diff` · `floe diff --env prod --against origin/main`")(
        diff)
    app.command("validate", cls=FloeCommand, epilog="Examples: `floe validate` · `floe validate --env prod`")(validate)
    app.command("capacity", cls=FloeCommand, epilog="Examples: `floe capacity --env prod`")(capacity)
    app.command("topology", cls=FloeCommand,
                epilog="Examples: `floe topology --env prod` · `floe topology --env dev > topology.md`")(topology)
