"""The run launcher, as dagster-k8s 0.29.24 merges a run's settings, refuses what the UI must not set.

Open-source Dagster has no login, and a run's ``dagster-k8s/config`` tag (editable in the UI's
launchpad) is merged into the run's Job. The rendered launcher's allow-list must make dagster-k8s
itself refuse a tag that sets the image, command, env_from, volumes, service account or namespace,
drop env vars the platform never sets, and still admit what every code location's container
context carries (the product's env, resources and labels) and a tag that only sets resources.
"""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conformance.dagster_venv import VENV, ensure_dagster
from tests.conftest import find

PINNED_TOOLS = (VENV,)
"""Built with the tier's other pinned tools, side by side (conformance/conftest.py)."""

HERE = Path(__file__).resolve().parent
TAG = "dagster-k8s/config"
HOSTILE = {
    "image": ({"container_config": {"image": "docker.io/library/busybox:1.37"}}, "container_config.image"),
    "command": ({"container_config": {"command": ["sh", "-c", "env"]}}, "container_config.command"),
    "args": ({"container_config": {"args": ["-c", "env"]}}, "container_config.args"),
    "env_from": ({"container_config": {"env_from": [{"secret_ref": {"name": "postgres-dagster-credentials"}}]}},
                 "container_config.env_from"),
    "volume mounts": ({"container_config": {"volume_mounts": [{"name": "host", "mount_path": "/host"}]}},
                      "container_config.volume_mounts"),
    "volumes": ({"pod_spec_config": {"volumes": [{"name": "host", "host_path": {"path": "/"}}]}},
                "pod_spec_config.volumes"),
    "service account": ({"pod_spec_config": {"service_account_name": "default"}},
                        "pod_spec_config.service_account_name"),
    "security context": ({"container_config": {"security_context": {"privileged": True}}},
                         "container_config.security_context"),
    "host network": ({"pod_spec_config": {"host_network": True}}, "pod_spec_config.host_network"),
}


@pytest.fixture(scope="module")
def dagster_python() -> Path:
    return ensure_dagster()[0] / "python"


def launcher_config(objects: dict) -> dict:
    instance = find(objects, "ConfigMap", "dagster-instance")["data"]["dagster.yaml"]
    return yaml.safe_load(instance)["run_launcher"]["config"]


def container_context(objects: dict, product: str) -> dict:
    [server] = find(objects, "Deployment", f"dagster-code-{product}")["spec"]["template"]["spec"]["containers"]
    [value] = [v["value"] for v in server["env"] if v["name"] == "DAGSTER_CONTAINER_CONTEXT"]
    return json.loads(value.replace("$$", "$"))


def merge(python: Path, scratch: Path, launcher: dict, context: dict, tags: dict) -> dict:
    """dagster-k8s's merge of the run's settings, in the pinned Dagster's own Python."""
    given = {"scratch": str(scratch), "launcher": launcher, "container_context": context, "tags": tags}
    result = subprocess.run([python, HERE / "run_launcher_merge.py"], input=json.dumps(given), capture_output=True,
                            text=True, timeout=120, check=True)
    return json.loads(result.stdout)


def env_of(merged: dict) -> dict[str, dict]:
    return {v["name"]: v for v in merged["run_k8s_config"]["container_config"]["env"]}


@pytest.mark.parametrize(("name", "product"), [("dev", "sales"), ("staging", "sales"), ("staging", "marketing"),
                                             ("prod", "sales"), ("prod", "marketing")])
def test_the_code_locations_context_passes_the_allow_list(rendered, dagster_python, tmp_path, name, product) -> None:
    objects = rendered[name]
    context = container_context(objects, product)
    merged = merge(dagster_python, tmp_path, launcher_config(objects), context, {})
    run = merged["run_k8s_config"]
    assert merged["namespace"] == "floe-jobs"
    assert run["pod_spec_config"]["service_account_name"] == "floe-job-runner"
    assert run["pod_template_spec_metadata"]["labels"]["floe.dev/data-product"] == product
    assert run["job_metadata"]["labels"]["floe.dev/data-product"] == product
    assert env_of(merged)["FLOE_DATA_PRODUCT"] == {"name": "FLOE_DATA_PRODUCT", "value": product}
    # The product's credentials reach the run as its code location reports them.
    [reported] = [v for v in context["k8s"]["env"] if v["name"] == "FLOE_CATALOG_CLIENT_SECRET"]
    assert env_of(merged)["FLOE_CATALOG_CLIENT_SECRET"]["value_from"]["secret_key_ref"] == (
        reported["valueFrom"]["secretKeyRef"])
    assert "image" not in run["container_config"]


def test_a_tag_may_set_resources(rendered, dagster_python, tmp_path) -> None:
    objects = rendered["staging"]
    resources = {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}
    tags = {TAG: json.dumps({"container_config": {"resources": resources}})}
    merged = merge(dagster_python, tmp_path, launcher_config(objects), container_context(objects, "sales"), tags)
    assert merged["run_k8s_config"]["container_config"]["resources"] == resources


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_tag_setting_more_is_refused(rendered, dagster_python, tmp_path, case) -> None:
    objects = rendered["staging"]
    config, field = HOSTILE[case]
    tags = {TAG: json.dumps(config)}
    merged = merge(dagster_python, tmp_path, launcher_config(objects), container_context(objects, "sales"), tags)
    assert merged == {"error": f"Attempted to create a pod with fields that violated the allowed list: {field}"}


def test_without_the_allow_list_the_same_tag_takes_over_the_run(rendered, dagster_python, tmp_path) -> None:
    """The check above is the allow-list's doing: without it dagster-k8s runs the tag's image and account."""
    objects = rendered["staging"]
    launcher = {key: value for key, value in launcher_config(objects).items()
                if not key.startswith("only_allow_user_defined")}
    tags = {TAG: json.dumps({"container_config": {"image": "docker.io/library/busybox:1.37"},
                             "pod_spec_config": {"service_account_name": "default"}})}
    merged = merge(dagster_python, tmp_path, launcher, container_context(objects, "sales"), tags)
    assert merged["run_k8s_config"]["container_config"]["image"] == "docker.io/library/busybox:1.37"
    assert merged["run_k8s_config"]["pod_spec_config"]["service_account_name"] == "default"


def test_env_vars_the_platform_never_sets_are_dropped(rendered, dagster_python, tmp_path) -> None:
    objects = rendered["staging"]
    added = [{"name": "PYTHONPATH", "value": "/scratch"}, {"name": "LD_PRELOAD", "value": "/scratch/x.so"}]
    tags = {TAG: json.dumps({"container_config": {"env": added}})}
    merged = merge(dagster_python, tmp_path, launcher_config(objects), container_context(objects, "sales"), tags)
    env = env_of(merged)
    assert "PYTHONPATH" not in env and "LD_PRELOAD" not in env
    assert env["FLOE_DATA_PRODUCT"]["value"] == "sales"


VIEWER_INSTANCE = """\
import sys
from dagster._core.instance.config import dagster_instance_config

config, _ = dagster_instance_config(sys.argv[1])
print(" ".join(sorted(config)))
"""


def test_the_read_only_webservers_instance_has_no_run_launcher(rendered, dagster_python, tmp_path) -> None:
    """Dagster accepts prod's viewer instance file, in which nothing launches or needs a Kubernetes token."""
    (tmp_path / "dagster.yaml").write_text(find(rendered["prod"], "ConfigMap", "dagster-instance")["data"][
        "dagster-viewer.yaml"])
    result = subprocess.run([dagster_python, "-c", VIEWER_INSTANCE, tmp_path], capture_output=True, text=True,
                            timeout=120, check=True, env={"DAGSTER_PG_USERNAME": "u", "DAGSTER_PG_PASSWORD": "p"})
    assert result.stdout.split() == ["compute_logs", "event_log_storage", "run_storage", "schedule_storage",
                                     "telemetry"]
