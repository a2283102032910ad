"""In-cluster TLS and trace export TLS: what the environments ask for and what the render does with it.

dev says ``in_cluster_tls: plain``; staging and prod name cert-manager's ClusterIssuer ``floe-internal-ca``,
so each in-cluster PostgreSQL gets a Certificate and serves TLS, and every client verifies it. The real
server and clients are exercised in tests/conformance/test_tls.py.
"""

import copy
from pathlib import Path

import pytest
import yaml

from floe.components import postgres
from floe.config.loader import load_environment
from floe.security.secrets import inventory
from floe.validation import validate_custom_resources
from tests.conftest import ENVIRONMENT_NAMES, ROOT, environment_error, find, pod_spec

GOOD = 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
CA_MOUNT = {"mountPath": "/etc/floe/postgres-ca", "name": "postgres-ca", "readOnly": True}
CA_VOLUME = {"name": "postgres-ca", "secret": {"items": [{"key": "ca.crt", "path": "ca.crt"}],
                                               "secretName": "floe-in-cluster-ca"}}


def container(obj: dict, name: str) -> dict:
    spec = pod_spec(obj)
    return next(c for c in [*(spec.get("initContainers") or []), *spec["containers"]] if c["name"] == name)


def env_values(item: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in item.get("env") or [] if "value" in e}


def test_every_environment_file_says_whether_its_components_talk_tls() -> None:
    for name in ENVIRONMENT_NAMES:
        settings = yaml.safe_load((ROOT / "environments" / f"{name}.yaml").read_text())
        assert "in_cluster_tls" in settings, f"{name}.yaml leaves in-cluster TLS unsaid"
    assert yaml.safe_load((ROOT / "environments" / "dev.yaml").read_text())["in_cluster_tls"] == "plain"


def test_a_certificate_per_in_cluster_instance_with_its_service_names(rendered) -> None:
    certificate = find(rendered["staging"], "Certificate", "postgres-polaris-server-tls")
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    assert certificate["metadata"]["namespace"] == "floe-platform"
    assert certificate["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "10"
    assert certificate["spec"] == {
        "dnsNames": ["postgres-polaris", "postgres-polaris.floe-platform", "postgres-polaris.floe-platform.svc",
                     "postgres-polaris.floe-platform.svc.cluster.local"],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "floe-internal-ca"},
        "secretName": "postgres-polaris-server-tls",
        "usages": ["server auth", "digital signature", "key encipherment"],
    }
    certificates = {(env, o["metadata"]["name"]) for env, objects in rendered.items() for o in objects.values()
                    if o["kind"] == "Certificate"}
    # prod's Dagster database is external: its operator's certificate, not one of the platform's.
    assert certificates == {(env, name) for env in ("staging", "prod")
                            for name in ("minio-server-tls", "polaris-server-tls", "postgres-polaris-server-tls")} | {
        ("staging", "postgres-dagster-server-tls")}


def test_minio_and_polaris_certificates_name_their_services_and_the_addresses_peers_and_prometheus_dial(
        rendered) -> None:
    minio = find(rendered["prod"], "Certificate", "minio-server-tls")["spec"]
    assert minio["dnsNames"] == [
        "minio", "minio.floe-platform", "minio.floe-platform.svc", "minio.floe-platform.svc.cluster.local",
        *(f"minio-{i}.minio-headless.floe-platform.svc.cluster.local" for i in range(4))]
    assert find(rendered["prod"], "Certificate", "polaris-server-tls")["spec"]["dnsNames"] == [
        "polaris", "polaris.floe-platform", "polaris.floe-platform.svc", "polaris.floe-platform.svc.cluster.local",
        "polaris-headless.floe-platform.svc.cluster.local"]


def test_the_rendered_certificates_are_valid_against_the_vendored_crd(rendered) -> None:
    certificate = find(rendered["prod"], "Certificate", "postgres-polaris-server-tls")
    assert validate_custom_resources([("certificate.yaml", certificate)]) == []
    misspelt = copy.deepcopy(certificate)
    misspelt["spec"]["dnsName"] = misspelt["spec"].pop("dnsNames")
    assert [p.message for p in validate_custom_resources([("certificate.yaml", misspelt)])] == [
        "spec: Additional properties are not allowed ('dnsName' was unexpected)"]


def test_an_instance_serves_tls_with_its_certificate_and_takes_passwords_only_over_it(rendered) -> None:
    statefulset = find(rendered["staging"], "StatefulSet", "postgres-polaris")
    server = container(statefulset, "postgres")
    assert server["args"] == ["-c", "ssl=on", "-c", "ssl_cert_file=/etc/floe/postgres-tls/tls.crt",
                              "-c", "ssl_key_file=/etc/floe/postgres-tls/tls.key",
                              "-c", "hba_file=/etc/floe/postgres-hba/pg_hba.conf"]
    volumes = {v["name"]: v for v in pod_spec(statefulset)["volumes"]}
    # 0440 and the pod's fsGroup: PostgreSQL takes a root-owned key only if no one else may read it.
    assert volumes["tls"]["secret"] == {"secretName": "postgres-polaris-server-tls", "defaultMode": 0o440,
                                        "items": [{"key": "tls.crt", "path": "tls.crt"},
                                                  {"key": "tls.key", "path": "tls.key"}]}
    assert {"mountPath": "/etc/floe/postgres-tls", "name": "tls", "readOnly": True} in server["volumeMounts"]
    hba = find(rendered["staging"], "ConfigMap", "postgres-polaris-hba")["data"]["pg_hba.conf"]
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert rules[-1] == ["hostssl", "all", "all", "all", "scram-sha-256"]
    assert not [rule for rule in rules if rule[0] == "host" and rule[3] not in ("127.0.0.1/32", "::1/128")]


@pytest.mark.parametrize(("kind", "name", "container_name"), [
    ("Job", "postgres-polaris-roles", "reconcile-roles"),
    ("CronJob", "postgres-polaris-backup", "dump"),
    ("Job", "polaris-bootstrap", "create-schema"),
])
def test_libpq_clients_verify_the_instance_against_the_environment_ca(rendered, kind, name, container_name) -> None:
    obj = find(rendered["staging"], kind, name)
    client = container(obj, container_name)
    libpq = {key: value for key, value in env_values(client).items() if key.startswith("PG")}
    assert libpq == {"PGHOST": "postgres-polaris.floe-platform.svc.cluster.local", "PGPORT": "5432",
                     "PGDATABASE": "polaris", "PGSSLMODE": "verify-full",
                     "PGSSLROOTCERT": "/etc/floe/postgres-ca/ca.crt"}
    assert CA_MOUNT in client["volumeMounts"]
    assert CA_VOLUME in pod_spec(obj)["volumes"]


def test_polaris_and_dagster_verify_their_in_cluster_databases(rendered) -> None:
    properties = find(rendered["staging"], "ConfigMap", "polaris-config")["data"]["application.properties"]
    assert ("quarkus.datasource.jdbc.url=jdbc:postgresql://postgres-polaris.floe-platform.svc.cluster.local:5432/"
            "polaris?currentSchema=polaris_schema&sslmode=verify-full&sslrootcert=/etc/floe/postgres-ca/ca.crt\n"
            ) in properties
    instance = yaml.safe_load(find(rendered["staging"], "ConfigMap", "dagster-instance")["data"]["dagster.yaml"])
    assert instance["run_storage"]["config"]["postgres_db"]["params"] == {
        "sslmode": "verify-full", "sslrootcert": "/etc/floe/postgres-ca/ca.crt"}


def test_dev_stays_plain_and_says_so(rendered) -> None:
    assert not [o for o in rendered["dev"].values() if o["kind"] == "Certificate"]
    roles = container(find(rendered["dev"], "Job", "postgres-polaris-roles"), "reconcile-roles")
    assert env_values(roles)["PGSSLMODE"] == "disable"
    assert "PGSSLROOTCERT" not in env_values(roles)
    assert "args" not in container(find(rendered["dev"], "StatefulSet", "postgres-polaris"), "postgres")
    dev = load_environment(ROOT / "environments" / "dev.yaml")
    assert (dev.in_cluster_tls, dev.tls, postgres.notices(dev)) == ("plain", None, ())


def test_an_environment_that_leaves_tls_unsaid_renders_plain_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(GOOD)
    unsaid = load_environment(path)
    assert postgres.database_of(unsaid, "polaris").ssl_mode == "disable"
    assert postgres.notices(unsaid) == (
        "in_cluster_tls is not set: the platform's components talk to each other unencrypted (PostgreSQL with "
        "sslmode=disable); set in_cluster_tls: plain to say so, or name a cert-manager issuer",)


@pytest.mark.parametrize(("settings", "message"), [
    ("in_cluster_tls:\n  issuer:\n    kind: CertificateIssuer\n    name: ca\n",
     "qa.yaml:6: in_cluster_tls.issuer.kind: 'CertificateIssuer' is not one of 'Issuer' or 'ClusterIssuer'"),
    ("in_cluster_tls:\n  ca_secret: floe-ca\n", "qa.yaml:4: in_cluster_tls.issuer: required field is missing"),
    ("in_cluster_tls:\n  issuer: {kind: Issuer}\n", "qa.yaml:5: in_cluster_tls.issuer.name: required field is missing"),
    ("in_cluster_tls: on\n",
     "qa.yaml:4: in_cluster_tls: True is neither plain nor an issuer: write plain (no TLS between the components), "
     "or issuer: {kind: Issuer or ClusterIssuer, name: <cert-manager issuer>}"),
    ("observability:\n  otel_collector:\n    traces_endpoint: tempo.tracing.svc.cluster.local:4317\n"
     "    traces_tls: insecure\n",
     "qa.yaml:7: observability.otel_collector.traces_tls: 'insecure' is neither plaintext nor TLS settings: write "
     "plaintext (traces unencrypted), {} (TLS verified against the system's roots) or {ca_secret: <Secret with "
     "ca.crt>}"),
    ("observability:\n  otel_collector:\n    traces_insecure: true\n",
     "qa.yaml:6: observability.otel_collector.traces_insecure: unknown field"),
])
def test_bad_tls_settings_are_refused_with_the_allowed_values(tmp_path: Path, settings: str, message: str) -> None:
    assert environment_error(tmp_path, GOOD + settings).startswith(message)


def test_traces_go_over_tls_verified_against_the_backends_ca(rendered) -> None:
    collector = find(rendered["prod"], "Deployment", "otel-collector")
    config = yaml.safe_load(find(rendered["prod"], "ConfigMap", "otel-collector-config")["data"]["config.yaml"])
    assert config["exporters"]["otlp_grpc/traces"] == {
        "endpoint": "tempo-distributor.tracing.svc.cluster.local:4317",
        "tls": {"insecure": False, "ca_file": "/etc/floe/traces-ca/ca.crt"}}
    assert {"name": "traces-ca", "secret": {"items": [{"key": "ca.crt", "path": "ca.crt"}],
                                            "secretName": "floe-in-cluster-ca"}} in pod_spec(collector)["volumes"]
    assert {"mountPath": "/etc/floe/traces-ca", "name": "traces-ca", "readOnly": True} in \
        container(collector, "otel-collector")["volumeMounts"]


@pytest.mark.parametrize(("settings", "tls"), [
    ("", {"insecure": False}),
    ("    traces_tls: {}\n", {"insecure": False}),
    ("    traces_tls: plaintext\n", {"insecure": True}),
])
def test_traces_are_plaintext_only_when_the_environment_says_so(tmp_path: Path, settings: str, tls: dict) -> None:
    from floe.components.otel_collector import collector_config

    path = tmp_path / "qa.yaml"
    path.write_text(GOOD + "observability:\n  otel_collector:\n    traces_endpoint: "
                           "tempo.tracing.svc.cluster.local:4317\n" + settings)
    config = collector_config(load_environment(path).observability.otel_collector)
    assert config["exporters"]["otlp_grpc/traces"]["tls"] == tls


def test_certificate_secrets_are_cert_managers_and_the_ca_the_operators(rendered) -> None:
    uses = {(u.namespace, u.name): u for u in inventory(rendered["prod"].values())}
    issued = uses["floe-platform", "postgres-polaris-server-tls"]
    assert (issued.keys, issued.readers, issued.written_by) == (
        ("tls.crt", "tls.key"), ("StatefulSet/postgres-polaris",), "Certificate/postgres-polaris-server-tls")
    assert uses["floe-jobs", "floe-in-cluster-ca"].written_by is None
    targets = {(o["metadata"]["namespace"], o["spec"]["target"]["name"]) for o in rendered["prod"].values()
               if o["kind"] == "ExternalSecret"}
    # The store never holds a certificate cert-manager writes; the CA clients trust comes from it, in both namespaces.
    assert ("floe-platform", "postgres-polaris-server-tls") not in targets
    assert {("floe-platform", "floe-in-cluster-ca"), ("floe-jobs", "floe-in-cluster-ca")} <= targets


def test_minio_serves_tls_from_its_certs_dir_and_is_probed_over_https(rendered) -> None:
    statefulset = find(rendered["staging"], "StatefulSet", "minio")
    server = container(statefulset, "minio")
    assert server["args"] == ["server", "https://minio-{0...3}.minio-headless.floe-platform.svc.cluster.local/data",
                              "--address", ":9000", "--console-address", ":9001", "--certs-dir", "/etc/minio/certs"]
    tls = next(v for v in pod_spec(statefulset)["volumes"] if v["name"] == "tls")["secret"]
    assert tls["items"] == [{"key": "tls.crt", "path": "public.crt"}, {"key": "tls.key", "path": "private.key"},
                            {"key": "ca.crt", "path": "CAs/ca.crt"}]
    assert server["livenessProbe"]["httpGet"] == {"path": "/minio/health/live", "port": "api", "scheme": "HTTPS"}
    dev = container(find(rendered["dev"], "StatefulSet", "minio"), "minio")
    assert dev["args"][-2:] == ["--certs-dir", "/tmp/certs"] and "scheme" not in dev["livenessProbe"]["httpGet"]


def test_the_bucket_bootstrap_speaks_https_and_mc_trusts_the_ca_from_its_config_dir(rendered) -> None:
    job = find(rendered["staging"], "Job", "minio-buckets")
    client = container(job, "create-buckets")
    assert env_values(client)["MC_HOST_floe"] == \
        "https://$(MINIO_ROOT_USER):$(MINIO_ROOT_PASSWORD)@minio.floe-platform.svc.cluster.local:9000"
    assert {"mountPath": "/tmp/.mc/certs/CAs", "name": "in-cluster-ca", "readOnly": True} in client["volumeMounts"]
    assert "--insecure" not in str(job)


def test_polaris_serves_https_only_and_its_clients_verify_it(rendered) -> None:
    properties = find(rendered["staging"], "ConfigMap", "polaris-config")["data"]["application.properties"]
    for line in ("quarkus.http.ssl-port=8181", "quarkus.http.insecure-requests=disabled",
                 "quarkus.http.ssl.certificate.files=/deployments/tls/tls.crt",
                 "quarkus.http.ssl.certificate.key-files=/deployments/tls/tls.key",
                 "quarkus.management.ssl.certificate.files=/deployments/tls/tls.crt", "quarkus.management.port=8182"):
        assert f"{line}\n" in properties
    assert "quarkus.http.port=" not in properties
    server = container(find(rendered["staging"], "Deployment", "polaris"), "polaris")
    assert server["readinessProbe"]["httpGet"] == {"path": "/q/health/ready", "port": "management", "scheme": "HTTPS"}
    catalog = container(find(rendered["staging"], "Job", "polaris-bootstrap"), "bootstrap-catalog")
    assert env_values(catalog)["CATALOG_URI"] == "https://polaris.floe-platform.svc.cluster.local:8181/api/catalog"
    assert env_values(catalog)["CURL_CA_BUNDLE"] == "/etc/floe/in-cluster-ca/ca.crt"
    ingress = find(rendered["staging"], "Ingress", "polaris")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "HTTPS"
    dev = find(rendered["dev"], "ConfigMap", "polaris-config")["data"]["application.properties"]
    assert "quarkus.http.port=8181\n" in dev and "quarkus.http.ssl" not in dev


def test_job_pods_trust_the_in_cluster_ca_for_the_catalog_and_the_object_store(rendered) -> None:
    cronjob = find(rendered["prod"], "CronJob", "sales-dbt-run")
    values = env_values(pod_spec(cronjob)["containers"][0])
    assert values["FLOE_CATALOG_URI"] == "https://polaris.floe-platform.svc.cluster.local:8181/api/catalog"
    assert values["FLOE_CATALOG_CA_FILE"] == "/etc/floe/in-cluster-ca/ca.crt"
    assert values["AWS_ENDPOINT_URL"] == "https://minio.floe-platform.svc.cluster.local:9000"
    assert values["AWS_CA_BUNDLE"] == "/etc/floe/object-store-ca/ca.crt"
    assert "REQUESTS_CA_BUNDLE" not in values


def test_prometheus_scrapes_the_tls_ports_over_https_verifying_the_service_name(rendered) -> None:
    config = yaml.safe_load(find(rendered["staging"], "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert (jobs["minio"]["scheme"], jobs["minio"]["tls_config"]) == (
        "https", {"ca_file": "/etc/floe/in-cluster-ca/ca.crt", "server_name": "minio.floe-platform.svc.cluster.local"})
    assert jobs["polaris"]["tls_config"]["server_name"] == "polaris-headless.floe-platform.svc.cluster.local"
    assert "scheme" not in jobs["postgres-polaris"]


def test_cube_verifies_the_store_and_the_catalog(rendered) -> None:
    config = find(rendered["staging"], "ConfigMap", "cube-config")["data"]["cube.js"]
    assert "SET enable_server_cert_verification = true" in config
    assert "SET ca_cert_file = '/etc/floe/object-store-ca/ca.crt'" in config
    assert "USE_SSL true" in config
