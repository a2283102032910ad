"""GitOps delivery: Argo CD and Flux each honour the seed's startup order; their objects are valid."""

import re

import pytest

from floe.tiers import FINAL_WAVE, SYNC_WAVE, Step, tier_named
from floe.validation import validate_custom_resources
from tests.argo_order import sort_key, sync_order
from tests.conftest import ENVIRONMENT_NAMES, find, pod_spec

SEED_ORDER = ["storage", "catalog", "observability", "orchestrator", "semantic"]


def tier_of(obj: dict) -> str:
    return obj["metadata"]["labels"]["floe.dev/tier"]


def wave_of(obj: dict) -> int:
    return int(obj["metadata"]["annotations"][SYNC_WAVE])


def position(ordered: list[dict]) -> dict[tuple[str, str], int]:
    return {(o["kind"], o["metadata"]["name"]): i for i, o in enumerate(ordered)}


def workloads(objects) -> list[dict]:
    return [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "Rollout", "Job", "CronJob"}]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_argo_syncs_every_tier_after_the_one_before(environment: str, rendered) -> None:
    # Autoscalers and Ingresses sync after every tier (FINAL_WAVE): their health says nothing of the tier's.
    ordered = [o for o in sync_order(list(rendered[environment].values())) if wave_of(o) != FINAL_WAVE]
    tiers = [tier_of(o) for o in ordered if tier_of(o) in SEED_ORDER]
    last_seen = [max(i for i, t in enumerate(tiers) if t == name) for name in SEED_ORDER if name in tiers]
    first_seen = [min(i for i, t in enumerate(tiers) if t == name) for name in SEED_ORDER if name in tiers]
    assert [t for t in SEED_ORDER if t in tiers] == SEED_ORDER
    for earlier_last, later_first in zip(last_seen, first_seen[1:], strict=False):
        assert earlier_last < later_first, "a tier starts syncing before the previous one is done"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_one_off_steps_sync_between_their_tier_servers_and_the_next_tier(environment: str, rendered) -> None:
    """A bootstrap step runs after its tier's servers; a migration (PREPARE step) before them; both
    finish before the next tier starts."""
    objects = list(rendered[environment].values())
    at = position(sync_order(objects))
    steps = [o for o in objects if o["kind"] == "Job"]
    assert {o["metadata"]["name"] for o in steps} >= {"minio-buckets", "polaris-bootstrap", "dagster-migrate"}
    for job in steps:
        tier = tier_named(tier_of(job))
        offset = int(job["metadata"]["annotations"][SYNC_WAVE]) - tier.wave
        servers = [at[(o["kind"], o["metadata"]["name"])] for o in workloads(objects)
                   if tier_of(o) == tier.name and o["kind"] != "Job"]
        job_at = at[("Job", job["metadata"]["name"])]
        assert offset in (Step.PREPARE, Step.BOOTSTRAP)
        if offset == Step.BOOTSTRAP:
            assert max(servers) < job_at, f"{job['metadata']['name']} runs before its servers are up"
        else:
            assert job_at < min(servers), f"{job['metadata']['name']} runs after its servers start"
        later = [at[(o["kind"], o["metadata"]["name"])] for o in objects
                 if tier_named(tier_of(o)).wave > tier.wave]
        assert all(job_at < later_at for later_at in later)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_pvc_syncs_in_the_wave_of_the_pod_that_binds_it(environment: str, rendered) -> None:
    objects = list(rendered[environment].values())
    for claim in (o for o in objects if o["kind"] == "PersistentVolumeClaim"):
        users = [w for w in workloads(objects) if any(
            v.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"]
            for v in pod_spec(w).get("volumes", []))]
        assert users, f"PVC {claim['metadata']['name']} is bound by no pod"
        for user in users:
            # Earlier would block the sync on a WaitForFirstConsumer class; later would leave the pod Pending.
            assert sort_key(claim)[:2] == sort_key(user)[:2]


def _uses(workload: dict, obj: dict) -> bool:
    spec = pod_spec(workload)
    name = obj["metadata"]["name"]
    if obj["kind"] == "ServiceAccount":
        return spec.get("serviceAccountName") == name
    if obj["kind"] == "ConfigMap":
        return any(v.get("configMap", {}).get("name") == name for v in spec.get("volumes", [])) or \
            f"'name': '{name}'" in str(spec.get("containers"))
    if obj["kind"] == "Service":
        # Telemetry export is best effort (exporters retry and buffer): the seed starts the catalog
        # before observability, so the OTLP endpoint is the one address a pod may use before it exists.
        hard = [{**c, "env": [e for e in c.get("env", []) if not e["name"].startswith("OTEL_")]}
                for c in spec.get("initContainers", []) + spec["containers"]]
        namespace = obj["metadata"]["namespace"]
        # A whole DNS label: `polaris.` must not match inside `postgres-polaris.`.
        return re.search(rf"(?<![\w.-]){re.escape(name)}\.{re.escape(namespace)}\.svc\b", str(hard)) is not None
    return False


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_what_a_pod_uses_syncs_no_later_than_the_pod(environment: str, rendered) -> None:
    objects = list(rendered[environment].values())
    at = position(sync_order(objects))
    for workload in workloads(objects):
        for obj in objects:
            if obj["kind"] in {"ServiceAccount", "ConfigMap", "Service"} and _uses(workload, obj):
                used, user = (obj["kind"], obj["metadata"]["name"]), (workload["kind"], workload["metadata"]["name"])
                assert at[used] < at[user], f"{used} syncs after {user}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_hooks_carry_a_delete_policy(environment: str, rendered) -> None:
    for obj in rendered[environment].values():
        annotations = obj["metadata"].get("annotations", {})
        if "argocd.argoproj.io/hook" in annotations:
            assert annotations["argocd.argoproj.io/hook-delete-policy"] in {
                "BeforeHookCreation", "HookSucceeded", "HookFailed"}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_argo_application_syncs_the_environment_folder(environment: str, gitops, rendered, environments) -> None:
    objects = gitops[environment]
    settings = environments[environment].gitops
    application = find(objects, "Application", f"floe-{environment}")["spec"]
    assert application["source"]["path"] == f"dist/{environment}"
    assert application["source"]["directory"]["recurse"] is True
    assert application["source"]["repoURL"] == settings.repository
    assert ("automated" in application["syncPolicy"]) == settings.argocd.sync.automated
    assert application["syncPolicy"]["retry"]["backoff"]["factor"] == settings.argocd.retry.factor
    autoscaled = sorted(o["spec"]["scaleTargetRef"]["name"] for o in rendered[environment].values()
                        if o["kind"] == "HorizontalPodAutoscaler")
    assert sorted(d["name"] for d in application.get("ignoreDifferences", [])) == autoscaled
    root = find(objects, "Application", f"floe-{environment}-root")["spec"]
    assert root["source"]["path"] == f"dist/gitops/{environment}/argocd/apps"


def test_production_syncs_by_hand(gitops) -> None:
    assert "automated" not in find(gitops["prod"], "Application", "floe-prod")["spec"]["syncPolicy"]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_app_project_allows_what_the_platform_renders(environment: str, gitops, rendered, environments) -> None:
    project = find(gitops[environment], "AppProject", f"floe-{environment}")["spec"]
    allowed = {(k["group"], k["kind"]) for k in project["namespaceResourceWhitelist"]}
    allowed |= {(k["group"], k["kind"]) for k in project["clusterResourceWhitelist"]}
    rendered_kinds = {(o["apiVersion"].rpartition("/")[0], o["kind"]) for o in rendered[environment].values()}
    assert allowed >= rendered_kinds
    assert project["sourceRepos"] == [environments[environment].gitops.repository]
    namespaces = environments[environment].namespaces
    assert sorted(d["namespace"] for d in project["destinations"]) == sorted([namespaces.platform, namespaces.jobs])


def test_gitops_objects_stay_out_of_the_synced_tree(rendered) -> None:
    for objects in rendered.values():
        assert not [o for o in objects.values() if o["kind"] in {"Application", "AppProject", "Kustomization",
                                                                 "GitRepository"}]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_custom_resources_match_their_crds(environment: str, rendered, gitops) -> None:
    objects = [*rendered[environment].items(), *gitops[environment].items()]
    problems = validate_custom_resources(objects)
    assert not problems, "\n".join(map(str, problems))


def test_crd_validation_rejects_unknown_fields(gitops) -> None:
    application = find(gitops["dev"], "Application", "floe-dev")
    broken = {**application, "spec": {**application["spec"], "syncPolicee": {}}}
    problems = validate_custom_resources([("application.yaml", broken)])
    assert len(problems) == 1 and "syncPolicee" in problems[0].message


def test_runs_created_at_run_time_are_not_orphans(gitops) -> None:
    ignored = find(gitops["prod"], "AppProject", "floe-prod")["spec"]["orphanedResources"]["ignore"]
    assert {("batch", "Job"), ("", "Pod")} <= {(i["group"], i["kind"]) for i in ignored}
