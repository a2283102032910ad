"""The committed dist/ is the snapshot: every rendered file must equal it byte for byte."""

from pathlib import Path

import pytest

from tests.conftest import ENVIRONMENT_NAMES
from tests.snapshot import DistSnapshotExtension


@pytest.fixture
def dist_snapshot(snapshot):
    return snapshot.use_extension(DistSnapshotExtension)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_rendered_tree_matches_committed_dist(environment: str, fresh_dist: Path, dist_snapshot) -> None:
    folders = (fresh_dist / environment, fresh_dist / "gitops" / environment)
    files = sorted(path for folder in folders for path in folder.rglob("*") if path.is_file())
    assert files, f"nothing rendered for {environment}"
    for path in files:
        name = str(path.relative_to(fresh_dist))
        assert path.read_text(encoding="utf-8") == dist_snapshot(name=name)
