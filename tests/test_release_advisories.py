"""Image overrides and advisories: an environment replaces a catalogued image (built from source, or pinned
by digest), and `floe validate` warns, without failing, while an environment renders an image with a known CVE."""

from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from floe.config.loader import load_environment
from floe.config.releases import Advisory, Image, image_tag
from tests import cli_support as support
from tests.cli_support import edit, floe
from tests.conftest import environment_error

dev_render = support.dev_render
workspace = support.workspace

DIGEST = "sha256:" + "0123456789abcdef" * 4
FIXED = "RELEASE.2025-10-15T17-29-55Z"
GOOD = 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
MINIO = "dist/dev/10-storage/11-serve/statefulset-minio.yaml"
SHIPPED_WARNING = (
    "warning: dev: minio quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z is affected by CVE-2025-62506 (fixed in "
    "RELEASE.2025-10-15T17-29-55Z), a privilege escalation by which a service account or STS credential with a "
    "restricted session policy creates service accounts beyond it: build MinIO from source at that release or later "
    "and set images.minio to it")


@pytest.mark.parametrize(("reference", "label"), [
    ("quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "RELEASE.2025-09-07T16-13-09Z"),
    ("registry.example.com:5000/minio:RELEASE.2025-10-15T17-29-55Z", "RELEASE.2025-10-15T17-29-55Z"),
    (f"registry.example.com/minio:RELEASE.2025-10-15T17-29-55Z@{DIGEST}", "RELEASE.2025-10-15T17-29-55Z"),
    (f"registry.example.com/minio@{DIGEST}", "sha256-0123456789ab"),
])
def test_the_version_label_is_the_tag_else_a_short_digest(reference: str, label: str) -> None:
    assert image_tag(reference) == label


@pytest.mark.parametrize("reference", [
    "docker.io/library/postgres:17.11",
    f"registry.example.com/minio@{DIGEST}",
    f"registry.example.com/minio:RELEASE.2025-10-15T17-29-55Z@{DIGEST}",
])
def test_an_image_is_pinned_by_tag_or_digest_or_both(reference: str) -> None:
    assert TypeAdapter(Image).validate_python(reference) == reference


@pytest.mark.parametrize("reference", [
    "registry.example.com/minio:latest",
    "registry.example.com/minio",
    "registry.example.com/minio@sha256:" + "0" * 63,
    "registry.example.com/minio@sha256:" + "A" * 64,
    f"registry.example.com/minio:latest@{DIGEST}",
    f"minio@{DIGEST}",
])
def test_an_unpinned_image_is_refused(reference: str) -> None:
    with pytest.raises(ValidationError, match="is not a pinned image"):
        TypeAdapter(Image).validate_python(reference)


def test_an_advisory_affects_the_releases_before_its_fix_or_the_tags_it_names() -> None:
    minio = Advisory(component="minio", cve="CVE-0", fixed=FIXED, summary="s", remedy="r", before=FIXED)
    assert minio.affects("RELEASE.2025-10-15T17-29-54Z") is True
    assert minio.affects("RELEASE.2024-12-31T23-59-59Z") is True
    assert minio.affects(FIXED) is False
    assert minio.affects("RELEASE.2026-01-02T03-04-05Z") is False
    assert minio.affects("v2025.10") is None
    grafana = Advisory(component="grafana", cve="CVE-1", fixed="13.2.2", summary="s", remedy="r", tags=("13.2.0",))
    assert grafana.affects("13.2.0") is True
    assert grafana.affects("13.2.2") is False


def test_an_advisory_names_a_catalogued_image_and_what_it_affects() -> None:
    with pytest.raises(ValidationError, match="'minio_server' is not an image of the catalogue; known images: "
                                              "postgres, minio, minio_client, polaris, "):
        Advisory(component="minio_server", cve="CVE-0", fixed=FIXED, summary="s", remedy="r", before=FIXED)
    with pytest.raises(ValidationError, match="CVE-0: say which images are affected with tags or before"):
        Advisory(component="minio", cve="CVE-0", fixed=FIXED, summary="s", remedy="r")
    with pytest.raises(ValidationError, match="does not match format"):
        Advisory(component="minio", cve="CVE-0", fixed=FIXED, summary="s", remedy="r", before="2025-10-15")


def test_an_override_replaces_only_its_image(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(GOOD + f"images:\n  minio: registry.example.com/minio:{FIXED}\n")
    images = load_environment(path).release.images
    assert images.minio == "registry.example.com/minio:RELEASE.2025-10-15T17-29-55Z"
    assert images.postgres == "docker.io/library/postgres:17.11"


@pytest.mark.parametrize(("text", "error"), [
    (f"images:\n  minio_server: registry.example.com/minio:{FIXED}\n",
     "qa.yaml:4: images: 'minio_server' is not an image of the release catalogue; known images: postgres, minio, "
     "minio_client, polaris, polaris_admin_tool, otel_collector, prometheus, postgres_exporter, kube_state_metrics, "
     "grafana, dagster, cube, cubestore, oauth2_proxy"),
    ("images:\n  minio: registry.example.com/minio:latest\n",
     "qa.yaml:5: images.minio: 'registry.example.com/minio:latest' is not a pinned image: write "
     "registry/repository:tag with an explicit registry and a fixed tag other than 'latest', or "
     "registry/repository@sha256:<64 hex digits>, or both (registry/repository:tag@sha256:...)"),
])
def test_a_wrong_override_is_refused(tmp_path: Path, text: str, error: str) -> None:
    assert environment_error(tmp_path, GOOD + text) == error


def _validate_with(workspace: Path, minio: str | None) -> tuple[list[str], dict]:
    """The warnings of `floe validate` once dev renders ``minio`` (the release's when None), and its StatefulSet."""
    if minio is not None:
        edit(workspace / "environments" / "dev.yaml", 'platform_version: "1.0.0"\n',
             f'platform_version: "1.0.0"\nimages:\n  minio: {minio}\n')
        assert floe(workspace, "platform", "deploy", "--env", "dev").exit_code == 0
    result = floe(workspace, "validate", "--env", "dev")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    return warnings, yaml.safe_load((workspace / MINIO).read_text())


def test_validate_warns_while_dev_renders_the_affected_minio(workspace: Path) -> None:
    warnings, _ = _validate_with(workspace, None)
    assert warnings == [SHIPPED_WARNING]


def test_the_same_release_rebuilt_elsewhere_is_still_affected(workspace: Path) -> None:
    warnings, _ = _validate_with(workspace, "registry.example.com/minio:RELEASE.2025-09-07T16-13-09Z")
    assert warnings == [SHIPPED_WARNING.replace("quay.io/minio/minio:", "registry.example.com/minio:")]


def test_the_fixed_release_by_tag_and_digest_silences_the_warning_and_the_digest_skip(workspace: Path) -> None:
    warnings, minio = _validate_with(workspace, f"registry.example.com/minio:{FIXED}@{DIGEST}")
    assert warnings == []
    container = minio["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"registry.example.com/minio:{FIXED}@{DIGEST}"
    assert minio["metadata"]["labels"]["app.kubernetes.io/version"] == FIXED
    skipped = [value.split("=", 1)[0] for key, value in minio["metadata"]["annotations"].items()
               if key.startswith("checkov.io/skip")]
    assert skipped == ["CKV_K8S_15", "CKV_K8S_35", "CKV_K8S_40"]


def test_a_digest_alone_cannot_be_checked(workspace: Path) -> None:
    warnings, minio = _validate_with(workspace, f"registry.example.com/minio@{DIGEST}")
    assert warnings == [
        f"warning: dev: minio registry.example.com/minio@{DIGEST} is pinned by digest alone, so its release cannot "
        "be checked against CVE-2025-62506 (fixed in RELEASE.2025-10-15T17-29-55Z), a privilege escalation by which "
        "a service account or STS credential with a restricted session policy creates service accounts beyond it: "
        "write it as repository:<release>@sha256:<digest> to have it checked"]
    assert minio["metadata"]["labels"]["app.kubernetes.io/version"] == "sha256-0123456789ab"
