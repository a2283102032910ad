"""The conformance tier: the real programs run on the committed render (dist/), under the pod's conditions.

Every test here carries the ``conformance`` marker: ``pytest -m conformance`` runs the tier alone and
``-m "not conformance"`` the rest. A program the tier needs and this machine lacks skips its tests, except
where ``FLOE_CONFORMANCE_REQUIRED`` is set (CI's ``.ci/run``): there a missing program fails them.
"""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conformance.cached_venv import build_together
from tests.conftest import DIST, ENVIRONMENT_NAMES, _objects

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.conformance)


@pytest.fixture(scope="session", autouse=True)
def _pinned_tools_built_together(request: pytest.FixtureRequest) -> None:
    """The cached environments of the selected tests' ``PINNED_TOOLS``, built side by side before the first
    test, instead of one after the other as each test module first asks for its own."""
    modules = {item.module for item in request.session.items if HERE in item.path.parents}
    build_together(tool for module in modules for tool in getattr(module, "PINNED_TOOLS", ()))


@pytest.fixture(scope="session")
def dist_objects() -> dict[str, dict[str, dict]]:
    """environment → path inside dist/<env>/ → the parsed object, of the committed render (what CI checks
    is fresh), as ``tests.conftest.rendered`` holds a fresh one: ``find`` works on both."""
    return {name: _objects(DIST / name) for name in ENVIRONMENT_NAMES}


@pytest.fixture(scope="session")
def require() -> Callable[[str, str], str]:
    """``require(program, where_from)`` → the program's path; skips (fails in CI) when it is not installed."""
    def program(name: str, where_from: str) -> str:
        path = shutil.which(name)
        if path is None:
            reason = f"{name} not installed ({where_from})"
            if os.environ.get("FLOE_CONFORMANCE_REQUIRED"):
                pytest.fail(f"{reason}, and FLOE_CONFORMANCE_REQUIRED is set")
            pytest.skip(reason)
        return path
    return program


@pytest.fixture
def pod_root() -> Iterator[Path]:
    """A folder for a Pod whose programs run as the pod's user: under the system's temporary folder, which
    every user may pass through (pytest's tmp_path sits in a folder private to the user running pytest)."""
    root = Path(tempfile.mkdtemp(prefix="floe-pod-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)
