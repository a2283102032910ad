"""Properties every rendered workload must have, whatever the component (issue: Layer 3)."""

import pytest

from floe.registry import COMPONENTS
from floe.tiers import SYNC_WAVE
from tests.conftest import ENVIRONMENT_NAMES

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Rollout", "Job", "CronJob"}
API_CLIENTS = {"dagster-webserver", "dagster-daemon", "kube-state-metrics"}
"""The only workloads whose pods get a service account token (kube-state-metrics lists and watches)."""


def workloads(objects: dict[str, dict]) -> list[dict]:
    return [o for o in objects.values() if o["kind"] in WORKLOAD_KINDS]


def pod_template(obj: dict) -> dict:
    spec = obj["spec"]
    return spec["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else spec["template"]


def all_containers(obj: dict) -> list[dict]:
    spec = pod_template(obj)["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def wave(obj: dict) -> int:
    return int(obj["metadata"]["annotations"][SYNC_WAVE])


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_probe_targets_a_declared_port(environment: str, rendered) -> None:
    for obj in workloads(rendered[environment]):
        for container in all_containers(obj):
            declared = {p["name"] for p in container.get("ports", [])} | {
                p["containerPort"] for p in container.get("ports", [])}
            for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                handler = container.get(kind, {})
                for action in ("httpGet", "tcpSocket", "grpc"):
                    if action in handler:
                        port = handler[action]["port"]
                        assert port in declared, f"{obj['metadata']['name']}/{container['name']} {kind} port {port}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_service_targets_a_declared_port_of_its_pods(environment: str, rendered) -> None:
    objects = rendered[environment]
    pods = [(pod_template(o)["metadata"]["labels"], all_containers(o)) for o in workloads(objects)]
    for service in (o for o in objects.values() if o["kind"] == "Service"):
        selector = service["spec"]["selector"]
        selected = [cs for labels, cs in pods if selector.items() <= labels.items()]
        assert selected, f"Service {service['metadata']['name']} selects no pod"
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert any(target in (p["name"], p["containerPort"]) for cs in selected for c in cs
                       for p in c.get("ports", [])), f"Service {service['metadata']['name']} port {target}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_volume_mount_has_its_volume(environment: str, rendered) -> None:
    for obj in workloads(rendered[environment]):
        spec = pod_template(obj)["spec"]
        volumes = {v["name"] for v in spec.get("volumes", [])}
        volumes |= {c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates", [])}
        for container in all_containers(obj):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{obj['metadata']['name']}: no volume {mount['name']}"


def _config_maps(objects: dict[str, dict]) -> dict[str, set[str]]:
    return {o["metadata"]["name"]: set(o.get("data", {})) for o in objects.values() if o["kind"] == "ConfigMap"}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_config_map_key_a_pod_reads_exists(environment: str, rendered) -> None:
    config_maps = _config_maps(rendered[environment])
    for obj in workloads(rendered[environment]):
        spec = pod_template(obj)["spec"]
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                name = volume["configMap"]["name"]
                assert name in config_maps, f"{obj['metadata']['name']}: ConfigMap {name} is not rendered"
                for item in volume["configMap"].get("items", []):
                    assert item["key"] in config_maps[name]
        for container in all_containers(obj):
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["key"] in config_maps.get(ref["name"], set()), f"{ref} is not rendered"


def _expected_secrets(environment) -> set[str]:
    """Secret names the environment names (fields ending in 'secret'), plus in-cluster defaults."""
    from floe.components.postgres import CONSUMERS, admin_secret, database_of, monitoring_secret
    from floe.config.storage import InClusterPostgres

    names: set[str] = {database_of(environment, consumer).credentials_secret for consumer in CONSUMERS}
    names |= {admin_secret(consumer, settings) for consumer in CONSUMERS
              if isinstance(settings := getattr(environment.storage.postgres, consumer), InClusterPostgres)}
    names |= {monitoring_secret(consumer) for consumer in CONSUMERS
              if isinstance(getattr(environment.storage.postgres, consumer), InClusterPostgres)}
    names |= {product.catalog_credentials_secret for product in environment.data_products}
    names |= {product.object_store_credentials_secret for product in environment.data_products}

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("secret") and isinstance(item, str):
                    names.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(environment.model_dump(mode="json"))
    return names


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_secrets_are_referenced_never_rendered_and_all_expected(environment: str, rendered, environments) -> None:
    objects = rendered[environment]
    assert not [o for o in objects.values() if o["kind"] == "Secret"], "a Secret object would put data in git"
    expected = _expected_secrets(environments[environment])
    # And the Secrets cert-manager writes for the rendered Certificates (the servers' own, test_tls.py).
    expected |= {o["spec"]["secretName"] for o in objects.values() if o["kind"] == "Certificate"}
    for obj in workloads(objects):
        spec = pod_template(obj)["spec"]
        referenced = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
        referenced |= {
            v["valueFrom"]["secretKeyRef"]["name"]
            for c in all_containers(obj) for v in c.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})
        }
        assert referenced <= expected, f"{obj['metadata']['name']} reads undeclared Secrets {referenced - expected}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_container_is_bounded_and_restricted(environment: str, rendered) -> None:
    for obj in workloads(rendered[environment]):
        spec = pod_template(obj)["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        # Only Dagster's webserver and daemon (run Jobs) and kube-state-metrics call the Kubernetes API.
        assert spec["automountServiceAccountToken"] is (obj["metadata"]["name"] in API_CLIENTS), obj["metadata"]["name"]
        for container in all_containers(obj):
            assert set(container["resources"]) == {"requests", "limits"}
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert ":" in container["image"] and not container["image"].endswith(":latest")


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_components_sync_no_earlier_than_their_dependencies(environment: str, rendered) -> None:
    """Each component's servers sync no earlier than the servers of everything it depends on."""
    servers = [o for o in workloads(rendered[environment]) if o["kind"] != "Job"]

    def waves(component) -> list[int]:
        selector = component.pod_selector.items()
        return [wave(o) for o in servers if selector <= pod_template(o)["metadata"]["labels"].items()]

    by_name = {c.name: c for c in COMPONENTS}
    checked = 0
    for component in COMPONENTS:
        for dependency in component.dependencies:
            own, theirs = waves(component), waves(by_name[dependency])
            if own and theirs:
                assert min(own) >= max(theirs), f"{component.name} syncs before {dependency}"
                checked += 1
    assert checked >= 8, "the dependency graph should connect most components"


SEED_SERVICES = {
    # ADR-0019's service table: component → the Kubernetes kind the seed gives it.
    ("Deployment", "dagster-webserver"), ("Deployment", "dagster-daemon"), ("Deployment", "polaris"),
    ("Deployment", "cube"), ("Deployment", "otel-collector"), ("StatefulSet", "prometheus"),
    ("Deployment", "grafana"), ("StatefulSet", "minio"),
}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_seed_service_is_present_with_its_kind(environment: str, rendered) -> None:
    objects = rendered[environment].values()
    # A blue-green service is a Rollout: a Deployment's pods, upgraded beside the running version.
    present = {("Deployment" if o["kind"] == "Rollout" else o["kind"], o["metadata"]["name"]) for o in objects}
    assert present >= SEED_SERVICES
    grafana = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana")
    claims = {v["persistentVolumeClaim"]["claimName"] for v in grafana["spec"]["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v}
    assert claims and all(("PersistentVolumeClaim", name) in present for name in claims)


def test_optional_components_can_be_left_out(environments) -> None:
    from floe.synth import render

    dev = environments["dev"]
    lean = dev.model_copy(update={
        "semantic": dev.semantic.model_copy(update={"enabled": False}),
        "observability": dev.observability.model_copy(update={
            "grafana": dev.observability.grafana.model_copy(update={"enabled": False})}),
    })
    files = render(lean)
    assert not [p for p in files if "/50-semantic/" in p or "grafana" in p]
    assert not [p for p in files if "networkpolicy-allow-cube" in p]
    assert any(p.endswith("statefulset-prometheus.yaml") for p in files)
