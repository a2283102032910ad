"""``floe platform``: the long-lived services (Layer 3): deploy, upgrade, status, logs."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from floe.cli.apply import apply_plan, explain
from floe.cli.changes import FileChanges, by_folder, compare_files, image_changes, plural, refused_in_place
from floe.cli.cluster import Cluster
from floe.cli.command import FloeCommand, FloeGroup
from floe.cli.context import ContextOption, Settings, console, err_console, settings
from floe.cli.envfile import set_top_level, write_atomically
from floe.cli.logs import print_logs, since_seconds
from floe.cli.render import render_scratch, schema_problems
from floe.cli.secrets import environment_objects
from floe.cli.tree import ApplyWave, describe, environment_files, parse, plan, wave
from floe.constructs.labels import TIER, Layer
from floe.errors import FloeError
from floe.preflight import run as preflight
from floe.readiness import WORKLOADS, readiness
from floe.rendered import Json
from floe.synth import render, write_rendered
from floe.tiers import TIERS, Tier
from floe.upgrade import upgraded

app = typer.Typer(cls=FloeGroup, no_args_is_help=True, rich_markup_mode="markdown",
                  help="The platform services (Layer 3): deploy, upgrade, status, logs.")

EnvOption = Annotated[str | None, typer.Option("--env", "-e", metavar="NAME",
                                               help="Environment name (default: $FLOE_ENV, or the only one).")]
SEED_COMPONENTS = [tier.name for tier in TIERS if tier.seed_component]
AllowRecreate = Annotated[bool, typer.Option(
    "--allow-recreate", help="Write the render even though it changes fields Kubernetes refuses to change in place "
                             "(you delete and recreate those objects, or migrate them, as part of the change).")]


@dataclass(frozen=True)
class Target:
    """What ``--component`` names: one of the seed's tiers, or one component of the registry."""

    name: str
    tier: Tier
    selector: str
    """Label selector of its pods."""
    layer: Layer = Layer.PLATFORM_SERVICES


def target(name: str) -> Target:
    for tier in TIERS:
        if tier.name == name and tier.seed_component:
            return Target(name, tier, f"{TIER}={tier.name}")
    from floe.registry import COMPONENTS  # starts the jsii bridge: only for a component's name

    for component in COMPONENTS:
        if component.name == name:
            selector = ",".join(f"{key}={value}" for key, value in sorted(component.pod_selector.items()))
            return Target(name, component.tier, selector, component.layer)
    raise FloeError(f"unknown component {name!r}; tiers: {', '.join(SEED_COMPONENTS)}; components: "
                    f"{', '.join(c.name for c in COMPONENTS)}")


def guard(old: dict[str, str], new: dict[str, str], allow_recreate: bool) -> None:
    """Refuse, before anything is written, what Kubernetes refuses to change in place (as `floe diff` shows it)."""
    refusals = refused_in_place(old, new)
    if not refusals or allow_recreate:
        return
    out = err_console()
    for refusal in refusals:
        out.print(f"!! REFUSED IN PLACE: {refusal.path}: {refusal}", markup=False, soft_wrap=True)
    listed = "; ".join(map(str, refusals))
    raise FloeError(f"{plural(len(refusals), 'change')} Kubernetes refuses to make in place ({listed}); "
                    "nothing was written: plan the migration (delete and recreate, or move the data), then rerun "
                    "with --allow-recreate")


# -- deploy -----------------------------------------------------------------------------------------------


@app.command(cls=FloeCommand,
             epilog="Examples: `floe platform deploy` (render every environment) · "
                    "`floe platform deploy --env dev --component catalog` · "
                    "`floe platform deploy --env dev --component polaris --dry-run` · "
                    "`floe platform deploy --env dev --apply --timeout 900`")
def deploy(
    ctx: typer.Context,
    env: Annotated[str | None, typer.Option("--env", "-e", metavar="NAME",
                                            help="Render only this environment.")] = None,
    component: Annotated[str | None, typer.Option(
        metavar="NAME", help=f"Limit the summary and the apply to one tier ({', '.join(SEED_COMPONENTS)}) or to the "
                             "tier of one component (polaris, dagster, minio, ...).")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Also apply to the cluster, tier by tier, waiting for each "
                                                        "(for clusters without a GitOps engine).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Render, check and print what would change and the "
                                                            "apply plan; write nothing, touch no cluster.")] = False,
    timeout: Annotated[int, typer.Option(help="Seconds each tier may take to become Ready.", min=1)] = 600,
    allow_recreate: AllowRecreate = False,
    context: ContextOption = None,
) -> None:
    """Render, validate and write `dist/`, with a summary per tier of what changed.

    The render is checked before anything is written: a schema problem, or a change Kubernetes refuses to make in
    place (the same guard as `floe diff`), leaves `dist/` as it was. With --component the whole environment is
    still rendered and written (so `dist/` stays consistent); the summary and the apply are limited to that tier.
    """
    options = settings(ctx)
    scope = target(component) if component else None
    if apply and dry_run:
        raise FloeError("--apply and --dry-run exclude each other: --dry-run prints what --apply would do")
    names = [options.one_environment(env).name] if env or apply or dry_run else None
    live = options.cluster(context) if apply else None  # fail in seconds, before rendering, when there is no cluster
    files, objects = _checked_render(options, names)
    _write(options, files, names, scope, allow_recreate, dry_run)
    if not (apply or dry_run):
        return
    assert names  # one environment with --apply or --dry-run
    steps = plan(objects, names[0], [scope.tier] if scope else TIERS)
    out = console()
    if dry_run:
        out.print(_plan_table(steps))
        return
    assert live  # connected with --apply
    apply_plan(live, steps, timeout, lambda line: out.print(line, markup=False))


def _checked_render(options: Settings, names: list[str] | None) -> tuple[dict[str, str], dict[str, Json]]:
    """A fresh render's files and objects, once they pass the schemas; exit 1 with every problem if not."""
    with err_console().status("rendering and validating…"):
        files = render_scratch(names, options.environments)
        objects = parse(files)
        problems = schema_problems({f"{options.dist}/{path}": obj for path, obj in objects.items()})
    if problems:
        out = console()
        for problem in problems:
            out.print(str(problem), markup=False, soft_wrap=True)
        out.print(f"[red]{plural(len(problems), 'validation problem')}; {options.dist}/ was not changed[/]")
        raise typer.Exit(1)
    return files, objects


def _write(options: Settings, files: dict[str, str], names: list[str] | None, scope: Target | None,
           allow_recreate: bool, dry_run: bool) -> None:
    """Guard the render against ``dist/``, summarise what it changes, and (unless a dry run) write it."""
    previous = environment_files(options.dist, names)
    guard(previous, files, allow_recreate)
    changes = compare_files(previous, files)
    out = console()
    _report(out, options.dist, changes, names or sorted({p.split("/")[0] for p in files}), scope, dry_run)
    if changes and not dry_run:
        write_rendered(options.dist, files, names)
        out.print(f"wrote {options.dist}/" + (f" for {', '.join(names)}" if names else ""), markup=False)


def _report(out: Console, dist: Path, changes: FileChanges, names: list[str], scope: Target | None,
            dry_run: bool) -> None:
    """What the render changes in ``dist/``, per folder (only the scope's tier with --component)."""
    if not changes:
        out.print(f"no changes: {dist}/ already matches the render; nothing to write", markup=False)
        return
    folders = by_folder(changes)
    verb = "would also change" if dry_run else "also changes"
    if scope:
        inside = [f"{name}/{scope.tier.folder}" for name in names]
        elsewhere = sum(len(found) for folder, found in folders.items() if folder not in inside)
        folders = {folder: found for folder, found in folders.items() if folder in inside}
        if not folders:
            out.print(f"no changes in {scope.tier.name} ({scope.name})", markup=False)
        if elsewhere:
            out.print(f"note: the render {verb} {plural(elsewhere, 'file')} outside {scope.tier.name}; "
                      f"{'they would be' if dry_run else 'they are'} written with it so that {dist}/ always "
                      "matches the environment files", markup=False)
    if folders:
        out.print(_summary(folders, f"{'dry run: ' if dry_run else ''}changes against {dist}/"))


def _summary(folders: dict[str, FileChanges], title: str) -> Table:
    table = Table(title=title)
    for column in ("folder", "added", "changed", "removed", "objects"):
        table.add_column(column, justify="right" if column in ("added", "changed", "removed") else "left")
    for folder, found in folders.items():
        names = [f"+{p.rsplit('/', 1)[1]}" for p in found.added] + [f"~{p.rsplit('/', 1)[1]}" for p in found.changed] \
            + [f"-{p.rsplit('/', 1)[1]}" for p in found.removed]
        table.add_row(folder, str(len(found.added)), str(len(found.changed)), str(len(found.removed)),
                      " ".join(names))
    return table


def _plan_table(steps: list[ApplyWave]) -> Table:
    table = Table(title="apply plan (in this order; each wave waits for the one before to be Ready)")
    for column in ("tier", "wave", "object"):
        table.add_column(column)
    for step in steps:
        for index, obj in enumerate(step.objects):
            table.add_row(step.tier.name if index == 0 else "", str(step.wave) if index == 0 else "", describe(obj))
    return table


# -- upgrade ----------------------------------------------------------------------------------------------


@app.command(cls=FloeCommand,
             epilog="Examples: `floe platform upgrade --version 1.1.0 --env staging` · "
                    "`floe platform upgrade --version 1.0.0 --env dev --allow-downgrade`")
def upgrade(
    ctx: typer.Context,
    version: Annotated[str, typer.Option("--version", metavar="VERSION",
                                         help="Platform version from floe/releases.yaml.")],
    env: EnvOption = None,
    allow_downgrade: Annotated[bool, typer.Option("--allow-downgrade",
                                                  help="Accept a version older than the current one.")] = False,
    allow_recreate: AllowRecreate = False,
) -> None:
    """Move an environment to another platform version: edit its file (comments and layout kept), re-render its `dist/`
    folders, and show exactly which images change.

    Refused, with nothing written: an unknown version, a downgrade without --allow-downgrade, a PostgreSQL major
    version change, and any change Kubernetes cannot make in place (the same guard as `floe diff` and `deploy`).
    """
    options = settings(ctx)
    environment = options.one_environment(env)
    moved = upgraded(environment, version, allow_downgrade=allow_downgrade)
    out = console()
    if version == environment.platform_version:
        out.print(f"{environment.name} is already at platform version {version}; nothing to do")
        return
    with err_console().status(f"rendering {environment.name} at {version}…"):
        after = render(moved)
        before = environment_files(options.dist, [environment.name]) or render(environment)
    guard(before, after, allow_recreate)
    path = options.environments / f"{environment.name}.yaml"
    _switch_version(path, version, lambda: write_rendered(options.dist, after, [environment.name]))
    out.print(f"{environment.name}: platform version {environment.platform_version} → {version} ({path})")
    out.print(_image_table(parse(before), parse(after)))


def _switch_version(path: Path, version: str, write_render: Callable[[], None]) -> None:
    """Set the file's ``platform_version``, then write the render; a failed write puts the file back."""
    original = path.read_text(encoding="utf-8")
    write_atomically(path, set_top_level(original, "platform_version", version))
    try:
        write_render()
    except BaseException:
        write_atomically(path, original)
        raise


def _image_table(before: dict[str, Json], after: dict[str, Json]) -> Table | str:
    images = image_changes(before, after)
    if not images:
        return "no image changes"
    table = Table(title="image changes")
    for column in ("tier", "workload", "container", "old", "new"):
        table.add_column(column)
    for row in images:
        table.add_row(*row)
    return table


# -- status -----------------------------------------------------------------------------------------------


@app.command(cls=FloeCommand, epilog="Examples: `floe platform status --env prod` · "
                                     "`floe platform status --env prod --offline`")
def status(
    ctx: typer.Context,
    env: EnvOption = None,
    offline: Annotated[bool, typer.Option("--offline", help="Show the planned order from dist/; no cluster.")] = False,
    context: ContextOption = None,
) -> None:
    """Each component in startup order: desired and ready replicas, rollout state, and why anything is not Ready.

    --offline shows the planned order instead: tiers, their sync waves, components and what each depends on.
    """
    options = settings(ctx)
    environment = options.one_environment(env)
    objects = parse(environment_files(options.dist, [environment.name]))
    if not objects:
        raise FloeError(f"{options.dist}/{environment.name} holds no rendered objects; "
                        f"run: floe platform deploy --env {environment.name}")
    if offline:
        with err_console().status("reading the registry…"):
            table = _offline(objects, environment.name, options.dist)
    else:
        table = _live_status(options.cluster(context), objects, environment.name)
    console().print(table)


def _live_status(live: Cluster, objects: dict[str, Json], name: str) -> Table:
    """Each rendered workload in startup order, as the cluster has it."""
    table = Table(title=f"{name}: platform status")
    for column in ("tier", "workload", "desired", "ready", "state", "reason"):
        table.add_column(column, justify="right" if column in ("desired", "ready") else "left")
    for step in plan(objects, name):
        for obj in step.objects:
            if obj["kind"] not in WORKLOADS:
                continue
            found = live.get(obj)
            state = readiness(found)
            reason = "" if state.done or found is None else explain(live, obj, state)
            table.add_row(step.tier.name, describe(obj), _count(state.desired), _count(state.ready),
                          state.state, reason or state.reason if not state.done else "")
    return table


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _offline(objects: dict[str, Json], name: str, dist: Path) -> Table:
    from floe.registry import COMPONENTS, Component  # starts the jsii bridge: only for this view

    table = Table(title=f"{name}: startup order (from {dist}/{name})")
    for column in ("tier", "folder", "waves", "component", "depends on", "objects"):
        table.add_column(column)
    for tier in TIERS:
        members = [obj for path, obj in objects.items() if path.startswith(f"{name}/{tier.folder}/")]
        if not members:
            continue
        waves = ", ".join(str(w) for w in sorted({wave(obj) for obj in members}))
        components: list[Component | None] = [c for c in COMPONENTS if c.tier == tier] or [None]
        for index, component in enumerate(components):
            first = index == 0
            table.add_row(tier.name if first else "", tier.folder if first else "", waves if first else "",
                          component.name if component else "-",
                          ", ".join(map(str, component.depends_on)) if component and component.depends_on else "-",
                          str(len(members)) if first else "")
    return table


# -- doctor -----------------------------------------------------------------------------------------------


@app.command(cls=FloeCommand, epilog="Examples: `floe platform doctor --env prod` · "
                                     "`floe platform doctor --env dev --context kind-floe`")
def doctor(ctx: typer.Context, env: EnvOption = None, context: ContextOption = None) -> None:
    """Preflight before a first sync: the cluster's version, the GitOps engine and its namespace, the CRDs, storage
    and ingress classes the render names, and every Secret with its keys; each failure with its fix.

    What is checked follows from the rendered objects (`dist/`, else a fresh render) and the environment's
    settings. Exit 1 on any failure.
    """
    options = settings(ctx)
    environment = options.one_environment(env)
    objects = environment_objects(options, environment.name)
    checks = preflight(environment, objects, options.cluster(context))
    table = Table(title=f"{environment.name}: preflight")
    for column in ("check", "result", "details / fix"):
        table.add_column(column)
    for check in checks:
        table.add_row(check.name, "pass" if check.passed else "[red]FAIL[/]", check.detail)
    out = console()
    out.print(table)
    failed = [check for check in checks if not check.passed]
    if failed:
        out.print(f"{plural(len(failed), 'check')} failed of {len(checks)}; fix them before the first sync",
                  markup=False)
        raise typer.Exit(1)
    out.print(f"all {len(checks)} checks passed", markup=False)


# -- logs -------------------------------------------------------------------------------------------------


@app.command(cls=FloeCommand, epilog="Examples: `floe platform logs orchestrator --env prod` · "
                                     "`floe platform logs polaris --follow --since 10m`")
def logs(
    ctx: typer.Context,
    component: Annotated[str, typer.Argument(metavar="COMPONENT", help=f"A tier ({', '.join(SEED_COMPONENTS)}) or "
                                                                       "a component (polaris, dagster, minio, ...).")],
    env: EnvOption = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming new lines.")] = False,
    since: Annotated[str | None, typer.Option(metavar="AGE", help="Only lines newer than this: 30s, 10m, 2h, "
                                                                  "1d.")] = None,
    context: ContextOption = None,
) -> None:
    """The logs of a tier's or a component's pods, each line prefixed with pod and container."""
    scope = target(component)
    seconds = since_seconds(since)
    options = settings(ctx)
    environment = options.one_environment(env)
    namespace = environment.namespaces.jobs if scope.layer == Layer.PIPELINE_JOBS else environment.namespaces.platform
    print_logs(options.cluster(context), namespace, scope.selector,
               f"no pods of {scope.name} in namespace {namespace}; is it deployed? "
               f"(floe platform status --env {environment.name})", follow=follow, since=seconds)
