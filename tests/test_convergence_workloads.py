"""Workloads that converge under both engines and never lose data (issue 11, workload part).

Claim templates equal what the API server stores; autoscalers and Ingresses sync after every tier;
an Ingress names its class; Namespaces and standalone claims survive every delete path; Rollouts
sync before their CRD exists; bootstrap steps wait for their server until the Job's deadline.
"""

import os
import subprocess
from pathlib import Path

import pytest

from floe.config.loader import load_environment
from floe.constructs.metadata import PROTECTED
from floe.errors import FloeError
from floe.tiers import FINAL_WAVE, SYNC_WAVE
from floe.validation import validate
from tests.conftest import ENVIRONMENT_NAMES, containers, find

SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"


def of_kind(objects: dict[str, dict], kind: str) -> list[dict]:
    return [obj for obj in objects.values() if obj["kind"] == kind]


def wave(obj: dict) -> int:
    return int(obj["metadata"]["annotations"][SYNC_WAVE])


# 1. Claim templates converge under a server-side diff.

def stored_by_api_server(template: dict) -> dict:
    """What apps/v1 conversion stores for a claim template (kubernetes pkg/apis/apps/v1/conversion.go)."""
    return {**template, "apiVersion": "v1", "kind": "PersistentVolumeClaim"}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_claim_template_is_what_the_api_server_stores(environment: str, rendered) -> None:
    statefulsets = of_kind(rendered[environment], "StatefulSet")
    templates = [t for s in statefulsets for t in s["spec"].get("volumeClaimTemplates", [])]
    assert templates, "every environment has StatefulSets with claims (MinIO, Prometheus)"
    for template in templates:
        assert template["apiVersion"] == "v1" and template["kind"] == "PersistentVolumeClaim"
        assert template == stored_by_api_server(template)


def test_a_claim_template_keeps_its_size_class_and_stable_labels(rendered) -> None:
    minio = find(rendered["prod"], "StatefulSet", "minio")
    assert minio["spec"]["volumeClaimTemplates"] == [{
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data",
                     "labels": {"app.kubernetes.io/name": "minio", "app.kubernetes.io/instance": "minio"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "500Gi"}},
                 "storageClassName": "fast-ssd"},
    }]


def test_claim_templates_with_their_type_validate_strictly(rendered) -> None:
    statefulsets = [(f"{s['metadata']['name']}.yaml", s) for s in of_kind(rendered["prod"], "StatefulSet")]
    assert validate(statefulsets) == []


# 2. Autoscalers and Ingresses in the final wave.

def test_the_final_wave_follows_every_tier() -> None:
    assert FINAL_WAVE == 70


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_autoscalers_and_ingresses_sync_last_and_nothing_else_does(environment: str, rendered) -> None:
    objects = rendered[environment].values()
    last = [obj for obj in objects if obj["kind"] in ("HorizontalPodAutoscaler", "Ingress")]
    assert {obj["metadata"]["annotations"][SYNC_WAVE] for obj in last} <= {"70"}
    assert all(wave(obj) < 70 for obj in objects if obj not in last)


def test_prod_has_autoscalers_and_ingresses_in_the_final_wave(rendered) -> None:
    last = {(o["kind"], o["metadata"]["name"]) for o in rendered["prod"].values() if wave(o) == 70}
    assert last == {
        ("HorizontalPodAutoscaler", "polaris"), ("HorizontalPodAutoscaler", "otel-collector"),
        ("HorizontalPodAutoscaler", "dagster-webserver"), ("HorizontalPodAutoscaler", "cube"),
        ("Ingress", "polaris"), ("Ingress", "grafana"), ("Ingress", "cube"),
        # The Dagster UI's and the read-only UI's, each through its login.
        ("Ingress", "oauth2-proxy"), ("Ingress", "oauth2-proxy-viewer"),
    }


# 3. The ingress class is required.

@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_every_ingress_names_its_class(environment: str, rendered) -> None:
    ingresses = of_kind(rendered[environment], "Ingress")
    assert len(ingresses) == {"staging": 4, "prod": 5}[environment]
    assert {obj["spec"]["ingressClassName"] for obj in ingresses} == {"nginx"}


def test_an_ingress_without_a_class_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text('platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                    "catalog:\n  polaris:\n    ingress:\n      host: polaris.example.org\n")
    with pytest.raises(FloeError) as raised:
        load_environment(path)
    assert str(raised.value) == f"{path}:6: catalog.polaris.ingress.class_name: required field is missing"


# 4. Data survives deletes.

def test_protection_is_both_engines_spelling() -> None:
    assert PROTECTED == {SYNC_OPTIONS: "Prune=false,Delete=false", COMPARE_OPTIONS: "IgnoreExtraneous",
                         FLUX_PRUNE: "disabled"}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_namespaces_and_standalone_claims_are_never_pruned_or_deleted(environment: str, rendered) -> None:
    holders = of_kind(rendered[environment], "Namespace") + of_kind(rendered[environment], "PersistentVolumeClaim")
    assert {(o["kind"], o["metadata"]["name"]) for o in holders} >= {
        ("Namespace", "floe-platform"), ("Namespace", "floe-jobs"), ("PersistentVolumeClaim", "grafana-data")}
    for obj in holders:
        annotations = obj["metadata"]["annotations"]
        assert annotations[SYNC_OPTIONS] == "Prune=false,Delete=false", obj["metadata"]["name"]
        assert annotations[FLUX_PRUNE] == "disabled", obj["metadata"]["name"]
        assert annotations[COMPARE_OPTIONS] == "IgnoreExtraneous", obj["metadata"]["name"]


# 5. Rollouts sync while their CRD is missing.

@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_rollouts_skip_the_dry_run_while_their_crd_is_missing(environment: str, rendered) -> None:
    rollouts = of_kind(rendered[environment], "Rollout")
    assert rollouts
    for rollout in rollouts:
        assert rollout["metadata"]["annotations"][SYNC_OPTIONS] == "SkipDryRunOnMissingResource=true"


# 6. Bootstrap steps wait for their server until the Job's deadline.

SLOW_SERVER = 40
"""Failed attempts before the fake server answers: more than the fixed 30 the scripts used to allow."""


def fake_tools(folder: Path, tools: dict[str, str]) -> dict[str, str]:
    """Executables on PATH (a no-op ``sleep`` among them), and the environment that finds them first."""
    folder.mkdir()
    for name, body in {"sleep": "exit 0", **tools}.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return {"PATH": f"{folder}:{os.environ['PATH']}", "COUNT": str(folder / "count")}


def answers_after(attempts: int, answer: str) -> str:
    """A fake server call that fails ``attempts`` times, then runs ``answer``."""
    return (f'n=$(cat "$COUNT" 2>/dev/null || echo 0); echo $((n + 1)) > "$COUNT"\n'
            f'[ "$n" -ge {attempts} ] || {{ echo "connection refused" >&2; exit 1; }}\n{answer}')


def run_script(job: dict, env: dict[str, str]) -> subprocess.CompletedProcess:
    [container] = containers(job)
    assert container["command"][:2] == ["/bin/sh", "-c"]
    return subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=60)


def minio_env(tmp_path: Path) -> dict[str, str]:
    """The bucket bootstrap's env with no user to make (tests/test_object_store_users.py runs it with users)."""
    (tmp_path / "policies").mkdir()
    return {"MINIO_ENDPOINT": "http://minio:9000", "BUCKETS": "floe-warehouse", "POLICIES": str(tmp_path / "policies"),
            "USERS": str(tmp_path / "users"), "POLICY_PREFIX": "floe-"}


def test_bootstrap_jobs_keep_their_deadline_and_retries(rendered) -> None:
    for name in ("minio-buckets", "polaris-bootstrap"):
        spec = find(rendered["dev"], "Job", name)["spec"]
        assert (spec["activeDeadlineSeconds"], spec["backoffLimit"]) == (600, 4)


def test_bucket_bootstrap_waits_for_a_slow_object_store(rendered, tmp_path: Path) -> None:
    mc = f'if [ "$1 $2" = "admin info" ]; then\n{answers_after(SLOW_SERVER, "exit 0")}\nfi\necho "mc $*"'
    env = fake_tools(tmp_path / "bin", {"mc": mc})
    result = run_script(find(rendered["dev"], "Job", "minio-buckets"),
                        {**env, **minio_env(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("waiting for MinIO at http://minio:9000") == SLOW_SERVER
    assert "mc mb --ignore-existing floe/floe-warehouse" in result.stdout


def test_bucket_bootstrap_fails_the_pod_when_the_answering_store_refuses(rendered, tmp_path: Path) -> None:
    """backoffLimit still counts real failures: a refusal after the wait ends the pod."""
    env = fake_tools(tmp_path / "bin", {"mc": '[ "$1 $2" = "admin info" ] || exit 1'})
    result = run_script(find(rendered["dev"], "Job", "minio-buckets"),
                        {**env, **minio_env(tmp_path)})
    assert result.returncode == 1


def test_catalog_bootstrap_waits_for_a_slow_catalog(rendered, tmp_path: Path) -> None:
    """Only the wait is faked here; tests/conformance/test_polaris_bootstrap.py runs the whole script."""
    token = answers_after(SLOW_SERVER, """echo '{"access_token": "t0k3n"}'""")
    # The fake answers each call with what the script needs to go on: the catalog's prefix, empty lists.
    curl = ('out=/dev/null; previous=\nfor argument in "$@"; do [ "$previous" = -o ] && out=$argument; '
            'previous=$argument; done\n'
            f'case "$*" in\n*oauth/tokens*)\n{token} ;;\n'
            """*v1/config*) echo '{"overrides": {"prefix": "lakehouse"}}' > "$out"; printf 200 ;;\n"""
            """*"-X GET"*) echo '{}' > "$out"; printf 200 ;;\n"""
            '*) : > "$out"; printf 201 ;;\nesac')
    env = fake_tools(tmp_path / "bin", {"curl": curl})
    requests = tmp_path / "requests"
    requests.mkdir()
    for name in ("namespaces", "principals", "principal-roles", "catalog-roles", "grants"):
        (requests / name).write_text("")
    result = run_script(find(rendered["dev"], "Job", "polaris-bootstrap"),
                        {**env, "CATALOG_URI": "http://polaris:8181/api/catalog", "REALM": "floe",
                         "CATALOG": "lakehouse", "CATALOG_REQUEST": "{}", "CATALOG_UPDATE": "{}",
                         "GRANT_REQUEST": "{}", "REQUESTS": str(requests),
                         "AUTHORIZATION_HEADER_FILE": str(tmp_path / "authorization"),
                         "ROOT_CLIENT_ID": "root", "ROOT_CLIENT_SECRET": "s3cret"})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("waiting for an access token from http://polaris:8181/api/catalog") == SLOW_SERVER
    assert result.stdout == "catalog lakehouse and its principals reconciled in realm floe\n"
