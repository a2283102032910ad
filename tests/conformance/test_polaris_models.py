"""The requests of the Polaris bootstrap, as rendered, against the APIs' own models.

The bootstrap-catalog script of the ``polaris-bootstrap`` Job sends each request through one function,
``send <statuses> <METHOD> "<url>" [--data "$<VARIABLE>" | --data @-]``. A body in a variable is a
literal of the render: one variable of the container, or, inside ``while read -r <names> body; do ...
done < "$REQUESTS/<list>"``, each line of that file of the rendered ConfigMap (its first words fill
the path). A body on stdin
is built by the script from a ``printf`` template (a principal's secret, the catalog's current version,
a grant the server lists); the template is filled with stand-in values and checked the same way.
PyPI's ``apache-polaris`` of the pinned image's release ships the generated clients of the management
and catalog APIs: for each request, their own request builders say which model the method and path
take, and the model (strict where pydantic can be) must take the body and give every field back
unchanged, since a field it does not know is dropped without an error. The client pins a pydantic
older than the project's, so it runs in a virtual environment of its own under ``.cache/conformance/``.
"""

import json
import re
import subprocess
from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.conformance.cached_venv import ensure_venv
from tests.conftest import ENVIRONMENT_NAMES, ROOT, find, pod_spec

pytestmark = pytest.mark.conformance

POLARIS_VERSION = "1.8.0"
"""The release of docker.io/apache/polaris the platform pins, and of the client that checks."""
POLARIS_CLIENT = (f"polaris-{POLARIS_VERSION}", (f"apache-polaris=={POLARIS_VERSION}",))
PINNED_TOOLS = (POLARIS_CLIENT,)
CHECKER = ROOT / "tests" / "conformance" / "polaris_requests.py"
SEND = re.compile(r"""send '?[\d ]+'? (\w+) "\$(management|CATALOG_URI)(/[^"]*)"(?: --data (?:"\$(\w+)"|(@-)))?""")
LOOP = re.compile(r'^( *)while read -r ([\w ]+); do\n((?:(?!\1done\b).*\n)*?)\1done < "\$REQUESTS/([\w-]+)"',
                  re.MULTILINE)
"""A loop over the lines of a rendered list: its body is every line up to its own ``done``."""
STDIN = re.compile(r"""printf '([^']*)' [^|]*\| send '?[\d ]+'? (\w+) "\$management(/[^"]*)" --data @-""")
MANAGEMENT = 'management="${CATALOG_URI%/catalog}/management/v1"'
PREFIX = "warehouse"
"""The catalog API's prefix, which the script reads from the catalog's config: Polaris names the catalog."""


@pytest.fixture(scope="session")
def polaris_python() -> str:
    python, _ = ensure_venv(*POLARIS_CLIENT)
    return str(python)


def bootstrap_catalog(objects: dict[str, dict]) -> dict:
    [container] = [c for c in pod_spec(find(objects, "Job", "polaris-bootstrap"))["containers"]
                   if c["name"] == "bootstrap-catalog"]
    return container


def calls(script: str) -> list[tuple[str, str, str | None]]:
    """Every request of the script as written: (method, URL template, body variable or "@-")."""
    found = [(method, f"${base}{path}", variable or stdin) for method, base, path, variable, stdin
             in SEND.findall(script)]
    assert len(found) == len(re.findall(r"\bsend '?[\d ]", script)), "each request goes through send"
    return found


def sent(objects: dict[str, dict], stand_ins: dict[str, tuple[str, ...]]) -> list[dict[str, str]]:
    """Each request of the rendered script that has a body: method, path as sent, body as rendered, or as
    the script builds it (``stand_ins``: path template → the ``printf`` arguments)."""
    container = bootstrap_catalog(objects)
    script = container["command"][2]
    literals = {v["name"]: v["value"] for v in container["env"] if "value" in v}
    assert MANAGEMENT in script.splitlines()
    bases = {"management": urlsplit(literals["CATALOG_URI"].removesuffix("/catalog") + "/management/v1").path,
             "CATALOG_URI": ""}
    lists = find(objects, "ConfigMap", "polaris-bootstrap-requests")["data"]
    # The first line's names, for the requests built inside the loops.
    first = {"principal": lists["principals"].split()[0], "role": lists["catalog-roles"].split()[0]}

    def path(base: str, template: str, names: dict[str, str]) -> str:
        values = {**literals, "prefix": PREFIX, **names}
        return bases[base] + re.sub(r"\$(\w+)", lambda v: values[v[1]], template)

    requests = [{"method": method, "path": path(base, template, {}), "body": literals[variable]}
                for method, base, template, variable, _ in SEND.findall(script) if variable in literals]
    for _, variables, body, source in LOOP.findall(script):
        names = variables.split()
        for line in lists[source].splitlines():
            values = dict(zip(names, line.split(None, len(names) - 1), strict=True))
            requests += [{"method": method, "path": path(base, template, values), "body": values[variable]}
                         for method, base, template, variable, _ in SEND.findall(body) if variable in values]
    requests += [{"method": method, "path": path("management", template, first), "body": text % stand_ins[template]}
                 for text, method, template in STDIN.findall(script)]
    return requests


def check(python: str, requests: list[dict[str, str]]) -> list[tuple[str | None, list[str]]]:
    """(model, problems) of each request, from the Polaris client's own Python."""
    result = subprocess.run([python, CHECKER], input=json.dumps(requests), capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [(r["model"], r["problems"]) for r in json.loads(result.stdout)]


STAND_INS = {
    "/catalogs/$CATALOG": ("7", '"properties": {}}'),
    "/principals/$principal/reset": ("floe_0a1b2c3d", "s3cr3t-value"),
    "/catalogs/$CATALOG/catalog-roles/$role/grants": ('"type":"namespace","namespace":["old"],'
                                                      '"privilege":"TABLE_WRITE_DATA"',),
}
"""What the script puts into its templates: the catalog's version and the rest of CATALOG_UPDATE (the
test below uses the rendered one), a principal's Secret, a grant as the server lists it."""
CALLS = [
    ("POST", "$management/catalogs", "CATALOG_REQUEST"),
    ("GET", "$management/catalogs/$CATALOG", ""),
    ("PUT", "$management/catalogs/$CATALOG", "@-"),
    ("PUT", "$management/catalogs/$CATALOG/catalog-roles/catalog_admin/grants", "GRANT_REQUEST"),
    ("GET", "$CATALOG_URI/v1/config?warehouse=$CATALOG", ""),
    ("POST", "$CATALOG_URI/v1/$prefix/namespaces", "body"),
    ("POST", "$management/principals", "body"),
    ("POST", "$management/principals/$principal/reset", "@-"),
    ("GET", "$management/principals", ""),
    ("DELETE", "$management/principals/$principal", ""),
    ("DELETE", "$management/principal-roles/$principal", ""),
    ("DELETE", "$management/catalogs/$CATALOG/catalog-roles/$principal", ""),
    ("POST", "$management/principal-roles", "body"),
    ("PUT", "$management/principals/$principal/principal-roles", "body"),
    ("POST", "$management/catalogs/$CATALOG/catalog-roles", "body"),
    ("PUT", "$management/principal-roles/$role/catalog-roles/$CATALOG", "body"),
    ("PUT", "$management/catalogs/$CATALOG/catalog-roles/$role/grants", "body"),
    ("GET", "$management/catalogs/$CATALOG/catalog-roles/$role/grants", ""),
    ("POST", "$management/catalogs/$CATALOG/catalog-roles/$role/grants", "@-"),
]
"""Every request the script makes, in its order: method, URL, body (a variable, stdin, or none)."""
MODELS = {
    # (requests of each model): the catalog and its admin grant, then per product and per principal.
    "dev": {"CreateCatalogRequest": 1, "UpdateCatalogRequest": 1, "AddGrantRequest": 1 + 14,
            "CreateNamespaceRequest": 1, "CreatePrincipalRequest": 1, "ResetPrincipalRequest": 1,
            "CreatePrincipalRoleRequest": 1, "GrantPrincipalRoleRequest": 1, "CreateCatalogRoleRequest": 1,
            "GrantCatalogRoleRequest": 1, "RevokeGrantRequest": 1},
    # sales writes (14), marketing writes (14) and reads sales (7), Cube reads the catalog (8).
    "prod": {"CreateCatalogRequest": 1, "UpdateCatalogRequest": 1, "AddGrantRequest": 1 + 14 + 14 + 7 + 8,
             "CreateNamespaceRequest": 2, "CreatePrincipalRequest": 3, "ResetPrincipalRequest": 1,
             "CreatePrincipalRoleRequest": 3, "GrantPrincipalRoleRequest": 3, "CreateCatalogRoleRequest": 3,
             "GrantCatalogRoleRequest": 3, "RevokeGrantRequest": 1},
}
MODELS["staging"] = MODELS["prod"]
"""Staging has prod's products and, like prod, an extension mirror, so Cube attaches the catalog."""


def stand_ins(objects: dict[str, dict]) -> dict[str, tuple[str, ...]]:
    update = next(v["value"] for v in bootstrap_catalog(objects)["env"] if v["name"] == "CATALOG_UPDATE")
    return {**STAND_INS, "/catalogs/$CATALOG": ("7", update.removeprefix("{"))}


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_every_bootstrap_request_is_a_valid_request(polaris_python: str, dist_objects, name: str) -> None:
    objects = dist_objects[name]
    container = bootstrap_catalog(objects)
    assert container["image"] == f"docker.io/apache/polaris:{POLARIS_VERSION}"
    assert calls(container["command"][2]) == CALLS
    requests = sent(objects, stand_ins(objects))
    results = check(polaris_python, requests)
    assert [(r["method"], r["path"], problems) for r, (_, problems) in zip(requests, results, strict=True)
            if problems] == []
    assert Counter(model for model, _ in results) == MODELS[name]
    # The body with the secret, as built: the Secret's values kept.
    [reset] = [r for r in requests if r["path"].endswith("/reset")]
    assert json.loads(reset["body"]) == {"clientId": "floe_0a1b2c3d", "clientSecret": "s3cr3t-value"}


def test_broken_bodies_fail(polaris_python: str, dist_objects) -> None:
    requests = sent(dist_objects["dev"], stand_ins(dist_objects["dev"]))
    catalog, grant = requests[:2]
    assert json.loads(grant["body"]) == {"grant": {"privilege": "CATALOG_MANAGE_CONTENT", "type": "catalog"}}
    storage = json.loads(catalog["body"])["catalog"]["storageConfigInfo"]
    assert (storage["storageType"], storage["pathStyleAccess"]) == ("S3", True)
    [update] = [r for r in requests if r["method"] == "PUT" and r["path"].endswith("/catalogs/warehouse")]
    [reset] = [r for r in requests if r["path"].endswith("/reset")]
    [revoke] = [r for r in requests if r["method"] == "POST" and r["path"].endswith("/grants")]

    def edited(request: dict[str, str], old: str, new: str) -> dict[str, str]:
        assert request["body"].count(old) == 1
        return {**request, "body": request["body"].replace(old, new)}

    broken = [
        edited(catalog, '"pathStyleAccess"', '"pathStyleAcess"'),
        edited(catalog, '"storageType": "S3"', '"storageType": "MINIO"'),
        # A storage type the model knows, whose configuration has none of S3's fields.
        edited(catalog, '"storageType": "S3"', '"storageType": "FILE"'),
        # The bodies the bootstrap sent before this check: a field the API does not have, and a grant
        # without its wrapper.
        edited(catalog, '"properties"', '"readOnly": false, "properties"'),
        {**grant, "body": json.dumps(json.loads(grant["body"])["grant"])},
        edited(grant, "CATALOG_MANAGE_CONTENT", "CATALOG_MANAGE_CONTENTS"),
        # The right body on the wrong operation.
        {**grant, "method": "POST", "path": catalog["path"]},
        # The version as a string; the reset's fields as the CLI's options are spelt; a revoke without its wrapper.
        edited(update, '"currentEntityVersion": 7', '"currentEntityVersion": "7"'),
        edited(reset, '"clientSecret"', '"client_secret"'),
        {**revoke, "body": json.dumps(json.loads(revoke["body"])["grant"])},
    ]
    results = check(polaris_python, broken)
    assert [model for model, _ in results] == ["CreateCatalogRequest"] * 4 + ["AddGrantRequest"] * 2 + [
        "CreateCatalogRequest", "UpdateCatalogRequest", "ResetPrincipalRequest", "RevokeGrantRequest"]
    (misspelt, unknown_type, file_type, read_only, unwrapped, privilege, wrong_operation, version, reset_field,
     revoke_unwrapped) = (p for _, p in results)
    assert misspelt == [".catalog.storageConfigInfo.pathStyleAcess = true is not kept (as nothing)"]
    assert [p[:62] for p in unknown_type] == ["ValueError: StorageConfigInfo failed to lookup discriminator v"]
    assert file_type == [f".catalog.storageConfigInfo.{field} = {value} is not kept (as nothing)" for field, value in (
        ("endpoint", '"http://minio.floe-platform.svc.cluster.local:9000"'),
        ("endpointInternal", '"http://minio.floe-platform.svc.cluster.local:9000"'),
        ("pathStyleAccess", "true"), ("region", '"us-east-1"'), ("stsUnavailable", "true"))]
    assert read_only == [".catalog.readOnly = false is not kept (as nothing)"]
    assert unwrapped == ['.privilege = "CATALOG_MANAGE_CONTENT" is not kept (as nothing)',
                         '.type = "catalog" is not kept (as nothing)']
    assert len(privilege) == 1 and "1 validation error for CatalogGrant\nprivilege" in privilege[0]
    assert len(wrong_operation) == 1 and "CreateCatalogRequest\ncatalog\n  Input should be a valid dictionary" in \
        wrong_operation[0]
    assert len(version) == 1 and "currentEntityVersion\n  Input should be a valid integer" in version[0]
    assert reset_field == ['.client_secret = "s3cr3t-value" is not kept (as nothing)']
    assert revoke_unwrapped == ['.type = "namespace" is not kept (as nothing)',
                                '.namespace[0] = "old" is not kept (as nothing)',
                                '.privilege = "TABLE_WRITE_DATA" is not kept (as nothing)']
