"""What Prometheus scrapes is what the alerts and dashboards read, and the NetworkPolicies let every scrape through.

The metric names of every alert rule and dashboard query are read with a PromQL parser (promql-parser) and
must be exported by a rendered scrape target (its exporter's list in ``floe/observability/metrics.py``, or the
series Prometheus adds per target), by the target of the job a selector names if it names one. Every target in
the platform namespace is resolved through the rendered Service to its pods and port, and the rendered
NetworkPolicies are evaluated for Prometheus' pods on that port.
"""

import copy
import json
import re

import promql_parser
import pytest
import yaml

from floe.components.prometheus import scrape_targets
from floe.registry import COMPONENTS
from tests.conftest import ENVIRONMENT_NAMES, find
from tests.network import Pod, connects, pods

SERVICE_DOMAIN = re.compile(r"^(?P<service>[a-z0-9-]+)\.(?P<namespace>[a-z0-9-]+)\.svc\.cluster\.local$")


def selectors(expr: str) -> list[tuple[str | None, list[tuple[str, str, str]]]]:
    """(metric name, [(label, operator, value)]) of every vector selector in a PromQL expression."""
    found = []

    def visit(node) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = [(m.name, str(m.op).rsplit(".", 1)[-1], m.value) for m in node.matchers.matchers]
            found.append((node.name, matchers))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def unknown_metrics(expr: str, exported: dict[str, frozenset[str]]) -> list[str]:
    """The selectors of ``expr`` no scrape job exports (job → its metric names)."""
    missing = []
    for name, matchers in selectors(expr):
        jobs = [value for label, op, value in matchers if label == "job" and op == "Equal"] or list(exported)
        known = frozenset().union(*(exported.get(job, frozenset()) for job in jobs))
        patterns = [value for label, op, value in matchers if label == "__name__" and op == "Re"]
        if name is not None:
            ok = name in known
        else:
            ok = bool(patterns) and all(any(re.fullmatch(p, metric) for metric in known) for p in patterns)
        if not ok:
            missing.append(name or f"__name__=~{patterns}")
    return missing


def queries(objects: dict) -> dict[str, str]:
    """Every PromQL expression Prometheus and Grafana evaluate: where → expression."""
    config = find(objects, "ConfigMap", "prometheus-config")["data"]
    found = {f"alert {rule['alert']}": rule["expr"]
             for group in yaml.safe_load(config["alerts.yml"])["groups"] for rule in group["rules"]}
    for config_map in (o for o in objects.values() if o["kind"] == "ConfigMap"
                       and o["metadata"]["name"].startswith("grafana-dashboards-")):
        for file, text in config_map["data"].items():
            board = json.loads(text)
            for panel in board["panels"]:
                for target in panel.get("targets", []):
                    found[f"{file}: {panel['title']} {target['refId']}"] = target["expr"]
    return found


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_every_alert_and_panel_reads_metrics_a_scrape_target_exports(env, rendered, environments) -> None:
    exported = {t.job: t.exported for t in scrape_targets(environments[env])}
    config = yaml.safe_load(find(rendered[env], "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    assert set(exported) == {job["job_name"] for job in config["scrape_configs"]}
    found = queries(rendered[env])
    assert len([q for q in found if q.startswith("alert ")]) == 14
    assert len(found) == 14 + 44  # the alerts and every panel target of the five dashboards
    assert {where: unknown_metrics(expr, exported) for where, expr in found.items()
            if unknown_metrics(expr, exported)} == {}


def test_a_query_naming_an_unknown_metric_fails(environments) -> None:
    exported = {t.job: t.exported for t in scrape_targets(environments["dev"])}
    assert unknown_metrics('up{job="minio"} == 0', exported) == []
    assert unknown_metrics("kube_deployment_status_replicas_available", exported) == [
        "kube_deployment_status_replicas_available"]
    # A metric exported by another job than the one the selector names.
    assert unknown_metrics('pg_up{job="minio"}', exported) == ["pg_up"]
    assert unknown_metrics('rate({__name__=~"otelcol_exporter_sent_(spans|bytes)_total"}[5m])', exported) == []
    assert unknown_metrics('rate({__name__=~"otelcol_exporter_dropped_.*"}[5m])', exported) == [
        "__name__=~['otelcol_exporter_dropped_.*']"]


def test_without_the_kubelets_the_volume_alerts_read_nothing(environments) -> None:
    """An environment that names no kubelet source leaves the volume alerts and usage panels without data."""
    settings = environments["dev"]
    prometheus = settings.observability.prometheus
    bare = settings.model_copy(update={"observability": settings.observability.model_copy(update={
        "prometheus": prometheus.model_copy(update={
            "cluster_metrics": prometheus.cluster_metrics.model_copy(update={"kubelet": None})})})})
    exported = {t.job: t.exported for t in scrape_targets(bare)}
    assert "kubelet" not in exported
    assert unknown_metrics("kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes",
                           exported) == ["kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes"]


def blocked(objects: dict, env_settings) -> list[str]:
    """The scrape targets the rendered NetworkPolicies keep Prometheus from, Prometheus' egress and the
    target's ingress both (tests/network.py). A target in another namespace is tried at that namespace's
    pods on its port: the platform's egress must let Prometheus out, the cluster's own policies let it in."""
    platform = env_settings.namespaces.platform
    everyone = pods(objects.values(), env_settings.namespaces.jobs)
    (prometheus,) = [p for p in everyone if p.name == "prometheus"]
    policies = [o for o in objects.values() if o["kind"] == "NetworkPolicy"]
    result = []
    for target in scrape_targets(env_settings):
        if target.host == "localhost":
            continue
        match = SERVICE_DOMAIN.match(target.host)
        assert match, target
        if match["namespace"] != platform:
            assert target.reaches is None, target
            tries = [(Pod(match["namespace"], {}), target.port)]
        else:
            service = find(objects, "Service", match["service"])
            (port,) = [p for p in service["spec"]["ports"] if p["port"] == target.port]
            servers = [pod for pod in everyone if pod.namespace == platform
                       and service["spec"]["selector"].items() <= pod.labels.items()]
            assert servers, f"{target.address}: no pods behind the Service"
            tries = [(server, server.ports.get(port["targetPort"], port["targetPort"])) for server in servers]
        if not any(connects(policies, prometheus, server, number) for server, number in tries):
            result.append(target.address)
    return result


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_the_network_policies_let_every_scrape_through(env, rendered, environments) -> None:
    assert blocked(rendered[env], environments[env]) == []


def test_a_policy_without_prometheus_blocks_its_target(rendered, environments) -> None:
    objects = copy.deepcopy(rendered["dev"])
    policy = find(objects, "NetworkPolicy", "allow-grafana")
    policy["spec"]["ingress"] = [rule for rule in policy["spec"]["ingress"]
                                 if not any(peer.get("podSelector", {}).get("matchLabels", {}).get(
                                     "app.kubernetes.io/name") == "prometheus" for peer in rule["from"])]
    assert blocked(objects, environments["dev"]) == ["grafana.floe-platform.svc.cluster.local:3000"]


def test_every_target_reaches_a_port_the_registry_declares_for_prometheus(environments) -> None:
    """A target's (component, port) is a dependency of Prometheus, or names Prometheus as a caller."""
    prometheus = {c.name: c for c in COMPONENTS}["prometheus"]
    declared = {(name, port) for name, ports in prometheus.dependencies.items() for port in ports or ()}
    declared |= {(c.name, port) for c in COMPONENTS for port in c.called_by.get("prometheus", ())}
    for settings in environments.values():
        reached = {t.reaches for t in scrape_targets(settings) if t.reaches}
        assert reached <= declared, reached - declared
    assert declared == {("otel-collector", "telemetry"), ("otel-collector", "prometheus"), ("minio", "api"),
                        ("polaris", "management"), ("postgres-dagster", "metrics"), ("postgres-polaris", "metrics"),
                        ("kube-state-metrics", "http-metrics"), ("grafana", "http")}


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_only_prometheus_reaches_a_database_exporter(env, rendered) -> None:
    """The databases' clients name the `postgres` port, so the exporter's port admits Prometheus alone."""
    objects = rendered[env]
    checked = 0
    for policy in (o for o in objects.values() if o["kind"] == "NetworkPolicy"
                   and o["metadata"]["name"] in ("allow-postgres-dagster", "allow-postgres-polaris")):
        for rule in policy["spec"]["ingress"]:
            if any(p["port"] == "metrics" for p in rule.get("ports", [])):
                assert rule == {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
                                "ports": [{"port": "metrics", "protocol": "TCP"}]}
                checked += 1
    assert checked == (1 if env == "prod" else 2)
