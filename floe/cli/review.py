"""``floe diff``, ``floe validate``, ``floe capacity``, ``floe topology``: the reviewer's and CI's tools."""

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from floe import capacity as capacity_model
from floe.cli.changes import compare_files, field_changes, load_object, plural, refused_in_place
from floe.cli.command import FloeCommand
from floe.cli.context import checked_names, console, err_console, one_environment, settings
from floe.cli.policy import file_problems, object_problems
from floe.cli.render import render_scratch, schema_problems
from floe.cli.tree import environment_files, parse
from floe.errors import FloeError
from floe.synth import TOPOLOGY_FILE, owned_folders
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


def diff(
    env: EnvOption = None,
    against: Annotated[str | None, typer.Option(metavar="REF", help="Compare with dist/ as committed at this git "
                                                                    "ref instead of the working tree.")] = None,
) -> None:
    """Compare a fresh render of the environment files with `dist/`, object by object, field by field.

    The base is the working tree's `dist/`, or, when that was re-rendered and already matches, `dist/` as committed
    at HEAD; `--against REF` names a commit. Warns loudly about every change Kubernetes refuses to make in place
    (selectors, StatefulSet volume claims, serviceName and podManagementPolicy, a Service's clusterIP, a shrinking
    PVC, a new storage class, the pod template of a Job that is not a sync hook): `floe platform deploy` and
    `upgrade` refuse the same changes. Exit code 1 on any difference, for CI.
    """
    names = [one_environment(env).name] if env else None
    with err_console().status("rendering…"):
        fresh = render_scratch(names)
    old, where = _base(fresh, names, against)
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


# -- validate ---------------------------------------------------------------------------------------------


def _rendered(names: list[str]) -> dict[str, dict]:
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
    Security Standard, no Secret and no credential in any file under `dist/` or `environments/`.
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
