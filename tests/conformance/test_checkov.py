"""checkov over the committed render: no failed check, and every skip annotation used.

The skips come from one list, ``floe.security.checkov.ACCEPTED``, each with its reason, written on the
objects it applies to. checkov's pins clash with the project's, so it runs from a virtual environment
of its own under ``.cache/conformance/``.
"""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conformance.cached_venv import ensure_venv
from tests.conftest import DIST, find

pytestmark = pytest.mark.conformance

CHECKOV_VERSION = "3.3.30"
CHECKOV = (f"checkov-{CHECKOV_VERSION}", (f"checkov=={CHECKOV_VERSION}",))
PINNED_TOOLS = (CHECKOV,)


@pytest.fixture(scope="module")
def checkov() -> Path:
    python, _ = ensure_venv(*CHECKOV)
    return python.parent / "checkov"


def scan(checkov: Path, folder: Path) -> dict:
    run = subprocess.run([checkov, "-d", folder, "--framework", "kubernetes", "--output", "json",
                          "--skip-download"], capture_output=True, text=True, timeout=600)
    # Exit 1 means failed checks; the report says which. Anything else is checkov itself failing.
    assert run.returncode in (0, 1), run.stderr[-2000:]
    report = json.loads(run.stdout)
    return report[0] if isinstance(report, list) else report


def skip_annotations(folder: Path) -> set[tuple[str, str, str]]:
    """(file, check id, reason) of every skip annotation in the tree."""
    found = set()
    for path in folder.rglob("*.yaml"):
        for obj in yaml.safe_load_all(path.read_text()):
            for key, value in ((obj or {}).get("metadata", {}).get("annotations") or {}).items():
                if key.startswith("checkov.io/skip"):
                    check, _, reason = value.partition("=")
                    found.add((f"/{path.relative_to(folder)}", check, reason))
    return found


def test_the_render_fails_no_check_and_uses_every_skip(checkov: Path) -> None:
    report = scan(checkov, DIST)
    failed = sorted((f["check_id"], f["resource"]) for f in report["results"]["failed_checks"])
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    skipped = {(s["file_path"], s["check_id"], s["check_result"]["suppress_comment"])
               for s in report["results"]["skipped_checks"]}
    assert skipped == skip_annotations(DIST)
    assert {check for _, check, _ in skipped} == {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_40",
                                                 "CKV_K8S_9", "CKV_K8S_38", "CKV_K8S_158"}


def test_a_workload_without_its_reasons_fails(checkov: Path, dist_objects: dict, tmp_path: Path) -> None:
    """The daemon stripped of its annotations fails exactly the checks its skips name."""
    daemon = find(dist_objects["prod"], "Deployment", "dagster-daemon")
    annotations = daemon["metadata"]["annotations"]
    named = {value.partition("=")[0] for key, value in annotations.items() if key.startswith("checkov.io/skip")}
    assert named == {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_9", "CKV_K8S_38"}
    bare = {**daemon, "metadata": {**daemon["metadata"], "annotations": {
        key: value for key, value in annotations.items() if not key.startswith("checkov.io/skip")}}}
    folder = tmp_path / "dist"
    folder.mkdir()
    (folder / "deployment.yaml").write_text(yaml.safe_dump(bare))
    failed = {f["check_id"] for f in scan(checkov, folder)["results"]["failed_checks"]}
    # CKV2_K8S_6 (no NetworkPolicy selects the pod) fails too: the policies are not in this folder.
    assert failed == named | {"CKV2_K8S_6"}
