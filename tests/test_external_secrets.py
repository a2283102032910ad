"""With a secret store named, every Secret of the inventory is an ExternalSecret that syncs before its
readers and never takes its Secret with it when deleted; without one, none is rendered.

Rules followed (sources in floe/security/external_secrets.py and tests/engines): Argo CD sorts by
phase, wave, kind, name and waits for a wave to be healthy, an ExternalSecret being healthy once its
Ready condition is True (argo-cd resource_customizations/external-secrets.io/ExternalSecret/health.lua);
Flux applies a step only once the steps it depends on are Ready; external-secrets gives the Secret an
ownerReference only with ``creationPolicy: Owner`` and deletes it on the ExternalSecret's deletion only
with ``deletionPolicy: Delete`` (externalsecret_controller.go ``applyOwnership``, ``cleanupManagedSecrets``).
"""

import copy

import pytest

from floe.app import render_objects
from floe.config.loader import load_environment
from floe.config.secrets import SecretsSettings
from floe.security.external_secrets import external_secret_names
from floe.security.secrets import SecretUse, inventory
from floe.validation import crd_schemas, validate_custom_resources
from tests.argo_order import sort_key
from tests.conftest import ENVIRONMENT_NAMES, ROOT
from tests.engines import argocd, flux, source
from tests.engines.apiserver import Cluster, Key, key_of, needs

ES = "ExternalSecret"
API_VERSION = "external-secrets.io/v1"
RUNS = "runs launched by "


@pytest.fixture(scope="module")
def tree(fresh_dist) -> source.Tree:
    return source.load(fresh_dist)


def platform(tree: source.Tree, environment: str) -> list[dict]:
    return source.objects(tree, f"dist/{environment}")


def external_secrets(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] == ES]


def named(objects: list[dict], name: str) -> dict:
    (found,) = [es for es in external_secrets(objects) if es["metadata"]["name"] == name]
    return found


def target_of(es: dict) -> tuple[str, str]:
    return es["metadata"]["namespace"], es["spec"]["target"]["name"]


def reader_objects(objects: list[dict], use: SecretUse) -> list[dict]:
    """The rendered objects behind a use's readers; for the runs Dagster launches, the instance
    ConfigMap that configures them (no run can start before the orchestrator that reads it)."""
    found = []
    for reader in use.readers:
        kind, _, name = reader.removeprefix(RUNS).partition("/")
        namespace = use.namespace if not reader.startswith(RUNS) else None
        found += [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name
                  and (namespace is None or o["metadata"].get("namespace") == namespace)]
    return found


def problems(objects: list[dict], prefix: str) -> list[str]:
    """What keeps the ExternalSecrets of a render from making every Secret its readers need, before
    they start, for good."""
    found = []
    by_target = {target_of(es): es for es in external_secrets(objects)}
    namespaces = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Namespace"}
    for use in inventory(objects):
        if use.written_by:  # a server's certificate: cert-manager writes it (test_tls.py)
            continue
        es = by_target.get((use.namespace, use.name))
        if es is None:
            found.append(f"Secret {use.namespace}/{use.name} has no ExternalSecret")
            continue
        name = f"ExternalSecret {use.namespace}/{es['metadata']['name']}"
        keys = {d["secretKey"]: d["remoteRef"] for d in es["spec"].get("data", [])}
        for key in sorted(set(use.keys) - set(keys)):
            found.append(f"{name} lacks key {key}, which {', '.join(use.readers)} read")
        for key, ref in sorted(keys.items()):
            if ref != {"key": f"{prefix}/{use.namespace}/{use.name}", "property": key}:
                found.append(f"{name}: {key} comes from {ref}")
        for reader in reader_objects(objects, use):
            if sort_key(es) >= sort_key(reader):
                found.append(f"{name} syncs after its reader {reader['kind']}/{reader['metadata']['name']} "
                             f"({sort_key(es)} >= {sort_key(reader)})")
        if use.namespace not in namespaces or sort_key(namespaces[use.namespace]) >= sort_key(es):
            found.append(f"{name} syncs before its Namespace exists")
        target = es["spec"]["target"]
        if target.get("creationPolicy") != "Orphan" or target.get("deletionPolicy") != "Retain":
            found.append(f"{name}: deleting it could delete its Secret (target {target})")
    return found


# --- what is rendered ----------------------------------------------------------------------------

def test_prod_renders_one_external_secret_per_secret_of_the_inventory_with_exactly_its_keys(tree) -> None:
    objects = platform(tree, "prod")
    rendered = {target_of(es): tuple(d["secretKey"] for d in es["spec"]["data"]) for es in external_secrets(objects)}
    # A server's certificate is cert-manager's to write, never the store's.
    expected = {(use.namespace, use.name): use.keys for use in inventory(objects) if use.written_by is None}
    assert rendered == expected
    assert len(external_secrets(objects)) == len(expected)
    # Literal expectations for a few, so that the derivation itself is checked too.
    assert rendered["floe-platform", "polaris-token-broker"] == ("private.pem", "public.pem")
    assert rendered["floe-platform", "minio-root-credentials"] == ("root-password", "root-user")
    assert rendered["floe-jobs", "snowflake-transformer"] == ("password", "user")
    assert rendered["floe-jobs", "dagster-postgres-credentials"] == ("password", "username")
    assert rendered["floe-platform", "dagster-postgres-credentials"] == ("password", "username")
    assert rendered["floe-platform", "polaris-tls"] == ("tls.crt", "tls.key")


def test_an_external_secret_reads_one_remote_secret_a_property_per_key(tree) -> None:
    broker = named(platform(tree, "prod"), "polaris-token-broker")
    assert broker["metadata"]["namespace"] == "floe-platform"
    assert broker["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert broker["spec"]["refreshInterval"] == "1h"
    assert broker["spec"]["data"] == [
        {"secretKey": "private.pem", "remoteRef": {"key": "floe/prod/floe-platform/polaris-token-broker",
                                                   "property": "private.pem"}},
        {"secretKey": "public.pem", "remoteRef": {"key": "floe/prod/floe-platform/polaris-token-broker",
                                                  "property": "public.pem"}},
    ]
    assert broker["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "SkipDryRunOnMissingResource=true"
    assert broker["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "0"
    template = broker["spec"]["target"]["template"]
    assert "type" not in template and template["metadata"]["labels"] == broker["metadata"]["labels"]


def test_an_ingress_tls_secret_is_made_a_tls_secret(tree) -> None:
    tls = named(platform(tree, "prod"), "polaris-tls")
    assert tls["spec"]["target"]["template"]["type"] == "kubernetes.io/tls"


def test_a_secret_needed_in_two_namespaces_gets_an_external_secret_in_each(tree) -> None:
    """One file per kind and name in a step folder: the two are named after their namespace."""
    objects = platform(tree, "prod")
    both = {(es["metadata"]["namespace"], es["metadata"]["name"]) for es in external_secrets(objects)
            if es["spec"]["target"]["name"] == "dagster-postgres-credentials"}
    assert both == {("floe-jobs", "dagster-postgres-credentials-floe-jobs"),
                    ("floe-platform", "dagster-postgres-credentials-floe-platform")}
    assert external_secret_names([SecretUse("a", "s", ("k",), ()), SecretUse("a", "t", ("k",), ()),
                                  SecretUse("b", "t", ("k",), ())]) == {
        ("a", "s"): "s", ("a", "t"): "t-a", ("b", "t"): "t-b"}


@pytest.mark.parametrize("environment", [e for e in ENVIRONMENT_NAMES if e != "prod"])
def test_an_environment_without_a_store_renders_none(environment: str, tree, environments) -> None:
    assert environments[environment].secrets.store is None
    assert not external_secrets(platform(tree, environment))


def test_prod_without_its_store_renders_none() -> None:
    prod = load_environment(ROOT / "environments" / "prod.yaml")
    assert prod.secrets.store is not None
    folders = render_objects(prod.model_copy(update={"secrets": SecretsSettings()}))
    assert not [o for objects in folders.values() for o in objects if o["kind"] == ES]


def test_a_prefix_or_interval_without_a_store_is_refused() -> None:
    with pytest.raises(ValueError, match="only with a store"):
        SecretsSettings(remote_key_prefix="floe/dev")
    with pytest.raises(ValueError):
        SecretsSettings.model_validate({"store": {"kind": "Vault", "name": "vault"}})


# --- validation ----------------------------------------------------------------------------------

def test_every_external_secret_validates_against_the_vendored_crd(tree) -> None:
    assert (API_VERSION, ES) in crd_schemas()
    found = external_secrets(platform(tree, "prod"))
    assert found
    assert validate_custom_resources([(es["metadata"]["name"], es) for es in found]) == []


def test_the_crd_refuses_an_unknown_policy_or_field(tree) -> None:
    """The validation is live: a typo in a policy or an unknown field fails it."""
    es = copy.deepcopy(external_secrets(platform(tree, "prod"))[0])
    es["spec"]["target"]["creationPolicy"] = "Orphaned"
    es["spec"]["data"][0]["remoteRef"]["path"] = "x"
    messages = [p.message for p in validate_custom_resources([("broken", es)])]
    assert any("Orphaned" in m for m in messages) and any("path" in m for m in messages)


# --- order ---------------------------------------------------------------------------------------

def test_every_secret_is_made_before_its_readers_for_good(tree, environments) -> None:
    """prod names a store (the environments without one render no ExternalSecret: tested above)."""
    assert environments["prod"].secrets.store is not None
    found = problems(platform(tree, "prod"), environments["prod"].secrets.remote_key_prefix)
    assert not found, "\n".join(found)


def _break(tree: source.Tree, edit) -> source.Tree:
    broken = copy.deepcopy(tree)
    edit(named(platform(broken, "prod"), "polaris-token-broker"))
    return broken


@pytest.mark.parametrize(("breakage", "message"), [
    ("a key missing", "lacks key public.pem"),
    ("a later wave", "syncs after its reader Deployment/polaris"),
    ("an owned Secret", "deleting it could delete its Secret"),
])
def test_a_broken_external_secret_is_found(breakage: str, message: str, tree) -> None:
    def edit(es: dict) -> None:
        if breakage == "a key missing":
            es["spec"]["data"] = [d for d in es["spec"]["data"] if d["secretKey"] != "public.pem"]
        elif breakage == "a later wave":
            es["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "21"
        else:
            es["spec"]["target"]["creationPolicy"] = "Owner"
    assert not problems(platform(tree, "prod"), "floe/prod")
    found = problems(platform(_break(tree, edit), "prod"), "floe/prod")
    assert any(message in p for p in found), found


def test_the_foundation_step_flux_applies_first_may_apply_exactly_these_external_secrets(tree) -> None:
    """The foundation runs before the namespaces' Roles exist: its ClusterRole names each object."""
    names = sorted(es["metadata"]["name"] for es in external_secrets(platform(tree, "prod")))
    (role,) = [o for o in source.objects(tree, "dist/gitops/prod/flux/steps")
               if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "floe-prod-foundation-prepare"]
    rules = [r for r in role["rules"] if "externalsecrets" in r["resources"]]
    assert rules == [{"apiGroups": ["external-secrets.io"], "resources": ["externalsecrets"],
                      "verbs": ["create", "get", "patch"], "resourceNames": names}]


# --- on a cluster --------------------------------------------------------------------------------

def readers_of(objects: list[dict]) -> dict[Key, list[tuple[str, str, tuple[str, ...]]]]:
    """Each object an engine applies that reads Secrets → (namespace, Secret, keys) it needs."""
    found: dict[Key, list] = {}
    for use in inventory(objects):
        for reader in reader_objects(objects, use):
            if reader["kind"] != "ConfigMap":  # the runs start later, from the orchestrator
                found.setdefault(key_of(reader), []).append((use.namespace, use.name, use.keys))
    return found


class Watched(Cluster):
    """The fake cluster, noting every reader applied while a Secret it needs is missing or lacks a key."""

    def apply(self, obj: dict, *, dry_run: bool = False) -> str:
        for namespace, name, keys in getattr(self, "readers", {}).get(key_of(obj), []):
            secret = self.get(("", "Secret", namespace, name))
            if secret is None or set(keys) - set(secret.get("data") or {}):
                self.early.append(f"{obj['kind']}/{obj['metadata']['name']} applied before Secret {namespace}/{name}")
        return super().apply(obj, dry_run=dry_run)


def watched(tree: source.Tree, environment: str) -> Watched:
    objects = platform(tree, environment)
    cluster = Watched(needs=needs(objects))
    cluster.readers, cluster.early = readers_of(objects), []
    return cluster


def test_argo_applies_no_reader_before_its_secret_exists(tree) -> None:
    cluster = watched(tree, "prod")
    results = argocd.first_sync(cluster, tree, "prod")
    assert {name: r.phase for name, r in results.items()} == {"floe-prod-root": "Succeeded", "floe-prod": "Succeeded"}
    assert cluster.readers and not cluster.early, cluster.early


def test_argo_applies_a_reader_before_a_late_external_secret(tree) -> None:
    def later(es: dict) -> None:
        es["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "21"
    broken = _break(tree, later)
    cluster = watched(broken, "prod")
    argocd.first_sync(cluster, broken, "prod")
    assert "Deployment/polaris applied before Secret floe-platform/polaris-token-broker" in cluster.early


def test_flux_applies_no_reader_before_its_secret_exists(tree) -> None:
    """Every reader's step depends, through the access Kustomization, on the foundation's. (kstatus
    counts an ExternalSecret that has no status yet as Current, so the foundation step can be Ready
    a moment before the controller has written the Secrets; here, as in a cluster, the next step
    starts a reconcile later, by when they exist.)"""
    cluster = watched(tree, "prod")
    engine = flux.Flux(cluster, tree, "prod")
    engine.bootstrap()
    states = engine.run()
    assert all(state.phase == "Ready" for state in states.values()), {n: s.message for n, s in states.items()}
    assert not cluster.early, cluster.early


def test_each_secret_holds_the_keys_and_outlives_its_external_secret(tree) -> None:
    """Every delete path ends in the API server deleting the ExternalSecret: an Argo CD prune or
    cascading delete, a Flux prune or Kustomization delete, kubectl. The Secret stays."""
    cluster = watched(tree, "prod")
    argocd.first_sync(cluster, tree, "prod")
    objects = platform(tree, "prod")
    for use in inventory(objects):
        secret = cluster.get(("", "Secret", use.namespace, use.name))
        if use.written_by:  # cert-manager's: the chain, the key and the CA, whoever reads which
            assert secret is not None and set(use.keys) <= set(secret["data"]) == {"ca.crt", "tls.crt", "tls.key"}
            continue
        assert secret is not None and sorted(secret["data"]) == list(use.keys)
        assert not secret["metadata"].get("ownerReferences")
        assert secret["metadata"]["labels"]["reconcile.external-secrets.io/managed"] == "true"
        assert not any(k.startswith("argocd.argoproj.io/") for k in secret["metadata"].get("annotations", {}))
    for es in external_secrets(objects):
        gone = cluster.delete(key_of(es))
        assert gone == {key_of(es)}, f"deleting {es['metadata']['name']} also deletes {gone - {key_of(es)}}"
    assert all(cluster.get(("", "Secret", u.namespace, u.name)) for u in inventory(objects))


def test_an_owner_external_secret_takes_its_secret_with_it(tree) -> None:
    def owner(es: dict) -> None:
        es["spec"]["target"]["creationPolicy"] = "Owner"
    broken = _break(tree, owner)
    cluster = watched(broken, "prod")
    argocd.first_sync(cluster, broken, "prod")
    es = named(platform(broken, "prod"), "polaris-token-broker")
    assert ("", "Secret", "floe-platform", "polaris-token-broker") in cluster.delete(key_of(es))


def test_the_model_follows_the_external_secret_health_lua() -> None:
    def es(*conditions):
        return {"apiVersion": API_VERSION, "kind": ES, "metadata": {}, "status": {"conditions": list(conditions)}}
    assert argocd.health(es())[0] == "Progressing"
    assert argocd.health(es({"type": "Ready", "status": "False", "message": "could not get secret data"})) == (
        "Degraded", "could not get secret data")
    assert argocd.health(es({"type": "Ready", "status": "True"}))[0] == "Healthy"
    assert flux.kstatus(es({"type": "Ready", "status": "False"}), [])[0] == "InProgress"

