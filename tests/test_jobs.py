"""Layer 4: job templates, the jobs namespace's capacity, RBAC and network boundary."""

from pathlib import Path

import pytest

from floe.config.loader import load_environment
from floe.config.types import quantity_value
from floe.constructs.job_policy import JOB_POLICY
from floe.errors import FloeError
from floe.jobs import JOB_TYPES, TEMPLATE_NAME_LIMIT, template_name
from floe.jobs.compute import compute_egress
from tests.conftest import ENVIRONMENT_NAMES, find

SECRET_NAMES = ("PASSWORD", "SECRET", "TOKEN", "ACCESS_KEY", "CLIENT_ID", "USER")
BURST = {"requests": {"cpu": "1000m", "memory": "2Gi"}, "limits": {"cpu": "4000m", "memory": "8Gi"}}
"""The built-in "job-burst" preset: DuckDB runs in the job's own pod."""
REMOTE = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}}
"""prod's snowflake compute: the warehouse does the work, the pod only drives it."""
JOB_RESOURCES = {
    ("dev", "sales"): BURST,
    ("staging", "sales"): BURST, ("staging", "marketing"): BURST,
    ("prod", "sales"): BURST, ("prod", "marketing"): REMOTE,
}


def templates(objects: dict) -> dict[str, dict]:
    """The pipeline job templates: CronJobs of the jobs layer (the platform's backups are CronJobs too)."""
    return {o["metadata"]["name"]: o for o in objects.values()
            if o["kind"] == "CronJob" and o["metadata"]["labels"]["floe.dev/layer"] == "pipeline-jobs"}


def job_pod(cronjob: dict) -> dict:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_four_templates_per_product_in_the_jobs_namespace(environment: str, rendered, environments) -> None:
    settings = environments[environment]
    found = templates(rendered[environment])
    expected = {template_name(p.name, t) for p in settings.data_products for t in JOB_TYPES}
    assert set(found) == expected and expected
    for cronjob in found.values():
        assert cronjob["metadata"]["namespace"] == settings.namespaces.jobs
        assert len(cronjob["metadata"]["name"]) <= TEMPLATE_NAME_LIMIT


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_templates_carry_the_job_policy(environment: str, rendered, environments) -> None:
    settings = environments[environment]
    for product in settings.data_products:
        for job_type in JOB_TYPES:
            cronjob = find(rendered[environment], "CronJob", template_name(product.name, job_type))
            schedule = product.schedules.of(job_type)
            assert cronjob["spec"]["suspend"] is (schedule is None)
            if schedule:
                assert cronjob["spec"]["schedule"] == schedule
            assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
            job = cronjob["spec"]["jobTemplate"]["spec"]
            assert job["backoffLimit"] == JOB_POLICY.backoff_limit == 0
            assert job["ttlSecondsAfterFinished"] == JOB_POLICY.ttl_seconds_after_finished == 3600
            assert job["activeDeadlineSeconds"] == settings.jobs.active_deadline_seconds
            pod = job_pod(cronjob)
            assert pod["restartPolicy"] == "Never"
            assert pod["serviceAccountName"] == settings.jobs.service_account
            assert pod["automountServiceAccountToken"] is False
            (container,) = pod["containers"]
            assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(container)
            assert container["resources"] == JOB_RESOURCES[(environment, product.name)]
            assert container["image"] == product.image
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
            assert labels["floe.dev/layer"] == "pipeline-jobs" and labels["floe.dev/owner"] == "data-team"
            assert labels["floe.dev/data-product"] == product.name and labels["floe.dev/job-type"] == job_type


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_job_environment_and_credentials(environment: str, rendered, environments) -> None:
    settings = environments[environment]
    for cronjob in templates(rendered[environment]).values():
        (container,) = job_pod(cronjob)["containers"]
        variables = {e["name"]: e for e in container["env"]}
        assert variables["FLOE_CATALOG_URI"]["value"].endswith(":8181/api/catalog")
        assert variables["FLOE_CATALOG_WAREHOUSE"]["value"] == settings.catalog.polaris.catalog
        assert variables["FLOE_OBJECT_STORE_ENDPOINT"]["value"].endswith(":9000")
        assert variables["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].endswith(":4317")
        assert variables["OTEL_SERVICE_NAME"]["value"] == cronjob["metadata"]["name"]
        attributes = variables["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        assert f"floe.data_product={cronjob['metadata']['labels']['floe.dev/data-product']}" in attributes
        assert f"floe.job_type={cronjob['metadata']['labels']['floe.dev/job-type']}" in attributes
        assert "floe.run_id=$(FLOE_RUN_ID)" in attributes
        for name, variable in variables.items():
            if any(word in name for word in SECRET_NAMES):
                assert "secretKeyRef" in variable.get("valueFrom", {}), f"{name} must come from a Secret"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_tools_write_only_to_scratch_volumes(environment: str, rendered, environments) -> None:
    for product in environments[environment].data_products:
        for job_type in ("dbt-run", "dbt-test"):
            pod = job_pod(find(rendered[environment], "CronJob", template_name(product.name, job_type)))
            mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
            assert {f"{product.dbt.project_dir}/target", f"{product.dbt.project_dir}/logs", "/tmp"} <= mounts
            # Besides scratch, only the in-cluster CA (staging, prod), a Secret mounted read-only.
            assert all("emptyDir" in v or v["secret"]["secretName"] == "floe-in-cluster-ca" for v in pod["volumes"])


def test_compute_decides_resources_and_connection(rendered) -> None:
    (container,) = job_pod(find(rendered["prod"], "CronJob", "sales-dbt-run"))["containers"]
    assert container["resources"] == BURST  # DuckDB in the pod: the seed's burst
    (container,) = job_pod(find(rendered["prod"], "CronJob", "marketing-dbt-run"))["containers"]
    assert container["resources"] == REMOTE  # a remote warehouse
    variables = {e["name"]: e for e in container["env"]}
    assert variables["SNOWFLAKE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "snowflake-transformer"
    (container,) = job_pod(find(rendered["prod"], "CronJob", "sales-dbt-run"))["containers"]
    variables = {e["name"]: e for e in container["env"]}
    assert variables["FLOE_DUCKDB_MEMORY_LIMIT"]["value"] == "6144MiB"


def test_quality_engines_run_their_own_tool(rendered) -> None:
    commands = {name: job_pod(c)["containers"][0]["command"] for name, c in templates(rendered["prod"]).items()}
    assert commands["sales-quality-check"][:3] == ["soda", "contract", "verify"]
    assert commands["marketing-quality-check"][:2] == ["python", "-c"]
    assert "great_expectations" in commands["marketing-quality-check"][2]
    dev = {name: job_pod(c)["containers"][0]["command"] for name, c in templates(rendered["dev"]).items()}
    assert dev["sales-quality-check"][:2] == ["dbt", "test"] and "--select" in dev["sales-quality-check"]
    assert dev["sales-dbt-run"][:2] == ["dbt", "run"] and dev["sales-dbt-run"][-2:] == ["--target", "dev"]
    assert dev["sales-dlt-ingest"] == ["python", "-m", "sales.ingest"]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_quota_admits_the_largest_run(environment: str, rendered, environments) -> None:
    quota = find(rendered[environment], "ResourceQuota", "pipeline-jobs")["spec"]["hard"]
    limits = find(rendered[environment], "LimitRange", "pipeline-jobs")["spec"]["limits"][0]
    for cronjob in templates(rendered[environment]).values():
        resources = job_pod(cronjob)["containers"][0]["resources"]
        for resource in ("cpu", "memory"):
            assert quantity_value(resources["requests"][resource]) <= quantity_value(quota[f"requests.{resource}"])
            assert quantity_value(resources["limits"][resource]) <= quantity_value(quota[f"limits.{resource}"])
            assert quantity_value(resources["limits"][resource]) <= quantity_value(limits["max"][resource])


def test_a_quota_too_small_for_a_run_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text('platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                    "data_products:\n  - name: sales\n    image: registry.example.com/floe/sales:1.0.0\n"
                    "    module: sales.definitions\n    dlt: {module: sales.ingest}\n"
                    'jobs:\n  quota:\n    requests: {cpu: "1", memory: 1Gi}\n')
    with pytest.raises(FloeError, match=r"data_products\.0: a sales job needs memory 2Gi, more than "
                                        r"jobs\.quota\.requests\.memory 1Gi allows"):
        load_environment(path)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_rbac_is_namespaced_and_exact(environment: str, rendered, environments) -> None:
    objects = rendered[environment].values()
    assert not [o for o in objects if o["kind"] in {"ClusterRole", "ClusterRoleBinding"}]
    roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Role"}
    # One Role per Dagster process: the daemon launches and monitors runs, the webserver terminates
    # them (the literal rules: tests/test_orchestrator_boundaries.py); where the platform renders
    # kube-state-metrics, one read-only Role per namespace it watches.
    rendered_ksm = environments[environment].observability.prometheus.cluster_metrics.kube_state_metrics == "render"
    watched = {"kube-state-metrics-floe-jobs", "kube-state-metrics-floe-platform"} if rendered_ksm else set()
    assert set(roles) == {"dagster-run-launcher", "dagster-run-terminator"} | watched
    namespaces = environments[environment].namespaces
    for name, role in roles.items():
        expected = namespaces.platform if name == "kube-state-metrics-floe-platform" else namespaces.jobs
        assert role["metadata"]["namespace"] == expected
        assert all("*" not in value for r in role["rules"] for values in r.values() for value in values)
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    subjects = {(b["roleRef"]["name"], s["name"], s["namespace"]) for b in bindings for s in b["subjects"]}
    platform = environments[environment].namespaces.platform
    assert subjects == {("dagster-run-launcher", "dagster-daemon", platform),
                        ("dagster-run-terminator", "dagster-webserver", platform)} | {
        (role, "kube-state-metrics", platform) for role in watched}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_namespaces_carry_pod_security_admission(environment: str, rendered, environments) -> None:
    for name in (environments[environment].namespaces.platform, environments[environment].namespaces.jobs):
        labels = find(rendered[environment], "Namespace", name)["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def _egress_of(objects: dict, namespace: str, pod_labels: dict) -> set[tuple]:
    """Every (destination, port) the policies of ``namespace`` allow a pod with these labels to reach."""
    allowed = set()
    for policy in (o for o in objects.values() if o["kind"] == "NetworkPolicy"
                   and o["metadata"]["namespace"] == namespace):
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if not selector.items() <= pod_labels.items():
            continue
        for rule in policy["spec"].get("egress", []):
            for peer in rule["to"]:
                if "ipBlock" in peer:
                    destination = ("cidr", peer["ipBlock"]["cidr"])
                else:
                    destination = (peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                                   tuple(sorted(peer.get("podSelector", {}).get("matchLabels", {}).items())))
                for port in rule.get("ports", []):
                    allowed.add((destination, port["port"]))
    return allowed


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_jobs_reach_exactly_what_they_need(environment: str, rendered, environments) -> None:
    settings = environments[environment]
    objects = rendered[environment]
    jobs, platform = settings.namespaces.jobs, settings.namespaces.platform
    default_deny = find(objects, "NetworkPolicy", "default-deny")["spec"]
    assert default_deny["podSelector"] == {} and set(default_deny["policyTypes"]) == {"Ingress", "Egress"}

    def service(selector: dict) -> tuple:
        return platform, tuple(sorted(selector.items()))

    dns = ("kube-system", (("k8s-app", "kube-dns"),))
    needed = {(dns, 53), (service({"app.kubernetes.io/name": "polaris"}), "api"),
              (service({"app.kubernetes.io/name": "minio"}), "api"),
              (service({"app.kubernetes.io/name": "otel-collector"}), 4317),
              (service({"app.kubernetes.io/name": "otel-collector"}), 4318)}
    # Not Dagster's database: only the runs the orchestrator launches record their events there
    # (tests/test_orchestrator_boundaries.py).
    for product in settings.data_products:
        for job_type in JOB_TYPES:
            cronjob = find(objects, "CronJob", template_name(product.name, job_type))
            labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
            compute = {(("cidr", e.cidr), port) for e in compute_egress(settings, product) for port in e.ports}
            assert _egress_of(objects, jobs, labels) == needed | compute


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_platform_ingress_comes_only_from_declared_dependents(environment: str, rendered) -> None:
    objects = rendered[environment]
    deny = find(objects, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and not deny.get("ingress")
    polaris = find(objects, "NetworkPolicy", "allow-polaris")["spec"]
    peers = [p for rule in polaris["ingress"] if rule.get("ports") for p in rule["from"]]
    names = {tuple(p.get("podSelector", {}).get("matchLabels", {}).items()) for p in peers}
    assert (("app.kubernetes.io/name", "dagster"),) in names
    assert (("floe.dev/layer", "pipeline-jobs"),) in names  # jobs reach the catalog
    assert (("app.kubernetes.io/name", "prometheus"),) in names  # Prometheus scrapes it
    assert (("app.kubernetes.io/name", "grafana"),) not in names
    postgres = [o for o in objects.values() if o["kind"] == "NetworkPolicy"
                and o["metadata"]["name"] == "allow-postgres-polaris"]
    for policy in postgres:
        by_port = {rule["ports"][0]["port"]: rule["from"] for rule in policy["spec"]["ingress"] if rule.get("ports")}
        # The database port: its roles' bootstrap, the nightly backup and Polaris; the exporter's: Prometheus.
        assert by_port == {
            "postgres": [
                {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "postgres-polaris-roles"}}},
                {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "postgres-polaris-backup"}}},
                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "polaris"}}}],
            "metrics": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
        }


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_ingress_controller_reaches_only_what_an_ingress_exposes(environment: str, rendered) -> None:
    objects = rendered[environment]
    ingresses = [o for o in objects.values() if o["kind"] == "Ingress"]
    policies = [o for o in objects.values() if o["kind"] == "NetworkPolicy" and any(
        "namespaceSelector" in peer and peer["namespaceSelector"]["matchLabels"].get(
            "kubernetes.io/metadata.name") == "ingress-nginx"
        for rule in o["spec"].get("ingress", []) for peer in rule["from"])]
    assert len(policies) == len({i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
                                 for i in ingresses})
    for policy in policies:
        service = find(objects, "Service", policy["metadata"]["name"].removeprefix("allow-ingress-"))
        assert policy["spec"]["podSelector"]["matchLabels"] == service["spec"]["selector"]
