"""The orchestrator's rights in the jobs namespace: each Dagster process exactly what it calls.

The rules are derived, in this one place, from what ``dagster_k8s`` (0.29.24, bundled with the pinned
Dagster 1.13.24) sends to the API server, in three steps: the requests each client call makes
(:data:`CLIENT_CALLS`), the client calls each run-launcher method makes (:data:`LAUNCHER_METHODS`),
and the launcher methods each process calls (:data:`CALLERS`):

- The daemon launches runs (the ``QueuedRunCoordinator``'s dequeuer calls ``launch_run``; run
  monitoring calls ``resume_run``, ``check_run_worker_health``, ``get_run_worker_debug_info`` and,
  past a run's maximum runtime, ``terminate``).
- The webserver only terminates: its Terminate button calls the run coordinator's ``cancel_run``,
  which for a started run calls the launcher's ``terminate``. With the queued coordinator, a run
  submitted from the UI is written to the run storage and launched by the daemon; the UI's status,
  event and log views read the run and event storage, never the Kubernetes API.

``terminate`` deletes the run's Job and then each of its pods (``DagsterKubernetesClient.delete_job``
lists them by the ``job-name`` label first): the Job is deleted with the API's default propagation,
which for ``batch/v1`` Jobs orphans the pods. Each process gets its own Role, bound to its own
ServiceAccount (every PlatformService's ServiceAccount is named after it); nothing is cluster-wide,
nothing is a wildcard.
"""

from collections import defaultdict

from floe.components import dagster
from floe.config.environment import Environment
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.tiers import ORCHESTRATOR, Step

Request = tuple[str, str, str]
"""(API group, resource, verb) of one request to the API server."""

CLIENT_CALLS: dict[str, tuple[Request, ...]] = {
    # dagster_k8s.client.DagsterKubernetesClient → the kubernetes client calls it makes.
    "create_namespaced_job_with_retries": (("batch", "jobs", "create"),),  # create_namespaced_job
    "get_job_status": (("batch", "jobs/status", "get"),),  # read_namespaced_job_status
    "get_pod_names_in_job": (("", "pods", "list"),),  # list_namespaced_pod(label_selector=job-name=…)
    "delete_job": (("", "pods", "list"),  # get_pod_names_in_job
                   ("batch", "jobs", "delete"),  # delete_namespaced_job
                   ("", "pods", "delete")),  # delete_namespaced_pod, each of the Job's pods
    "get_pod_debug_info": (("", "pods", "list"),  # list_namespaced_pod(field_selector=metadata.name=…)
                           ("", "pods/log", "get"),  # retrieve_pod_logs: read_namespaced_pod_log
                           ("", "events", "list")),  # retrieve_pod_events: list_namespaced_event
    "get_job_debug_info": (("batch", "jobs", "list"),  # list_namespaced_job(field_selector=metadata.name=…)
                           ("", "events", "list")),  # list_namespaced_event
}
LAUNCHER_METHODS: dict[str, tuple[str, ...]] = {
    # dagster_k8s.launcher.K8sRunLauncher → the client calls it makes.
    "launch_run": ("create_namespaced_job_with_retries",),
    "resume_run": ("create_namespaced_job_with_retries",),
    "terminate": ("delete_job",),
    "check_run_worker_health": ("get_job_status",),
    "get_run_worker_debug_info": ("get_pod_names_in_job", "get_pod_debug_info", "get_job_debug_info"),
}
CALLERS: dict[str, tuple[str, ...]] = {
    # ServiceAccount (named after its workload) → the launcher methods that process calls.
    dagster.DAEMON: ("launch_run", "resume_run", "check_run_worker_health", "get_run_worker_debug_info",
                     "terminate"),
    dagster.WEBSERVER: ("terminate",),
}
ROLES = {dagster.DAEMON: "dagster-run-launcher", dagster.WEBSERVER: "dagster-run-terminator"}
"""Each caller's Role (and RoleBinding) in the jobs namespace."""

Rule = tuple[str, str, tuple[str, ...]]


def rules(account: str) -> tuple[Rule, ...]:
    """(API group, resource, verbs) the ServiceAccount ``account`` needs: one rule per resource, sorted."""
    verbs: dict[tuple[str, str], set[str]] = defaultdict(set)
    for method in CALLERS[account]:
        for call in LAUNCHER_METHODS[method]:
            for group, resource, verb in CLIENT_CALLS[call]:
                verbs[(group, resource)].add(verb)
    return tuple((group, resource, tuple(sorted(verbs[(group, resource)]))) for group, resource in sorted(verbs))


def render(scope: Scope, environment: Environment) -> None:
    namespace = environment.namespaces.jobs
    for account, role in ROLES.items():
        identity = AppIdentity(name="dagster", instance=role, component="rbac",
                               version=environment.platform_version, tier=ORCHESTRATOR)
        k8s.KubeRole(
            scope, f"{role}-role",
            metadata=object_meta(identity, role, namespace, Step.PREPARE),
            rules=[k8s.PolicyRule(api_groups=[group], resources=[resource], verbs=list(verbs))
                   for group, resource, verbs in rules(account)],
        )
        k8s.KubeRoleBinding(
            scope, f"{role}-binding",
            metadata=object_meta(identity, role, namespace, Step.PREPARE),
            role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=role),
            subjects=[k8s.Subject(kind="ServiceAccount", name=account, namespace=environment.namespaces.platform)],
        )
