"""``floe platform``: the long-lived services (Layer 3): deploy, upgrade, status, logs."""

from typing import Annotated

import typer
from rich.table import Table

from floe.cli.apply import apply_plan, explain
from floe.cli.changes import STATEFULSET_IMMUTABLE, by_folder, compare_files, immutable_changes
from floe.cli.context import cluster, console, err_console, one_environment, settings
from floe.cli.envfile import set_top_level, write_atomically
from floe.cli.logs import print_logs, since_seconds
from floe.cli.readiness import WORKLOADS, readiness
from floe.cli.render import promote, render_scratch, schema_problems
from floe.cli.tree import describe, environment_files, parse, plan, wave
from floe.config.releases import image_tag, known_versions, release
from floe.errors import FloeError
from floe.synth import render
from floe.tiers import TIERS, Tier

app = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown",
                  help="The platform services (Layer 3): deploy, upgrade, status, logs.")

EnvOption = Annotated[str | None, typer.Option("--env", "-e", help="Environment name (default: $FLOE_ENV, or the "
                                                                  "only one).")]
SEED_COMPONENTS = [tier.name for tier in TIERS if tier.seed_component]


def seed_tier(name: str) -> Tier:
    for tier in TIERS:
        if tier.name == name and tier.seed_component:
            return tier
    raise FloeError(f"unknown component {name!r}; components: {', '.join(SEED_COMPONENTS)}")


# -- deploy -----------------------------------------------------------------------------------------------


@app.command(epilog="Examples: `floe platform deploy` (render every environment) · "
                    "`floe platform deploy --env dev --component catalog` · "
                    "`floe platform deploy --env dev --dry-run` · "
                    "`floe platform deploy --env dev --apply --timeout 900`")
def deploy(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Render only this environment.")] = None,
    component: Annotated[str | None, typer.Option(help=f"Limit the summary and the apply to one component: "
                                                       f"{', '.join(SEED_COMPONENTS)}.")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Also apply to the cluster, tier by tier, waiting for each "
                                                        "(for clusters without a GitOps engine).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Render and print the apply plan; write nothing, "
                                                            "touch no cluster.")] = False,
    timeout: Annotated[int, typer.Option(help="Seconds each tier may take to become Ready.", min=1)] = 600,
) -> None:
    """Render, validate and write `dist/`, with a summary per tier of what changed.

    The render is checked before anything is written: a mistake leaves `dist/` as it was. With --component the whole
    environment is still rendered and written (so `dist/` stays consistent); the summary and the apply are
    limited to that component's tier.
    """
    tier = seed_tier(component) if component else None
    if apply and dry_run:
        raise FloeError("--apply and --dry-run exclude each other: --dry-run prints what --apply would do")
    names = [one_environment(env).name] if env or apply or dry_run else None
    out = console()
    with err_console().status("rendering and validating…"):
        files = render_scratch(names)
        objects = parse(files)
        problems = schema_problems(objects)
    if problems:
        for problem in problems:
            out.print(str(problem), markup=False, soft_wrap=True)
        out.print(f"[red]{len(problems)} validation problems; dist/ was not changed[/]")
        raise typer.Exit(1)
    previous = environment_files(settings.dist, names)
    changes = compare_files(previous, files)
    folders = by_folder(changes)
    if tier:
        scope = [f"{name}/{tier.folder}" for name in names or sorted({p.split('/')[0] for p in files})]
        elsewhere = sum(len(c.added) + len(c.changed) + len(c.removed) for f, c in folders.items() if f not in scope)
        folders = {folder: found for folder, found in folders.items() if folder in scope}
    out.print(_summary(folders, changes_total=bool(changes)))
    if tier and elsewhere:
        out.print(f"note: {elsewhere} files outside {component} changed too; they are written with it so that "
                  "dist/ always matches the environment files")
    if not dry_run:
        promote(files, names)
        out.print(f"wrote {settings.dist}" + (f" for {', '.join(names)}" if names else ""))
    if not (apply or dry_run):
        return
    steps = plan(objects, names[0], [tier] if tier else TIERS)
    if dry_run:
        out.print(_plan_table(steps))
        return
    apply_plan(cluster(), steps, timeout, lambda line: out.print(line, markup=False))


def _summary(folders: dict, changes_total: bool) -> Table | str:
    if not changes_total or not folders:
        return "no changes: dist/ already matches the render"
    table = Table(title="changes against dist/")
    for column in ("folder", "added", "changed", "removed", "objects"):
        table.add_column(column, justify="right" if column in ("added", "changed", "removed") else "left")
    for folder, found in folders.items():
        names = [f"+{p.rsplit('/', 1)[1]}" for p in found.added] + [f"~{p.rsplit('/', 1)[1]}" for p in found.changed] \
            + [f"-{p.rsplit('/', 1)[1]}" for p in found.removed]
        table.add_row(folder, str(len(found.added)), str(len(found.changed)), str(len(found.removed)),
                      " ".join(names))
    return table


def _plan_table(steps: list) -> Table:
    table = Table(title="apply plan (in this order; each wave waits for the one before to be Ready)")
    for column in ("tier", "wave", "object"):
        table.add_column(column)
    for step in steps:
        for index, obj in enumerate(step.objects):
            table.add_row(step.tier.name if index == 0 else "", str(step.wave) if index == 0 else "", describe(obj))
    return table


# -- upgrade ----------------------------------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _major(reference: str) -> str:
    return image_tag(reference).split(".")[0].split("-")[0]


@app.command(epilog="Examples: `floe platform upgrade --version 1.1.0 --env staging` · "
                    "`floe platform upgrade --version 1.0.0 --env dev --allow-downgrade`")
def upgrade(
    version: Annotated[str, typer.Option("--version", help="Platform version from floe/releases.yaml.")],
    env: EnvOption = None,
    allow_downgrade: Annotated[bool, typer.Option("--allow-downgrade",
                                                  help="Accept a version older than the current one.")] = False,
) -> None:
    """Move an environment to another platform version: edit its file (comments and layout kept), re-render its `dist/`
    folders, and show exactly which images change.

    Refused, with nothing written: an unknown version, a downgrade without --allow-downgrade, a PostgreSQL major
    version change, and any change to a StatefulSet field Kubernetes cannot update in place.
    """
    environment = one_environment(env)
    current = environment.platform_version
    if version not in known_versions():
        raise FloeError(f"{version!r} is not in the release catalogue (floe/releases.yaml); "
                        f"known versions: {', '.join(known_versions())}")
    out = console()
    if version == current:
        out.print(f"{environment.name} is already at platform version {version}; nothing to do")
        return
    if _version_key(version) < _version_key(current) and not allow_downgrade:
        raise FloeError(f"{version} is older than {environment.name}'s {current}: a downgrade may not read data "
                        "written by the newer release; pass --allow-downgrade if you mean it")
    old_pg, new_pg = release(current).images.postgres, release(version).images.postgres
    if _major(old_pg) != _major(new_pg):
        raise FloeError(f"PostgreSQL {image_tag(old_pg)} → {image_tag(new_pg)} changes the major version, which a "
                        "rolling update cannot do (the data directory needs pg_upgrade or a dump and restore); "
                        "migrate the databases first, then upgrade")
    target = environment.model_copy(update={"platform_version": version})
    with err_console().status("rendering both versions…"):
        before, after = parse(render(environment)), parse(render(target))
    refused = [f"{describe(new)}: {problem}" for path, new in after.items()
               if new["kind"] == "StatefulSet" and path in before
               for problem in immutable_changes(_only(before[path]), _only(new))]
    if refused:
        raise FloeError(f"the upgrade to {version} would change StatefulSet fields Kubernetes cannot update in place "
                        f"({'; '.join(refused)}); plan a migration (delete the StatefulSet with --cascade=orphan, "
                        "then sync) before upgrading")
    images = _image_changes(before, after)
    path = settings.environments / f"{environment.name}.yaml"
    original = path.read_text(encoding="utf-8")
    write_atomically(path, set_top_level(original, "platform_version", version))
    try:
        with err_console().status("re-rendering dist/…"):
            promote(render_scratch([environment.name]), [environment.name])
    except BaseException:
        write_atomically(path, original)
        raise
    out.print(f"{environment.name}: platform version {current} → {version} ({path})")
    if not images:
        out.print("no image changes")
        return
    table = Table(title="image changes")
    for column in ("tier", "workload", "container", "old", "new"):
        table.add_column(column)
    for row in images:
        table.add_row(*row)
    out.print(table)


def _only(obj: dict) -> dict:
    """A StatefulSet reduced to its immutable fields (the rest may change in a rolling update)."""
    return {"kind": obj["kind"], "spec": {name: obj["spec"].get(name) for name in STATEFULSET_IMMUTABLE}}


def _images(obj: dict) -> dict[str, str]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = (spec.get("template") or {}).get("spec") or {}
    return {c["name"]: c["image"] for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]}


def _image_changes(before: dict[str, dict], after: dict[str, dict]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for path, new in after.items():
        old_images, new_images = _images(before.get(path, {"kind": new["kind"]})), _images(new)
        tier = (new["metadata"].get("labels") or {}).get("floe.dev/tier", "")
        for container, image in new_images.items():
            if old_images.get(container, image) != image:
                rows.append((tier, describe(new), container, old_images[container], image))
    order = {tier.name: index for index, tier in enumerate(TIERS)}
    return sorted(rows, key=lambda row: (order.get(row[0], len(order)), row[1], row[2]))


# -- status -----------------------------------------------------------------------------------------------


@app.command(epilog="Examples: `floe platform status --env prod` · "
                    "`floe platform status --env prod --offline`")
def status(
    env: EnvOption = None,
    offline: Annotated[bool, typer.Option("--offline", help="Show the planned order from dist/; no cluster.")] = False,
) -> None:
    """Each component in startup order: desired and ready replicas, rollout state, and why anything is not Ready.

    --offline shows the planned order instead: tiers, their sync waves, components and what each depends on.
    """
    environment = one_environment(env)
    objects = parse(environment_files(settings.dist, [environment.name]))
    if not objects:
        raise FloeError(f"{settings.dist}/{environment.name} holds no rendered objects; "
                        f"run: floe platform deploy --env {environment.name}")
    out = console()
    if offline:
        out.print(_offline(objects, environment.name))
        return
    live = cluster()
    table = Table(title=f"{environment.name}: platform status")
    for column in ("tier", "workload", "desired", "ready", "state", "reason"):
        table.add_column(column, justify="right" if column in ("desired", "ready") else "left")
    for step in plan(objects, environment.name):
        for obj in step.objects:
            if obj["kind"] not in WORKLOADS:
                continue
            found = live.get(obj)
            state = readiness(found)
            reason = "" if state.done or found is None else explain(live, obj, state)
            table.add_row(step.tier.name, describe(obj), _count(state.desired), _count(state.ready),
                          state.state, reason or state.reason if not state.done else "")
    out.print(table)


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _offline(objects: dict[str, dict], name: str) -> Table:
    from floe.registry import COMPONENTS  # starts the jsii bridge: only for this view

    table = Table(title=f"{name}: startup order (from {settings.dist}/{name})")
    for column in ("tier", "folder", "waves", "component", "depends on", "objects"):
        table.add_column(column)
    for tier in TIERS:
        members = [obj for path, obj in objects.items() if path.startswith(f"{name}/{tier.folder}/")]
        if not members:
            continue
        waves = ", ".join(str(w) for w in sorted({wave(obj) for obj in members}))
        components = [c for c in COMPONENTS if c.tier == tier] or [None]
        for index, component in enumerate(components):
            first = index == 0
            table.add_row(tier.name if first else "", tier.folder if first else "", waves if first else "",
                          component.name if component else "-",
                          ", ".join(component.depends_on) if component and component.depends_on else "-",
                          str(len(members)) if first else "")
    return table


# -- logs -------------------------------------------------------------------------------------------------


@app.command(epilog="Examples: `floe platform logs orchestrator --env prod` · "
                    "`floe platform logs catalog --follow --since 10m`")
def logs(
    component: Annotated[str, typer.Argument(help=f"One of: {', '.join(SEED_COMPONENTS)}.")],
    env: EnvOption = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming new lines.")] = False,
    since: Annotated[str | None, typer.Option(help="Only lines newer than this: 30s, 10m, 2h, 1d.")] = None,
) -> None:
    """The logs of a component's pods (label floe.dev/tier), each line prefixed with pod and container."""
    tier = seed_tier(component)
    seconds = since_seconds(since)
    environment = one_environment(env)
    namespace = environment.namespaces.platform
    print_logs(cluster(), namespace, f"floe.dev/tier={tier.name}",
               f"no pods of {tier.name} in namespace {namespace}; is it deployed? "
               f"(floe platform status --env {environment.name})", follow=follow, since=seconds)
