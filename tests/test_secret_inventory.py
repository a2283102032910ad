"""The inventory of Secrets is read off the rendered objects: complete by construction, never by hand."""

import copy

import pytest

from floe.security.secrets import SecretUse, inventory, markdown_table
from tests.conftest import ROOT, find


def test_dev_reads_exactly_these_secrets(rendered) -> None:
    found = {(use.namespace, use.name): use.keys for use in inventory(rendered["dev"].values())}
    assert found == {
        # The product's catalog principal: its pods, and the catalog's bootstrap that sets its credentials.
        ("floe-jobs", "floe-sales-catalog-credentials"): ("client-id", "client-secret"),
        # The product's MinIO user: its pods, and MinIO's bucket bootstrap that creates it.
        ("floe-jobs", "floe-sales-object-store-credentials"): ("access-key", "secret-key"),
        ("floe-jobs", "postgres-dagster-credentials"): ("password", "username"),
        ("floe-platform", "cube-api-secret"): ("api-secret",),
        ("floe-platform", "cube-store-object-store-credentials"): ("access-key", "secret-key"),
        ("floe-platform", "dagster-compute-logs-credentials"): ("access-key", "secret-key"),
        ("floe-platform", "floe-sales-catalog-credentials"): ("client-id", "client-secret"),
        ("floe-platform", "floe-sales-object-store-credentials"): ("access-key", "secret-key"),
        ("floe-platform", "grafana-admin-credentials"): ("admin-password", "admin-user"),
        # Prometheus' bearer token for MinIO's metrics.
        ("floe-platform", "minio-metrics-token"): ("token",),
        # MinIO and its bucket bootstrap alone.
        ("floe-platform", "minio-root-credentials"): ("root-password", "root-user"),
        ("floe-platform", "polaris-object-store-credentials"): ("access-key", "secret-key"),
        ("floe-platform", "polaris-root-credentials"): ("client-id", "client-secret"),
        ("floe-platform", "polaris-token-broker"): ("private.pem", "public.pem"),
        ("floe-platform", "postgres-backup-object-store-credentials"): ("access-key", "secret-key"),
        # Each instance's superuser: the server and its role bootstrap alone.
        ("floe-platform", "postgres-dagster-admin-credentials"): ("password", "username"),
        ("floe-platform", "postgres-dagster-credentials"): ("password", "username"),
        ("floe-platform", "postgres-polaris-admin-credentials"): ("password", "username"),
        ("floe-platform", "postgres-polaris-credentials"): ("password", "username"),
        # Each exporter's read-only role (pg_monitor).
        ("floe-platform", "postgres-dagster-monitoring-credentials"): ("password", "username"),
        ("floe-platform", "postgres-polaris-monitoring-credentials"): ("password", "username"),
    }


def test_runs_launched_by_dagster_count_as_readers(rendered) -> None:
    """The run pods exist only in dagster.yaml's run_k8s_config; their database Secret (and, with an
    external database, its CA) must exist in the jobs namespace too."""
    uses = {(use.namespace, use.name): use for use in inventory(rendered["prod"].values())}
    ca = uses["floe-jobs", "dagster-postgres-ca"]
    assert ca == SecretUse("floe-jobs", "dagster-postgres-ca", ("ca.crt",),
                           ("runs launched by ConfigMap/dagster-instance",))


def test_readers_are_named(rendered) -> None:
    uses = {(use.namespace, use.name): use for use in inventory(rendered["dev"].values())}
    assert uses["floe-platform", "polaris-token-broker"].readers == ("Deployment/polaris",)
    assert uses["floe-platform", "cube-api-secret"].readers == ("Deployment/cube", "Deployment/cube-refresh-worker")


def test_an_ingress_tls_secret_is_inventoried() -> None:
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "polaris", "namespace": "floe-platform"},
               "spec": {"tls": [{"hosts": ["catalog.example.org"], "secretName": "catalog-tls"}]}}
    assert inventory([ingress]) == [SecretUse("floe-platform", "catalog-tls", ("tls.crt", "tls.key"),
                                              ("Ingress/polaris",))]


@pytest.mark.parametrize("breakage", ["envFrom", "volume without items"])
def test_a_secret_read_whole_is_refused(rendered, breakage: str) -> None:
    """A whole-Secret read hides its keys: the inventory could not say what must exist."""
    polaris = copy.deepcopy(find(rendered["dev"], "Deployment", "polaris"))
    spec = polaris["spec"]["template"]["spec"]
    if breakage == "envFrom":
        spec["containers"][0]["envFrom"] = [{"secretRef": {"name": "polaris-extra"}}]
    else:
        volume = next(v for v in spec["volumes"] if "secret" in v)
        del volume["secret"]["items"]
    with pytest.raises(ValueError, match="inventory"):
        inventory([polaris])


def test_a_code_locations_runs_read_its_products_secrets(rendered) -> None:
    """Its container context (DAGSTER_CONTAINER_CONTEXT) adds the product's Secrets to the runs it launches."""
    uses = {(use.namespace, use.name): use for use in inventory(rendered["prod"].values())}
    assert uses["floe-jobs", "snowflake-transformer"].readers == (
        "CronJob/marketing-dbt-run", "CronJob/marketing-dbt-test", "CronJob/marketing-dlt-ingest",
        "CronJob/marketing-quality-check", "runs launched from Deployment/dagster-code-marketing")


def test_the_readme_table_is_the_inventory_of_every_environment(rendered) -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- secrets-table:start -->\n")[1].split("<!-- secrets-table:end -->")[0]
    assert table == markdown_table({name: inventory(objects.values()) for name, objects in sorted(rendered.items())})
    assert "| `grafana-admin-credentials` | floe-platform | `admin-password`, `admin-user` | Deployment/grafana |" \
        " dev, prod, staging |" in table


def test_a_secret_a_pod_starts_to_read_is_a_new_row() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [
        {"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "new", "key": "k"}}}]}]}}
    assert markdown_table({"dev": inventory([pod])}).splitlines()[2:] == [
        "| `new` | ns | `k` | Pod/p | dev |"]
