"""An S3-compatible store outside the cluster in place of MinIO (``storage.object_store.mode: external``).

staging's environment file, changed to an external store, is rendered here: no MinIO object, every client
pointed at the store's endpoint and region, each client's egress opened to the store's addresses alone,
no root credentials in the inventory, each consumer's identity the operator's to provide. Then the
mistakes an environment file can make in that mode, each refused with the field it names.
"""

import json
from pathlib import Path

import pytest
import yaml

from floe.app import render_objects
from floe.components.cube import init_sql
from floe.config.loader import ENVIRONMENTS_DIR, load_environment
from floe.secret_values import operator_secrets
from floe.security.secrets import inventory
from floe.topology import topology_report
from tests import cli_support as support
from tests.cli_support import edit, floe
from tests.conftest import ROOT, containers, environment_error, find, pod_spec
from tests.network import Pod, connects, pods
from tests.test_network_walk import walk

ENDPOINT = "https://s3.eu-west-1.amazonaws.com"
CIDR = "52.218.0.0/17"
EXTERNAL = {"mode": "external", "endpoint": ENDPOINT, "region": "eu-west-1", "egress": [{"cidr": CIDR}],
            "buckets": ["floe-warehouse", "floe-backups"]}
PLATFORM, JOBS = "floe-platform", "floe-jobs"
dev_render = support.dev_render
workspace = support.workspace


def external_environment(folder: Path, in_cluster_tls: object = None, **changes: object):
    """staging's environment file with the external store (and ``changes`` to it) in place of MinIO, and
    ``in_cluster_tls`` in place of staging's when given."""
    settings = yaml.safe_load((ROOT / ENVIRONMENTS_DIR / "staging.yaml").read_text())
    settings["storage"]["object_store"] = {**EXTERNAL, **changes}
    if in_cluster_tls is not None:
        settings["in_cluster_tls"] = in_cluster_tls
    path = folder / "staging.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return load_environment(path)


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory):
    environment = external_environment(tmp_path_factory.mktemp("external"))
    folders = render_objects(environment)
    return environment, folders, [obj for objects in folders.values() for obj in objects]


@pytest.fixture(scope="module")
def with_ca(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    environment = external_environment(tmp_path_factory.mktemp("external-ca"), ca_secret="object-store-ca")
    return [obj for objects in render_objects(environment).values() for obj in objects]


def by_name(objects: list[dict]) -> dict[str, dict]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def env_of(container: dict) -> dict[str, str]:
    return {v["name"]: v.get("value", v.get("valueFrom")) for v in container.get("env") or []}


# -- what is rendered ----------------------------------------------------------------------------------------


def test_no_minio_object_is_rendered(external) -> None:
    _, folders, objects = external
    names = {f"{o['kind']}/{o['metadata']['name']}" for o in objects}
    assert {"StatefulSet/minio", "Service/minio", "Service/minio-headless", "Job/minio-buckets",
            "ConfigMap/minio-policies", "NetworkPolicy/allow-minio"}.isdisjoint(names)
    # The storage tier keeps PostgreSQL, its role bootstraps and backups, in the same steps as before.
    assert sorted(folder for folder in folders if folder.startswith("staging/10-storage")) == [
        "staging/10-storage/10-prepare", "staging/10-storage/11-serve", "staging/10-storage/15-bootstrap"]
    prometheus = by_name(objects)
    config = yaml.safe_load(prometheus["ConfigMap/prometheus-config"]["data"]["prometheus.yml"])
    assert [job["job_name"] for job in config["scrape_configs"]] == [
        "prometheus", "otel-collector", "otlp-metrics", "polaris", "postgres-dagster", "postgres-polaris",
        "grafana", "kube-state-metrics", "kubelet"]
    rules = yaml.safe_load(prometheus["ConfigMap/prometheus-config"]["data"]["alerts.yml"])
    assert "FloeMinioDriveOffline" not in {rule["alert"] for rule in rules["groups"][0]["rules"]}
    # No MinIO metrics token mounted.
    spec = pod_spec(prometheus["StatefulSet/prometheus"])
    assert "minio-token" not in {v["name"] for v in spec["volumes"]}
    assert "/etc/prometheus/secrets/minio" not in {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    dashboards = prometheus["ConfigMap/grafana-dashboards-platform-services"]["data"]
    assert sorted(dashboards) == ["floe-catalog.json", "floe-orchestrator.json", "floe-platform-overview.json"]


def test_polaris_catalog_names_the_external_store(external) -> None:
    _, _, objects = external
    job = find({str(i): o for i, o in enumerate(objects)}, "Job", "polaris-bootstrap")
    catalog = [c for c in containers(job) if "CATALOG_REQUEST" in env_of(c)][0]
    request = json.loads(env_of(catalog)["CATALOG_REQUEST"])
    assert request["catalog"]["storageConfigInfo"] == {
        "storageType": "S3", "allowedLocations": ["s3://floe-warehouse/"], "endpoint": ENDPOINT,
        "endpointInternal": ENDPOINT, "pathStyleAccess": False, "region": "eu-west-1", "stsUnavailable": True}
    assert json.loads(env_of(catalog)["CATALOG_UPDATE"])["storageConfigInfo"] == \
        request["catalog"]["storageConfigInfo"]
    server = env_of(containers(by_name(objects)["Deployment/polaris"])[0])
    assert server["AWS_REGION"] == "eu-west-1"


def test_cube_reads_the_external_store(external) -> None:
    environment, _, objects = external
    (secret,) = [s for s in init_sql(environment) if s.startswith("CREATE SECRET floe_object_store")]
    assert secret == ("CREATE SECRET floe_object_store (TYPE s3, KEY_ID ${FLOE_OBJECT_STORE_ACCESS_KEY_ID}, "
                      "SECRET ${FLOE_OBJECT_STORE_SECRET_ACCESS_KEY}, ENDPOINT 's3.eu-west-1.amazonaws.com', "
                      "URL_STYLE 'vhost', USE_SSL true, REGION 'eu-west-1')")
    store = env_of(containers(by_name(objects)["StatefulSet/cube-store-router"])[0])
    assert {key: store[key] for key in ("CUBESTORE_MINIO_SERVER_ENDPOINT", "CUBESTORE_MINIO_REGION",
                                        "CUBESTORE_MINIO_BUCKET")} == {
        "CUBESTORE_MINIO_SERVER_ENDPOINT": ENDPOINT, "CUBESTORE_MINIO_REGION": "eu-west-1",
        "CUBESTORE_MINIO_BUCKET": "floe-warehouse"}


def test_jobs_and_compute_logs_use_the_external_store(external) -> None:
    _, _, objects = external
    named = by_name(objects)
    job = env_of(containers(named["CronJob/sales-dbt-run"])[0])
    assert {key: job[key] for key in ("FLOE_OBJECT_STORE_ENDPOINT", "FLOE_OBJECT_STORE_ADDRESSING",
                                      "AWS_ENDPOINT_URL", "AWS_REGION")} == {
        "FLOE_OBJECT_STORE_ENDPOINT": ENDPOINT, "FLOE_OBJECT_STORE_ADDRESSING": "virtual-host",
        "AWS_ENDPOINT_URL": ENDPOINT, "AWS_REGION": "eu-west-1"}
    assert "AWS_CA_BUNDLE" not in job  # the system's CAs sign AWS's certificate
    instance = yaml.safe_load(named["ConfigMap/dagster-instance"]["data"]["dagster.yaml"])
    logs = instance["compute_logs"]["config"]
    assert (logs["endpoint_url"], logs["region"], logs["use_ssl"]) == (ENDPOINT, "eu-west-1", True)


def test_backups_upload_to_the_external_store(external) -> None:
    _, _, objects = external
    upload = env_of(containers(by_name(objects)["CronJob/postgres-polaris-backup"])[0])
    assert upload["MC_HOST_backup"] == "https://$(ACCESS_KEY):$(SECRET_KEY)@s3.eu-west-1.amazonaws.com"
    assert upload["TARGET"] == "backup/floe-backups/postgres/postgres-polaris"


def test_with_every_store_outside_the_storage_tier_is_skipped(tmp_path: Path) -> None:
    """External databases too: no storage tier at all, and both engines go from the foundation to the catalog."""
    settings = yaml.safe_load((ROOT / ENVIRONMENTS_DIR / "staging.yaml").read_text())
    settings["storage"] = {"object_store": EXTERNAL, "postgres": {consumer: {
        "mode": "external", "host": f"{consumer}.postgres.example.org", "database": consumer,
        "credentials_secret": f"{consumer}-postgres", "ca_secret": "postgres-ca",
        "egress": [{"cidr": "10.40.12.0/24", "ports": [5432]}]} for consumer in ("dagster", "polaris")}}
    (tmp_path / "staging.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    folders = render_objects(load_environment(tmp_path / "staging.yaml"))
    assert [folder for folder in folders if "storage" in folder] == []
    flux = {o["metadata"]["name"]: o for objects in folders.values() for o in objects if o["kind"] == "Kustomization"}
    assert flux["floe-staging-catalog-prepare"]["spec"]["dependsOn"] == [{"name": "floe-staging-access"}]
    waves = {o["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] for folder, objects in folders.items()
             if folder.startswith("staging/") for o in objects}
    assert not waves & {"10", "11", "15"}


# -- network -------------------------------------------------------------------------------------------------

STORE_EGRESS = {"to": [{"ipBlock": {"cidr": CIDR}}], "ports": [{"port": 443, "protocol": "TCP"}]}


def test_each_client_reaches_the_stores_addresses_on_443_and_nothing_else_does(external) -> None:
    _, _, objects = external
    policies = {(o["metadata"]["namespace"], o["metadata"]["name"]): o["spec"] for o in objects
                if o["kind"] == "NetworkPolicy"}
    opened = sorted(where for where, spec in policies.items() if STORE_EGRESS in (spec.get("egress") or []))
    assert opened == [(JOBS, "allow-pipeline-jobs-egress"), (PLATFORM, "allow-cube"), (PLATFORM, "allow-dagster"),
                      (PLATFORM, "allow-polaris"), (PLATFORM, "allow-postgres-dagster-backup"),
                      (PLATFORM, "allow-postgres-polaris-backup")]
    # No rule names MinIO's pods, which do not exist.
    assert '"minio"' not in json.dumps(list(policies.values()))


def test_the_walk_finds_every_path_to_the_store_and_prometheus_has_none(external) -> None:
    environment, _, objects = external
    indexed = {str(i): o for i, o in enumerate(objects)}
    tried, blocked = walk(indexed, environment)
    assert blocked == []
    assert {source for source, target in tried if target == "minio"} == {
        "cube", "dagster", "pipeline-jobs", "polaris", "postgres-dagster-backup", "postgres-polaris-backup"}
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    everyone = pods(objects, JOBS)
    (prometheus,) = [p for p in everyone if p.name == "prometheus"]
    (polaris,) = [p for p in everyone if p.name == "polaris"]
    assert not connects(policies, prometheus, "52.218.0.1", 443)
    assert connects(policies, polaris, "52.218.0.1", 443)
    assert not connects(policies, polaris, "52.219.0.1", 443)
    assert not connects(policies, Pod(JOBS, {"floe.dev/layer": "pipeline-jobs"}), "52.218.0.1", 80)


# -- identities ----------------------------------------------------------------------------------------------


def test_no_root_credentials_and_each_identity_read_where_its_consumer_runs(external) -> None:
    environment, _, objects = external
    uses = {(u.namespace, u.name): u for u in inventory(objects)}
    assert not [name for _, name in uses if name.startswith("minio-")]
    found = {where: use.readers for where, use in uses.items() if use.keys == ("access-key", "secret-key")}
    assert found == {
        (PLATFORM, "polaris-object-store-credentials"): ("Deployment/polaris",),
        (PLATFORM, "cube-object-store-credentials"): ("Deployment/cube-refresh-worker", "Rollout/cube"),
        (PLATFORM, "cube-store-object-store-credentials"): ("StatefulSet/cube-store-router",
                                                            "StatefulSet/cube-store-worker"),
        (PLATFORM, "dagster-compute-logs-credentials"): ("Deployment/dagster-webserver",),
        (PLATFORM, "postgres-backup-object-store-credentials"): ("CronJob/postgres-dagster-backup",
                                                                 "CronJob/postgres-polaris-backup"),
        (JOBS, "floe-marketing-object-store-credentials"): (
            "CronJob/marketing-dbt-run", "CronJob/marketing-dbt-test", "CronJob/marketing-dlt-ingest",
            "CronJob/marketing-quality-check", "runs launched from Deployment/dagster-code-marketing"),
        (JOBS, "floe-sales-object-store-credentials"): (
            "CronJob/sales-dbt-run", "CronJob/sales-dbt-test", "CronJob/sales-dlt-ingest",
            "CronJob/sales-quality-check", "runs launched from Deployment/dagster-code-sales"),
    }


def test_the_jobs_namespace_admits_the_products_ca(with_ca: list[dict]) -> None:
    """The admission policy lets the jobs' pods mount the store's CA (every run's Secrets, or its product's)."""
    (policy,) = [o for o in with_ca if o["kind"] == "ValidatingAdmissionPolicy"]
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    assert '"object-store-ca"' in variables["secrets"] + variables["product_secrets"]


def test_every_identity_is_the_operators_to_provide(external) -> None:
    """floe never generates an external store's keys: `floe secrets init` names them with the command."""
    environment, _, _ = external
    wanted = operator_secrets(environment)
    assert wanted["floe-sales-object-store-credentials"] == (
        "the identity floe-product-sales of the external object store (https://s3.eu-west-1.amazonaws.com), made by "
        "its operator with the rights `floe object-store policies` prints: kubectl create secret generic "
        "floe-sales-object-store-credentials -n {namespace} --from-file=access-key=FILE --from-file=secret-key=FILE")
    assert {name for name in wanted if name.endswith("-credentials") and "object-store" in name or
            name == "dagster-compute-logs-credentials"} == {
        "polaris-object-store-credentials", "cube-object-store-credentials", "cube-store-object-store-credentials",
        "dagster-compute-logs-credentials", "postgres-backup-object-store-credentials",
        "floe-sales-object-store-credentials", "floe-marketing-object-store-credentials"}


def test_the_policies_command_prints_each_consumers_document(tmp_path: Path) -> None:
    folder = tmp_path / "environments"
    folder.mkdir()
    external_environment(folder)
    result = floe(tmp_path, "object-store", "policies", "--env", "staging")
    assert result.exit_code == 0, result.output
    headings = [line for line in result.stdout.splitlines() if line.startswith("# ")]
    assert headings == [
        "# floe-catalog: Secret polaris-object-store-credentials",
        "# floe-cube-store: Secret cube-store-object-store-credentials",
        "# floe-semantic: Secret cube-object-store-credentials",
        "# floe-product-sales: Secret floe-sales-object-store-credentials",
        "# floe-product-marketing: Secret floe-marketing-object-store-credentials",
        "# floe-compute-logs: Secret dagster-compute-logs-credentials",
        "# floe-backups: Secret postgres-backup-object-store-credentials",
    ]
    backups = json.loads(result.stdout.split("# floe-backups: Secret postgres-backup-object-store-credentials\n")[1])
    assert backups["Statement"][2] == {
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        "Resource": ["arn:aws:s3:::floe-backups/postgres/*"]}


def test_the_topology_draws_the_store_outside_the_cluster(external) -> None:
    environment, folders, _ = external
    report = topology_report(environment, folders)
    assert '    minio["minio (outside the cluster)"]' in report
    assert "| polaris | minio | 443 | allow-polaris |" in report


# -- a private CA --------------------------------------------------------------------------------------------

CA_FILE = "/etc/floe/object-store-ca/ca.crt"
CA_VOLUME = {"name": "object-store-ca", "secret": {"secretName": "object-store-ca",
                                                   "items": [{"key": "ca.crt", "path": "ca.crt"}]}}


def test_every_client_trusts_the_private_ca(with_ca: list[dict]) -> None:
    named = by_name(with_ca)
    for workload in ("CronJob/sales-dbt-run", "Deployment/dagster-webserver", "Deployment/polaris",
                     "Rollout/cube", "StatefulSet/cube-store-worker", "CronJob/postgres-polaris-backup"):
        assert CA_VOLUME in pod_spec(named[workload])["volumes"], workload
    assert env_of(containers(named["CronJob/sales-dbt-run"])[0])["AWS_CA_BUNDLE"] == CA_FILE
    assert env_of(containers(named["Deployment/dagster-webserver"])[0])["AWS_CA_BUNDLE"] == CA_FILE
    assert env_of(containers(named["StatefulSet/cube-store-worker"])[0])["SSL_CERT_FILE"] == CA_FILE
    upload = containers(named["CronJob/postgres-polaris-backup"])[0]
    assert {"name": "object-store-ca", "mountPath": "/tmp/.mc/certs/CAs", "readOnly": True} in upload["volumeMounts"]
    config = named["ConfigMap/cube-config"]["data"]["cube.js"]
    assert f'"SET ca_cert_file = \'{CA_FILE}\'"' in config
    polaris = pod_spec(named["Deployment/polaris"])
    (truststore,) = [c for c in polaris["initContainers"] if c["name"] == "object-store-truststore"]
    assert env_of(truststore) == {"CA_FILE": CA_FILE, "TRUSTSTORE": "/var/run/floe-truststore/object-store-ca.p12"}
    assert env_of(polaris["containers"][0])["JAVA_TOOL_OPTIONS"] == \
        "-Djavax.net.ssl.trustStore=/var/run/floe-truststore/object-store-ca.p12"


def test_the_ca_secret_is_in_the_inventory_and_the_operators(with_ca: list[dict], tmp_path: Path) -> None:
    readers = {u.name: u for u in inventory(with_ca)}["object-store-ca"]
    assert readers.keys == ("ca.crt",)
    environment = external_environment(tmp_path, ca_secret="object-store-ca")
    assert operator_secrets(environment)["object-store-ca"] == (
        "the CA that signed the certificate of https://s3.eu-west-1.amazonaws.com: kubectl create secret generic "
        "object-store-ca -n {namespace} --from-file=ca.crt=FILE")


# -- floe validate -------------------------------------------------------------------------------------------


def test_validate_warns_of_no_minio_cve_when_no_minio_is_rendered(workspace: Path) -> None:
    """dev warns of MinIO's CVE while it runs MinIO (tests/test_release_advisories.py); not once it does not."""
    external = "".join(f"    {line}\n" for line in yaml.safe_dump(EXTERNAL, sort_keys=False).splitlines())
    in_cluster = "  object_store:\n    resources: small\n    storage:\n      size: 5Gi\n"
    edit(workspace / "environments" / "dev.yaml", in_cluster, "  object_store:\n" + external)
    assert floe(workspace, "platform", "deploy", "--env", "dev").exit_code == 0
    result = floe(workspace, "validate", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("warning:")] == []
    assert not list((workspace / "dist" / "dev").rglob("statefulset-minio.yaml"))


# -- mistakes ------------------------------------------------------------------------------------------------

GOOD = ('platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
        "storage:\n  object_store:\n    mode: external\n")


@pytest.mark.parametrize(("settings", "message"), [
    ("    endpoint: http://s3.example.org\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24, ports: [80]}]\n"
     "    buckets: [floe-warehouse, floe-backups]\n",
     "qa.yaml:7: storage.object_store.endpoint: http://s3.example.org is plain HTTP, which sends data and signed "
     "requests unencrypted: use https://, or set plain_http: true"),
    ("    endpoint: https://s3.example.org\n    region: us-east-1\n    buckets: [floe-warehouse, floe-backups]\n",
     "qa.yaml:5: storage.object_store.egress: required field is missing"),
    ("    endpoint: https://s3.example.org\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: [floe-warehouse, floe-backups]\n",
     "qa.yaml:5: storage.object_store.region: required field is missing"),
    ("    endpoint: https://s3.example.org\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: []\n",
     "qa.yaml:10: storage.object_store.buckets: needs at least 1 item(s) (got 0)"),
    ("    endpoint: https://s3.example.org:9443\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: [floe-warehouse, floe-backups]\n",
     "qa.yaml:9: storage.object_store.egress.0.ports: 10.0.0.0/24 is opened on ports 443, not on 9443, the port of "
     "https://s3.example.org:9443"),
    ("    endpoint: https://s3.example.org/floe\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: [floe-warehouse, floe-backups]\n",
     "qa.yaml:7: storage.object_store.endpoint: 'https://s3.example.org/floe': write only https://host[:port], no "
     "path, query or credentials"),
    ("    endpoint: https://s3.example.org:99999\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: [floe-warehouse, floe-backups]\n",
     "qa.yaml:7: storage.object_store.endpoint: 'https://s3.example.org:99999' has an invalid port: write one from 1 "
     "to 65535"),
    ("    endpoint: s3.example.org\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: [floe-warehouse, floe-backups]\n",
     "qa.yaml:7: storage.object_store.endpoint: 's3.example.org' is not an S3 endpoint: write https://host[:port]"),
    ("    endpoint: https://s3.example.org\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: [floe-warehouse, floe.backups]\n",
     "qa.yaml:10: storage.object_store.buckets.1: 'floe.backups' holds a '.', which no wildcard certificate of "
     "*.<host> covers in virtual-host addressing: use addressing: path"),
    ("    endpoint: https://s3.example.org\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: [floe-warehouse]\n",
     "qa.yaml:10: storage.object_store.buckets: lacks 'floe-backups', the default of storage.postgres.backup.bucket"),
    ("    endpoint: https://s3.example.org\n    region: us-east-1\n    egress: [{cidr: 10.0.0.0/24}]\n"
     "    buckets: [floe-warehouse, floe-backups]\n    replicas: 4\n",
     "qa.yaml:11: storage.object_store.replicas: unknown field"),
])
def test_a_mistake_names_its_field(tmp_path: Path, settings: str, message: str) -> None:
    assert environment_error(tmp_path, GOOD + settings).startswith(message)


def test_the_old_key_says_where_it_went(tmp_path: Path) -> None:
    text = 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n' \
           "storage:\n  minio:\n    replicas: 4\n"
    assert environment_error(tmp_path, text) == (
        "qa.yaml:5: storage.minio is now storage.object_store (MinIO is its mode: in-cluster, the "
        "default): rename the key; its settings are unchanged")


def test_plain_http_and_path_addressing_when_asked_for(tmp_path: Path) -> None:
    environment = external_environment(tmp_path, endpoint="http://ceph-rgw.storage.example.org:7480",
                                       plain_http=True, addressing="path", region="default",
                                       egress=[{"cidr": "10.40.30.0/24", "ports": [7480]}])
    (secret,) = [s for s in init_sql(environment) if s.startswith("CREATE SECRET floe_object_store")]
    assert secret.endswith("ENDPOINT 'ceph-rgw.storage.example.org:7480', URL_STYLE 'path', USE_SSL false, "
                           "REGION 'default')")
