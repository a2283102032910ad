"""The orchestrator tier: Dagster's instance and workspace, migration order, servers and runs."""

import pytest
import yaml
from pydantic import ValidationError

from floe.config.environment import Environment
from floe.tiers import SYNC_WAVE
from tests.changed_render import checksum_of
from tests.conftest import ENVIRONMENT_NAMES, containers, find, pod_spec

DAGSTER_HOME = "/opt/dagster/dagster_home"
DAGSTER_DATABASE = {
    # environment → (the database's host, the Secret of its credentials), as the environment files set them.
    "dev": ("postgres-dagster.floe-platform.svc.cluster.local", "postgres-dagster-credentials"),
    "staging": ("postgres-dagster.floe-platform.svc.cluster.local", "postgres-dagster-credentials"),
    "prod": ("floe-dagster.postgres.example.internal", "dagster-postgres-credentials"),
}
STORAGES = {
    "run_storage": ("dagster_postgres.run_storage", "PostgresRunStorage"),
    "event_log_storage": ("dagster_postgres.event_log", "PostgresEventLogStorage"),
    "schedule_storage": ("dagster_postgres.schedule_storage", "PostgresScheduleStorage"),
}


def config_file(objects: dict, name: str, key: str) -> tuple[str, dict]:
    text = find(objects, "ConfigMap", name)["data"][key]
    return text, yaml.safe_load(text)


def instance(objects: dict) -> dict:
    return config_file(objects, "dagster-instance", "dagster.yaml")[1]


def webserver(objects: dict, environment: Environment) -> dict:
    kind = "Rollout" if environment.orchestrator.webserver.blue_green else "Deployment"
    return find(objects, kind, "dagster-webserver")


def wave(obj: dict) -> int:
    return int(obj["metadata"]["annotations"][SYNC_WAVE])


def env_of(container: dict) -> dict[str, dict]:
    return {var["name"]: var for var in container.get("env", [])}


def dagster_workloads(objects: dict, environment: Environment) -> list[dict]:
    return [
        webserver(objects, environment),
        find(objects, "Deployment", "dagster-daemon"),
        find(objects, "Job", "dagster-migrate"),
        *(find(objects, "Deployment", f"dagster-code-{p.name}") for p in environment.data_products),
    ]


@pytest.fixture(params=ENVIRONMENT_NAMES)
def case(request, rendered, environments) -> tuple[dict, Environment]:
    return rendered[request.param], environments[request.param]


def test_instance_stores_everything_in_the_dagster_database(case) -> None:
    objects, environment = case
    config = instance(objects)
    host, _ = DAGSTER_DATABASE[environment.name]
    for section, (module, cls) in STORAGES.items():
        assert (config[section]["module"], config[section]["class"]) == (module, cls)
        postgres = config[section]["config"]["postgres_db"]
        assert (postgres["hostname"], postgres["port"], postgres["db_name"]) == (host, 5432, "dagster")
        assert postgres["username"] == {"env": "DAGSTER_PG_USERNAME"}
        assert postgres["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert config["telemetry"] == {"enabled": False}
    assert config["run_monitoring"]["enabled"] is True


def test_every_dagster_pod_gets_the_database_credentials_from_the_secret(case) -> None:
    objects, environment = case
    _, secret = DAGSTER_DATABASE[environment.name]
    run_env = {v["name"]: v for v in
               instance(objects)["run_launcher"]["config"]["run_k8s_config"]["container_config"]["env"]}
    for variables in [env_of(c) for w in dagster_workloads(objects, environment) for c in containers(w)] + [run_env]:
        for name, key in (("DAGSTER_PG_USERNAME", "username"), ("DAGSTER_PG_PASSWORD", "password")):
            assert variables[name]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": key}


def test_runs_are_jobs_in_the_jobs_namespace_with_the_job_policy(case) -> None:
    objects, environment = case
    launcher = instance(objects)["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    config = launcher["config"]
    assert config["job_namespace"] == environment.namespaces.jobs
    assert config["load_incluster_config"] is True
    assert config["instance_config_map"] == "dagster-instance"
    assert config["job_image"] == environment.release.images.dagster
    run = config["run_k8s_config"]
    job = run["job_spec_config"]
    # ADR-0019: fail fast, clean up after an hour, stop after the environment's deadline (four hours by default).
    assert job == {"backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "activeDeadlineSeconds": 14400}
    assert run["pod_spec_config"]["restartPolicy"] == "Never"
    # The "job-burst" preset.
    assert run["container_config"]["resources"] == {"requests": {"cpu": "1000m", "memory": "2Gi"},
                                                    "limits": {"cpu": "4000m", "memory": "8Gi"}}
    # Restricted Pod Security in the jobs namespace: the run pod must pass it.
    security = run["container_config"]["securityContext"]
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"]["drop"] == ["ALL"]
    assert run["pod_spec_config"]["securityContext"]["runAsNonRoot"] is True
    assert run["pod_spec_config"]["automountServiceAccountToken"] is False
    mounted = {m["mountPath"] for m in run["container_config"]["volumeMounts"]}
    assert {"/tmp", DAGSTER_HOME} <= mounted
    account = find(objects, "ServiceAccount", config["service_account_name"])
    assert account["metadata"]["namespace"] == environment.namespaces.jobs


def test_runs_are_queued(case) -> None:
    objects, environment = case
    coordinator = instance(objects)["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert coordinator["config"]["max_concurrent_runs"] == environment.orchestrator.max_concurrent_runs


def test_run_logs_go_to_the_object_store_and_only_the_webserver_reads_them(case) -> None:
    objects, environment = case
    tls = environment.name != "dev"  # in-cluster TLS in staging and prod; boto3 verifies with AWS_CA_BUNDLE
    assert instance(objects)["compute_logs"] == {
        "module": "dagster_aws.s3.compute_log_manager",
        "class": "S3ComputeLogManager",
        "config": {"bucket": "floe-warehouse", "prefix": "dagster/compute-logs",
                   "endpoint_url": f"http{'s' if tls else ''}://minio.floe-platform.svc.cluster.local:9000",
                   "use_ssl": tls,
                   "region": "us-east-1", "local_dir": f"{DAGSTER_HOME}/compute-logs", "upload_interval": 30,
                   "skip_empty_files": True},
    }
    # The migration's instance has no compute logs: it runs no step.
    assert "compute_logs" not in config_file(objects, "dagster-instance", "dagster-migrate.yaml")[1]
    web = env_of(containers(webserver(objects, environment))[0])
    assert web["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "dagster-compute-logs-credentials", "key": "access-key"}
    assert web["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "dagster-compute-logs-credentials", "key": "secret-key"}
    daemon = env_of(containers(find(objects, "Deployment", "dagster-daemon"))[0])
    assert "AWS_ACCESS_KEY_ID" not in daemon


def test_workspace_lists_exactly_the_data_products(case) -> None:
    objects, environment = case
    workspace = config_file(objects, "dagster-workspace", "workspace.yaml")[1]
    servers = [entry["grpc_server"] for entry in workspace["load_from"]]
    assert [s["location_name"] for s in servers] == [p.name for p in environment.data_products]
    for server in servers:
        service = find(objects, "Service", server["host"].split(".")[0])
        assert server["host"] == f"{service['metadata']['name']}.{environment.namespaces.platform}.svc.cluster.local"
        assert [p["port"] for p in service["spec"]["ports"]] == [server["port"]] == [3030]


def test_schema_migration_runs_before_the_servers(case) -> None:
    objects, environment = case
    migrate = find(objects, "Job", "dagster-migrate")
    assert containers(migrate)[0]["command"] == ["dagster", "instance", "migrate"]
    assert wave(find(objects, "ConfigMap", "dagster-instance")) <= wave(migrate)
    assert wave(find(objects, "ConfigMap", "dagster-workspace")) <= wave(migrate)
    for server in dagster_workloads(objects, environment):
        if server is not migrate:
            assert wave(migrate) < wave(server)


def test_daemon_is_a_single_recreated_replica_allowed_to_launch_runs(case) -> None:
    objects, _ = case
    daemon = find(objects, "Deployment", "dagster-daemon")
    assert daemon["spec"]["replicas"] == 1
    assert daemon["spec"]["strategy"]["type"] == "Recreate"
    assert pod_spec(daemon)["automountServiceAccountToken"] is True
    container = containers(daemon)[0]
    assert container["command"][:2] == ["dagster-daemon", "run"]
    assert env_of(container)["DAGSTER_DAEMON_HEARTBEAT_TOLERANCE"]["value"] == "300"
    assert container["livenessProbe"]["exec"]["command"] == ["dagster-daemon", "liveness-check"]


def test_each_data_product_has_a_code_location_serving_grpc_on_3030(case) -> None:
    objects, environment = case
    for product in environment.data_products:
        name = f"dagster-code-{product.name}"
        deployment = find(objects, "Deployment", name)
        container = containers(deployment)[0]
        assert container["image"] == product.image
        assert container["command"] == ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m", product.module]
        assert env_of(container)["DAGSTER_CURRENT_IMAGE"]["value"] == product.image
        declared = {p["name"]: p["containerPort"] for p in container["ports"]}
        service = find(objects, "Service", name)
        assert [declared[p["targetPort"]] for p in service["spec"]["ports"]] == [3030]
        health = ["dagster", "api", "grpc-health-check", "-p", "3030"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["exec"]["command"] == health
            assert container[probe]["timeoutSeconds"] >= 10
        assert f"floe.data_product={product.name}" in env_of(container)["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        assert deployment["metadata"]["labels"]["floe.dev/owner"] == "platform-team"


def test_webserver_is_ready_only_when_every_code_location_is_loaded(case) -> None:
    objects, environment = case
    workload = webserver(objects, environment)
    container = containers(workload)[0]
    assert container["command"] == ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000",
                                    "-w", "/dagster-workspace/workspace.yaml"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 3000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/server_info", "port": "http"}
    command = container["readinessProbe"]["exec"]["command"]
    assert command[:2] == ["python", "-c"]
    compile(command[2], "readiness", "exec")
    assert "locationEntries" in command[2] and "LOADED" in command[2] and "127.0.0.1:3000/graphql" in command[2]
    assert command[3:] == [p.name for p in environment.data_products]
    # Terminating a started run deletes its Job from the webserver.
    assert pod_spec(workload)["automountServiceAccountToken"] is True


def test_webserver_exposure_follows_the_settings(case) -> None:
    objects, environment = case
    settings = environment.orchestrator.webserver
    # The UI's Ingress is its login's (tests/test_orchestrator_access.py), never the webserver's own.
    ingresses = {o["metadata"]["name"]: o for o in objects.values() if o["kind"] == "Ingress"}
    assert "dagster-webserver" not in ingresses
    assert ([ingresses["oauth2-proxy"]["spec"]["rules"][0]["host"]] if "oauth2-proxy" in ingresses else []) == (
        [settings.ingress.host] if settings.ingress else [])
    if settings.blue_green:
        assert webserver(objects, environment)["spec"]["strategy"]["blueGreen"]["previewService"]


def test_dagster_pods_run_as_non_root_with_a_writable_dagster_home(case) -> None:
    objects, environment = case
    for workload in dagster_workloads(objects, environment):
        spec = pod_spec(workload)
        # Dagster's own image runs as 10001; a code location runs the product's image, as its jobs do.
        product_image = workload["metadata"]["labels"]["app.kubernetes.io/component"] == "code-location"
        expected = environment.jobs.run_as_user if product_image else 10001
        assert spec["securityContext"]["runAsUser"] == expected and spec["securityContext"]["runAsNonRoot"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        container = containers(workload)[0]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts[DAGSTER_HOME]["name"]]
        assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
        config = mounts[f"{DAGSTER_HOME}/dagster.yaml"]
        assert config["readOnly"] and config["subPath"] == "dagster.yaml"
        assert volumes[config["name"]]["configMap"]["name"] == "dagster-instance"
        variables = env_of(container)
        assert variables["DAGSTER_HOME"]["value"] == DAGSTER_HOME
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in variables


SERVERS = [("Deployment", "dagster-webserver"), ("Deployment", "dagster-daemon"), ("Deployment", "dagster-code-sales")]


@pytest.mark.parametrize(("kind", "name"), SERVERS)
def test_a_changed_instance_config_rolls_every_dagster_server(kind: str, name: str) -> None:
    # max_concurrent_runs is in dagster.yaml, which every server mounts.
    assert checksum_of("maximum of concurrent runs", kind, name) != checksum_of("nothing", kind, name)
    # The catalog's config is not Dagster's.
    assert checksum_of("catalog realm", kind, name) == checksum_of("nothing", kind, name)


def test_a_changed_workspace_rolls_the_servers_that_read_it_and_no_code_location() -> None:
    """workspace.yaml lists the code locations: the webserver and the daemon read it, a code location does not."""
    for kind, name in SERVERS[:2]:
        assert checksum_of("a second data product", kind, name) != checksum_of("nothing", kind, name), name
    assert checksum_of("a second data product", *SERVERS[2]) == checksum_of("nothing", *SERVERS[2])


def test_environments_grow_by_data_products(environments) -> None:
    assert len(environments["dev"].data_products) == 1
    assert len(environments["staging"].data_products) == len(environments["prod"].data_products) == 2


PRODUCT = {"name": "sales", "image": "registry.example.com/floe/sales:1.4.2", "module": "sales.definitions",
           "dlt": {"module": "sales.ingest"}}
GITOPS = {"repository": "https://git.example.org/floe.git"}


def test_data_product_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="'sales' already names data_products.0"):
        Environment(name="x", platform_version="1.0.0", gitops=GITOPS,
                    data_products=[PRODUCT, {**PRODUCT, "module": "other"}])


@pytest.mark.parametrize("change", [
    {"image": "registry.example.com/floe/sales:latest"},
    {"image": "sales:1.4.2"},
    {"module": "sales-definitions"},
    {"name": "Sales"},
])
def test_data_product_rejects_bad_values(change: dict) -> None:
    Environment(name="x", platform_version="1.0.0", gitops=GITOPS, data_products=[PRODUCT])
    with pytest.raises(ValidationError, match=r"data_products\.0\."):
        Environment(name="x", platform_version="1.0.0", gitops=GITOPS, data_products=[{**PRODUCT, **change}])
