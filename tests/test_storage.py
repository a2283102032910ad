"""The storage tier: a PostgreSQL instance per consumer (or its external database) and MinIO."""

import pytest
import yaml

from floe.components.postgres import CONSUMERS, database_of
from floe.config.storage import InClusterPostgres
from floe.tiers import STORAGE, SYNC_WAVE
from tests.conftest import ENVIRONMENT_NAMES, containers, find, pod_spec


def wave(obj: dict) -> int:
    return int(obj["metadata"]["annotations"][SYNC_WAVE])


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_one_postgres_per_in_cluster_consumer(environment: str, rendered, environments) -> None:
    objects, settings = rendered[environment], environments[environment]
    for consumer in CONSUMERS:
        in_cluster = isinstance(getattr(settings.storage.postgres, consumer), InClusterPostgres)
        names = [o["metadata"]["name"] for o in objects.values() if o["kind"] == "StatefulSet"]
        assert (f"postgres-{consumer}" in names) == in_cluster


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_postgres_statefulset_shape(environment: str, rendered, environments) -> None:
    objects = rendered[environment]
    for consumer in CONSUMERS:
        settings = getattr(environments[environment].storage.postgres, consumer)
        if not isinstance(settings, InClusterPostgres):
            continue
        name = f"postgres-{consumer}"
        statefulset = find(objects, "StatefulSet", name)
        spec = statefulset["spec"]
        assert spec["replicas"] == 1
        assert spec["serviceName"] == f"{name}-headless"
        (claim,) = spec["volumeClaimTemplates"]
        assert claim["spec"]["resources"]["requests"]["storage"] == settings.storage.size
        assert claim["spec"].get("storageClassName") == settings.storage.storage_class
        container = next(c for c in containers(statefulset) if c["name"] == "postgres")
        mount = next(m for m in container["volumeMounts"] if m["name"] == claim["metadata"]["name"])
        variables = env_of(container)
        assert variables["PGDATA"]["value"].startswith(mount["mountPath"] + "/")
        # initdb's superuser is the instance's own, never the consumer's role.
        secret = f"{name}-admin-credentials"
        assert variables["POSTGRES_USER"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "username"}
        assert variables["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "password"}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert "pg_isready" in " ".join(container[probe]["exec"]["command"])
        assert pod_spec(statefulset)["securityContext"]["runAsUser"] == 999
        headless = find(objects, "Service", f"{name}-headless")["spec"]
        assert headless["clusterIP"] == "None"
        client = find(objects, "Service", name)["spec"]
        # The server, and its postgres_exporter sidecar for Prometheus.
        assert client["ports"] == [{"name": "postgres", "port": 5432, "protocol": "TCP", "targetPort": "postgres"},
                                   {"name": "metrics", "port": 9187, "protocol": "TCP", "targetPort": "metrics"}]


def test_external_database_is_used_not_rendered(environments) -> None:
    prod = environments["prod"]
    database = database_of(prod, "dagster")
    assert database.host == prod.storage.postgres.dagster.host
    assert database.ssl_mode == "verify-full"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_minio_statefulset_shape(environment: str, rendered, environments) -> None:
    objects, settings = rendered[environment], environments[environment].storage.object_store
    statefulset = find(objects, "StatefulSet", "minio")
    (container,) = containers(statefulset)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"api": 9000, "console": 9001}
    # MinIO serves its API over TLS in staging and prod (in-cluster TLS): the kubelet probes it over HTTPS.
    tls = {} if environment == "dev" else {"scheme": "HTTPS"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/minio/health/live", "port": "api", **tls}
    assert container["readinessProbe"]["httpGet"] == {"path": "/minio/health/ready", "port": "api", **tls}
    variables = env_of(container)
    assert variables["MINIO_ROOT_USER"]["valueFrom"]["secretKeyRef"]["name"] == settings.credentials_secret
    assert variables["MINIO_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "root-password"
    assert statefulset["spec"]["replicas"] == settings.replicas
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == \
        settings.storage.size
    drives = container["args"][1]
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"  # immutable: never depends on replicas
    if settings.replicas == 1:
        assert drives == "/data"
    else:
        assert f"{{0...{settings.replicas - 1}}}" in drives and ".minio-headless." in drives
        assert find(objects, "PodDisruptionBudget", "minio")["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_bucket_bootstrap_runs_after_minio_and_before_the_next_tier(environment: str, rendered,
                                                                    environments) -> None:
    objects = rendered[environment]
    job = find(objects, "Job", "minio-buckets")
    minio = find(objects, "StatefulSet", "minio")
    assert wave(minio) < wave(job) < STORAGE.wave + 10
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "Sync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert annotations["kustomize.toolkit.fluxcd.io/force"] == "enabled"
    (container,) = containers(job)
    script = container["command"][-1]
    assert "mc mb --ignore-existing" in script
    variables = env_of(container)
    assert variables["BUCKETS"]["value"].split() == list(environments[environment].storage.object_store.buckets)
    assert variables["MINIO_ENDPOINT"]["value"].endswith(".svc.cluster.local:9000")
    assert pod_spec(job)["restartPolicy"] == "Never"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_statefulset_claim_templates_carry_no_version(environment: str, rendered) -> None:
    for obj in rendered[environment].values():
        for claim in obj.get("spec", {}).get("volumeClaimTemplates", []) if obj["kind"] == "StatefulSet" else []:
            assert "app.kubernetes.io/version" not in claim["metadata"].get("labels", {})


def test_verifying_an_external_server_needs_its_ca(tmp_path) -> None:
    from floe.config.loader import load_environment
    from floe.errors import FloeError

    path = tmp_path / "qa.yaml"
    path.write_text('platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                    "storage:\n  postgres:\n    dagster:\n      mode: external\n      host: db.example.org\n"
                    "      database: dagster\n      credentials_secret: pg\n      ssl_mode: verify-full\n"
                    "      egress: [{cidr: 192.0.2.0/24, ports: [5432]}]\n")
    with pytest.raises(FloeError, match="ssl_mode verify-full verifies the server against a CA: set ca_secret"):
        load_environment(path)


def test_external_database_clients_trust_its_ca(rendered, environments) -> None:
    database = environments["prod"].storage.postgres.dagster
    instance = yaml.safe_load(find(rendered["prod"], "ConfigMap", "dagster-instance")["data"]["dagster.yaml"])
    params = instance["run_storage"]["config"]["postgres_db"]["params"]
    assert params == {"sslmode": "verify-full", "sslrootcert": "/etc/floe/postgres-ca/ca.crt"}
    for name in ("dagster-daemon", "dagster-migrate"):
        kind = "Job" if name == "dagster-migrate" else "Deployment"
        spec = pod_spec(find(rendered["prod"], kind, name))
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["postgres-ca"]["secret"]["secretName"] == database.ca_secret
        mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
        assert "/etc/floe/postgres-ca" in mounts
    run = instance["run_launcher"]["config"]["run_k8s_config"]
    assert any(v["name"] == "postgres-ca" for v in run["pod_spec_config"]["volumes"])
