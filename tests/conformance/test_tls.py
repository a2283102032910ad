"""In-cluster TLS for real: a rendered PostgreSQL instance serving TLS, and its rendered clients verifying it.

staging's ``postgres-polaris`` is started from its rendered StatefulSet (test_postgres.py's runner), its
Certificate's Secret holding what cert-manager would write there: a certificate a fresh CA issued for the
rendered Certificate's ``dnsNames`` and nothing else. Each rendered client of the instance then runs
``psql`` in its own laid-out pod with its rendered libpq settings (``PGSSLMODE``, ``PGSSLROOTCERT`` on the
environment's CA Secret): its ``PGHOST`` stays the Service's cluster name, which ``verify-full`` checks
against the certificate, while ``PGHOSTADDR`` is the instance pod's address (the cluster DNS's answer).
"""

import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from floe.components import postgres
from floe.config.storage import InClusterPostgres
from tests.conformance import postgres_tls
from tests.conformance import test_polaris_bootstrap as bootstrap
from tests.conformance.pod import Pod
from tests.conformance.test_postgres import (  # noqa: F401 (image: a fixture)
    ACCOUNT,
    POD_IP,
    Server,
    image,
    running,
)
from tests.conftest import find

ENVIRONMENT, CONSUMER = "staging", "polaris"
INSTANCE = postgres.instance_name(CONSUMER)
CLIENTS = [("Job", "postgres-polaris-roles", "reconcile-roles"), ("CronJob", "postgres-polaris-backup", "dump"),
           ("Job", "polaris-bootstrap", "create-schema")]
"""Every rendered container that reaches the instance through libpq's environment."""
LOGIN = {"username": "floe_admin", "password": "admin secret"}
ENCRYPTION = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture
def objects(dist_objects) -> dict[str, dict]:
    return dist_objects[ENVIRONMENT]


@pytest.fixture
def issued(objects) -> tuple[str, str, str]:
    """(CA, certificate, key) for the rendered Certificate's names alone."""
    certificate = find(objects, "Certificate", f"{INSTANCE}-server-tls")
    return postgres_tls.issue(tuple(certificate["spec"]["dnsNames"]), ())


def logins(objects: Mapping[str, dict]) -> dict[str, dict[str, str]]:
    """Every Secret with a username and password that the instance and its clients read: one login here."""
    names = {postgres.admin_secret(CONSUMER, InClusterPostgres()), f"{INSTANCE}-credentials"}
    return {name: LOGIN for name in names}


@pytest.fixture
def server(objects, issued, image, pod_root) -> Iterator[Server]:  # noqa: F811
    ca, cert, key = issued
    secret = find(objects, "Certificate", f"{INSTANCE}-server-tls")["spec"]["secretName"]
    pod = Pod.of(find(objects, "StatefulSet", INSTANCE), "postgres", pod_root, own_network=True,
                 secrets={**logins(objects), secret: {"tls.crt": cert, "tls.key": key, "ca.crt": ca}},
                 rendered=objects.values())
    if pod.network is None:
        pytest.skip("the pod needs a network of its own (as root) for an address other than 127.0.0.1")
    postgres_tls.as_the_kubelet_writes(pod)
    with running(pod, postgres_tls.programs(pod, image)) as (started, _):
        yield started


def client(objects: Mapping[str, dict], server: Server, where: tuple[str, str, str], ca: str, root: Path) -> Pod:
    """The client's pod, its CA Secret holding ``ca``, on the cluster's network to the instance."""
    kind, name, container = where
    ca_secret = _ca_secret(find(objects, kind, name), container)
    return Pod.of(find(objects, kind, name), container, root, secrets={**logins(objects), ca_secret: {"ca.crt": ca}},
                  rendered=objects.values(), network_of=server.pod)


def _ca_secret(obj: dict, container: str) -> str:
    """The Secret the container's ``PGSSLROOTCERT`` is an item of."""
    spec = obj["spec"].get("template") or obj["spec"]["jobTemplate"]["spec"]["template"]
    pods = spec["spec"]
    found = next(c for c in [*(pods.get("initContainers") or []), *pods["containers"]] if c["name"] == container)
    root_cert = next(v["value"] for v in found["env"] if v["name"] == "PGSSLROOTCERT")
    mount = next(m for m in found["volumeMounts"] if root_cert.startswith(m["mountPath"] + "/"))
    return next(v["secret"]["secretName"] for v in pods["volumes"] if v["name"] == mount["name"])


def query(pod: Pod, server: Server, statement: str, **settings: str) -> subprocess.CompletedProcess:
    """``statement`` by psql in the client's pod, with its rendered libpq env; ``PGHOST`` the rendered
    (cluster) name, unless ``settings`` say otherwise."""
    rendered = next(v["value"] for v in pod.container["env"] if v["name"] == "PGHOST")
    uid, _ = pod.uid_gid()
    return pod.run(["psql", "--no-psqlrc", "-At", "-c", statement], user=f"{ACCOUNT}-{uid}",
                   extra_env={**server.programs, "PGHOST": rendered, "PGHOSTADDR": POD_IP, **settings})


@pytest.mark.parametrize("where", CLIENTS, ids=[f"{name}-{container}" for _, name, container in CLIENTS])
def test_each_client_verifies_the_instance_and_speaks_tls(objects, issued, server, where, pod_root) -> None:
    pod = client(objects, server, where, issued[0], pod_root / "client")
    assert pod.env["PGSSLMODE"] == "verify-full"
    assert Path(pod.env["PGSSLROOTCERT"]).read_text() == issued[0]
    result = query(pod, server, ENCRYPTION)
    assert (result.returncode, result.stdout) == (0, "t\n"), result.stderr


def test_a_server_signed_by_another_ca_is_refused(objects, issued, server, pod_root) -> None:
    other_ca, _, _ = postgres_tls.issue(("another.example",), ())
    assert other_ca != issued[0]
    pod = client(objects, server, CLIENTS[0], other_ca, pod_root / "client")
    result = query(pod, server, ENCRYPTION)
    assert result.returncode != 0
    assert "certificate verify failed" in result.stderr


def test_a_name_the_certificate_lacks_is_refused(objects, issued, server, pod_root) -> None:
    pod = client(objects, server, CLIENTS[0], issued[0], pod_root / "client")
    elsewhere = "postgres-dagster.floe-platform.svc.cluster.local"
    result = query(pod, server, ENCRYPTION, PGHOST=elsewhere)
    assert result.returncode != 0
    assert f'server certificate for "{INSTANCE}" (and 3 other names) does not match host name "{elsewhere}"' \
        in result.stderr


def test_a_client_without_tls_is_refused(objects, issued, server, pod_root) -> None:
    """The rendered pg_hba.conf takes a password only over TLS: a client that does not ask for it gets in
    nowhere, even with the right password."""
    pod = client(objects, server, CLIENTS[0], issued[0], pod_root / "client")
    result = query(pod, server, ENCRYPTION, PGSSLMODE="disable")
    assert result.returncode != 0
    assert "no encryption" in result.stderr


def test_the_catalog_bootstrap_verifies_polaris_against_the_ca(dist_objects, tmp_path: Path) -> None:
    """staging's bootstrap-catalog (curl, ``CURL_CA_BUNDLE``) against a Polaris signed by another CA: curl
    refuses the server, so no request reaches it and the script keeps waiting for a token (its Job's deadline
    ends it); test_polaris_bootstrap.py runs the same container against the CA's own certificate."""
    objects = dist_objects[ENVIRONMENT]
    with bootstrap.Polaris(bootstrap.ROOT) as polaris:
        other_ca = postgres_tls.issue(("another.example",), ())[0]
        secrets = {**bootstrap.SECRETS, "floe-in-cluster-ca": {"ca.crt": other_ca}}
        container = Pod.of(find(objects, "Job", "polaris-bootstrap"), "bootstrap-catalog", tmp_path, secrets=secrets,
                           hosts={"polaris": polaris.address}, rendered=objects.values())
        assert container.env["CURL_CA_BUNDLE"].endswith("/etc/floe/in-cluster-ca/ca.crt")
        with pytest.raises(subprocess.TimeoutExpired):
            container.run(timeout=3)
        assert polaris.requests == []
