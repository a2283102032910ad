"""The committed dist/ is the snapshot: the one check that it is exactly a fresh render.

Every rendered file must equal its copy in dist/ byte for byte (``pytest --snapshot-update`` rewrites
those that differ), and dist/ holds no file the render does not give (syrupy does not see those:
``python -O main.py`` removes them).
"""

from pathlib import Path

import pytest

from tests.conftest import DIST, tree
from tests.snapshot import DistSnapshotExtension


@pytest.fixture
def dist_snapshot(snapshot):
    return snapshot.use_extension(DistSnapshotExtension)


def test_committed_dist_is_exactly_a_fresh_render(fresh_dist: Path, dist_snapshot) -> None:
    rendered = tree(fresh_dist)
    assert rendered, "nothing rendered"
    differing = [name for name, data in rendered.items() if data.decode("utf-8") != dist_snapshot(name=name)]
    stale = sorted(set(tree(DIST)) - set(rendered))
    assert not (differing or stale), (
        f"dist/ is out of date: differing or missing {differing}, stale {stale}; run `python -O main.py`")
