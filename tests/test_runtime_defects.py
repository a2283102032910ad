"""Runtime defects found by running the real programs on the rendered configuration (issue 10).

Each test reads the rendered objects and checks the literal values that make the program work
in its pod: the migration Job's instance file, Polaris' log handlers, how the realm's root
credentials reach the admin tool, and Grafana's plugin preinstaller.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ENVIRONMENT_NAMES, containers, find, pod_spec

DAGSTER_HOME = "/opt/dagster/dagster_home"
ADMIN_TOOL = "/opt/jboss/container/java/run/run-java.sh"
CREDENTIALS_DIR = "/run/polaris-bootstrap"
WORKLOAD_KINDS = {"Deployment", "Rollout", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def all_containers(obj: dict) -> list[dict]:
    spec = pod_spec(obj)
    return [*(spec.get("initContainers") or []), *spec["containers"]]


def realm_container(objects: dict) -> dict:
    job = find(objects, "Job", "polaris-bootstrap")
    [container] = [c for c in all_containers(job) if c["name"] == "bootstrap-realm"]
    return container


# 1. Dagster's migration Job -------------------------------------------------------------------

@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_migration_job_loads_an_instance_without_the_run_launcher(rendered, name: str) -> None:
    """`dagster instance migrate` builds the instance's run launcher; the K8sRunLauncher
    (load_incluster_config) needs a token the migration pod does not mount. Its dagster.yaml is
    the servers' storage alone."""
    objects = rendered[name]
    data = find(objects, "ConfigMap", "dagster-instance")["data"]
    servers, migration = yaml.safe_load(data["dagster.yaml"]), yaml.safe_load(data["dagster-migrate.yaml"])
    assert sorted(migration) == ["event_log_storage", "run_storage", "schedule_storage", "telemetry"]
    assert "run_launcher" not in migration and "run_monitoring" not in migration
    assert migration["run_storage"]["class"] == "PostgresRunStorage"
    assert migration["event_log_storage"]["class"] == "PostgresEventLogStorage"
    assert migration["schedule_storage"]["class"] == "PostgresScheduleStorage"
    assert migration["telemetry"] == {"enabled": False}
    for section in ("run_storage", "event_log_storage", "schedule_storage"):
        assert migration[section] == servers[section], "the migration must migrate the servers' database"
    # The servers keep the Kubernetes run launcher.
    assert servers["run_launcher"]["class"] == "K8sRunLauncher"
    assert servers["run_launcher"]["config"]["load_incluster_config"] is True

    job = find(objects, "Job", "dagster-migrate")
    spec = pod_spec(job)
    assert spec["automountServiceAccountToken"] is False
    [container] = containers(job)
    assert container["command"] == ["dagster", "instance", "migrate"]
    assert env_of(container)["DAGSTER_HOME"]["value"] == DAGSTER_HOME
    mount = {m["mountPath"]: m for m in container["volumeMounts"]}[f"{DAGSTER_HOME}/dagster.yaml"]
    assert mount["subPath"] == "dagster.yaml" and mount["readOnly"] is True
    volume = {v["name"]: v for v in spec["volumes"]}[mount["name"]]
    assert volume["configMap"] == {"name": "dagster-instance",
                                   "items": [{"key": "dagster-migrate.yaml", "path": "dagster.yaml"}]}


@pytest.mark.parametrize("server", ["dagster-webserver", "dagster-daemon"])
def test_servers_still_mount_the_full_instance_with_a_token(rendered, server: str) -> None:
    for name in ENVIRONMENT_NAMES:
        [workload] = [o for o in rendered[name].values()
                      if o["kind"] in {"Deployment", "Rollout"} and o["metadata"]["name"] == server]
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is True
        mount = {m["mountPath"]: m for m in containers(workload)[0]["volumeMounts"]}[f"{DAGSTER_HOME}/dagster.yaml"]
        volume = {v["name"]: v for v in spec["volumes"]}[mount["name"]]
        assert volume["configMap"] == {"name": "dagster-instance"}
        assert mount["subPath"] == "dagster.yaml"


# 2. Polaris' file log ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_polaris_writes_no_log_file(rendered, name: str) -> None:
    """The image's defaults enable a file handler at ./logs/polaris.log; the root is read-only."""
    text = find(rendered[name], "ConfigMap", "polaris-config")["data"]["application.properties"]
    assert "quarkus.log.file.enabled=false\n" in text.splitlines(keepends=True)
    properties = dict(line.split("=", 1) for line in text.splitlines())
    assert properties["quarkus.log.file.enabled"] == "false"


# 3. The realm's root client secret --------------------------------------------------------------

@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_no_command_line_carries_the_root_secret(rendered, name: str) -> None:
    """Kubernetes expands $(VAR) in command and args into the process's argv (/proc/*/cmdline)."""
    for obj in rendered[name].values():
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        for container in all_containers(obj):
            for part in [*(container.get("command") or []), *(container.get("args") or [])]:
                assert "$(ROOT_CLIENT_SECRET)" not in part, (obj["metadata"]["name"], container["name"])
    realm = realm_container(rendered[name])
    assert "args" not in realm
    assert realm["command"][:2] == ["/bin/bash", "-c"]
    lines = [line for line in realm["command"][2].splitlines() if not line.startswith("#")]
    assert "umask 077" in lines
    assert f'{ADMIN_TOOL} bootstrap --credentials-file "$ROOT_CREDENTIALS_FILE"' in lines
    assert not any("--credential " in line or "--realm" in line for line in lines)
    variables = env_of(realm)
    assert variables["ROOT_CREDENTIALS_FILE"]["value"] == f"{CREDENTIALS_DIR}/root-credentials.yaml"
    assert variables["ROOT_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "client-secret"
    assert variables["REALM"]["value"]


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_root_credentials_file_is_in_memory_scratch(rendered, name: str) -> None:
    job = find(rendered[name], "Job", "polaris-bootstrap")
    realm = realm_container(rendered[name])
    mount = {m["mountPath"]: m for m in realm["volumeMounts"]}[CREDENTIALS_DIR]
    volume = {v["name"]: v for v in pod_spec(job)["volumes"]}[mount["name"]]
    assert volume["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Mi"}
    # Only the admin tool's container sees it.
    others = [c for c in all_containers(job) if c["name"] != "bootstrap-realm"]
    assert all(mount["name"] not in {m["name"] for m in c.get("volumeMounts", [])} for c in others)


def local_credentials_file(realm: dict, scratch: Path) -> str:
    """The rendered path of the credentials file, in ``scratch`` instead of the pod's in-memory volume."""
    return env_of(realm)["ROOT_CREDENTIALS_FILE"]["value"].replace(CREDENTIALS_DIR, str(scratch))


def test_admin_tool_reads_the_credentials_file_and_never_sees_the_secret(rendered, tmp_path: Path) -> None:
    """The rendered script, run by bash with a stand-in admin tool recording its argv and file."""
    realm = realm_container(rendered["dev"])
    scratch, record = tmp_path / "scratch", tmp_path / "record"
    scratch.mkdir()
    tool = tmp_path / "run-java.sh"
    tool.write_text('#!/bin/bash\nprintf "%s\\n" "$@" > "$RECORD/argv"\n'
                    'stat -c %a "$3" > "$RECORD/mode"\ncp "$3" "$RECORD/credentials.yaml"\n')
    tool.chmod(0o755)
    record.mkdir()
    script = realm["command"][2].replace(ADMIN_TOOL, str(tool))
    secret = "s'3c\"r,e\\t $HOME %s"
    result = subprocess.run(
        ["/bin/bash", "-c", script], capture_output=True, text=True, check=False,
        env={"PATH": os.environ["PATH"], "RECORD": str(record), "REALM": "floe",
             "ROOT_CLIENT_ID": "root", "ROOT_CLIENT_SECRET": secret,
             "ROOT_CREDENTIALS_FILE": local_credentials_file(realm, scratch)},
    )
    assert result.returncode == 0, result.stderr
    argv = (record / "argv").read_text().splitlines()
    assert argv == ["bootstrap", "--credentials-file", f"{scratch}/root-credentials.yaml"]
    assert secret not in "".join(argv)
    assert yaml.safe_load((record / "credentials.yaml").read_text()) == {
        "floe": {"client-id": "root", "client-secret": secret}}
    assert (record / "mode").read_text().strip() == "600"
    assert list(scratch.iterdir()) == [], "the file is removed once the tool exits"


def test_a_failing_admin_tool_fails_the_container_and_removes_the_file(rendered, tmp_path: Path) -> None:
    realm = realm_container(rendered["dev"])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    tool = tmp_path / "run-java.sh"
    tool.write_text("#!/bin/bash\nexit 3\n")
    tool.chmod(0o755)
    script = realm["command"][2].replace(ADMIN_TOOL, str(tool))
    result = subprocess.run(["/bin/bash", "-c", script], capture_output=True, text=True, check=False,
                            env={"PATH": os.environ["PATH"], "REALM": "floe", "ROOT_CLIENT_ID": "root",
                                 "ROOT_CLIENT_SECRET": "x",
                                 "ROOT_CREDENTIALS_FILE": local_credentials_file(realm, scratch)})
    assert result.returncode == 3
    assert list(scratch.iterdir()) == []


# 4. Grafana's plugin preinstaller ---------------------------------------------------------------

@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_grafana_downloads_no_plugins_at_start(rendered, environments, name: str) -> None:
    if not environments[name].observability.grafana.enabled:
        pytest.skip(f"{name} renders no Grafana")
    [container] = containers(find(rendered[name], "Deployment", "grafana"))
    assert env_of(container)["GF_PLUGINS_PREINSTALL_DISABLED"] == {"name": "GF_PLUGINS_PREINSTALL_DISABLED",
                                                                   "value": "true"}
