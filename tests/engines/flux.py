"""Flux: kustomize-controller's reconcile loop, kstatus health and what a delete removes.

Sources read: fluxcd/kustomize-controller at 186fb3b (internal/controller/kustomization_controller.go,
api/v1/kustomization_types.go), fluxcd/pkg at e2cfd1a (ssa/manager_apply.go, manager_wait.go,
manager_diff.go, manager_delete.go, utils/meta.go; runtime/cel/status_evaluator.go;
runtime/statusreaders/job.go; kustomize/kustomize_generator.go) and kubernetes-sigs/cli-utils at
5895ad6 (pkg/kstatus/status/{status,generic,core}.go).

* A Kustomization reconciles when every ``dependsOn`` entry exists, is Ready, has observed its
  generation and applied the current source revision (``checkDependencies``), its source exists
  and, with ``spec.serviceAccountName``, that ServiceAccount exists to impersonate. Impersonating
  it, every request must pass RBAC (``rbac.authorized``): an apply needs ``get`` and ``patch``
  (server-side apply is a PATCH), plus ``create`` when the object is new; a prune or a forced
  re-creation needs ``delete``. (These are the verbs every apply certainly uses; the ``list``/``watch``
  of the health poller are not checked.) Creating or updating a role or a binding also passes
  Kubernetes escalation prevention (``escalation_allowed``): ``escalate`` on the role or ``bind`` on
  the bound role, by name, or every right it grants held already.
* It builds ``spec.path`` (``source.kustomize_build``) and applies all of it at once by server-side
  apply, in stages: Namespaces, CRDs and ClusterRoles first, then everything else
  (``ApplyAllStaged``); an object with ``kustomize.toolkit.fluxcd.io/force: enabled`` whose update is
  refused as immutable is deleted and created again. Objects of the previous inventory that are no
  longer built are pruned (``spec.prune``), except those labelled or annotated
  ``kustomize.toolkit.fluxcd.io/prune: disabled`` (``deleteObjects`` exclusions, ``AnyInMetadata``).
* With ``wait: true`` every applied object must become Current: polled at once, then every 5 s
  (cli-utils ``statusPollerRunner.Run``), until all are Current (Ready), only Current and Failed
  remain (failed early) or ``spec.timeout`` passes (``WaitForSetWithContext``); a failed
  Kustomization is retried after ``retryInterval``.
* Health: a kind named in ``healthCheckExprs`` is judged by its CEL expressions after an integer
  ``status.observedGeneration`` check (a string one, as a Rollout has, is skipped:
  ``StatusEvaluator.Evaluate``), in the order inProgress, failed, current, else InProgress; an
  evaluation error is Unknown. A Job is Current once Complete and Failed once Failed
  (``statusreaders/job.go``). Everything else follows kstatus ``Compute``: the generation check,
  Reconciling/Stalled conditions, the per-kind rules (Deployment, StatefulSet, PVC, Service, PDB,
  CronJob, ConfigMap), a Ready condition, and Current for a kind with none of these (HPA, Ingress,
  Namespace, NetworkPolicy...).
* Deleting a Kustomization deletes its inventory when ``deletionPolicy`` is Delete or
  WaitForTermination, or MirrorPrune (the default) with ``prune: true``; never with Orphan
  (``finalizerShouldDeleteResources``); the prune exclusions apply there too.
"""

import re
from dataclasses import dataclass, field

from floe.rendered import copy_json
from tests.engines import cel
from tests.engines.apiserver import ApplyError, Cluster, Key, annotations, group_of, key_of, labels
from tests.engines.source import BuildError, Tree, kustomize_build

GROUP = "kustomize.toolkit.fluxcd.io"
EXCLUSIONS = {f"{GROUP}/prune": "disabled", f"{GROUP}/reconcile": "disabled", f"{GROUP}/ssa": "ignore"}


def seconds(duration: str) -> int:
    """A Go duration (``15m``, ``1h30m``, ``30s``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


# --- health ------------------------------------------------------------------------------------

def _conditions(obj: dict) -> list[dict]:
    return (obj.get("status") or {}).get("conditions", [])


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _evaluate_exprs(obj: dict, check: dict) -> tuple[str, str]:
    generation = obj["metadata"].get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if _int(observed) and _int(generation) and observed != generation:
        return "InProgress", f"generation {generation}, observed {observed}"
    for key, status in (("inProgress", "InProgress"), ("failed", "Failed"), ("current", "Current")):
        if check.get(key):
            try:
                value = cel.evaluate(check[key], obj)
            except cel.CelError as error:
                return "Unknown", f"failed to evaluate the CEL expression '{check[key]}': {error}"
            if value is True:
                return status, check[key]
    return "InProgress", "no expression matched"


def _job(obj: dict) -> tuple[str, str]:
    if obj["spec"].get("suspend") is True:
        return "Current", "Job is suspended"
    for condition in _conditions(obj):
        if condition["type"] == "Complete" and condition["status"] == "True":
            return "Current", "Job Completed"
        if condition["type"] == "Failed" and condition["status"] == "True":
            return "Failed", "Job Failed"
    return "InProgress", "Job in progress"


def _deployment(obj: dict) -> tuple[str, str]:
    spec, status = obj["spec"], obj.get("status", {})
    progressing = "progressDeadlineSeconds" not in spec
    available = False
    for condition in _conditions(obj):
        if condition["type"] == "Progressing":
            if condition.get("reason") == "ProgressDeadlineExceeded":
                return "Failed", "Progress deadline exceeded"
            progressing |= condition["status"] == "True" and condition.get("reason") == "NewReplicaSetAvailable"
        if condition["type"] == "Available" and condition["status"] == "True":
            available = True
    want = spec.get("replicas", 1)
    replicas, updated = status.get("replicas", 0), status.get("updatedReplicas", 0)
    if want > replicas or want > updated or replicas > want or updated > status.get("availableReplicas", 0) \
            or want > status.get("readyReplicas", 0):
        return "InProgress", f"Ready: {status.get('readyReplicas', 0)}/{want}"
    if not progressing:
        return "InProgress", "ReplicaSet not Available"
    return ("Current", "Deployment is available") if available else ("InProgress", "Deployment not Available")


def _statefulset(obj: dict) -> tuple[str, str]:
    spec, status = obj["spec"], obj.get("status", {})
    if spec.get("updateStrategy", {}).get("type") == "OnDelete":
        return "Current", "ondelete update strategy"
    want = spec.get("replicas", 1)
    if want > status.get("replicas", 0) or want > status.get("readyReplicas", 0) or status.get("replicas", 0) > want:
        return "InProgress", f"Ready: {status.get('readyReplicas', 0)}/{want}"
    partition = spec.get("updateStrategy", {}).get("rollingUpdate", {}).get("partition", -1)
    if partition != -1:
        if status.get("updatedReplicas", 0) < want - partition:
            return "InProgress", "partitioned roll out"
        return "Current", "Partition rollout complete"
    if want > status.get("currentReplicas", 0) or status.get("currentRevision") != status.get("updateRevision"):
        return "InProgress", "Waiting for updated revision to match current"
    return "Current", "All replicas scheduled as expected"


LEGACY = {
    ("", "Service"): lambda o: ("InProgress", "ClusterIP not set") if o["spec"].get("type") == "LoadBalancer"
    and not o["spec"].get("clusterIP") else ("Current", "Service is ready"),
    ("", "PersistentVolumeClaim"): lambda o: ("Current", "PVC is Bound") if o.get("status", {}).get("phase") == "Bound"
    else ("InProgress", f"PVC is not Bound. phase: {o.get('status', {}).get('phase')}"),
    ("apps", "Deployment"): _deployment, ("apps", "StatefulSet"): _statefulset,
    ("policy", "PodDisruptionBudget"): lambda o: ("Current", ""), ("batch", "CronJob"): lambda o: ("Current", ""),
    ("", "ConfigMap"): lambda o: ("Current", ""), ("", "Secret"): lambda o: ("Current", ""),
}


def kstatus(obj: dict | None, health_checks: list[dict]) -> tuple[str, str]:
    """(status, message): Current, InProgress, Failed, Unknown, NotFound or Terminating."""
    if obj is None:
        return "NotFound", ""
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating", ""
    group_kind = (group_of(obj), obj["kind"])
    for check in health_checks:
        if check["apiVersion"].rpartition("/")[0] == group_kind[0] and check.get("kind") in (None, "", obj["kind"]):
            return _evaluate_exprs(obj, check)
    if group_kind == ("batch", "Job"):
        return _job(obj)
    generation, observed = obj["metadata"].get("generation"), (obj.get("status") or {}).get("observedGeneration")
    if observed is not None:
        if not _int(observed):  # unstructured.NestedInt64 fails: kstatus cannot read the object
            return "Unknown", f"status.observedGeneration is a {type(observed).__name__}"
        if generation is not None and observed != generation:
            return "InProgress", "LatestGenerationNotObserved"
    for condition in _conditions(obj):
        if condition["type"] == "Reconciling" and condition["status"] == "True":
            return "InProgress", condition.get("message", "")
        if condition["type"] == "Stalled" and condition["status"] == "True":
            return "Failed", condition.get("message", "")
    if group_kind in LEGACY:
        return LEGACY[group_kind](obj)
    for condition in _conditions(obj):
        if condition["type"] == "Ready":
            return ("Current", "Resource is Ready") if condition["status"] == "True" else ("InProgress", "not Ready")
    return "Current", "Resource is current"


# --- deletion ----------------------------------------------------------------------------------

def excluded(obj: dict) -> bool:
    """``AnyInMetadata``: a label or an annotation with the exclusion's value, case-insensitive."""
    metadata = {**labels(obj), **annotations(obj)}
    return any(str(metadata.get(k, "")).lower() == v for k, v in EXCLUSIONS.items() if metadata.get(k))


def would_prune(kustomization: dict, obj: dict) -> bool:
    return bool(kustomization["spec"].get("prune")) and not excluded(obj)


def deletes_inventory(kustomization: dict) -> bool:
    spec = kustomization["spec"]
    if spec.get("suspend"):
        return False
    policy = spec.get("deletionPolicy") or "MirrorPrune"
    return {"MirrorPrune": bool(spec.get("prune")), "Delete": True, "WaitForTermination": True}.get(policy, False)


def would_delete(kustomization: dict, obj: dict) -> bool:
    return deletes_inventory(kustomization) and not excluded(obj)


# --- RBAC --------------------------------------------------------------------------------------

RBAC = "rbac.authorization.k8s.io"


def plural(kind: str) -> str:
    """The resource name of a kind (the default lower-case plural: policy → policies, ingress → ingresses)."""
    lower = kind.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + "es" if lower.endswith("s") else lower + "s"


def authorized(cluster: Cluster, account: tuple[str, str], verb: str, obj: dict) -> bool:
    """The RBAC authorizer (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac) on ``verb`` of ``obj``."""
    group, kind, namespace, name = key_of(obj)
    return allowed(cluster, account, verb, group, plural(kind), namespace, name)


def allowed(cluster: Cluster, account: tuple[str, str], verb: str, group: str, resource: str, namespace: str,
            name: str | None) -> bool:
    """Some rule of a ClusterRole bound by a ClusterRoleBinding, or of a Role or ClusterRole bound by a
    RoleBinding in ``namespace``, to the ServiceAccount ``(namespace, name)`` names the verb, the API
    group, the resource and, when it lists ``resourceNames``, ``name`` (a request without a name,
    None, passes no rule that lists names)."""

    def binds(binding: dict) -> bool:
        return any(s.get("kind") == "ServiceAccount" and (s.get("namespace"), s["name"]) == account
                   for s in binding.get("subjects") or [])

    def allows(values: list, value: str) -> bool:
        return "*" in values or value in values

    bindings = [(b, "") for b in cluster.of_kind(RBAC, "ClusterRoleBinding") if binds(b)]
    if namespace:
        bindings += [(b, namespace) for b in cluster.of_kind(RBAC, "RoleBinding")
                     if b["metadata"]["namespace"] == namespace and binds(b)]
    for binding, scope in bindings:
        ref = binding["roleRef"]
        role = cluster.get((RBAC, ref["kind"], scope if ref["kind"] == "Role" else "", ref["name"])) or {}
        for rule in role.get("rules") or []:
            if allows(rule.get("verbs", []), verb) and allows(rule.get("apiGroups", []), group) \
                    and allows(rule.get("resources", []), resource) \
                    and (not rule.get("resourceNames") or name in rule["resourceNames"]):
                return True
    return False


def holds(cluster: Cluster, account: tuple[str, str], rules: list[dict], namespace: str) -> bool:
    """Whether the account holds every right of ``rules`` in ``namespace`` ("" for cluster-wide)."""
    return all(allowed(cluster, account, verb, group, resource, namespace, name)
               for rule in rules for verb in rule.get("verbs", []) for group in rule.get("apiGroups", [])
               for resource in rule.get("resources", []) for name in rule.get("resourceNames") or [None])


def escalation_allowed(cluster: Cluster, account: tuple[str, str], obj: dict) -> str:
    """Kubernetes escalation prevention (pkg/registry/rbac: role and binding storage, escalation_check.go),
    checked on every create and update of a role or binding: a Role or ClusterRole only with
    ``escalate`` on it or every right in it; a binding only with ``bind`` on its role (in the
    binding's namespace) or every right of that role. Returns what is missing, "" when allowed."""
    group, kind, namespace, name = key_of(obj)
    if group != RBAC or kind not in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
        return ""
    if kind in ("Role", "ClusterRole"):
        if allowed(cluster, account, "escalate", RBAC, plural(kind), namespace, name) \
                or holds(cluster, account, obj.get("rules") or [], namespace):
            return ""
        return f"escalate on {plural(kind)} {name!r}"
    ref = obj["roleRef"]
    if allowed(cluster, account, "bind", RBAC, plural(ref["kind"]), namespace, ref["name"]):
        return ""
    role = cluster.get((RBAC, ref["kind"], namespace if ref["kind"] == "Role" else "", ref["name"]))
    if role is not None and holds(cluster, account, role.get("rules") or [], namespace):
        return ""
    return f"bind on {plural(ref['kind'])} {ref['name']!r}"


# --- the controller ----------------------------------------------------------------------------

@dataclass
class State:
    phase: str = "Pending"  # Pending | Waiting | Ready | Failed
    message: str = ""
    revision: int = 0
    inventory: list[Key] = field(default_factory=list)
    deadline: int = 0
    retry_at: int = 0


def _snapshot(obj: dict | None) -> dict | None:
    """What a health verdict read: kind, name, generation and a copy of the status."""
    if obj is None:
        return None
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "status": copy_json(obj.get("status", {})),
            "metadata": {"name": obj["metadata"]["name"], "generation": obj["metadata"].get("generation")}}


@dataclass
class ReadyEvent:
    """A Kustomization turned Ready: when, at which revision, and what the objects it judged showed."""
    name: str
    time: int
    revision: int
    objects: list[dict]


class Flux:
    def __init__(self, cluster: Cluster, tree: Tree, environment: str) -> None:
        self.cluster, self.tree, self.environment = cluster, tree, environment
        self.revision = 1
        self.states: dict[str, State] = {}
        self.actions: list[tuple[int, str, Key, str]] = []
        self.ready_events: list[ReadyEvent] = []
        self.bootstrap_errors: list[str] = []

    def bootstrap(self) -> None:
        """``kubectl apply -f dist/gitops/<env>/flux/`` (the README): the folder's own files, not sub-folders."""
        top = f"dist/gitops/{self.environment}/flux/"
        for path, docs in self.tree.items():
            if path.startswith(top) and "/" not in path[len(top):]:
                for doc in docs:
                    try:
                        self.cluster.apply(doc)
                    except ApplyError as error:  # kubectl goes on with the other files, then exits 1
                        self.bootstrap_errors.append(f"{path}: {error}")

    def kustomizations(self) -> list[dict]:
        return self.cluster.of_kind(GROUP, "Kustomization")

    def new_revision(self, tree: Tree | None = None) -> None:
        """A new commit: every Kustomization reconciles again."""
        self.tree = tree if tree is not None else self.tree
        self.revision += 1

    def run(self, limit: int = 3 * 3600) -> dict[str, State]:
        """Reconcile until every Kustomization is Ready at the current revision, or ``limit`` seconds pass."""
        end = self.cluster.now + limit
        while True:
            for kustomization in self.kustomizations():
                self._reconcile(kustomization)
            if all(self.states.get(k["metadata"]["name"], State()).phase == "Ready"
                   and self.states[k["metadata"]["name"]].revision == self.revision for k in self.kustomizations()):
                return self.states
            if self.cluster.now >= end:
                return self.states
            self.cluster.tick()

    def _reconcile(self, kustomization: dict) -> None:
        name, spec = kustomization["metadata"]["name"], kustomization["spec"]
        state = self.states.setdefault(name, State())
        if spec.get("suspend"):
            state.message = "suspended"
            return None
        if state.phase == "Waiting":
            return self._check_health(kustomization, state)
        if (state.phase == "Ready" and state.revision == self.revision) or \
                (state.phase == "Failed" and state.revision == self.revision and self.cluster.now < state.retry_at):
            return None
        blocker = self._blocker(kustomization)
        if blocker:
            state.message = blocker
            return None
        try:
            objects = kustomize_build(self.tree, spec["path"])
            keys = self._apply(kustomization, objects)
            for stale in set(state.inventory) - set(keys) if spec.get("prune") else ():
                live = self.cluster.get(stale)
                if live is not None and not excluded(live):
                    self._allow(kustomization, "delete", live)
                    self.cluster.delete(stale)
        except (BuildError, ApplyError) as error:
            return self._fail(kustomization, state, str(error))
        state.inventory, state.revision = keys, self.revision
        if not spec.get("wait") and not spec.get("healthChecks"):
            return self._ready(kustomization, state)
        state.phase, state.message = "Waiting", "running health checks"
        state.deadline = self.cluster.now + seconds(spec.get("timeout") or spec["interval"])
        return self._check_health(kustomization, state)

    def _blocker(self, kustomization: dict) -> str:
        spec, namespace = kustomization["spec"], kustomization["metadata"]["namespace"]
        for dependency in spec.get("dependsOn", []):
            dep = self.cluster.get((GROUP, "Kustomization", dependency.get("namespace", namespace), dependency["name"]))
            if dep is None:
                return f"dependency '{dependency['name']}' not found"
            status = dep.get("status", {})
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
            if not ready or status.get("observedGeneration") != dep["metadata"]["generation"] \
                    or status.get("lastAppliedRevision") != self.revision:
                return f"dependency '{dependency['name']}' is not ready"
        ref = spec["sourceRef"]
        source = ("source.toolkit.fluxcd.io", ref["kind"], ref.get("namespace", namespace), ref["name"])
        if self.cluster.get(source) is None:
            return f"source '{ref['kind']}/{ref['name']}' not found"
        account = spec.get("serviceAccountName")
        if account and self.cluster.get(("", "ServiceAccount", namespace, account)) is None:
            return f"ServiceAccount '{account}' not found: cannot impersonate"
        return ""

    def _allow(self, kustomization: dict, verb: str, obj: dict) -> None:
        account = kustomization["spec"].get("serviceAccountName")
        subject = (kustomization["metadata"]["namespace"], account)
        if account and verb in ("create", "patch") and escalation_allowed(self.cluster, subject, obj):
            raise ApplyError(f'{obj["kind"]} "{obj["metadata"]["name"]}" is forbidden: User "system:serviceaccount:'
                             f'{subject[0]}:{account}" is attempting to grant RBAC permissions not currently held '
                             f'(no {escalation_allowed(self.cluster, subject, obj)})')
        if account and not authorized(self.cluster, subject, verb, obj):
            group, kind, namespace, name = key_of(obj)
            raise ApplyError(f'{kind} "{name}" is forbidden: User "system:serviceaccount:'
                             f'{kustomization["metadata"]["namespace"]}:{account}" cannot {verb} resource '
                             f'"{plural(kind)}" in API group "{group}" in the namespace "{namespace}"')

    def _apply(self, kustomization: dict, objects: list[dict]) -> list[Key]:
        name = kustomization["metadata"]["name"]
        first = [o for o in objects if o["kind"] in ("Namespace", "CustomResourceDefinition", "ClusterRole")]
        for obj in first + [o for o in objects if o not in first]:
            for verb in ("get", "patch") + (("create",) if self.cluster.get(obj) is None else ()):
                self._allow(kustomization, verb, obj)
            try:
                action = self.cluster.apply(obj)
            except ApplyError as error:
                if annotations(obj).get(f"{GROUP}/force") != "enabled" or "immutable" not in str(error):
                    raise
                self._allow(kustomization, "delete", obj)
                self.cluster.delete(key_of(obj))
                self.cluster.apply(obj)
                action = "replaced"
            self.actions.append((self.revision, name, key_of(obj), action))
        return [key_of(o) for o in objects]

    def _check_health(self, kustomization: dict, state: State) -> None:
        checks = kustomization["spec"].get("healthCheckExprs", [])
        own = key_of(kustomization)
        statuses = {key: kstatus(self.cluster.get(key), checks) for key in state.inventory if key != own}
        found = {s for s, _ in statuses.values()}
        if found <= {"Current"}:
            return self._ready(kustomization, state)
        if found <= {"Current", "Failed"}:
            return self._fail(kustomization, state, f"failed early due to stalled resources: "
                                                   f"{ {k[3]: s for k, s in statuses.items() if s[0] == 'Failed'} }")
        if self.cluster.now >= state.deadline:
            waiting = {f"{k[1]}/{k[3]}": s for k, s in statuses.items() if s[0] != "Current"}
            return self._fail(kustomization, state, f"timeout waiting for: {waiting}")
        return None

    def _set_status(self, kustomization: dict, ready: bool, message: str) -> None:
        live = self.cluster.get(key_of(kustomization))
        live["status"] = {"observedGeneration": live["metadata"]["generation"], "lastAppliedRevision": self.revision,
                          "conditions": [{"type": "Ready", "status": "True" if ready else "False", "message": message}]}

    def _ready(self, kustomization: dict, state: State) -> None:
        state.phase, state.message = "Ready", "Applied revision"
        self._set_status(kustomization, True, state.message)
        self.ready_events.append(ReadyEvent(kustomization["metadata"]["name"], self.cluster.now, self.revision,
                                            [_snapshot(self.cluster.get(k)) for k in state.inventory]))

    def _fail(self, kustomization: dict, state: State, message: str) -> None:
        state.phase, state.message, state.revision = "Failed", message, self.revision
        state.retry_at = self.cluster.now + seconds(kustomization["spec"].get("retryInterval")
                                                    or kustomization["spec"]["interval"])
        self._set_status(kustomization, False, message)
