"""Strict schema validation of rendered objects against the supported Kubernetes versions.

kubeconform is used when it is on PATH; otherwise the strict schemas that ``kubernetes-validate``
ships are used in-process. Either way the schemas are local files: nothing is fetched. Custom
resources (Argo CD, Argo Rollouts, Flux, External Secrets) are checked against their CRDs elsewhere.
"""

import json
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import kubernetes_validate

KUBERNETES_VERSIONS = ("1.30.0", "1.35.0")
"""Oldest and newest supported Kubernetes versions; every object must be valid on both."""
CUSTOM_API_GROUPS = ("argoproj.io/", "kustomize.toolkit.fluxcd.io/", "source.toolkit.fluxcd.io/",
                     "external-secrets.io/")


@dataclass(frozen=True)
class Problem:
    path: str
    version: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: Kubernetes {self.version}: {self.message}"


def is_custom_resource(obj: dict) -> bool:
    return obj.get("apiVersion", "").startswith(CUSTOM_API_GROUPS)


def schema_dir() -> Path:
    return Path(str(resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")))


def validate(objects: Iterable[tuple[str, dict]], versions: Iterable[str] = KUBERNETES_VERSIONS) -> list[Problem]:
    """Every problem of every built-in object, for every version; ``objects`` are (path, object) pairs."""
    built_in = [(path, obj) for path, obj in objects if not is_custom_resource(obj)]
    if shutil.which("kubeconform"):
        return [p for v in versions for p in _kubeconform(built_in, v)]
    return [p for v in versions for p in _embedded(built_in, v)]


def _embedded(objects: list[tuple[str, dict]], version: str) -> list[Problem]:
    problems = []
    for path, obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path) or "(object)"
            problems.append(Problem(path, version, f"{where}: {error.message}"))
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(Problem(path, version, error.message))
    return problems


def _kubeconform(objects: list[tuple[str, dict]], version: str) -> list[Problem]:
    location = f"{schema_dir()}/{{{{ .NormalizedKubernetesVersion }}}}-local{{{{ .StrictSuffix }}}}/" \
               "{{ .ResourceKind }}{{ .KindSuffix }}.json"
    stream = "".join(f"---\n{json.dumps(obj)}\n" for _, obj in objects)
    result = subprocess.run(
        ["kubeconform", "-strict", "-output", "json", "-kubernetes-version", version,
         "-schema-location", location, "-"],
        input=stream, capture_output=True, text=True, check=False,
    )
    report = json.loads(result.stdout or "{}")
    names = {(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")): path for path, obj in objects}
    problems = []
    for resource in report.get("resources", []):
        if resource.get("status") in {"statusInvalid", "statusError"}:
            key = (resource.get("kind"), resource.get("name"), resource.get("namespace") or None)
            problems.append(Problem(names.get(key, resource.get("filename", "-")), version, resource.get("msg", "")))
    if result.returncode not in (0, 1) and not problems:
        problems.append(Problem("-", version, f"kubeconform failed: {result.stderr.strip()}"))
    return problems
