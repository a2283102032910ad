"""Shared fixtures: one fresh render of every environment per test session."""

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.cli.tree import load_yaml
from floe.config.loader import ENVIRONMENTS_DIR, environment_files, load_environment
from floe.errors import FloeError
from floe.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent


def _helper_modules() -> list[str]:
    """Every module under tests/ that pytest would not rewrite by itself: neither a test module nor a conftest."""
    skipped = {ROOT / "tests" / "__init__.py"}  # imported already, and holds no assert
    return sorted(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for path in (ROOT / "tests").rglob("*.py")
                  if not path.name.startswith("test_") and path.name != "conftest.py" and path not in skipped)


# The test command runs pytest with -O, as renders run: jsii's run-time type checks off (mypy checks the same
# types, and tests/test_synthesis.py renders with them on). Pytest turns the asserts of test modules and
# conftest into checks -O keeps; the helpers beside them get the same here.
pytest.register_assert_rewrite(*_helper_modules())
DIST = ROOT / "dist"
ENVIRONMENT_NAMES = [path.stem for path in environment_files(ROOT / ENVIRONMENTS_DIR)]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``clones`` (seconds each: whole commands in clones of the repository) first: the workers
    take them side by side at the start, instead of one worker ending the session running them in turn."""
    items.sort(key=lambda item: item.get_closest_marker("clones") is None)  # stable: otherwise as collected


@pytest.fixture(autouse=True)
def _project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A read-only folder built once per test session, however many xdist workers (or test modules importing
    the fixture) ask for it: the first builds it under a lock in the session's temporary folder, which the
    workers share; the others wait for it. ``build`` fills the empty folder it is given, which becomes the
    folder only once it succeeded: after a failed build the next to ask builds again (and fails the same way)."""
    session = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        session = session.parent  # a worker's folder sits in the session's: <session>/popen-gw<n>
    folder = session / f"built-{name}"
    with (session / f"built-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.is_dir():
            partial = session / f"built-{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            build(partial)
            partial.rename(folder)
    return folder


@pytest.fixture(scope="session")
def fresh_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A render of every environment into a scratch directory (never into dist/), shared by the session's
    workers: tests read it and never change it."""
    def render(folder: Path) -> None:
        synthesize(folder / "dist", environments_dir=ROOT / ENVIRONMENTS_DIR)
    return built_once(tmp_path_factory, "render", render) / "dist"


def load_yaml_all(text: str) -> list[Any]:
    """``yaml.safe_load_all`` with libyaml's parser."""
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


def _objects(folder: Path) -> dict[str, dict]:
    """path inside ``folder`` → parsed Kubernetes object (kustomization.yaml files are not objects)."""
    return {
        str(path.relative_to(folder)): load_yaml(path.read_text())
        for path in sorted(folder.rglob("*.yaml")) if path.name != "kustomization.yaml"
    }


@pytest.fixture(scope="session")
def rendered(fresh_dist: Path) -> dict[str, dict[str, dict]]:
    """environment → path inside its folder → the parsed object."""
    return {name: _objects(fresh_dist / name) for name in ENVIRONMENT_NAMES}


@pytest.fixture(scope="session")
def gitops(fresh_dist: Path) -> dict[str, dict[str, dict]]:
    """environment → path inside dist/gitops/<env>/ → the parsed Argo CD or Flux object."""
    return {name: _objects(fresh_dist / "gitops" / name) for name in ENVIRONMENT_NAMES}


@pytest.fixture(scope="session")
def environments():
    return {name: load_environment(ROOT / ENVIRONMENTS_DIR / f"{name}.yaml") for name in ENVIRONMENT_NAMES}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, keyed by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def find(objects: dict[str, dict], kind: str, name: str) -> dict:
    matches = [o for o in objects.values() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def containers(obj: dict) -> list[dict]:
    spec = obj["spec"]
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
    return template["spec"]["containers"]


def pod_spec(obj: dict) -> dict:
    spec = obj["spec"]
    if "jobTemplate" in spec:
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec["template"]["spec"]


def environment_error(tmp_path: Path, text: str) -> str:
    """The error loading ``text`` as an environment file gives, with the temporary folder left out."""
    path = tmp_path / "qa.yaml"
    path.write_text(text)
    with pytest.raises(FloeError) as raised:
        load_environment(path)
    return str(raised.value).replace(f"{tmp_path}/", "")
