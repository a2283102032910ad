"""Every object-store client is a MinIO user of its own; only MinIO and its bootstrap hold the root's keys.

The rendered readers of each credentials Secret, the policy documents (literal), and the bucket
bootstrap's script run against a recording ``mc``: the exact calls, and no secret in any argv.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from floe.security.secrets import inventory
from tests.conftest import ENVIRONMENT_NAMES, containers, find

PLATFORM, JOBS = "floe-platform", "floe-jobs"
BOOTSTRAP = "Job/minio-buckets"


def readers(objects: dict[str, dict]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(use.namespace, use.name): use.readers for use in inventory(objects.values())}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_only_minio_and_its_bootstrap_read_the_root_credentials(rendered, environment: str) -> None:
    found = readers(rendered[environment])
    assert found[PLATFORM, "minio-root-credentials"] == (BOOTSTRAP, "StatefulSet/minio")
    assert [name for (_, name) in found if "minio-root" in name] == ["minio-root-credentials"]


def product_readers(product: str) -> tuple[str, ...]:
    return (f"CronJob/{product}-dbt-run", f"CronJob/{product}-dbt-test", f"CronJob/{product}-dlt-ingest",
            f"CronJob/{product}-quality-check", f"runs launched from Deployment/dagster-code-{product}")


OBJECT_STORE_READERS = {
    "dev": {
        (PLATFORM, "polaris-object-store-credentials"): ("Deployment/polaris", BOOTSTRAP),
        (PLATFORM, "cube-store-object-store-credentials"): (BOOTSTRAP, "StatefulSet/cube-store-router",
                                                            "StatefulSet/cube-store-worker"),
        (PLATFORM, "dagster-compute-logs-credentials"): ("Deployment/dagster-webserver", BOOTSTRAP),
        (PLATFORM, "postgres-backup-object-store-credentials"): ("CronJob/postgres-dagster-backup",
                                                                 "CronJob/postgres-polaris-backup", BOOTSTRAP),
        (PLATFORM, "floe-sales-object-store-credentials"): (BOOTSTRAP,),
        (JOBS, "floe-sales-object-store-credentials"): product_readers("sales"),
    },
    "staging": {
        (PLATFORM, "polaris-object-store-credentials"): ("Deployment/polaris", BOOTSTRAP),
        # Cube's DuckDB reads the tables (an extension mirror is set).
        (PLATFORM, "cube-object-store-credentials"): ("Deployment/cube-refresh-worker", BOOTSTRAP, "Rollout/cube"),
        (PLATFORM, "cube-store-object-store-credentials"): (BOOTSTRAP, "StatefulSet/cube-store-router",
                                                            "StatefulSet/cube-store-worker"),
        (PLATFORM, "dagster-compute-logs-credentials"): ("Deployment/dagster-webserver", BOOTSTRAP),
        (PLATFORM, "postgres-backup-object-store-credentials"): ("CronJob/postgres-dagster-backup",
                                                                 "CronJob/postgres-polaris-backup", BOOTSTRAP),
        (PLATFORM, "floe-marketing-object-store-credentials"): (BOOTSTRAP,),
        (PLATFORM, "floe-sales-object-store-credentials"): (BOOTSTRAP,),
        (JOBS, "floe-marketing-object-store-credentials"): product_readers("marketing"),
        (JOBS, "floe-sales-object-store-credentials"): product_readers("sales"),
    },
    "prod": {
        (PLATFORM, "polaris-object-store-credentials"): ("Deployment/polaris", BOOTSTRAP),
        (PLATFORM, "cube-object-store-credentials"): ("Deployment/cube-refresh-worker", BOOTSTRAP, "Rollout/cube"),
        (PLATFORM, "cube-store-object-store-credentials"): (BOOTSTRAP, "StatefulSet/cube-store-router",
                                                            "StatefulSet/cube-store-worker"),
        (PLATFORM, "dagster-compute-logs-credentials"): ("Deployment/dagster-webserver-viewer", BOOTSTRAP,
                                                         "Rollout/dagster-webserver"),
        # Dagster's database is external in prod: only Polaris's is backed up.
        (PLATFORM, "postgres-backup-object-store-credentials"): ("CronJob/postgres-polaris-backup", BOOTSTRAP),
        (PLATFORM, "floe-marketing-object-store-credentials"): (BOOTSTRAP,),
        (PLATFORM, "floe-sales-object-store-credentials"): (BOOTSTRAP,),
        (JOBS, "floe-marketing-object-store-credentials"): product_readers("marketing"),
        (JOBS, "floe-sales-object-store-credentials"): product_readers("sales"),
    },
}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_each_consumer_reads_its_own_users_secret(rendered, environment: str) -> None:
    """Each Secret read as ``access-key``/``secret-key`` by its consumer, and by the bootstrap that makes its user."""
    uses = {(use.namespace, use.name): use for use in inventory(rendered[environment].values())}
    found = {where: use.readers for where, use in uses.items() if use.keys == ("access-key", "secret-key")}
    assert found == OBJECT_STORE_READERS[environment]


def policies(objects: dict[str, dict]) -> dict[str, dict]:
    return {name.removesuffix(".json"): json.loads(text)
            for name, text in find(objects, "ConfigMap", "minio-policies")["data"].items()}


def allow(actions: list[str], resources: list[str], prefixes: list[str] | None = None) -> dict:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if prefixes:
        statement["Condition"] = {"StringLike": {"s3:prefix": prefixes}}
    return statement


WAREHOUSE, BACKUPS = "arn:aws:s3:::floe-warehouse", "arn:aws:s3:::floe-backups"
WRITE = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]


def test_each_policy_allows_exactly_what_its_consumer_needs(rendered) -> None:
    found = policies(rendered["staging"])
    assert all(document["Version"] == "2012-10-17" for document in found.values())
    assert {name: document["Statement"] for name, document in found.items()} == {
        "floe-catalog": [allow(["s3:GetBucketLocation"], [WAREHOUSE]), allow(["s3:ListBucket"], [WAREHOUSE]),
                         allow(["s3:GetObject", *WRITE], [f"{WAREHOUSE}/*"])],
        "floe-semantic": [allow(["s3:GetBucketLocation"], [WAREHOUSE]), allow(["s3:ListBucket"], [WAREHOUSE]),
                          allow(["s3:GetObject"], [f"{WAREHOUSE}/*"])],
        "floe-cube-store": [allow(["s3:GetBucketLocation"], [WAREHOUSE]),
                            allow(["s3:ListBucket"], [WAREHOUSE], ["cube-store", "cube-store/*"]),
                            allow(["s3:GetObject", *WRITE], [f"{WAREHOUSE}/cube-store/*"])],
        "floe-product-sales": [allow(["s3:GetBucketLocation"], [WAREHOUSE]),
                               allow(["s3:ListBucket"], [WAREHOUSE], ["sales", "sales/*"]),
                               allow(["s3:GetObject"], [f"{WAREHOUSE}/sales/*"]),
                               allow(WRITE, [f"{WAREHOUSE}/sales/*"]),
                               allow(["s3:PutObject"], [f"{WAREHOUSE}/dagster/compute-logs/*"])],
        # Marketing reads sales's tables (reads: [sales]) and writes only its own.
        "floe-product-marketing": [allow(["s3:GetBucketLocation"], [WAREHOUSE]),
                                   allow(["s3:ListBucket"], [WAREHOUSE],
                                         ["marketing", "marketing/*", "sales", "sales/*"]),
                                   allow(["s3:GetObject"], [f"{WAREHOUSE}/marketing/*", f"{WAREHOUSE}/sales/*"]),
                                   allow(WRITE, [f"{WAREHOUSE}/marketing/*"]),
                                   allow(["s3:PutObject"], [f"{WAREHOUSE}/dagster/compute-logs/*"])],
        "floe-compute-logs": [allow(["s3:GetBucketLocation"], [WAREHOUSE]),
                              allow(["s3:ListBucket"], [WAREHOUSE], ["dagster/compute-logs", "dagster/compute-logs/*"]),
                              allow(["s3:GetObject"], [f"{WAREHOUSE}/dagster/compute-logs/*"])],
        "floe-backups": [allow(["s3:GetBucketLocation"], [BACKUPS]),
                         allow(["s3:ListBucket"], [BACKUPS], ["postgres", "postgres/*"]),
                         allow(["s3:GetObject", *WRITE], [f"{BACKUPS}/postgres/*"])],
    }


def test_a_user_exists_only_where_its_consumer_is_rendered(rendered) -> None:
    """dev: no extension source, so Cube's DuckDB reads nothing and gets no user."""
    assert sorted(policies(rendered["dev"])) == ["floe-backups", "floe-catalog", "floe-compute-logs",
                                                 "floe-cube-store", "floe-product-sales"]


def test_the_bootstrap_mounts_each_users_secret_under_its_policy(rendered) -> None:
    job = find(rendered["dev"], "Job", "minio-buckets")
    [container] = containers(job)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert mounts == {"/tmp": "scratch-tmp", "/etc/minio-policies": "config",
                      "/run/minio-users/floe-backups": "floe-backups",
                      "/run/minio-users/floe-catalog": "floe-catalog",
                      "/run/minio-users/floe-compute-logs": "floe-compute-logs",
                      "/run/minio-users/floe-cube-store": "floe-cube-store",
                      "/run/minio-users/floe-product-sales": "floe-product-sales"}
    assert {name: volume["secret"]["secretName"] for name, volume in volumes.items() if "secret" in volume} == {
        "floe-backups": "postgres-backup-object-store-credentials", "floe-catalog": "polaris-object-store-credentials",
        "floe-compute-logs": "dagster-compute-logs-credentials",
        "floe-cube-store": "cube-store-object-store-credentials",
        "floe-product-sales": "floe-sales-object-store-credentials"}
    assert {v["name"]: v["value"] for v in container["env"] if "value" in v}["MC_HOST_floe"] == (
        "http://$(MINIO_ROOT_USER):$(MINIO_ROOT_PASSWORD)@minio.floe-platform.svc.cluster.local:9000")


# --- the script, against a recording mc ----------------------------------------------------------------

ROOT_USER, ROOT_PASSWORD = "floe_root0001", "r00t-Pa$$word'\"`x"
SECRET_KEYS = {"floe-backups": "bk-S3cret", "floe-catalog": "cat-S3cret", "floe-compute-logs": "logs-S3cret",
               "floe-cube-store": "store-S3cret", "floe-product-sales": "sales-S3cret"}
ACCESS_KEYS = {policy: f"floe_{n:08x}" for n, policy in enumerate(sorted(SECRET_KEYS))}
MINIO_STATE = {
    # A declared user holding a policy besides its own, a user of a removed product, someone else's user.
    "admin user list": "\n".join([
        json.dumps({"status": "success", "accessKey": ACCESS_KEYS["floe-catalog"],
                    "policyName": "floe-catalog,readwrite", "userStatus": "enabled"}, separators=(",", ":")),
        json.dumps({"status": "success", "accessKey": "floe_0ldprod", "policyName": "floe-product-gone",
                    "userStatus": "enabled"}, separators=(",", ":")),
        json.dumps({"status": "success", "accessKey": "alice", "policyName": "readonly", "userStatus": "enabled"},
                   separators=(",", ":")),
    ]),
    "admin policy list": "\n".join(
        json.dumps({"status": "success", "policy": name, "isGroup": False}, separators=(",", ":"))
        for name in ("floe-catalog", "floe-product-gone", "readonly", "readwrite")),
}
RECORDING_MC = """\
printf '%s\\0' "$@" >> "$RECORD"; printf '\\n' >> "$RECORD"
case "$1 $2 $3" in
  "admin user add") IFS= read -r secret; printf 'stdin %s\\n' "$secret" >> "$RECORD" ;;
  "admin user list") printf '%s\\n' "$USER_LIST" ;;
  "admin policy list") printf '%s\\n' "$POLICY_LIST" ;;
esac
"""


def run_bootstrap(job: dict, configmap: dict, tmp_path: Path, access_keys: dict[str, str]) -> tuple[
        subprocess.CompletedProcess, list[list[str]]]:
    """The rendered container's command and env, its mounts laid out in ``tmp_path``, ``mc`` recording."""
    [container] = containers(job)
    policies_dir, users_dir, bin_dir = tmp_path / "policies", tmp_path / "users", tmp_path / "bin"
    for folder in (policies_dir, users_dir, bin_dir):
        folder.mkdir()
    for name, text in configmap["data"].items():
        (policies_dir / name).write_text(text)
    for policy, secret_key in SECRET_KEYS.items():
        (users_dir / policy).mkdir()
        (users_dir / policy / "access-key").write_text(access_keys[policy])
        (users_dir / policy / "secret-key").write_text(secret_key)
    (bin_dir / "mc").write_text("#!/bin/sh\n" + RECORDING_MC)
    (bin_dir / "mc").chmod(0o755)
    record = tmp_path / "record"
    values = {"MINIO_ROOT_USER": ROOT_USER, "MINIO_ROOT_PASSWORD": ROOT_PASSWORD}
    env = {}
    for variable in container["env"]:
        value = values[variable["name"]] if "valueFrom" in variable else variable["value"]
        for name, known in env.items():  # Kubernetes' $(VAR) expansion of the variables above
            value = value.replace(f"$({name})", known)
        env[variable["name"]] = value
    env |= {"POLICIES": str(policies_dir), "USERS": str(users_dir), "MC_CONFIG_DIR": str(tmp_path / "mc"),
            "PATH": f"{bin_dir}:{os.environ['PATH']}", "RECORD": str(record),
            "USER_LIST": MINIO_STATE["admin user list"], "POLICY_LIST": MINIO_STATE["admin policy list"]}
    result = subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = [line.split("\0")[:-1] if not line.startswith("stdin ") else ["<stdin>", line.removeprefix("stdin ")]
             for line in record.read_text().split("\n")[:-1]] if record.exists() else []
    return result, calls


def secrets_in_argv(calls: list[list[str]]) -> list[str]:
    """Every secret value found in an argument of a recorded call."""
    secrets = [ROOT_PASSWORD, *SECRET_KEYS.values()]
    return [f"{secret} in {call}" for call in calls if call[0] != "<stdin>" for argument in call
            for secret in secrets if secret in argument]


def test_the_bootstrap_reconciles_users_and_policies_with_no_secret_in_an_argv(rendered, tmp_path: Path) -> None:
    objects = rendered["dev"]
    result, calls = run_bootstrap(find(objects, "Job", "minio-buckets"), find(objects, "ConfigMap", "minio-policies"),
                                  tmp_path, ACCESS_KEYS)
    assert result.returncode == 0, result.stderr
    documents = tmp_path / "policies"
    per_user = []
    for policy in ("floe-backups", "floe-catalog", "floe-compute-logs", "floe-cube-store", "floe-product-sales"):
        access = ACCESS_KEYS[policy]
        per_user += [["admin", "policy", "create", "floe", policy, f"{documents}/{policy}.json"],
                     # The secret key on stdin, never in the argv.
                     ["admin", "user", "add", "floe", access], ["<stdin>", SECRET_KEYS[policy]],
                     ["admin", "policy", "attach", "floe", policy, "--user", access]]
    assert calls == [
        ["admin", "info", "floe"],
        ["mb", "--ignore-existing", "floe/floe-warehouse"], ["anonymous", "set", "none", "floe/floe-warehouse"],
        ["mb", "--ignore-existing", "floe/floe-backups"], ["anonymous", "set", "none", "floe/floe-backups"],
        *per_user,
        ["admin", "user", "list", "floe", "--json"],
        # floe-catalog's user keeps only its own policy; the removed product's user goes; alice stays.
        ["admin", "policy", "detach", "floe", "readwrite", "--user", ACCESS_KEYS["floe-catalog"]],
        ["admin", "user", "remove", "floe", "floe_0ldprod"],
        ["admin", "policy", "list", "floe", "--json"],
        ["admin", "policy", "remove", "floe", "floe-product-gone"],
    ]
    assert secrets_in_argv(calls) == []
    assert result.stdout.endswith(
        "buckets, users and policies of MinIO at http://minio.floe-platform.svc.cluster.local:9000 reconciled\n")


def test_the_check_catches_a_secret_passed_as_an_argument(rendered, tmp_path: Path) -> None:
    """The same script passing the secret key as mc's third argument (what `user add` also accepts) is caught."""
    objects = rendered["dev"]
    job = json.loads(json.dumps(find(objects, "Job", "minio-buckets")))
    command = containers(job)[0]["command"]
    command[2] = command[2].replace('"$access" < "$USERS/$policy/secret-key"',
                                    '"$access" "$(first_line "$USERS/$policy/secret-key")"')
    result, calls = run_bootstrap(job, find(objects, "ConfigMap", "minio-policies"), tmp_path, ACCESS_KEYS)
    assert result.returncode == 0, result.stderr
    assert len(secrets_in_argv(calls)) == len(SECRET_KEYS)


def test_two_users_with_one_access_key_are_refused(rendered, tmp_path: Path) -> None:
    objects = rendered["dev"]
    shared = {**ACCESS_KEYS, "floe-catalog": ACCESS_KEYS["floe-backups"]}
    result, calls = run_bootstrap(find(objects, "Job", "minio-buckets"), find(objects, "ConfigMap", "minio-policies"),
                                  tmp_path, shared)
    assert result.returncode == 1
    assert result.stderr == ("error: the Secret of floe-catalog names the access key of another user: "
                             "give each user its own\n")
    assert ["admin", "user", "add", "floe", ACCESS_KEYS["floe-backups"]] in calls
    assert not [call for call in calls if call[:3] == ["admin", "user", "remove"]]
