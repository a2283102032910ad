"""The semantic tier: Cube API and refresh worker on Cube Store, and blue-green upgrades."""


import cdk8s
import pytest

from floe.app import render_objects
from floe.components import cube
from floe.config.common import Autoscaling, BlueGreen
from floe.config.loader import ENVIRONMENTS_DIR as ENVIRONMENTS
from floe.config.loader import load_environment
from floe.config.resources import BUILTIN_PRESETS
from floe.constructs.container import Container, Port
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import RunAs
from floe.constructs.service import PlatformService, ServiceProps, WorkloadKind
from floe.security.secrets import SecretUse, inventory
from floe.tiers import SEMANTIC, SYNC_WAVE, Step
from tests.conftest import ENVIRONMENT_NAMES, containers, environment_error, find, pod_spec

FOLDER = f"{SEMANTIC.folder}/"


def wave(obj: dict) -> int:
    return int(obj["metadata"]["annotations"][SYNC_WAVE])


def semantic(rendered, name: str) -> dict[str, dict]:
    return {path: obj for path, obj in rendered[name].items() if path.startswith(FOLDER)}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def value(container: dict, name: str) -> str:
    return env_of(container)[name]["value"]


def secret_ref(container: dict, name: str) -> tuple[str, str]:
    ref = env_of(container)[name]["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def api_workload(objects: dict[str, dict], environment) -> dict:
    kind = "Rollout" if environment.semantic.api.blue_green else "Deployment"
    return find(objects, kind, cube.API)


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_cube_api_kind_follows_blue_green_setting(rendered, environments, name: str) -> None:
    objects = semantic(rendered, name)
    blue_green = environments[name].semantic.api.blue_green is not None
    kinds = {o["kind"] for o in objects.values() if o["metadata"]["name"] == cube.API}
    assert ("Rollout" in kinds) is blue_green
    assert ("Deployment" in kinds) is not blue_green


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_cube_api_probes_its_declared_http_port(rendered, environments, name: str) -> None:
    api = containers(api_workload(semantic(rendered, name), environments[name]))[0]
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports == {"http": 4000, "sql": 15432}
    assert value(api, "PORT") == "4000"
    assert value(api, "CUBEJS_PG_SQL_PORT") == "15432"
    assert api["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["startupProbe"]["httpGet"]["port"] == "http"


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_cube_api_and_refresh_worker_share_cube_store_and_secret(rendered, environments, name: str) -> None:
    environment = environments[name]
    objects = semantic(rendered, name)
    namespace = environment.namespaces.platform
    api = containers(api_workload(objects, environment))[0]
    worker = containers(find(objects, "Deployment", cube.REFRESH_WORKER))[0]
    for container in (api, worker):
        assert value(container, "CUBEJS_CACHE_AND_QUEUE_DRIVER") == "cubestore"
        assert value(container, "CUBEJS_CUBESTORE_HOST") == f"cube-store-router.{namespace}.svc.cluster.local"
        assert value(container, "CUBEJS_CUBESTORE_PORT") == "3030"
        assert secret_ref(container, "CUBEJS_API_SECRET") == (environment.semantic.api_secret, "api-secret")
        assert value(container, "CUBEJS_DB_TYPE") == "duckdb"
        # The driver's own DuckDB settings stay unset: they install or autoinstall from the internet.
        assert not [n for n in env_of(container) if n.startswith("CUBEJS_DB_DUCKDB_")]
        if environment.semantic.duckdb_extensions:
            assert secret_ref(container, "FLOE_CATALOG_CLIENT_ID") == ("cube-catalog-credentials", "client-id")
            assert secret_ref(container, "FLOE_CATALOG_CLIENT_SECRET") == ("cube-catalog-credentials", "client-secret")
            # Its own MinIO user (floe-semantic), which may only read.
            assert secret_ref(container, "FLOE_OBJECT_STORE_ACCESS_KEY_ID") == ("cube-object-store-credentials",
                                                                                "access-key")
            assert secret_ref(container, "FLOE_OBJECT_STORE_SECRET_ACCESS_KEY") == ("cube-object-store-credentials",
                                                                                    "secret-key")
        else:  # nothing reads them without the extensions
            assert not [n for n in env_of(container) if n.startswith(("FLOE_CATALOG_", "FLOE_OBJECT_STORE_"))]
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in env_of(container)
        assert all("value" not in e for n, e in env_of(container).items() if "SECRET" in n)
    assert value(api, "CUBEJS_REFRESH_WORKER") == "false"
    assert value(worker, "CUBEJS_REFRESH_WORKER") == "true"
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # The refresh worker takes no client traffic: no Service of its own.
    assert not [o for o in objects.values() if o["kind"] == "Service" and o["metadata"]["name"] == cube.REFRESH_WORKER]


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_duckdb_extensions_land_in_a_writable_directory(rendered, environments, name: str) -> None:
    workload = api_workload(semantic(rendered, name), environments[name])
    api = containers(workload)[0]
    mounts = {m["mountPath"] for m in api["volumeMounts"]}
    assert value(api, "HOME") in mounts
    assert "/cube/conf/model" in mounts
    assert ("/cube/duckdb-extensions" in mounts) is (name != "dev")  # dev declares no extension source
    assert api["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_api_and_refresh_worker_load_the_rendered_cube_js(rendered, environments, name: str) -> None:
    objects = semantic(rendered, name)
    config = find(objects, "ConfigMap", "cube-config")
    assert list(config["data"]) == ["cube.js"]
    for workload in (api_workload(objects, environments[name]), find(objects, "Deployment", cube.REFRESH_WORKER)):
        spec = pod_spec(workload)
        mount = next(m for m in containers(workload)[0]["volumeMounts"] if m["mountPath"] == "/cube/conf/cube.js")
        assert mount == {"mountPath": "/cube/conf/cube.js", "name": "config", "readOnly": True, "subPath": "cube.js"}
        assert {"name": "config", "configMap": {"name": "cube-config"}} in spec["volumes"]
        # A subPath mount never sees a changed ConfigMap: the checksum rolls the pods instead.
        assert "floe.dev/config-checksum" in workload["spec"]["template"]["metadata"]["annotations"]


def test_without_an_extension_source_duckdb_installs_nothing(rendered) -> None:
    config = find(semantic(rendered, "dev"), "ConfigMap", "cube-config")["data"]["cube.js"]
    assert 'const statements = [\n  "SET autoinstall_known_extensions = false"\n];' in config
    assert "INSTALL" not in config and "LOAD" not in config and "ATTACH" not in config


def test_prod_attaches_the_catalog_with_extensions_from_its_mirror(rendered) -> None:
    config = find(semantic(rendered, "prod"), "ConfigMap", "cube-config")["data"]["cube.js"]
    for statement in (
        "SET autoinstall_known_extensions = false",
        "SET extension_directory = '/cube/duckdb-extensions'",
        "INSTALL iceberg FROM 'http://duckdb-extensions.floe.example.internal'",
        "CREATE SECRET floe_catalog (TYPE iceberg, CLIENT_ID ${FLOE_CATALOG_CLIENT_ID}, "
        "CLIENT_SECRET ${FLOE_CATALOG_CLIENT_SECRET}, OAUTH2_SERVER_URI "
        "'https://polaris.floe-platform.svc.cluster.local:8181/api/catalog/v1/oauth/tokens', "
        "OAUTH2_SCOPE 'PRINCIPAL_ROLE:ALL')",
        "ATTACH 'warehouse' AS \\\"warehouse\\\" (TYPE iceberg, SECRET floe_catalog, "
        "ENDPOINT 'https://polaris.floe-platform.svc.cluster.local:8181/api/catalog', ACCESS_DELEGATION_MODE 'none')",
    ):
        assert f'"{statement}"' in config
    assert config.index("autoinstall_known_extensions") < config.index("INSTALL httpfs")


def test_sql_literals_double_their_quotes() -> None:
    assert cube.sql_literal("it's") == "'it''s'"


def test_extension_repository_must_be_a_plain_url(tmp_path) -> None:
    error = environment_error(tmp_path, 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                                        "semantic:\n  duckdb_extensions:\n    repository: https://mirror/x'; DROP\n")
    assert "qa.yaml:6: semantic.duckdb_extensions.repository: " in error
    assert "is not an extension repository URL: use http://host[:port][/path] with no query" in error


def test_extension_repository_is_plain_http(tmp_path) -> None:
    """DuckDB installs httpfs, its https client, from the repository: over https it could not fetch it."""
    assert "not https: DuckDB would need httpfs to install httpfs" in environment_error(
        tmp_path, 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                  "semantic:\n  duckdb_extensions:\n    repository: https://duckdb-extensions.example.org\n")


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_cube_store_router_and_workers(rendered, environments, name: str) -> None:
    environment = environments[name]
    objects = semantic(rendered, name)
    namespace = environment.namespaces.platform
    workers = environment.semantic.cube_store.workers.replicas
    router_set = find(objects, "StatefulSet", cube.ROUTER)
    worker_set = find(objects, "StatefulSet", cube.WORKER)
    assert router_set["spec"]["replicas"] == 1
    assert worker_set["spec"]["replicas"] == workers
    expected_workers = ",".join(
        f"cube-store-worker-{i}.cube-store-worker-headless.{namespace}.svc.cluster.local:9001" for i in range(workers)
    )
    for statefulset in (router_set, worker_set):
        headless = find(objects, "Service", statefulset["spec"]["serviceName"])
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]
        store = containers(statefulset)[0]
        assert value(store, "CUBESTORE_WORKERS") == expected_workers
        assert value(store, "CUBESTORE_SERVER_NAME").startswith(
            f"$(K8S_POD_NAME).{statefulset['spec']['serviceName']}.{namespace}.svc.cluster.local:")
        # K8S_POD_NAME must come before the variable that expands it.
        names = [e["name"] for e in store["env"]]
        assert names.index("K8S_POD_NAME") < names.index("CUBESTORE_SERVER_NAME")
        assert value(store, "CUBESTORE_MINIO_BUCKET") in environment.storage.object_store.buckets
        assert value(store, "CUBESTORE_MINIO_SUB_PATH") == environment.semantic.cube_store.sub_path
        assert secret_ref(store, "CUBESTORE_MINIO_ACCESS_KEY_ID") == ("cube-store-object-store-credentials",
                                                                      "access-key")
        assert secret_ref(store, "CUBESTORE_MINIO_SECRET_ACCESS_KEY") == ("cube-store-object-store-credentials",
                                                                          "secret-key")
        data_dir = value(store, "CUBESTORE_DATA_DIR")
        scratch = {m["mountPath"]: m["name"] for m in store["volumeMounts"]}
        assert data_dir.startswith(cube.CUBE_STORE_DIR) and cube.CUBE_STORE_DIR in scratch
        volumes = {v["name"]: v for v in pod_spec(statefulset)["volumes"]}
        assert "emptyDir" in volumes[scratch[cube.CUBE_STORE_DIR]]
        assert pod_spec(statefulset)["enableServiceLinks"] is False

    router = containers(router_set)[0]
    assert value(router, "CUBESTORE_SERVER_NAME").endswith(":9999")
    router_ports = {p["name"]: p["containerPort"] for p in router["ports"]}
    assert router_ports == {"http": 3030, "meta": 9999, "status": 3031}
    assert router["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "status"}
    assert router["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "status"}

    worker = containers(worker_set)[0]
    assert value(worker, "CUBESTORE_WORKER_PORT") == "9001"
    assert value(worker, "CUBESTORE_META_ADDR") == (
        f"cube-store-router-0.cube-store-router-headless.{namespace}.svc.cluster.local:9999")
    assert worker["readinessProbe"]["tcpSocket"] == {"port": "worker"}


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_no_service_name_collides_with_cube_store_variables(rendered, name: str) -> None:
    services = [o["metadata"]["name"] for o in semantic(rendered, name).values() if o["kind"] == "Service"]
    assert services and not [s for s in services if s.replace("-", "_").upper().startswith("CUBESTORE")]


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_cube_store_syncs_before_the_api(rendered, environments, name: str) -> None:
    objects = semantic(rendered, name)
    store = wave(find(objects, "StatefulSet", cube.ROUTER))
    assert wave(find(objects, "StatefulSet", cube.WORKER)) == store
    assert store < wave(api_workload(objects, environments[name]))
    assert store < wave(find(objects, "Deployment", cube.REFRESH_WORKER))


@pytest.mark.parametrize("name", [n for n in ENVIRONMENT_NAMES if n != "dev"])
def test_api_is_replicated_outside_dev(environments, name: str) -> None:
    api = environments[name].semantic.api
    assert (api.autoscaling.min_replicas if api.autoscaling else api.replicas) >= 2
    assert environments[name].semantic.cube_store.workers.replicas >= 2


def test_prod_promotes_by_hand(environments) -> None:
    assert environments["prod"].semantic.api.blue_green.auto_promote is False


@pytest.mark.parametrize("name", [n for n in ENVIRONMENT_NAMES if n != "dev"])
def test_blue_green_rollout_services_and_autoscaler(rendered, environments, name: str) -> None:
    settings = environments[name].semantic.api
    objects = semantic(rendered, name)
    rollout = find(objects, "Rollout", cube.API)
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1"
    strategy = rollout["spec"]["strategy"]["blueGreen"]
    assert strategy["autoPromotionEnabled"] is settings.blue_green.auto_promote
    assert strategy["scaleDownDelaySeconds"] == settings.blue_green.scale_down_delay_seconds
    for service in (strategy["activeService"], strategy["previewService"]):
        assert find(objects, "Service", service)["spec"]["selector"] == rollout["spec"]["selector"]["matchLabels"]
    assert strategy["activeService"] != strategy["previewService"]
    autoscaler = [o for o in objects.values() if o["kind"] == "HorizontalPodAutoscaler"
                  and o["metadata"]["name"] == cube.API]
    if settings.autoscaling:
        assert "replicas" not in rollout["spec"]
        assert autoscaler[0]["spec"]["scaleTargetRef"] == {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": cube.API}
    else:
        assert rollout["spec"]["replicas"] == settings.replicas and not autoscaler


def test_cube_store_bucket_must_be_a_minio_bucket(tmp_path) -> None:
    assert "semantic.cube_store.bucket 'not-created' is not one of storage.object_store.buckets" in environment_error(
        tmp_path, 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                  'semantic:\n  cube_store:\n    bucket: not-created\n')


# PlatformService blue-green on its own ----------------------------------------------------------------


def tiny_service(**props) -> dict[tuple[str, str], dict]:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    web = Container(name="web", image="example.org/web:1.0", resources=BUILTIN_PRESETS["small"],
                    ports=(Port("http", 8080),), probes=Probes.http("http", "/live", "/ready"))
    PlatformService(chart, "web", ServiceProps(
        identity=AppIdentity(name="web", instance="web", component="api", version="1.0", tier=SEMANTIC),
        namespace="ns",
        pod=PodProps(containers=(web,), run_as=RunAs(1000, 1000)),
        **props,
    ))
    return {(o["kind"], o["metadata"]["name"]): o for o in chart.to_json()}


def test_platform_service_renders_a_rollout_in_place_of_the_deployment() -> None:
    plain = tiny_service(replicas=3)
    blue_green = tiny_service(replicas=3, blue_green=BlueGreen(auto_promote=True, scale_down_delay_seconds=60))
    assert ("Deployment", "web") not in blue_green
    rollout, deployment = blue_green[("Rollout", "web")], plain[("Deployment", "web")]
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1"
    assert rollout["metadata"] == {**deployment["metadata"], "annotations": {
        **deployment["metadata"]["annotations"], "argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"}}
    for key in ("replicas", "selector", "template", "revisionHistoryLimit"):
        assert rollout["spec"][key] == deployment["spec"][key], key
    assert rollout["spec"]["strategy"] == {"blueGreen": {
        "activeService": "web", "previewService": "web-preview",
        "autoPromotionEnabled": True, "scaleDownDelaySeconds": 60}}
    active, preview = blue_green[("Service", "web")], blue_green[("Service", "web-preview")]
    assert active["spec"]["ports"] == preview["spec"]["ports"] == plain[("Service", "web")]["spec"]["ports"]
    assert preview["spec"]["selector"] == active["spec"]["selector"]
    assert ("Service", "web-preview") not in plain
    # Everything else is unchanged.
    assert set(blue_green) - {("Rollout", "web"), ("Service", "web-preview")} == set(plain) - {("Deployment", "web")}


def test_platform_service_autoscales_the_rollout() -> None:
    objects = tiny_service(autoscaling=Autoscaling(min_replicas=2, max_replicas=4), blue_green=BlueGreen())
    assert "replicas" not in objects[("Rollout", "web")]["spec"]
    assert objects[("Rollout", "web")]["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"] is False
    assert objects[("HorizontalPodAutoscaler", "web")]["spec"]["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web"}
    assert objects[("PodDisruptionBudget", "web")]


def test_blue_green_needs_a_rolling_deployment() -> None:
    with pytest.raises(ValueError, match="blue-green"):
        tiny_service(kind=WorkloadKind.STATEFUL_SET, blue_green=BlueGreen())
    with pytest.raises(ValueError, match="blue-green"):
        tiny_service(recreate=True, blue_green=BlueGreen())


def test_blue_green_keeps_the_step_wave() -> None:
    objects = tiny_service(blue_green=BlueGreen())
    assert wave(objects[("Rollout", "web")]) == SEMANTIC.wave_of(Step.SERVE)


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_cube_pods_may_reach_the_catalog_api(rendered, environments, name: str) -> None:
    objects = rendered[name]
    policy = find(objects, "NetworkPolicy", "allow-polaris")["spec"]
    polaris = containers(find(objects, "Deployment", "polaris"))[0]
    assert {"name": "api", "containerPort": 8181, "protocol": "TCP"} in polaris["ports"]
    for workload in (api_workload(objects, environments[name]), find(objects, "Deployment", cube.REFRESH_WORKER)):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        ports = [rule["ports"] for rule in policy["ingress"] for peer in rule["from"]
                 if "namespaceSelector" not in peer and "podSelector" in peer
                 and peer["podSelector"]["matchLabels"].items() <= labels.items()]
        assert ports == [[{"port": "api", "protocol": "TCP"}]]


def test_validate_notices_say_what_cube_starts_without(environments) -> None:
    assert cube.notices(environments["dev"]) == (
        "semantic.schema_configmap is not set: Cube starts on an empty data model and serves no cubes",
        "semantic.duckdb_extensions is not set: Cube's DuckDB installs and loads no extension and attaches no "
        "catalog, so it reads neither the object store nor the Iceberg tables",
    )
    assert cube.notices(environments["prod"]) == (
        "semantic.schema_configmap is not set: Cube starts on an empty data model and serves no cubes",)


def test_the_semantic_layers_catalog_secret_is_inventoried_and_fetched_in_prod(rendered) -> None:
    uses = {(u.namespace, u.name): u for u in inventory(rendered["prod"].values())}
    assert uses["floe-platform", "cube-catalog-credentials"] == SecretUse(
        "floe-platform", "cube-catalog-credentials", ("client-id", "client-secret"),
        # Cube logs in with it; the catalog's bootstrap sets the principal's credentials to it.
        ("Deployment/cube-refresh-worker", "Job/polaris-bootstrap", "Rollout/cube"))
    external = find(rendered["prod"], "ExternalSecret", "cube-catalog-credentials")["spec"]
    assert [d["remoteRef"] for d in external["data"]] == [
        {"key": "floe/prod/floe-platform/cube-catalog-credentials", "property": "client-id"},
        {"key": "floe/prod/floe-platform/cube-catalog-credentials", "property": "client-secret"}]
    # dev declares no extension mirror: nothing reads it there.
    assert ("floe-platform", "cube-catalog-credentials") not in {
        (u.namespace, u.name) for u in inventory(rendered["dev"].values())}


EXTENSION_IMAGE = "registry.example.com/platform/duckdb-extensions:1.5.5"


def with_extension_image(tmp_path) -> dict[str, dict]:
    """prod, its extensions from an image in place of its mirror, rendered."""
    text = (ENVIRONMENTS / "prod.yaml").read_text()
    mirror = "    repository: http://duckdb-extensions.floe.example.internal\n"
    assert mirror in text
    path = tmp_path / "qa.yaml"
    path.write_text(text.replace(mirror, f"    image: {EXTENSION_IMAGE}\n    image_path: /opt/duckdb\n"))
    folders = render_objects(load_environment(path))
    return {f"{folder}/{index}": obj for folder, objects in folders.items() for index, obj in enumerate(objects)}


def test_an_extension_image_is_copied_by_an_init_container_and_only_loaded(tmp_path) -> None:
    objects = with_extension_image(tmp_path)
    for workload in (find(objects, "Rollout", cube.API), find(objects, "Deployment", cube.REFRESH_WORKER)):
        spec = pod_spec(workload)
        (copy,) = spec["initContainers"]
        assert copy["image"] == EXTENSION_IMAGE
        assert copy["command"] == ["cp", "-R", "/opt/duckdb/.", "/cube/duckdb-extensions"]
        assert copy["securityContext"]["readOnlyRootFilesystem"] is True
        # The same emptyDir in both containers.
        mounted = {m["mountPath"]: m["name"] for m in copy["volumeMounts"]}
        server = {m["mountPath"]: m["name"] for m in containers(workload)[0]["volumeMounts"]}
        assert mounted["/cube/duckdb-extensions"] == server["/cube/duckdb-extensions"]
        assert copy["resources"] == containers(workload)[0]["resources"]
    config = find(objects, "ConfigMap", "cube-config")["data"]["cube.js"]
    assert "INSTALL" not in config
    assert '"LOAD httpfs",\n  "LOAD avro",\n  "LOAD iceberg",' in config
    assert "SET extension_directory = '/cube/duckdb-extensions'" in config


@pytest.mark.parametrize(("source", "message"), [
    ("{}", "qa.yaml:5: semantic.duckdb_extensions.repository: set exactly one of repository (a mirror DuckDB "
           "installs from) and image"),
    ("{repository: 'http://mirror.example.org', image: 'registry.example.com/x:1'}",
     "semantic.duckdb_extensions.image: set exactly one of repository"),
    ("{repository: 'http://mirror.example.org', image_path: /opt}",
     "semantic.duckdb_extensions.image_path: image_path goes with image, not with repository"),
    ("{image: 'registry.example.com/x:latest'}", "is not a pinned image"),
])
def test_an_extension_source_is_one_mirror_or_one_pinned_image(tmp_path, source: str, message: str) -> None:
    assert message in environment_error(tmp_path, 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                                                  f"semantic:\n  duckdb_extensions: {source}\n")
