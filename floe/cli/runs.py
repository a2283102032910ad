"""``floe run``, ``floe status``, ``floe logs``: pipeline jobs (Layer 4), one run at a time.

A run is a Job created from a product's job template (a CronJob in the jobs namespace) exactly as
``kubectl create job --from=cronjob/<template>`` does, plus a fresh run id on the Job and its pods.
"""

import copy
import re
import secrets
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from floe.cli.cluster import Cluster, ClusterError
from floe.cli.command import FloeCommand
from floe.cli.context import ContextOption, cluster, console, err_console, one_environment, settings
from floe.cli.logs import print_logs
from floe.cli.readiness import job_state, pod_problem, terminated_reason
from floe.cli.render import render_scratch
from floe.cli.tree import environment_files, parse
from floe.errors import FloeError
from floe.jobs import JOB_TYPE_LABEL, JOB_TYPES, PRODUCT_LABEL, RUN_ID_LABEL, RUN_ID_LENGTH, run_name, template_name
from floe.output import to_yaml
from floe.rendered import Json, JsonView

INSTANTIATE = "cronjob.kubernetes.io/instantiate"
_RUN_ID = re.compile(rf"^[0-9a-f]{{{RUN_ID_LENGTH}}}$")

EnvOption = Annotated[str | None, typer.Option("--env", "-e", metavar="NAME",
                                               help="Environment name (default: $FLOE_ENV, or the only one).")]


def new_run_id() -> str:
    return secrets.token_hex(RUN_ID_LENGTH // 2)


def job_from_cronjob(cronjob: Json, run_id: str) -> Json:
    """The Job ``kubectl create job --from=cronjob/...`` creates, named and labelled with the run id.

    The job template's labels and annotations (plus ``cronjob.kubernetes.io/instantiate: manual``) and
    its spec, without ``suspend``; a controller ownerReference when the CronJob came from the cluster.
    """
    template = cronjob["spec"]["jobTemplate"]
    meta = template.get("metadata") or {}
    spec = copy.deepcopy(template["spec"])
    spec.pop("suspend", None)
    pod_meta = spec["template"].setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), RUN_ID_LABEL: run_id}
    owner = cronjob["metadata"]
    metadata = {
        "name": run_name(owner["name"], run_id),
        "namespace": owner["namespace"],
        "labels": {**(meta.get("labels") or {}), RUN_ID_LABEL: run_id},
        "annotations": {**(meta.get("annotations") or {}), INSTANTIATE: "manual"},
    }
    if owner.get("uid"):
        metadata["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": owner["name"],
                                        "uid": owner["uid"], "controller": True, "blockOwnerDeletion": True}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise FloeError(f"{run_id!r} is not a run id: a run id is {RUN_ID_LENGTH} lowercase hex characters, "
                        "as `floe run` prints it")
    return run_id


def run(
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
    environment = one_environment(env)
    products = [p.name for p in environment.data_products]
    if product not in products:
        raise FloeError(f"environment {environment.name} has no data product {product!r} "
                        f"(data products: {', '.join(products) or 'none'})")
    namespace, name = environment.namespaces.jobs, template_name(product, job_type)
    run_id = new_run_id()
    if dry_run:
        cronjob = _rendered_template(environment.name, namespace, name)
        # Never wrapped: the output is YAML for `kubectl create -f -`.
        console().print(to_yaml(job_from_cronjob(cronjob, run_id)), markup=False, end="", soft_wrap=True)
        return
    live = cluster(context)
    cronjob = _live_template(namespace, name, live)
    job = live.create_job(namespace, job_from_cronjob(cronjob, run_id))
    err_console().print(f"created Job {namespace}/{job['metadata']['name']}; follow it with: "
                        f"floe logs --run-id {run_id} --follow", markup=False)
    console().print(run_id, markup=False)


def _rendered_template(environment: str, namespace: str, name: str) -> Json:
    """The job template as ``dist/`` holds it, or as a fresh render gives it when ``dist/`` does not."""
    files = environment_files(settings.dist, [environment])
    if not files:
        with err_console().status(f"{settings.dist}/{environment} is not rendered: rendering it…"):
            files = render_scratch([environment])
    return next(o for o in parse(files).values() if o["kind"] == "CronJob" and o["metadata"]["name"] == name
                and o["metadata"].get("namespace") == namespace)


def _live_template(namespace: str, name: str, live: Cluster) -> Json:
    cronjob = live.read_cronjob(namespace, name)
    if cronjob is None:
        raise ClusterError(f"the job template CronJob {namespace}/{name} is not in the cluster; sync the "
                           "environment (Argo CD or Flux) or run floe platform deploy --apply first")
    return cronjob


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _duration(job: Json, now: datetime) -> str:
    status = job.get("status") or {}
    start = _time(status.get("startTime"))
    if not start:
        return "-"
    end = _time(status.get("completionTime")) or _ended(job) or now
    seconds = int((end - start).total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s" if seconds >= 3600 \
        else f"{seconds // 60}m{seconds % 60:02d}s"


def _ended(job: Json) -> datetime | None:
    failed = next((c for c in (job.get("status") or {}).get("conditions") or []
                   if c.get("type") == "Failed" and c.get("status") == "True"), None)
    return _time(failed.get("lastTransitionTime")) if failed else None


def exit_reason(job: Json, pods: list[Json]) -> str:
    """Why a run ended: the pod's terminated state, else the Job's condition (deadline, backoff limit)."""
    state = job_state(job)
    if state == "Succeeded":
        return "Completed"
    if state != "Failed":
        return pod_problem(pods) or "-"
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated and terminated.get("exitCode", 0) != 0:
                return f"{container['name']}: {terminated_reason(terminated)}"
    failed: JsonView = next((c for c in (job.get("status") or {}).get("conditions") or []
                             if c.get("type") == "Failed"), {})
    return ": ".join(p for p in (failed.get("reason"), failed.get("message")) if p) or pod_problem(pods) or "failed"


def status(
    run_id: Annotated[str | None, typer.Option("--run-id", metavar="ID",
                                               help="One run (as `floe run` printed it).")] = None,
    env: EnvOption = None,
    limit: Annotated[int, typer.Option(help="How many recent runs to list.", min=1)] = 20,
    context: ContextOption = None,
) -> None:
    """Recent runs, newest first; or one run's state, start, duration and exit reason."""
    if run_id:
        check_run_id(run_id)
    environment = one_environment(env)
    namespace = environment.namespaces.jobs
    live = cluster(context)
    now = datetime.now(UTC)
    out = console()
    if run_id:
        jobs = live.list_jobs(namespace, f"{RUN_ID_LABEL}={run_id}")
        if not jobs:
            raise FloeError(f"no run {run_id} in namespace {namespace} (environment {environment.name}); "
                            "list recent runs with: floe status")
        job = jobs[0]
        pods = live.list_pods(namespace, f"{RUN_ID_LABEL}={run_id}")
        labels = job["metadata"].get("labels") or {}
        table = Table(show_header=False, title=f"run {run_id}")
        for key, value in (("job", job["metadata"]["name"]), ("product", labels.get(PRODUCT_LABEL, "-")),
                           ("job type", labels.get(JOB_TYPE_LABEL, "-")), ("state", job_state(job)),
                           ("started", (job.get("status") or {}).get("startTime") or "-"),
                           ("duration", _duration(job, now)), ("exit reason", exit_reason(job, pods))):
            table.add_row(key, str(value))
        out.print(table)
        return
    jobs = live.list_jobs(namespace, RUN_ID_LABEL)
    jobs.sort(key=lambda j: j["metadata"].get("creationTimestamp") or "", reverse=True)
    if not jobs:
        out.print(f"no runs in namespace {namespace}; start one with: floe run JOB_TYPE --product P")
        return
    table = Table(title=f"recent runs in {namespace}")
    for column in ("run id", "product", "job type", "state", "started", "duration"):
        table.add_column(column)
    for job in jobs[:limit]:
        labels = job["metadata"].get("labels") or {}
        table.add_row(labels.get(RUN_ID_LABEL, "-"), labels.get(PRODUCT_LABEL, "-"), labels.get(JOB_TYPE_LABEL, "-"),
                      job_state(job), (job.get("status") or {}).get("startTime") or "-", _duration(job, now))
    out.print(table)


def logs(
    run_id: Annotated[str, typer.Option("--run-id", metavar="ID", help="The run (as `floe run` printed it).")],
    env: EnvOption = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming until the run ends.")] = False,
    context: ContextOption = None,
) -> None:
    """A run's pod logs, each line prefixed with pod and container."""
    check_run_id(run_id)
    environment = one_environment(env)
    namespace = environment.namespaces.jobs
    print_logs(cluster(context), namespace, f"{RUN_ID_LABEL}={run_id}",
               f"no pods for run {run_id} in namespace {namespace}: it may not have started yet, or its "
               "Job was cleaned up; see: floe status --run-id " + run_id, follow=follow)


def register(app: typer.Typer) -> None:
    app.command("run", cls=FloeCommand, epilog="Examples: `floe run dbt-run --product sales --env prod` · "
                              "`floe run quality-check --product sales --env dev --dry-run`")(run)
    app.command("status", cls=FloeCommand, epilog="Examples: `floe status --env prod` · "
                                 "`floe status --run-id 3f9a1c2b --env prod`")(status)
    app.command("logs", cls=FloeCommand, epilog="Examples: `floe logs --run-id 3f9a1c2b --env prod --follow`")(logs)

