"""Dagster 1.13.24, the pinned image's release, on the committed render of every environment.

Per environment, the pods come up as the platform starts them: the migration Job migrates the
database, the code locations serve, the daemon and the webserver start. Then: the schema exists; the
servers' instance loads in their pods (and, in the migration pod, which mounts no token, it cannot:
why the migration has an instance file of its own); the webserver loads every code location and its
readiness probe agrees; the code locations' gRPC probe and the daemon's liveness probe pass (and fail
where they should); and a run submitted through the webserver is launched by the daemon as a
Kubernetes Job fit for the product: its image, service account, Secrets and Job policy, within the
jobs namespace's limits.

Each pod runs as its rendered container would (``pod.Pod``): its command, env, mounted instance and
workspace files, token and, where it can run Dagster's interpreter, its user. PostgreSQL is a real
server (tests.test_backups's) behind a TLS proxy (prod verifies it with ``verify-full``); the code
locations serve a stand-in of a product's definitions (``dagster_definitions``) under the product's
module name; the Kubernetes API is ``dagster_kube``'s stand-in. Ports are the one thing changed on
purpose: every server listens on a free port instead of its rendered one (pods have a network
namespace each, this machine has one), and the test points whatever names the rendered port at it.
"""

import json
import os
import posixpath
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from floe.components.dagster import (
    CODE_LOCATION_PORT,
    DAEMON,
    DAGSTER_HOME,
    INSTANCE_CONFIG_MAP,
    INSTANCE_FILE,
    MIGRATION_INSTANCE_FILE,
    PG_PASSWORD_ENV,
    PG_USERNAME_ENV,
    WEBSERVER,
    WEBSERVER_PORT,
    WORKSPACE_CONFIG_MAP,
    WORKSPACE_DIR,
    WORKSPACE_FILE,
)
from tests.conformance.dagster_kube import CreatedJob, FakeKubernetesApi
from tests.conformance.dagster_postgres_tls import PostgresTlsProxy
from tests.conformance.dagster_venv import DAGSTER_VERSION, VENV, ensure_dagster
from tests.conformance.pod import KUBERNETES_SERVICE, POD_DIR, Pod, passable, quantity
from tests.conftest import ENVIRONMENT_NAMES, find
from tests.test_backups import Server, _free_port
from tests.test_backups import server as postgres_server  # noqa: F401 (a fixture: test_backups' server)

PINNED_TOOLS = (VENV,)
"""Built with the tier's other pinned tools, side by side (conftest)."""

HERE = Path(__file__).resolve().parent
MIGRATION = "dagster-migrate"
"""The migration Job and its container."""
LOCATIONS = {"dev": {"sales"}, "staging": {"sales", "marketing"}, "prod": {"sales", "marketing"}}
"""The code locations each environment's workspace must load: its data products."""
WORKLOADS = ("Deployment", "Rollout", "Job")
"""The kinds Dagster's pods are rendered as (prod's webserver is an Argo Rollout)."""
STORAGES = ("run_storage", "event_log_storage", "schedule_storage")
JOB_NAME = "orders_job"
"""The stand-in definitions' job (dagster_definitions.py)."""
WORKSPACE_QUERY = """{workspaceOrError {__typename ... on Workspace {locationEntries {name loadStatus
  locationOrLoadError {__typename ... on PythonError {message}}}}}}"""
LAUNCH_RUN = """mutation Launch($params: ExecutionParams!) {launchRun(executionParams: $params) {__typename
  ... on LaunchRunSuccess {run {runId status}} ... on Error {message}}}"""
BUILD_INSTANCE = """from dagster import DagsterInstance
instance = DagsterInstance.get()
for part in (instance.run_launcher, instance.run_coordinator, instance.compute_log_manager):
    print(type(part).__name__)
"""
"""Builds what the instance builds lazily, and names each part's class."""


# The pinned Dagster and its peers --------------------------------------------------------------

@pytest.fixture(scope="session")
def dagster_bin() -> Path:
    """The folder of the pinned Dagster's programs (built into .cache/ the first time: about half a minute)."""
    return ensure_dagster()[0]


@pytest.fixture(scope="module")
def database_server(request: pytest.FixtureRequest, require: Callable[[str, str], str],
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int, str]]:
    """The PostgreSQL server, the port of its TLS proxy (where the pods connect), and the PEM of the
    self-signed certificate the proxy presents (for 127.0.0.1, where the pods' database host names
    point), to be given as the pods' CA."""
    server: Server = request.getfixturevalue("postgres_server")
    openssl = require("openssl", "Debian package openssl")
    folder = tmp_path_factory.mktemp("postgres-tls")
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    proxy = PostgresTlsProxy(server.port, cert, key)
    yield server, proxy.port, cert.read_text()
    proxy.close()


def wait_until(ready: Callable[[], bool], timeout: float, what: str,
               process: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what}: the process exited with {process.returncode}\n{tail(log)}")
        if ready():
            return
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout}s\n{tail(log)}")


def tail(log: Path | None) -> str:
    return log.read_text()[-4000:] if log and log.exists() else ""


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                     data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert "errors" not in body, body["errors"]
    return body["data"]


def serves(port: int) -> bool:
    """The webserver's startup and liveness check, ``GET /server_info``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def on_port(argv: list[str], rendered: int, port: int) -> list[str]:
    """``argv`` with its ``-p <rendered>`` replaced by ``-p <port>``."""
    flag = argv.index("-p")
    assert argv[flag + 1] == str(rendered), argv
    return [*argv[:flag + 1], str(port), *argv[flag + 2:]]


def locations(port: int) -> dict[str, tuple[str, str]]:
    """Location name → (loadStatus, what loaded: RepositoryLocation, or PythonError for a load error)."""
    workspace = graphql(port, WORKSPACE_QUERY)["workspaceOrError"]
    assert workspace["__typename"] == "Workspace", workspace
    return {e["name"]: (e["loadStatus"], e["locationOrLoadError"]["__typename"]) for e in workspace["locationEntries"]}


def database_secrets(job: dict, postgres: dict, server: Server, ca: str) -> dict[str, dict[str, str]]:
    """The Secret values the pods read: the database credentials the migration Job's env names, and
    the CA its ``sslrootcert`` points at (a Secret volume's item), when the database is verified."""
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    references = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in container["env"]
                  if v["name"] in (PG_USERNAME_ENV, PG_PASSWORD_ENV)}
    secrets: dict[str, dict[str, str]] = {}
    for variable, value in ((PG_USERNAME_ENV, server.user), (PG_PASSWORD_ENV, server.password)):
        secrets.setdefault(references[variable]["name"], {})[references[variable]["key"]] = value
    if "sslrootcert" in postgres["params"]:
        folder, file = posixpath.split(postgres["params"]["sslrootcert"])
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == folder]
        (volume,) = [v["secret"] for v in spec["volumes"] if v["name"] == mount["name"]]
        (item,) = [i for i in volume["items"] if i["path"] == file]
        secrets[volume["secretName"]] = {item["key"]: ca}
    return secrets


# One environment's Dagster -----------------------------------------------------------------------

class Platform:
    """One environment's rendered Dagster pods laid out on this machine, all on one database."""

    # Set by the `platform` fixture as it brings the environment up.
    migration: subprocess.CompletedProcess
    liveness_before: int
    """The exit code of the daemon's liveness probe before any daemon ran."""
    daemon_pod: Pod
    daemon: subprocess.Popen
    daemon_log: Path
    web: Pod
    web_port: int

    def __init__(self, name: str, objects: dict[str, dict], database: tuple[Server, int, str],
                 bin_dir: Path, kube: FakeKubernetesApi) -> None:
        self.name, self.objects = name, objects
        # Pods run as their own users: their folders sit where any user may pass (not in pytest's tmp_path).
        self.scratch = Path(tempfile.mkdtemp(prefix=f"floe-dagster-{name}-"))
        self.scratch.chmod(0o755)
        self.server, self.database_port, ca = database
        instance = yaml.safe_load(find(objects, "ConfigMap", INSTANCE_CONFIG_MAP)["data"][INSTANCE_FILE])
        self.postgres = instance["run_storage"]["config"]["postgres_db"]
        workspace = yaml.safe_load(find(objects, "ConfigMap", WORKSPACE_CONFIG_MAP)["data"][WORKSPACE_FILE])
        # Location (the data product) → its server's Service, which is also its Deployment's name.
        self.locations = {entry["grpc_server"]["location_name"]: entry["grpc_server"]["host"].split(".")[0]
                          for entry in workspace["load_from"]}
        self.bin_dir, self.kube = bin_dir, kube
        self.secrets = database_secrets(self.workload(MIGRATION), self.postgres, self.server, ca)
        self.hosts = {KUBERNETES_SERVICE: f"127.0.0.1:{kube.port}", self.postgres["hostname"]: "127.0.0.1"}
        self.processes: list[subprocess.Popen] = []
        self.site = self.folder("site")
        self.code_ports = {location: _free_port() for location in self.locations}

    def folder(self, label: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.scratch))
        folder.chmod(0o755)
        return folder

    def workload(self, name: str) -> dict:
        (obj,) = [o for o in self.objects.values() if o["metadata"]["name"] == name and o["kind"] in WORKLOADS]
        return obj

    def pod(self, obj: dict, container: str) -> Pod:
        """The container laid out, its instance file pointed at the test database's port."""
        pod = Pod.of(obj, container, self.folder(container), secrets=self.secrets, hosts=self.hosts,
                     rendered=self.objects.values())
        instance = pod.path(f"{DAGSTER_HOME}/{INSTANCE_FILE}")
        config = yaml.safe_load(instance.read_text())
        for section in STORAGES:
            postgres = config[section]["config"]["postgres_db"]
            assert (postgres["hostname"], postgres["port"]) == ("127.0.0.1", self.postgres["port"]), postgres
            postgres["port"] = self.database_port
        instance.write_text(yaml.safe_dump(config))
        return pod

    def options(self, pod: Pod) -> dict:
        """As the image runs it: its PATH (Dagster's programs first), and the pod's user where that user can
        run Dagster's interpreter (the venv's python links to the one pytest runs, which may sit in a
        private home folder; then the programs run as the current user)."""
        interpreter = (self.bin_dir / "python").resolve()
        user = f"floe-pod-{pod.uid_gid()[0]}" if passable(interpreter.parent) else None
        return {"user": user, "python_path": (self.site,),
                "extra_env": {"PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}"}}

    def run(self, pod: Pod, argv: list[str] | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
        return pod.run(argv, timeout=timeout, **self.options(pod))

    def run_all(self, commands: list[tuple[Pod, list[str]]]) -> list[subprocess.CompletedProcess]:
        """Runs the commands at once (each imports Dagster: seconds of CPU), in order of ``commands``."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(lambda command: self.run(*command), commands))

    def start(self, pod: Pod, argv: list[str], log_name: str = "server.log") -> tuple[subprocess.Popen, Path]:
        log = pod.root / POD_DIR / log_name
        process = pod.start(argv, log=log, **self.options(pod))
        self.processes.append(process)
        return process, log

    @staticmethod
    def stop(*processes: subprocess.Popen) -> None:
        """Stops them as the kubelet does: SIGTERM to all, SIGKILL to whatever still runs after a grace period
        (2 s: the shutdown itself is not under test)."""
        for process in processes:
            process.terminate()
        deadline = time.monotonic() + 2
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # The servers ------------------------------------------------------------------------------------

    def code_location(self, product: str, mutate: Callable[[dict], None] = lambda container: None) -> Pod:
        """The product's code location pod, serving the stand-in under the product's module (``-m``)."""
        name = self.locations[product]
        obj = json.loads(json.dumps(self.workload(name)))
        mutate(obj["spec"]["template"]["spec"]["containers"][0])
        pod = self.pod(obj, name)
        module = pod.command[pod.command.index("-m") + 1].split(".")
        package = self.site.joinpath(*module[:-1])
        package.mkdir(parents=True, exist_ok=True)
        for level in range(1, len(module)):
            self.site.joinpath(*module[:level], "__init__.py").touch()
        shutil.copyfile(HERE / "dagster_definitions.py", package / f"{module[-1]}.py")
        return pod

    def serve_code(self, servers: dict[str, tuple[Pod, int]]) -> list[subprocess.Popen]:
        """Starts each code location's rendered command on its port (location → pod, port), all at once;
        returns the servers once each one's rendered readiness probe passes."""
        started = {location: (pod, port, *self.start(pod, on_port(pod.command, CODE_LOCATION_PORT, port)))
                   for location, (pod, port) in servers.items()}
        for location, (pod, port, process, log) in started.items():
            probe = on_port(pod.handler("readinessProbe"), CODE_LOCATION_PORT, port)
            wait_until(lambda port=port: listens(port), 60, f"code location {location}", process, log)
            wait_until(lambda pod=pod, probe=probe: self.run(pod, probe, timeout=30).returncode == 0, 30,
                       f"code location {location}", process, log)
        return [process for _, _, process, _ in started.values()]

    def with_workspace(self, pod: Pod, ports: dict[str, int]) -> Pod:
        """The mounted workspace's locations pointed at their servers' ports."""
        workspace = pod.path(f"{WORKSPACE_DIR}/{WORKSPACE_FILE}")
        config = yaml.safe_load(workspace.read_text())
        for entry in config["load_from"]:
            server = entry["grpc_server"]
            assert (server["host"], server["port"]) == ("127.0.0.1", CODE_LOCATION_PORT), server
            server["port"] = ports[server["location_name"]]
        workspace.write_text(yaml.safe_dump(config))
        return pod

    def serve_webserver(self, ports: dict[str, int]) -> tuple[Pod, int, subprocess.Popen]:
        """The webserver's pod and the port it serves on, its workspace pointing at ``ports``."""
        pod = self.with_workspace(self.pod(self.workload(WEBSERVER), WEBSERVER), ports)
        port = _free_port()
        process, log = self.start(pod, on_port(pod.command, WEBSERVER_PORT, port))
        wait_until(lambda: serves(port), 90, "the webserver's /server_info", process, log)
        return pod, port, process

    def readiness(self, pod: Pod, port: int) -> subprocess.CompletedProcess:
        """The webserver's rendered readiness probe, asking the webserver on ``port``."""
        rendered = f"127.0.0.1:{WEBSERVER_PORT}/"
        probe = pod.handler("readinessProbe")
        assert sum(rendered in arg for arg in probe) == 1, probe
        return self.run(pod, [arg.replace(rendered, f"127.0.0.1:{port}/") for arg in probe], timeout=30)

    def launch(self, port: int, location: str) -> str:
        params = {"selector": {"repositoryLocationName": location, "repositoryName": "__repository__",
                               "jobName": JOB_NAME}, "runConfigData": {}}
        launched = graphql(port, LAUNCH_RUN, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        return launched["run"]["runId"]

    def created_job(self, run_id: str, timeout: float = 90) -> CreatedJob:
        """The Job the daemon created for the run, through the run launcher."""
        def created() -> bool:
            return any(job.body["metadata"]["labels"].get("dagster/run-id") == run_id for job in self.kube.jobs)
        wait_until(created, timeout, f"the Job of run {run_id}", self.daemon, self.daemon_log)
        return next(job for job in self.kube.jobs if job.body["metadata"]["labels"]["dagster/run-id"] == run_id)


@pytest.fixture(scope="class")
def platform(request, dist_objects, database_server, dagster_bin) -> Iterator[Platform]:
    """The test class's environment's database migrated by its migration Job, then its code locations,
    webserver and daemon serving (the daemon's liveness probe is run once before it starts: ``liveness_before``)."""
    name = request.cls.environment
    with FakeKubernetesApi() as kube:
        platform = Platform(name, dist_objects[name], database_server, dagster_bin, kube)
        platform.server.recreate(platform.postgres["db_name"])
        try:
            migrate = platform.pod(platform.workload(MIGRATION), MIGRATION)
            platform.migration = platform.run(migrate)
            assert platform.migration.returncode == 0, platform.migration.stderr[-3000:]
            daemon = platform.with_workspace(platform.pod(platform.workload(DAEMON), DAEMON), platform.code_ports)
            kube.serve(daemon.root / POD_DIR / "ca.crt", daemon.root / POD_DIR / "ca.key")
            platform.daemon_pod = daemon
            no_daemon_yet, _ = platform.start(daemon, daemon.handler("livenessProbe"), "liveness-before-start.log")
            platform.serve_code({location: (platform.code_location(location), port)
                                 for location, port in platform.code_ports.items()})
            platform.liveness_before = no_daemon_yet.wait(timeout=60)
            platform.daemon, platform.daemon_log = platform.start(daemon, daemon.command)
            platform.web, platform.web_port, _ = platform.serve_webserver(platform.code_ports)
            yield platform
        finally:
            platform.stop(*platform.processes)
            shutil.rmtree(platform.scratch, ignore_errors=True)


def test_this_dagster_is_the_pinned_images(dist_objects: dict[str, dict[str, dict]]) -> None:
    """The tier is only evidence for the release it runs: the rendered servers' image must be that release."""
    for objects in dist_objects.values():
        servers = [obj for obj in objects.values()
                   if obj["metadata"]["name"] in (MIGRATION, WEBSERVER, DAEMON) and obj["kind"] in WORKLOADS]
        images = {container["image"] for obj in servers for container in obj["spec"]["template"]["spec"]["containers"]}
        assert images == {f"docker.io/dagster/dagster-k8s:{DAGSTER_VERSION}"}


# What a run's Job is compared with --------------------------------------------------------------------

def secret_refs(container: dict) -> set[tuple[str, str]]:
    """(Secret, key) of every Secret the container reads through env (envFrom: the whole Secret, key "*")."""
    refs = {(v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
            for v in container.get("env") or [] if "secretKeyRef" in v.get("valueFrom", {})}
    return refs | {(s["secretRef"]["name"], "*") for s in container.get("envFrom") or [] if "secretRef" in s}


def product_cronjobs(objects: dict[str, dict], product: str) -> list[dict]:
    return [o for o in objects.values()
            if o["kind"] == "CronJob" and o["metadata"]["labels"].get("floe.dev/data-product") == product]


def job_differences(job: CreatedJob, platform: Platform, product: str) -> list[str]:
    """How the run's Job differs from the product's own pipeline jobs (its CronJobs: service account, token,
    security context, resources, and the Secrets their env reads, besides the instance's database
    credentials every run reads) and image (its code location's), or leaves the jobs namespace's
    LimitRange and ResourceQuota."""
    spec = job.body["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    objects = platform.objects
    cronjobs = product_cronjobs(objects, product)
    assert cronjobs, f"{product} has no CronJob"
    problems = []
    location = platform.workload(platform.locations[product])
    if container["image"] != location["spec"]["template"]["spec"]["containers"][0]["image"]:
        problems.append(f"image {container['image']}")
    for cronjob in cronjobs:
        template = cronjob["spec"]["jobTemplate"]["spec"]
        for key in ("serviceAccountName", "automountServiceAccountToken", "securityContext"):
            if pod.get(key) != template["template"]["spec"].get(key):
                problems.append(f"{key} {pod.get(key)} where {cronjob['metadata']['name']} has "
                                f"{template['template']['spec'].get(key)}")
        job_container = template["template"]["spec"]["containers"][0]
        if container["resources"] != job_container["resources"]:
            problems.append(f"resources {container['resources']} where {cronjob['metadata']['name']} has "
                            f"{job_container['resources']}")
        wanted = set().union(*(secret_refs(c) for c in template["template"]["spec"]["containers"]))
        run_needs = {(name, key) for name, keys in platform.secrets.items() for key in keys}  # the database's
        if secret_refs(container) - run_needs != wanted:
            problems.append(f"Secrets {sorted(secret_refs(container) - run_needs)} where "
                            f"{cronjob['metadata']['name']} reads {sorted(wanted)}")
    limit_range = find(objects, "LimitRange", "pipeline-jobs")["spec"]["limits"][0]["max"]
    quota = find(objects, "ResourceQuota", "pipeline-jobs")["spec"]["hard"]
    resources = container["resources"]
    for resource in ("cpu", "memory"):
        if quantity(resources["limits"][resource]) > quantity(limit_range[resource]):
            problems.append(f"limits.{resource} above the LimitRange's max")
        for kind in ("limits", "requests"):
            if quantity(resources[kind][resource]) > quantity(quota[f"{kind}.{resource}"]):
                problems.append(f"{kind}.{resource} above the ResourceQuota")
    return problems


class DagsterChecks:
    """The checks, on the Dagster of the subclass's ``environment``: each subclass is a unit that xdist runs on
    one worker (with its own PostgreSQL), beside the others, and ``platform`` brings it up once."""

    environment: str

    # 1. The schema migration ----------------------------------------------------------------------------

    def test_migration_job_creates_the_schema(self, platform: Platform) -> None:
        """The migration Job's own command (run by the `platform` fixture, exit 0) left Dagster's schema."""
        tables = set(platform.server.sql(platform.postgres["db_name"],
                                         "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split())
        assert {"runs", "event_logs", "alembic_version", "jobs", "job_ticks", "daemon_heartbeats"} <= tables
        assert platform.server.sql(platform.postgres["db_name"], "SELECT count(*) FROM alembic_version") == "1\n"

    def test_servers_instance_file_cannot_migrate_without_a_token(self, platform: Platform) -> None:
        """Broken: the migration Job mounting the servers' dagster.yaml. Loading that instance builds the
        K8sRunLauncher, which reads the service-account token the migration pod does not mount."""
        job = json.loads(json.dumps(platform.workload(MIGRATION)))
        (volume,) = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "instance"]
        assert volume["configMap"]["items"] == [{"key": MIGRATION_INSTANCE_FILE, "path": INSTANCE_FILE}]
        volume["configMap"]["items"] = [{"key": INSTANCE_FILE, "path": INSTANCE_FILE}]
        pod = platform.pod(job, MIGRATION)
        assert pod.token is None
        result = platform.run(pod)
        assert result.returncode != 0
        assert "ConfigException: Service token file does not exist." in result.stderr

    # 2. The servers' instance ----------------------------------------------------------------------------

    @pytest.mark.parametrize("workload", [WEBSERVER, DAEMON])
    def test_instance_loads_in_the_servers_pods(self, platform: Platform, workload: str) -> None:
        pod = platform.pod(platform.workload(workload), workload)
        assert pod.token is not None
        # `instance info` builds neither the run coordinator nor the compute log manager: BUILD_INSTANCE does.
        result, built = platform.run_all([(pod, ["dagster", "instance", "info"]),
                                          (pod, ["python", "-c", BUILD_INSTANCE])])
        assert result.returncode == 0, result.stderr[-3000:]
        assert "class: K8sRunLauncher" in result.stdout
        assert built.returncode == 0, built.stderr[-3000:]
        compute_logs = yaml.safe_load(pod.path(f"{DAGSTER_HOME}/{INSTANCE_FILE}").read_text()).get("compute_logs")
        assert built.stdout.split() == ["K8sRunLauncher", "QueuedRunCoordinator",
                                        compute_logs["class"] if compute_logs else "LocalComputeLogManager"]

    def test_webserver_without_its_token_cannot_load_the_instance(self, platform: Platform) -> None:
        """Broken: the webserver's pod not mounting its service-account token (the run launcher needs it)."""
        deployment = json.loads(json.dumps(platform.workload(WEBSERVER)))
        deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
        pod = platform.pod(deployment, WEBSERVER)
        assert pod.token is None
        result = platform.run(pod, ["dagster", "instance", "info"])
        assert result.returncode != 0
        assert "ConfigException: Service token file does not exist." in result.stderr

    # 3. The workspace ---------------------------------------------------------------------------------------

    def test_webserver_loads_every_code_location(self, platform: Platform) -> None:
        expected = {location: ("LOADED", "RepositoryLocation") for location in LOCATIONS[platform.name]}
        assert locations(platform.web_port) == expected
        ready = platform.readiness(platform.web, platform.web_port)
        assert ready.returncode == 0, ready.stderr

    def test_webserver_not_ready_with_an_unreachable_location(self, platform: Platform) -> None:
        """Broken: one location's server not where the workspace says."""
        broken = sorted(LOCATIONS[platform.name])[0]
        pod, port, webserver = platform.serve_webserver({**platform.code_ports, broken: _free_port()})
        try:
            wait_until(lambda: locations(port)[broken][0] == "LOADED", 60, "the webserver giving up on the location")
            assert locations(port)[broken] == ("LOADED", "PythonError")
            assert platform.readiness(pod, port).returncode == 1
        finally:
            platform.stop(webserver)

    def test_code_location_health_probe(self, platform: Platform) -> None:
        """Each location's rendered probe passes against its server; broken: against a port nothing serves."""
        pods = {product: platform.pod(platform.workload(workload), workload)
                 for product, workload in sorted(platform.locations.items())}
        probes = [(pod, on_port(pod.handler("readinessProbe"), CODE_LOCATION_PORT, platform.code_ports[product]))
                  for product, pod in pods.items()]
        pod = next(iter(pods.values()))
        broken = on_port(pod.handler("readinessProbe"), CODE_LOCATION_PORT, _free_port())
        *passed, failed = platform.run_all([*probes, (pod, broken)])
        assert [result.returncode for result in passed] == [0] * len(platform.locations)
        assert failed.returncode != 0

    # 4. The daemon ------------------------------------------------------------------------------------------

    def test_daemon_liveness_probe(self, platform: Platform) -> None:
        assert platform.liveness_before != 0, "no daemon has run yet: the probe must fail"
        probe = platform.daemon_pod.handler("livenessProbe")
        wait_until(lambda: platform.run(platform.daemon_pod, probe, timeout=30).returncode == 0, 90,
                   "the daemon's liveness probe", platform.daemon, platform.daemon_log)

    # 5. A run, launched by the daemon as a Kubernetes Job -------------------------------------------------

    def test_daemon_launches_runs_as_jobs(self, platform: Platform) -> None:
        """A run of each location, submitted through the webserver's GraphQL and queued, becomes a Job the
        daemon creates with its own token in the jobs namespace, with the Job policy and the run label
        NetworkPolicies select, fit for the product."""
        token = platform.daemon_pod.token.read_text()
        for product in sorted(LOCATIONS[platform.name]):
            job = platform.created_job(platform.launch(platform.web_port, product))
            assert job.namespace == "floe-jobs"
            scheme, _, credentials = job.authorization.partition(" ")
            assert (scheme.lower(), credentials) == ("bearer", token)
            spec = job.body["spec"]
            policy = (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["activeDeadlineSeconds"])
            assert policy == (0, 3600, 14400)
            assert spec["template"]["spec"]["restartPolicy"] == "Never"
            assert spec["template"]["spec"]["serviceAccountName"] == "floe-job-runner"
            labels = spec["template"]["metadata"]["labels"]
            assert labels["floe.dev/launched-by"] == "dagster"
            assert (labels["floe.dev/data-product"], labels["dagster/code-location"]) == (product, product)
            assert job_differences(job, platform, product) == []

    def test_run_without_the_products_secrets_differs(self, platform: Platform) -> None:
        """Broken: a code location whose container context lost its Secret references. Its own server (on
        a port of its own) serves the location to ``dagster job launch``, run in the webserver's pod; the
        daemon launches the queued run as it did the others."""
        product = sorted(platform.locations)[0]

        def without_secrets(container: dict) -> None:
            (variable,) = [v for v in container["env"] if v["name"] == "DAGSTER_CONTAINER_CONTEXT"]
            context = json.loads(variable["value"])
            context["k8s"]["env"] = [v for v in context["k8s"]["env"] if "valueFrom" not in v]
            variable["value"] = json.dumps(context)

        port = _free_port()
        (server,) = platform.serve_code({product: (platform.code_location(product, without_secrets), port)})
        try:
            submitter = platform.with_workspace(platform.pod(platform.workload(WEBSERVER), WEBSERVER),
                                                {**platform.code_ports, product: port})
            run_id = str(uuid.uuid4())
            launch = ["dagster", "job", "launch", "-w", f"{WORKSPACE_DIR}/{WORKSPACE_FILE}", "-l", product,
                      "-j", JOB_NAME, "--run-id", run_id]
            launched = platform.run(submitter, [submitter.rewrite(arg) for arg in launch])
            assert launched.returncode == 0, launched.stderr[-3000:]
            job = platform.created_job(run_id)
        finally:
            platform.stop(server)
        assert [p for p in job_differences(job, platform, product) if p.startswith("Secrets")]


class TestDev(DagsterChecks):
    environment = "dev"


class TestStaging(DagsterChecks):
    environment = "staging"


class TestProd(DagsterChecks):
    environment = "prod"


def test_every_environment_is_checked() -> None:
    assert sorted(checks.environment for checks in DagsterChecks.__subclasses__()) == sorted(ENVIRONMENT_NAMES)
