"""Each policy construct on its own: probes, resources, security, labels."""

import cdk8s
import pytest

from floe.config.resources import BUILTIN_PRESETS, ComputeAmounts, Resources
from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity, Layer, Owner
from floe.constructs.probes import LIVENESS, READINESS, Probe, Probes
from floe.constructs.resources import resource_requirements
from floe.constructs.security import RunAs, ScratchPath, container_security_context
from floe.tiers import STORAGE


def pod(container: dict | None = None, **spec) -> dict:
    """Render a one-container Pod the way cdk8s writes it into a manifest, and return its spec."""
    chart = cdk8s.Chart(cdk8s.App(), "c")
    k8s.KubePod(chart, "p", spec=k8s.PodSpec(containers=[k8s.Container(name="c", **(container or {}))], **spec))
    return chart.to_json()[0]["spec"]


def resolve(probe: Probe) -> dict:
    return pod({"liveness_probe": probe.to_k8s()})["containers"][0]["livenessProbe"]


def test_probe_timings_default_to_the_seed() -> None:
    assert (LIVENESS.initial_delay_seconds, LIVENESS.period_seconds) == (30, 10)
    assert (READINESS.initial_delay_seconds, READINESS.period_seconds) == (5, 5)


def test_http_probes_use_the_components_own_endpoint() -> None:
    probes = Probes.http("api", "/minio/health/live", "/minio/health/ready")
    live, ready = resolve(probes.liveness), resolve(probes.readiness)
    assert live["httpGet"] == {"path": "/minio/health/live", "port": "api"}
    assert (live["initialDelaySeconds"], live["periodSeconds"]) == (30, 10)
    assert ready["httpGet"] == {"path": "/minio/health/ready", "port": "api"}
    assert (ready["initialDelaySeconds"], ready["periodSeconds"]) == (5, 5)
    assert probes.startup is None


def test_exec_and_tcp_probes() -> None:
    exec_probe = resolve(Probe.from_exec(["pg_isready"]))
    assert exec_probe["exec"] == {"command": ["pg_isready"]}
    tcp = Probe.from_tcp_socket(5432)
    assert resolve(tcp)["tcpSocket"] == {"port": 5432}
    assert tcp.port == 5432


def test_startup_probe_allows_slow_starts_before_liveness() -> None:
    probes = Probes.exec(["true"], startup=True)
    startup = resolve(probes.startup)
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 300


def test_service_and_job_presets_are_the_seeds() -> None:
    service, burst = BUILTIN_PRESETS["service"], BUILTIN_PRESETS["job-burst"]
    assert (service.requests.cpu, service.requests.memory, service.limits.cpu, service.limits.memory) == (
        "500m", "512Mi", "1000m", "1Gi")
    assert (burst.requests.cpu, burst.requests.memory, burst.limits.cpu, burst.limits.memory) == (
        "1000m", "2Gi", "4000m", "8Gi")


def test_resource_requirements_render_quantities() -> None:
    rendered = pod({"resources": resource_requirements(BUILTIN_PRESETS["service"])})["containers"][0]["resources"]
    assert rendered == {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}}


def test_memory_request_above_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="the memory request 2Gi exceeds its limit 1Gi"):
        Resources(requests=ComputeAmounts(cpu="1", memory="2Gi"), limits=ComputeAmounts(cpu="1", memory="1Gi"))


def test_container_security_is_restricted_with_read_only_root() -> None:
    context = pod({"security_context": container_security_context()})["containers"][0]["securityContext"]
    assert context == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_pod_security_uses_the_components_own_ids() -> None:
    context = pod(security_context=RunAs(user=999, group=999, fs_group=999).pod_security_context())["securityContext"]
    assert context["runAsUser"] == 999 and context["runAsGroup"] == 999 and context["fsGroup"] == 999
    assert context["runAsNonRoot"] is True
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_scratch_paths_become_named_empty_dirs() -> None:
    run = ScratchPath("/var/run/postgresql")
    assert run.volume_name == "scratch-var-run-postgresql"
    assert pod({"volume_mounts": [run.mount()]})["containers"][0]["volumeMounts"] == [
        {"name": "scratch-var-run-postgresql", "mountPath": "/var/run/postgresql"}]
    shm = pod(volumes=[ScratchPath("/dev/shm", in_memory=True, size_limit="256Mi").volume()])["volumes"][0]
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "256Mi"}


def test_labels_carry_layer_tier_and_owner_and_selectors_stay_stable() -> None:
    identity = AppIdentity(name="minio", instance="minio", component="object-store", version="RELEASE.x",
                           tier=STORAGE)
    assert identity.labels["floe.dev/layer"] == "platform-services"
    assert identity.labels["floe.dev/tier"] == "storage"
    assert identity.labels["floe.dev/owner"] == "platform-team"
    assert identity.labels["app.kubernetes.io/part-of"] == "floe"
    assert identity.selector == {"app.kubernetes.io/name": "minio", "app.kubernetes.io/instance": "minio"}
    job = AppIdentity(name="dbt", instance="dbt-run", component="job", version="1", tier=STORAGE,
                      layer=Layer.PIPELINE_JOBS, owner=Owner.DATA_TEAM)
    assert (job.labels["floe.dev/layer"], job.labels["floe.dev/owner"]) == ("pipeline-jobs", "data-team")
