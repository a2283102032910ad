"""The pod runner itself: what it lays out and resolves is what the kubelet would."""

import copy
import os
import sys
import time

import pytest

from tests.conformance.pod import Pod, expand
from tests.conftest import find


@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)-$(B)", "one-two"),
    ("$$(A)", "$(A)"),                   # `$$` escapes: the reference is kept literally
    ("$$$(A)", "$one"),
    ("$(MISSING)", "$(MISSING)"),        # an unknown reference stays as written
    ("$(A", "$(A"),                      # so does an unclosed one
    ("cost $5 $", "cost $5 $"),          # a `$` that starts no reference is kept
    ("$(A)$(A)", "oneone"),
])
def test_expands_like_kubernetes(text: str, expected: str) -> None:
    assert expand(text, {"A": "one", "B": "two"}) == expected


def test_env_expands_only_what_is_defined_before(tmp_path) -> None:
    job = {"kind": "Job", "metadata": {"name": "j", "namespace": "ns"}, "spec": {"template": {"spec": {
        "containers": [{"name": "c", "command": ["echo", "$(LATER)", "$(FIRST)", "$$(FIRST)"], "env": [
            {"name": "FIRST", "value": "a"},
            {"name": "SECOND", "value": "$(FIRST)-$(LATER)"},
            {"name": "LATER", "value": "b"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        ], "resources": {"limits": {"memory": "256Mi"}}}]}}}}
    pod = Pod.of(job, "c", tmp_path, secrets={"creds": {"password": "s3cret"}})
    assert pod.env["SECOND"] == "a-$(LATER)"
    assert pod.command == ["echo", "b", "a", "$(FIRST)"]
    assert (pod.env["POD"], pod.env["IP"], pod.env["MEM"], pod.env["PASSWORD"]) == (
        "j-5f7d8c9b6-x2kqz", "127.0.0.1", "256", "s3cret")
    assert (pod.env["KUBERNETES_SERVICE_HOST"], pod.env["KUBERNETES_SERVICE_PORT"]) == ("127.0.0.1", "443")
    assert pod.run(["sh", "-c", 'echo "$SECOND"']).stdout == "a-$(LATER)\n"


def test_config_map_item_laid_out_at_its_sub_path(dist_objects, tmp_path) -> None:
    """dev's Dagster migration reads `dagster-migrate.yaml` as dagster.yaml inside its writable home,
    with the database's cluster name pointed at loopback."""
    job = find(dist_objects["dev"], "Job", "dagster-migrate")
    pod = Pod.of(job, "dagster-migrate", tmp_path, rendered=dist_objects["dev"].values(),
                 hosts={"postgres-dagster": "127.0.0.1:15432"})
    instance = pod.path("/opt/dagster/dagster_home/dagster.yaml").read_text()
    assert "hostname: 127.0.0.1\n" in instance
    assert "svc.cluster.local" not in instance
    assert pod.env["DAGSTER_HOME"] == str(tmp_path / "opt/dagster/dagster_home")
    (pod.path("/opt/dagster/dagster_home") / "written").write_text("the home is writable")


def test_rewrites_dns_names_and_mount_paths_in_one_pass(tmp_path) -> None:
    job = {"kind": "Job", "metadata": {"name": "j", "namespace": "ns"}, "spec": {"template": {"spec": {
        "containers": [{"name": "c", "volumeMounts": [{"name": "t", "mountPath": "/tmp"},
                                                      {"name": "c", "mountPath": "/etc/config"}]}],
        "volumes": [{"name": "t", "emptyDir": {}}]}}}}
    pod = Pod.of(job, "c", tmp_path, hosts={"db": "127.0.0.1:15432"})
    assert pod.rewrite("--config=/etc/config/a.yml /tmpfile file:/etc/configs") == (
        f"--config={tmp_path}/etc/config/a.yml /tmpfile file:/etc/configs")
    assert pod.rewrite("http://minio.floe.svc.cluster.local:9000 polaris.floe.svc:8181/api") == (
        "http://127.0.0.1:9000 127.0.0.1:8181/api")
    assert pod.rewrite("postgresql://db:5432/x db.ns.svc:5432 db-credentials") == (
        "postgresql://127.0.0.1:15432/x 127.0.0.1:15432 db-credentials")


def test_token_only_where_the_pod_mounts_one(dist_objects, tmp_path) -> None:
    """dev's Dagster daemon automounts its token (it launches runs); the migration Job does not."""
    objects = dist_objects["dev"]
    daemon = Pod.of(find(objects, "Deployment", "dagster-daemon"), "dagster-daemon", tmp_path / "daemon",
                    rendered=objects.values())
    assert daemon.token == tmp_path / "daemon/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert daemon.token.read_text() == "token-of-floe-platform-dagster-daemon"
    migrate = Pod.of(find(objects, "Job", "dagster-migrate"), "dagster-migrate", tmp_path / "migrate",
                     rendered=objects.values())
    assert migrate.token is None
    assert not migrate.path("/var/run/secrets/kubernetes.io/serviceaccount").exists()
    # The kubernetes client in a child Python process finds the laid-out token and CA.
    shown = daemon.run([sys.executable, "-c", "from kubernetes.config import incluster_config as c; "
                                              "print(c.SERVICE_TOKEN_FILENAME, c.SERVICE_CERT_FILENAME)"])
    assert shown.stdout.split() == [str(daemon.token), str(daemon.token.parent / "ca.crt")], shown.stderr


def test_token_of_a_projected_volume(tmp_path) -> None:
    job = {"kind": "Job", "metadata": {"name": "j", "namespace": "ns"}, "spec": {"template": {"spec": {
        "automountServiceAccountToken": False, "serviceAccountName": "runner",
        "containers": [{"name": "c", "volumeMounts": [{"name": "api", "mountPath": "/var/run/api"}]}],
        "volumes": [{"name": "api", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}}]}}}}
    assert Pod.of(job, "c", tmp_path).token == tmp_path / "var/run/api/token"
    without = copy.deepcopy(job)
    without["spec"]["template"]["spec"]["volumes"][0]["projected"]["sources"] = []
    assert Pod.of(without, "c", tmp_path / "without").token is None


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of the pod's own needs root")
def test_each_pod_has_its_own_loopback(tmp_path) -> None:
    """Two pods' servers on the same port, each answering only inside its own pod."""
    job = {"kind": "Job", "metadata": {"name": "j", "namespace": "ns"}, "spec": {"template": {"spec": {
        "automountServiceAccountToken": False, "containers": [{"name": "c"}]}}}}
    pods = [Pod.of(job, "c", tmp_path / name, own_network=True) for name in ("one", "two")]
    servers = []
    try:
        for pod in pods:
            (pod.root / "index.html").write_text(pod.root.name)
            servers.append(pod.start([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "8080"]))
        for pod in pods:
            deadline = time.monotonic() + 10
            while pod.http("GET", 8080, "/index.html") != 200:
                assert time.monotonic() < deadline, (pod.root / ".pod/python.log").read_text()
                time.sleep(0.1)
        fetch = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/index.html').read().decode())"
        assert [pod.run([sys.executable, "-c", fetch]).stdout for pod in pods] == ["one\n", "two\n"]
    finally:
        for server in servers:
            server.kill()
            server.wait()
        for pod in pods:
            pod.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of the pod's own needs root")
def test_a_pod_on_another_pods_network_reaches_its_servers_and_leaves_it_open(tmp_path) -> None:
    """``network_of`` stands for the cluster's network between two pods; closing the joining pod ends nothing."""
    job = {"kind": "Job", "metadata": {"name": "j", "namespace": "ns"}, "spec": {"template": {"spec": {
        "automountServiceAccountToken": False, "containers": [{"name": "c"}]}}}}
    server_pod = Pod.of(job, "c", tmp_path / "server", own_network=True)
    client = Pod.of(job, "c", tmp_path / "client", network_of=server_pod)
    stranger = Pod.of(job, "c", tmp_path / "stranger", own_network=True)
    (server_pod.root / "index.html").write_text("served")
    server = server_pod.start([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "8081"])
    try:
        deadline = time.monotonic() + 10
        while server_pod.http("GET", 8081, "/index.html") != 200:
            assert time.monotonic() < deadline, (server_pod.root / ".pod/python.log").read_text()
            time.sleep(0.1)
        client.close()
        assert (client.http("GET", 8081, "/index.html"), stranger.http("GET", 8081, "/index.html")) == (200, 0)
    finally:
        server.kill()
        server.wait()
        for pod in (server_pod, stranger):
            pod.close()
