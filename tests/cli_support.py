"""Shared helpers of the command-line tests (no tests here): a scratch workspace and a fake cluster."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from floe.cli import app, context
from floe.cli.envfile import write_atomically
from floe.rendered import copy_json
from floe.synth import synthesize
from tests.conftest import ROOT, built_once

RUNNER = CliRunner()


@pytest.fixture(scope="session")
def dev_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/ with only dev rendered, from a copy of the environments: once per session, though each test
    module that uses it imports the fixture (and so asks for it) on its own. Read only: tests change a
    ``workspace``."""
    def render(root: Path) -> None:
        shutil.copytree(ROOT / "environments", root / "environments")
        synthesize(root / "dist", ["dev"], root / "environments")
    return built_once(tmp_path_factory, "dev-render", render)


@pytest.fixture
def workspace(tmp_path: Path, dev_render: Path) -> Iterator[Path]:
    """A private copy of the environments and of the dev render, whose files are hard links to the session's
    (creating them was most of the command-line tests' time): a test replaces a file (``write_atomically``,
    ``edit``), never writes into one, and one that did fails here, naming the shared file it changed."""
    shutil.copytree(dev_render / "environments", tmp_path / "environments")
    shutil.copytree(dev_render / "dist", tmp_path / "dist", copy_function=os.link)
    before = _stamps(dev_render / "dist")
    yield tmp_path
    changed = [path for path, stamp in _stamps(dev_render / "dist").items() if before.get(path) != stamp]
    assert not changed, f"a test wrote into files of the shared dev render (replace them: write_atomically): {changed}"


def _stamps(root: Path) -> dict[str, tuple[int, int]]:
    stamps = {}
    for folder, _, names in os.walk(root):
        for name in names:
            status = os.stat(f"{folder}/{name}")
            stamps[f"{folder}/{name}"] = (status.st_mtime_ns, status.st_size)
    return stamps


@pytest.fixture
def connected(monkeypatch: pytest.MonkeyPatch):
    """Install a FakeCluster as the cluster every command connects to: ``connected(FakeCluster(...))``."""
    def install(cluster: "FakeCluster") -> "FakeCluster":
        monkeypatch.setattr(context, "connect", lambda _context=None: cluster)
        return cluster
    return install


def floe(workspace: Path, *args: str, env: dict | None = None):
    return RUNNER.invoke(app, ["--environments", str(workspace / "environments"), "--dist",
                               str(workspace / "dist"), *args], env=env)


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in a file, which must be there (a test editing nothing proves nothing)."""
    text = path.read_text()
    assert old in text
    write_atomically(path, text.replace(old, new, 1))


def commit(root: Path, *paths: str) -> None:
    """Make ``root`` a git repository whose one commit holds ``paths`` (default: everything)."""
    for args in (["init", "-q"], ["add", *(paths or ["."])],
                 ["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "render"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line_error(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and text in errors[0], result.output


CRONJOB = {
    "apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "sales-dbt-run", "namespace": "floe-jobs", "uid": "0a1b2c3d-cron",
                 "labels": {"floe.dev/data-product": "sales", "floe.dev/job-type": "dbt-run"}},
    "spec": {
        "schedule": "0 3 * * *", "suspend": True,
        "jobTemplate": {
            "metadata": {"labels": {"floe.dev/data-product": "sales", "floe.dev/job-type": "dbt-run",
                                    "floe.dev/layer": "pipeline-jobs"},
                         "annotations": {"floe.dev/owner": "data-team"}},
            "spec": {"backoffLimit": 0, "suspend": True, "template": {
                "metadata": {"labels": {"floe.dev/data-product": "sales", "floe.dev/job-type": "dbt-run"}},
                "spec": {"restartPolicy": "Never", "containers": [
                    {"name": "dbt", "image": "registry.example.com/floe/sales:1.5.0", "command": ["dbt", "run"]}]},
            }},
        },
    },
}


class FakeCluster:
    """Records every call; objects become Ready as soon as they are applied (or after ``ready_after`` reads)."""

    def __init__(self, objects: list[dict] = (), pods: list[dict] = (), logs: dict | None = None,
                 ready_after: int = 0, version: str = "v1.32.3") -> None:
        self.calls: list[tuple] = []
        self.store = {self.key(o): copy_json(o) for o in objects}
        self.pods = list(pods)
        self.logs = logs or {}
        self.ready_after = ready_after
        self.reads: dict[tuple, int] = {}
        self.version = version

    @staticmethod
    def key(obj: dict) -> tuple:
        return obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]

    def apply(self, obj: dict) -> dict:
        self.calls.append(("apply", obj["kind"], obj["metadata"]["name"]))
        self.store[self.key(obj)] = copy_json(obj)
        return obj

    def delete(self, obj: dict) -> None:
        self.calls.append(("delete", obj["kind"], obj["metadata"]["name"]))
        self.store.pop(self.key(obj), None)

    def get(self, obj: dict) -> dict | None:
        self.calls.append(("get", obj["kind"], obj["metadata"]["name"]))
        found = self.store.get(self.key(obj))
        if found is None:
            return None
        count = self.reads[self.key(obj)] = self.reads.get(self.key(obj), 0) + 1
        found = copy_json(found)
        if count > self.ready_after:
            replicas = found.get("spec", {}).get("replicas", 1)
            found["status"] = {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                               "updatedReplicas": replicas, "phase": "Healthy",
                               "conditions": [{"type": "Complete", "status": "True"}]}
        return found

    def read_cronjob(self, namespace: str, name: str) -> dict | None:
        self.calls.append(("read_cronjob", namespace, name))
        return copy_json(self.store.get(("CronJob", namespace, name)))

    def create_job(self, namespace: str, body: dict) -> dict:
        self.calls.append(("create_job", namespace, copy_json(body)))
        return body

    def list_jobs(self, namespace: str, label_selector: str) -> list[dict]:
        self.calls.append(("list_jobs", namespace, label_selector))
        return [copy_json(o) for k, o in self.store.items() if k[0] == "Job" and k[1] == namespace
                and _selects(label_selector, o)]

    def list_pods(self, namespace: str, label_selector: str) -> list[dict]:
        self.calls.append(("list_pods", namespace, label_selector))
        return [p for p in self.pods if _selects(label_selector, p)]

    def pod_logs(self, namespace: str, pod: str, container: str, *, follow: bool = False,
                 since_seconds: int | None = None):
        self.calls.append(("pod_logs", namespace, pod, container, follow, since_seconds))
        yield from self.logs.get((pod, container), [])

    # -- preflight and Secrets: cluster-scoped objects are stored with namespace None

    def server_version(self) -> dict:
        self.calls.append(("server_version",))
        major, minor = self.version.removeprefix("v").split(".")[:2]
        return {"major": major, "minor": minor, "gitVersion": self.version}

    def namespace_exists(self, name: str) -> bool:
        self.calls.append(("namespace_exists", name))
        return ("Namespace", None, name) in self.store

    def crd_exists(self, name: str) -> bool:
        self.calls.append(("crd_exists", name))
        return ("CustomResourceDefinition", None, name) in self.store

    def storage_classes(self) -> list[dict]:
        self.calls.append(("storage_classes",))
        return [copy_json(o) for k, o in self.store.items() if k[0] == "StorageClass"]

    def ingress_classes(self) -> list[dict]:
        self.calls.append(("ingress_classes",))
        return [copy_json(o) for k, o in self.store.items() if k[0] == "IngressClass"]

    def secret_keys(self, namespace: str, name: str) -> list[str] | None:
        self.calls.append(("secret_keys", namespace, name))
        found = self.store.get(("Secret", namespace, name))
        return None if found is None else sorted({**(found.get("data") or {}), **(found.get("stringData") or {})})

    def create_secret(self, namespace: str, name: str, values: dict[str, str], annotations: dict[str, str]) -> bool:
        """Records key names only; the values are kept in the store, where a test may inspect them."""
        self.calls.append(("create_secret", namespace, name, tuple(sorted(values))))
        if ("Secret", namespace, name) in self.store:
            return False
        self.store["Secret", namespace, name] = {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "stringData": dict(values),
            "metadata": {"name": name, "namespace": namespace, "annotations": dict(annotations)}}
        return True


def secret(namespace: str, name: str, *keys: str) -> dict:
    """A Secret with these keys (placeholder values)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": {key: "c2VjcmV0" for key in keys}}


def cluster_object(kind: str, name: str, **fields) -> dict:
    """A cluster-scoped object of the kinds the preflight reads (Namespace, CRD, StorageClass, IngressClass)."""
    return {"kind": kind, "metadata": {"name": name, **fields}}


def _selects(selector: str, obj: dict) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True
