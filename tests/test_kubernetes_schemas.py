"""Every rendered object is valid, strictly, on the oldest and the newest supported Kubernetes."""

import os

import pytest

from floe.validation import KUBERNETES_VERSIONS, validate
from tests.conftest import ENVIRONMENT_NAMES

MINIO = "10-storage/11-serve/statefulset-minio.yaml"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_object_validates_strictly(environment: str, rendered) -> None:
    problems = validate(rendered[environment].items())
    assert not problems, "\n".join(map(str, problems))


def test_supported_versions_span_1_30_to_1_35() -> None:
    assert KUBERNETES_VERSIONS[0].startswith("1.30") and KUBERNETES_VERSIONS[-1].startswith("1.35")


def test_an_unknown_field_is_rejected(rendered) -> None:
    minio = rendered["dev"][MINIO]
    broken = {**minio, "spec": {**minio["spec"], "replicaz": 2}}
    problems = validate([("statefulset-minio.yaml", broken)])
    assert problems and all("replicaz" in p.message for p in problems)
    assert {p.version for p in problems} == {f"Kubernetes {v}" for v in KUBERNETES_VERSIONS}


def test_a_wrong_type_is_rejected(rendered) -> None:
    service = rendered["dev"]["10-storage/11-serve/service-minio.yaml"]
    broken = {**service, "spec": {**service["spec"], "ports": "9000"}}
    assert validate([("service-minio.yaml", broken)])


def test_kubeconform_is_used_when_installed(rendered, tmp_path, monkeypatch) -> None:
    """With kubeconform on PATH, its report (strict, local schemas) decides; each finding names the file."""
    fake = tmp_path / "kubeconform"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "$@" > "$(dirname "$0")/args"\n'
        "cat > /dev/null\n"
        'echo \'{"resources": [{"filename": "stdin", "kind": "StatefulSet", "name": "minio", '
        '"status": "statusInvalid", "msg": "additionalProperties replicaz not allowed"}]}\'\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    problems = validate([(MINIO, rendered["dev"][MINIO])],
                        versions=("1.30.0",))
    assert [(p.path, p.message) for p in problems] == [
        (MINIO, "additionalProperties replicaz not allowed")]
    args = (tmp_path / "args").read_text()
    assert "-strict" in args and "-kubernetes-version 1.30.0" in args
    assert "kubernetes-json-schema/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}" in args
