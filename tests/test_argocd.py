"""Argo CD wiring: fixed project whitelists, restricted root, ordered apps folder, health and tracking.

Each rule cites the Argo CD source it relies on (argoproj/argo-cd, gitops-engine under
``gitops-engine/``), so a reader can check the behaviour the test encodes.
"""

import re

import cdk8s
import pytest

from floe.config.environment import Environment
from floe.gitops import argocd
from floe.gitops.inventory import EMITTABLE_KINDS, group_kind_of
from floe.tiers import SYNC_WAVE
from tests.argo_order import sync_order
from tests.conftest import ENVIRONMENT_NAMES, find

ROOT_FOLDER = "argocd/"
APPS_FOLDER = "argocd/apps/"
IGNORE_HEALTHCHECK = "argocd.argoproj.io/ignore-healthcheck"


def _with(model, **changes):
    return model.model_copy(update=changes)


def _without_grafana(environment: Environment) -> Environment:
    observability = environment.observability
    return _with(environment, observability=_with(observability, grafana=_with(observability.grafana, enabled=False)))


def _with_sync(environment: Environment, automated: bool) -> Environment:
    gitops = environment.gitops
    sync = _with(gitops.argocd.sync, automated=automated)
    return _with(environment, gitops=_with(gitops, argocd=_with(gitops.argocd, sync=sync)))


def _render_root(environment: Environment) -> list[dict]:
    chart = cdk8s.Chart(cdk8s.App(), "root")
    argocd.render_root(chart, environment)
    return chart.to_json()


def _whitelist(project: dict) -> set[tuple]:
    spec = project["spec"]
    return ({(k["group"], k["kind"], k.get("name")) for k in spec.get("clusterResourceWhitelist", [])}
            | {(k["group"], k["kind"]) for k in spec.get("namespaceResourceWhitelist", [])})


@pytest.fixture(scope="module")
def dev_without_grafana(environments) -> dict[str, list[dict]]:
    from floe.app import render_objects

    return render_objects(_without_grafana(environments["dev"]))


def _objects(folders: dict[str, list[dict]]) -> list[dict]:
    return [obj for objects in folders.values() for obj in objects]


# 1. A fixed whitelist ----------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_rendered_kind_is_in_the_emittable_list(environment: str, rendered) -> None:
    """A new kind without an entry fails here, before Argo CD refuses to sync it."""
    missing = {group_kind_of(o) for o in rendered[environment].values()} - set(EMITTABLE_KINDS)
    assert not missing, f"add to floe.gitops.inventory.EMITTABLE_KINDS: {sorted(missing)}"


def test_a_variant_renders_no_kind_outside_the_list(dev_without_grafana) -> None:
    platform = [o for folder, objects in dev_without_grafana.items() if folder.startswith("dev/") for o in objects]
    assert {group_kind_of(o) for o in platform} <= set(EMITTABLE_KINDS)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_project_whitelists_every_emittable_kind_rendered_or_not(environment: str, gitops) -> None:
    """The whitelist is the fixed list, whatever an environment renders (dev renders no ExternalSecret)."""
    spec = find(gitops[environment], "AppProject", f"floe-{environment}")["spec"]
    allowed = {(k["group"], k["kind"]) for k in spec["namespaceResourceWhitelist"]}
    assert allowed == {(k.group, k.kind) for k in EMITTABLE_KINDS if k.namespaced}
    assert ("external-secrets.io", "ExternalSecret") in allowed


def test_disabling_grafana_keeps_its_claim_kind_whitelisted(dev_without_grafana, gitops) -> None:
    """The claim kind leaves the render with Grafana; the project must still allow it, or the
    retained grafana-data claim could no longer be seen or pruned by Argo CD."""
    lean = _objects(dev_without_grafana)
    assert not [o for o in lean if o["kind"] == "PersistentVolumeClaim"]
    lean_project = next(o for o in lean if o["kind"] == "AppProject" and o["metadata"]["name"] == "floe-dev")
    assert _whitelist(lean_project) == _whitelist(find(gitops["dev"], "AppProject", "floe-dev"))
    assert ("", "PersistentVolumeClaim") in _whitelist(lean_project)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_project_allows_only_the_environment_namespaces_as_namespaces(environment: str, gitops,
                                                                       environments) -> None:
    """Destinations fence namespaced objects only (argo-cd AppProject.IsResourcePermitted); the
    Namespaces themselves are fenced by name (IsGroupKindNamePermitted, Argo CD 3.3), and so is the
    jobs namespace's admission policy with its binding: no other policy of the cluster."""
    namespaces = environments[environment].namespaces
    cluster = find(gitops[environment], "AppProject", f"floe-{environment}")["spec"]["clusterResourceWhitelist"]
    policy = f"floe-{environment}-jobs-admission"
    assert sorted((k["kind"], k["name"]) for k in cluster) == sorted(
        [("Namespace", namespaces.platform), ("Namespace", namespaces.jobs),
         ("ValidatingAdmissionPolicy", policy), ("ValidatingAdmissionPolicyBinding", policy)])


# 2. Restricted projects --------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_root_application_has_a_project_of_its_own(environment: str, gitops, environments) -> None:
    objects = gitops[environment]
    settings = environments[environment].gitops
    root = find(objects, "Application", f"floe-{environment}-root")
    assert root["spec"]["project"] == f"floe-{environment}-root"
    project = find(objects, "AppProject", f"floe-{environment}-root")["spec"]
    assert project["sourceRepos"] == [settings.repository]
    assert project["destinations"] == [{"server": argocd.IN_CLUSTER, "namespace": settings.argocd.namespace}]
    assert _whitelist({"spec": project}) == {("argoproj.io", "AppProject"), ("argoproj.io", "Application")}
    assert "clusterResourceWhitelist" not in project, "an empty cluster whitelist allows no cluster-scoped kind"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_root_project_is_applied_by_hand_never_synced(environment: str, gitops) -> None:
    """A root that synced its own project could widen it in one commit."""
    paths = {f"{o['kind']}/{o['metadata']['name']}": path for path, o in gitops[environment].items()}
    for name in (f"AppProject/floe-{environment}-root", f"Application/floe-{environment}-root"):
        assert paths[name].startswith(ROOT_FOLDER) and not paths[name].startswith(APPS_FOLDER)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_root_syncs_the_way_the_environment_syncs(environment: str, gitops, environments) -> None:
    sync = environments[environment].gitops.argocd.sync
    policy = find(gitops[environment], "Application", f"floe-{environment}-root")["spec"]["syncPolicy"]
    expected = {"prune": sync.prune, "selfHeal": sync.self_heal} if sync.automated else None
    assert policy.get("automated") == expected


def test_production_root_waits_for_a_person(gitops) -> None:
    """prod syncs by hand: a commit widening its project or automating its sync must wait too."""
    assert "automated" not in find(gitops["prod"], "Application", "floe-prod-root")["spec"]["syncPolicy"]


@pytest.mark.parametrize("automated", [True, False])
def test_root_sync_follows_the_setting_not_the_name(environments, automated: bool) -> None:
    for name in ("dev", "prod"):
        objects = _render_root(_with_sync(environments[name], automated))
        root = next(o for o in objects if o["kind"] == "Application")
        assert ("automated" in root["spec"]["syncPolicy"]) is automated


# 3. Wave order of the apps folder ----------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_project_syncs_one_wave_before_its_application(environment: str, gitops) -> None:
    """gitops-engine syncTasks.Less: phase, wave, kind order (both kinds unknown: equal), name (equal
    here): without waves the order is whatever sort.Sort leaves."""
    apps = [o for path, o in gitops[environment].items() if path.startswith(APPS_FOLDER)]
    for listed in (apps, apps[::-1]):
        assert [o["kind"] for o in sync_order(listed)] == ["AppProject", "Application"]
    waves = {o["kind"]: int(o["metadata"]["annotations"][SYNC_WAVE]) for o in apps}
    assert waves["Application"] - waves["AppProject"] == 1


# 4 and 7. Root health and tracking: the argocd-cm settings --------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_argocd_settings_ship_in_a_folder_of_their_own(environment: str, gitops, environments) -> None:
    """Application health left Argo CD in 1.8 (docs/operator-manual/health.md); label tracking (the
    default before 3.0, util/settings GetTrackingMethod) would read app.kubernetes.io/instance. The settings
    are a patch: `kubectl apply -f` of the root's folder must never replace argocd-cm with them."""
    paths = [p for p, o in gitops[environment].items() if o["kind"] == "ConfigMap"]
    assert paths == [f"{ROOT_FOLDER}settings/configmap-argocd-cm.yaml"]
    settings = gitops[environment][paths[0]]
    assert settings["metadata"] == {"name": "argocd-cm", "namespace": environments[environment].gitops.argocd.namespace}
    data = settings["data"]
    assert data["application.resourceTrackingMethod"] == "annotation"
    health = data["resource.customizations.health.argoproj.io_Application"]
    assert "hs.status = obj.status.health.status" in health and health.rstrip().endswith("return hs")


# 5. Orphaned resources ---------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_claim_volumes_are_their_statefulsets_children_not_ignored_orphans(environment: str, rendered,
                                                                          gitops) -> None:
    """gitops-engine (pkg/cache/references.go isStatefulSetChild) makes a StatefulSet the inferred
    owner of every claim named ``<template>-<statefulset>-<n>``, so Argo CD never lists them as
    orphans while the StatefulSet exists; once it is gone, the retained volumes deserve the warning,
    so the project must not ignore claims."""
    for sts in (o for o in rendered[environment].values() if o["kind"] == "StatefulSet"):
        for template in sts["spec"].get("volumeClaimTemplates", []):
            claim = f"{template['metadata']['name']}-{sts['metadata']['name']}-0"
            assert re.search(rf"{template['metadata']['name']}-{sts['metadata']['name']}-\d+$", claim)
    ignored = find(gitops[environment], "AppProject", f"floe-{environment}")["spec"]["orphanedResources"]["ignore"]
    assert not [i for i in ignored if i["kind"] == "PersistentVolumeClaim"]


# 6. A failed pipeline run does not degrade the platform ------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_pipeline_job_templates_stay_out_of_the_application_health(environment: str, rendered) -> None:
    """argo-cd resource_customizations/batch/CronJob/health.lua marks a CronJob Degraded when its
    last run failed (Argo CD 3.2+); controller/health.go skips resources annotated to be ignored."""
    templates = [o for o in rendered[environment].values()
                 if o["kind"] == "CronJob" and o["metadata"]["labels"].get("floe.dev/layer") == "pipeline-jobs"]
    assert templates
    for template in templates:
        assert template["metadata"]["annotations"].get(IGNORE_HEALTHCHECK) == "true", template["metadata"]["name"]


# Delete safety -----------------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_deleting_an_application_never_cascades(environment: str, gitops) -> None:
    """Argo CD deletes an Application's resources only when it carries the resources finalizer."""
    for application in (o for o in gitops[environment].values() if o["kind"] == "Application"):
        assert not application["metadata"].get("finalizers")
