"""The platform's policy checks over rendered objects and files (``floe.policy``), on objects made by hand:
what ``floe validate`` reports for each kind of breach."""

from pathlib import Path

from floe.policy import file_problems, object_problems, pod_problems
from floe.validation import Problem

SAFE = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
BOUNDED = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


def deployment(container: dict, **pod: object) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container], **pod}}}}


def good(**changes: object) -> dict:
    return {"name": "web", "image": "registry.example.com/web:1.2.3", "ports": [{"containerPort": 8080}],
            "livenessProbe": {}, "readinessProbe": {}, "resources": BOUNDED, "securityContext": SAFE, **changes}


def test_a_compliant_service_has_no_problem() -> None:
    assert pod_problems(deployment(good())) == []


def test_every_breach_of_a_container_is_named() -> None:
    bad = good(image="web:latest", readinessProbe=None, resources={"requests": {"cpu": "1"}},
               securityContext={"privileged": True, "runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}},
               env=[{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "API_TOKEN", "value": ""}])
    del bad["readinessProbe"]
    assert pod_problems(deployment(bad, hostNetwork=True, volumes=[{"name": "root", "hostPath": {"path": "/"}}])) == [
        "spec.hostNetwork is set: not allowed under the restricted Pod Security Standard",
        "volume root is a hostPath: not allowed under the restricted Pod Security Standard",
        "container web: image 'web:latest' is not pinned (registry/repository:tag with a fixed tag other than latest)",
        "container web: no readinessProbe",
        "container web: no requests memory",
        "container web: no limits cpu",
        "container web: no limits memory",
        "container web: allowPrivilegeEscalation must be false",
        "container web: privileged",
        "container web: capabilities must drop ALL",
        "container web: adds capabilities SYS_ADMIN",
        "container web: runs as root (runAsUser 0)",
        "container web: env DB_PASSWORD holds a literal value; a credential must come from a Secret "
        "(valueFrom.secretKeyRef)",
    ]


def test_a_job_needs_no_probe_and_a_server_without_ports_no_readiness() -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "run"},
           "spec": deployment(good(livenessProbe=None))["spec"]}
    del job["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    assert pod_problems(job) == []
    daemon = good()
    del daemon["ports"], daemon["readinessProbe"]
    assert pod_problems(deployment(daemon)) == []


def test_a_rendered_secret_is_refused_by_path() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    assert object_problems([("dist/dev/secret-s.yaml", secret), ("dist/dev/deployment-web.yaml",
                                                                   deployment(good()))]) == [
        Problem("dist/dev/secret-s.yaml", "policy", "a Secret object must never be rendered into git: reference it "
                                                    "by name (secretKeyRef) or render an ExternalSecret")]


def test_credential_looking_text_in_a_file_is_named_by_line(tmp_path: Path) -> None:
    (tmp_path / "dev.yaml").write_text("host: db\nurl: postgresql://floe:s3cret@db:5432/floe\n"
                                       "template: postgresql://floe:$(PASSWORD)@db/floe\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\xff\xfe")
    assert file_problems([tmp_path / "dev.yaml", tmp_path / "image.png"], tmp_path) == [
        Problem("dev.yaml:2", "policy", "looks like a URL with a password in it: keep credentials in Secrets, "
                                        "never in git")]
