"""Every rendered object is valid, strictly, on the oldest and the newest supported Kubernetes."""

import copy
import json
import os
from pathlib import Path

import kubernetes_validate
import pytest

from floe import validation
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


def test_an_object_validated_before_is_checked_again_once_it_changes(rendered, monkeypatch) -> None:
    """Verdicts are kept per object (the tests validate one render through many commands): an edit is seen."""
    monkeypatch.setattr("shutil.which", lambda _name: None)  # the embedded schemas, even where kubeconform is
    minio = copy.deepcopy(rendered["dev"][MINIO])
    assert validate([(MINIO, minio)]) == []
    minio["spec"]["replicas"] = "two"
    problems = validate([(MINIO, minio)])
    assert [p.message for p in problems] == ["spec.replicas: 'two' is not of type 'integer', 'null'"] * 2


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


@pytest.fixture
def in_process(monkeypatch):
    """The in-process path, whether or not kubeconform is installed here."""
    monkeypatch.setattr(validation.shutil, "which", lambda name: None)


def test_a_problem_reads_as_kubernetes_validate_reports_it(rendered, in_process) -> None:
    """Cached validators change nothing a reader sees: the same first error, the same path, the same words."""
    minio = rendered["dev"][MINIO]
    template = minio["spec"]["template"]
    container = {**template["spec"]["containers"][0], "imagePullPolicy": 3}
    broken = {**minio, "spec": {**minio["spec"], "template": {
        **template, "spec": {**template["spec"], "containers": [container]}}}}
    expected = []
    for version in KUBERNETES_VERSIONS:
        with pytest.raises(kubernetes_validate.ValidationError) as raised:
            kubernetes_validate.validate(broken, version, strict=True)
        where = ".".join(str(p) for p in raised.value.path)
        expected.append(f"{where}: {raised.value.message}")
    assert expected[0] == "spec.template.spec.containers.0.imagePullPolicy: 3 is not of type 'string', 'null'"
    assert [p.message for p in validate([(MINIO, broken)])] == expected


def test_an_unknown_kind_reads_as_kubernetes_validate_reports_it(in_process) -> None:
    thing = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "thing"}}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError) as raised:
        kubernetes_validate.validate(thing, "1.30.0", strict=True)
    assert [p.message for p in validate([("thing.yaml", thing)], versions=("1.30.0",))] == [raised.value.message]


def test_a_kind_s_schema_is_read_once(rendered, in_process, monkeypatch) -> None:
    """The second object of a kind reuses the validator: no schema file is read again."""
    for cached in (validation._builtin_validator, validation._schema, validation._definitions):
        cached.cache_clear()
    loads = []
    real_load = json.load
    monkeypatch.setattr(json, "load", lambda f, **kw: loads.append(f.name) or real_load(f, **kw))
    services = [(path, obj) for path, obj in rendered["dev"].items() if obj["kind"] == "Service"]
    assert len(services) > 1
    assert not validate(services[:1], versions=("1.30.0",))
    assert sorted(Path(name).name for name in loads) == ["_definitions.json", "service-v1.json"]
    loads.clear()
    assert not validate(services, versions=("1.30.0",))
    assert loads == []
