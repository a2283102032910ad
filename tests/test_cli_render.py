"""Rendering commands against the real generator: deploy, upgrade, diff, validate, capacity, offline status."""

from pathlib import Path

import pytest
import yaml

from floe import capacity
from floe.cli import platform, review
from floe.cli.envfile import write_atomically
from floe.config import releases
from floe.validation import Problem
from tests import cli_support as support
from tests.cli_support import commit, edit, floe, one_line_error, snapshot

dev_render = support.dev_render
workspace = support.workspace


def test_deploy_writes_dist_and_summarises_per_tier(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = workspace / "dist/dev/40-orchestrator/40-prepare/configmap-dagster-instance.yaml"
    before = config.read_text()
    edit(workspace / "environments" / "dev.yaml", "max_concurrent_runs: 2", "max_concurrent_runs: 3")
    result = floe(workspace, "platform", "deploy", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "dev/40-orchestrator" in result.stdout and "~configmap-dagster-instance.yaml" in result.stdout
    assert "wrote" in result.stdout
    assert config.read_text() != before
    monkeypatch.setattr(platform, "schema_problems", lambda objects: [])  # validated once above; keep it quick
    again = floe(workspace, "platform", "deploy", "--env", "dev")
    assert "no changes" in again.stdout


def test_deploy_dry_run_prints_the_plan_and_writes_nothing(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "schema_problems", lambda objects: [])
    edit(workspace / "environments" / "dev.yaml", "max_concurrent_runs: 2", "max_concurrent_runs: 3")
    before = snapshot(workspace)
    result = floe(workspace, "platform", "deploy", "--env", "dev", "--component", "catalog", "--dry-run")
    assert result.exit_code == 0, result.output
    assert snapshot(workspace) == before
    assert "Deployment/polaris" in result.stdout and "Job/polaris-bootstrap" in result.stdout
    assert "StatefulSet/postgres" not in result.stdout
    assert "no changes in catalog (catalog)" in result.stdout
    assert "note: the render would also change 4 files outside catalog; they would be written" in result.stdout
    assert "wrote" not in result.stdout


def test_deploy_refuses_invalid_objects_and_leaves_dist(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "schema_problems", lambda objects: [Problem("dist/dev/x.yaml", "Kubernetes 1.30.0",
                                                                              "spec.bogus: unknown field")])
    edit(workspace / "environments" / "dev.yaml", "max_concurrent_runs: 2", "max_concurrent_runs: 3")
    before = snapshot(workspace / "dist")
    result = floe(workspace, "platform", "deploy", "--env", "dev")
    assert result.exit_code == 1
    assert "spec.bogus: unknown field" in result.stdout and "dist/ was not changed" in result.stdout
    assert snapshot(workspace / "dist") == before


@pytest.mark.parametrize(("args", "change", "message"), [
    (["platform", "deploy", "--env", "dev"], ("resources: small\n", "resourcez: small\n"), "unknown field"),
    (["platform", "deploy", "--env", "dev", "--component", "warehouse"], None, "unknown component 'warehouse'"),
    (["platform", "deploy", "--env", "dev", "--apply", "--dry-run"], None, "exclude each other"),
    (["platform", "upgrade", "--version", "9.9.9", "--env", "dev"], None, "'9.9.9' is not in the release catalogue"),
    (["diff", "--env", "dev", "--against", "no-such-ref"], None, "--against no-such-ref: "),
    (["platform", "status", "--env", "nope", "--offline"], None, "no such environment file"),
])
def test_bad_input_changes_nothing(workspace: Path, args: list[str], change, message: str) -> None:
    if change:
        edit(workspace / "environments" / "dev.yaml", *change)
    before = snapshot(workspace)
    one_line_error(floe(workspace, *args), 2, message)
    assert snapshot(workspace) == before


def test_several_environments_need_a_name(workspace: Path) -> None:
    one_line_error(floe(workspace, "platform", "status", "--offline"), 2, "name an environment with --env")


# -- upgrade ------------------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.0.0 as shipped, 1.1.0 with a newer Polaris, 2.0.0 with PostgreSQL 18."""
    real = releases.catalogue()
    base = real.releases["1.0.0"].images.model_dump()
    newer = {**base, "polaris": "docker.io/apache/polaris:1.9.0",
             "polaris_admin_tool": "docker.io/apache/polaris-admin-tool:1.9.0"}
    major = {**newer, "postgres": "docker.io/library/postgres:18.1"}
    fake = releases.Catalogue.model_validate({"releases": {
        "1.0.0": {"images": base}, "1.1.0": {"images": newer}, "2.0.0": {"images": major}}})
    monkeypatch.setattr(releases, "catalogue", lambda: fake)


def test_upgrade_edits_only_the_version_and_shows_image_changes(workspace: Path, catalogue: None) -> None:
    env_file = workspace / "environments" / "dev.yaml"
    original = env_file.read_text()
    result = floe(workspace, "platform", "upgrade", "--version", "1.1.0", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert env_file.read_text() == original.replace('platform_version: "1.0.0"', 'platform_version: "1.1.0"')
    assert "docker.io/apache/polaris:1.8.0" in result.stdout and "docker.io/apache/polaris:1.9.0" in result.stdout
    assert "Deployment/polaris" in result.stdout and "postgres" not in result.stdout.split("image changes")[1]
    assert "polaris:1.9.0" in (workspace / "dist/dev/20-catalog/21-serve/deployment-polaris.yaml").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["--version", "2.0.0"], "PostgreSQL 17.11 → 18.1 changes the major version"),
    (["--version", "7.7.7"], "'7.7.7' is not in the release catalogue"),
])
def test_upgrade_refusals_write_nothing(workspace: Path, catalogue: None, args: list[str], message: str) -> None:
    before = snapshot(workspace)
    one_line_error(floe(workspace, "platform", "upgrade", *args, "--env", "dev"), 2, message)
    assert snapshot(workspace) == before


def test_downgrade_needs_the_flag(workspace: Path, catalogue: None) -> None:
    edit(workspace / "environments" / "dev.yaml", '"1.0.0"', '"1.1.0"')
    before = snapshot(workspace)
    one_line_error(floe(workspace, "platform", "upgrade", "--version", "1.0.0", "--env", "dev"), 2,
                   "pass --allow-downgrade")
    assert snapshot(workspace) == before


def test_upgrade_refuses_an_immutable_statefulset_change(workspace: Path, catalogue: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_render = platform.render

    def render(environment):
        files = real_render(environment)
        if environment.platform_version == "1.1.0":
            path = "dev/10-storage/11-serve/statefulset-postgres-dagster.yaml"
            files[path] = files[path].replace("serviceName: postgres-dagster-headless", "serviceName: other")
        return files

    monkeypatch.setattr(platform, "render", render)
    before = snapshot(workspace)
    one_line_error(floe(workspace, "platform", "upgrade", "--version", "1.1.0", "--env", "dev"), 2,
                   "StatefulSet/postgres-dagster (floe-platform): spec.serviceName changed")
    assert snapshot(workspace) == before


# -- diff ---------------------------------------------------------------------------------------------------


def test_diff_is_clean_after_a_render_and_loud_on_drift(workspace: Path) -> None:
    clean = floe(workspace, "diff", "--env", "dev")
    assert clean.exit_code == 0, clean.output
    assert "no drift" in clean.stdout
    edit(workspace / "dist/dev/20-catalog/21-serve/deployment-polaris.yaml", "replicas: 1", "replicas: 3")
    edit(workspace / "dist/dev/10-storage/11-serve/statefulset-postgres-dagster.yaml",
          "serviceName: postgres-dagster-headless", "serviceName: postgres-old")
    (workspace / "dist/dev/10-storage/11-serve/service-minio.yaml").unlink()
    drift = floe(workspace, "diff", "--env", "dev")
    assert drift.exit_code == 1, drift.output
    out = drift.stdout
    assert "+ dev/10-storage/11-serve/service-minio.yaml (added)" in out
    assert "spec.replicas: 3 → 1" in out
    assert "spec.serviceName: 'postgres-old' → 'postgres-dagster-headless'" in out
    assert "REFUSED IN PLACE: spec.serviceName changed" in out
    assert "1 added, 2 changed, 0 removed" in out


def test_diff_against_a_git_ref(workspace: Path) -> None:
    commit(workspace, "dist")
    (workspace / "dist/dev/10-storage/11-serve/service-minio.yaml").unlink()  # the working tree no longer matters
    result = floe(workspace, "diff", "--env", "dev", "--against", "HEAD")
    assert result.exit_code == 0, result.output
    assert "as committed at HEAD\nno drift: they match" in result.stdout
    one_line_error(floe(workspace, "diff", "--env", "dev", "--against", "nosuchref"), 2,
                   "--against nosuchref: not a commit, branch or tag of the repository at")


def test_immutable_changes_cover_every_refused_field() -> None:
    from floe.cli.changes import immutable_changes

    pvc = {"kind": "PersistentVolumeClaim", "metadata": {"name": "d"},
           "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "10Gi"}}}}
    smaller = {**pvc, "spec": {"storageClassName": "slow", "resources": {"requests": {"storage": "5Gi"}}}}
    assert len(immutable_changes(pvc, smaller)) == 2
    svc = {"kind": "Service", "metadata": {"name": "s"}, "spec": {"clusterIP": "None"}}
    assert immutable_changes(svc, {**svc, "spec": {}})
    job = {"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"a": 1}}}
    assert immutable_changes(job, {**job, "spec": {"template": {"a": 2}}})
    hook = {**job, "metadata": {"name": "j", "annotations": {"argocd.argoproj.io/hook": "Sync"}}}
    assert not immutable_changes(hook, {**hook, "spec": {"template": {"a": 2}}})
    deployment = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"selector": {"a": 1}, "replicas": 1}}
    assert immutable_changes(deployment, {**deployment, "spec": {"selector": {"a": 2}}})
    assert not immutable_changes(deployment, {**deployment, "spec": {"selector": {"a": 1}, "replicas": 5}})


# -- validate, capacity, offline status ----------------------------------------------------------------------


def test_validate_passes_on_a_fresh_render(workspace: Path) -> None:
    result = floe(workspace, "validate", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "pass the schemas and the policies" in result.stdout
    # Valid but serving nothing: said, without failing.
    assert "notice: dev: semantic.schema_configmap is not set: Cube starts on an empty data model" in result.stdout
    assert "notice: dev: semantic.duckdb_extensions is not set: Cube's DuckDB installs and loads no extension and " \
        "attaches no catalog" in result.stdout


def test_validate_lists_every_policy_failure(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(review, "schema_problems", lambda objects: [])
    path = workspace / "dist/dev/20-catalog/21-serve/deployment-polaris.yaml"
    polaris = yaml.safe_load(path.read_text())
    container = polaris["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "docker.io/apache/polaris:latest"
    container["env"].append({"name": "ADMIN_PASSWORD", "value": "hunter2"})
    del container["readinessProbe"]
    container["securityContext"]["allowPrivilegeEscalation"] = True
    write_atomically(path, yaml.safe_dump(polaris))
    (workspace / "dist/dev/20-catalog/secret-leak.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leak", "namespace": "floe-platform"}}))
    edit(workspace / "environments" / "dev.yaml", "gitops:\n  repository: https://",
          "gitops:\n  repository: https://deploy:s3cr3t@")
    result = floe(workspace, "validate", "--env", "dev")
    assert result.exit_code == 1
    for text in ("image 'docker.io/apache/polaris:latest' is not pinned", "env ADMIN_PASSWORD holds a literal value",
                 "no readinessProbe", "allowPrivilegeEscalation must be false", "a Secret object must never",
                 "dev.yaml:", "policy: looks like a URL with a password",
                 "dist/dev/20-catalog/21-serve/deployment-polaris.yaml: drift: stale: differs from a fresh render",
                 "dist/dev/20-catalog/secret-leak.yaml: drift: stale: a fresh render no longer has this file",
                 "13 problems"):
        assert text in result.stdout, result.stdout


def test_capacity_table_and_report(workspace: Path) -> None:
    result = floe(workspace, "capacity", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "platform-services" in result.stdout and "total" in result.stdout
    catalog = {"floe.dev/layer": "platform-services", "floe.dev/tier": "catalog"}
    storage = {"floe.dev/layer": "platform-services", "floe.dev/tier": "storage"}
    objects = [
        {"kind": "Deployment", "metadata": {"name": "a", "namespace": "n", "labels": catalog},
         "spec": {"replicas": 2, "template": {"spec": {"containers": [
             {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                                         "limits": {"cpu": "1", "memory": "1Gi"}}}]}}}},
        {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "a", "namespace": "n"},
         "spec": {"maxReplicas": 4, "scaleTargetRef": {"kind": "Deployment", "name": "a"}}},
        {"kind": "StatefulSet", "metadata": {"name": "s", "namespace": "n", "labels": storage},
         "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "s", "resources": {}}]}},
                  "volumeClaimTemplates": [{"spec": {"resources": {"requests": {"storage": "10Gi"}}}}]}},
    ]
    report = capacity.capacity_report(objects)
    assert "| platform-services | storage | 3 | 0 | 0 | 0 | 0 | 30Gi |" in report
    assert "| platform-services | catalog | 4 | 2 | 4 | 2Gi | 4Gi | 0 |" in report
    assert report.index("| platform-services | storage") < report.index("| platform-services | catalog")
    assert capacity.capacity_report(objects) == report


def test_offline_status_shows_tiers_waves_and_dependencies(workspace: Path) -> None:
    result = floe(workspace, "platform", "status", "--env", "dev", "--offline")
    assert result.exit_code == 0, result.output
    lines = result.stdout
    assert lines.index("storage") < lines.index("catalog") < lines.index("orchestrator") < lines.index("semantic")
    assert "10-storage" in lines and "polaris" in lines


def test_every_command_has_help_with_examples() -> None:
    from typer.testing import CliRunner

    from floe.cli import app

    for command in (["platform", "deploy"], ["platform", "upgrade"], ["platform", "status"], ["platform", "logs"],
                    ["run"], ["status"], ["logs"], ["diff"], ["validate"], ["capacity"]):
        result = CliRunner().invoke(app, [*command, "--help"], env={"NO_COLOR": "1"})
        assert result.exit_code == 0 and "Examples:" in result.stdout, command
        assert "\x1b[" not in result.stdout
