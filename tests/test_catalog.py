"""The catalog tier: Polaris, its database wiring, its keys, and the bootstrap step after it."""

import json
from pathlib import Path

import pytest

from floe.components import minio
from floe.config.loader import load_environment
from floe.config.storage import ExternalPostgres
from floe.errors import FloeError
from floe.tiers import CATALOG, OBSERVABILITY, SYNC_WAVE, Step
from tests.changed_render import checksum_of
from tests.conftest import ENVIRONMENT_NAMES, containers, find, pod_spec

CATALOG_FOLDER = f"{CATALOG.folder}/"


def catalog_objects(rendered, name: str) -> dict[str, dict]:
    return {path: obj for path, obj in rendered[name].items() if path.startswith(CATALOG_FOLDER)}


def wave(obj: dict) -> int:
    return int(obj["metadata"]["annotations"][SYNC_WAVE])


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def secret_ref(variable: dict) -> tuple[str, str]:
    ref = variable["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def properties(rendered, name: str) -> tuple[str, dict[str, str]]:
    text = find(rendered[name], "ConfigMap", "polaris-config")["data"]["application.properties"]
    return text, dict(line.split("=", 1) for line in text.splitlines())


def server(rendered, name: str) -> tuple[dict, dict]:
    deployment = find(catalog_objects(rendered, name), "Deployment", "polaris")
    return deployment, containers(deployment)[0]


def bootstrap(rendered, name: str) -> dict:
    return find(catalog_objects(rendered, name), "Job", "polaris-bootstrap")


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_polaris_is_a_deployment_running_as_the_images_user(rendered, environments, name: str) -> None:
    deployment, container = server(rendered, name)
    assert deployment["kind"] == "Deployment"
    assert container["image"] == environments[name].release.images.polaris
    context = pod_spec(deployment)["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (10000, 10001, 10001)
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"api": 8181, "management": 8182}
    _, props = properties(rendered, name)
    # With in-cluster TLS (staging, prod) the API is served on the HTTPS port alone (test_tls.py).
    api = "quarkus.http.port" if name == "dev" else "quarkus.http.ssl-port"
    assert (props[api], props["quarkus.management.port"]) == ("8181", "8182")
    assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}


def test_a_changed_config_file_rolls_the_polaris_pods_and_nothing_else_does() -> None:
    before = checksum_of("nothing", "Deployment", "polaris")
    # The realm is in application.properties: the pod template changes, so the pods roll.
    assert checksum_of("catalog realm", "Deployment", "polaris") != before
    # A change to another tier's config leaves the Polaris pods alone.
    assert checksum_of("maximum of concurrent runs", "Deployment", "polaris") == before


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_health_probes_use_the_declared_management_port(rendered, name: str) -> None:
    _, container = server(rendered, name)
    declared = {p["name"] for p in container["ports"]}
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe", "startupProbe")}
    assert all(probe["port"] == "management" and probe["port"] in declared for probe in probes.values())
    assert probes["livenessProbe"]["path"] == "/q/health/live"
    assert probes["readinessProbe"]["path"] == "/q/health/ready"


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_metastore_is_the_database_the_environment_configures(rendered, environments, name: str) -> None:
    environment = environments[name]
    settings = environment.storage.postgres.polaris
    _, container = server(rendered, name)
    variables = env_of(container)
    # Every shipped environment runs Polaris's metastore in the cluster, with the default Secret.
    assert secret_ref(variables["quarkus.datasource.username"]) == ("postgres-polaris-credentials", "username")
    assert secret_ref(variables["quarkus.datasource.password"]) == ("postgres-polaris-credentials", "password")
    _, props = properties(rendered, name)
    assert props["polaris.persistence.type"] == "relational-jdbc"
    url = props["quarkus.datasource.jdbc.url"]
    ssl = "sslmode=disable" if name == "dev" else "sslmode=verify-full&sslrootcert=/etc/floe/postgres-ca/ca.crt"
    assert url == ("jdbc:postgresql://postgres-polaris.floe-platform.svc.cluster.local:5432/polaris"
                   f"?currentSchema=polaris_schema&{ssl}")
    statefulsets = [o for o in rendered[name].values()
                    if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "postgres-polaris"]
    if isinstance(settings, ExternalPostgres):
        assert url.startswith(f"jdbc:postgresql://{settings.host}:{settings.port}/{settings.database}?")
        assert statefulsets == []
    else:
        assert url.startswith(f"jdbc:postgresql://postgres-polaris.{environment.namespaces.platform}.svc")
        assert len(statefulsets) == 1


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_token_broker_keys_come_from_the_shared_secret(rendered, environments, name: str) -> None:
    settings = environments[name].catalog.polaris
    deployment, container = server(rendered, name)
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    [volume] = [v for v in volumes.values() if v.get("secret", {}).get("secretName") == settings.token_broker_secret]
    mount = mounts[volume["name"]]
    assert mount["readOnly"] is True
    _, props = properties(rendered, name)
    prefix = "polaris.authentication.token-broker"
    assert props[f"{prefix}.type"] == "rsa-key-pair"
    assert props[f"{prefix}.rsa-key-pair.public-key-file"] == f"{mount['mountPath']}/public.pem"
    assert props[f"{prefix}.rsa-key-pair.private-key-file"] == f"{mount['mountPath']}/private.pem"
    assert props["polaris.realm-context.realms"] == settings.realm
    config_mount = next(m for m in container["volumeMounts"] if m["mountPath"].endswith("/config"))
    # Quarkus reads config/application.properties from its working directory.
    assert config_mount["mountPath"] == f"{container['workingDir']}/config" and config_mount["readOnly"]


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_traces_go_to_the_collector(rendered, name: str) -> None:
    _, container = server(rendered, name)
    variables = env_of(container)
    _, props = properties(rendered, name)
    assert props["quarkus.otel.sdk.disabled"] == "false"
    assert props["quarkus.otel.exporter.otlp.endpoint"] == "${OTEL_EXPORTER_OTLP_ENDPOINT}"
    assert variables["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].endswith(":4317")
    assert variables["OTEL_SERVICE_NAME"]["value"] == "polaris"


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_bootstrap_runs_after_polaris_and_before_observability(rendered, name: str) -> None:
    deployment, _ = server(rendered, name)
    job = bootstrap(rendered, name)
    assert wave(deployment) == CATALOG.wave_of(Step.SERVE)
    assert wave(deployment) < wave(job) < OBSERVABILITY.wave
    later = [wave(o) for path, o in rendered[name].items() if path.startswith(f"{OBSERVABILITY.folder}/")]
    assert all(wave(job) < w for w in later)
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "Sync"


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_bootstrap_creates_schema_realm_and_catalog_idempotently(rendered, environments, name: str) -> None:
    environment = environments[name]
    settings = environment.catalog.polaris
    spec = pod_spec(bootstrap(rendered, name))
    schema, realm = spec["initContainers"]
    [catalog] = spec["containers"]

    assert schema["image"] == environment.release.images.postgres
    assert schema["command"][-1] == "CREATE SCHEMA IF NOT EXISTS polaris_schema"
    assert secret_ref(env_of(schema)["PGPASSWORD"]) == ("postgres-polaris-credentials", "password")
    assert env_of(schema)["PGHOST"]["value"] == "postgres-polaris.floe-platform.svc.cluster.local"

    assert realm["image"] == environment.release.images.polaris_admin_tool
    # The secret reaches the admin tool as a file, never on its command line (test_runtime_defects.py).
    assert realm["command"][:2] == ["/bin/bash", "-c"] and "args" not in realm
    tool = '/opt/jboss/container/java/run/run-java.sh bootstrap --credentials-file "$ROOT_CREDENTIALS_FILE"'
    assert tool in realm["command"][2].splitlines()
    realm_env = env_of(realm)
    assert secret_ref(realm_env["ROOT_CLIENT_SECRET"]) == (settings.root_credentials_secret, "client-secret")
    assert realm_env["QUARKUS_DATASOURCE_JDBC_URL"]["value"] == properties(rendered, name)[1][
        "quarkus.datasource.jdbc.url"]
    assert secret_ref(realm_env["QUARKUS_DATASOURCE_USERNAME"]) == ("postgres-polaris-credentials", "username")

    # What it does on a first and a later sync: tests/conformance/test_polaris_bootstrap.py.
    assert catalog["name"] == "bootstrap-catalog"
    request = json.loads(env_of(catalog)["CATALOG_REQUEST"]["value"])["catalog"]
    storage = request["storageConfigInfo"]
    assert request["name"] == settings.catalog
    assert request["properties"]["default-base-location"] == f"s3://{settings.warehouse_bucket}/"
    assert settings.warehouse_bucket in environment.storage.object_store.buckets
    assert storage["endpoint"] == storage["endpointInternal"] == minio.endpoint(environment)
    assert storage["pathStyleAccess"] is True and storage["storageType"] == "S3"


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_scale_and_exposure_follow_the_settings(rendered, environments, name: str) -> None:
    settings = environments[name].catalog.polaris
    objects = catalog_objects(rendered, name)
    deployment, _ = server(rendered, name)
    autoscalers = [o for o in objects.values() if o["kind"] == "HorizontalPodAutoscaler"]
    budgets = [o for o in objects.values() if o["kind"] == "PodDisruptionBudget"]
    if settings.autoscaling:
        assert "replicas" not in deployment["spec"] and len(autoscalers) == 1
    else:
        assert deployment["spec"]["replicas"] == settings.replicas and autoscalers == []
    most = settings.autoscaling.max_replicas if settings.autoscaling else settings.replicas
    assert len(budgets) == (1 if most > 1 else 0)
    ingresses = [o for o in objects.values() if o["kind"] == "Ingress"]
    if settings.ingress is None:
        assert ingresses == []
    else:
        [rule] = ingresses[0]["spec"]["rules"]
        assert rule["host"] == settings.ingress.host
        assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "polaris", "port": {"name": "api"}}


def test_environments_scale_polaris_differently(environments) -> None:
    assert environments["dev"].catalog.polaris.replicas == 1
    prod = environments["prod"].catalog.polaris
    assert prod.autoscaling and prod.autoscaling.min_replicas > 1 and prod.ingress


def test_warehouse_bucket_must_be_a_created_bucket(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text('platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                    'catalog:\n  polaris:\n    warehouse_bucket: elsewhere\n')
    with pytest.raises(FloeError, match="warehouse_bucket 'elsewhere' is not one of storage.object_store.buckets"):
        load_environment(path)


def requests(rendered, name: str) -> dict[str, str]:
    """The bootstrap's request lists, as its container mounts them."""
    [catalog] = pod_spec(bootstrap(rendered, name))["containers"]
    assert {"mountPath": "/etc/polaris-bootstrap", "name": "config", "readOnly": True} in catalog["volumeMounts"]
    assert env_of(catalog)["REQUESTS"]["value"] == "/etc/polaris-bootstrap"
    return find(rendered[name], "ConfigMap", "polaris-bootstrap-requests")["data"]


def grant_lines(rendered, name: str) -> list[tuple[str, str, str]]:
    """(catalog role, privilege, namespace or "") of each rendered grant request."""
    found = []
    for line in requests(rendered, name)["grants"].splitlines():
        role, body = line.split(" ", 1)
        grant = json.loads(body)["grant"]
        found.append((role, grant["privilege"], ".".join(grant.get("namespace", []))))
    return found


WRITE = ["NAMESPACE_LIST", "NAMESPACE_READ_PROPERTIES", "TABLE_CREATE", "TABLE_DROP", "TABLE_LIST", "TABLE_READ_DATA",
         "TABLE_READ_PROPERTIES", "TABLE_WRITE_DATA", "TABLE_WRITE_PROPERTIES", "VIEW_CREATE", "VIEW_DROP", "VIEW_LIST",
         "VIEW_READ_PROPERTIES", "VIEW_WRITE_PROPERTIES"]
READ = ["NAMESPACE_LIST", "NAMESPACE_READ_PROPERTIES", "TABLE_LIST", "TABLE_READ_DATA", "TABLE_READ_PROPERTIES",
        "VIEW_LIST", "VIEW_READ_PROPERTIES"]


def test_the_bootstrap_manages_each_products_principal_and_the_semantic_layers(rendered) -> None:
    """prod: a principal per product (writes its namespace, marketing reads sales'), Cube's reads the catalog;
    each one's credentials are its Secret's, mounted for the bootstrap alone."""
    spec = pod_spec(bootstrap(rendered, "prod"))
    [catalog] = spec["containers"]
    lists = requests(rendered, "prod")
    principals = ["floe-product-sales", "floe-product-marketing", "floe-semantic"]
    assert [line.split(" ", 1)[0] for line in lists["principals"].splitlines()] == principals
    assert lists["namespaces"] == '{"namespace": ["sales"]}\n{"namespace": ["marketing"]}\n'
    assert grant_lines(rendered, "prod") == (
        [("floe-product-sales", p, "sales") for p in WRITE]
        + [("floe-product-marketing", p, "marketing") for p in WRITE]
        + [("floe-product-marketing", p, "sales") for p in READ]
        + [("floe-semantic", p, "") for p in ["CATALOG_READ_PROPERTIES", *READ]])
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert {m["mountPath"]: volumes[m["name"]]["secret"]["secretName"] for m in catalog["volumeMounts"]
            if m["mountPath"].startswith("/run/polaris-principals/")} == {
        "/run/polaris-principals/floe-product-sales": "floe-sales-catalog-credentials",
        "/run/polaris-principals/floe-product-marketing": "floe-marketing-catalog-credentials",
        "/run/polaris-principals/floe-semantic": "cube-catalog-credentials",
    }
    # Only the init container that bootstraps the realm and this one read any credentials.
    assert [c["name"] for c in spec["initContainers"]] == ["create-schema", "bootstrap-realm"]


def test_dev_has_no_semantic_principal_without_a_catalog_attach(rendered) -> None:
    """Without an extension source Cube attaches no catalog and reads no catalog Secret: no principal for it."""
    assert requests(rendered, "dev")["principals"] == (
        'floe-product-sales /run/polaris-principals/floe-product-sales {"principal": {"name": "floe-product-sales"}}\n')
    assert {role for role, _, _ in grant_lines(rendered, "dev")} == {"floe-product-sales"}


PRODUCTS = ('platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\ndata_products:\n'
            '  - {name: sales, image: "r.example.com/s:1", module: s, dlt: {module: s.i}}\n'
            '  - {name: marketing, image: "r.example.com/m:1", module: m, dlt: {module: m.i}, reads: READS}\n')


@pytest.mark.parametrize(("reads", "message"), [
    ("[marketing]", r"data_products\.1\.reads\.0: 'marketing' is this data product"),
    ("[finance]", r"data_products\.1\.reads\.0: 'finance' is not a data product of this environment; known: "
                  "marketing, sales"),
    ("[sales, sales]", r"data_products\.1\.reads\.1: 'sales' is listed twice"),
])
def test_a_product_reads_other_existing_products(tmp_path: Path, reads: str, message: str) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(PRODUCTS.replace("READS", reads))
    with pytest.raises(FloeError, match=message):
        load_environment(path)
    path.write_text(PRODUCTS.replace("READS", "[sales]"))
    assert load_environment(path).data_products[1].reads == ("sales",)


def test_a_changed_request_list_changes_the_jobs_template(rendered) -> None:
    """Flux recreates the Job only when its template changes: the lists' checksum is on it, so dev (one
    product, no Cube principal) differs from staging, and staging's lists and prod's, the same, do not."""
    def annotation(name: str) -> str:
        template = bootstrap(rendered, name)["spec"]["template"]
        return template["metadata"]["annotations"]["floe.dev/config-checksum"]

    assert requests(rendered, "staging") == requests(rendered, "prod") != requests(rendered, "dev")
    assert annotation("staging") == annotation("prod") != annotation("dev")
