"""The orchestrator's rights in the jobs namespace: exactly what launching and watching runs needs.

The Dagster daemon launches runs (Jobs) and monitors them (the Job's status, its pods, their
events for failure diagnostics); the webserver terminates a run when a user stops it, deleting
the Job and its pods. The rules are those of ``dagster_k8s``'s client calls and the Dagster
chart's own Role. Both get one Role in the jobs namespace; nothing is cluster-wide, nothing is
a wildcard.
"""

from constructs import Construct

from floe.components import dagster
from floe.config.environment import Environment
from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.tiers import ORCHESTRATOR, Step

ROLE = "dagster-run-launcher"
RULES = (
    ("batch", "jobs", ("create", "delete", "get", "list", "watch")),
    ("batch", "jobs/status", ("get", "list", "watch")),
    ("", "pods", ("delete", "get", "list", "watch")),
    ("", "pods/log", ("get",)),
    ("", "pods/status", ("get",)),
    ("", "events", ("get", "list", "watch")),
)
LAUNCHERS = (dagster.DAEMON, dagster.WEBSERVER)
"""The ServiceAccounts (each PlatformService names its own after itself) that act on runs."""


def render(scope: Construct, environment: Environment) -> None:
    namespace = environment.namespaces.jobs
    identity = AppIdentity(name="dagster", instance=ROLE, component="rbac",
                           version=environment.platform_version, tier=ORCHESTRATOR)
    metadata = object_meta(identity, ROLE, namespace, Step.PREPARE)
    k8s.KubeRole(
        scope, "role",
        metadata=metadata,
        rules=[k8s.PolicyRule(api_groups=[group], resources=[resource], verbs=list(verbs))
               for group, resource, verbs in RULES],
    )
    k8s.KubeRoleBinding(
        scope, "binding",
        metadata=object_meta(identity, ROLE, namespace, Step.PREPARE),
        role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=ROLE),
        subjects=[k8s.Subject(kind="ServiceAccount", name=name, namespace=environment.namespaces.platform)
                  for name in LAUNCHERS],
    )
