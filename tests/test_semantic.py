"""The semantic tier: Cube API and refresh worker on Cube Store, and blue-green upgrades."""

import cdk8s
import pytest

from floe.components import cube
from floe.config.common import Autoscaling, BlueGreen
from floe.config.loader import load_environment
from floe.config.resources import BUILTIN_PRESETS
from floe.constructs.container import Container, Port
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import RunAs
from floe.constructs.service import PlatformService, ServiceProps, WorkloadKind
from floe.errors import FloeError
from floe.tiers import SEMANTIC, SYNC_WAVE, Step
from tests.conftest import ENVIRONMENT_NAMES, containers, find, pod_spec

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
    object_store_secret = (environment.semantic.object_store_credentials_secret
                           or environment.storage.minio.credentials_secret)
    api = containers(api_workload(objects, environment))[0]
    worker = containers(find(objects, "Deployment", cube.REFRESH_WORKER))[0]
    for container in (api, worker):
        assert value(container, "CUBEJS_CACHE_AND_QUEUE_DRIVER") == "cubestore"
        assert value(container, "CUBEJS_CUBESTORE_HOST") == f"cube-store-router.{namespace}.svc.cluster.local"
        assert value(container, "CUBEJS_CUBESTORE_PORT") == "3030"
        assert secret_ref(container, "CUBEJS_API_SECRET") == (environment.semantic.api_secret, "api-secret")
        assert value(container, "CUBEJS_DB_TYPE") == "duckdb"
        assert value(container, "CUBEJS_DB_DUCKDB_S3_URL_STYLE") == "path"
        assert value(container, "CUBEJS_DB_DUCKDB_S3_ENDPOINT") == f"minio.{namespace}.svc.cluster.local:9000"
        assert secret_ref(container, "CUBEJS_DB_DUCKDB_S3_SECRET_ACCESS_KEY") == (object_store_secret, "root-password")
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in env_of(container)
        assert all("value" not in e for n, e in env_of(container).items() if "SECRET" in n)
    assert value(api, "CUBEJS_REFRESH_WORKER") == "false"
    assert value(worker, "CUBEJS_REFRESH_WORKER") == "true"
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # The refresh worker takes no client traffic: no Service of its own.
    assert not [o for o in objects.values() if o["kind"] == "Service" and o["metadata"]["name"] == cube.REFRESH_WORKER]


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_duckdb_extensions_land_in_a_writable_home(rendered, environments, name: str) -> None:
    workload = api_workload(semantic(rendered, name), environments[name])
    api = containers(workload)[0]
    mounts = {m["mountPath"] for m in api["volumeMounts"]}
    assert value(api, "HOME") in mounts
    assert cube.MODEL_DIR in mounts
    assert api["securityContext"]["readOnlyRootFilesystem"] is True


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
        assert value(store, "CUBESTORE_MINIO_BUCKET") in environment.storage.minio.buckets
        assert value(store, "CUBESTORE_MINIO_SUB_PATH") == environment.semantic.cube_store.sub_path
        assert secret_ref(store, "CUBESTORE_MINIO_ACCESS_KEY_ID")[1] == "root-user"
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
    path = tmp_path / "qa.yaml"
    path.write_text('platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
                    'semantic:\n  cube_store:\n    bucket: not-created\n')
    with pytest.raises(FloeError, match="semantic.cube_store.bucket 'not-created' is not one of storage.minio.buckets"):
        load_environment(path)


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
