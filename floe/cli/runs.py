"""``floe run``, ``floe status``, ``floe logs``: pipeline jobs (Layer 4), one run at a time.

What a run is (its Job, run id, duration and exit reason) is :mod:`floe.jobs.runs`; these commands find
the template, talk to the cluster and print.
"""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from floe.cli.cluster import Cluster, ClusterError
from floe.cli.command import FloeCommand
from floe.cli.context import ContextOption, Settings, console, err_console, settings
from floe.cli.logs import print_logs
from floe.cli.render import render_scratch
from floe.cli.tree import environment_files, parse
from floe.errors import FloeError
from floe.jobs import JOB_TYPE_LABEL, JOB_TYPES, PRODUCT_LABEL, RUN_ID_LABEL, template_name
from floe.jobs.runs import check_run_id, duration, exit_reason, job_from_cronjob, new_run_id
from floe.output import to_yaml
from floe.readiness import job_state
from floe.rendered import Json

EnvOption = Annotated[str | None, typer.Option("--env", "-e", metavar="NAME",
                                               help="Environment name (default: $FLOE_ENV, or the only one).")]


def run(
    ctx: typer.Context,
    job_type: Annotated[str, typer.Argument(metavar="JOB_TYPE", help=f"One of: {', '.join(JOB_TYPES)}.")],
    product: Annotated[str, typer.Option("--product", "-p", metavar="NAME",
                                         help="A data product of the environment (its data_products list).")],
    env: EnvOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the Job instead of creating it; no cluster "
                                                            "(the template from dist/, else from a fresh "
                                                            "render).")] = False,
    context: ContextOption = None,
) -> None:
    """Start a run: create a Job from the product's job template with a fresh run id, and print the id."""
    if job_type not in JOB_TYPES:
        raise FloeError(f"unknown job type {job_type!r}; job types: {', '.join(JOB_TYPES)}")
    options = settings(ctx)
    environment = options.one_environment(env)
    products = [p.name for p in environment.data_products]
    if product not in products:
        raise FloeError(f"environment {environment.name} has no data product {product!r} "
                        f"(data products: {', '.join(products) or 'none'})")
    namespace, name = environment.namespaces.jobs, template_name(product, job_type)
    run_id = new_run_id()
    if dry_run:
        cronjob = _rendered_template(options, environment.name, namespace, name)
        # Never wrapped: the output is YAML for `kubectl create -f -`.
        console().print(to_yaml(job_from_cronjob(cronjob, run_id)), markup=False, end="", soft_wrap=True)
        return
    live = options.cluster(context)
    cronjob = _live_template(namespace, name, live)
    job = live.create_job(namespace, job_from_cronjob(cronjob, run_id))
    err_console().print(f"created Job {namespace}/{job['metadata']['name']}; follow it with: "
                        f"floe logs --run-id {run_id} --follow", markup=False)
    console().print(run_id, markup=False)


def _rendered_template(options: Settings, environment: str, namespace: str, name: str) -> Json:
    """The job template as ``dist/`` holds it, or as a fresh render gives it when ``dist/`` does not."""
    files = environment_files(options.dist, [environment])
    if not files:
        with err_console().status(f"{options.dist}/{environment} is not rendered: rendering it…"):
            files = render_scratch([environment], options.environments)
    return next(o for o in parse(files).values() if o["kind"] == "CronJob" and o["metadata"]["name"] == name
                and o["metadata"].get("namespace") == namespace)


def _live_template(namespace: str, name: str, live: Cluster) -> Json:
    cronjob = live.read_cronjob(namespace, name)
    if cronjob is None:
        raise ClusterError(f"the job template CronJob {namespace}/{name} is not in the cluster; sync the "
                           "environment (Argo CD or Flux) or run floe platform deploy --apply first")
    return cronjob


def status(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Option("--run-id", metavar="ID",
                                               help="One run (as `floe run` printed it).")] = None,
    env: EnvOption = None,
    limit: Annotated[int, typer.Option(help="How many recent runs to list.", min=1)] = 20,
    context: ContextOption = None,
) -> None:
    """Recent runs, newest first; or one run's state, start, duration and exit reason."""
    if run_id:
        check_run_id(run_id)
    options = settings(ctx)
    environment = options.one_environment(env)
    live = options.cluster(context)
    if run_id:
        console().print(_one_run(live, environment.namespaces.jobs, run_id, environment.name))
    else:
        console().print(_recent_runs(live, environment.namespaces.jobs, limit))


def _one_run(live: Cluster, namespace: str, run_id: str, environment: str) -> Table:
    """One run's Job, product, job type, state, start, duration and exit reason."""
    jobs = live.list_jobs(namespace, f"{RUN_ID_LABEL}={run_id}")
    if not jobs:
        raise FloeError(f"no run {run_id} in namespace {namespace} (environment {environment}); "
                        "list recent runs with: floe status")
    job = jobs[0]
    pods = live.list_pods(namespace, f"{RUN_ID_LABEL}={run_id}")
    labels = job["metadata"].get("labels") or {}
    table = Table(show_header=False, title=f"run {run_id}")
    for key, value in (("job", job["metadata"]["name"]), ("product", labels.get(PRODUCT_LABEL, "-")),
                       ("job type", labels.get(JOB_TYPE_LABEL, "-")), ("state", job_state(job)),
                       ("started", (job.get("status") or {}).get("startTime") or "-"),
                       ("duration", duration(job, datetime.now(UTC))), ("exit reason", exit_reason(job, pods))):
        table.add_row(key, str(value))
    return table


def _recent_runs(live: Cluster, namespace: str, limit: int) -> Table | str:
    """The newest ``limit`` runs, newest first; a sentence when there is none."""
    jobs = live.list_jobs(namespace, RUN_ID_LABEL)
    jobs.sort(key=lambda j: j["metadata"].get("creationTimestamp") or "", reverse=True)
    if not jobs:
        return f"no runs in namespace {namespace}; start one with: floe run JOB_TYPE --product P"
    now = datetime.now(UTC)
    table = Table(title=f"recent runs in {namespace}")
    for column in ("run id", "product", "job type", "state", "started", "duration"):
        table.add_column(column)
    for job in jobs[:limit]:
        labels = job["metadata"].get("labels") or {}
        table.add_row(labels.get(RUN_ID_LABEL, "-"), labels.get(PRODUCT_LABEL, "-"), labels.get(JOB_TYPE_LABEL, "-"),
                      job_state(job), (job.get("status") or {}).get("startTime") or "-", duration(job, now))
    return table


def logs(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Option("--run-id", metavar="ID", help="The run (as `floe run` printed it).")],
    env: EnvOption = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming until the run ends.")] = False,
    context: ContextOption = None,
) -> None:
    """A run's pod logs, each line prefixed with pod and container."""
    check_run_id(run_id)
    options = settings(ctx)
    environment = options.one_environment(env)
    namespace = environment.namespaces.jobs
    print_logs(options.cluster(context), namespace, f"{RUN_ID_LABEL}={run_id}",
               f"no pods for run {run_id} in namespace {namespace}: it may not have started yet, or its "
               "Job was cleaned up; see: floe status --run-id " + run_id, follow=follow)


def register(app: typer.Typer) -> None:
    app.command("run", cls=FloeCommand, epilog="Examples: `floe run dbt-run --product sales --env prod` · "
                              "`floe run quality-check --product sales --env dev --dry-run`")(run)
    app.command("status", cls=FloeCommand, epilog="Examples: `floe status --env prod` · "
                                 "`floe status --run-id 3f9a1c2b --env prod`")(status)
    app.command("logs", cls=FloeCommand, epilog="Examples: `floe logs --run-id 3f9a1c2b --env prod --follow`")(logs)

