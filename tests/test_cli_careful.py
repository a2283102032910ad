"""The floe command is as careful as the renderer: each test reproduces a defect found by trying the
commands one by one as a new user would (no cluster, then with mistakes)."""

import re
import warnings
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from floe import output, synth
from floe.cli import app, context, platform, runs
from floe.cli import cluster as cluster_module
from floe.cli.changes import field_changes, text_changes
from tests import cli_support as support
from tests.cli_support import FakeCluster, commit, edit, floe, one_line_error, snapshot

dev_render = support.dev_render
workspace = support.workspace
MINIO = "dist/dev/10-storage/11-serve/statefulset-minio.yaml"


@pytest.fixture
def no_schema_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The render's schema validation is covered elsewhere; these tests are about what the command does."""
    monkeypatch.setattr(platform, "schema_problems", lambda objects: [])


# -- one change guard: deploy, diff and upgrade flag the same changes ------------------------------------------


@pytest.mark.parametrize("size", ["10Gi", "2Gi"])
def test_deploy_refuses_what_kubernetes_refuses_in_place(workspace: Path, no_schema_check: None, size: str) -> None:
    edit(workspace / "environments" / "dev.yaml", "size: 5Gi", f"size: {size}")
    before = snapshot(workspace / "dist")
    result = floe(workspace, "platform", "deploy", "--env", "dev")
    one_line_error(result, 2, "1 change Kubernetes refuses to make in place "
                              "(StatefulSet/minio (floe-platform): spec.volumeClaimTemplates changed)")
    assert "!! REFUSED IN PLACE: dev/10-storage/11-serve/statefulset-minio.yaml" in result.stderr
    assert snapshot(workspace / "dist") == before
    shown = floe(workspace, "diff", "--env", "dev")
    assert shown.exit_code == 1
    assert "!! REFUSED IN PLACE: spec.volumeClaimTemplates changed" in shown.stdout
    forced = floe(workspace, "platform", "deploy", "--env", "dev", "--allow-recreate")
    assert forced.exit_code == 0, forced.output
    assert f"storage: {size}" in (workspace / MINIO).read_text()


def test_claim_templates_as_the_api_server_stores_them_are_no_change() -> None:
    from floe.cli.changes import immutable_changes

    claim = {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "5Gi"}}}}
    stored = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **claim}
    old = {"kind": "StatefulSet", "metadata": {"name": "minio"}, "spec": {"volumeClaimTemplates": [claim]}}
    assert immutable_changes(old, {**old, "spec": {"volumeClaimTemplates": [stored]}}) == []
    bigger = {**stored, "spec": {"resources": {"requests": {"storage": "9Gi"}}}}
    assert immutable_changes(old, {**old, "spec": {"volumeClaimTemplates": [bigger]}}) == [
        "spec.volumeClaimTemplates changed"]


# -- validate and capacity check something, or fail ------------------------------------------------------------


def test_validate_refuses_a_mistake_in_an_environment_file(workspace: Path) -> None:
    edit(workspace / "environments" / "dev.yaml", "  object_store:\n", "  object_stor:\n")
    one_line_error(floe(workspace, "validate"), 2, "dev.yaml:7: storage.object_stor: unknown field")


def test_validate_fails_on_a_stale_dist(workspace: Path) -> None:
    edit(workspace / "environments" / "dev.yaml", "max_concurrent_runs: 2", "max_concurrent_runs: 3")
    result = floe(workspace, "validate", "--env", "dev")
    assert result.exit_code == 1, result.output
    assert ("dist/dev/40-orchestrator/40-prepare/configmap-dagster-instance.yaml: drift: stale: differs from a "
            "fresh render") in result.stdout
    assert "is not what the environment files render" in result.stdout


@pytest.mark.parametrize("command", [["validate"], ["capacity"], ["diff"], ["platform", "deploy"]])
def test_no_environments_is_an_error(workspace: Path, command: list[str]) -> None:
    for path in (workspace / "environments").glob("*.yaml"):
        path.unlink()
    one_line_error(floe(workspace, *command), 2, "environments: no environment files")


def test_an_unknown_environment_is_named_as_such(workspace: Path) -> None:
    for command in (["validate", "--env", "qa"], ["capacity", "--env", "qa"], ["diff", "--env", "qa"]):
        one_line_error(floe(workspace, *command), 2, "qa.yaml: no such environment file (environments here: dev, "
                                                     "prod, staging)")


# -- a dist/ that cannot be written ---------------------------------------------------------------------------


@pytest.fixture
def read_only_dist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Moving dist/ aside fails as on a read-only folder (the suite runs as root, which no mode bit stops)."""
    real_rename = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if self.name == "dist":
            raise PermissionError(13, "Permission denied", str(self))
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)


def test_main_reports_an_unwritable_dist_in_one_line(tmp_path: Path, read_only_dist: None,
                                                      capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "keep.yaml").write_text("kept\n")
    code = synth.main(["--outdir", str(tmp_path / "dist"), "--environments", str(support.ROOT / "environments")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: cannot write {tmp_path / 'dist'}: Permission denied") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dist"]  # no .dist-new-* or .dist-old-* left
    assert (tmp_path / "dist" / "keep.yaml").read_text() == "kept\n"


def test_a_failed_swap_puts_the_old_tree_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "dist"
    target.mkdir()
    (target / "old.yaml").write_text("old\n")
    real_rename = Path.rename

    def rename(self: Path, to: Path) -> Path:
        if self.name.startswith(".dist-new-"):
            raise OSError(28, "No space left on device", str(to))
        return real_rename(self, to)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(output.FloeError, match="No space left on device"):
        output.write_tree(target, {"new.yaml": "new\n"})
    assert [p.name for p in tmp_path.iterdir()] == ["dist"]
    assert (target / "old.yaml").read_text() == "old\n"


def test_deploy_reports_an_unwritable_dist_in_one_line(workspace: Path, no_schema_check: None,
                                                        read_only_dist: None) -> None:
    edit(workspace / "environments" / "dev.yaml", "max_concurrent_runs: 2", "max_concurrent_runs: 3")
    one_line_error(floe(workspace, "platform", "deploy"), 2, "cannot write")
    assert not [p for p in workspace.iterdir() if p.name.startswith(".dist")]


# -- components, messages, cluster first ----------------------------------------------------------------------


def test_component_names_and_tier_names_are_both_accepted(workspace: Path, no_schema_check: None) -> None:
    result = floe(workspace, "platform", "deploy", "--env", "dev", "--component", "polaris", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Deployment/polaris" in result.stdout and "StatefulSet/minio" not in result.stdout
    one_line_error(floe(workspace, "platform", "deploy", "--component", "warehouse"), 2,
                   "unknown component 'warehouse'; tiers: storage, catalog, observability, orchestrator, semantic; "
                   "components: namespaces,")


def test_logs_of_one_component_select_its_pods(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()
    monkeypatch.setattr(context, "connect", lambda _context=None: cluster)
    result = floe(workspace, "platform", "logs", "polaris", "--env", "dev")
    one_line_error(result, 2, "no pods of polaris in namespace floe-platform")
    assert ("list_pods", "floe-platform", "app.kubernetes.io/name=polaris") in cluster.calls


def test_deploy_without_changes_writes_nothing(workspace: Path, no_schema_check: None) -> None:
    result = floe(workspace, "platform", "deploy", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no changes: " + str(workspace / "dist") + "/ already matches the render; " \
                                                                             "nothing to write"


def test_apply_checks_the_cluster_before_rendering(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(workspace / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setattr(platform, "render_scratch", lambda names: pytest.fail("rendered before the cluster check"))
    one_line_error(floe(workspace, "platform", "deploy", "--env", "dev", "--apply"), 3,
                   "no Kubernetes configuration")


@pytest.mark.parametrize("command", [["platform", "status", "--env", "dev"], ["status", "--env", "dev"],
                                     ["platform", "deploy", "--env", "dev", "--apply"]])
def test_context_is_accepted_after_the_subcommand(workspace: Path, monkeypatch: pytest.MonkeyPatch,
                                                  command: list[str]) -> None:
    asked = []

    def connect(name=None):
        asked.append(name)
        raise cluster_module.ClusterError(f"context {name} does not exist")

    monkeypatch.setattr(context, "connect", connect)
    one_line_error(floe(workspace, *command, "--context", "kind-floe"), 3, "context kind-floe does not exist")
    assert asked == ["kind-floe"]


def test_a_dry_run_never_needs_a_cluster(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workspace / "environments" / "qa.yaml").write_text((workspace / "environments" / "dev.yaml").read_text())
    monkeypatch.setattr(context, "connect", lambda _context=None: pytest.fail("a dry run reached for the cluster"))
    monkeypatch.setattr(runs, "new_run_id", lambda: "0badc0de")
    result = floe(workspace, "run", "dbt-run", "--product", "sales", "--env", "qa", "--dry-run")
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.stdout)
    assert job["metadata"]["name"] == "sales-dbt-run-0badc0de" and job["metadata"]["namespace"] == "floe-jobs"
    assert not (workspace / "dist" / "qa").exists()


# -- diff reads like a review -----------------------------------------------------------------------------------


def test_list_indexes_sort_as_numbers_and_insertions_stay_insertions() -> None:
    old = {"resources": [f"file-{n:02d}.yaml" for n in range(14)],
           "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    new = {"resources": [*old["resources"][:2], "file-new.yaml", *old["resources"][2:]],
           "env": [{"name": "Z", "value": "0"}, {"name": "A", "value": "1"}, {"name": "B", "value": "3"}]}
    assert field_changes(old, new) == ["env[B].value: '2' → '3'", "env[Z]: added {name: Z, value: '0'}",
                                       "resources[2]: added 'file-new.yaml'"]
    changed = {"r": list(range(14))}
    assert field_changes(changed, {"r": [*range(13), 99]}) == ["r[13]: 13 → 99"]
    numbers = field_changes({"r": list(range(14))}, {"r": [-n for n in range(14)]})
    assert [line.split(":")[0] for line in numbers] == [f"r[{n}]" for n in range(1, 14)]


def test_a_text_file_shows_its_changed_lines() -> None:
    old = "| tier | cpu |\n| storage | 1 |\n| catalog | 2 |\n"
    new = "| tier | cpu |\n| storage | 1 |\n| catalog | 3 |\n"
    assert text_changes(old, new) == ["-| catalog | 2 |", "+| catalog | 3 |"]
    assert field_changes(old, new) == ["(file):", "  -| catalog | 2 |", "  +| catalog | 3 |"]


def test_diff_counts_in_words(workspace: Path) -> None:
    edit(workspace / "dist/dev/10-storage/11-serve/statefulset-postgres-dagster.yaml",
          "serviceName: postgres-dagster-headless", "serviceName: postgres-old")
    result = floe(workspace, "diff", "--env", "dev")
    assert "WARNING: 1 change Kubernetes will refuse" in result.stdout
    assert "0 added, 1 changed, 0 removed" in result.stdout


def test_after_a_re_render_diff_compares_with_the_committed_tree(workspace: Path) -> None:
    commit(workspace)
    edit(workspace / "environments" / "dev.yaml", "max_concurrent_runs: 2", "max_concurrent_runs: 3")
    assert floe(workspace, "platform", "deploy", "--env", "dev").exit_code == 0  # the README's order: render first
    result = floe(workspace, "diff", "--env", "dev")
    assert result.exit_code == 1, result.output
    assert "as committed at HEAD (the working tree's" in result.stdout
    assert "~ dev/40-orchestrator/40-prepare/configmap-dagster-instance.yaml (changed)" in result.stdout
    assert "max_concurrent_runs: 3" in result.stdout


# -- help, version, warnings ------------------------------------------------------------------------------------


def test_help_shows_placeholders_and_no_bool_types() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"NO_COLOR": "1", "COLUMNS": "120"})
    assert result.exit_code == 0
    assert "data_products" in result.stdout
    assert "<bool>" not in result.stdout and "environments/.yaml" not in result.stdout


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("floe 0.1.0 (platform releases: 1.0.0, 1.1.0")


def test_an_insecure_context_warns_once_in_floes_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:9", "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(cluster_module.ClusterError, match="cannot reach the Kubernetes API"):
            cluster_module.connect()
    assert not [w for w in caught if "Unverified HTTPS" in str(w.message)]
    assert "warning: context lab skips TLS verification" in capsys.readouterr().err


def test_every_readme_section_a_file_points_to_exists() -> None:
    readme = (support.ROOT / "README.md").read_text()
    sections = {line.lstrip("#").strip() for line in readme.splitlines() if line.startswith("#")}
    for path in (support.ROOT / "floe").rglob("*"):
        if path.suffix in {".py", ".yaml"} and "imports" not in path.parts:
            for reference in re.findall(r'README, "([^"]+)"', path.read_text()):
                assert reference in sections, f"{path}: README has no section {reference!r}"


def test_a_full_render_says_which_environments_it_removed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "dev.yaml").write_text((support.ROOT / "environments" / "dev.yaml").read_text())
    for folder in ("dist/qa/10-storage", "dist/gitops/qa"):
        (tmp_path / folder).mkdir(parents=True)
    code = synth.main(["--outdir", str(tmp_path / "dist"), "--environments", str(tmp_path / "environments")])
    assert code == 0
    assert f"qa: removed {tmp_path / 'dist' / 'qa'} and {tmp_path / 'dist' / 'gitops' / 'qa'} (no " \
           f"{tmp_path / 'environments' / 'qa'}.yaml any more)" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == ["dev", "gitops"]
