"""Argo CD: health rules, the sync loop, the server-side-apply diff and what a delete removes.

Sources read (argoproj/argo-cd at 37ee009, v3.6.0 development, where gitops-engine now lives):

* health: ``gitops-engine/pkg/health/health_{deployment,statefulset,job,pvc,service,ingress,hpa}.go``
  and the Lua customisations ``resource_customizations/argoproj.io/Rollout/health.lua``,
  ``resource_customizations/batch/CronJob/health.lua`` and
  ``resource_customizations/external-secrets.io/ExternalSecret/health.lua`` and
  ``resource_customizations/cert-manager.io/Certificate/health.lua``; a kind without a check (ConfigMap,
  ServiceAccount, Namespace, NetworkPolicy, PDB, RBAC, Application, AppProject) has no health,
  which the sync counts as success. HPA: since v3.5.0 (argo-cd#26274, in ``health_hpa.go``) every
  degraded condition is looked for before any healthy one, so ``AbleToScale True`` no longer hides
  ``ScalingActive False / FailedGetResourceMetric``: a fresh HPA is Degraded. Lua customisations an
  installation adds in ``argocd-cm`` (``resource.customizations.health.<group>_<kind>``) are not
  evaluated: a sync that would wait on the health of such a kind fails with a message saying so
  (the one floe renders, for Applications, concerns only the root Application's last wave, where
  health is not waited for).
* sync: ``gitops-engine/pkg/sync/sync_context.go`` ``Sync``: tasks sorted by phase, wave, kind,
  name (``sync_tasks.go``; tests/argo_order.py); one wave at a time; a running task succeeds when
  Healthy (or has no health) and fails the whole sync when Degraded (hooks: when Degraded or
  Unknown, ``getOperationPhase``); the next wave starts only when nothing of this one runs (for a
  multi-step sync); the last wave, when it holds no hook, succeeds as soon as it is applied "EVEN if
  those objects subsequently degrade". Argo CD has no sync timeout: a wave that never turns healthy
  leaves the operation Running (``timeout`` here only stops the simulation). Hooks with
  ``BeforeHookCreation`` are deleted and created again by every sync. With
  ``ApplyOutOfSyncOnly=true`` a resource without differences is not a task (``filterOutOfSyncTasks``).
  Before anything, each resource must be permitted by the Application's AppProject
  (``AppProject.IsGroupKindNamePermitted``, ``IsDestinationPermitted`` in
  pkg/apis/application/v1alpha1; the built-in ``default`` project permits everything).
* diff: with ``ServerSideApply=true`` Argo CD diffs with structured-merge-diff
  (``gitops-engine/pkg/diff/diff.go`` ``Diff`` → ``StructuredMergeDiff``): both objects are first
  re-marshalled through their Go types (``remarshal``: canonical quantities for built-in kinds),
  the desired object is applied over the live one (``openapi.merge``), scheme defaults are applied
  to both (``normalizeTypedValue``/``patchDefaultValues``) and the two are compared whole. Defaults
  the server adds inside an atomic list that the scheme defaulters do not reproduce (the claim
  templates' ``apiVersion``/``kind``) therefore show as a difference. Hooks are not compared.
  ``ignoreDifferences`` JSON pointers are removed from both sides.
* delete: a resource is pruned unless ``argocd.argoproj.io/sync-options`` has ``Prune=false``
  (``isPruningDisabled`` in sync_context.go); a cascading Application delete removes each managed
  resource unless it has ``Delete=false`` (annotation first, else the Application's sync options),
  is a CRD or carries ``helm.sh/resource-policy: keep`` (``shouldBeDeleted``, controller/appcontroller.go).
"""

import fnmatch
from dataclasses import dataclass, field

from floe.rendered import copy_json
from tests.argo_order import sort_key
from tests.engines import openapi
from tests.engines.apiserver import ApplyError, Cluster, annotations, group_of, key_of, namespaced, scheme_defaults
from tests.engines.source import Tree, argocd_directory

SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
DEFAULT_PROJECT = {"metadata": {"name": "default"}, "spec": {
    "sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
    "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]}}


def option(obj: dict, name: str) -> str | None:
    """The value of ``name=`` in the object's sync-options annotation (``GetAnnotationOptionValue``)."""
    for item in annotations(obj).get(SYNC_OPTIONS, "").split(","):
        key, _, value = item.strip().partition("=")
        if key == name:
            return value
    return None


def app_option(app: dict, name: str) -> str | None:
    for item in app["spec"].get("syncPolicy", {}).get("syncOptions", []):
        key, _, value = item.partition("=")
        if key == name:
            return value
    return None


def is_hook(obj: dict) -> bool:
    return "argocd.argoproj.io/hook" in annotations(obj)


# --- health ------------------------------------------------------------------------------------

def _conditions(obj: dict) -> list[dict]:
    return (obj.get("status") or {}).get("conditions", [])


def _deployment(obj: dict):
    spec, status = obj["spec"], obj.get("status", {})
    if spec.get("paused"):
        return "Suspended", "Deployment is paused"
    if obj["metadata"]["generation"] > status.get("observedGeneration", 0):
        return "Progressing", "observed deployment generation less than desired generation"
    if any(c["type"] == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded" for c in _conditions(obj)):
        return "Degraded", "exceeded its progress deadline"
    updated = status.get("updatedReplicas", 0)
    if spec.get("replicas") is not None and updated < spec["replicas"]:
        return "Progressing", f"{updated} out of {spec['replicas']} new replicas have been updated"
    if status.get("replicas", 0) > updated:
        return "Progressing", "old replicas are pending termination"
    if status.get("availableReplicas", 0) < updated:
        return "Progressing", f"{status.get('availableReplicas', 0)} of {updated} updated replicas are available"
    return "Healthy", ""


def _statefulset(obj: dict):
    spec, status = obj["spec"], obj.get("status", {})
    if not status.get("observedGeneration") or obj["metadata"]["generation"] > status["observedGeneration"]:
        return "Progressing", "Waiting for statefulset spec update to be observed..."
    if spec.get("replicas") is not None and status.get("readyReplicas", 0) < spec["replicas"]:
        return "Progressing", f"Waiting for {spec['replicas'] - status.get('readyReplicas', 0)} pods to be ready..."
    strategy = spec.get("updateStrategy", {})
    if strategy.get("type") == "RollingUpdate" and "rollingUpdate" in strategy:
        partition = strategy["rollingUpdate"].get("partition")
        if spec.get("replicas") is not None and partition is not None \
                and status.get("updatedReplicas", 0) < spec["replicas"] - partition:
            return "Progressing", "Waiting for partitioned roll out to finish"
        return "Healthy", "partitioned roll out complete"
    if strategy.get("type") == "OnDelete":
        return "Healthy", "statefulset has ready pods"
    if status.get("updateRevision") != status.get("currentRevision"):
        return "Progressing", "waiting for statefulset rolling update to complete"
    return "Healthy", "statefulset rolling update complete"


def _job(obj: dict):
    failed = complete = suspended = False
    message = ""
    for condition in _conditions(obj):
        if condition["type"] == "Failed":
            failed = complete = True
            message = condition.get("message", "")
        elif condition["type"] == "Complete":
            complete = True
        elif condition["type"] == "Suspended":
            complete, suspended = True, condition["status"] == "True"
    if not complete:
        return "Progressing", "job running"
    if failed:
        return "Degraded", message
    return ("Suspended", "") if suspended else ("Healthy", "")


def _claim(obj: dict):
    return {"Lost": "Degraded", "Pending": "Progressing", "Bound": "Healthy"}.get(
        obj.get("status", {}).get("phase"), "Unknown"), ""


def _service(obj: dict):
    if obj["spec"].get("type") == "LoadBalancer" and not obj.get("status", {}).get("loadBalancer", {}).get("ingress"):
        return "Progressing", ""
    return "Healthy", ""


def _ingress(obj: dict):
    address = (obj.get("status") or {}).get("loadBalancer", {}).get("ingress")
    return ("Healthy", "") if address else ("Progressing", "waiting for a load-balancer address")


HPA_DEGRADED = {("AbleToScale", "FailedGetScale"), ("AbleToScale", "FailedUpdateScale"),
                ("ScalingActive", "FailedGetResourceMetric"), ("ScalingActive", "FailedGetObjectMetric"),
                ("ScalingActive", "FailedGetPodsMetric"), ("ScalingActive", "FailedGetExternalMetric"),
                ("ScalingActive", "FailedComputeMetricsReplicas"), ("ScalingActive", "InvalidSelector")}


def _hpa(obj: dict):
    conditions = _conditions(obj)
    for condition in conditions:  # every degraded state first (v3.5.0+)
        if (condition["type"], condition.get("reason")) in HPA_DEGRADED:
            return "Degraded", condition.get("message", condition["reason"])
    for condition in conditions:
        if condition["type"] in ("AbleToScale", "ScalingLimited") and condition["status"] == "True":
            return "Healthy", ""
    return "Progressing", "Waiting to Autoscale"


def _rollout(obj: dict):
    """resource_customizations/argoproj.io/Rollout/health.lua (Lua's ``tonumber`` reads the string
    observedGeneration)."""
    status, spec = obj.get("status"), obj["spec"]
    if status is None:
        return "Progressing", "Waiting for rollout spec update to be observed"
    try:
        observed = int(status.get("observedGeneration"))
    except (TypeError, ValueError):
        observed = None  # a v0.9 Rollout: nothing to compare
    if observed is not None and observed < obj["metadata"]["generation"]:
        return "Progressing", "Waiting for rollout spec update to be observed"
    if status.get("phase") is not None:
        return ("Suspended" if status["phase"] == "Paused" else status["phase"]), status.get("message", "")
    for condition in status.get("conditions", []):
        if condition["type"] == "InvalidSpec" or (condition["type"] == "Progressing" and condition.get("reason") in (
                "RolloutAborted", "ProgressDeadlineExceeded")):
            return "Degraded", condition.get("message", "")
    if status.get("pauseConditions") or spec.get("paused"):
        return "Suspended", "Rollout is paused"
    if status.get("currentPodHash") is None:
        return "Progressing", "status has not been reconciled"
    desired = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    if updated < desired or status.get("availableReplicas", 0) < updated:
        return "Progressing", "Waiting for roll out to finish"
    if "blueGreen" in spec.get("strategy", {}):
        if (status.get("blueGreen") or {}).get("activeSelector") != status["currentPodHash"]:
            return "Progressing", "active service cutover pending"
        if status.get("stableRS") and status["stableRS"] != status["currentPodHash"]:
            return "Progressing", "waiting for analysis to complete"
    return "Healthy", ""


def _cronjob(obj: dict):
    """resource_customizations/batch/CronJob/health.lua."""
    if obj["spec"].get("suspend") is True:
        return "Healthy", "CronJob is Suspended"
    status = obj.get("status")
    if status is None:
        return "Progressing", "Waiting for CronJob"
    scheduled, succeeded = status.get("lastScheduleTime"), status.get("lastSuccessfulTime")
    if scheduled is not None and succeeded is not None and not status.get("active") and succeeded < scheduled:
        return "Degraded", "CronJob has not completed its last execution successfully"
    return "Healthy", ""


def _external_secret(obj: dict):
    """resource_customizations/external-secrets.io/ExternalSecret/health.lua: the first Ready
    condition decides (False: Degraded, True: Healthy); none yet: Progressing."""
    for condition in _conditions(obj):
        if condition["type"] == "Ready" and condition["status"] in ("True", "False"):
            return ("Healthy" if condition["status"] == "True" else "Degraded"), condition.get("message", "")
    return "Progressing", "Waiting for ExternalSecret"


def _certificate(obj: dict):
    """resource_customizations/cert-manager.io/Certificate/health.lua: Issuing True is Progressing; then
    Ready False is Degraded, Ready True Healthy; neither yet: Progressing."""
    conditions = _conditions(obj)
    if any(c["type"] == "Issuing" and c["status"] == "True" for c in conditions):
        return "Progressing", ""
    for condition in conditions:
        if condition["type"] == "Ready" and condition["status"] in ("True", "False"):
            return ("Healthy" if condition["status"] == "True" else "Degraded"), condition.get("message", "")
    return "Progressing", "Waiting for certificate"


HEALTH = {("apps", "Deployment"): _deployment, ("apps", "StatefulSet"): _statefulset, ("batch", "Job"): _job,
          ("", "PersistentVolumeClaim"): _claim, ("", "Service"): _service,
          ("networking.k8s.io", "Ingress"): _ingress, ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
          ("argoproj.io", "Rollout"): _rollout, ("batch", "CronJob"): _cronjob,
          ("external-secrets.io", "ExternalSecret"): _external_secret, ("cert-manager.io", "Certificate"): _certificate}


def health(obj: dict) -> tuple[str, str] | None:
    """(status, message), or None for a kind Argo CD has no health check for."""
    if obj["metadata"].get("deletionTimestamp"):
        return "Progressing", "Pending deletion"
    check = HEALTH.get((group_of(obj), obj["kind"]))
    return check(obj) if check else None


# --- projects ----------------------------------------------------------------------------------

def permitted(project: dict, obj: dict, namespace: str) -> bool:
    spec = project["spec"]
    gk = (group_of(obj), obj["kind"])

    def listed(entries, name_too=False):
        return any(fnmatch.fnmatchcase(gk[1], e["kind"]) and fnmatch.fnmatchcase(gk[0], e["group"])
                   and (not name_too or not e.get("name") or fnmatch.fnmatchcase(obj["metadata"]["name"], e["name"]))
                   for e in entries or [])
    if namespaced(obj):
        whitelist = spec.get("namespaceResourceWhitelist")
        allowed = whitelist is None or listed(whitelist)
        allowed = allowed and not listed(spec.get("namespaceResourceBlacklist"))
        return allowed and destination_permitted(project, namespace)
    return listed(spec.get("clusterResourceWhitelist"), True) and not listed(spec.get("clusterResourceBlacklist"), True)


def destination_permitted(project: dict, namespace: str, server: str = "https://kubernetes.default.svc") -> bool:
    return any(fnmatch.fnmatchcase(namespace, d.get("namespace", "*"))
               and fnmatch.fnmatchcase(server, d.get("server", "*")) for d in project["spec"].get("destinations", []))


# --- diff --------------------------------------------------------------------------------------

def _remarshal(obj: dict) -> dict:
    return openapi.canonical_quantities(obj, openapi.schema_of(obj)) if openapi.is_builtin(obj) else obj


def _ignored(app: dict, obj: dict) -> list[str]:
    pointers = []
    for rule in app["spec"].get("ignoreDifferences", []):
        if rule.get("kind") == obj["kind"] and rule.get("group", "") == group_of(obj) \
                and rule.get("name", obj["metadata"]["name"]) == obj["metadata"]["name"]:
            pointers += rule.get("jsonPointers", [])
    return pointers


def _drop(obj: dict, pointer: str) -> None:
    *parents, last = pointer.strip("/").split("/")
    for part in parents:
        obj = obj.get(part, {}) if isinstance(obj, dict) else {}
    if isinstance(obj, dict):
        obj.pop(last, None)


def diff(cluster: Cluster, obj: dict, app: dict) -> list[str]:
    """The paths where git and live differ under the structured-merge diff ([] = Synced)."""
    desired = _with_namespace(obj, app)
    live = cluster.get(desired)
    if live is None:
        return ["(missing)"]
    node = openapi.schema_of(desired)
    live = _remarshal(copy_json(live))
    predicted = openapi.merge(live, _remarshal(copy_json(desired)), node)
    if openapi.is_builtin(desired):
        predicted, live = scheme_defaults(predicted), scheme_defaults(live)
    for pointer in _ignored(app, desired):
        _drop(predicted, pointer)
        _drop(live, pointer)
    return openapi.differences(predicted, live, node)


def _with_namespace(obj: dict, app: dict) -> dict:
    if namespaced(obj) and "namespace" not in obj["metadata"]:
        obj = copy_json(obj)
        obj["metadata"]["namespace"] = app["spec"]["destination"].get("namespace", "default")
    return obj


# --- sync --------------------------------------------------------------------------------------

@dataclass
class SyncResult:
    phase: str  # Succeeded | Failed | Running (never finished: Argo CD has no sync timeout)
    message: str
    seconds: int
    waves: list[tuple[tuple, list[str]]] = field(default_factory=list)
    """(phase index, wave) → names applied, in order."""

    def __str__(self) -> str:
        return f"{self.phase} after {self.seconds}s: {self.message}"


def _name(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _customised(cluster: Cluster) -> set[tuple[str, str]]:
    """(group, kind) of every health check in the live argocd-cm."""
    config = cluster.get(("", "ConfigMap", "argocd", "argocd-cm")) or {}
    prefix = "resource.customizations.health."
    return {tuple(key[len(prefix):].rpartition("_")[::2]) for key in config.get("data", {}) if key.startswith(prefix)}


def _task_state(task: dict, live: dict | None) -> str:
    """Succeeded, Failed or Running, from the live object's health (``getOperationPhase`` for hooks)."""
    if live is None:
        return "Failed: Missing (it might have been deleted)"
    assessed = health(live)
    if assessed is None or assessed[0] == "Healthy":
        return "Succeeded"
    if assessed[0] == "Degraded" or (is_hook(task) and assessed[0] == "Unknown"):
        return f"Failed: {assessed[0]} ({assessed[1]})"
    return f"Running: {assessed[0]} ({assessed[1]})"


def sync(cluster: Cluster, app: dict, objects: list[dict], project: dict, *, timeout: int = 3600,
         wait: bool = True) -> SyncResult:
    """One sync operation of ``app`` over ``objects``. ``wait=False`` applies every wave without
    waiting for health (used to reach the live state a diff is measured on)."""
    start = cluster.now
    objects = [_with_namespace(o, app) for o in objects]
    for obj in objects:
        if not permitted(project, obj, obj["metadata"].get("namespace", "")):
            return SyncResult("Failed", f"{group_of(obj)}/{_name(obj)} is not permitted in project "
                                        f"{project['metadata']['name']}", 0)
    multi_step = len({sort_key(o)[:2] for o in objects}) > 1  # over every task, before any is filtered out
    last = max((sort_key(o)[:2] for o in objects), default=None)
    unknown = [_name(o) for o in objects if (group_of(o), o["kind"]) in _customised(cluster)
               and (sort_key(o)[:2] != last or is_hook(o))]
    if unknown and wait:
        return SyncResult("Failed", f"argocd-cm customises the health of {unknown} with Lua, which this model "
                                    "does not evaluate", 0)
    out_of_sync_only = app_option(app, "ApplyOutOfSyncOnly") == "true"
    tasks = sorted((o for o in objects if is_hook(o) or not out_of_sync_only or diff(cluster, o, app)), key=sort_key)
    result = SyncResult("Running", "", 0)
    pending, running, states = list(tasks), [], {}
    while True:
        for task in running if wait else []:  # a task's result is final once it succeeded or failed
            if states.get(_name(task), "Running").startswith("Running"):
                states[_name(task)] = _task_state(task, cluster.get(task))
        waiting = {n: s for n, s in states.items() if s.startswith("Running")}
        failed = {n: s for n, s in states.items() if s.startswith("Failed")}
        if waiting and (multi_step or any(is_hook(t) for t in running)):
            if cluster.now - start >= timeout:
                result.phase, result.message = "Running", f"still waiting for {waiting}" + (
                    f"; already failed: {failed}" if failed else "")
                break
            cluster.tick()
            continue
        if failed:
            result.phase = "Failed"
            result.message = f"one or more synchronization tasks completed unsuccessfully: {failed}"
            break
        if not pending:
            result.phase, result.message = "Succeeded", "successfully synced (no more tasks)"
            break
        step = sort_key(pending[0])[:2]
        running = [t for t in pending if sort_key(t)[:2] == step]
        pending = pending[len(running):]
        try:
            for task in running:
                if is_hook(task):  # BeforeHookCreation
                    cluster.delete(key_of(task))
                cluster.apply(task)
        except ApplyError as error:
            result.phase, result.message = "Failed", f"one or more objects failed to apply: {error}"
            break
        result.waves.append((step, [_name(t) for t in running]))
        if not pending and not any(is_hook(t) for t in running):
            result.phase, result.message = "Succeeded", "successfully synced (all tasks run)"
            break
        cluster.tick()
    result.seconds = cluster.now - start
    return result


# --- the app-of-apps -----------------------------------------------------------------------------

def project_of(cluster: Cluster, app: dict) -> dict | None:
    name = app["spec"].get("project", "default")
    live = cluster.get(("argoproj.io", "AppProject", app["metadata"]["namespace"], name))
    return live or (DEFAULT_PROJECT if name == "default" else None)


def first_sync(cluster: Cluster, tree: Tree, environment: str, *, timeout: int = 3600,
               wait: bool = True) -> dict[str, SyncResult]:
    """Bootstrapping as the README says: ``kubectl apply`` of what ``dist/gitops/<env>/argocd/`` holds
    at its top level (the root Application), then each Application syncs in turn, in creation order,
    once its AppProject exists and allows its repository and destination (a manual sync in prod is
    started by hand here)."""
    top = f"dist/gitops/{environment}/argocd/"
    results: dict[str, SyncResult] = {}
    for path, docs in tree.items():
        if path.startswith(top) and "/" not in path[len(top):]:
            for doc in docs:
                try:
                    cluster.apply(doc)
                except ApplyError as error:  # kubectl goes on with the other files, then exits 1
                    results[f"kubectl apply {path}"] = SyncResult("Failed", str(error), 0)
    while True:
        apps = [a for a in cluster.of_kind("argoproj.io", "Application") if a["metadata"]["name"] not in results]
        if not apps:
            return results
        app = min(apps, key=lambda a: int(a["metadata"]["uid"].rpartition("-")[2]))  # the oldest first
        name, project = app["metadata"]["name"], project_of(cluster, app)
        source = app["spec"]["source"]
        if project is None:
            results[name] = SyncResult("Failed", f"AppProject {app['spec'].get('project')} does not exist", 0)
        elif not any(fnmatch.fnmatchcase(source["repoURL"], r) for r in project["spec"].get("sourceRepos", [])) \
                or not destination_permitted(project, app["spec"]["destination"].get("namespace", "")):
            results[name] = SyncResult("Failed", f"source or destination not permitted by "
                                                 f"{project['metadata']['name']}", 0)
        else:
            results[name] = sync(cluster, app, argocd_directory(tree, source), project, timeout=timeout, wait=wait)


def would_prune(app: dict, obj: dict) -> bool:
    """Is ``obj`` deleted when it leaves git (automated prune or a sync with prune)?"""
    value = option(obj, "Prune") or app_option(app, "Prune")
    return value != "false"


def would_delete(app: dict, obj: dict) -> bool:
    """Is ``obj`` deleted by a cascading delete of ``app`` (``shouldBeDeleted``)?"""
    value = option(obj, "Delete")
    if value is None:
        value = app_option(app, "Delete")
    keep = "keep" in annotations(obj).get("helm.sh/resource-policy", "")
    return obj["kind"] != "CustomResourceDefinition" and value != "false" and not keep
