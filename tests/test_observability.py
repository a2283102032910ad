"""The observability tier in every environment: collector pipelines, Prometheus scraping, Grafana storage."""

import pytest
import yaml

from floe.components.otel_collector import HEALTH_PORT, go_memory_limit
from floe.components.prometheus import notices, scrape_targets
from floe.components.telemetry import COLLECTOR, OTLP_GRPC_PORT, OTLP_HTTP_PORT
from floe.config.loader import load_environment
from floe.config.observability import ClusterMetrics
from floe.config.resources import BUILTIN_PRESETS
from floe.config.types import quantity_value
from floe.errors import FloeError
from floe.tiers import SYNC_WAVE
from tests.changed_render import checksum_of
from tests.conftest import ENVIRONMENT_NAMES, containers, find, pod_spec

CHECKSUM = "floe.dev/config-checksum"


def config_file(objects: dict, config_map: str, key: str) -> dict:
    return yaml.safe_load(find(objects, "ConfigMap", config_map)["data"][key])


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def probes_of(container: dict) -> list[dict]:
    return [container[k] for k in ("livenessProbe", "readinessProbe", "startupProbe") if k in container]


def probe_port_number(container: dict, probe: dict) -> int:
    """The declared container port a probe targets; fails if the port is not declared."""
    port = probe["httpGet"]["port"]
    declared = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port in declared or port in declared.values(), f"probe port {port} not declared"
    return declared.get(port, port)


def wave(obj: dict) -> int:
    return int(obj["metadata"]["annotations"][SYNC_WAVE])


@pytest.fixture(params=ENVIRONMENT_NAMES)
def environment(request, rendered, environments):
    return request.param, rendered[request.param], environments[request.param]


def test_collector_pipelines_limit_memory_before_batching(environment) -> None:
    _, objects, _ = environment
    config = config_file(objects, "otel-collector-config", "config.yaml")
    assert config["receivers"]["otlp"]["protocols"] == {
        "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
        "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
    }
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"metrics", "traces", "logs"}
    for pipeline in pipelines.values():
        assert pipeline["processors"][:2] == ["memory_limiter", "batch"]
        assert set(pipeline["exporters"]) <= set(config["exporters"])
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    assert config["exporters"]["prometheus"]["endpoint"] == "0.0.0.0:8889"
    assert config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"] == {
        "host": "0.0.0.0", "port": 8888}


def test_collector_health_check_is_what_the_probes_ask(environment) -> None:
    _, objects, _ = environment
    config = config_file(objects, "otel-collector-config", "config.yaml")
    assert config["extensions"]["health_check"]["endpoint"] == f"0.0.0.0:{HEALTH_PORT}"
    assert config["service"]["extensions"] == ["health_check"]
    container = containers(find(objects, "Deployment", COLLECTOR))[0]
    assert container["args"] == ["--config=/conf/config.yaml"]
    for probe in probes_of(container):
        assert probe["httpGet"]["path"] == "/"
        assert probe_port_number(container, probe) == HEALTH_PORT


def test_collector_traces_go_to_the_configured_backend(environment) -> None:
    _, objects, settings = environment
    config = config_file(objects, "otel-collector-config", "config.yaml")
    endpoint = settings.observability.otel_collector.traces_endpoint
    (exporter,) = config["service"]["pipelines"]["traces"]["exporters"]
    if endpoint:
        assert exporter == "otlp_grpc/traces"
        assert config["exporters"][exporter]["endpoint"] == endpoint
    else:
        assert exporter == "debug"
        assert config["exporters"]["debug"] == {"verbosity": "basic"}


def test_collector_go_memory_limit_stays_below_the_container_limit(environment) -> None:
    _, objects, _ = environment
    container = containers(find(objects, "Deployment", COLLECTOR))[0]
    value = env_of(container)["GOMEMLIMIT"]["value"]
    assert value.endswith("MiB")
    limit = quantity_value(container["resources"]["limits"]["memory"])
    assert 0.7 * limit <= int(value.removesuffix("MiB")) * 2**20 < limit
    assert pod_spec(find(objects, "Deployment", COLLECTOR))["securityContext"]["runAsUser"] == 10001


def test_go_memory_limit_is_in_mebibytes() -> None:
    assert go_memory_limit(BUILTIN_PRESETS["service"]) == "819MiB"
    assert go_memory_limit(BUILTIN_PRESETS["small"]) == "204MiB"


def test_prometheus_keeps_its_samples_on_a_claimed_volume(environment) -> None:
    _, objects, settings = environment
    prometheus = settings.observability.prometheus
    statefulset = find(objects, "StatefulSet", "prometheus")
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == prometheus.storage.size
    container = containers(statefulset)[0]
    assert {"name": claim["metadata"]["name"], "mountPath": "/prometheus"} in container["volumeMounts"]
    assert f"--storage.tsdb.retention.time={prometheus.retention_time}" in container["args"]
    assert "--storage.tsdb.path=/prometheus" in container["args"]
    assert "--web.enable-lifecycle" in container["args"]
    context = pod_spec(statefulset)["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (65534, 65534, 65534)
    assert container["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    for probe in probes_of(container):
        assert probe_port_number(container, probe) == 9090


def addresses(job: dict) -> set[str]:
    static = {t for c in job.get("static_configs", []) for t in c["targets"]}
    dns = {f"{n}:{c['port']}" for c in job.get("dns_sd_configs", []) for n in c["names"]}
    return static | dns


def test_prometheus_scrapes_every_declared_target(environment) -> None:
    name, objects, settings = environment
    config = config_file(objects, "prometheus-config", "prometheus.yml")
    container = containers(find(objects, "StatefulSet", "prometheus"))[0]
    assert "--config.file=/etc/config/prometheus.yml" in container["args"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {t.job for t in scrape_targets(settings)}
    svc = "floe-platform.svc.cluster.local"
    expected = {
        "prometheus": ("/metrics", "localhost:9090"),
        "otel-collector": ("/metrics", f"otel-collector-headless.{svc}:8888"),
        "otlp-metrics": ("/metrics", f"otel-collector-headless.{svc}:8889"),
        "minio": ("/minio/v2/metrics/cluster", f"minio.{svc}:9000"),
        "polaris": ("/q/metrics", f"polaris-headless.{svc}:8182"),
        "postgres-polaris": ("/metrics", f"postgres-polaris.{svc}:9187"),
        "grafana": ("/metrics", f"grafana.{svc}:3000"),
        "kubelet": ("/federate", "prometheus-k8s.monitoring.svc.cluster.local:9090"),
    }
    # prod runs Dagster's database outside the cluster (no exporter) and names the cluster's kube-state-metrics.
    if name == "prod":
        expected["kube-state-metrics"] = ("/metrics", "kube-state-metrics.monitoring.svc.cluster.local:8080")
    else:
        expected["postgres-dagster"] = ("/metrics", f"postgres-dagster.{svc}:9187")
        expected["kube-state-metrics"] = ("/metrics", f"kube-state-metrics.{svc}:8080")
    assert set(jobs) == set(expected)
    for job, (path, address) in expected.items():
        assert jobs[job]["metrics_path"] == path
        assert addresses(jobs[job]) == {address}


def test_minio_metrics_need_the_bearer_token_prometheus_reads_from_its_secret(environment) -> None:
    _, objects, _ = environment
    minio = env_of(containers(find(objects, "StatefulSet", "minio"))[0])
    assert minio["MINIO_PROMETHEUS_AUTH_TYPE"]["value"] == "jwt"
    config = config_file(objects, "prometheus-config", "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "minio"]
    assert job["authorization"] == {"credentials_file": "/etc/prometheus/secrets/minio/token"}
    statefulset = find(objects, "StatefulSet", "prometheus")
    mounts = {m["mountPath"]: m for m in containers(statefulset)[0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(statefulset)["volumes"]}
    mount = mounts["/etc/prometheus/secrets/minio"]
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["secret"] == {"secretName": "minio-metrics-token",
                                                "items": [{"key": "token", "path": "token"}]}


def test_kubelet_series_are_federated_for_the_platform_namespaces_only(environment) -> None:
    _, objects, _ = environment
    config = config_file(objects, "prometheus-config", "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "kubelet"]
    assert job["honor_labels"] is True
    assert job["params"] == {"match[]": [
        '{__name__=~"container_cpu_usage_seconds_total|container_memory_working_set_bytes|'
        'kubelet_volume_stats_available_bytes|kubelet_volume_stats_capacity_bytes|kubelet_volume_stats_used_bytes", '
        'namespace=~"floe-platform|floe-jobs"}']}


def test_postgres_exporter_reads_its_own_server_with_the_monitoring_role(environment) -> None:
    name, objects, _ = environment
    consumers = ["polaris"] if name == "prod" else ["dagster", "polaris"]
    for consumer in consumers:
        statefulset = find(objects, "StatefulSet", f"postgres-{consumer}")
        exporter = {c["name"]: c for c in containers(statefulset)}["metrics"]
        assert exporter["image"] == "quay.io/prometheuscommunity/postgres-exporter:v0.20.1"
        variables = env_of(exporter)
        assert variables["DATA_SOURCE_URI"]["value"] == f"127.0.0.1:5432/{consumer}?sslmode=disable"
        secret = f"postgres-{consumer}-monitoring-credentials"
        assert variables["DATA_SOURCE_USER"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "username"}
        assert variables["DATA_SOURCE_PASS"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "password"}
        assert exporter["ports"] == [{"containerPort": 9187, "name": "metrics", "protocol": "TCP"}]
        service = find(objects, "Service", f"postgres-{consumer}")
        assert {"name": "metrics", "port": 9187, "targetPort": "metrics", "protocol": "TCP"} in service["spec"]["ports"]


def test_collector_headless_service_reaches_every_replica(environment) -> None:
    _, objects, _ = environment
    headless = find(objects, "Service", f"{COLLECTOR}-headless")
    collector = find(objects, "Deployment", COLLECTOR)
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == collector["spec"]["selector"]["matchLabels"]
    assert {8888, 8889} <= {p["port"] for p in headless["spec"]["ports"]}


def test_grafana_volume_syncs_with_its_deployment(environment) -> None:
    _, objects, settings = environment
    grafana = settings.observability.grafana
    deployment = find(objects, "Deployment", "grafana")
    claim = find(objects, "PersistentVolumeClaim", "grafana-data")
    assert wave(claim) == wave(deployment)
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == grafana.storage.size
    assert claim["spec"].get("storageClassName") == grafana.storage.storage_class
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in containers(deployment)[0]["volumeMounts"]}
    assert volumes[mounts["/var/lib/grafana"]]["persistentVolumeClaim"]["claimName"] == "grafana-data"
    assert {"/var/log/grafana", "/tmp"} <= set(mounts)
    context = pod_spec(deployment)["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (472, 472, 472)


def test_grafana_reads_prometheus_and_its_credentials(environment) -> None:
    _, objects, settings = environment
    namespace = settings.namespaces.platform
    deployment = find(objects, "Deployment", "grafana")
    container = containers(deployment)[0]
    variables = env_of(container)
    secret = settings.observability.grafana.admin_secret
    assert variables["GF_SECURITY_ADMIN_USER"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "admin-user"}
    assert variables["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": secret, "key": "admin-password"}
    assert variables["GF_TRACING_OPENTELEMETRY_OTLP_ADDRESS"]["value"] == (
        f"{COLLECTOR}.{namespace}.svc.cluster.local:{OTLP_GRPC_PORT}")
    source = config_file(objects, "grafana-datasources", "datasources.yaml")
    (datasource,) = source["datasources"]
    service = find(objects, "Service", "prometheus")
    port = {p["name"]: p["port"] for p in service["spec"]["ports"]}["http"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == f"http://prometheus.{namespace}.svc.cluster.local:{port}"
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    provisioning = mounts["/etc/grafana/provisioning/datasources"]
    assert provisioning["readOnly"] is True
    assert volumes[provisioning["name"]]["configMap"]["name"] == "grafana-datasources"
    for probe in probes_of(container):
        assert probe["httpGet"]["path"] == "/api/health"
        assert probe_port_number(container, probe) == 3000


def test_grafana_ingress_follows_the_environment(environment) -> None:
    _, objects, settings = environment
    ingress = settings.observability.grafana.ingress
    rendered = [o for o in objects.values() if o["kind"] == "Ingress" and o["metadata"]["name"] == "grafana"]
    if ingress is None:
        assert rendered == []
        return
    (obj,) = rendered
    assert obj["spec"]["rules"][0]["host"] == ingress.host
    scheme = "https" if ingress.tls_secret else "http"
    root_url = env_of(containers(find(objects, "Deployment", "grafana"))[0])["GF_SERVER_ROOT_URL"]["value"]
    assert root_url == f"{scheme}://{ingress.host}/"


@pytest.mark.parametrize(("kind", "name", "config_map", "change"), [
    ("Deployment", COLLECTOR, "otel-collector-config", "a trace backend"),
    ("StatefulSet", "prometheus", "prometheus-config", "a scrape interval"),
    ("Deployment", "grafana", "grafana-datasources", "the platform namespace"),
    # The pipeline jobs dashboard's queries name the jobs namespace; no other Grafana file does.
    ("Deployment", "grafana", "grafana-dashboards-pipeline-jobs", "the jobs namespace"),
])
def test_config_changes_roll_the_pods_and_configs_sync_first(environment, kind, name, config_map, change) -> None:
    _, objects, _ = environment
    assert wave(find(objects, "ConfigMap", config_map)) < wave(find(objects, kind, name))
    # A change to its config file rolls the pods; a change elsewhere leaves them.
    assert checksum_of(change, kind, name) != checksum_of("nothing", kind, name)
    assert checksum_of("catalog realm", kind, name) == checksum_of("nothing", kind, name)


def test_environments_size_the_tier_differently(environments) -> None:
    dev, prod = environments["dev"].observability, environments["prod"].observability
    assert dev.prometheus.retention_time != prod.prometheus.retention_time
    assert prod.otel_collector.autoscaling is not None
    assert prod.otel_collector.traces_endpoint is not None
    assert prod.grafana.ingress is not None and dev.grafana.ingress is None


@pytest.mark.parametrize("retention", ["15", "15days", "0d", "1d15w", ""])
def test_retention_must_be_a_prometheus_duration(tmp_path, retention) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(f'platform_version: "1.0.0"\nobservability:\n  prometheus:\n    retention_time: "{retention}"\n')
    with pytest.raises(FloeError, match="not a Prometheus duration"):
        load_environment(path)


def test_traces_endpoint_is_host_and_port_without_scheme(tmp_path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text('platform_version: "1.0.0"\nobservability:\n  otel_collector:\n'
                    '    traces_endpoint: "http://tempo:4317"\n')
    with pytest.raises(FloeError, match="is not host:port"):
        load_environment(path)


@pytest.mark.parametrize(("cluster_metrics", "message"), [
    ("kube_state_metrics: yes",
     "observability.prometheus.cluster_metrics.kube_state_metrics: true is not one of 'render'"),
    ('kube_state_metrics: {adress: "ksm.monitoring:8080"}',
     "observability.prometheus.cluster_metrics.kube_state_metrics.adress: unknown field"),
    ('kubelet: {federate: "http://prom:9090"}',
     "observability.prometheus.cluster_metrics.kubelet.federate: 'http://prom:9090' is not host:port"),
])
def test_cluster_metrics_sources_are_refused_with_the_field(tmp_path, cluster_metrics, message) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text('platform_version: "1.0.0"\nobservability:\n  prometheus:\n    cluster_metrics:\n'
                    f"      {cluster_metrics}\n")
    with pytest.raises(FloeError) as error:
        load_environment(path)
    assert f"qa.yaml:5: {message}" in str(error.value)


def test_kube_state_metrics_reads_four_kinds_in_two_namespaces_through_roles(environment) -> None:
    name, objects, _ = environment
    rendered = [o for o in objects.values() if o["metadata"]["name"].startswith("kube-state-metrics")]
    assert not any(o["kind"].startswith("Cluster") for o in objects.values())
    if name == "prod":  # prod scrapes the cluster's own
        assert rendered == []
        return
    container = containers(find(objects, "Deployment", "kube-state-metrics"))[0]
    assert container["image"] == "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0"
    assert container["args"] == [
        "--port=8080", "--telemetry-port=8081", "--namespaces=floe-platform,floe-jobs",
        "--resources=cronjobs,jobs,pods,resourcequotas",
        "--metric-labels-allowlist=pods=[app.kubernetes.io/instance,floe.dev/data-product],"
        "jobs=[floe.dev/data-product]"]
    assert pod_spec(find(objects, "Deployment", "kube-state-metrics"))["automountServiceAccountToken"] is True
    assert (container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]) == (
        {"path": "/readyz", "port": "telemetry"}, {"path": "/livez", "port": "http-metrics"})
    for namespace in ("floe-platform", "floe-jobs"):
        role = f"kube-state-metrics-{namespace}"
        (obj,) = [o for o in rendered if o["kind"] == "Role" and o["metadata"]["namespace"] == namespace]
        assert obj["metadata"]["name"] == role
        assert obj["rules"] == [
            {"apiGroups": [""], "resources": ["pods", "resourcequotas"], "verbs": ["list", "watch"]},
            {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": ["list", "watch"]}]
        (binding,) = [o for o in rendered if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == namespace]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "kube-state-metrics", "namespace": "floe-platform"}]


def test_validate_notices_an_environment_without_kubelet_metrics(environments) -> None:
    assert [notices(settings) for settings in environments.values()] == [(), (), ()]
    dev = environments["dev"]
    prometheus = dev.observability.prometheus
    bare = dev.model_copy(update={"observability": dev.observability.model_copy(update={
        "prometheus": prometheus.model_copy(update={"cluster_metrics": ClusterMetrics()})})})
    assert notices(bare) == (
        "observability.prometheus.cluster_metrics.kubelet is not set: no CPU, memory or volume usage is collected, "
        "so the volume alerts never fire and the dashboards' usage panels stay empty",)
