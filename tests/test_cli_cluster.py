"""Cluster commands against a fake of the cluster wrapper (and the wrapper against a mocked client)."""

import re
import time
from pathlib import Path
from unittest import mock

import pytest
import yaml

from floe.cli import apply as apply_module
from floe.cli import cluster as cluster_module
from floe.cli import context, platform, runs
from floe.cli.cluster import Cluster
from floe.cli.envfile import write_atomically
from floe.tiers import TIERS
from tests import cli_support as support
from tests.cli_support import CRONJOB, FakeCluster, floe, one_line_error, snapshot
from tests.conftest import load_yaml_all

dev_render = support.dev_render
workspace = support.workspace


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    def install(cluster: FakeCluster) -> FakeCluster:
        monkeypatch.setattr(context, "connect", lambda _context=None: cluster)
        return cluster
    monkeypatch.setattr(apply_module, "POLL_SECONDS", 0)
    # schema validation of a deploy is covered by the render tests; here only the cluster side matters
    monkeypatch.setattr(platform, "schema_problems", lambda objects: [])
    monkeypatch.setattr(runs, "new_run_id", lambda: "0badc0de")
    return install


def test_run_creates_the_job_kubectl_would(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster([CRONJOB]))
    result = floe(workspace, "run", "dbt-run", "--product", "sales", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "0badc0de"
    created = [call for call in cluster.calls if call[0] == "create_job"]
    assert created == [("create_job", "floe-jobs", {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": "sales-dbt-run-0badc0de", "namespace": "floe-jobs",
            "labels": {"floe.dev/data-product": "sales", "floe.dev/job-type": "dbt-run",
                       "floe.dev/layer": "pipeline-jobs", "floe.dev/run-id": "0badc0de"},
            "annotations": {"floe.dev/owner": "data-team", "cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "sales-dbt-run",
                                 "uid": "0a1b2c3d-cron", "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"labels": {"floe.dev/data-product": "sales", "floe.dev/job-type": "dbt-run",
                                    "floe.dev/run-id": "0badc0de"}},
            "spec": {"restartPolicy": "Never", "containers": [
                {"name": "dbt", "image": "registry.example.com/floe/sales:1.5.0", "command": ["dbt", "run"]}]},
        }},
    })]
    assert "suspend" not in created[0][2]["spec"]


def test_run_id_is_eight_lowercase_hex() -> None:
    ids = {runs.new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids), sorted(ids)


def test_run_dry_run_prints_the_job_from_dist_without_a_cluster(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster())
    template = dict(CRONJOB, metadata={k: v for k, v in CRONJOB["metadata"].items() if k != "uid"})
    write_atomically(workspace / "dist" / "dev" / "60-jobs" / "61-serve" / "cronjob-sales-dbt-run.yaml",
                     yaml.safe_dump(template))
    result = floe(workspace, "run", "dbt-run", "--product", "sales", "--env", "dev", "--dry-run")
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.stdout)
    assert job["metadata"]["name"] == "sales-dbt-run-0badc0de"
    assert "ownerReferences" not in job["metadata"]
    assert job["spec"]["template"]["metadata"]["labels"]["floe.dev/run-id"] == "0badc0de"
    assert cluster.calls == []


@pytest.mark.parametrize(("args", "message"), [
    (["run", "dbt-walk", "--product", "sales", "--env", "dev"], "unknown job type 'dbt-walk'"),
    (["run", "dbt-run", "--product", "nope", "--env", "dev"], "has no data product 'nope'"),
    (["run", "dbt-run", "--product", "sales", "--env", "qa"], "no such environment file"),
    (["status", "--run-id", "XYZ", "--env", "dev"], "'XYZ' is not a run id"),
    (["platform", "logs", "warehouse", "--env", "dev"], "unknown component 'warehouse'"),
    (["platform", "logs", "catalog", "--env", "dev", "--since", "10 minutes"], "--since '10 minutes'"),
])
def test_bad_input_is_one_line_exit_2(workspace: Path, fake, args: list[str], message: str) -> None:
    cluster = fake(FakeCluster())
    before = snapshot(workspace)
    one_line_error(floe(workspace, *args), 2, message)
    assert snapshot(workspace) == before
    assert cluster.calls == []


def test_run_without_template_in_cluster_is_a_cluster_error(workspace: Path, fake) -> None:
    fake(FakeCluster())
    one_line_error(floe(workspace, "run", "dbt-run", "--product", "sales", "--env", "dev"), 3,
                   "CronJob floe-jobs/sales-dbt-run is not in the cluster")


def _job(run_id: str, created: str, conditions: list, started: str = "2026-01-01T03:00:00Z") -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"sales-dbt-run-{run_id}", "namespace": "floe-jobs", "creationTimestamp": created,
                         "labels": {"floe.dev/run-id": run_id, "floe.dev/data-product": "sales",
                                    "floe.dev/job-type": "dbt-run"}},
            "status": {"startTime": started, "conditions": conditions}}


FAILED_POD = {"metadata": {"name": "sales-dbt-run-aaaaaaaa-x1", "labels": {"floe.dev/run-id": "aaaaaaaa"}},
              "spec": {"containers": [{"name": "dbt"}]},
              "status": {"containerStatuses": [{"name": "dbt", "state": {"terminated": {
                  "reason": "Error", "exitCode": 2, "message": "Compilation Error in model orders"}}}]}}


def test_status_lists_recent_runs_newest_first(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster([
        _job("aaaaaaaa", "2026-01-01T03:00:00Z", [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                                   "lastTransitionTime": "2026-01-01T03:02:05Z"}]),
        _job("bbbbbbbb", "2026-01-02T03:00:00Z", [{"type": "Complete", "status": "True"}]),
    ]))
    result = floe(workspace, "status", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert result.stdout.index("bbbbbbbb") < result.stdout.index("aaaaaaaa")
    assert "Succeeded" in result.stdout and "Failed" in result.stdout
    assert ("list_jobs", "floe-jobs", "floe.dev/run-id") in cluster.calls


def test_status_of_one_run_gives_state_duration_and_exit_reason(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster([_job("aaaaaaaa", "2026-01-01T03:00:00Z", [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "lastTransitionTime": "2026-01-01T03:02:05Z"}])], pods=[FAILED_POD]))
    result = floe(workspace, "status", "--run-id", "aaaaaaaa", "--env", "dev")
    assert result.exit_code == 0, result.output
    for text in ("Failed", "2026-01-01T03:00:00Z", "2m05s", "dbt: Error, exit code 2, Compilation Error in model"):
        assert text in result.stdout
    assert ("list_jobs", "floe-jobs", "floe.dev/run-id=aaaaaaaa") in cluster.calls
    assert ("list_pods", "floe-jobs", "floe.dev/run-id=aaaaaaaa") in cluster.calls


def test_run_logs_are_prefixed_per_container(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster(pods=[FAILED_POD], logs={("sales-dbt-run-aaaaaaaa-x1", "dbt"): ["one", "two"]}))
    result = floe(workspace, "logs", "--run-id", "aaaaaaaa", "--env", "dev", "--follow")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["[sales-dbt-run-aaaaaaaa-x1/dbt] one", "[sales-dbt-run-aaaaaaaa-x1/dbt] two"]
    assert ("pod_logs", "floe-jobs", "sales-dbt-run-aaaaaaaa-x1", "dbt", True, None) in cluster.calls


def test_platform_logs_select_the_tier_and_pass_since(workspace: Path, fake) -> None:
    pod = {"metadata": {"name": "polaris-7d9", "labels": {"floe.dev/tier": "catalog"}},
           "spec": {"containers": [{"name": "polaris"}]}}
    cluster = fake(FakeCluster(pods=[pod], logs={("polaris-7d9", "polaris"): ["started"]}))
    result = floe(workspace, "platform", "logs", "catalog", "--env", "dev", "--since", "10m")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "[polaris-7d9/polaris] started"
    assert ("list_pods", "floe-platform", "floe.dev/tier=catalog") in cluster.calls
    assert ("pod_logs", "floe-platform", "polaris-7d9", "polaris", False, 600) in cluster.calls


def test_apply_follows_the_tiers_and_waits_between_waves(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster(ready_after=1))
    result = floe(workspace, "platform", "deploy", "--env", "dev", "--apply", "--timeout", "30")
    assert result.exit_code == 0, result.output
    applied = [call for call in cluster.calls if call[0] == "apply"]
    rendered = load_yaml_all("\n---\n".join(p.read_text() for p in (workspace / "dist" / "dev").rglob("*.yaml")
                                             if p.name != "kustomization.yaml"))
    tier_of = {(o["kind"], o["metadata"]["name"]): o["metadata"].get("labels", {}).get("floe.dev/tier", "foundation")
               for o in rendered if o}
    order = [tier.name for tier in TIERS]
    positions = [order.index(tier_of[(kind, name)]) for _, kind, name in applied]
    assert positions == sorted(positions), "tiers applied out of startup order"
    assert set(positions) == {order.index(t) for t in set(tier_of.values())}
    # every workload is read until Ready before the next wave's first apply
    calls = cluster.calls
    migrate = calls.index(("apply", "Job", "dagster-migrate"))
    webserver = next(i for i, c in enumerate(calls) if c[0] == "apply" and c[2] == "dagster-webserver")
    assert migrate < webserver
    assert calls[migrate + 1:webserver].count(("get", "Job", "dagster-migrate")) == 2  # polled, then Ready
    postgres = calls.index(("apply", "StatefulSet", "postgres-polaris"))
    polaris = calls.index(("apply", "Deployment", "polaris"))
    assert ("get", "StatefulSet", "postgres-polaris") in calls[postgres:polaris]
    # sync-hook Jobs are deleted and created again, as Argo CD's BeforeHookCreation does
    assert calls.index(("delete", "Job", "minio-buckets")) < calls.index(("apply", "Job", "minio-buckets"))


def test_apply_times_out_with_the_reason(workspace: Path, fake, monkeypatch: pytest.MonkeyPatch) -> None:
    pod = {"metadata": {"name": "postgres-polaris-0", "labels": {"app.kubernetes.io/instance": "postgres-polaris",
                                                                "app.kubernetes.io/name": "postgres"}},
           "status": {"containerStatuses": [{"name": "postgres", "state": {"waiting": {
               "reason": "ImagePullBackOff", "message": "manifest unknown"}}}]}}
    fake(FakeCluster(pods=[pod], ready_after=10**6))
    ticks = iter(range(0, 10**6, 5))
    monkeypatch.setattr(apply_module, "now", lambda: next(ticks))
    result = floe(workspace, "platform", "deploy", "--env", "dev", "--apply", "--component", "storage",
                  "--timeout", "20")
    one_line_error(result, 3, "not Ready before the timeout")
    assert "postgres-polaris-0/postgres: ImagePullBackOff: manifest unknown" in result.output


def test_platform_status_reports_replicas_and_reasons(workspace: Path, fake) -> None:
    pod = {"metadata": {"name": "polaris-abc", "labels": {"app.kubernetes.io/instance": "polaris",
                                                          "app.kubernetes.io/name": "polaris"}},
           "status": {"containerStatuses": [{"name": "polaris", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                             "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}}
    polaris = yaml.safe_load((workspace / "dist/dev/20-catalog/21-serve/deployment-polaris.yaml").read_text())
    cluster = fake(FakeCluster([polaris], pods=[pod], ready_after=10**6))
    result = floe(workspace, "platform", "status", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "CrashLoopBackOff" in result.stdout and "OOMKilled, exit code 137" in result.stdout
    assert "missing" in result.stdout  # everything else is not deployed in the fake
    assert ("get", "Deployment", "polaris") in cluster.calls


def test_missing_kubeconfig_is_exit_3_within_seconds(workspace: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    result = floe(workspace, "status", "--env", "dev")
    one_line_error(result, 3, "no Kubernetes configuration: no kubeconfig at")
    assert "set KUBECONFIG" in result.output


def test_unreachable_cluster_is_exit_3_within_seconds(workspace: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    start = time.monotonic()
    result = floe(workspace, "platform", "logs", "catalog", "--env", "dev")
    assert time.monotonic() - start < 10
    one_line_error(result, 3, "cannot reach the Kubernetes API at https://127.0.0.1:9")


def test_wrapper_applies_server_side_as_floe_with_timeouts() -> None:
    api_client = mock.MagicMock()
    api_client.configuration.host = "https://k8s.example"
    wrapper = Cluster(api_client)
    dynamic = mock.MagicMock()
    wrapper._dynamic = dynamic
    dynamic.server_side_apply.return_value.to_dict.return_value = {"kind": "ConfigMap"}
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    wrapper.apply(obj)
    dynamic.resources.get.assert_called_with(api_version="v1", kind="ConfigMap")
    _, kwargs = dynamic.server_side_apply.call_args
    assert kwargs["field_manager"] == "floe" and kwargs["force_conflicts"] is True
    assert kwargs["_request_timeout"] == cluster_module.REQUEST_TIMEOUT


def test_wrapper_creates_jobs_with_the_batch_api() -> None:
    api_client = mock.MagicMock()
    wrapper = Cluster(api_client)
    wrapper.batch = mock.MagicMock()
    wrapper.api_client.sanitize_for_serialization.side_effect = lambda o: o
    body = {"metadata": {"name": "sales-dbt-run-0badc0de"}}
    wrapper.batch.create_namespaced_job.return_value = body
    assert wrapper.create_job("floe-jobs", body) == body
    wrapper.batch.create_namespaced_job.assert_called_once_with(
        "floe-jobs", body, _request_timeout=cluster_module.REQUEST_TIMEOUT)
