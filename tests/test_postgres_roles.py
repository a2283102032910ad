"""The role bootstrap of each in-cluster PostgreSQL instance, as rendered (its behaviour: conformance tier)."""

from pathlib import Path

import pytest
import yaml

from floe.app import render_objects
from floe.config.loader import load_environment
from floe.errors import FloeError
from tests.conftest import ROOT, containers, find, pod_spec

IN_CLUSTER = [("dev", "dagster"), ("dev", "polaris"), ("prod", "polaris"), ("staging", "dagster"),
              ("staging", "polaris")]


def jobs(objects: dict) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objects.values() if o["kind"] == "Job"
                  and o["metadata"]["name"].startswith("postgres-"))


def test_one_roles_job_per_in_cluster_instance(rendered) -> None:
    """prod's Dagster database is external: its roles are its operator's, and no Job reaches it."""
    assert {env: jobs(rendered[env]) for env in ("dev", "prod", "staging")} == {
        "dev": ["postgres-dagster-roles", "postgres-polaris-roles"],
        "prod": ["postgres-polaris-roles"],
        "staging": ["postgres-dagster-roles", "postgres-polaris-roles"],
    }


@pytest.mark.parametrize(("environment", "consumer"), IN_CLUSTER)
def test_the_job_runs_in_the_storage_bootstrap_wave_on_every_sync(environment: str, consumer: str, rendered) -> None:
    objects = rendered[environment]
    job = find(objects, "Job", f"postgres-{consumer}-roles")
    path = next(path for path, obj in objects.items() if obj is job)
    assert path == f"10-storage/15-bootstrap/job-postgres-{consumer}-roles.yaml"
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/sync-wave"] == "15"
    assert find(objects, "StatefulSet", f"postgres-{consumer}")["metadata"]["annotations"][
        "argocd.argoproj.io/sync-wave"] == "11"
    assert annotations["argocd.argoproj.io/hook"] == "Sync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert annotations["kustomize.toolkit.fluxcd.io/force"] == "enabled"
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 999


@pytest.mark.parametrize(("environment", "consumer"), IN_CLUSTER)
def test_every_credential_comes_from_its_secret_never_a_command_line(environment: str, consumer: str,
                                                                      rendered) -> None:
    objects = rendered[environment]
    (container,) = containers(find(objects, "Job", f"postgres-{consumer}-roles"))
    statefulset = find(objects, "StatefulSet", f"postgres-{consumer}")
    server = next(c for c in containers(statefulset) if c["name"] == "postgres")
    assert container["image"] == server["image"]
    assert "args" not in container
    shell, flag, script = container["command"]
    assert (shell, flag) == ("/bin/sh", "-c")
    assert script.startswith("#!/bin/sh\n")
    secrets = {e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
               for e in container["env"] if "valueFrom" in e}
    assert secrets == {
        "PGUSER": (f"postgres-{consumer}-admin-credentials", "username"),
        "PGPASSWORD": (f"postgres-{consumer}-admin-credentials", "password"),
        "CLIENT_USER": (f"postgres-{consumer}-credentials", "username"),
        "CLIENT_PASSWORD": (f"postgres-{consumer}-credentials", "password"),
        "MONITORING_USER": (f"postgres-{consumer}-monitoring-credentials", "username"),
        "MONITORING_PASSWORD": (f"postgres-{consumer}-monitoring-credentials", "password"),
    }
    literals = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    # In-cluster TLS in staging and prod: the server is verified against the environment's CA (test_tls.py).
    tls = {"PGSSLMODE": "disable"} if environment == "dev" else {"PGSSLMODE": "verify-full",
                                                                  "PGSSLROOTCERT": "/etc/floe/postgres-ca/ca.crt"}
    assert literals == {"PGHOST": f"postgres-{consumer}.floe-platform.svc.cluster.local", "PGPORT": "5432",
                        "PGDATABASE": consumer, **tls}
    # Passwords reach psql as its variables, read from the env inside psql; no command names one.
    assert "\\getenv client_password CLIENT_PASSWORD" in script
    assert "\\getenv monitoring_password MONITORING_PASSWORD" in script
    assert [line for line in script.splitlines() if "PASSWORD" in line and "psql" in line] == [
        '  if PGUSER="$1" PGPASSWORD="$2" psql --no-psqlrc --quiet --command \'SELECT\' >/dev/null 2>&1; then']


@pytest.mark.parametrize(("environment", "consumer"), IN_CLUSTER)
def test_the_job_reaches_its_instance_on_its_postgres_port_alone(environment: str, consumer: str, rendered) -> None:
    selector = {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": f"postgres-{consumer}-roles"}}}
    admitted = [(o["metadata"]["name"], rule.get("ports")) for o in rendered[environment].values()
                if o["kind"] == "NetworkPolicy" for rule in o["spec"].get("ingress", []) if selector in rule["from"]]
    # Besides its own policy (a component's pods admit each other; the Job's serve nothing).
    assert sorted(admitted, key=str) == [(f"allow-postgres-{consumer}", [{"port": "postgres", "protocol": "TCP"}]),
                                         (f"allow-postgres-{consumer}-roles", None)]


def dev_with(tmp_path: Path, **postgres: dict) -> Path:
    """environments/dev.yaml with storage.postgres settings of some consumers added."""
    settings = yaml.safe_load((ROOT / "environments" / "dev.yaml").read_text())
    for consumer, added in postgres.items():
        settings["storage"]["postgres"][consumer].update(added)
    path = tmp_path / "dev.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def test_a_superuser_secret_shared_with_the_consumer_is_refused(tmp_path) -> None:
    path = dev_with(tmp_path, dagster={"credentials_secret": "dagster-db", "admin_secret": "dagster-db"})
    with pytest.raises(FloeError, match="storage.postgres.dagster.admin_secret: 'dagster-db' is also "
                                        r"credentials_secret: the superuser needs a Secret \(and a role\) of its own"):
        load_environment(path)


def test_a_renamed_admin_secret_is_the_servers_and_the_jobs(tmp_path) -> None:
    objects = render_objects(load_environment(dev_with(tmp_path, polaris={"admin_secret": "polaris-db-root"})))
    rendered = {(o["kind"], o["metadata"]["name"]): o for step in objects.values() for o in step}
    server = next(c for c in containers(rendered["StatefulSet", "postgres-polaris"]) if c["name"] == "postgres")
    (job,) = containers(rendered["Job", "postgres-polaris-roles"])
    for container, variable in ((server, "POSTGRES_USER"), (job, "PGUSER")):
        (found,) = [e for e in container["env"] if e["name"] == variable]
        assert found["valueFrom"]["secretKeyRef"] == {"name": "polaris-db-root", "key": "username"}
