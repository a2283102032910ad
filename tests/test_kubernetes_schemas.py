"""Every rendered object is valid, strictly, on the oldest and the newest supported Kubernetes."""

import pytest

from floe.validation import KUBERNETES_VERSIONS, validate
from tests.conftest import ENVIRONMENT_NAMES


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_object_validates_strictly(environment: str, rendered) -> None:
    problems = validate(rendered[environment].items())
    assert not problems, "\n".join(map(str, problems))


def test_supported_versions_span_1_30_to_1_35() -> None:
    assert KUBERNETES_VERSIONS[0].startswith("1.30") and KUBERNETES_VERSIONS[-1].startswith("1.35")


def test_an_unknown_field_is_rejected(rendered) -> None:
    minio = rendered["dev"]["10-storage/statefulset-minio.yaml"]
    broken = {**minio, "spec": {**minio["spec"], "replicaz": 2}}
    problems = validate([("statefulset-minio.yaml", broken)])
    assert problems and all("replicaz" in p.message for p in problems)
    assert {p.version for p in problems} == {f"Kubernetes {v}" for v in KUBERNETES_VERSIONS}


def test_a_wrong_type_is_rejected(rendered) -> None:
    service = rendered["dev"]["10-storage/service-minio.yaml"]
    broken = {**service, "spec": {**service["spec"], "ports": "9000"}}
    assert validate([("service-minio.yaml", broken)])
