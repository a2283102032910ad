"""The accepted checkov findings: each written on exactly the objects it applies to, with its reason."""

from floe.security.checkov import ACCEPTED, annotate
from tests.conftest import find


def skips(obj: dict) -> dict[str, str]:
    return dict(value.split("=", 1) for key, value in obj["metadata"].get("annotations", {}).items()
                if key.startswith("checkov.io/skip"))


def test_reasons_survive_checkovs_split_at_equals_signs() -> None:
    assert all("=" not in finding.reason and finding.reason for finding in ACCEPTED)


def test_the_daemon_carries_its_reasons_and_the_webserver_rollout_none(rendered) -> None:
    prod = rendered["prod"]
    assert sorted(skips(find(prod, "Deployment", "dagster-daemon"))) == [
        "CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_38", "CKV_K8S_43", "CKV_K8S_9"]
    # Dagster's own pods run as 10001, so they need no high-UID exception; PostgreSQL keeps its image's 999.
    assert "CKV_K8S_40" in skips(find(prod, "StatefulSet", "postgres-polaris"))
    assert skips(find(prod, "Rollout", "dagster-webserver")) == {}


def test_a_finding_leaves_the_object_once_it_no_longer_applies() -> None:
    container = {"name": "app", "image": "registry.example.com/app@sha256:" + "0" * 64, "imagePullPolicy": "Always"}
    job = {"kind": "Job", "metadata": {"name": "x"}, "spec": {"template": {"spec": {
        "automountServiceAccountToken": False, "securityContext": {"runAsUser": 10001},
        "containers": [container]}}}}
    annotate([job])
    assert skips(job) == {}
    container["image"] = "registry.example.com/app:1.0"
    annotate([job])
    assert list(skips(job)) == ["CKV_K8S_43"]


def test_escalate_is_accepted_only_when_limited_by_name() -> None:
    named = {"kind": "Role", "metadata": {"name": "r"}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"],
         "resourceNames": ["r"]}]}
    anyone = {"kind": "Role", "metadata": {"name": "r"}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}]}
    annotate([named, anyone])
    assert list(skips(named)) == ["CKV_K8S_158"]
    assert skips(anyone) == {}
