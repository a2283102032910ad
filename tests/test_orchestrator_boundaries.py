"""The orchestrator's boundaries in the jobs namespace: who may do what to runs, and which pods reach
Dagster's database.

RBAC: the daemon launches and monitors runs, the webserver only terminates them (dagster-k8s 0.29.24's
``K8sRunLauncher`` and ``DagsterKubernetesClient``, see ``floe.security.rbac``). Network: the runs
Dagster launches reach its database, the job templates' pods do not.
"""

import dataclasses
from collections.abc import Mapping
from ipaddress import ip_network

import cdk8s
import pytest

from floe import registry
from floe.security import network_policies, rbac
from tests.conftest import ENVIRONMENT_NAMES, find
from tests.network import Pod, connects

DAEMON_RULES = [
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete", "list"]},
    {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
]
"""launch_run/resume_run: create the Job; check_run_worker_health: read its status; get_run_worker_debug_info:
list its pods, their logs and events, the Job and its events; terminate (past the maximum runtime): below."""
WEBSERVER_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "list"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["delete"]},
]
"""terminate: list the Job's pods (label job-name), delete the Job, then delete each pod."""


def _roles(objects) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "Role"}


def _bindings(objects) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "RoleBinding"}


def check_orchestrator_rbac(objects, jobs: str, platform: str) -> None:
    """Exactly two Roles in the jobs namespace, each bound to one Dagster ServiceAccount, with these rules."""
    roles, bindings = _roles(objects), _bindings(objects)
    assert set(roles) == set(bindings) == {"dagster-run-launcher", "dagster-run-terminator"}
    assert {r["metadata"]["namespace"] for r in [*roles.values(), *bindings.values()]} == {jobs}
    assert roles["dagster-run-launcher"]["rules"] == DAEMON_RULES
    assert roles["dagster-run-terminator"]["rules"] == WEBSERVER_RULES
    for name, account in (("dagster-run-launcher", "dagster-daemon"), ("dagster-run-terminator", "dagster-webserver")):
        binding = bindings[name]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": platform}]


def _may(objects, account: str, group: str, resource: str, verb: str) -> bool:
    roles = _roles(objects)
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
        for binding in _bindings(objects).values() if any(s["name"] == account for s in binding["subjects"])
        for rule in roles[binding["roleRef"]["name"]]["rules"])


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_daemon_launches_and_webserver_only_terminates(environment: str, rendered, environments) -> None:
    objects = list(rendered[environment].values())
    settings = environments[environment]
    # kube-state-metrics' list-and-watch Roles are checked with it (tests/test_observability.py).
    orchestrator = [o for o in objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/name")
                    != "kube-state-metrics"]
    check_orchestrator_rbac(orchestrator, settings.namespaces.jobs, settings.namespaces.platform)
    assert _may(objects, "dagster-daemon", "batch", "jobs", "create")
    assert not _may(objects, "dagster-webserver", "batch", "jobs", "create")
    assert not _may(objects, "dagster-webserver", "", "pods/log", "get")
    # Terminate works from either process.
    for account in ("dagster-daemon", "dagster-webserver"):
        assert _may(objects, account, "batch", "jobs", "delete") and _may(objects, account, "", "pods", "delete")


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_dagster_processes_run_as_the_bound_accounts(environment: str, rendered) -> None:
    for name in ("dagster-daemon", "dagster-webserver"):
        workload = next(o for o in rendered[environment].values()
                        if o["kind"] in ("Deployment", "Rollout") and o["metadata"]["name"] == name)
        spec = workload["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == name and spec["automountServiceAccountToken"] is True


def test_the_rules_come_from_the_launcher_methods_each_process_calls() -> None:
    assert rbac.rules("dagster-webserver") == (("", "pods", ("delete", "list")), ("batch", "jobs", ("delete",)))
    assert set(rbac.CALLERS["dagster-webserver"]) == {"terminate"}
    assert {"launch_run", "check_run_worker_health", "terminate"} <= set(rbac.CALLERS["dagster-daemon"])


def _render_rbac(environment) -> list[dict]:
    chart = cdk8s.Chart(cdk8s.App(), "rbac")
    rbac.render(chart, environment)
    return chart.to_json()


def test_a_webserver_that_may_launch_is_refused(environments, monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken variant: the webserver given the launcher's rights (create on jobs) fails the check."""
    settings = environments["dev"]
    check_orchestrator_rbac(_render_rbac(settings), settings.namespaces.jobs, settings.namespaces.platform)
    monkeypatch.setitem(rbac.CALLERS, "dagster-webserver", ("launch_run", "terminate"))
    broken = _render_rbac(settings)
    assert _may(broken, "dagster-webserver", "batch", "jobs", "create")
    with pytest.raises(AssertionError):
        check_orchestrator_rbac(broken, settings.namespaces.jobs, settings.namespaces.platform)


# -- network: who reaches Dagster's database ---------------------------------------------------------------

TEMPLATE_POD = {
    # A CronJob template's pod (sales-dbt-run): its labels as rendered.
    "app.kubernetes.io/name": "dbt-run", "app.kubernetes.io/instance": "sales-dbt-run",
    "app.kubernetes.io/component": "pipeline-job", "app.kubernetes.io/part-of": "floe",
    "floe.dev/layer": "pipeline-jobs", "floe.dev/owner": "data-team", "floe.dev/tier": "jobs",
    "floe.dev/data-product": "sales", "floe.dev/job-type": "dbt-run",
}
RUN_POD = {
    # A run pod of dagster-k8s 0.29.24: its common labels, the launcher's `labels`, the run's own.
    "app.kubernetes.io/name": "dagster", "app.kubernetes.io/instance": "dagster",
    "app.kubernetes.io/component": "run_worker", "app.kubernetes.io/part-of": "floe",
    "floe.dev/layer": "pipeline-jobs", "floe.dev/owner": "data-team", "floe.dev/launched-by": "dagster",
    "dagster/job": "sales_assets", "dagster/run-id": "0badc0de-0000-4000-8000-000000000000",
}
POSTGRES_DAGSTER_POD = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "postgres-dagster"}
POSTGRES_PORT = 5432


def _pod_of(objects: dict, kind: str, name: str) -> dict[str, str]:
    obj = find(objects, kind, name)
    spec = obj["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else obj["spec"]
    return spec["template"]["metadata"]["labels"]


def test_the_literal_pods_are_the_rendered_ones(rendered) -> None:
    objects = rendered["dev"]
    assert TEMPLATE_POD.items() <= _pod_of(objects, "CronJob", "sales-dbt-run").items()
    assert POSTGRES_DAGSTER_POD.items() <= _pod_of(objects, "StatefulSet", "postgres-dagster").items()
    (launcher,) = network_policies.run_pod_labels(objects.values())
    assert launcher.items() <= RUN_POD.items()


def reaches_dagster_database(objects, settings, pod: Mapping) -> bool:
    """Whether a pod of the jobs namespace with labels ``pod`` may open a connection to Dagster's database."""
    source = Pod(settings.namespaces.jobs, pod)
    database = settings.storage.postgres.dagster
    if database.mode == "in-cluster":
        server = Pod(settings.namespaces.platform, POSTGRES_DAGSTER_POD, {"postgres": POSTGRES_PORT})
        return connects(objects, source, server, POSTGRES_PORT)
    addresses = [str(next(ip_network(e.cidr).hosts())) for e in database.egress if POSTGRES_PORT in e.ports]
    assert addresses, "an external database is declared with its addresses"
    return all(connects(objects, source, a, POSTGRES_PORT) for a in addresses)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_only_runs_dagster_launched_reach_its_database(environment: str, rendered, environments) -> None:
    objects, settings = list(rendered[environment].values()), environments[environment]
    assert reaches_dagster_database(objects, settings, RUN_POD)
    assert not reaches_dagster_database(objects, settings, TEMPLATE_POD)
    # Not even a template pod carrying the runs' other labels: only the launcher's label opens the path.
    assert not reaches_dagster_database(objects, settings, {**RUN_POD, "floe.dev/launched-by": "someone-else"})


def test_database_ingress_admits_dagster_its_backup_and_its_runs(rendered) -> None:
    policy = find(rendered["dev"], "NetworkPolicy", "allow-postgres-dagster")["spec"]
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/instance": "postgres-dagster"}}
    assert policy["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "postgres-dagster"}}}]},
        {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "postgres-dagster-roles"}}},
                  {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "postgres-dagster-backup"}}},
                  {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "dagster"}}},
                  {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "floe-jobs"}},
                   "podSelector": {"matchLabels": {"floe.dev/launched-by": "dagster"}}}],
         "ports": [{"port": "postgres", "protocol": "TCP"}]},
        # Prometheus alone reaches the exporter beside the server.
        {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
         "ports": [{"port": "metrics", "protocol": "TCP"}]},
    ]
    egress = find(rendered["dev"], "NetworkPolicy", "allow-dagster-runs-egress")["spec"]
    assert egress == {
        "podSelector": {"matchLabels": {"floe.dev/launched-by": "dagster"}}, "policyTypes": ["Egress"],
        "egress": [{"ports": [{"port": "postgres", "protocol": "TCP"}],
                    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "floe-platform"}},
                            "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "postgres-dagster"}}}]}],
    }


def _policies(settings, objects, monkeypatch: pytest.MonkeyPatch, components) -> list[dict]:
    monkeypatch.setattr(network_policies, "COMPONENTS", components)
    chart = cdk8s.Chart(cdk8s.App(), "policies")
    network_policies.render(chart, settings, [o for o in objects if o["kind"] != "NetworkPolicy"])
    return [*(o for o in objects if o["kind"] != "NetworkPolicy"), *chart.to_json()]


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_templates_declaring_the_database_would_reach_it(environment: str, rendered, environments,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken variant: the templates' component declaring postgres-dagster again opens the path."""
    settings, objects = environments[environment], list(rendered[environment].values())
    assert not reaches_dagster_database(_policies(settings, objects, monkeypatch, registry.COMPONENTS), settings,
                                        TEMPLATE_POD)
    broken = tuple(dataclasses.replace(c, depends_on=(*c.depends_on, registry.on("postgres-dagster")))
                   if c.name == "pipeline-jobs" else c for c in registry.COMPONENTS)
    assert reaches_dagster_database(_policies(settings, objects, monkeypatch, broken), settings, TEMPLATE_POD)


def test_a_run_reaches_only_its_own_products_compute(rendered) -> None:
    """Runs carry their product's label (their code location's container context), so the product's own
    compute policy admits them; no policy widens runs to every product's compute."""
    policies = {o["metadata"]["name"]: o["spec"] for o in rendered["prod"].values() if o["kind"] == "NetworkPolicy"}
    assert "allow-orchestrator-runs-compute" not in policies
    assert policies["allow-marketing-compute"]["podSelector"] == {
        "matchLabels": {"floe.dev/data-product": "marketing"}}
    assert "allow-sales-compute" not in policies  # sales computes in its pods (DuckDB): no egress at all
