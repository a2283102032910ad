"""The rendered bootstrap-catalog container, run by sh with the machine's curl against a stand-in of Polaris.

The stand-in keeps what Polaris keeps (catalogs with their entity version, principals with their
credentials, principal roles, catalog roles, grants, namespaces) and answers as the generated
client of apache-polaris 1.8.0 documents: 201 for a created entity or a grant, 409 for one that
exists (POST), 404 for a missing one, 200 for a read, a reset and an update, an update naming another
version refused (409, Polaris' CommitConflictException), a namespace created through the Iceberg
REST API under the prefix the catalog's config names. The container's Secrets are invented values
with quotes and backslashes; a curl on PATH before the machine's records every argv, so a secret on
any command line is seen. A script that skips the reset, or takes an existing catalog as done, fails.
"""

import base64
import copy
import http.server
import json
import os
import re
import subprocess
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conformance import postgres_tls
from tests.conformance.pod import Pod, expand
from tests.conftest import find, pod_spec
from tests.test_run_credentials import SECRET_VARIABLE, curl_command_lines

pytestmark = pytest.mark.conformance

ROOT = ("root-id", 's3\\c"r$e:t \\"x\\\\ \'q\' %s $(id)')
SECRETS = {
    "polaris-root-credentials": {"client-id": ROOT[0], "client-secret": ROOT[1]},
    "floe-sales-catalog-credentials": {"client-id": "floe_5a1e5000", "client-secret": 'sa"les\\pa ss %s'},
    "floe-marketing-catalog-credentials": {"client-id": "floe_3a4c0000", "client-secret": "mark'eting $(x)"},
    "cube-catalog-credentials": {"client-id": "floe_c0be0000", "client-secret": "cube\\secret\""},
}
"""Invented values; the bootstrap must make each principal's credentials exactly these."""
TLS = postgres_tls.issue(("polaris.floe-platform.svc.cluster.local",), ("127.0.0.1",))
"""(CA, certificate, key): staging serves Polaris over in-cluster TLS; the pod holds the CA in its CA Secret."""
SECRETS["floe-in-cluster-ca"] = {"ca.crt": TLS[0]}
WRITE = {"NAMESPACE_LIST", "NAMESPACE_READ_PROPERTIES", "TABLE_CREATE", "TABLE_DROP", "TABLE_LIST", "TABLE_READ_DATA",
         "TABLE_READ_PROPERTIES", "TABLE_WRITE_DATA", "TABLE_WRITE_PROPERTIES", "VIEW_CREATE", "VIEW_DROP",
         "VIEW_LIST", "VIEW_READ_PROPERTIES", "VIEW_WRITE_PROPERTIES"}
READ = {"NAMESPACE_LIST", "NAMESPACE_READ_PROPERTIES", "TABLE_LIST", "TABLE_READ_DATA", "TABLE_READ_PROPERTIES",
        "VIEW_LIST", "VIEW_READ_PROPERTIES"}
STAGING_GRANTS = {
    "catalog_admin": {("catalog", "CATALOG_MANAGE_CONTENT", "")},
    "floe-product-sales": {("namespace", p, "sales") for p in WRITE},
    "floe-product-marketing": ({("namespace", p, "marketing") for p in WRITE}
                               | {("namespace", p, "sales") for p in READ}),
    "floe-semantic": {("catalog", p, "") for p in READ | {"CATALOG_READ_PROPERTIES"}},
}
"""Literal: staging's products (marketing reads sales) and its Cube, which attaches the catalog."""
STAGING_STORAGE = {
    "storageType": "S3", "allowedLocations": ["s3://floe-warehouse/"],
    # MinIO's cluster address, which the pod's env has as loopback; over in-cluster TLS.
    "endpoint": "https://127.0.0.1:9000", "endpointInternal": "https://127.0.0.1:9000",
    "pathStyleAccess": True, "region": "us-east-1", "stsUnavailable": True,
}


def grant_tuple(grant: dict) -> tuple[str, str, str]:
    return grant["type"], grant["privilege"], ".".join(grant.get("namespace", []))


class Polaris:
    """The management API, the OAuth token endpoint and the namespaces of the catalog API, in memory."""

    def __init__(self, root: tuple[str, str], tls: bool = True) -> None:
        """``tls``: served over TLS with a certificate of ``TLS``, as staging's Polaris is (dev's is plain)."""
        self.catalogs: dict[str, dict] = {}
        self.principals: dict[str, dict] = {"root": {"clientId": root[0], "clientSecret": root[1], "roles": set()}}
        self.principal_roles: dict[str, set[tuple[str, str]]] = {"service_admin": set()}
        """principal role → the (catalog, catalog role) pairs granted to it."""
        self.catalog_roles: dict[tuple[str, str], list[dict]] = {}
        """(catalog, catalog role) → its grants, as the API lists them."""
        self.namespaces: dict[str, set[tuple[str, ...]]] = {}
        self.requests: list[tuple[str, str]] = []
        self.tokens: dict[str, str] = {}
        self.token_requests: list[bytes] = []
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        if tls:
            self.server.socket = postgres_tls.server_context(TLS[1], TLS[2]).wrap_socket(self.server.socket,
                                                                                         server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Polaris":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def state(self) -> dict:
        """Everything the bootstrap may change, comparable between runs (versions apart)."""
        return copy.deepcopy({
            "catalogs": {n: {k: v for k, v in c.items() if k != "entityVersion"} for n, c in self.catalogs.items()},
            "principals": self.principals, "principal_roles": self.principal_roles,
            "grants": {role: sorted(map(grant_tuple, grants)) for role, grants in self.catalog_roles.items()},
            "namespaces": self.namespaces,
        })

    def grants(self, role: str, catalog: str = "warehouse") -> set[tuple[str, str, str]]:
        return {grant_tuple(g) for g in self.catalog_roles[catalog, role]}

    def log_in(self, client_id: str, secret: str) -> str | None:
        """The principal these credentials are, if they are one's."""
        return next((name for name, p in self.principals.items()
                     if p["clientId"] == client_id and p["clientSecret"] == secret), None)

    # -- the API ----------------------------------------------------------------------------------------

    def answer(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict | None]:
        path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
        self.requests.append((method, path))
        if headers.get("Polaris-Realm") != "floe":
            return 404, {"error": "unknown realm"}
        if path == "/api/catalog/v1/oauth/tokens":
            user, _, secret = base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode().partition(":")
            principal = self.log_in(user, secret)
            if principal is None:
                return 401, {"error": "invalid_client"}
            token = f"token-of-{principal}-{len(self.tokens)}"
            self.tokens[token] = principal
            return 200, {"access_token": token, "token_type": "bearer", "expires_in": 3600}
        if self.tokens.get(headers.get("Authorization", "").removeprefix("Bearer ")) != "root":
            return 401, {"error": "not the root principal"}
        data = json.loads(body) if body else None
        if path == "/api/catalog/v1/config":
            [warehouse] = query["warehouse"]
            if warehouse not in self.catalogs:
                return 404, {"error": f"no catalog {warehouse}"}
            # As Polaris' CatalogConfigHandler: the catalog's properties, the prefix (its name), the endpoints.
            return 200, {"defaults": self.catalogs[warehouse]["properties"],
                         "overrides": {"prefix": warehouse, "rest-namespace-separator": "%1F"},
                         "endpoints": ["GET /v1/{prefix}/namespaces", "POST /v1/{prefix}/namespaces"]}
        if match := re.fullmatch(r"/api/catalog/v1/([^/]+)/namespaces", path):
            if method != "POST" or match[1] not in self.catalogs:
                return 404, {}
            namespace = tuple(data["namespace"])
            if namespace in self.namespaces[match[1]]:
                return 409, {"error": "AlreadyExistsException"}
            self.namespaces[match[1]].add(namespace)
            return 200, {"namespace": list(namespace), "properties": {}}
        return self.management(method, path.removeprefix("/api/management/v1"), data)

    def management(self, method: str, path: str, data: dict | None) -> tuple[int, dict | None]:
        route = (method, re.sub(r"^/(catalogs|principals|principal-roles)/[^/]+", r"/\1/{}", path))
        parts = path.strip("/").split("/")
        if route == ("POST", "/catalogs"):
            catalog = data["catalog"]
            if catalog["name"] in self.catalogs:
                return 409, {"error": "catalog exists"}
            self.catalogs[catalog["name"]] = {**catalog, "entityVersion": 1}
            self.catalog_roles[catalog["name"], "catalog_admin"] = []
            self.principal_roles["service_admin"].add((catalog["name"], "catalog_admin"))
            self.namespaces[catalog["name"]] = set()
            return 201, self.catalogs[catalog["name"]]
        if route[1].startswith("/catalogs/{}") and parts[1] not in self.catalogs:
            return 404, {"error": "no such catalog"}
        if route == ("GET", "/catalogs/{}"):
            return 200, self.catalogs[parts[1]]
        if route == ("PUT", "/catalogs/{}"):
            catalog = self.catalogs[parts[1]]
            if data.get("currentEntityVersion") != catalog["entityVersion"]:
                return 409, {"error": "CommitConflictException"}
            catalog.update({k: data[k] for k in ("properties", "storageConfigInfo") if k in data})
            catalog["entityVersion"] += 1
            return 200, catalog
        if route[0] == "DELETE" and re.fullmatch(r"/catalogs/{}/catalog-roles/[^/]+", route[1]):
            if self.catalog_roles.pop((parts[1], parts[3]), None) is None:
                return 404, {"error": "no such catalog role"}
            for pairs in self.principal_roles.values():
                pairs.discard((parts[1], parts[3]))
            return 204, None
        if route == ("POST", "/catalogs/{}/catalog-roles"):
            key = (parts[1], data["catalogRole"]["name"])
            if key in self.catalog_roles:
                return 409, {"error": "catalog role exists"}
            self.catalog_roles[key] = []
            return 201, data["catalogRole"]
        if re.fullmatch(r"/catalogs/{}/catalog-roles/[^/]+/grants", route[1]):
            grants = self.catalog_roles.get((parts[1], parts[3]))
            if grants is None:
                return 404, {"error": "no such catalog role"}
            if method == "GET":
                return 200, {"grants": grants}
            if method == "PUT" and data["grant"] not in grants:
                grants.append(data["grant"])
            elif method == "POST":
                if data["grant"] not in grants:
                    return 404, {"error": "no such grant"}
                grants.remove(data["grant"])
            return 201, {}
        if route == ("GET", "/principals"):
            return 200, {"principals": [{"name": n, "clientId": p["clientId"], "properties": {}, "entityVersion": 1}
                                        for n, p in self.principals.items()]}
        if route == ("POST", "/principals"):
            name = data["principal"]["name"]
            if name in self.principals:
                return 409, {"error": "principal exists"}
            self.principals[name] = {"clientId": f"generated-{name}", "clientSecret": "generated", "roles": set()}
            return 201, {"principal": {"name": name}, "credentials": self.principals[name]}
        if route[1].startswith("/principals/{}") and parts[1] not in self.principals:
            return 404, {"error": "no such principal"}
        if route == ("DELETE", "/principals/{}"):
            del self.principals[parts[1]]
            return 204, None
        if route == ("POST", "/principals/{}/reset"):
            principal = self.principals[parts[1]]
            principal.update({k: data[k] for k in ("clientId", "clientSecret") if k in data})
            return 200, {"principal": {"name": parts[1]}, "credentials": principal}
        if route == ("PUT", "/principals/{}/principal-roles"):
            role = data["principalRole"]["name"]
            if role not in self.principal_roles:
                return 404, {"error": "no such principal role"}
            self.principals[parts[1]]["roles"].add(role)
            return 201, {}
        if route == ("DELETE", "/principal-roles/{}"):
            if self.principal_roles.pop(parts[1], None) is None:
                return 404, {"error": "no such principal role"}
            for principal in self.principals.values():
                principal["roles"].discard(parts[1])
            return 204, None
        if route == ("POST", "/principal-roles"):
            name = data["principalRole"]["name"]
            if name in self.principal_roles:
                return 409, {"error": "principal role exists"}
            self.principal_roles[name] = set()
            return 201, data["principalRole"]
        if route[0] == "PUT" and re.fullmatch(r"/principal-roles/{}/catalog-roles/[^/]+", route[1]):
            key = (parts[3], data["catalogRole"]["name"])
            if parts[1] not in self.principal_roles or key not in self.catalog_roles:
                return 404, {"error": "no such role"}
            self.principal_roles[parts[1]].add(key)
            return 201, {}
        return 404, {"error": f"no route {method} {path}"}

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        polaris = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with polaris.lock:
                    if self.path.endswith("/oauth/tokens"):
                        polaris.token_requests.append(body)
                    status, payload = polaris.answer(self.command, self.path, dict(self.headers), body)
                text = b"" if payload is None else json.dumps(payload, separators=(",", ":"), default=sorted).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        return Handler


# -- running the rendered container ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def curl(require) -> str:
    require("sh", "the POSIX shell")
    return require("curl", "Debian's curl")


def pod(objects: dict, root: Path, polaris: Polaris) -> Pod:
    """The bootstrap-catalog container laid out, its request lists from the render's ConfigMap."""
    return Pod.of(find(objects, "Job", "polaris-bootstrap"), "bootstrap-catalog", root, secrets=SECRETS,
                  hosts={"polaris": polaris.address}, rendered=objects.values())


def script_of(objects: dict) -> str:
    [container] = [c for c in pod_spec(find(objects, "Job", "polaris-bootstrap"))["containers"]
                   if c["name"] == "bootstrap-catalog"]
    return container["command"][2]


class Run:
    """One run of the container: its exit, its output, and every argv curl was given."""

    def __init__(self, objects: dict, root: Path, polaris: Polaris, curl: str, script: str | None = None) -> None:
        container = pod(objects, root, polaris)
        wrapper_dir = root / ".pod" / "bin"
        wrapper_dir.mkdir(parents=True, exist_ok=True)
        self.argv_log = root / ".pod" / "curl-argv"
        wrapper = wrapper_dir / "curl"
        wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{self.argv_log}"\nexec {curl} "$@"\n')
        wrapper.chmod(0o755)
        argv = container.command if script is None else [
            *container.command[:2], expand(container.rewrite(script), container.env)]
        result = container.run(argv, timeout=120, extra_env={"PATH": f"{wrapper_dir}:{os.environ['PATH']}"})
        self.returncode, self.output = result.returncode, result.stdout + result.stderr
        self.argv = self.argv_log.read_text() if self.argv_log.exists() else ""


def problems(polaris: Polaris, expected_grants: dict[str, set], storage: dict) -> list[str]:
    """How the stand-in's state differs from what the bootstrap must leave."""
    found = []
    product_secrets = {"floe-product-sales": "floe-sales-catalog-credentials",
                       "floe-product-marketing": "floe-marketing-catalog-credentials",
                       "floe-semantic": "cube-catalog-credentials"}
    for principal, secret in product_secrets.items():
        values = SECRETS[secret]
        if principal not in polaris.principals:
            found.append(f"no principal {principal}")
            continue
        if polaris.log_in(values["client-id"], values["client-secret"]) != principal:
            found.append(f"{principal} does not log in with {secret}'s values")
        if polaris.principals[principal]["roles"] != {principal}:
            found.append(f"{principal} holds principal roles {polaris.principals[principal]['roles']}")
        if polaris.principal_roles.get(principal) != {("warehouse", principal)}:
            found.append(f"principal role {principal} holds {polaris.principal_roles.get(principal)}")
    for role, grants in expected_grants.items():
        if polaris.grants(role) != grants:
            found.append(f"{role}: extra {sorted(polaris.grants(role) - grants)}, missing "
                         f"{sorted(grants - polaris.grants(role))}")
    held = polaris.catalogs["warehouse"]["storageConfigInfo"]
    found += [f"catalog storage {key}: {held.get(key)}" for key in sorted(storage) if held.get(key) != storage[key]]
    if polaris.namespaces["warehouse"] != {("sales",), ("marketing",)}:
        found.append(f"namespaces {polaris.namespaces['warehouse']}")
    return found


def secrets_in(argv: str) -> list[str]:
    """The secrets (as they are, or as a JSON string holds them) and access tokens in curl's argv."""
    values = [v for secret in SECRETS.values() for k, v in secret.items() if k == "client-secret"]
    return [v for v in values if v in argv or json.dumps(v)[1:-1] in argv] + (
        ["an access token"] if "token-of-" in argv else [])


# -- the tests --------------------------------------------------------------------------------------------------


def test_the_first_and_every_later_sync_leave_the_declared_catalog(curl, dist_objects, tmp_path: Path) -> None:
    objects = dist_objects["staging"]
    with Polaris(ROOT) as polaris:
        first = Run(objects, tmp_path / "first", polaris, curl)
        assert first.returncode == 0, first.output
        assert problems(polaris, STAGING_GRANTS, STAGING_STORAGE) == []
        # Cube's principal reads and changes nothing: no privilege that writes, on any securable.
        assert not [p for _, p, _ in polaris.grants("floe-semantic")
                    if re.search(r"CREATE|DROP|WRITE|MANAGE", p)]
        assert polaris.catalogs["warehouse"]["entityVersion"] == 1
        before, requests = polaris.state(), len(polaris.requests)

        second = Run(objects, tmp_path / "second", polaris, curl)
        assert second.returncode == 0, second.output
        assert polaris.state() == before
        # Nothing skipped: the catalog updated to its settings, each principal's credentials reset again.
        later = polaris.requests[requests:]
        assert ("PUT", "/api/management/v1/catalogs/warehouse") in later
        assert polaris.catalogs["warehouse"]["entityVersion"] == 2
        assert sorted(p for m, p in later if p.endswith("/reset")) == [
            f"/api/management/v1/principals/{p}/reset"
            for p in ("floe-product-marketing", "floe-product-sales", "floe-semantic")]
        for run in (first, second):
            assert run.argv and secrets_in(run.argv) == [], run.argv


def test_a_changed_setting_and_an_undeclared_grant_are_reconciled(curl, dist_objects, tmp_path: Path) -> None:
    """The state an earlier render left: other storage settings, marketing reading a product since
    removed (finance) whose principal and roles remain, sales writing marketing's tables, a credential
    changed by hand."""
    objects = dist_objects["staging"]
    with Polaris(ROOT) as polaris:
        assert Run(objects, tmp_path / "first", polaris, curl).returncode == 0
        catalog = polaris.catalogs["warehouse"]
        catalog["storageConfigInfo"] = {**STAGING_STORAGE, "allowedLocations": ["s3://old-warehouse/"],
                                        "pathStyleAccess": False}
        catalog["entityVersion"] = 5
        polaris.catalog_roles["warehouse", "floe-product-marketing"] += [
            {"type": "namespace", "namespace": ["finance"], "privilege": p} for p in sorted(READ)]
        polaris.catalog_roles["warehouse", "floe-product-sales"].append(
            {"type": "namespace", "namespace": ["marketing"], "privilege": "TABLE_WRITE_DATA"})
        polaris.principals["floe-product-sales"]["clientSecret"] = "rotated-by-hand"
        # finance, a product since removed, and a principal floe does not manage.
        for name in ("floe-product-finance", "analyst"):
            polaris.principals[name] = {"clientId": f"id-{name}", "clientSecret": "s", "roles": {name}}
            polaris.principal_roles[name] = {("warehouse", name)}
            polaris.catalog_roles["warehouse", name] = [{"type": "catalog", "privilege": "TABLE_READ_DATA"}]

        run = Run(objects, tmp_path / "again", polaris, curl)
        assert run.returncode == 0, run.output
        assert problems(polaris, STAGING_GRANTS, STAGING_STORAGE) == []
        assert catalog["entityVersion"] == 6
        assert sorted(polaris.principals) == ["analyst", "floe-product-marketing", "floe-product-sales",
                                              "floe-semantic", "root"]
        assert "floe-product-finance" not in polaris.principal_roles
        assert ("warehouse", "floe-product-finance") not in polaris.catalog_roles
        assert polaris.grants("analyst") == {("catalog", "TABLE_READ_DATA", "")}


def test_broken_scripts_fail(curl, dist_objects, tmp_path: Path) -> None:
    """The checks above, on scripts that skip the reset, take an existing catalog as done, or send a
    principal's secret as an argument."""
    objects = dist_objects["staging"]
    script = script_of(objects)
    reset = ('    printf \'{"clientId": "%s", "clientSecret": "%s"}\' "$(quoted "$client_id")" '
             '"$(quoted "$client_secret")" \\\n      | send 200 POST "$management/principals/$principal/reset" '
             '--data @-\n')
    update = '  if [ "$status" = 409 ]; then'
    assert script.count(reset) == 1 and script.count(update) == 1
    no_reset = script.replace(reset, "")
    conflict_is_done = script.replace(update, '  if [ "$status" = 4090 ]; then')
    on_the_command_line = script.replace(reset, (
        '    body=$(printf \'{"clientId": "%s", "clientSecret": "%s"}\' "$(quoted "$client_id")" '
        '"$(quoted "$client_secret")")\n'
        '    send 200 POST "$management/principals/$principal/reset" --data "$body"\n'))

    with Polaris(ROOT) as polaris:
        run = Run(objects, tmp_path / "no-reset", polaris, curl, no_reset)
        assert run.returncode == 0, run.output
        assert problems(polaris, STAGING_GRANTS, STAGING_STORAGE) == [
            f"{p} does not log in with {s}'s values" for p, s in (
                ("floe-product-sales", "floe-sales-catalog-credentials"),
                ("floe-product-marketing", "floe-marketing-catalog-credentials"),
                ("floe-semantic", "cube-catalog-credentials"))]

    with Polaris(ROOT) as polaris:
        assert Run(objects, tmp_path / "first", polaris, curl).returncode == 0
        polaris.catalogs["warehouse"]["storageConfigInfo"]["allowedLocations"] = ["s3://old-warehouse/"]
        run = Run(objects, tmp_path / "conflict-is-done", polaris, curl, conflict_is_done)
        assert run.returncode == 0, run.output
        assert problems(polaris, STAGING_GRANTS, STAGING_STORAGE) == [
            "catalog storage allowedLocations: ['s3://old-warehouse/']"]

    with Polaris(ROOT) as polaris:
        run = Run(objects, tmp_path / "on-the-command-line", polaris, curl, on_the_command_line)
        assert run.returncode == 0 and problems(polaris, STAGING_GRANTS, STAGING_STORAGE) == [], run.output
        assert secrets_in(run.argv) == [SECRETS[s]["client-secret"] for s in (
            "floe-sales-catalog-credentials", "floe-marketing-catalog-credentials", "cube-catalog-credentials")]
        assert [line for line in curl_command_lines(on_the_command_line) if SECRET_VARIABLE.search(line)] == []


def test_no_secret_variable_is_a_curl_argument_in_any_environment(dist_objects) -> None:
    """Statically, the rendered script of each environment: every secret reaches curl on stdin or in a file."""
    for name, objects in dist_objects.items():
        lines = curl_command_lines(script_of(objects))
        assert lines and [line for line in lines if SECRET_VARIABLE.search(line)] == [], name
        assert not [line for line in lines if "$token" in line], name


def test_the_root_logs_in_with_its_secret_on_stdin(curl, dist_objects, tmp_path: Path) -> None:
    """The token request authenticates with the root credentials (HTTP Basic, every character kept), which
    are in no process's arguments; a wrong root secret gets no token, and the script waits."""
    objects = dist_objects["dev"]
    with Polaris(ROOT, tls=False) as polaris:
        run = Run(objects, tmp_path / "dev", polaris, curl)
        assert run.returncode == 0, run.output
        assert ROOT[1] not in run.argv and "--config" in run.argv.split("\n")
        assert polaris.requests[0] == ("POST", "/api/catalog/v1/oauth/tokens")
        assert polaris.token_requests == [b"grant_type=client_credentials&scope=PRINCIPAL_ROLE:ALL"]
    with Polaris(("root-id", "another secret"), tls=False) as polaris:
        with pytest.raises(subprocess.TimeoutExpired):
            pod(objects, tmp_path / "wrong", polaris).run(timeout=3)
        assert polaris.principals.keys() == {"root"} and polaris.catalogs == {}
