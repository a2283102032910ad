"""`floe secrets check|init` against the fake cluster, and the rules behind them (floe.secret_values)."""

import functools
import re
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pytest

from floe.cli.cluster import Cluster, ClusterError
from floe.cli.tree import environment_files, parse
from floe.config.secrets import SecretsSettings
from floe.secret_values import (
    IDENTIFIER_KEYS,
    SECRET_KEYS,
    Provider,
    external_secrets,
    generate,
    operator_secrets,
    provisions,
    required,
    states,
)
from floe.security.secrets import SecretUse, inventory
from tests import cli_support as support
from tests.cli_support import FakeCluster, cluster_object, edit, floe, one_line_error, secret

dev_render = support.dev_render
fake = support.connected
workspace = support.workspace


def dev_secrets(workspace: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """(namespace, name, keys) of each Secret the workspace's dev render reads (its inventory, which
    tests/test_secret_inventory.py pins literally)."""
    return list(_inventory(tuple(environment_files(workspace / "dist", ["dev"]).items())))


@functools.cache
def _inventory(files: tuple[tuple[str, str], ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    """Parsed once per distinct tree: every workspace starts as a copy of the same dev render."""
    return [(use.namespace, use.name, use.keys) for use in inventory(parse(dict(files)).values())]


NAMESPACES = [cluster_object("Namespace", name) for name in ("floe-platform", "floe-jobs")]


def complete(workspace: Path, *, skip: tuple[str, ...] = (), without: dict[str, str] | None = None) -> list[dict]:
    """Every dev Secret, less the ``skip``ped names and the ``without`` keys (name → key)."""
    without = without or {}
    return [secret(ns, name, *(k for k in keys if k != without.get(name))) for ns, name, keys in dev_secrets(workspace)
            if name not in skip]


def rows(output: str) -> list[list[str]]:
    """The cells of a printed table's body rows (first line of each cell)."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()]


# -- check ----------------------------------------------------------------------------------------------------


def test_check_passes_when_every_secret_has_its_keys(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster(complete(workspace)))
    result = floe(workspace, "secrets", "check", "--env", "dev")
    assert result.exit_code == 0, result.output
    expected = dev_secrets(workspace)
    assert [row[:3] for row in rows(result.stdout)] == [[ns, name, "ok"] for ns, name, _ in expected]
    assert f"all {len(expected)} Secrets exist with their keys" in result.stdout
    assert [c for c in cluster.calls if c[0] == "secret_keys"] == [("secret_keys", ns, n) for ns, n, _ in expected]


def test_check_fails_on_a_missing_secret_and_a_missing_key(workspace: Path, fake) -> None:
    fake(FakeCluster(complete(workspace, skip=("cube-api-secret",),
                              without={"minio-root-credentials": "root-password"})))
    result = floe(workspace, "secrets", "check", "--env", "dev")
    assert result.exit_code == 1, result.output
    found = {row[1]: row[2] for row in rows(result.stdout) if row[1]}
    assert found["cube-api-secret"] == "missing"
    assert found["minio-root-credentials"] == "lacks keys root-password"
    assert found["grafana-admin-credentials"] == "ok"
    assert f"2 of {len(dev_secrets(workspace))} Secrets missing or incomplete" in result.stdout


def test_check_names_the_readers(workspace: Path, fake) -> None:
    fake(FakeCluster(complete(workspace)))
    result = floe(workspace, "secrets", "check", "--env", "dev")
    token_broker = next(row for row in rows(result.stdout) if row[1] == "polaris-token-broker")
    assert token_broker[3] == "Deployment/polaris"


def test_check_renders_when_dist_is_missing(workspace: Path, fake) -> None:
    cluster = FakeCluster(complete(workspace))
    shutil.rmtree(workspace / "dist")
    fake(cluster)
    result = floe(workspace, "secrets", "check", "--env", "dev")
    assert result.exit_code == 0, result.output


def test_a_cluster_problem_is_exit_3(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster())
    cluster.secret_keys = mock.Mock(side_effect=ClusterError("read Secret floe-jobs/x: the cluster answered 403"))
    one_line_error(floe(workspace, "secrets", "check", "--env", "dev"), 3, "the cluster answered 403")


# -- init -----------------------------------------------------------------------------------------------------


def _values(cluster: FakeCluster, namespace: str, name: str) -> dict[str, str]:
    return cluster.store["Secret", namespace, name]["stringData"]


@pytest.mark.skipif(not shutil.which("openssl"), reason="the token broker's key pair needs openssl")
def test_init_creates_every_missing_secret_with_fitting_values(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster(NAMESPACES))
    result = floe(workspace, "secrets", "init", "--env", "dev")
    # MinIO's metrics token is signed by MinIO itself once it runs: the operator's, so init ends with 1.
    assert result.exit_code == 1, result.output
    assert "left to the operator: 1 Secret" in result.output
    expected = [secret for secret in dev_secrets(workspace) if secret[1] != "minio-metrics-token"]
    created = [c for c in cluster.calls if c[0] == "create_secret"]
    assert sorted(created) == sorted(("create_secret", ns, name, keys) for ns, name, keys in expected)
    assert [row[2] for row in rows(result.stdout) if row[1] != "minio-metrics-token"] == ["created"] * len(expected)
    values = {(ns, name): _values(cluster, ns, name) for ns, name, _ in expected}
    secrets_ = {(name, k): v for (_, name), found in values.items() for k, v in found.items() if k in SECRET_KEYS}
    assert secrets_ and all(re.fullmatch(r"[A-Za-z0-9_-]{43}", v) for v in secrets_.values())
    assert len(set(secrets_.values())) == len(secrets_)  # one value per (Secret, key), none reused
    names = [v for found in values.values() for k, v in found.items() if k in IDENTIFIER_KEYS]
    assert names and all(re.fullmatch(r"floe_[0-9a-f]{8}", name) for name in names)
    # MinIO: root-user 3..20 characters, root-password at least 8
    minio = values["floe-platform", "minio-root-credentials"]
    assert 3 <= len(minio["root-user"]) <= 20 and len(minio["root-password"]) >= 8
    # Dagster's database Secret is read in both namespaces: the same values in both
    dagster = "postgres-dagster-credentials"
    assert values["floe-jobs", dagster] == values["floe-platform", dagster]
    # So is each product's catalog Secret: its pods log in with what the catalog's bootstrap set
    sales = "floe-sales-catalog-credentials"
    assert values["floe-jobs", sales] == values["floe-platform", sales]
    assert cluster.store["Secret", "floe-platform", "cube-api-secret"]["metadata"]["annotations"] == {
        "floe.dev/created-by": "floe secrets init"}
    everything = [v for found in values.values() for v in found.values()]
    assert not [v for v in everything if v.splitlines()[min(1, len(v.splitlines()) - 1)] in result.output]
    assert "BEGIN" not in result.output


@pytest.mark.skipif(not shutil.which("openssl"), reason="the token broker's key pair needs openssl")
def test_the_token_broker_pair_is_one_2048_bit_rsa_key() -> None:
    pair = generate(("private.pem", "public.pem"))
    assert pair["private.pem"].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert pair["public.pem"].startswith("-----BEGIN PUBLIC KEY-----\n")
    derived = subprocess.run(["openssl", "pkey", "-pubout"], input=pair["private.pem"], capture_output=True,
                             text=True, check=True).stdout
    assert derived == pair["public.pem"]
    text = subprocess.run(["openssl", "pkey", "-text", "-noout"], input=pair["private.pem"], capture_output=True,
                          text=True, check=True).stdout
    assert "(2048 bit" in text
    assert generate(("private.pem", "public.pem"))["public.pem"] != pair["public.pem"]


def test_init_dry_run_creates_nothing(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster(complete(workspace, skip=("cube-api-secret", "polaris-root-credentials"))))
    result = floe(workspace, "secrets", "init", "--env", "dev", "--dry-run")
    assert result.exit_code == 0, result.output
    found = {row[1]: row[2:] for row in rows(result.stdout)}
    assert found["cube-api-secret"] == ["would create", "api-secret"]
    assert found["polaris-root-credentials"] == ["would create", "client-id, client-secret"]
    assert found["minio-root-credentials"] == ["exists", ""]
    assert not [c for c in cluster.calls if c[0] in ("create_secret", "apply")]


def test_init_never_changes_a_secret_that_exists(workspace: Path, fake) -> None:
    objects = complete(workspace, skip=("cube-api-secret",), without={"minio-root-credentials": "root-password"})
    cluster = fake(FakeCluster(objects))
    before = {k: v for k, v in cluster.store.items() if k[0] == "Secret"}
    result = floe(workspace, "secrets", "init", "--env", "dev")
    assert result.exit_code == 1, result.output  # the incomplete one is the operator's to finish
    assert [c for c in cluster.calls if c[0] == "create_secret"] == [
        ("create_secret", "floe-platform", "cube-api-secret", ("api-secret",))]
    assert all(cluster.store[k] == v for k, v in before.items())
    minio = next(row for row in rows(result.stdout) if row[1] == "minio-root-credentials")
    assert minio[2] == "lacks keys root-password: left alone"


def test_a_secret_shared_by_two_namespaces_is_copied_not_invented(workspace: Path, fake) -> None:
    """One copy exists: new values for the other would split Dagster from the runs it launches."""
    cluster = fake(FakeCluster([o for o in complete(workspace) if not (
        o["metadata"]["name"] == "postgres-dagster-credentials" and o["metadata"]["namespace"] == "floe-jobs")]))
    result = floe(workspace, "secrets", "init", "--env", "dev")
    assert result.exit_code == 1, result.output
    assert not [c for c in cluster.calls if c[0] == "create_secret"]
    assert "copy it from namespace floe-platform" in result.stdout


def test_init_applies_the_rendered_namespace_first(workspace: Path, fake) -> None:
    cluster = fake(FakeCluster(complete(workspace, skip=("cube-api-secret",))))
    result = floe(workspace, "secrets", "init", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert ("apply", "Namespace", "floe-platform") in cluster.calls
    assert ("apply", "Namespace", "floe-jobs") not in cluster.calls  # no new Secret goes there
    assert cluster.calls.index(("apply", "Namespace", "floe-platform")) < \
        cluster.calls.index(("create_secret", "floe-platform", "cube-api-secret", ("api-secret",)))


def test_init_without_openssl_refuses_the_key_pair(workspace: Path, fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    cluster = fake(FakeCluster(complete(workspace, skip=("polaris-token-broker",))))
    result = floe(workspace, "secrets", "init", "--env", "dev")
    assert result.exit_code == 1, result.output
    assert not [c for c in cluster.calls if c[0] == "create_secret"]
    assert "needs openssl" in result.stdout


def test_init_names_what_the_operator_must_provide(workspace: Path, fake) -> None:
    """The dev file made to use an external Dagster database: its Secrets are no longer floe's to generate."""
    edit(workspace / "environments" / "dev.yaml", """    dagster:
      resources: small
      storage:
        size: 2Gi
""", """    dagster:
      mode: external
      host: pg.example.internal
      database: dagster
      credentials_secret: postgres-dagster-credentials
      ca_secret: dagster-ca
      egress:
        - cidr: 10.0.0.0/24
          ports: [5432]
""")
    cluster = fake(FakeCluster(NAMESPACES + complete(workspace, skip=("postgres-dagster-credentials",))))
    shutil.rmtree(workspace / "dist")  # render afresh from the edited file
    result = floe(workspace, "secrets", "init", "--env", "dev")
    assert result.exit_code == 1, result.output
    assert not [c for c in cluster.calls if c[0] == "create_secret"]
    missing = {(row[0], row[1]): row[2] for row in rows(result.stdout)}
    assert missing["floe-platform", "postgres-dagster-credentials"] == "missing: yours to create"
    assert missing["floe-jobs", "dagster-ca"] == "missing: yours to create"
    assert "the user of the external database" in result.stdout and "(pg.example.internal)" in result.stdout


# -- the rules, on every environment's render ------------------------------------------------------------------


def test_without_a_store_credentials_certificates_and_snowflake_are_the_operators(rendered, environments) -> None:
    """Prod without its secret store (and so without its ExternalSecrets)."""
    prod = environments["prod"].model_copy(update={"secrets": SecretsSettings()})
    objects = [o for o in rendered["prod"].values() if o["kind"] != "ExternalSecret"]
    found = provisions(states(required(prod, objects), FakeCluster()), prod, objects)
    by_provider = {(p.state.use.namespace, p.state.use.name): p.provider for p in found}
    operator = sorted(key for key, provider in by_provider.items() if provider == Provider.OPERATOR)
    assert operator == [
        ("floe-jobs", "dagster-postgres-ca"), ("floe-jobs", "dagster-postgres-credentials"),
        ("floe-jobs", "floe-in-cluster-ca"), ("floe-jobs", "snowflake-transformer"), ("floe-platform", "cube-tls"),
        ("floe-platform", "dagster-postgres-ca"), ("floe-platform", "dagster-postgres-credentials"),
        ("floe-platform", "dagster-tls"), ("floe-platform", "dagster-ui-login"), ("floe-platform", "dagster-view-tls"),
        ("floe-platform", "floe-in-cluster-ca"),
        ("floe-platform", "grafana-tls"), ("floe-platform", "minio-metrics-token"), ("floe-platform", "polaris-tls"),
    ]
    # The servers' certificates are cert-manager's to write (in-cluster TLS), never the operator's or floe's.
    issued = [("floe-platform", "minio-server-tls"), ("floe-platform", "polaris-server-tls"),
              ("floe-platform", "postgres-polaris-server-tls")]
    assert all(by_provider[key] == Provider.EXTERNAL for key in issued)
    assert all(provider == Provider.FLOE for key, provider in by_provider.items() if key not in operator + issued)


def test_with_a_store_every_secret_comes_from_it(rendered, environments) -> None:
    """Prod names a store: each Secret is an ExternalSecret's, none is floe's or the operator's to create."""
    objects = list(rendered["prod"].values())
    found = provisions(states(required(environments["prod"], objects), FakeCluster()), environments["prod"], objects)
    assert found and {p.provider for p in found} == {Provider.EXTERNAL}


def test_the_operator_list_comes_from_settings_not_names(environments) -> None:
    """Dev's own database Secret is floe's; the same name set as an external database's is the operator's."""
    dev = environments["dev"]
    assert sorted(operator_secrets(dev)) == ["minio-metrics-token"]
    external = dev.model_copy(update={"storage": dev.storage.model_copy(update={"postgres": dev.storage.postgres.
        model_copy(update={"dagster": environments["prod"].storage.postgres.dagster})})})
    assert sorted(operator_secrets(external)) == ["dagster-postgres-ca", "dagster-postgres-credentials",
                                                  "minio-metrics-token"]


def test_a_flux_repository_secret_is_required_and_the_operators(environments) -> None:
    dev = environments["dev"]
    gitops = dev.gitops.model_copy(update={"flux": dev.gitops.flux.model_copy(update={"secret_ref": "git-auth"})})
    with_ref = dev.model_copy(update={"gitops": gitops})
    assert required(with_ref, [])[-1] == SecretUse("flux-system", "git-auth", (),
                                                   ("GitRepository (Flux source-controller)",))
    assert "flux create secret git git-auth -n flux-system" in operator_secrets(with_ref)["git-auth"]


def test_an_external_secret_creates_its_secret_at_sync(environments) -> None:
    external = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                "metadata": {"name": "cube-api-secret", "namespace": "floe-platform"},
                "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"}}}
    assert external_secrets([external]) == {("floe-platform", "cube-api-secret"):
                                            "created at sync by ExternalSecret cube-api-secret from ClusterSecretStore "
                                            "vault"}
    use = SecretUse("floe-platform", "cube-api-secret", ("api-secret",), ("Deployment/cube",))
    [found] = provisions(states([use], FakeCluster()), environments["dev"], [external])
    assert found.provider == Provider.EXTERNAL


def test_a_key_floe_cannot_generate_is_the_operators(environments) -> None:
    use = SecretUse("floe-platform", "license", ("license.key",), ("Deployment/x",))
    [found] = provisions(states([use], FakeCluster()), environments["dev"], [])
    assert found.provider == Provider.OPERATOR
    assert found.detail == ("floe cannot generate keys license.key: create it by hand: kubectl create secret generic "
                            "license -n floe-platform --from-file=license.key=FILE")


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_key_of_every_inventory_has_a_provider(rendered, environments, name: str) -> None:
    """A key no rule covers would be refused: today every inventory key is generated or the operator's."""
    objects = list(rendered[name].values())
    found = provisions(states(inventory(objects), FakeCluster()), environments[name], objects)
    assert not [p for p in found if p.detail.startswith("floe cannot generate")]


# -- the wrapper: key names only --------------------------------------------------------------------------------


def test_wrapper_reads_only_key_names_and_tells_absent_from_present() -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    wrapper = Cluster(mock.MagicMock())
    wrapper.core = mock.MagicMock()
    stored = client.V1Secret(data={"password": "c2VjcmV0", "username": "dQ=="})
    wrapper.core.read_namespaced_secret.return_value = stored
    assert wrapper.secret_keys("floe-platform", "pg") == ["password", "username"]
    wrapper.core.read_namespaced_secret.side_effect = ApiException(status=404, reason="Not Found")
    assert wrapper.secret_keys("floe-platform", "pg") is None
    wrapper.core.create_namespaced_secret.side_effect = ApiException(status=409, reason="Conflict")
    assert wrapper.create_secret("floe-platform", "pg", {"password": "x"}, {}) is False
