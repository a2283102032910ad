"""Every declared path exists, and nothing else does: the rendered NetworkPolicies walked as Kubernetes
evaluates them (tests/network.py), source's egress and destination's ingress both.

For each environment, every dependency and caller of every component in floe/registry.py is tried
from each of its pods to each pod of the dependency serving the declared port (or to the addresses of
an external database), and so are the addresses the environment declares outside the platform, the
API server for the pods that mount a token, DNS and telemetry. Pairs with no declared dependency, the
internet and the cloud metadata endpoint must find no path.
"""

import copy
from collections.abc import Mapping
from ipaddress import ip_network

import pytest

from floe.components.telemetry import OTLP_GRPC_PORT, OTLP_HTTP_PORT
from floe.config.common import InCluster
from floe.config.loader import load_environment
from floe.constructs.labels import Layer
from floe.errors import FloeError
from floe.registry import COMPONENTS, Component, Dependency, on
from tests.conftest import ENVIRONMENT_NAMES, environment_error, find
from tests.network import Pod, connects, pods

BY_NAME = {c.name: c for c in COMPONENTS}


def _address(cidr: str) -> str:
    """The first address of a declared range."""
    return str(next(iter(ip_network(cidr).hosts()), ip_network(cidr).network_address))


def _namespace(settings, component: Component) -> str:
    return settings.namespaces.jobs if component.layer is Layer.PIPELINE_JOBS else settings.namespaces.platform


def _pods_of(everyone: list[Pod], settings, component: Component) -> list[Pod]:
    return [p for p in everyone if p.namespace == _namespace(settings, component)
            and component.pod_selector.items() <= p.labels.items()]


def _served(objects: Mapping, settings, target: list[Pod]) -> set[str | int]:
    """The target ports of the platform Services selecting these pods."""
    return {port["targetPort"] for o in objects.values() if o["kind"] == "Service"
            and o["metadata"]["namespace"] == settings.namespaces.platform
            for pod in target if o["spec"]["selector"].items() <= pod.labels.items()
            for port in o["spec"]["ports"]}


def walk(objects: Mapping, settings) -> tuple[set[tuple[str, str]], list[str]]:
    """(source, destination) of every declared path tried, and each (with its pods and port) that is blocked."""
    everyone = pods(objects.values(), settings.namespaces.jobs)
    policies = [o for o in objects.values() if o["kind"] == "NetworkPolicy"]
    tried: set[tuple[str, str]] = set()
    blocked: list[str] = []

    def attempt(component: str, sources: list[Pod], label: str, destination: Pod | str, port: int,
                protocol: str = "TCP") -> None:
        for source in sources:
            tried.add((component, label))
            if not connects(policies, source, destination, port, protocol):
                where = destination if isinstance(destination, str) else destination.name or destination.namespace
                blocked.append(f"{source.name} -> {label} ({where}:{port}/{protocol})")

    for component in COMPONENTS:
        sources = _pods_of(everyone, settings, component)
        if not sources:
            continue
        called = [(BY_NAME[name], ports, True) for name, ports in component.dependencies.items()]
        called += [(c, c.called_by[component.name], False) for c in COMPONENTS if component.name in c.called_by]
        for target, wanted, depends in called:
            servers = _pods_of(everyone, settings, target)
            if servers:
                names = set(wanted) if wanted is not None else _served(objects, settings, servers)
                for server in servers:
                    for name in names:
                        number = name if isinstance(name, int) else server.ports.get(name)
                        if number is not None:  # the Service sends that port to this pod
                            attempt(component.name, sources, target.name, server, number)
            elif depends and target.outside and (wanted is None or set(wanted) & set(target.outside_ports)):
                for egress in target.outside(settings):
                    for port in egress.ports:
                        attempt(component.name, sources, target.name, _address(egress.cidr), port)
        for endpoint in settings.endpoints:
            if endpoint.caller == component.name:
                for egress in endpoint.destinations(settings.network.cluster_domain):
                    destination = (Pod(egress.namespace, egress.pod_labels) if isinstance(egress, InCluster)
                                   else _address(egress.cidr))
                    for port in egress.ports:
                        attempt(component.name, sources, endpoint.url, destination, port)
    network = settings.network
    dns = Pod(network.dns_namespace, network.dns_pod_labels)
    collectors = _pods_of(everyone, settings, BY_NAME["otel-collector"])
    for pod in everyone:
        for protocol in ("UDP", "TCP"):
            attempt("every pod", [pod], "dns", dns, 53, protocol)
        for collector in collectors:
            for port in (OTLP_GRPC_PORT, OTLP_HTTP_PORT):
                attempt("every pod", [pod], "telemetry", collector, port)
    for pod in everyone:
        if pod.name in TOKEN_MOUNTED:
            for cidr in network.api_server.cidrs:
                attempt(pod.name, [pod], "api-server", _address(cidr), network.api_server.port)
    return tried, blocked


TOKEN_MOUNTED = {"dagster-daemon", "dagster-webserver", "kube-state-metrics"}
"""The workloads whose pods mount a service-account token: they call the API server."""

DEV_PATHS = {
    ("cube", "minio"), ("cube", "polaris"), ("dagster", "minio"), ("dagster", "polaris"),
    ("dagster", "postgres-dagster"), ("dagster-runs", "postgres-dagster"), ("grafana", "prometheus"),
    ("pipeline-jobs", "minio"), ("pipeline-jobs", "polaris"), ("polaris", "minio"), ("polaris", "postgres-polaris"),
    ("postgres-dagster-backup", "minio"), ("postgres-dagster-backup", "postgres-dagster"),
    ("postgres-dagster-roles", "postgres-dagster"), ("postgres-polaris-backup", "minio"),
    ("postgres-polaris-backup", "postgres-polaris"), ("postgres-polaris-roles", "postgres-polaris"),
    ("prometheus", "grafana"), ("prometheus", "kube-state-metrics"), ("prometheus", "minio"),
    ("prometheus", "otel-collector"), ("prometheus", "polaris"), ("prometheus", "postgres-dagster"),
    ("prometheus", "postgres-polaris"), ("prometheus", "prometheus-k8s.monitoring.svc.cluster.local:9090"),
    ("every pod", "dns"), ("every pod", "telemetry"),
    ("dagster-daemon", "api-server"), ("dagster-webserver", "api-server"), ("kube-state-metrics", "api-server"),
}
"""dev's declared paths, each tried: the registry's dependencies and callers, the kubelets' federation, DNS,
telemetry and the API server."""


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_declared_dependency_has_a_path(environment: str, rendered, environments) -> None:
    tried, blocked = walk(rendered[environment], environments[environment])
    assert blocked == []
    if environment == "dev":
        assert tried == DEV_PATHS


def test_prods_outside_addresses_are_walked(rendered, environments) -> None:
    """prod's external database, trace and log backends, issuer, mirror and cluster kube-state-metrics."""
    tried, _ = walk(rendered["prod"], environments["prod"])
    assert {(source, target) for source, target in tried if source in ("dagster", "dagster-runs")} >= {
        ("dagster", "postgres-dagster"), ("dagster-runs", "postgres-dagster")}
    assert {(s, t) for s, t in tried if ":" in t or "://" in t} == {
        ("otel-collector", "tempo-distributor.tracing.svc.cluster.local:4317"),
        ("otel-collector", "http://loki-gateway.monitoring.svc.cluster.local/otlp"),
        ("prometheus", "prometheus-k8s.monitoring.svc.cluster.local:9090"),
        ("prometheus", "kube-state-metrics.monitoring.svc.cluster.local:8080"),
        ("oauth2-proxy", "https://sso.floe.example.internal/realms/floe"),
        ("cube", "http://duckdb-extensions.floe.example.internal"),
    }


def test_the_token_mounting_pods_are_the_rendered_ones(rendered) -> None:
    mounted = {o["metadata"]["name"] for o in rendered["dev"].values() if o["kind"] in ("Deployment", "StatefulSet")
               and o["spec"]["template"]["spec"].get("automountServiceAccountToken")}
    assert mounted == TOKEN_MOUNTED


def test_a_closed_side_blocks_the_path(rendered, environments) -> None:
    """Both sides count: Cube's egress without Polaris, or Polaris' ingress without Cube, blocks the path."""
    for policy_name, key, peer_key, label in (("allow-cube", "egress", "to", "polaris"),
                                              ("allow-polaris", "ingress", "from", "semantic")):
        objects = copy.deepcopy(rendered["dev"])
        spec = find(objects, "NetworkPolicy", policy_name)["spec"]
        for rule in spec[key]:
            rule[peer_key] = [peer for peer in rule[peer_key]
                              if label not in (peer.get("podSelector", {}).get("matchLabels") or {}).values()]
        spec[key] = [rule for rule in spec[key] if rule[peer_key]]
        _, blocked = walk(objects, environments["dev"])
        assert sorted(blocked) == ["cube -> polaris (polaris:8181/TCP)",
                                   "cube-refresh-worker -> polaris (polaris:8181/TCP)",
                                   "cube-store-router -> polaris (polaris:8181/TCP)",
                                   "cube-store-worker -> polaris (polaris:8181/TCP)"], policy_name


def _pod(everyone: list[Pod], name: str) -> Pod:
    (pod,) = [p for p in everyone if p.name == name]
    return pod


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_pairs_without_a_dependency_have_no_path(environment: str, rendered, environments) -> None:
    settings, objects = environments[environment], rendered[environment]
    everyone = pods(objects.values(), settings.namespaces.jobs)
    policies = [o for o in objects.values() if o["kind"] == "NetworkPolicy"]
    database = settings.storage.postgres.dagster
    dagster_db = (_address(database.egress[0].cidr) if database.mode == "external"
                  else _pod(everyone, "postgres-dagster"))
    template = _pod(everyone, "sales-dbt-run")
    api = (_address(settings.network.api_server.cidrs[0]), settings.network.api_server.port)
    assert not connects(policies, _pod(everyone, "cube"), dagster_db, 5432)
    assert not connects(policies, _pod(everyone, "grafana"), _pod(everyone, "minio"), 9000)
    assert not connects(policies, template, dagster_db, 5432)
    assert not connects(policies, _pod(everyone, "dagster-code-sales"), *api)
    assert not connects(policies, _pod(everyone, "cube"), *api)
    assert not connects(policies, template, *api)
    # What they may reach, from the same pods, so the refusals above are no accident of the evaluator.
    assert connects(policies, _pod(everyone, "dagster-daemon"), *api)
    assert connects(policies, _pod(everyone, "dagster-run"), dagster_db, 5432)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_no_pod_reaches_the_internet_or_the_metadata_endpoint(environment: str, rendered, environments) -> None:
    settings, objects = environments[environment], rendered[environment]
    policies = [o for o in objects.values() if o["kind"] == "NetworkPolicy"]
    everyone = pods(objects.values(), settings.namespaces.jobs)
    assert {p.namespace for p in everyone} == {settings.namespaces.platform, settings.namespaces.jobs}
    for pod in everyone:
        assert not connects(policies, pod, "1.1.1.1", 443), pod.name
        assert not connects(policies, pod, "169.254.169.254", 80), pod.name


def test_without_the_default_deny_the_internet_is_reachable(rendered, environments) -> None:
    """The broken variant: the platform's egress left open (no policy selecting it for egress) lets Grafana out."""
    objects = {path: o for path, o in rendered["dev"].items() if not (
        o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == "floe-platform"
        and "Egress" in o["spec"]["policyTypes"])}
    policies = [o for o in objects.values() if o["kind"] == "NetworkPolicy"]
    grafana = _pod(pods(objects.values(), "floe-jobs"), "grafana")
    assert connects(policies, grafana, "1.1.1.1", 443)


# -- what an environment must declare ------------------------------------------------------------------------

MINIMAL = 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'


@pytest.mark.parametrize(("settings", "message"), [
    ("observability:\n  prometheus:\n    cluster_metrics:\n      kube_state_metrics:\n"
     "        address: ksm.example.org:8080\n",
     "qa.yaml:7: observability.prometheus.cluster_metrics.kube_state_metrics.egress: must say where "
     "ksm.example.org:8080 is: it is not a Service of the cluster (<service>.<namespace>.svc.cluster.local) and "
     "platform egress is closed by default; list its addresses ({cidr, ports}) or pods ({namespace, pod_labels, "
     "ports})"),
    ("observability:\n  otel_collector:\n    traces_endpoint: tempo.example.org:4317\n",
     "qa.yaml:5: observability.otel_collector.traces_egress: must say where tempo.example.org:4317 is"),
    ("semantic:\n  duckdb_extensions:\n    repository: http://mirror.example.org\n",
     "qa.yaml:5: semantic.duckdb_extensions.egress: must say where http://mirror.example.org is"),
])
def test_an_address_outside_the_cluster_needs_its_egress(tmp_path, settings: str, message: str) -> None:
    assert environment_error(tmp_path, MINIMAL + settings).startswith(message)


def test_a_service_of_the_cluster_is_reached_in_its_namespace_on_its_port(tmp_path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(MINIMAL + "observability:\n  prometheus:\n    cluster_metrics:\n      kubelet:\n"
                              "        federate: prom.monitoring.svc.cluster.local:9090\n")
    (endpoint,) = load_environment(path).endpoints
    assert (endpoint.caller, endpoint.destinations("cluster.local")) == (
        "prometheus", (InCluster(namespace="monitoring", ports=(9090,)),))


def test_a_render_without_the_api_server_is_refused(tmp_path) -> None:
    from floe.synth import render

    path = tmp_path / "qa.yaml"
    path.write_text(MINIMAL)
    with pytest.raises(FloeError) as error:
        render(load_environment(path))
    assert str(error.value) == (
        "environments/qa.yaml: network.api_server is required: dagster-daemon, dagster-webserver, kube-state-metrics "
        "call the Kubernetes API and platform egress is closed by default; declare the API server's endpoint "
        "addresses and port (kubectl get endpoints kubernetes -n default), e.g. network: {api_server: {cidrs: "
        "[10.0.0.10/32], port: 6443}}")


def test_a_dependency_is_a_typed_value() -> None:
    with pytest.raises(TypeError, match="'minio:api' is not a Dependency: write on"):
        Component("cube", COMPONENTS[0].tier, COMPONENTS[0].render, depends_on=("minio:api",))
    assert str(on("otel-collector", "telemetry", "prometheus")) == "otel-collector:telemetry,prometheus"
    assert on("prometheus") == Dependency("prometheus", None)


def test_the_platform_denies_egress_and_names_the_api_server_by_its_endpoint(rendered) -> None:
    objects = rendered["dev"]
    assert find(objects, "NetworkPolicy", "default-deny-egress")["spec"] == {
        "podSelector": {}, "policyTypes": ["Egress"], "egress": []}
    assert find(objects, "NetworkPolicy", "allow-api-server-dagster-daemon")["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": "dagster-daemon"}},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.40.0.10/32"}}], "ports": [{"port": 6443, "protocol": "TCP"}]}]}
    assert sorted(o["metadata"]["name"] for o in objects.values() if o["kind"] == "NetworkPolicy"
                  and o["metadata"]["name"].startswith("allow-api-server")) == [
        "allow-api-server-dagster-daemon", "allow-api-server-dagster-webserver", "allow-api-server-kube-state-metrics"]
