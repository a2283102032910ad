"""Flux: a root Kustomization per environment that reconciles, from git, one Kustomization per step,
each applying with an identity of its own.

``dist/gitops/<env>/``:

- ``flux/``: the bootstrap, applied once by hand. The GitRepository, the root Kustomization
  ``floe-<env>`` and its identity (ServiceAccount, Role and ClusterRole with their bindings), which
  reconciles this whole folder with prune: itself, its identity, the GitRepository and
  ``flux/steps/``. A step that stops rendering loses its Kustomization, whose objects are pruned,
  and the next step's ``dependsOn`` moves.
- ``flux/steps/``: a Kustomization per step (``floe-<env>-<tier>-<step>``), chained by ``dependsOn`` in
  startup order, each with its ServiceAccount; the ClusterRole of the steps that run before the
  platform's namespaces exist; the access Kustomization ``floe-<env>-access`` and its identity.
- ``flux-access/<namespace>/``: the Roles of the step identities, applied by ``floe-<env>-access``
  right after the steps that create the namespaces they live in, and before every other step.

Every Kustomization applies as a ServiceAccount of its own. Every grant is derived from the rendered
objects of its Kustomization: exactly what it applies, in the namespaces it applies it to. What a
step may delete is wider on purpose (see :meth:`_Flux.clean_up`). The root and the access
Kustomization grant rights by ``escalate`` and ``bind`` on the roles they render, by name.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import cdk8s

from floe.config.environment import Environment
from floe.constructs.kube import Chart, k8s, rendered_in_python
from floe.constructs.metadata import FLUX_PRUNE
from floe.gitops.inventory import GroupKind, emittable_kinds, group_kind_of
from floe.imports.io.fluxcd.toolkit import kustomize, source
from floe.imports.io.fluxcd.toolkit.kustomize import (
    KustomizationSpec,
    KustomizationSpecDeletionPolicy,
    KustomizationSpecDependsOn,
    KustomizationSpecHealthCheckExprs,
    KustomizationSpecSourceRef,
    KustomizationSpecSourceRefKind,
)
from floe.imports.io.fluxcd.toolkit.source import (
    GitRepositorySpec,
    GitRepositorySpecRef,
    GitRepositorySpecSecretRef,
)
from floe.rendered import Json, JsonView
from floe.tiers import FINAL_WAVE, TIERS, Step, SyncStep

# Rendered in Python, as every object is (floe.constructs.kube), never in the jsii bridge.
GitRepository, Kustomization = rendered_in_python(source.GitRepository), rendered_in_python(kustomize.Kustomization)

ROOT_FOLDER = "flux"
STEPS_FOLDER = "flux/steps"
ACCESS_FOLDER = "flux-access"
RBAC_GROUP = "rbac.authorization.k8s.io"

KEEP = {FLUX_PRUNE: "disabled"}
"""What the root must never delete, even once it stops rendering it (kustomize-controller skips a
stale object with this annotation: ``deleteObjects`` in internal/controller/kustomization_controller.go):
the root itself, so that it never prunes itself (say, once renamed) and with itself the whole
platform; and the identities a step needs to clean up after itself when it is deleted, since its
finalizer impersonates its ServiceAccount and finds it gone otherwise (``finalize`` there: "unable
to prune objects", the objects are left behind)."""

APPLY = ("create", "get", "patch")
"""Server-side apply: a PATCH, which creates a missing object only if ``create`` is allowed on its
name too (kubernetes apiserver, endpoints/handlers/patch.go: createAuthorizerAttributes). ``get``
also serves the health checks, which read each applied object (fluxcd/cli-utils kstatus)."""
CLEAN_UP = ("delete", "get")
"""Pruning: fluxcd/pkg ssa/manager_delete.go reads each object (its labels and annotations decide)
before deleting it; recreating a Job (``kustomize.toolkit.fluxcd.io/force``) deletes it too."""
NEVER_DELETED = (GroupKind("", "Namespace", namespaced=False), GroupKind("", "PersistentVolumeClaim"))
"""Kinds that hold data: they carry ``kustomize.toolkit.fluxcd.io/prune: disabled`` and no Flux
identity may delete them either, so a missing annotation fails the prune instead of the data."""
GENERATED_READS = {"Deployment": (("apps", "replicasets"), ("", "pods")), "StatefulSet": (("", "pods"),)}
"""What the health check of a workload lists besides the object (fluxcd/cli-utils kstatus
statusreaders: a Deployment's ReplicaSets and their Pods, a StatefulSet's Pods)."""

ROLLOUT_HEALTH = KustomizationSpecHealthCheckExprs(
    api_version="argoproj.io/v1alpha1", kind="Rollout",
    in_progress="!has(status.observedGeneration) || status.observedGeneration != string(metadata.generation)",
    failed="status.phase == 'Degraded'",
    current="status.observedGeneration == string(metadata.generation) && status.phase == 'Healthy'",
)
"""kstatus cannot read an Argo Rollout, so Flux judges it by CEL (fluxcd/pkg runtime/cel, evaluated in
the order inProgress, failed, current; none true is in progress). Its built-in generation check
skips a non-integer ``status.observedGeneration``, and a Rollout's is a string (argo-rollouts
rollout/sync.go: ``strconv.Itoa(int(Generation))``): without the comparison here, the phase of the
previous spec would pass right after an apply. A Rollout paused for manual promotion stays in
progress, holding the next steps until it is promoted, as under Argo CD."""

EXTERNAL_SECRET_HEALTH = KustomizationSpecHealthCheckExprs(
    api_version="external-secrets.io/v1", kind="ExternalSecret",
    current="has(status.conditions) && status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
)
"""kstatus counts an ExternalSecret with no status yet as Current, so without this a step would be Ready
before the controller has written its Secrets and the next step's readers would start without them.
Ready only once its ``Ready`` condition is True (the Secret is written), as Argo CD's health.lua for the
kind says; until then, and on a store error, the step waits (to its timeout)."""
CERTIFICATE_HEALTH = KustomizationSpecHealthCheckExprs(
    api_version="cert-manager.io/v1", kind="Certificate",
    current="has(status.conditions) && status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')",
    failed="has(status.conditions) && status.conditions.exists(c, c.type == 'Ready' && c.status == 'False') "
           "&& !status.conditions.exists(c, c.type == 'Issuing' && c.status == 'True')",
)
"""As for an ExternalSecret: kstatus counts a Certificate with no status yet as Current, so the step would be Ready
before cert-manager has written the server's Secret. Ready once its ``Ready`` condition is True, failed when it is
False and no issuance is under way, as Argo CD's health.lua for the kind says."""
HEALTH_CHECKS = {"Rollout": ROLLOUT_HEALTH, "ExternalSecret": EXTERNAL_SECRET_HEALTH, "Certificate": CERTIFICATE_HEALTH}
"""The custom kinds kstatus cannot judge, by kind."""


def health_checks(objects: Sequence[JsonView]) -> list[KustomizationSpecHealthCheckExprs] | None:
    """The CEL checks of the custom kinds a step applies (None when it applies none)."""
    kinds = {obj["kind"] for obj in objects}
    return [check for kind, check in sorted(HEALTH_CHECKS.items()) if kind in kinds] or None


def source_name(environment: Environment) -> str:
    return f"floe-{environment.name}"


def root_name(environment: Environment) -> str:
    return f"floe-{environment.name}"


def access_name(environment: Environment) -> str:
    return f"floe-{environment.name}-access"


def step_name(environment: Environment, step: SyncStep) -> str:
    """The step's Kustomization, and the identity it applies with."""
    return f"floe-{environment.name}-{step.tier.name}-{step.name}"


def every_step_name(environment: Environment) -> list[str]:
    """Every identity a step of this environment can ever have (each tier's steps and final step)."""
    steps = [SyncStep(tier, wave) for tier in TIERS for wave in (*map(tier.wave_of, Step), FINAL_WAVE)]
    return [step_name(environment, step) for step in steps]


def render(app: cdk8s.App, environment: Environment, steps: Mapping[SyncStep, list[Json]]) -> dict[str, list[Json]]:
    """The Flux objects, keyed by their folder relative to ``dist/gitops/<env>/``.

    ``steps``: each step that rendered objects, in startup order, with its objects.
    """
    flux = _Flux(app, environment, steps)
    flux.source()
    flux.root()
    early = before_namespaces_exist(steps)
    previous = root_name(environment)
    for step in early:
        previous = flux.step(step, previous, by_name=True)
    previous = flux.access(previous)
    for step in [step for step in steps if step not in early]:
        previous = flux.step(step, previous, by_name=False)
    for namespace in sorted(o["metadata"]["name"] for o in flux.objects if o["kind"] == "Namespace"):
        flux.clean_up(namespace)
    access = [o for folder, chart in flux.charts.items() if folder.startswith(f"{ACCESS_FOLDER}/")
              for o in chart.to_json()]
    flux.wiring_identity(access_name(environment), access, STEPS_FOLDER, root=False)
    wiring = flux.chart(ROOT_FOLDER).to_json() + flux.chart(STEPS_FOLDER).to_json()
    flux.wiring_identity(root_name(environment), wiring, ROOT_FOLDER, root=True)
    return {folder: chart.to_json() for folder, chart in flux.charts.items()}


def before_namespaces_exist(steps: Mapping[SyncStep, list[Json]]) -> list[SyncStep]:
    """The steps up to the last one that creates a Namespace: no Role can exist in the platform's
    namespaces before they have run, so these steps get a ClusterRole instead (:meth:`_Flux.identity`)."""
    creating = [index for index, objects in enumerate(steps.values()) if any(o["kind"] == "Namespace" for o in objects)]
    return list(steps)[:creating[-1] + 1] if creating else []


def holds_state(objects: Iterable[JsonView]) -> bool:
    """Whether deleting the step's Kustomization would delete data with its objects (Flux's default
    deletion policy mirrors prune): a Namespace (everything in it, hand-made Secrets included), a
    claim, or a StatefulSet whose claims hold its data. Such a Kustomization orphans its objects."""
    return any(o["kind"] in ("Namespace", "PersistentVolumeClaim")
               or (o["kind"] == "StatefulSet" and o["spec"].get("volumeClaimTemplates")) for o in objects)


def flux_url(repository: str) -> str:
    """The repository as source-controller accepts it: an scp-like ``git@host:path`` (which the
    environment allows) becomes ``ssh://git@host/path``, the only ssh form its CRD admits."""
    if "://" in repository:
        return repository
    user_host, path = repository.split(":", 1)
    return f"ssh://{user_host}/{path}"


class _Flux:
    """The Flux objects of one environment, one chart per output folder."""

    def __init__(self, app: cdk8s.App, environment: Environment, steps: Mapping[SyncStep, list[Json]]) -> None:
        self.app, self.environment, self.steps = app, environment, steps
        self.objects = [obj for objects in steps.values() for obj in objects]
        self.roles = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in self.objects
                      if o["kind"] == "Role"}
        self.charts: dict[str, Chart] = {}
        self.namespace = environment.gitops.flux.namespace

    def chart(self, folder: str) -> Chart:
        if folder not in self.charts:
            self.charts[folder] = Chart(self.app, f"{self.environment.name}-{folder.replace('/', '-')}")
        return self.charts[folder]

    def path(self, folder: str) -> str:
        """A folder of ``dist/`` as a Kustomization's path in the repository."""
        return f"./{self.environment.gitops.path}/{folder}"

    def source(self) -> None:
        settings = self.environment.gitops
        secret = settings.flux.secret_ref
        GitRepository(
            self.chart(ROOT_FOLDER), "source",
            metadata=cdk8s.ApiObjectMetadata(name=source_name(self.environment), namespace=self.namespace),
            spec=GitRepositorySpec(url=flux_url(settings.repository), interval=settings.flux.interval,
                                   ref=GitRepositorySpecRef(branch=settings.revision),
                                   secret_ref=GitRepositorySpecSecretRef(name=secret) if secret else None),
        )

    def kustomization(self, folder: str, name: str, path: str, depends_on: str | None,
                      annotations: Mapping[str, str] | None = None, **spec: Any) -> str:
        """A Kustomization of the environment's repository, with prune (what leaves its folder is
        deleted from the cluster); returns its name, for the next one to depend on."""
        flux = self.environment.gitops.flux
        Kustomization(
            self.chart(folder), f"kustomization-{name}",
            metadata=cdk8s.ApiObjectMetadata(name=name, namespace=self.namespace, annotations=annotations),
            spec=KustomizationSpec(
                interval=flux.interval, retry_interval=flux.retry_interval, timeout=flux.timeout, path=path,
                prune=True,
                source_ref=KustomizationSpecSourceRef(kind=KustomizationSpecSourceRefKind.GIT_REPOSITORY,
                                                      name=source_name(self.environment)),
                depends_on=[KustomizationSpecDependsOn(name=depends_on)] if depends_on else None,
                **spec,
            ),
        )
        return name

    def root(self) -> None:
        """The root reconciles its own folder, itself included (as ``flux bootstrap`` does), so that its
        own spec and the GitRepository follow git too; it never prunes itself (:data:`KEEP`).

        It applies as its own identity (:meth:`wiring_identity`), which lies in the same folder, so the
        bootstrap creates it before the root first reconciles. It does not wait for what it applies:
        the steps depend on it, so waiting for them would never end.
        """
        self.kustomization(ROOT_FOLDER, root_name(self.environment),
                           self.path(f"gitops/{self.environment.name}/{ROOT_FOLDER}"), None, annotations=KEEP,
                           service_account_name=root_name(self.environment))

    def access(self, depends_on: str) -> str:
        """The Kustomization of the step identities' Roles: once their namespaces exist, before any
        step that needs them. It applies as its own identity, which the root applies."""
        return self.kustomization(STEPS_FOLDER, access_name(self.environment),
                                  self.path(f"gitops/{self.environment.name}/{ACCESS_FOLDER}"), depends_on, wait=True,
                                  service_account_name=access_name(self.environment))

    def step(self, step: SyncStep, depends_on: str, by_name: bool) -> str:
        """A step's Kustomization and its identity; returns its name, for the next step to depend on."""
        objects = self.steps[step]
        name = step_name(self.environment, step)
        self.identity(name, objects, by_name)
        return self.kustomization(
            STEPS_FOLDER, name, self.path(f"{self.environment.name}/{step.folder}"), depends_on,
            wait=True, service_account_name=name,
            deletion_policy=KustomizationSpecDeletionPolicy.ORPHAN if holds_state(objects) else None,
            health_check_exprs=health_checks(objects),
        )

    def identity(self, name: str, objects: list[Json], by_name: bool) -> None:
        """The step's ServiceAccount in the Flux namespace (kustomize-controller impersonates
        ``serviceAccountName`` in the Kustomization's own namespace) and what it may apply.

        Namespaced objects are granted by a Role in their namespace, which the access Kustomization
        applies before the step runs. A step that runs before the namespaces exist gets a ClusterRole
        instead (``by_name``), each rule limited to the names the step applies; so does any
        cluster-scoped object (a Namespace), which no Role can grant.
        """
        # Only impersonated: no pod runs as it, none needs its token.
        k8s.KubeServiceAccount(self.chart(STEPS_FOLDER), f"serviceaccount-{name}",
                               metadata=k8s.ObjectMeta(name=name, namespace=self.namespace, annotations=KEEP),
                               automount_service_account_token=False)
        subject = k8s.Subject(kind="ServiceAccount", name=name, namespace=self.namespace)
        cluster_wide = objects if by_name else [o for o in objects if "namespace" not in o["metadata"]]
        namespaced = [] if by_name else [o for o in objects if "namespace" in o["metadata"]]
        if cluster_wide:
            chart = self.chart(STEPS_FOLDER)
            k8s.KubeClusterRole(chart, f"clusterrole-{name}", metadata=k8s.ObjectMeta(name=name),
                                rules=policy_rules(self.grants(cluster_wide, by_name=True)))
            k8s.KubeClusterRoleBinding(chart, f"clusterrolebinding-{name}", metadata=k8s.ObjectMeta(name=name),
                                       role_ref=k8s.RoleRef(api_group=RBAC_GROUP, kind="ClusterRole", name=name),
                                       subjects=[subject])
        for namespace, members in by_namespace(namespaced).items():
            chart, metadata = self.chart(f"{ACCESS_FOLDER}/{namespace}"), k8s.ObjectMeta(name=name, namespace=namespace)
            k8s.KubeRole(chart, f"role-{name}", metadata=metadata,
                         rules=policy_rules(self.grants(members, by_name=False)))
            k8s.KubeRoleBinding(chart, f"rolebinding-{name}", metadata=metadata,
                                role_ref=k8s.RoleRef(api_group=RBAC_GROUP, kind="Role", name=name), subjects=[subject])

    def grants(self, objects: list[Json], by_name: bool) -> list[Json]:
        """What applying ``objects`` needs, derived from them alone: apply each kind (only the names
        applied, ``by_name``), list what a health check reads beside a workload, and hold every rule of
        a Role they create or bind (the API server lets an account grant only rights it holds itself)."""
        return self.applies(objects, by_name) + [
            held for key in sorted(self.bound_roles(objects)) for held in self.roles[key]["rules"]]

    @staticmethod
    def applies(objects: list[Json], by_name: bool) -> list[Json]:
        """What applying ``objects`` and judging their health needs: apply each kind (only the names
        applied, ``by_name``) and list what a health check reads beside a workload."""
        names: dict[GroupKind, set[str]] = defaultdict(set)
        for obj in objects:
            names[group_kind_of(obj)].add(obj["metadata"]["name"])
        rules = [rule(kind.group, resource_of(kind.kind), APPLY, sorted(found) if by_name else ())
                 for kind, found in sorted(names.items())]
        reads = sorted({read for obj in objects for read in GENERATED_READS.get(obj["kind"], ())})
        return rules + [rule(group, resource, ("list",)) for group, resource in reads]

    @staticmethod
    def bound_roles(objects: Iterable[Json]) -> set[tuple[str, str]]:
        """(namespace, name) of every Role among ``objects`` or bound by a RoleBinding among them (the
        platform binds no ClusterRole: that would need ``bind`` on it instead)."""
        return {(o["metadata"]["namespace"], o["roleRef"]["name"] if o["kind"] == "RoleBinding"
                 else o["metadata"]["name"]) for o in objects if o["kind"] in ("Role", "RoleBinding")}

    def wiring_identity(self, name: str, objects: list[Json], folder: str, root: bool) -> None:
        """The identity of the root (``root``) or of the access Kustomization, which apply RBAC: what
        they apply, by name (:meth:`applies`, the derivation of the steps' grants); ``escalate`` on
        each Role and ClusterRole and ``bind`` on each role a binding names, by name (:func:`rbac_grants`),
        rather than holding every right they grant; and what a step may leave behind in their folder
        (:meth:`leftovers`).

        Its ServiceAccount, ClusterRole and ClusterRoleBinding lie in ``folder``. The root applies
        them itself, from the top of its own folder, which the bootstrap applies before the root first
        reconciles; its namespaced grants are a Role and RoleBinding in the Flux namespace, which
        exists by then. The access Kustomization's namespaces do not exist when the root applies its
        identity, so its grants are cluster-wide, by name, like the foundation's. Every part carries
        :data:`KEEP`: the root never prunes its own identity, and deleting either Kustomization prunes
        as that identity.
        """
        account = {"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": name, "namespace": self.namespace, "annotations": KEEP}}
        namespaces = sorted({self.namespace, *(o["metadata"]["namespace"] for o in objects
                                               if "namespace" in o["metadata"])}) if root else []
        own = [account, *_rbac(name, None), *(part for namespace in namespaces for part in _rbac(name, namespace))]
        applied = objects + own if root else objects
        scopes: dict[str | None, list[Json]] = defaultdict(list)
        for obj in applied:
            scopes[obj["metadata"].get("namespace") if root else None].append(obj)
        chart, subject = self.chart(folder), k8s.Subject(kind="ServiceAccount", name=name, namespace=self.namespace)
        k8s.KubeServiceAccount(chart, f"serviceaccount-{name}",
                               metadata=k8s.ObjectMeta(name=name, namespace=self.namespace, annotations=KEEP),
                               automount_service_account_token=False)
        for namespace, members in sorted(scopes.items(), key=lambda item: item[0] or ""):
            rules = policy_rules(self.applies(members, by_name=True) + rbac_grants(members) + self.leftovers(members))
            metadata = k8s.ObjectMeta(name=name, namespace=namespace, annotations=KEEP)
            if namespace is None:
                k8s.KubeClusterRole(chart, f"clusterrole-{name}", metadata=metadata, rules=rules)
                k8s.KubeClusterRoleBinding(chart, f"clusterrolebinding-{name}", metadata=metadata, subjects=[subject],
                                           role_ref=k8s.RoleRef(api_group=RBAC_GROUP, kind="ClusterRole", name=name))
            else:
                k8s.KubeRole(chart, f"role-{name}-{namespace}", metadata=metadata, rules=rules)
                k8s.KubeRoleBinding(chart, f"rolebinding-{name}-{namespace}", metadata=metadata, subjects=[subject],
                                    role_ref=k8s.RoleRef(api_group=RBAC_GROUP, kind="Role", name=name))

    def leftovers(self, objects: list[Json]) -> list[Json]:
        """What pruning needs, read then delete (:data:`CLEAN_UP`): each object of ``objects`` but those
        never pruned (:data:`KEEP`), by name, which deleting the Kustomization removes (its default
        deletion policy mirrors prune); and, for each kind that holds an object named after a step,
        every name a step can have (:func:`every_step_name`), since a step that stops rendering leaves
        it, as in :meth:`clean_up`. A kind whose step objects are never pruned (the step
        ServiceAccounts) is only read: a prune reads each object before it skips it."""
        steps = set(every_step_name(self.environment))
        names: dict[tuple[GroupKind, tuple[str, ...]], set[str]] = defaultdict(set)
        for obj in objects:
            name, kind = obj["metadata"]["name"], group_kind_of(obj)
            kept = (obj["metadata"].get("annotations") or {}).get(FLUX_PRUNE) == KEEP[FLUX_PRUNE]
            verbs = ("get",) if kept else CLEAN_UP
            names[(kind, verbs)] |= (set() if kept else {name}) | (steps if name in steps else set())
        return [rule(kind.group, resource_of(kind.kind), verbs, sorted(found))
                for (kind, verbs), found in sorted(names.items()) if found]

    def clean_up(self, namespace: str) -> None:
        """What every step identity may delete in one of the environment's namespaces: every namespaced
        kind the generator can emit (:data:`floe.gitops.inventory.EMITTABLE_KINDS`), never a claim.

        Not derived from the render, on purpose: a step prunes what left its folder, and its own grant
        no longer names a kind that left (Grafana disabled: no claim; autoscaling off: no autoscaler).
        The root and the access Kustomization apply a revision before the steps do (a dependency must
        have applied the same revision: kustomize-controller ``checkDependencies``), so the narrowed
        grant is always in place first and the prune would be refused for good. For the same reason
        this grant names every identity a step can have (:func:`every_step_name`) and is never deleted
        (:data:`KEEP`): a step that stops rendering still cleans up after itself.
        """
        name = f"floe-{self.environment.name}-clean-up"
        rules = [rule(kind.group, resource_of(kind.kind), ("get",) if kind in NEVER_DELETED else CLEAN_UP)
                 for kind in emittable_kinds(namespaced=True)]
        chart, metadata = self.chart(f"{ACCESS_FOLDER}/{namespace}"), k8s.ObjectMeta(
            name=name, namespace=namespace, annotations=KEEP)
        k8s.KubeRole(chart, f"role-{name}", metadata=metadata, rules=policy_rules(rules))
        k8s.KubeRoleBinding(
            chart, f"rolebinding-{name}", metadata=metadata,
            role_ref=k8s.RoleRef(api_group=RBAC_GROUP, kind="Role", name=name),
            subjects=[k8s.Subject(kind="ServiceAccount", name=step, namespace=self.namespace)
                      for step in every_step_name(self.environment)],
        )


def _rbac(name: str, namespace: str | None) -> list[Json]:
    """The role ``name`` and its binding, in ``namespace`` (None: a ClusterRole), never pruned (:data:`KEEP`),
    as far as grants read them."""
    meta: Json
    kind, meta = ("Role", {"name": name, "namespace": namespace}) if namespace else ("ClusterRole", {"name": name})
    meta["annotations"] = KEEP
    api_version = f"{RBAC_GROUP}/v1"
    return [{"apiVersion": api_version, "kind": kind, "metadata": meta},
            {"apiVersion": api_version, "kind": f"{kind}Binding", "metadata": meta,
             "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": name}}]


def rbac_grants(objects: Iterable[Json]) -> list[Json]:
    """Granting without holding: ``escalate`` on each Role and ClusterRole among ``objects``, ``bind`` on
    each role their bindings name, each by name. The API server lets an account create or update a
    role only with every right in it or ``escalate`` on it, and a binding only with every right of its
    role or ``bind`` on that role (kubernetes pkg/registry/rbac/escalation_check.go:
    RoleEscalationAuthorized and BindingAuthorized, which ask for the role's name)."""
    names: dict[tuple[str, str], set[str]] = defaultdict(set)
    for obj in objects:
        if obj["kind"] in ("Role", "ClusterRole"):
            names[(resource_of(obj["kind"]), "escalate")].add(obj["metadata"]["name"])
        elif obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            names[(resource_of(obj["roleRef"]["kind"]), "bind")].add(obj["roleRef"]["name"])
    return [rule(RBAC_GROUP, resource, (verb,), sorted(found)) for (resource, verb), found in sorted(names.items())]


def by_namespace(objects: Iterable[Json]) -> dict[str, list[Json]]:
    grouped: dict[str, list[Json]] = defaultdict(list)
    for obj in objects:
        grouped[obj["metadata"]["namespace"]].append(obj)
    return dict(grouped)


def resource_of(kind: str) -> str:
    """The resource (plural) of a kind, as the API server names it (apimachinery meta
    ``UnsafeGuessKindToResource``, whose rule every kind the platform renders follows)."""
    lower = kind.lower()
    if lower.endswith("s"):
        return f"{lower}es"
    if lower.endswith("y"):
        return f"{lower[:-1]}ies"
    return f"{lower}s"


def rule(group: str, resource: str, verbs: Iterable[str], names: Sequence[str] = ()) -> Json:
    """One RBAC rule, as the API server stores it."""
    return {"apiGroups": [group], "resources": [resource], "verbs": sorted(verbs),
            **({"resourceNames": list(names)} if names else {})}


def policy_rules(rules: Iterable[Json]) -> list[k8s.PolicyRule]:
    """``rules`` with those alike but for their resources merged into one (same API groups, verbs
    and names: the union of their resources grants exactly the same), in a stable order."""
    merged: dict[tuple[tuple[str, ...], ...], set[str]] = defaultdict(set)
    for found in rules:
        key = (tuple(found["apiGroups"]), tuple(sorted(found["verbs"])), tuple(found.get("resourceNames", ())))
        merged[key] |= set(found["resources"])
    return [k8s.PolicyRule(api_groups=list(groups), resources=sorted(resources), verbs=list(verbs),
                           resource_names=list(names) or None)
            for (groups, verbs, names), resources in sorted(merged.items())]
