"""An external object store's settings, as rendered, accepted by the clients' own software.

staging changed to an external store (``tests/test_external_object_store.py``), with path-style addressing
and a private CA (``ca_secret``), is rendered; then:

- Polaris: every bootstrap request, the catalog's storage configuration with the external endpoint and
  region among them, is taken by the models of PyPI's ``apache-polaris`` of the pinned release
  (``test_polaris_models``' checker);
- Cube's DuckDB (1.5.5, ``duckdb_venv``): ``cube.js`` loaded by Node.js in the laid-out Cube pod, its
  ``initSql`` run with the extension mirror and catalog stand-ins of ``test_cube_duckdb``; then a query
  reads an object from an HTTPS stand-in of the store, on loopback, whose certificate the test's own CA
  signed: DuckDB trusts it only through the rendered ``ca_cert_file`` and asks ``/<bucket>/<key>``
  (path style), signed for the declared region with the semantic layer's own key;
- Polaris's JVM: the rendered init container's script (``java-truststore.sh``) run with this machine's
  ``keytool`` writes the truststore, and a JVM started with the rendered ``JAVA_TOOL_OPTIONS`` completes
  the TLS handshake with the stand-in, which it refuses without them.

Not proven: a real managed store (its certificate, its addressing rules, its IAM policies), the Polaris
and Cube Store images' own TLS stacks (Polaris' AWS SDK is exercised only through the JVM's default
trust, which its HTTP client uses), and the identities the operator makes.
"""

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from floe.app import render_objects
from tests.conformance import test_cube_duckdb as cube_duckdb
from tests.conformance import test_polaris_models as polaris_models
from tests.conformance.duckdb_venv import VENV as DUCKDB_VENV
from tests.conformance.pod import Pod
from tests.conformance.test_cube_duckdb import LOAD_CUBE_JS, MIRROR, NODE, RUN_INIT_SQL, Recorder
from tests.conformance.test_polaris_models import POLARIS_CLIENT, check, sent, stand_ins
from tests.test_external_object_store import external_environment

PINNED_TOOLS = (DUCKDB_VENV, POLARIS_CLIENT)
# The stand-ins and pinned programs of the tests that check the shipped environments.
duckdb_python, gzipped_extensions = cube_duckdb.duckdb_python, cube_duckdb.gzipped_extensions
mirror = cube_duckdb.mirror
polaris_python = polaris_models.polaris_python
ENDPOINT = "https://s3.storage.example.org"
STORE = {"endpoint": ENDPOINT, "region": "eu-central-2", "addressing": "path", "ca_secret": "object-store-ca"}
OBJECT = b"id,amount\n1,12.5\n2,7.25\n"
KEYS = {"access-key": "floe-semantic-key", "secret-key": "floe-semantic-secret"}
JAVA_CLIENT = """
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Fetch {
    public static void main(String[] args) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
            HttpRequest.newBuilder(URI.create(args[0])).build(), HttpResponse.BodyHandlers.ofString());
        System.out.println(response.statusCode());
    }
}
"""


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    # Components talk plain in the cluster: DuckDB's one ca_cert_file is then the store's CA alone.
    environment = external_environment(tmp_path_factory.mktemp("external"), in_cluster_tls="plain", **STORE)
    rendered = [obj for found in render_objects(environment).values() for obj in found]
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in rendered}


@pytest.fixture
def catalog() -> Iterator[Recorder]:
    """``test_cube_duckdb``'s stand-in of Polaris's API, over plain HTTP as this environment's catalog serves it."""
    over_tls = cube_duckdb.catalog_stand_in("warehouse")
    over_tls.shutdown()
    server = Recorder(over_tls.answer)
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA of the test's own and a certificate it signed for localhost and 127.0.0.1 (openssl)."""
    folder = tmp_path_factory.mktemp("ca")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
            "-subj", "/CN=floe test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "1", "-extfile", "san.ext")
    return folder


class _Store(BaseHTTPRequestHandler):
    """The S3 API of one object: HEAD and GET (ranges included), everything else 404."""

    def _answer(self, body: bool) -> None:
        self.server.requests.append((self.command, self.path, self.headers.get("Authorization") or ""))
        if self.path != "/floe-warehouse/probe.csv":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, end = 0, len(OBJECT) - 1
        ranged = self.headers.get("Range")
        if ranged:
            first, _, last = ranged.removeprefix("bytes=").partition("-")
            start, end = int(first), min(int(last or end), end)
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Last-Modified", "Mon, 30 Nov 2026 12:00:00 GMT")
        self.send_header("ETag", '"probe"')
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(OBJECT)}")
        self.end_headers()
        if body:
            self.wfile.write(OBJECT[start:end + 1])

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, *args) -> None:
        """Quiet: the test reads the recorded requests."""


@pytest.fixture
def store(certificates: Path) -> Iterator[ThreadingHTTPServer]:
    """The store's HTTPS stand-in on loopback, serving the certificate the test's CA signed."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Store)
    server.requests = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.crt", certificates / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


# -- Polaris's models ---------------------------------------------------------------------------------------


def test_the_bootstrap_requests_with_the_external_store_are_valid(polaris_python: str, objects) -> None:
    indexed = {str(index): obj for index, obj in enumerate(objects.values())}
    requests = sent(indexed, stand_ins(indexed))
    results = check(polaris_python, requests)
    assert [(r["method"], r["path"], problems) for r, (_, problems) in zip(requests, results, strict=True)
            if problems] == []
    create = json.loads(requests[0]["body"])["catalog"]["storageConfigInfo"]
    assert create == {"storageType": "S3", "allowedLocations": ["s3://floe-warehouse/"], "endpoint": ENDPOINT,
                      "endpointInternal": ENDPOINT, "pathStyleAccess": True, "region": "eu-central-2",
                      "stsUnavailable": True}
    broken = {**requests[0], "body": requests[0]["body"].replace('"region"', '"regionName"')}
    assert check(polaris_python, [broken])[0][1] != []


# -- Cube's DuckDB ------------------------------------------------------------------------------------------


def duckdb_reads(objects, root: Path, duckdb_python: Path, catalog: Recorder, mirror: Recorder,
                 store: ThreadingHTTPServer, ca: bytes, cube_js_change: tuple[str, str] = ("", "")) -> dict:
    """Cube's DuckDB as its pod starts it, then a query of the store's object; the store at its stand-in."""
    secrets = {"object-store-ca": {"ca.crt": ca.decode()}, "cube-object-store-credentials": KEYS}
    pod = Pod.of(objects["Rollout/cube"], "cube", root, rendered=objects.values(), secrets=secrets,
                 hosts={"polaris": catalog.address})
    config = pod.path("/cube/conf/cube.js")
    text = config.read_text().replace(MIRROR, f"http://{mirror.address}")
    text = text.replace("ENDPOINT 's3.storage.example.org'", f"ENDPOINT 'localhost:{store.server_address[1]}'")
    config.write_text(text.replace(*cube_js_change))
    loaded = pod.run([NODE, "-e", LOAD_CUBE_JS, str(pod.path("/cube/conf"))], timeout=30)
    assert loaded.returncode == 0, loaded.stderr
    request = {"init_sql": json.loads(loaded.stdout)["initSql"],
               "query": "SELECT * FROM read_csv('s3://floe-warehouse/probe.csv')"}
    result = subprocess.run([duckdb_python, "-c", RUN_INIT_SQL], capture_output=True, text=True, timeout=60,
                            input=json.dumps(request))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_duckdb_reads_the_store_with_its_ca_path_style_and_region(objects, tmp_path, duckdb_python, catalog,
                                                                  mirror, store, certificates) -> None:
    started = duckdb_reads(objects, tmp_path, duckdb_python, catalog, mirror, store,
                           (certificates / "ca.crt").read_bytes())
    assert started.get("error") is None and started["query_error"] is None, started
    assert started["databases"] == [["memory", "duckdb"], ["warehouse", "iceberg"]]
    reads = [(method, path) for method, path, _ in store.requests]
    assert reads and set(reads) <= {("HEAD", "/floe-warehouse/probe.csv"), ("GET", "/floe-warehouse/probe.csv")}
    scope = {authorization.split("Credential=")[1].split(",")[0].split("/", 1)[1]
             for _, _, authorization in store.requests}
    assert {s.split("/", 1)[1] for s in scope} == {"eu-central-2/s3/aws4_request"}
    assert {authorization.split("Credential=")[1].split("/")[0] for _, _, authorization in store.requests} == \
        {"floe-semantic-key"}


def test_without_the_ca_duckdb_refuses_the_store(objects, tmp_path, duckdb_python, catalog, mirror, store,
                                                 certificates) -> None:
    started = duckdb_reads(objects, tmp_path, duckdb_python, catalog, mirror, store,
                           (certificates / "ca.crt").read_bytes(),
                           cube_js_change=('"SET ca_cert_file = ', '"SELECT '))
    assert started["query_error"] is not None
    assert store.requests == []


# -- Polaris's JVM ------------------------------------------------------------------------------------------


def test_the_jvm_trusts_the_store_through_the_rendered_truststore(objects, tmp_path, store, certificates,
                                                                  require) -> None:
    require("keytool", "a JDK: apt-get install openjdk-17-jdk-headless")
    java = require("java", "a JDK: apt-get install openjdk-17-jdk-headless")
    secrets = {"object-store-ca": {"ca.crt": (certificates / "ca.crt").read_text()}}
    polaris = objects["Deployment/polaris"]
    writer = Pod.of(polaris, "object-store-truststore", tmp_path, rendered=objects.values(), secrets=secrets)
    written = writer.run()
    assert written.returncode == 0, written.stderr
    server = Pod.of(polaris, "polaris", tmp_path, rendered=objects.values(), secrets=secrets)
    client = tmp_path / "Fetch.java"
    client.write_text(JAVA_CLIENT)
    url = f"https://localhost:{store.server_address[1]}/floe-warehouse/probe.csv"
    trusted = server.run([java, str(client), url], timeout=120)
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.strip() == "200"
    untrusted = server.run([java, str(client), url], timeout=120, extra_env={"JAVA_TOOL_OPTIONS": ""})
    assert untrusted.returncode != 0
    assert "PKIX path building failed" in untrusted.stderr
    # keytool is the Polaris image's own: the init container runs that image.
    assert writer.container["image"] == server.container["image"]
