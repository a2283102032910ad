"""Strict schema validation of rendered objects against the supported Kubernetes versions.

kubeconform is used when it is on PATH; otherwise the strict schemas that ``kubernetes-validate``
ships are used in-process, exactly as ``kubernetes_validate.validate`` uses them (same schema files, same
$ref resolution, same first error), but with each schema read once, one validator per Kubernetes version
and kind, and each object's verdict kept for the process. Either way the schemas are local files: nothing is
fetched. Custom resources (Argo CD, Argo Rollouts, Flux, External Secrets, cert-manager) are checked against
their published CRDs (vendored in ``floe/crds/``) with :func:`validate_custom_resources`.
"""

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import referencing
import yaml
from kubernetes_validate import utils as kubernetes_validate_utils

from floe.rendered import Json, JsonView

KUBERNETES_VERSIONS = ("1.30.0", "1.35.0")
"""Oldest and newest supported Kubernetes versions; every object must be valid on both."""
CUSTOM_API_GROUPS = ("argoproj.io/", "kustomize.toolkit.fluxcd.io/", "source.toolkit.fluxcd.io/",
                     "external-secrets.io/", "cert-manager.io/")


@dataclass(frozen=True)
class Problem:
    path: str
    version: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.version}: {self.message}"


def is_custom_resource(obj: JsonView) -> bool:
    api_version: str = obj.get("apiVersion", "")
    return api_version.startswith(CUSTOM_API_GROUPS)


def schema_dir() -> Path:
    return Path(str(resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")))


def validate(objects: Iterable[tuple[str, Json]], versions: Iterable[str] = KUBERNETES_VERSIONS) -> list[Problem]:
    """Every problem of every built-in object, for every version; ``objects`` are (path, object) pairs."""
    built_in = [(path, obj) for path, obj in objects if not is_custom_resource(obj)]
    if shutil.which("kubeconform"):
        return [p for v in versions for p in _kubeconform(built_in, v)]
    return [p for v in versions for p in _embedded(built_in, v)]


def _embedded(objects: list[tuple[str, Json]], version: str) -> list[Problem]:
    """As ``kubernetes_validate.validate(obj, version, strict=True)`` per object, with cached validators."""
    problems = []
    for path, obj in objects:
        try:
            _builtin_validator(version, obj["apiVersion"], obj["kind"])  # a kind the version lacks raises here
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(Problem(path, f"Kubernetes {version}", error.message))
            continue
        first = _first_problem(version, json.dumps(obj))
        if first is not None:
            problems.append(Problem(path, f"Kubernetes {version}", first))
    return problems


@functools.lru_cache(maxsize=8192)
def _first_problem(version: str, text: str) -> str | None:
    """The first problem on ``version`` of the object ``text`` holds (JSON), as kubernetes_validate reports it (it
    raises the first error the validator finds). Checked once: a process that validates the same objects again
    (the tests, one command after another on the same render) does not walk them again."""
    obj = json.loads(text)
    invalid = next(_builtin_validator(version, obj["apiVersion"], obj["kind"]).iter_errors(obj), None)
    if invalid is None:
        return None
    return f"{'.'.join(str(p) for p in invalid.path) or '(object)'}: {invalid.message}"


@functools.cache
def _strict_schema_dir(version: str) -> str:
    """The strict schema folder kubernetes_validate picks for ``version``: the newest shipped not newer."""
    desired = version.removeprefix("v")
    minor = kubernetes_validate_utils.major_minor(desired)
    if minor > kubernetes_validate_utils.latest_version():
        raise kubernetes_validate_utils.VersionNotSupportedError(version=minor)
    shipped = [v for v in kubernetes_validate_utils.all_versions()
               if kubernetes_validate_utils.major_minor(v) <= minor][-1]
    return f"v{shipped}-local-strict"


@functools.cache
def _schema(version: str, filename: str) -> Json:
    """One schema file of ``version``'s strict folder, read once per process."""
    schema: Json = kubernetes_validate_utils.schema_contents(
        f"kubernetes-json-schema/{_strict_schema_dir(version)}/{filename}", version.removeprefix("v"))
    return schema


@functools.cache
def _definitions(version: str) -> referencing.Registry:
    """The shared ``_definitions.json`` every kind's schema refers to, as a registry, crawled once."""
    return (referencing.Resource.from_contents(_schema(version, "_definitions.json")) @ referencing.Registry()).crawl()


@functools.cache
def _builtin_validator(version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    """kubernetes_validate's strict validator for one kind, built once: its schema file, its $ref resolution
    (the kind's schema and the shared definitions in one registry) and its draft (2020-12)."""
    # As kubernetes_validate names the file: rbac.authorization.k8s.io/v1 -> rbac-v1.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = _schema(version, f"{kind.lower()}-{group_version}.json")
    except FileNotFoundError:
        raise kubernetes_validate.SchemaNotFoundError(
            version=kubernetes_validate_utils.major_minor(version.removeprefix("v")), kind=kind,
            api_version=api_version) from None
    registry = referencing.Resource.from_contents(schema) @ _definitions(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _kubeconform(objects: list[tuple[str, Json]], version: str) -> list[Problem]:
    location = f"{schema_dir()}/{{{{ .NormalizedKubernetesVersion }}}}-local{{{{ .StrictSuffix }}}}/" \
               "{{ .ResourceKind }}{{ .KindSuffix }}.json"
    stream = "".join(f"---\n{json.dumps(obj)}\n" for _, obj in objects)
    result = subprocess.run(
        ["kubeconform", "-strict", "-output", "json", "-kubernetes-version", version,
         "-schema-location", location, "-"],
        input=stream, capture_output=True, text=True, check=False,
    )
    report = json.loads(result.stdout or "{}")
    # kubeconform names a resource by kind and name (its JSON report carries no namespace).
    names = {(obj["kind"], obj["metadata"]["name"]): path for path, obj in objects}
    problems = []
    for resource in report.get("resources", []):
        if resource.get("status") in {"statusInvalid", "statusError"}:
            key = (resource.get("kind"), resource.get("name"))
            problems.append(Problem(names.get(key, resource.get("filename", "-")), f"Kubernetes {version}",
                                    resource.get("msg", "")))
    if result.returncode not in (0, 1) and not problems:
        problems.append(Problem("-", f"Kubernetes {version}", f"kubeconform failed: {result.stderr.strip()}"))
    return problems


CRDS_DIR = Path(__file__).resolve().parent / "crds"
"""The published CRDs of the custom resources the platform renders, vendored with their provenance."""


def _strict(schema: Json) -> Json:
    """The schema with unknown fields rejected wherever the CRD does not explicitly keep them."""
    if not isinstance(schema, dict):
        return schema
    # `properties` maps field names to schemas: each made strict once (as a schema itself, then each field
    # again, the walk would double with every level of depth).
    strict = {key: {name: _strict(sub) for name, sub in value.items()} if key == "properties" else
              _strict(value) if isinstance(value, dict) else
              [_strict(v) for v in value] if isinstance(value, list) else value
              for key, value in schema.items()}
    if ("properties" in strict and "additionalProperties" not in strict
            and not strict.get("x-kubernetes-preserve-unknown-fields")):
        strict["additionalProperties"] = False
    return strict


@functools.cache
def crd_schemas(directory: Path = CRDS_DIR) -> dict[tuple[str, str], Json]:
    """(apiVersion, kind) → strict JSON schema, from every CRD file in ``directory``."""
    schemas = {}
    for path in sorted(directory.glob("*.yaml")):
        # libyaml's loader: the pure-Python one takes seconds over these large files.
        for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = _strict(version["schema"]["openAPIV3Schema"])
                # metadata is validated by the API server itself, not by the CRD's schema.
                schema["properties"]["metadata"] = {"type": "object"}
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


@functools.cache
def _crd_validator(directory: Path, api_version: str, kind: str) -> jsonschema.Draft7Validator | None:
    """One validator per kind: building it costs far more than using it."""
    schema = crd_schemas(directory).get((api_version, kind))
    return jsonschema.Draft7Validator(schema) if schema else None


def validate_custom_resources(objects: Iterable[tuple[str, Json]], directory: Path = CRDS_DIR) -> list[Problem]:
    """Every problem of every custom resource against its published CRD, unknown fields rejected."""
    return [Problem(path, "CRD", problem) for path, obj in objects if is_custom_resource(obj)
            for problem in _crd_problems(directory, json.dumps(obj))]


@functools.lru_cache(maxsize=2048)
def _crd_problems(directory: Path, text: str) -> tuple[str, ...]:
    """Every problem of the custom resource ``text`` holds (JSON) against its CRD in ``directory``, found once
    (see :func:`_first_problem`)."""
    obj = json.loads(text)
    validator = _crd_validator(directory, obj["apiVersion"], obj["kind"])
    if validator is None:
        return (f"no CRD in {directory} defines {obj['apiVersion']} {obj['kind']}",)
    return tuple(f"{'.'.join(str(p) for p in error.absolute_path) or '(object)'}: {error.message}"
                 for error in validator.iter_errors(obj))
