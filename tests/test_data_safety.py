"""Data survives every delete path of both engines.

What holds data: the Namespaces (deleting one deletes every PVC and hand-made Secret in it), the
standalone PVCs, and the claims a StatefulSet's controller creates from its templates (never in git,
so neither engine tracks them; they go only with their Namespace, or with their StatefulSet when its
retention policy says Delete). The delete paths, with the rule each engine applies (tests/engines):

* Argo CD prune, when an object leaves git: skipped for ``argocd.argoproj.io/sync-options: Prune=false``;
* Argo CD cascading Application delete (``argocd app delete``, or the root Application pruning a child
  with the resources finalizer): skipped for ``Delete=false``;
* Flux prune, when an object leaves a Kustomization's build: skipped for
  ``kustomize.toolkit.fluxcd.io/prune: disabled``;
* Flux Kustomization delete (a tier that stops rendering, the root pruning it): nothing with
  ``deletionPolicy: Orphan``; the default MirrorPrune deletes the whole inventory, minus the objects
  with ``prune: disabled``.

The static rules below say what the render must carry; ``test_every_delete_path_keeps_the_data``
plays each path on a synced fake cluster and counts what is left.
"""

import copy

import pytest

from tests.conftest import ENVIRONMENT_NAMES
from tests.engines import argocd, flux, source
from tests.engines.apiserver import Cluster, Key, key_of, labels, needs

INSTANCE = "app.kubernetes.io/instance"


@pytest.fixture(scope="module")
def tree(fresh_dist) -> source.Tree:
    return source.load(fresh_dist)


def holds_data(obj: dict) -> bool:
    return obj["kind"] in ("Namespace", "PersistentVolumeClaim") or (
        obj["kind"] == "StatefulSet" and bool(obj["spec"].get("volumeClaimTemplates")))


def _name(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def applications(tree: source.Tree, environment: str) -> list[dict]:
    return [d for p, docs in tree.items() if p.startswith(f"dist/gitops/{environment}/") for d in docs
            if d.get("kind") == "Application"]


def kustomizations(tree: source.Tree, environment: str) -> list[dict]:
    return [d for p, docs in tree.items() if p.startswith(f"dist/gitops/{environment}/") for d in docs
            if d.get("kind") == "Kustomization" and d["apiVersion"].startswith(flux.GROUP)]


def problems(tree: source.Tree, environment: str) -> list[str]:
    found = []
    rendered = source.objects(tree, f"dist/{environment}") + source.objects(tree, f"dist/gitops/{environment}")
    found += [f"{_name(o)} is rendered: Secrets come from the operator" for o in rendered if o["kind"] == "Secret"]
    app_names = {a["metadata"]["name"] for a in applications(tree, environment)}
    for obj in (o for o in rendered if o["kind"] in ("Namespace", "PersistentVolumeClaim")):
        if argocd.option(obj, "Prune") != "false" or argocd.option(obj, "Delete") != "false":
            found.append(f"{_name(obj)} lacks argocd.argoproj.io/sync-options: Prune=false,Delete=false")
        if not flux.excluded(obj):
            found.append(f"{_name(obj)} lacks kustomize.toolkit.fluxcd.io/prune: disabled")
    for sts in (o for o in rendered if o["kind"] == "StatefulSet" and o["spec"].get("volumeClaimTemplates")):
        policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy", {})  # absent: Retain (API default)
        if "Delete" in (policy.get("whenDeleted"), policy.get("whenScaled")):
            found.append(f"{_name(sts)} deletes its claims: persistentVolumeClaimRetentionPolicy {policy}")
        for claim in sts["spec"]["volumeClaimTemplates"]:
            tracked = labels(claim).get(INSTANCE) in app_names or any(
                k.startswith((flux.GROUP, "argocd.argoproj.io")) for k in {**labels(claim), **claim["metadata"].get(
                    "annotations", {})})
            if tracked:
                found.append(f"{_name(sts)}: claims from template {claim['metadata']['name']} would be tracked "
                             "(and pruned) as an engine's own objects")
    for secret in (o for o in rendered if o["kind"] == "ExternalSecret"):
        target = secret["spec"].get("target", {})
        if target.get("creationPolicy") != "Orphan" or target.get("deletionPolicy") == "Delete":
            found.append(f"{_name(secret)}: deleting it would delete its Secret (target {target})")
    for app in applications(tree, environment):
        for obj in filter(holds_data, argocd.argocd_directory(tree, app["spec"]["source"])):
            if obj["kind"] != "StatefulSet" and (argocd.would_prune(app, obj) or argocd.would_delete(app, obj)):
                found.append(f"Application {app['metadata']['name']} can delete {_name(obj)}")
    for kustomization in kustomizations(tree, environment):
        built = source.kustomize_build(tree, kustomization["spec"]["path"])
        if any(map(holds_data, built)) and flux.deletes_inventory(kustomization) \
                and not all(map(flux.excluded, built)):
            found.append(f"Kustomization {kustomization['metadata']['name']} builds "
                         f"{sorted(_name(o) for o in built if holds_data(o))} and deletes its inventory when deleted "
                         f"(deletionPolicy {kustomization['spec'].get('deletionPolicy', 'MirrorPrune')})")
    return found


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_nothing_that_holds_data_can_be_pruned_or_cascade_deleted(environment: str, tree) -> None:
    found = problems(tree, environment)
    assert not found, "\n".join(found)


def _synced(tree: source.Tree, environment: str) -> Cluster:
    cluster = Cluster(needs=needs(source.objects(tree, f"dist/{environment}")))
    argocd.first_sync(cluster, tree, environment, wait=False)
    for _ in range(24):
        cluster.tick()
    return cluster


def _data(cluster: Cluster, environment: str, tree: source.Tree) -> set[Key]:
    namespaces = {key_of(o) for o in source.objects(tree, f"dist/{environment}") if o["kind"] == "Namespace"}
    return {k for k in cluster.objects if k[:2] == ("", "PersistentVolumeClaim") or k in namespaces}


def lost_data(tree: source.Tree, environment: str) -> dict[str, list[str]]:
    """Each delete path → the PVCs and Namespaces it removes from a synced cluster."""
    synced = _synced(tree, environment)
    data = _data(synced, environment, tree)
    assert any(k[1] == "PersistentVolumeClaim" for k in data), "the synced cluster holds no claims"
    paths = {}
    for app in applications(tree, environment):
        objects, name = argocd.argocd_directory(tree, app["spec"]["source"]), app["metadata"]["name"]
        paths[f"Argo CD prunes what leaves {name}"] = [o for o in objects if argocd.would_prune(app, o)]
        paths[f"argocd app delete --cascade {name}"] = [o for o in objects if argocd.would_delete(app, o)]
    for kustomization in kustomizations(tree, environment):
        built, name = source.kustomize_build(tree, kustomization["spec"]["path"]), kustomization["metadata"]["name"]
        paths[f"Flux prunes what leaves {name}"] = [o for o in built if flux.would_prune(kustomization, o)]
        paths[f"kubectl delete kustomization {name}"] = [o for o in built if flux.would_delete(kustomization, o)]
    lost = {}
    for path, deleted in paths.items():
        gone = sorted(f"{k[1]}/{k[3]}" for k in data & synced.deleted_by([key_of(o) for o in deleted]))
        if gone:
            lost[path] = gone
    return lost


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_delete_path_keeps_the_data(environment: str, tree) -> None:
    lost = lost_data(tree, environment)
    assert not lost, "\n".join(f"{path}: loses {gone}" for path, gone in lost.items())


@pytest.mark.parametrize("kind", ["Namespace", "PersistentVolumeClaim"])
def test_removing_the_protection_loses_data(kind: str, tree) -> None:
    environment = next(e for e in ENVIRONMENT_NAMES if any(
        o["kind"] == kind for o in source.objects(tree, f"dist/{e}")))
    broken = copy.deepcopy(tree)
    for obj in (o for o in source.objects(broken, f"dist/{environment}") if o["kind"] == kind):
        for key in (argocd.SYNC_OPTIONS, f"{flux.GROUP}/prune"):
            obj["metadata"].get("annotations", {}).pop(key, None)
            obj["metadata"].get("labels", {}).pop(key, None)
    assert any(kind in p for p in problems(broken, environment))
    lost = lost_data(broken, environment)
    assert any(any(g.startswith("PersistentVolumeClaim/") for g in gone) for gone in lost.values())
