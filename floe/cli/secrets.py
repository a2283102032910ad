"""``floe secrets``: the Secrets an environment reads, checked in and created directly in the cluster.

For an environment without an External Secrets store: every Secret is created by hand, or by
``floe secrets init``, before the first sync. Values never pass through a file, a terminal or git;
only key names are read back. The rules (what is missing, who provides it) live in
:mod:`floe.secret_values`.
"""

from collections import defaultdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from floe.cli.changes import plural
from floe.cli.cluster import Cluster
from floe.cli.command import FloeCommand, FloeGroup
from floe.cli.context import ContextOption, Settings, console, err_console, settings
from floe.cli.render import render_scratch
from floe.cli.tree import environment_files, parse
from floe.rendered import Json
from floe.secret_values import CREATED_BY, Provider, Provision, generate, provisions, required, states

app = typer.Typer(cls=FloeGroup, no_args_is_help=True, rich_markup_mode="markdown",
                  help="The Secrets an environment reads: check that they exist, create the missing ones.")

EnvOption = Annotated[str | None, typer.Option("--env", "-e", metavar="NAME",
                                               help="Environment name (default: $FLOE_ENV, or the only one).")]


def environment_objects(options: Settings, name: str) -> list[Json]:
    """The environment's objects as ``dist/`` holds them, or as a fresh render gives them when it does not."""
    files = environment_files(options.dist, [name])
    if not files:
        with err_console().status(f"{options.dist}/{name} is not rendered: rendering it…"):
            files = render_scratch([name], options.environments)
    return list(parse(files).values())


@app.command(cls=FloeCommand, epilog="Examples: `floe secrets check --env prod` · "
                                     "`floe secrets check --env dev --context kind-floe`")
def check(ctx: typer.Context, env: EnvOption = None, context: ContextOption = None) -> None:
    """Each Secret the environment reads: ok, missing, or lacking keys, and who reads it.

    Only key names are read from the cluster, never values. Exit 1 when any is missing or incomplete.
    """
    options = settings(ctx)
    environment = options.one_environment(env)
    objects = environment_objects(options, environment.name)
    found = states(required(environment, objects), options.cluster(context))
    table = Table(title=f"{environment.name}: Secrets")
    for column in ("namespace", "Secret", "status", "readers"):
        table.add_column(column)
    for state in found:
        status = state.status if state.ok else f"[red]{state.status}[/]"
        table.add_row(state.use.namespace, state.use.name, status, ", ".join(state.use.readers))
    out = console()
    out.print(table)
    bad = [s for s in found if not s.ok]
    if bad:
        out.print(f"{len(bad)} of {len(found)} Secrets missing or incomplete; floe secrets init --env "
                  f"{environment.name} creates the ones floe can generate and names the others", markup=False)
        raise typer.Exit(1)
    out.print(f"all {len(found)} Secrets exist with their keys", markup=False)


@app.command(cls=FloeCommand, epilog="Examples: `floe secrets init --env dev --dry-run` · "
                                     "`floe secrets init --env dev`")
def init(
    ctx: typer.Context,
    env: EnvOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be created; create nothing.")] = False,
    context: ContextOption = None,
) -> None:
    """Create the missing Secrets floe can generate, directly in the cluster, and name the others.

    Passwords and secrets are random (32 bytes), user names and client ids `floe_` and random hex, the catalog's
    token broker gets a new RSA key pair; a Secret read under one name in two namespaces gets the same values in
    both. Never invented: an external database's or Snowflake's credentials, a TLS certificate, a git repository's
    credentials. An existing Secret is never changed, even when it lacks keys. Values are never printed or written
    to a file. Exit 0 when everything exists (or an ExternalSecret creates it at sync), 1 when the operator must
    still provide something.
    """
    options = settings(ctx)
    environment = options.one_environment(env)
    objects = environment_objects(options, environment.name)
    live = options.cluster(context)
    plan = provisions(states(required(environment, objects), live), environment, objects)
    out = console()
    if not dry_run:
        _namespaces(live, plan, objects, out)
    results = _create(live, plan, dry_run)
    table = Table(title=f"{environment.name}: Secrets" + (" (dry run: nothing created)" if dry_run else ""))
    for column in ("namespace", "Secret", "result", "keys / what to do"):
        table.add_column(column)
    for provision in plan:
        result, detail = results.get(id(provision), _outcome(provision))
        table.add_row(provision.state.use.namespace, provision.state.use.name, result, detail)
    out.print(table)
    left = [p for p in plan if p.provider in (Provider.OPERATOR, Provider.INCOMPLETE)]
    if left:
        out.print(f"left to the operator: {plural(len(left), 'Secret')} (see above); rerun floe secrets check --env "
                  f"{environment.name} once they are complete", markup=False)
        raise typer.Exit(1)


def _outcome(provision: Provision) -> tuple[str, str]:
    if provision.provider == Provider.EXISTS:
        return "exists", ""
    if provision.provider == Provider.EXTERNAL:
        return "at sync", provision.detail
    if provision.provider == Provider.OPERATOR:
        return "[red]missing: yours to create[/]", provision.detail
    return f"[red]{provision.state.status}: left alone[/]", provision.detail


def _namespaces(live: Cluster, plan: list[Provision], objects: list[Json], out: Console) -> None:
    """Apply the rendered Namespace of each namespace a new Secret goes to, if the cluster lacks it.

    Before the first sync the foundation's Namespaces do not exist yet; the engine adopts the very
    object floe applied, since it is the rendered one.
    """
    rendered = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Namespace"}
    for namespace in sorted({p.state.use.namespace for p in plan if p.provider == Provider.FLOE}):
        if namespace in rendered and not live.namespace_exists(namespace):
            live.apply(rendered[namespace])
            out.print(f"created Namespace {namespace} (as rendered; the GitOps engine adopts it)", markup=False)


def _create(live: Cluster, plan: list[Provision], dry_run: bool) -> dict[int, tuple[str, str]]:
    """Create the generated Secrets; one set of values per name, shared by every namespace that reads it."""
    by_name: dict[str, list[Provision]] = defaultdict(list)
    for provision in plan:
        if provision.provider == Provider.FLOE:
            by_name[provision.state.use.name].append(provision)
    results: dict[int, tuple[str, str]] = {}
    for name, group in by_name.items():
        if dry_run:
            results |= {id(p): ("would create", ", ".join(p.state.use.keys)) for p in group}
            continue
        values = generate(sorted({key for p in group for key in p.state.use.keys}))
        for provision in group:
            use = provision.state.use
            created = live.create_secret(use.namespace, name, {key: values[key] for key in use.keys},
                                         {CREATED_BY: "floe secrets init"})
            results[id(provision)] = ("created", ", ".join(use.keys)) if created else \
                ("exists", "created by someone else meanwhile; left as it is")
    return results
