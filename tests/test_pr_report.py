"""The reviewer's pull request: `floe diff --format markdown`, and the CI templates that post it.

The report's own tests build trees by hand (fast, and 300 changed objects are easy to make); one test runs the
command on a committed dev render. The templates' test makes a pull request from tests/test_fresh_clone.py's
clone of the working tree (which borrows .venv and node_modules): the working tree with its render as the base,
an environment file changed and re-rendered as the head; then it runs every step of each template except the
set-up and the posting, as CI would, each template in a checkout of its own. These checkouts are where the
README's `npx cdk8s synth` (the drift gate: it must write what the Python render wrote), `floe validate` and
`floe diff` are proven to work in a clone with nothing beside it.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from floe.cli.pr_report import FIELD_LINES, REPORT_LIMIT, REPORT_MARKER, markdown_report
from floe.synth import synthesize
from tests import cli_support as support
from tests import test_fresh_clone as fresh_clone
from tests.cli_support import edit, floe
from tests.conftest import ROOT, built_once
from tests.test_fresh_clone import bootstrap_of, borrow_setup, commit_all, git

dev_render = support.dev_render
workspace = support.workspace
clone = fresh_clone.clone

TEMPLATES = ROOT / "ci-templates"
SETUP = "python3 scripts/bootstrap.py"  # the README's set-up


def _dump(obj: dict) -> str:
    return yaml.safe_dump(obj, sort_keys=True)


def _deployment(name: str, tier: str, image: str, cpu: str, replicas: int = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "floe-platform",
                         "labels": {"floe.dev/tier": tier, "floe.dev/layer": "platform-services"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image,
                                         "resources": {"requests": {"cpu": cpu, "memory": "128Mi"},
                                                       "limits": {"cpu": cpu, "memory": "256Mi"}}}]}}}}


def _claim(name: str, size: str) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "floe-platform", "labels": {"floe.dev/tier": "storage"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}


def _config(name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "floe-platform"},
            "data": {"setting": value}}


def _trees() -> tuple[dict[str, str], dict[str, str]]:
    """A base and a head: an image change, a shrinking claim, an added and a removed object, two environments."""
    old = {
        "dev/20-catalog/21-serve/deployment-polaris.yaml": _dump(_deployment("polaris", "catalog", "polaris:1.0", "1")),
        "dev/10-storage/10-prepare/persistentvolumeclaim-data.yaml": _dump(_claim("data", "10Gi")),
        "dev/10-storage/10-prepare/configmap-gone.yaml": _dump(_config("gone", "x")),
        "prod/20-catalog/20-prepare/configmap-polaris.yaml": _dump(_config("polaris", "a")),
        "dev/topology.md": "# dev\n",
    }
    new = {
        "dev/20-catalog/21-serve/deployment-polaris.yaml": _dump(_deployment("polaris", "catalog", "polaris:1.1", "2")),
        "dev/10-storage/10-prepare/persistentvolumeclaim-data.yaml": _dump(_claim("data", "5Gi")),
        "dev/20-catalog/20-prepare/configmap-new.yaml": _dump(_config("new", "y")),
        "prod/20-catalog/20-prepare/configmap-polaris.yaml": _dump(_config("polaris", "b")),
        "dev/topology.md": "# dev, redrawn\n",
    }
    return old, new


def test_the_report_puts_refused_changes_first_then_tables_per_environment_and_tier() -> None:
    old, new = _trees()
    report = markdown_report(old, new, "`dist/` as committed at `origin/main`", against="origin/main")
    assert report.startswith(REPORT_MARKER + "\n")
    assert "**1 added, 4 changed, 1 removed** in dev, prod; **⛔ 1 change refused in place**" in report
    headings = [line for line in report.splitlines() if line.startswith("### ")]
    assert headings == ["### ⛔ 1 change Kubernetes refuses to make in place", "### Objects per environment and tier",
                        "### Capacity per environment", "### Image changes", "### Topology",
                        "### Changes per environment and tier"]
    assert ("| dev | PersistentVolumeClaim/data (floe-platform) | **storage request shrinks (10Gi → 5Gi); a volume "
            "cannot shrink** |") in report
    assert "| dev | 10-storage ⛔ 1 | 0 | 1 | 1 |" in report
    assert "| dev | 20-catalog | 1 | 1 | 0 |" in report
    assert "| prod | 20-catalog | 0 | 1 | 0 |" in report
    assert "| dev | reports | 0 | 1 | 0 |" in report  # topology.md
    assert "| **total** | | **1** | **4** | **1** |" in report


def test_the_report_shows_capacity_deltas_image_changes_and_the_topology_links() -> None:
    old, new = _trees()
    report = markdown_report(old, new, "base", link_base="https://forge.example/o/r/blob/abc/")
    assert "| dev | 1 | 1 → **2** (+1) | 1 → **2** (+1) | 128Mi | 256Mi | 10Gi → **5Gi** (−5Gi) |" in report
    assert "| prod (unchanged) | 0 | 0 | 0 | 0 | 0 | 0 |" in report
    assert ("| dev | catalog | Deployment/polaris (floe-platform) | polaris | `polaris:1.0` | `polaris:1.1` |"
            in report)
    assert ("- dev: [dist/dev/topology.md](https://forge.example/o/r/blob/abc/dist/dev/topology.md) "
            "(redrawn by this change)") in report
    assert "- prod: [dist/prod/topology.md](https://forge.example/o/r/blob/abc/dist/prod/topology.md) " \
           "(unchanged)" in report
    assert "spec.template.spec.containers[polaris].image: 'polaris:1.0' → 'polaris:1.1'" in report


def test_the_report_is_deterministic_and_says_when_nothing_changes() -> None:
    old, new = _trees()
    assert markdown_report(old, new, "base") == markdown_report(dict(reversed(old.items())),
                                                                 dict(reversed(new.items())), "base")
    assert "**No change** to the rendered manifests." in markdown_report(old, dict(old), "base")


def test_300_changed_objects_stay_readable_in_collapsed_sections_under_a_comment_size() -> None:
    tiers = ["10-storage", "20-catalog", "30-observability", "40-orchestrator", "60-jobs"]
    old, new = {}, {}
    for index in range(300):
        env = ("dev", "staging", "prod")[index % 3]
        path = f"{env}/{tiers[index % 5]}/20-prepare/configmap-c{index:03}.yaml"
        lines = "\n".join(f"key{n}: {index}" for n in range(40))
        old[path] = _dump(_config(f"c{index:03}", lines))
        new[path] = _dump(_config(f"c{index:03}", lines.replace(f": {index}", f": {index + 1}")))
    report = markdown_report(old, new, "base")
    assert len(report) <= REPORT_LIMIT
    assert "**0 added, 300 changed, 0 removed** in dev, prod, staging." in report
    assert report.count("<details>") == report.count("</details>") == 15  # one per environment and tier
    assert report.count("<summary>") == 15
    # Before the collapsed sections: the summary, a few dozen lines, whatever the size of the change.
    assert len(report.split("<details>")[0].splitlines()) <= 60
    assert f"… {1 + 80 - FIELD_LINES} more lines: run floe diff" in report  # a path, 40 lines out, 40 in: capped
    assert "`dev/10-storage/20-prepare/configmap-c000.yaml`" in report  # every object is still named
    assert "`prod/60-jobs/20-prepare/configmap-c299.yaml`" in report
    assert "left out to keep this comment short" in report  # detail gave way to the size limit


def test_floe_diff_format_markdown_on_a_committed_render(workspace: Path) -> None:
    git(workspace, "init", "--quiet")
    git(workspace, "add", "--all")
    git(workspace, "-c", "user.name=floe tests", "-c", "user.email=tests@floe.invalid", "-c", "commit.gpgsign=false",
        "commit", "--quiet", "--no-verify", "--message", "base")
    edit(workspace / "environments" / "dev.yaml", "max_concurrent_runs: 2", "max_concurrent_runs: 3")
    result = floe(workspace, "diff", "--env", "dev", "--against", "HEAD", "--format", "markdown")
    assert result.exit_code == 0, result.output  # the report is the result: CI posts it, changes or not
    assert result.stdout.startswith(REPORT_MARKER)
    assert "ConfigMap/dagster-instance (floe-platform)" in result.stdout
    assert "+    max_concurrent_runs: 3" in result.stdout
    assert "| dev | 40-orchestrator |" in result.stdout
    text = floe(workspace, "diff", "--env", "dev", "--against", "HEAD")
    assert text.exit_code == 1 and "~ dev/40-orchestrator" in text.stdout  # the text format still gates


# -- the CI templates -----------------------------------------------------------------------------------------


def _github_steps() -> list[tuple[str, str, dict[str, str]]]:
    """(id, script, env) of each step the test runs; the set-up and the posting are checked, not run."""
    workflow = yaml.safe_load((TEMPLATES / "github-actions.yml").read_text())
    assert workflow["defaults"]["run"]["shell"] == "bash"
    (job,) = workflow["jobs"].values()
    steps = [step for step in job["steps"] if "run" in step]
    assert [step["id"] for step in steps] == ["setup", "drift-gate", "validate", "report", "post"]
    assert steps[0]["run"].strip() == SETUP
    assert "gh pr comment" in steps[-1]["run"] and "floe-report.md" in steps[-1]["run"]
    return [(step["id"], step["run"], step.get("env") or {}) for step in steps[1:-1]]


def _gitlab_script() -> list[str]:
    """Job `floe`'s script lines; its before_script is the set-up, and job `floe-post-report` the posting."""
    pipeline = yaml.safe_load((TEMPLATES / "gitlab-ci.yml").read_text())
    assert set(pipeline) == {"floe", "floe-post-report"}
    assert pipeline["floe"]["before_script"] == [SETUP]
    assert pipeline["floe-post-report"]["needs"] == ["floe"]
    assert "floe-report.md" in pipeline["floe-post-report"]["script"][0]
    lines: list[str] = pipeline["floe"]["script"]
    return lines


GATES = 4
"""The drift gate's three lines and `floe validate`: the same in both templates, so run once, in GitHub's."""


def _user_env(repo: Path) -> dict[str, str]:
    exported = bootstrap_of(repo).NO_UPGRADE_CHECKS
    env = {name: value for name, value in os.environ.items() if name not in exported and not name.startswith("FLOE_")}
    env["PYTHONPATH"] = str(repo)
    return env


@pytest.fixture(scope="session")
def pull_request(clone: Path, fresh_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The pull request both templates check, in a repository of its own, made once for every worker and
    never changed: a base commit holding the working tree with dist/ as its environment files render it (this
    checkout's may be mid-edit), and a head commit that changes dev's environment file and its render.
    Returns the repository and the base's commit."""
    def make(folder: Path) -> None:
        repo = folder / "floe"
        git(folder, "clone", "--quiet", str(clone), repo.name)
        git(repo, "checkout", "--quiet", "-b", "feature")
        shutil.rmtree(repo / "dist")
        shutil.copytree(fresh_dist, repo / "dist")  # what `python -O main.py` writes: the session's render
        (folder / "base").write_text(commit_all(repo, "base"))
        edit(repo / "environments" / "dev.yaml", "max_concurrent_runs: 2", "max_concurrent_runs: 3")
        synthesize(repo / "dist", ["dev"], repo / "environments")  # as `python -O main.py --env dev` does
        commit_all(repo, "head: dev runs three at a time")
    folder = built_once(tmp_path_factory, "pull-request", make)
    return folder / "floe", (folder / "base").read_text()


def _checkout(pull_request: tuple[Path, str], root: Path) -> tuple[Path, str]:
    """A CI checkout of the pull request in ``root``: its head, with the base branch fetched as origin/main;
    returns it and the base's commit."""
    source, base = pull_request
    repo = root / "floe"
    git(root, "clone", "--quiet", "--branch", "feature", str(source), repo.name)
    git(repo, "update-ref", "refs/remotes/origin/main", base)  # the base branch as a CI checkout fetches it
    borrow_setup(repo)
    return repo, base


def _run(repo: Path, script: str, extra: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=repo,
                          env={**_user_env(repo), **extra}, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600)


def _github(pull_request: tuple[Path, str], root: Path) -> tuple[Path, list[tuple[str, subprocess.CompletedProcess]]]:
    repo, _base = _checkout(pull_request, root)
    head = git(repo, "rev-parse", "HEAD").strip()
    # What the runner and the step's `env:` would provide (`${{ }}` expressions are the forge's).
    provided = {"GITHUB_BASE_REF": "main", "GITHUB_SERVER_URL": "https://github.example",
                "GITHUB_REPOSITORY": "owner/repo", "GITHUB_STEP_SUMMARY": str(root / "summary.md"),
                "HEAD_SHA": head}
    results = []
    for step, script, env in _github_steps():
        assert set(env) <= set(provided), f"step {step} needs {set(env) - set(provided)}"
        result = _run(repo, script, provided)
        results.append((step, result))
        if result.returncode:
            break
    return repo, results


def _gitlab(pull_request: tuple[Path, str], root: Path) -> tuple[Path, list[tuple[str, subprocess.CompletedProcess]]]:
    """The job's script after its gates (the GitHub steps' lines, character for character: see GATES), which
    leave a checkout as committed: its report, with GitLab's variables."""
    lines = _gitlab_script()
    github = [line for _, script, _ in _github_steps() for line in script.strip().splitlines()]
    assert lines[:GATES] == github[:GATES]
    repo, base = _checkout(pull_request, root)
    provided = {"CI_MERGE_REQUEST_DIFF_BASE_SHA": base, "CI_PROJECT_URL": "https://gitlab.example/group/repo",
                "CI_COMMIT_SHA": git(repo, "rev-parse", "HEAD").strip()}
    return repo, [("script", _run(repo, "\n".join(lines[GATES:]), provided))]


@pytest.mark.clones
class TestGithubTemplate:
    """Each template a class of its own, so that the two run on two workers side by side (in a checkout each:
    the drift gate rewrites dist/). GitHub's runs every step; GitLab's job shares its gates' lines, and runs
    its own report."""

    def test_runs_its_gates_and_writes_the_report_on_a_base_and_a_head_commit(self, pull_request, tmp_path) -> None:
        assert_gates_and_report("github", *_github(pull_request, tmp_path))


@pytest.mark.clones
class TestGitlabTemplate:
    def test_runs_its_gates_and_writes_the_report_on_a_base_and_a_head_commit(self, pull_request, tmp_path) -> None:
        assert_gates_and_report("gitlab", *_gitlab(pull_request, tmp_path))


def assert_gates_and_report(template: str, repo: Path, results: list[tuple[str, subprocess.CompletedProcess]]) -> None:
    for step, result in results:
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{template} {step} failed:\n{output}"
        assert "Traceback" not in output, output
        assert "new version" not in output, output  # the activated venv's cdk8s CLI looks for no upgrade
    if template == "github":
        assert [step for step, _ in results] == ["drift-gate", "validate", "report"]
        assert (repo.parent / "summary.md").read_text() == (repo / "floe-report.md").read_text()
    report = (repo / "floe-report.md").read_text()
    assert report.startswith(REPORT_MARKER)
    assert "ConfigMap/dagster-instance (floe-platform)" in report  # the changed object is named
    assert "+    max_concurrent_runs: 3" in report
    assert "| dev | 40-orchestrator |" in report
    assert "prod" not in report.split("### Capacity")[0]  # only dev changed
    link = {"github": "https://github.example/owner/repo/blob/", "gitlab": "https://gitlab.example/group/repo/-/blob/"}
    assert f"({link[template]}{git(repo, 'rev-parse', 'HEAD').strip()}/dist/dev/topology.md)" in report
    # The gates leave the repository as committed; the report is the only new file.
    assert git(repo, "status", "--porcelain") == "?? floe-report.md\n"
