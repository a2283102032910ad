"""The platform's own policy checks over rendered objects and the files in git.

Images pinned, every long-lived container probed and bounded, the ``restricted`` Pod Security
Standard, and no credential anywhere: no Secret object, no literal value in an env var whose name
says it is a credential, no credential-looking text in any file under ``dist/`` or ``environments/``.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from floe.config.releases import Image
from floe.rendered import LONG_LIVED_KINDS, POD_KINDS, JsonView, pod_spec
from floe.validation import Problem

POLICY = "policy"
CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY", re.IGNORECASE)
CREDENTIAL_TEXT = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|glpat-[A-Za-z0-9_-]{20})\b"), "a Git hosting token"),
    (re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), "a JSON Web Token"),
    (re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:(?!\$)[^\s/@'\"]+@"), "a URL with a password in it"),
)
_image = TypeAdapter(Image)


def object_problems(objects: Iterable[tuple[str, JsonView]]) -> list[Problem]:
    problems = []
    for path, obj in objects:
        if obj.get("kind") == "Secret":
            problems.append(Problem(path, POLICY, "a Secret object must never be rendered into git: reference it "
                                                  "by name (secretKeyRef) or render an ExternalSecret"))
        elif obj.get("kind") in POD_KINDS and obj.get("spec"):
            problems += [Problem(path, POLICY, message) for message in pod_problems(obj)]
    return problems


def pod_problems(obj: JsonView) -> list[str]:
    spec = pod_spec(obj)
    pod_security = spec.get("securityContext") or {}
    found = [f"spec.{flag} is set: not allowed under the restricted Pod Security Standard"
             for flag in ("hostNetwork", "hostPID", "hostIPC") if spec.get(flag)]
    found += [f"volume {v['name']} is a hostPath: not allowed under the restricted Pod Security Standard"
              for v in spec.get("volumes") or [] if "hostPath" in v]
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    for container in containers:
        found += _container_problems(container, pod_security, probed=obj["kind"] in LONG_LIVED_KINDS
                                     and container in (spec.get("containers") or []))
    return found


def _container_problems(container: JsonView, pod_security: JsonView, probed: bool) -> list[str]:
    name, found = container["name"], []
    try:
        _image.validate_python(container.get("image", ""))
    except ValidationError:
        found.append(f"container {name}: image {container.get('image')!r} is not pinned "
                     "(registry/repository:tag with a fixed tag other than latest)")
    if probed:
        # Readiness only gates traffic: a container that serves no port (the Dagster daemon) needs none.
        expected = ("livenessProbe", "readinessProbe") if container.get("ports") else ("livenessProbe",)
        found += [f"container {name}: no {probe}" for probe in expected if probe not in container]
    resources = container.get("resources") or {}
    found += [f"container {name}: no {side} {resource}" for side in ("requests", "limits")
              for resource in ("cpu", "memory") if resource not in (resources.get(side) or {})]
    security = container.get("securityContext") or {}

    def setting(key: str) -> Any:
        return security.get(key, pod_security.get(key))

    if security.get("allowPrivilegeEscalation") is not False:
        found.append(f"container {name}: allowPrivilegeEscalation must be false")
    if security.get("privileged"):
        found.append(f"container {name}: privileged")
    if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
        found.append(f"container {name}: capabilities must drop ALL")
    added = set((security.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}
    if added:
        found.append(f"container {name}: adds capabilities {', '.join(sorted(added))}")
    if setting("runAsNonRoot") is not True:
        found.append(f"container {name}: runAsNonRoot must be true")
    if setting("runAsUser") == 0:
        found.append(f"container {name}: runs as root (runAsUser 0)")
    if ((setting("seccompProfile") or {}).get("type")) not in ("RuntimeDefault", "Localhost"):
        found.append(f"container {name}: seccompProfile must be RuntimeDefault or Localhost")
    for variable in container.get("env") or []:
        if CREDENTIAL_NAME.search(variable["name"]) and "value" in variable and variable["value"] != "":
            found.append(f"container {name}: env {variable['name']} holds a literal value; a credential must come "
                         "from a Secret (valueFrom.secretKeyRef)")
    return found


def file_problems(paths: Iterable[Path], root: Path) -> list[Problem]:
    """Credential-looking text in any of the files."""
    problems = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for pattern, what in CREDENTIAL_TEXT:
                if pattern.search(line):
                    shown = path.relative_to(root) if path.is_relative_to(root) else path
                    problems.append(Problem(f"{shown}:{number}", POLICY,
                                            f"looks like {what}: keep credentials in Secrets, never in git"))
    return problems
