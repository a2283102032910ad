"""Both engines play a first and a second sync of every environment on a fake cluster (tests/engines).

Argo CD syncs the root Application applied by hand, then the environment's Application, wave by wave,
each wave healthy before the next; a second sync must find git and live identical under the
server-side-apply diff. Flux reconciles the Kustomizations applied by hand in dependsOn order, each
waiting until all it applied is Current; a second reconcile must change nothing. Broken variants of
the render (edited copies, never the generator) must fail the same checks.
"""

import copy

import pytest

from tests.argo_order import sort_key
from tests.conftest import ENVIRONMENT_NAMES
from tests.engines import argocd, cel, flux, source
from tests.engines.apiserver import Cluster, key_of, needs, wave
from tests.engines.quantity import canonical

ROLLOUT = ("argoproj.io", "Rollout")


@pytest.fixture(scope="module")
def tree(fresh_dist) -> source.Tree:
    return source.load(fresh_dist)


def cluster_for(tree: source.Tree, environment: str, **options) -> Cluster:
    return Cluster(needs=needs(source.objects(tree, f"dist/{environment}")), **options)


def docs_of(tree: source.Tree, prefix: str, kind: str) -> list[dict]:
    return [d for path, docs in tree.items() if path.startswith(prefix) for d in docs if d.get("kind") == kind]


def converged(tree: source.Tree, environment: str, **options) -> Cluster:
    """The live state after a first sync: every wave applied, controllers given five minutes. (The
    diff depends only on what was applied, so this does not wait for health between waves.)"""
    cluster = cluster_for(tree, environment, **options)
    argocd.first_sync(cluster, tree, environment, wait=False)
    for _ in range(60):
        cluster.tick()
    return cluster


def out_of_sync(cluster: Cluster, tree: source.Tree) -> dict[str, list[str]]:
    found = {}
    for app in cluster.of_kind("argoproj.io", "Application"):
        for obj in argocd.argocd_directory(tree, app["spec"]["source"]):
            if not argocd.is_hook(obj) and (paths := argocd.diff(cluster, obj, app)):
                found[f"{app['metadata']['name']}: {obj['kind']}/{obj['metadata']['name']}"] = paths
    return found


def flux_run(tree: source.Tree, environment: str, **options) -> flux.Flux:
    engine = flux.Flux(cluster_for(tree, environment, **options), tree, environment)
    engine.bootstrap()
    engine.run()
    return engine


def not_ready(engine: flux.Flux) -> dict[str, str]:
    """Kustomizations not Ready at the current revision (and what ``kubectl apply`` refused at bootstrap)."""
    found = {f"kubectl apply ({i})": error for i, error in enumerate(engine.bootstrap_errors)}
    for kustomization in engine.kustomizations():
        state = engine.states.get(kustomization["metadata"]["name"], flux.State())
        if state.phase != "Ready" or state.revision != engine.revision:
            found[kustomization["metadata"]["name"]] = f"{state.phase}: {state.message}"
    return found


# --- the model itself ----------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "stored"), [
    ("1000m", "1"), ("0.5", "500m"), ("1024Mi", "1Gi"), ("2000m", "2"), ("1.5Gi", "1536Mi"), ("500Gi", "500Gi"),
    ("2000", "2k"), ("0.5Ki", "512")])
def test_the_fake_api_server_stores_quantities_in_canonical_form(given: str, stored: str) -> None:
    assert canonical(given) == stored


def test_the_fake_api_server_defaults_like_the_real_one() -> None:
    cluster = Cluster()
    cluster.apply({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
                   "spec": {"selector": {}, "serviceName": "db", "template": {"spec": {"containers": [
                       {"name": "db", "image": "postgres:18", "resources": {"requests": {"cpu": "1000m"}}}]}},
                       "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                           "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}}}]},
                   "status": {"readyReplicas": 99}})
    stored = cluster.get(("apps", "StatefulSet", "default", "db"))
    claim = stored["spec"]["volumeClaimTemplates"][0]
    assert (claim["apiVersion"], claim["kind"], claim["status"], claim["spec"]["volumeMode"]) == (
        "v1", "PersistentVolumeClaim", {"phase": "Pending"}, "Filesystem")
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert stored["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "1"
    assert stored["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert "status" not in stored and stored["metadata"]["generation"] == 1


def test_argo_health_follows_gitops_engine_and_its_lua_checks() -> None:
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"generation": 1},
           "status": {"conditions": [
               {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
               {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"}]}}
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {}, "status": {"loadBalancer": {}}}
    stale = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"generation": 3},
             "spec": {"strategy": {"blueGreen": {}}}, "status": {"observedGeneration": "2", "phase": "Healthy"}}
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {}, "spec": {}, "status": {
        "lastScheduleTime": "2026-01-02T03:30:00Z", "lastSuccessfulTime": "2026-01-01T03:30:00Z"}}
    assert [argocd.health(o)[0] for o in (hpa, ingress, stale, cronjob)] == [
        "Degraded", "Progressing", "Progressing", "Degraded"]


def test_the_cel_subset_evaluates_as_cel_does() -> None:
    rollout = {"metadata": {"generation": 3}, "status": {"observedGeneration": "2", "phase": "Healthy"}}
    assert cel.evaluate("status.phase == 'Healthy'", rollout) is True
    assert cel.evaluate("status.observedGeneration == string(metadata.generation)", rollout) is False
    assert cel.evaluate("false && status.missing", rollout) is False
    with pytest.raises(cel.CelError):
        cel.evaluate("status.missing == 'x'", rollout)


# --- Argo CD -------------------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_argo_first_sync_completes(environment: str, tree) -> None:
    cluster = cluster_for(tree, environment)
    results = argocd.first_sync(cluster, tree, environment)
    assert len(results) >= 2, "the root Application should create the environment's Application"
    unfinished = {name: str(r) for name, r in results.items() if r.phase != "Succeeded"}
    assert not unfinished, f"first sync did not complete: {unfinished}"
    missing = [o["metadata"]["name"] for o in source.objects(tree, f"dist/{environment}") if cluster.get(o) is None]
    assert not missing


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_argo_second_sync_finds_no_difference(environment: str, tree) -> None:
    differences = out_of_sync(converged(tree, environment), tree)
    assert not differences, f"OutOfSync after a first sync (self-heal would re-sync forever): {differences}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_argo_creates_each_project_before_the_application_using_it(environment: str, tree) -> None:
    """Objects whose (phase, wave, kind, name) sort equal are created in no defined order."""
    for app in docs_of(tree, f"dist/gitops/{environment}/", "Application"):
        synced = argocd.argocd_directory(tree, app["spec"]["source"])
        projects = {o["metadata"]["name"]: o for o in synced if o["kind"] == "AppProject"}
        for child in (o for o in synced if o["kind"] == "Application" and o["spec"].get("project") in projects):
            assert sort_key(projects[child["spec"]["project"]]) < sort_key(child), \
                f"AppProject {child['spec']['project']} may be created after Application {child['metadata']['name']}"


def test_a_claim_template_without_kind_is_out_of_sync_forever(tree) -> None:
    broken, edited = copy.deepcopy(tree), 0
    for environment in ENVIRONMENT_NAMES:
        for sts in docs_of(broken, f"dist/{environment}/", "StatefulSet"):
            for claim in sts["spec"].get("volumeClaimTemplates", []):
                claim.pop("kind", None)
                edited += 1
        differences = out_of_sync(converged(broken, environment), broken)
        assert any("StatefulSet" in name and "volumeClaimTemplates" in str(p) for name, p in differences.items())
    assert edited


def _move_to_target_wave(tree: source.Tree, environment: str, kind: str) -> int:
    """Put every ``kind`` object in the wave of what it points at (an HPA's target, an Ingress's Service)."""
    objects = source.objects(tree, f"dist/{environment}")
    moved = 0
    for obj in (o for o in objects if o["kind"] == kind):
        if kind == "HorizontalPodAutoscaler":
            ref = obj["spec"]["scaleTargetRef"]
            target_kind, target_name = ref["kind"], ref["name"]
        else:
            target_kind = "Service"
            target_name = obj["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
        target = next(o for o in objects if o["kind"] == target_kind and o["metadata"]["name"] == target_name)
        obj["metadata"].setdefault("annotations", {})["argocd.argoproj.io/sync-wave"] = str(wave(target))
        moved += 1
    return moved


@pytest.mark.parametrize("kind", ["HorizontalPodAutoscaler", "Ingress"])
def test_an_hpa_or_ingress_in_an_early_wave_stops_the_first_sync(kind: str, tree) -> None:
    """A fresh HPA is Degraded (no metrics yet) and an Ingress without an ingress controller stays
    Progressing: in a wave before other objects either one fails or stalls the sync."""
    moved = 0
    for environment in ENVIRONMENT_NAMES:
        broken = copy.deepcopy(tree)
        if not _move_to_target_wave(broken, environment, kind):
            continue
        moved += 1
        results = argocd.first_sync(cluster_for(broken, environment), broken, environment)
        assert any(r.phase != "Succeeded" for r in results.values()), results
    assert moved, f"no environment renders a {kind}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_a_failed_pipeline_run_holds_no_later_sync(environment: str, tree) -> None:
    """CronJobs whose last Job failed are Degraded in Argo CD (CronJob/health.lua) and Current for kstatus."""
    cluster = converged(tree, environment, failed_cronjobs=True)
    for app in cluster.of_kind("argoproj.io", "Application"):
        result = argocd.sync(cluster, app, argocd.argocd_directory(tree, app["spec"]["source"]),
                             argocd.project_of(cluster, app))
        assert result.phase == "Succeeded", str(result)
    engine = flux_run(tree, environment, failed_cronjobs=True)
    assert not not_ready(engine)


# --- Flux ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_flux_first_reconcile_makes_every_kustomization_ready(environment: str, tree) -> None:
    engine = flux_run(tree, environment)
    assert engine.kustomizations()
    assert not not_ready(engine), f"not Ready after {engine.cluster.now}s: {not_ready(engine)}"
    applied: dict[tuple, list[str]] = {}
    for _, name, key, _ in engine.actions:
        applied.setdefault(key, []).append(name)
    rendered = {key_of(o): f"{o['kind']}/{o['metadata']['name']}" for o in source.objects(tree, f"dist/{environment}")}
    assert not [n for k, n in rendered.items() if k not in applied], "objects no Kustomization applies"
    assert not {rendered[k]: v for k, v in applied.items() if k in rendered and len(set(v)) > 1}, \
        "objects two Kustomizations apply"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_flux_second_reconcile_changes_nothing(environment: str, tree) -> None:
    engine = flux_run(tree, environment)
    engine.new_revision()
    engine.run()
    assert not not_ready(engine)
    changed = [(name, key, action) for revision, name, key, action in engine.actions
               if revision == engine.revision and action != "unchanged"]
    assert not changed


def test_a_step_whose_account_may_not_apply_its_objects_never_gets_ready(tree) -> None:
    """Kustomizations apply as their own ServiceAccount: without its bindings, RBAC refuses the apply."""
    environment = ENVIRONMENT_NAMES[0]
    steps = [k for k in docs_of(tree, f"dist/gitops/{environment}/", "Kustomization")
             if k["spec"].get("serviceAccountName")]
    assert steps, "no Kustomization applies with a service account of its own"
    account = steps[0]["spec"]["serviceAccountName"]
    broken = copy.deepcopy(tree)
    for docs in broken.values():
        docs[:] = [d for d in docs if not (d.get("kind") in ("RoleBinding", "ClusterRoleBinding") and any(
            s.get("name") == account for s in d.get("subjects") or []))]
    engine = flux_run(broken, environment)
    assert "forbidden" in not_ready(engine).get(steps[0]["metadata"]["name"], ""), not_ready(engine)


def _rollout_update(tree: source.Tree, environment: str) -> tuple[flux.Flux, list]:
    """Reconcile, then commit a new pod template for every Rollout and reconcile again (15 minutes):
    the ready events of that second revision and the Kustomizations that hold a Rollout."""
    engine = flux_run(tree, environment)
    assert not not_ready(engine)
    changed = copy.deepcopy(tree)
    for rollout in docs_of(changed, f"dist/{environment}/", "Rollout"):
        template = rollout["spec"]["template"].setdefault("metadata", {})
        template.setdefault("annotations", {})["floe.dev/config-checksum"] = "a-new-config"
    engine.new_revision(changed)
    engine.run(limit=900)
    return engine, [e for e in engine.ready_events if e.revision == engine.revision
                    and any(o and (o["apiVersion"].rpartition("/")[0], o["kind"]) == ROLLOUT for o in e.objects)]


def _stale(event: flux.ReadyEvent) -> list[str]:
    return [f"{event.name}: Rollout/{o['metadata']['name']} generation {o['metadata']['generation']}, "
            f"observed {o['status'].get('observedGeneration')!r}, phase {o['status'].get('phase')}"
            for o in event.objects if o and o["kind"] == "Rollout"
            and (o["status"].get("observedGeneration") != str(o["metadata"]["generation"])
                 or o["status"].get("phase") != "Healthy")]


def _environments_with_rollouts(tree) -> list[str]:
    found = [e for e in ENVIRONMENT_NAMES if docs_of(tree, f"dist/{e}/", "Rollout")]
    assert found, "no environment renders a Rollout"
    return found


def test_flux_waits_for_a_rollout_to_observe_its_new_generation(tree) -> None:
    """Right after an apply the Rollout still shows the previous generation's Healthy phase; Flux
    must not count that (nor a rollout paused for promotion) as Ready."""
    stale = [s for environment in _environments_with_rollouts(tree) for e in _rollout_update(tree, environment)[1]
             for s in _stale(e)]
    assert not stale, f"Ready on a stale Rollout phase: {stale}"


def test_a_rollout_check_without_observed_generation_is_ready_on_a_stale_phase(tree) -> None:
    broken = copy.deepcopy(tree)
    for kustomization in (k for e in ENVIRONMENT_NAMES for k in docs_of(broken, f"dist/gitops/{e}/", "Kustomization")):
        for check in kustomization["spec"].get("healthCheckExprs", []):
            if check.get("kind") == "Rollout":  # the phase alone, as rendered before the fix
                check.update(current="status.phase == 'Healthy'", failed="status.phase == 'Degraded'")
                check.pop("inProgress", None)
    for environment in _environments_with_rollouts(broken):
        _, events = _rollout_update(broken, environment)
        assert [s for e in events for s in _stale(e)], f"{environment}: the broken check waited after all"
