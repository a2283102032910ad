"""The alert rules as rendered: complete annotations, a runbook for each, loaded and rolled like the config.

promtool's checks of the same files are in ``tests/conformance/test_alert_rules.py``.
"""

import re

import pytest
import yaml

from tests.changed_render import checksum_of, render_dev_after
from tests.conftest import ENVIRONMENT_NAMES, ROOT, containers, find

ALERTS = [
    "FloeTargetDown", "FloeVolumeFillingUp", "FloeVolumeAlmostFull", "FloePostgresDown",
    "FloeDagsterDaemonNotReady", "FloeDagsterDaemonRestarting", "FloePipelineJobFailed", "FloeScheduledJobMissed",
    "FloeMinioDriveOffline", "FloeCollectorExportFailing", "FloeCollectorRefusingData", "FloePolarisErrorRate",
    "FloeBootstrapJobFailed", "FloeBackupJobFailed",
]


def prometheus_files(objects: dict[str, dict]) -> dict[str, str]:
    return find(objects, "ConfigMap", "prometheus-config")["data"]


def after(change: str) -> dict[str, dict]:
    """The objects of dev.yaml rendered after ``change``, keyed as ``find`` reads them."""
    return {str(index): obj for index, obj in enumerate(render_dev_after(change))}


def rules_of(objects: dict[str, dict]) -> list[dict]:
    text = prometheus_files(objects)["alerts.yml"]
    return [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]


def readme_anchors() -> set[str]:
    """The anchors GitHub and GitLab give README.md's headings."""
    headings = re.findall(r"^#+ (.+)$", (ROOT / "README.md").read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_every_alert_is_annotated_and_has_a_runbook(name, rendered) -> None:
    rules = rules_of(rendered[name])
    assert [rule["alert"] for rule in rules] == ALERTS
    anchors = readme_anchors()
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, rule["alert"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        document, anchor = annotations["runbook_url"].split("#")
        assert document == "README.md"
        assert anchor in anchors, f"{rule['alert']}: no README heading for #{anchor}"


def test_the_anchor_check_sees_a_missing_runbook() -> None:
    anchors = readme_anchors()
    assert {"floetargetdown", "alert-runbooks", "platform-services-layer-3"} <= anchors
    assert "floetargetgone" not in anchors


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_prometheus_loads_the_rule_file_from_its_mounted_config(name, rendered) -> None:
    objects = rendered[name]
    config = yaml.safe_load(prometheus_files(objects)["prometheus.yml"])
    assert config["rule_files"] == ["/etc/config/alerts.yml"]
    container = containers(find(objects, "StatefulSet", "prometheus"))[0]
    assert {"name": "config", "mountPath": "/etc/config", "readOnly": True} in container["volumeMounts"]


def test_rules_select_the_environments_namespaces() -> None:
    rules = {rule["alert"]: rule["expr"] for rule in rules_of(after("the jobs namespace"))}
    assert rules["FloePipelineJobFailed"] == (
        'kube_job_status_failed{namespace="floe-pipelines"} > 0 and on(namespace, job_name) '
        '(kube_job_failed{condition="true", namespace="floe-pipelines"} == 1)')
    assert rules["FloeScheduledJobMissed"] == (
        'time() - kube_cronjob_next_schedule_time{namespace=~"floe-pipelines|floe-platform"} > 600')
    assert rules["FloeDagsterDaemonNotReady"] == (
        'kube_pod_container_status_ready{namespace="floe-platform", container="dagster-daemon"} == 0')


def test_a_changed_rule_rolls_prometheus() -> None:
    # Without the kubelets' federation (which asks for both namespaces) the jobs namespace appears in the rules
    # alone, not in prometheus.yml: the checksum still moves.
    base, change = "no kubelet source", "the jobs namespace, no kubelet source"
    before, changed = prometheus_files(after(base)), prometheus_files(after(change))
    assert before["prometheus.yml"] == changed["prometheus.yml"]
    assert before["alerts.yml"] != changed["alerts.yml"]
    assert checksum_of(change, "StatefulSet", "prometheus") != checksum_of(base, "StatefulSet", "prometheus")
