"""The role bootstrap for real: the rendered Job's script, as its pod runs it, against the rendered instance.

Each in-cluster instance is started from its rendered StatefulSet (test_postgres.py's runner: the image's
first start as its entry point does it), then the rendered ``postgres-<consumer>-roles`` Job's command runs
in its own laid-out pod, which reaches the instance pod's address as it would reach the Service. Both pods
read the same invented Secret values, as two pods of one namespace read one Secret.
"""

import copy
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from floe.components import postgres, postgres_roles
from tests.conformance.pod import Pod
from tests.conformance.postgres_tls import PLAIN_ENVIRONMENTS
from tests.conformance.test_postgres import (  # noqa: F401 (image: a fixture)
    ACCOUNT,
    INSTANCES,
    POD_IP,
    Server,
    image,
    running,
)
from tests.conftest import find

CONSUMERS = [(env, name.removeprefix("postgres-")) for env, name in INSTANCES if env in PLAIN_ENVIRONMENTS]
"""The instances served plain: one with in-cluster TLS needs a server built with OpenSSL, here only Debian's
PostgreSQL 15, whose catalog lacks the membership options (16+) this file reads; the roles Job's connection
over TLS (verify-full) is tested by test_tls.py."""
ADMIN = {"username": "floe_admin", "password": "admin secret with 'quotes' and spaces"}
CLIENT = {"username": "floe_client", "password": "client secret; DROP ROLE floe_admin; --"}
MONITORING = {"username": "floe-monitoring", "password": "monitoring \\ secret"}
"""Invented Secret values, quotes, a backslash and SQL included: the script must pass them as values."""
STATE = """
SELECT 'role ' || (rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                   rolbypassrls, rolconnlimit, rolvaliduntil, rolpassword)::text
  FROM pg_authid WHERE rolname !~ '^pg_'
UNION ALL
SELECT 'member ' || (member::regrole, roleid::regrole, grantor::regrole, admin_option, inherit_option,
                     set_option)::text
  FROM pg_auth_members
UNION ALL
SELECT 'database ' || (datname, datdba::regrole, datacl)::text FROM pg_database
UNION ALL
SELECT 'schema ' || (nspname, nspowner::regrole, nspacl)::text FROM pg_namespace
UNION ALL
SELECT 'relation ' || (oid::regclass, relowner::regrole, relacl)::text
  FROM pg_class WHERE relnamespace::regnamespace::text !~ '^(pg_|information_schema)'
ORDER BY 1
"""
"""Everything the script may change: roles (password verifiers included), memberships, owners and grants."""


def secrets(consumer: str, admin: Mapping = ADMIN, client: Mapping = CLIENT) -> dict[str, Mapping[str, str]]:
    instance = postgres.instance_name(consumer)
    return {f"{instance}-admin-credentials": admin, f"{instance}-credentials": client,
            postgres.monitoring_secret(consumer): MONITORING}


def instance_pod(objects: dict, consumer: str, root: Path, values: Mapping) -> Pod:
    """The instance's pod laid out from its rendered StatefulSet, with its own network (``running`` gives it
    its address)."""
    pod = Pod.of(find(objects, "StatefulSet", postgres.instance_name(consumer)), "postgres", root, secrets=values,
                 rendered=objects.values(), own_network=True)
    if pod.network is None:
        pytest.skip("the pod needs a network of its own (as root) for an address other than 127.0.0.1")
    return pod


def job_pod(objects: dict, consumer: str, root: Path, values: Mapping, instance: Pod,
            job: Mapping | None = None) -> Pod:
    """The rendered roles Job's pod (or ``job``'s), reaching the instance's Service at the instance's address."""
    job = job or find(objects, "Job", postgres_roles.instance_name(consumer))
    return Pod.of(job, "reconcile-roles", root, secrets=values, rendered=objects.values(),
                  hosts={postgres.instance_name(consumer): POD_IP}, network_of=instance)


@pytest.fixture
def instance(request, dist_objects, image, pod_root) -> Iterator[tuple[Server, str, dict]]:  # noqa: F811
    """The instance of (environment, consumer) started from its rendered StatefulSet, with ``secrets``
    (``request.param[2]`` when given: an instance first started with other values)."""
    env, consumer, *given = request.param
    objects = dist_objects[env]
    pod = instance_pod(objects, consumer, pod_root, given[0] if given else secrets(consumer))
    with running(pod, image) as (server, _):
        yield server, consumer, objects


@pytest.fixture
def job_roots() -> Iterator:
    """``job_roots()``: a new folder for a Job's pod, each removed at the end."""
    roots = []

    def new() -> Path:
        roots.append(Path(tempfile.mkdtemp(prefix="floe-pod-")))
        return roots[-1]

    yield new
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def reconcile(instance, job_roots) -> Callable[..., subprocess.CompletedProcess]:
    """``reconcile(secrets, job=None)``: the rendered roles Job (or ``job``) run once in a pod of its own."""
    server, consumer, objects = instance

    def run(values: Mapping, job: Mapping | None = None) -> subprocess.CompletedProcess:
        return job_pod(objects, consumer, job_roots(), values, server.pod, job).run(user=ACCOUNT,
                                                                                     extra_env=server.programs)

    return run


def sql(server: Server, login: Mapping[str, str], statement: str) -> subprocess.CompletedProcess:
    """``statement`` (no credential in it) as ``login``, over TCP into the consumer's database."""
    return server.pod.run(["psql", "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "-At", "-c", statement],
                          extra_env={**server.programs, "PGHOST": POD_IP, "PGPORT": str(postgres.PORT),
                                     "PGDATABASE": server.pod.env["POSTGRES_DB"], "PGUSER": login["username"],
                                     "PGPASSWORD": login["password"]})


def value(server: Server, login: Mapping[str, str], statement: str) -> str:
    result = sql(server, login, statement)
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n")


def refused(server: Server, login: Mapping[str, str], statement: str) -> str:
    result = sql(server, login, statement)
    assert result.returncode != 0, f"{statement!r} ran as {login['username']}: {result.stdout}"
    return result.stderr


def assert_ordinary_owner(server: Server, client: Mapping[str, str] = CLIENT) -> None:
    """The client logs in, is an ordinary role owning its database and its public schema, and no more."""
    assert value(server, client, "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                                 "FROM pg_roles WHERE rolname = current_user") == "f|f|f|f|f"
    assert value(server, client, "SELECT count(*) FROM pg_auth_members WHERE member = current_user::regrole") == "0"
    assert value(server, client, "SELECT datdba::regrole, nspowner::regrole FROM pg_database, pg_namespace "
                                 "WHERE datname = current_database() AND nspname = 'public'") == \
        f"{client['username']}|{client['username']}"
    assert value(server, client, "CREATE TABLE IF NOT EXISTS probe (id int); SELECT 'created'") == "created"
    assert "permission denied to COPY to or from an external program" in refused(
        server, client, "COPY (SELECT 1) TO PROGRAM 'true'")
    assert "permission denied to create database" in refused(server, client, "CREATE DATABASE elsewhere")
    assert "permission denied to create role" in refused(server, client, "CREATE ROLE another")


@pytest.mark.parametrize("instance", CONSUMERS, ids=[f"{env}-{consumer}" for env, consumer in CONSUMERS],
                         indirect=True)
def test_the_client_owns_its_database_and_nothing_more(instance, reconcile) -> None:
    server, consumer, _ = instance
    assert value(server, ADMIN, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t"
    first = reconcile(secrets(consumer))
    assert first.returncode == 0, first.stderr
    assert_ordinary_owner(server)
    assert value(server, MONITORING, "SELECT rolsuper, pg_has_role('pg_monitor', 'MEMBER'), "
                                     "has_schema_privilege('public', 'CREATE') FROM pg_roles "
                                     "WHERE rolname = current_user") == "f|t|f"
    # Nobody else may connect to the database.
    assert value(server, ADMIN, "SELECT has_database_privilege('public', current_database(), 'CONNECT')") == "f"

    before = value(server, ADMIN, STATE)
    again = reconcile(secrets(consumer))
    assert again.returncode == 0, again.stderr
    assert value(server, ADMIN, STATE) == before, "a second run changed the instance"


@pytest.mark.parametrize("instance", CONSUMERS[:1], ids=[f"{env}-{consumer}" for env, consumer in CONSUMERS[:1]],
                         indirect=True)
def test_a_rotated_client_password_is_applied(instance, reconcile) -> None:
    server, consumer, _ = instance
    assert reconcile(secrets(consumer)).returncode == 0
    rotated = {**CLIENT, "password": "rotated client secret"}
    result = reconcile(secrets(consumer, client=rotated))
    assert result.returncode == 0, result.stderr
    assert "password authentication failed" in refused(server, CLIENT, "SELECT 1")
    assert value(server, rotated, "SELECT current_user") == CLIENT["username"]


@pytest.mark.parametrize("instance", CONSUMERS[:1], ids=[f"{env}-{consumer}" for env, consumer in CONSUMERS[:1]],
                         indirect=True)
def test_an_existing_superuser_client_role_is_made_ordinary(instance, reconcile) -> None:
    """The reconcile applies a changed attribute: a client role someone made a superuser is one no more;
    the script without NOSUPERUSER would leave it one, and the checks fail on that."""
    server, consumer, objects = instance
    made = server.pod.run(["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-h", POD_IP,
                           "-d", server.pod.env["POSTGRES_DB"]], input=(
        "\\getenv client_user CLIENT_USER\n\\getenv client_password CLIENT_PASSWORD\n"
        "CREATE ROLE :\"client_user\" SUPERUSER CREATEDB LOGIN PASSWORD :'client_password';\n"),
        extra_env={**server.programs, "PGUSER": ADMIN["username"], "PGPASSWORD": ADMIN["password"],
                   "CLIENT_USER": CLIENT["username"], "CLIENT_PASSWORD": CLIENT["password"]})
    assert made.returncode == 0, made.stderr
    assert value(server, CLIENT, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t"

    job = copy.deepcopy(find(objects, "Job", postgres_roles.instance_name(consumer)))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    script = container["command"][-1]
    container["command"][-1] = script.replace('ALTER ROLE :"client_user" WITH LOGIN NOSUPERUSER',
                                              'ALTER ROLE :"client_user" WITH LOGIN')
    assert container["command"][-1] != script
    assert reconcile(secrets(consumer), job).returncode == 0
    with pytest.raises(AssertionError, match=re.escape("'t|f|f|f|f' == 'f|f|f|f|f'")):
        assert_ordinary_owner(server)

    assert reconcile(secrets(consumer)).returncode == 0
    assert_ordinary_owner(server)


@pytest.mark.parametrize("instance", CONSUMERS[:1], ids=[f"{env}-{consumer}" for env, consumer in CONSUMERS[:1]],
                         indirect=True)
def test_a_script_granting_superuser_fails_the_checks(instance, reconcile) -> None:
    server, consumer, objects = instance
    job = copy.deepcopy(find(objects, "Job", postgres_roles.instance_name(consumer)))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    script = container["command"][-1]
    container["command"][-1] = script.replace('ALTER ROLE :"client_user" WITH LOGIN NOSUPERUSER',
                                              'ALTER ROLE :"client_user" WITH LOGIN SUPERUSER')
    assert container["command"][-1] != script
    assert reconcile(secrets(consumer), job).returncode == 0
    with pytest.raises(AssertionError, match=re.escape("'t|f|f|f|f' == 'f|f|f|f|f'")):
        assert_ordinary_owner(server)


OWNED_BY_OTHERS = """
SELECT string_agg(kind || ' ' || name, ', ') FROM (
  SELECT 'schema', nspname, nspowner, nspname FROM pg_namespace
  UNION ALL SELECT 'relation', oid::regclass::text, relowner, relnamespace::regnamespace::text FROM pg_class
  UNION ALL SELECT 'routine', oid::regprocedure::text, proowner, pronamespace::regnamespace::text FROM pg_proc
  UNION ALL SELECT 'type', oid::regtype::text, typowner, typnamespace::regnamespace::text FROM pg_type
) AS objects (kind, name, owner, schema)
WHERE schema !~ '^(pg_|information_schema)' AND owner <> current_user::regrole
"""
"""Every object of the database, outside the system's schemas, owned by a role other than the one asking."""


OLD = [(*CONSUMERS[0], secrets(CONSUMERS[0][1], admin=CLIENT))]
"""An instance first started when the client Secret named the superuser (POSTGRES_USER was the client's)."""


@pytest.mark.parametrize("instance", OLD, ids=[f"{env}-{consumer}-first-started-as-client" for env, consumer, _ in OLD],
                         indirect=True)
def test_an_instance_initialised_by_the_client_role_moves_as_the_readme_says(instance, reconcile) -> None:
    server, consumer, objects = instance
    # The consumer's objects, created while its role was the superuser.
    assert value(server, CLIENT, "CREATE TABLE runs (id serial PRIMARY KEY, body text); "
                                 "INSERT INTO runs (body) VALUES ('kept'); CREATE SCHEMA catalog; "
                                 "CREATE TYPE catalog.state AS ENUM ('open'); CREATE DOMAIN catalog.name AS text; "
                                 "CREATE TABLE catalog.entities (id bigint GENERATED ALWAYS AS IDENTITY, "
                                 "s catalog.state); "
                                 "CREATE VIEW catalog.open AS SELECT id FROM catalog.entities; "
                                 "CREATE FUNCTION catalog.one() RETURNS int LANGUAGE sql AS 'SELECT 1'; "
                                 "SELECT 'made'") == "made"

    # The new admin Secret names another superuser, which does not exist: the Job says so and stops.
    refusal = reconcile(secrets(consumer))
    assert refusal.returncode != 0
    assert "the superuser of the admin Secret cannot log in" in refusal.stderr

    # The client Secret still names the role that ran initdb: PostgreSQL keeps it a superuser, the Job refuses.
    same = reconcile(secrets(consumer, admin=CLIENT))
    assert same.returncode != 0
    assert f"the role {CLIENT['username']} is the superuser of this instance" in same.stderr

    # README: the admin Secret takes the client Secret's values, the client Secret a new role.
    moved = {"username": "floe_client_2", "password": "the new client role's password"}
    # Broken: the script printing the ownership changes (\g) instead of running them (\gexec) leaves them.
    job = copy.deepcopy(find(objects, "Job", postgres_roles.instance_name(consumer)))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    head, _, tail = container["command"][-1].rpartition("\\gexec")
    container["command"][-1] = f"{head}\\g{tail}"
    assert reconcile(secrets(consumer, admin=CLIENT, client=moved), job).returncode == 0
    left = value(server, moved, OWNED_BY_OTHERS)
    assert "schema catalog" in left and "relation runs" in left and "routine catalog.one()" in left
    assert "type catalog.state" in left and "type catalog.name" in left

    result = reconcile(secrets(consumer, admin=CLIENT, client=moved))
    assert result.returncode == 0, result.stderr
    assert_ordinary_owner(server, moved)
    assert value(server, moved, "INSERT INTO runs (body) VALUES ('new'); SELECT string_agg(body, ',' ORDER BY id) "
                                "FROM runs") == "kept,new"
    assert value(server, moved, "SELECT relowner::regrole FROM pg_class WHERE relname = 'runs_id_seq'") == \
        moved["username"]
    assert value(server, moved, OWNED_BY_OTHERS) == "", "an object of the database is not the new role's"
    assert value(server, moved, "INSERT INTO catalog.entities (s) VALUES ('open'); SELECT count(*) FROM catalog.open "
                                "WHERE catalog.one() = 1") == "1"


def test_the_job_waits_for_its_instance(dist_objects, image, pod_root, job_roots) -> None:  # noqa: F811
    """Started before its server (Flux applies a step at once), the Job waits, then reconciles."""
    env, consumer = CONSUMERS[0]
    objects = dist_objects[env]
    pod = instance_pod(objects, consumer, pod_root, secrets(consumer))
    programs = Server(pod, image).programs
    job = job_pod(objects, consumer, job_roots(), secrets(consumer), pod)
    early = job.start(user=ACCOUNT, extra_env=programs, log=job.root / "job.log")
    try:
        time.sleep(1)
        assert early.poll() is None, (job.root / "job.log").read_text()
        with running(pod, image) as (server, _):
            assert early.wait(timeout=60) == 0, (job.root / "job.log").read_text()
            assert_ordinary_owner(server)
    finally:
        early.kill()
        early.wait()
    assert f"waiting for PostgreSQL at {POD_IP}:5432" in (job.root / "job.log").read_text()
