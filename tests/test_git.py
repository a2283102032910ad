"""The git client behind ``floe diff --against`` (``floe.git``), on real temporary repositories."""

import os
import subprocess
from pathlib import Path

import pytest

from floe.git import GitError, commit_of, committed_files

FIXED = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
         "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
         "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
"""Author, committer and dates fixed: the same files always make the same commit id."""


def run_git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **FIXED}).stdout


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository whose one commit holds a dist/ of two environments, a gitops folder and a file beside dist/;
    the working tree then changes, which the committed files must not show."""
    root = tmp_path / "repo"
    files = {"dist/dev/10-storage/service-minio.yaml": "kind: Service\n",
             "dist/dev/capacity.md": "| café | 1 |\n\nlast line without newline",
             "dist/dev/empty.yaml": "",
             "dist/gitops/dev/flux/kustomization.yaml": "resources: []\n",
             "dist/prod/capacity.md": "prod\n",
             "README.md": "not in dist\n"}
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "add", ".")
    run_git(root, "commit", "-qm", "render")
    (root / "dist/dev/10-storage/service-minio.yaml").write_text("kind: Changed\n")
    (root / "dist/dev/new.yaml").write_text("kind: New\n")
    return root


def test_the_files_of_a_folder_as_committed(repository: Path) -> None:
    assert committed_files("HEAD", repository / "dist") == {
        "dev/10-storage/service-minio.yaml": "kind: Service\n",
        "dev/capacity.md": "| café | 1 |\n\nlast line without newline",
        "dev/empty.yaml": "",
        "gitops/dev/flux/kustomization.yaml": "resources: []\n",
        "prod/capacity.md": "prod\n",
    }


def test_only_the_named_sub_folders(repository: Path) -> None:
    assert committed_files("main", repository / "dist", ["dev", "gitops/dev"]) == {
        "dev/10-storage/service-minio.yaml": "kind: Service\n",
        "dev/capacity.md": "| café | 1 |\n\nlast line without newline",
        "dev/empty.yaml": "",
        "gitops/dev/flux/kustomization.yaml": "resources: []\n",
    }
    assert committed_files("main", repository / "dist", ["staging"]) == {}
    assert committed_files("main", repository / "dist", []) == {}


def test_a_commit_is_named_by_its_id(repository: Path) -> None:
    full = "097c93753e105a61e3585950a04cc2acbddaa4db"
    assert run_git(repository, "rev-parse", "HEAD").strip() == full  # fixed author and dates: a fixed id
    assert commit_of(repository / "dist", "main") == full
    assert commit_of(repository / "dist" / "dev", "HEAD", 12) == full[:12]


def test_a_ref_that_names_no_commit(repository: Path) -> None:
    with pytest.raises(GitError) as error:
        committed_files("no-such-ref", repository / "dist")
    assert str(error.value) == f"no-such-ref: not a commit, branch or tag of the repository at {repository}"
    blob = run_git(repository, "rev-parse", "HEAD:README.md").strip()
    with pytest.raises(GitError, match=f"^{blob}: not a commit, branch or tag"):
        commit_of(repository, blob)


def test_a_folder_outside_any_repository(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    with pytest.raises(GitError) as error:
        committed_files("HEAD", tmp_path / "dist")
    assert str(error.value) == f"HEAD: {tmp_path} is not inside a git repository"


def test_without_git_on_the_path(repository: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repository / "no-such-bin"))
    with pytest.raises(GitError) as error:
        commit_of(repository, "HEAD")
    assert str(error.value) == "comparing with a commit needs git, which is not on PATH"
