"""``floe diff``, ``floe validate``, ``floe capacity``: the reviewer's and CI's tools."""

import subprocess
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from floe import capacity as capacity_model
from floe.cli.changes import compare_files, field_changes, immutable_changes
from floe.cli.context import console, environment_names, err_console, settings
from floe.cli.policy import file_problems, object_problems
from floe.cli.render import render_scratch, schema_problems
from floe.cli.tree import KUSTOMIZATION, environment_files, parse
from floe.errors import FloeError
from floe.synth import owned_folders

EnvOption = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment (default: all).")]


# -- diff -------------------------------------------------------------------------------------------------


def git_files(ref: str, dist: Path, names: list[str] | None) -> dict[str, str]:
    """The files of ``dist/`` (the named environments' folders only, if given) as committed at ``ref``."""
    where = dist.resolve().parent

    def git(*args: str, stdin: str | None = None) -> str:
        try:
            result = subprocess.run(["git", *args], cwd=where, input=stdin, capture_output=True, text=True,
                                    check=False, timeout=60)
        except FileNotFoundError:
            raise FloeError("--against needs git, which is not on PATH") from None
        if result.returncode:
            raise FloeError(f"git {args[0]} failed for {ref!r}: {result.stderr.strip().splitlines()[-1:] or ['?']}"
                            "; --against takes a commit, branch or tag of this repository")
        return result.stdout

    top = Path(git("rev-parse", "--show-toplevel").strip())
    git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    base = (dist.resolve()).relative_to(top).as_posix()
    specs = [f"{base}/{folder}" for name in names for folder in owned_folders(name)] if names else [base]
    paths = [line for line in git("-C", str(top), "ls-tree", "-r", "--name-only", ref, "--", *specs).splitlines()
             if line]
    if not paths:
        return {}
    batch = git("-C", str(top), "cat-file", "--batch", stdin="".join(f"{ref}:{p}\n" for p in paths))
    files, rest = {}, batch.encode("utf-8")
    for path in paths:
        header, rest = rest.split(b"\n", 1)
        size = int(header.split()[2])
        files[path.removeprefix(f"{base}/")], rest = rest[:size].decode("utf-8"), rest[size + 1:]
    return files


def _load(text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def diff(
    env: EnvOption = None,
    against: Annotated[str | None, typer.Option(help="Compare with dist/ as committed at this git ref "
                                                     "instead of the working tree.")] = None,
) -> None:
    """Compare a fresh render with the committed `dist/`, object by object, field by field.

    Warns loudly about every change Kubernetes refuses to make in place (selectors, StatefulSet volume claims,
    serviceName and podManagementPolicy, a Service's clusterIP, a shrinking PVC, a new storage class, the pod
    template of a Job that is not a sync hook). Exit code 1 on any difference, for CI.
    """
    names = [env] if env else None
    with err_console().status("rendering…"):
        new = render_scratch(names)
    old = git_files(against, settings.dist, names) if against else environment_files(settings.dist, names)
    changes = compare_files(old, new)
    out = console()
    where = f"{settings.dist} at {against}" if against else str(settings.dist)
    if not changes:
        out.print(f"no drift: {where} matches a fresh render")
        return
    refused = 0
    for path in changes.added:
        out.print(f"[green]+ {path}[/] (added)")
    for path in changes.removed:
        out.print(f"[red]- {path}[/] (removed)")
    for path in changes.changed:
        before, after = _load(old[path]), _load(new[path])
        out.print(f"[yellow]~ {path}[/] (changed)")
        for line in field_changes(before, after):
            out.print(f"    {line}", markup=False)
        if isinstance(before, dict) and isinstance(after, dict) and "kind" in after and not path.endswith(
                KUSTOMIZATION):
            for problem in immutable_changes(before, after):
                refused += 1
                out.print(f"    [bold red]!! REFUSED IN PLACE: {problem}: the GitOps sync of this object will "
                          "fail; delete and recreate it (or plan a migration) as part of this change[/]")
    out.print(f"drift against {where}: {len(changes.added)} added, {len(changes.changed)} changed, "
              f"{len(changes.removed)} removed")
    if refused:
        out.print(f"[bold red]WARNING: {refused} changes Kubernetes will refuse to make in place (see !! above)[/]")
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


def validate(env: EnvOption = None) -> None:
    """Check `dist/`: Kubernetes schemas (kubeconform when installed, else embedded strict schemas), custom resources
    against their CRDs, and the platform's policies: images pinned, every service probed and bounded, the
    restricted Pod Security Standard, no Secret and no credential in any file under `dist/` or `environments/`.
    Exit code 1 on any failure, each one listed.
    """
    names = [env] if env else environment_names()
    with err_console().status("validating…"):
        objects = _rendered(names)
        problems = schema_problems(objects)
        problems += object_problems((f"{settings.dist}/{path}", obj) for path, obj in objects.items())
        scanned = [settings.dist / path for path in environment_files(settings.dist, names if env else None)]
        scanned += [p for p in sorted(settings.environments.rglob("*")) if p.is_file()]
        problems += file_problems(scanned, Path.cwd())
    out = console()
    for problem in problems:
        out.print(f"[red]✗[/] {problem}", soft_wrap=True)
    if problems:
        out.print(f"[red]{len(problems)} problems[/] in {len(objects)} objects of {', '.join(names)}")
        raise typer.Exit(1)
    out.print(f"[green]✓[/] {len(objects)} objects of {', '.join(names)} pass the schemas and the policies; "
              f"{len(scanned)} files hold no credential")


# -- capacity ---------------------------------------------------------------------------------------------


def capacity(env: EnvOption = None) -> None:
    """Requests, limits and storage per layer and tier (autoscaled workloads at their maximum), and the jobs
    namespace's quota, from `dist/`.
    """
    names = [env] if env else environment_names()
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


def register(app: typer.Typer) -> None:
    app.command("diff", epilog="Examples: `floe diff` · `floe diff --env prod --against origin/main`")(
        diff)
    app.command("validate", epilog="Examples: `floe validate` · `floe validate --env prod`")(validate)
    app.command("capacity", epilog="Examples: `floe capacity --env prod`")(capacity)
