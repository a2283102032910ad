"""`floe platform doctor` against the fake cluster, and the preflight rules (floe.preflight) on each render."""

from pathlib import Path

import pytest

from floe import preflight
from floe.preflight import Check
from tests import cli_support as support
from tests.cli_support import FakeCluster, cluster_object, floe
from tests.test_cli_secrets import complete

dev_render = support.dev_render
fake = support.connected
workspace = support.workspace

DEFAULT = {"storageclass.kubernetes.io/is-default-class": "true"}
ARGO = [cluster_object("CustomResourceDefinition", name) for name in ("applications.argoproj.io",
                                                                      "appprojects.argoproj.io")]
FLUX = [cluster_object("CustomResourceDefinition", name) for name in (
    "kustomizations.kustomize.toolkit.fluxcd.io", "gitrepositories.source.toolkit.fluxcd.io")]


def ready_for_dev(*, default_class: bool = True, secrets: list[dict] = ()) -> FakeCluster:
    """A cluster that has everything dev's render needs (given its ``secrets``), less a default StorageClass."""
    annotations = DEFAULT if default_class else {}
    return FakeCluster([*ARGO, cluster_object("Namespace", "argocd"),
                        cluster_object("StorageClass", "standard", annotations=annotations), *secrets])


def test_doctor_passes_on_a_ready_cluster(workspace: Path, fake) -> None:
    fake(ready_for_dev(secrets=complete(workspace)))
    result = floe(workspace, "platform", "doctor", "--env", "dev")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("│") and line.split("│")[1].strip()]
    assert [[cell.strip() for cell in line.split("│")[1:3]] for line in lines] == [
        ["Kubernetes version", "pass"], ["GitOps engine", "pass"], ["GitOps engine namespace", "pass"],
        ["default StorageClass", "pass"], ["Secrets", "pass"]]
    assert "Argo CD installed" in result.stdout
    assert "all 5 checks passed" in result.stdout


def test_doctor_fails_with_the_fix(workspace: Path, fake) -> None:
    fake(ready_for_dev(default_class=False, secrets=complete(workspace, skip=("cube-api-secret",))))
    result = floe(workspace, "platform", "doctor", "--env", "dev")
    assert result.exit_code == 1, result.output
    assert "2 checks failed of 5" in result.stdout
    assert "Secret floe-platform/cube-api-secret │ FAIL   │ missing: floe secrets init --env dev" in result.stdout
    assert "name no class and the cluster has no default" in result.stdout


def _checks(objects, cluster: FakeCluster, environment) -> dict[str, Check]:
    return {check.name: check for check in preflight.run(environment, objects, cluster)}


@pytest.mark.parametrize(("version", "passed"), [("v1.29.9", False), ("v1.30.0", True), ("v1.35.2+k3s1", True),
                                                 ("v1.36.0", False)])
def test_the_kubernetes_version_is_in_the_supported_range(version: str, passed: bool) -> None:
    check = preflight.kubernetes_version(FakeCluster(version=version))
    assert check.passed is passed
    if not passed:
        assert check.detail == (f"the cluster runs {version}; floe's manifests are validated for 1.30 to 1.35: use a "
                                "cluster in that range")


def test_a_provider_suffixed_minor_version_is_read() -> None:
    cluster = FakeCluster()
    cluster.server_version = lambda: {"major": "1", "minor": "32+", "gitVersion": "v1.32.9-gke.100"}
    assert preflight.kubernetes_version(cluster).passed


def _everything(rendered, gitops, name: str) -> list[dict]:
    return [*rendered[name].values(), *gitops[name].values()]


def test_prod_needs_argo_rollouts_its_storage_class_and_ingress_class(rendered, gitops, environments) -> None:
    cluster = ready_for_dev()
    checks = _checks(_everything(rendered, gitops, "prod"), cluster, environments["prod"])
    assert checks["CRD rollouts.argoproj.io"] == Check(
        "CRD rollouts.argoproj.io", False, "the render has Rollout objects: install Argo Rollouts (its CRDs and "
                                           "controller), or turn blue_green off in the environment")
    assert not checks["StorageClass fast-ssd"].passed
    assert checks["StorageClass fast-ssd"].detail.startswith("PersistentVolumeClaim/grafana-data, StatefulSet/minio")
    assert not checks["IngressClass nginx"].passed
    assert checks["CRD externalsecrets.external-secrets.io"].detail == (
        "the render has ExternalSecret objects: install the External Secrets Operator (its CRDs and controller), or "
        "remove the environment's secret store")
    assert checks["CRD certificates.cert-manager.io"].detail == (
        "the render has Certificate objects: install cert-manager (its CRDs and controller) with the issuer "
        "in_cluster_tls names, or set in_cluster_tls: plain in the environment")
    # prod's Secrets come from its store at sync: absent before the first sync is no failure
    assert checks["Secrets"].passed and "created at sync by External Secrets" in checks["Secrets"].detail
    cluster.store.update({("CustomResourceDefinition", None, "rollouts.argoproj.io"): {},
                          ("CustomResourceDefinition", None, "externalsecrets.external-secrets.io"): {},
                          ("CustomResourceDefinition", None, "certificates.cert-manager.io"): {},
                          ("StorageClass", None, "fast-ssd"): cluster_object("StorageClass", "fast-ssd"),
                          ("IngressClass", None, "nginx"): cluster_object("IngressClass", "nginx")})
    checks = _checks(_everything(rendered, gitops, "prod"), cluster, environments["prod"])
    assert all(check.passed for check in checks.values())


def test_dev_needs_no_rollouts_and_a_default_storage_class(rendered, gitops, environments) -> None:
    checks = _checks(_everything(rendered, gitops, "dev"), ready_for_dev(default_class=False), environments["dev"])
    assert not [name for name in checks if name.startswith("CRD ") or name.startswith("IngressClass")]
    assert checks["default StorageClass"].passed is False


def test_an_external_secret_needs_its_crd(environments) -> None:
    external = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                "metadata": {"name": "x", "namespace": "floe-platform"}, "spec": {}}
    [check] = preflight.custom_resources([external], FakeCluster())
    assert check.name == "CRD externalsecrets.external-secrets.io" and not check.passed
    assert "install the External Secrets Operator" in check.detail


def test_either_engine_will_do_and_it_is_named(gitops, environments) -> None:
    objects = list(gitops["dev"].values())
    flux_only = FakeCluster([*FLUX, cluster_object("Namespace", "flux-system")])
    engine, namespace = preflight.engine(environments["dev"], objects, flux_only)
    assert engine == Check("GitOps engine", True, "Flux installed")
    assert namespace == Check("GitOps engine namespace", True, "flux-system (Flux)")
    engine, namespace = preflight.engine(environments["dev"], objects, FakeCluster())
    assert engine == Check("GitOps engine", False, "neither Argo CD or Flux is installed (no applications.argoproj.io, "
                                                   "kustomizations.kustomize.toolkit.fluxcd.io): install one of them")
    assert not namespace.passed and "no namespace argocd (Argo CD) or flux-system (Flux)" in namespace.detail


def test_an_installed_engine_without_its_namespace_fails(gitops, environments) -> None:
    _, namespace = preflight.engine(environments["dev"], list(gitops["dev"].values()), FakeCluster(ARGO))
    assert not namespace.passed and namespace.detail.startswith("no namespace argocd (Argo CD):")


def test_an_ingress_without_class_needs_a_default_one() -> None:
    ingress = {"kind": "Ingress", "metadata": {"name": "polaris"}, "spec": {}}
    [check] = preflight.ingress_classes([ingress], FakeCluster())
    assert check == Check("default IngressClass", False,
                          "Ingress/polaris name no class and the cluster has no default: install an ingress "
                          "controller and mark its IngressClass as the default")
