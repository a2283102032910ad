"""Shared fixtures: one fresh render of every environment per test session."""

from pathlib import Path

import pytest
import yaml

from floe.config.loader import ENVIRONMENTS_DIR, environment_files, load_environment
from floe.errors import FloeError
from floe.synth import synthesize

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
ENVIRONMENT_NAMES = [path.stem for path in environment_files(ROOT / ENVIRONMENTS_DIR)]


@pytest.fixture(autouse=True)
def _project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def fresh_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A render of every environment into a scratch directory (never into dist/)."""
    outdir = tmp_path_factory.mktemp("render") / "dist"
    synthesize(outdir, environments_dir=ROOT / ENVIRONMENTS_DIR)
    return outdir


def _objects(folder: Path) -> dict[str, dict]:
    """path inside ``folder`` → parsed Kubernetes object (kustomization.yaml files are not objects)."""
    return {
        str(path.relative_to(folder)): yaml.safe_load(path.read_text())
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
