"""The collector's logs pipeline: to the backend each environment names, `debug` only where asked.

Literal expectations over the rendered collector ConfigMap of every environment, a structural check
that every pipeline names only defined components (shown to catch a broken variant), the model's
refusals, and which workloads are told to export logs (only those running product code)."""

import copy
from pathlib import Path

import pytest
import yaml

from floe.components.dagster import INSTANCE_CONFIG_MAP, INSTANCE_FILE
from floe.components.otel_collector import collector_config
from floe.components.telemetry import COLLECTOR
from floe.config.loader import load_environment
from floe.errors import FloeError
from tests.conftest import containers, find
from tests.network import Pod, connects, pods

LOKI = "http://loki-gateway.monitoring.svc.cluster.local/otlp"
PIPELINE = {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"]}
LOGS_ENV = {"OTEL_LOGS_EXPORTER": "otlp", "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"}
KINDS = ("receivers", "processors", "exporters")


def collector_file(objects: dict) -> dict:
    return yaml.safe_load(find(objects, "ConfigMap", f"{COLLECTOR}-config")["data"]["config.yaml"])


def undefined_components(config: dict) -> list[str]:
    """Every component a pipeline (or the service) names that the config does not define."""
    missing = [f"extension {name}" for name in config["service"].get("extensions", [])
               if name not in config.get("extensions", {})]
    for signal, pipeline in config["service"]["pipelines"].items():
        for kind in KINDS:
            if not pipeline.get(kind) and kind != "processors":
                missing.append(f"{signal}: no {kind}")
            missing += [f"{signal}: {kind} {name}" for name in pipeline.get(kind, [])
                        if name not in config.get(kind, {})]
    return missing


def write_env(tmp_path: Path, collector: str) -> Path:
    path = tmp_path / "qa.yaml"
    path.write_text('platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.com/floe.git\n'
                    'network:\n  api_server:\n    cidrs: [192.0.2.10/32]\n'
                    'observability:\n  otel_collector:\n' + collector)
    return path


# --- the rendered environments ------------------------------------------------------------------


def test_dev_logs_go_to_debug_only(rendered) -> None:
    config = collector_file(rendered["dev"])
    assert config["service"]["pipelines"]["logs"] == {**PIPELINE, "exporters": ["debug"]}
    assert config["exporters"]["debug"] == {"verbosity": "basic"}


def test_staging_logs_go_to_loki_without_debug(rendered) -> None:
    config = collector_file(rendered["staging"])
    assert config["service"]["pipelines"]["logs"] == {**PIPELINE, "exporters": ["otlp_http/logs"]}
    assert config["exporters"]["otlp_http/logs"] == {"endpoint": LOKI}


def test_prod_logs_go_to_loki_and_nothing_goes_to_debug(rendered) -> None:
    config = collector_file(rendered["prod"])
    pipelines = config["service"]["pipelines"]
    assert pipelines["logs"] == {**PIPELINE, "exporters": ["otlp_http/logs"]}
    assert config["exporters"]["otlp_http/logs"] == {"endpoint": LOKI}
    assert "debug" not in config["exporters"]
    assert all("debug" not in pipeline["exporters"] for pipeline in pipelines.values())


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_pipeline_names_only_defined_components(rendered, name: str) -> None:
    config = collector_file(rendered[name])
    assert set(config["service"]["pipelines"]) == {"metrics", "traces", "logs"}
    assert undefined_components(config) == []
    # And nothing is defined that no pipeline uses (the collector ignores it; a reader would not).
    for kind in KINDS:
        used = {n for p in config["service"]["pipelines"].values() for n in p.get(kind, [])}
        assert set(config[kind]) == used, kind


def test_the_structural_check_catches_a_pipeline_naming_an_undefined_exporter(rendered) -> None:
    broken = copy.deepcopy(collector_file(rendered["prod"]))
    broken["service"]["pipelines"]["logs"]["exporters"] = ["otlp_http/loki"]
    assert undefined_components(broken) == ["logs: exporters otlp_http/loki"]
    del broken["processors"]["batch"]
    assert "traces: processors batch" in undefined_components(broken)
    broken["service"]["pipelines"]["traces"]["exporters"] = []
    assert "traces: no exporters" in undefined_components(broken)


def test_the_collector_reaches_its_backends_pods_on_their_own_ports(rendered, environments) -> None:
    """Platform egress is closed: prod's collector reaches Tempo's distributors (derived from
    ``tempo-distributor.tracing.svc...:4317``) and the Loki gateway's pods on 8080, as prod declares, not
    the gateway Service's port 80, which a NetworkPolicy never sees; nothing else outside the platform."""
    objects, settings = rendered["prod"], environments["prod"]
    policies = [o for o in objects.values() if o["kind"] == "NetworkPolicy"]
    (collector,) = [p for p in pods(objects.values(), settings.namespaces.jobs) if p.name == COLLECTOR]
    gateway = Pod("monitoring", {"app.kubernetes.io/component": "gateway"})
    assert connects(policies, collector, Pod("tracing", {}), 4317)
    assert connects(policies, collector, gateway, 8080)
    assert not connects(policies, collector, gateway, 80)
    assert not connects(policies, collector, Pod("monitoring", {}), 8080)
    assert not connects(policies, collector, Pod("tracing", {}), 4318)


# --- who is told to export logs --------------------------------------------------------------------


def env_values(container: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_only_workloads_running_product_code_are_told_to_export_logs(rendered) -> None:
    objects = rendered["prod"]
    told, not_told = [], []
    for obj in objects.values():
        if obj["kind"] not in {"Deployment", "StatefulSet", "Rollout", "Job", "CronJob"}:
            continue
        for container in containers(obj):
            variables = env_values(container)
            if "OTEL_EXPORTER_OTLP_ENDPOINT" not in variables:
                continue
            has = {k: variables.get(k) for k in LOGS_ENV if k in variables}
            (told if has else not_told).append(obj["metadata"]["name"])
            assert has in ({}, LOGS_ENV)
    assert sorted(told) == sorted(
        [f"dagster-code-{p}" for p in ("sales", "marketing")]
        + [f"{p}-{job}" for p in ("sales", "marketing")
           for job in ("dbt-run", "dbt-test", "dlt-ingest", "quality-check")]
    ), told
    for platform in ("polaris", "grafana", "dagster-webserver", "dagster-daemon", "cube", "cube-store-router"):
        assert any(name.startswith(platform) for name in not_told), platform
    assert not any(name.startswith(("polaris", "grafana", "cube", "dagster-webserver", "dagster-daemon"))
                   for name in told)


def test_the_runs_dagster_launches_are_told_to_export_logs(rendered) -> None:
    instance = yaml.safe_load(find(rendered["prod"], "ConfigMap", INSTANCE_CONFIG_MAP)["data"][INSTANCE_FILE])
    run_env = env_values(instance["run_launcher"]["config"]["run_k8s_config"]["container_config"])
    assert {k: run_env.get(k) for k in LOGS_ENV} == LOGS_ENV


# --- the model ---------------------------------------------------------------------------------------


def test_grpc_backend_with_headers_from_a_secret(tmp_path) -> None:
    path = write_env(tmp_path, "    debug: true\n    logs:\n      endpoint: otlp.vendor.example.com:443\n"
                               "      protocol: grpc\n      insecure: false\n      headers:\n"
                               "        api-key: {secret: vendor-logs, key: api-key}\n"
                               "      egress: [{cidr: 203.0.113.0/24}]\n")
    settings = load_environment(path).observability.otel_collector
    config = collector_config(settings)
    assert config["exporters"]["otlp_grpc/logs"] == {
        "endpoint": "otlp.vendor.example.com:443", "tls": {"insecure": False},
        "headers": {"api-key": "${env:FLOE_LOGS_HEADER_0}"}}
    assert config["service"]["pipelines"]["logs"]["exporters"] == ["otlp_grpc/logs", "debug"]
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["debug"]
    assert undefined_components(config) == []


def test_a_header_secret_reaches_the_collector_pod(tmp_path) -> None:
    from floe.synth import render

    path = write_env(tmp_path, f"    logs:\n      endpoint: {LOKI}\n      headers:\n"
                               "        X-Scope-OrgID: {secret: loki-tenant, key: tenant}\n")
    files = render(load_environment(path))
    (deployment,) = [yaml.safe_load(text) for name, text in files.items()
                     if name.endswith("deployment-otel-collector.yaml")]
    variables = {e["name"]: e for e in containers(deployment)[0]["env"]}
    assert variables["FLOE_LOGS_HEADER_0"]["valueFrom"]["secretKeyRef"] == {"name": "loki-tenant", "key": "tenant"}


def test_without_debug_or_backends_nothing_is_refused(tmp_path) -> None:
    """The model's default: each signal with no backend is summarised by `debug`, never refused."""
    config = collector_config(load_environment(write_env(tmp_path, "    replicas: 1\n")).observability.otel_collector)
    assert config["service"]["pipelines"]["logs"]["exporters"] == ["debug"]


@pytest.mark.parametrize(("collector", "message"), [
    ("    debug: false\n    traces_endpoint: tempo:4317\n", "logs must name a backend"),
    (f"    debug: false\n    logs:\n      endpoint: {LOKI}\n", "traces_endpoint must name a backend"),
    ("    logs:\n      endpoint: loki:3100\n", "not an OTLP/HTTP base URL"),
    (f"    logs:\n      endpoint: {LOKI}/v1/logs\n", "without /v1/logs"),
    ("    logs:\n      endpoint: http://loki:3100\n      protocol: grpc\n", "is not host:port"),
    (f"    logs:\n      endpoint: {LOKI}\n      insecure: false\n", "insecure applies to gRPC only"),
    (f"    logs:\n      endpoint: {LOKI}\n      exporter: loki\n", "exporter"),
])
def test_a_logs_backend_that_cannot_work_is_refused(tmp_path, collector: str, message: str) -> None:
    with pytest.raises(FloeError, match=message):
        load_environment(write_env(tmp_path, collector))


# --- the collector's own validation, where a binary is at hand ---------------------------------------
