"""Argo CD: an AppProject fenced to this platform, its Application, and a root app-of-apps.

The environment's Application syncs ``dist/<env>/`` recursively; sync-waves inside it carry the
startup order. The root Application syncs only ``dist/gitops/<env>/argocd/apps/`` (the project and
the Application, in that order), never its own file, so it cannot prune itself.

What the root stands on is applied by hand from ``dist/gitops/<env>/argocd/`` and synced by nothing:
the root's own project (so no commit can widen what the root may do) and the ``argocd-cm`` settings
the rendered tree relies on (a merge patch for the operator).
"""


import cdk8s

from floe.config.environment import Environment
from floe.constructs.kube import Scope, k8s, rendered_in_python
from floe.gitops.inventory import GroupKind, autoscaled_targets, emittable_kinds
from floe.imports.io import argoproj
from floe.imports.io.argoproj import (
    ApplicationSpec,
    ApplicationSpecDestination,
    ApplicationSpecIgnoreDifferences,
    ApplicationSpecSource,
    ApplicationSpecSourceDirectory,
    ApplicationSpecSyncPolicy,
    ApplicationSpecSyncPolicyAutomated,
    ApplicationSpecSyncPolicyRetry,
    ApplicationSpecSyncPolicyRetryBackoff,
    AppProjectSpec,
    AppProjectSpecClusterResourceWhitelist,
    AppProjectSpecDestinations,
    AppProjectSpecNamespaceResourceWhitelist,
    AppProjectSpecOrphanedResources,
    AppProjectSpecOrphanedResourcesIgnore,
)
from floe.rendered import JsonView
from floe.security import admission
from floe.tiers import SYNC_WAVE

# Rendered in Python, as every object is (floe.constructs.kube), never in the jsii bridge.
Application, AppProject = rendered_in_python(argoproj.Application), rendered_in_python(argoproj.AppProject)

IN_CLUSTER = "https://kubernetes.default.svc"
SYNC_OPTIONS = (
    "ApplyOutOfSyncOnly=true",  # large trees: apply only what changed
    "CreateNamespace=false",    # namespaces are rendered, with their Pod Security labels
    "FailOnSharedResource=true",
    "PruneLast=true",           # remove old objects only once the new ones are healthy
    "RespectIgnoreDifferences=true",
    "ServerSideApply=true",
)
PROJECT_WAVE = -1
"""The root applies the AppProject one wave before the Application that names it. Both sort last and
equal in gitops-engine (same phase, wave, unknown kind, name), so without waves the Application could
come first and be reported invalid ("referencing project ... which does not exist") until its project
follows."""
APPLICATION_WAVE = 0
NAMESPACE = GroupKind("", "Namespace", namespaced=False)
ADMISSION_POLICY = GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", namespaced=False)
ADMISSION_BINDING = GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", namespaced=False)
ROOT_KINDS = (GroupKind("argoproj.io", "AppProject"), GroupKind("argoproj.io", "Application"))
"""All the root Application may sync."""

APPLICATION_HEALTH = """\
hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil then
  if obj.status.health ~= nil then
    hs.status = obj.status.health.status
    if obj.status.health.message ~= nil then
      hs.message = obj.status.health.message
    end
  end
end
return hs
"""
"""Argo CD's documented health check for an Application (docs/operator-manual/health.md): built in
until 1.8, a resource customization since. Without it the root ignores the child's health."""
ARGOCD_SETTINGS = {
    # Every object carries app.kubernetes.io/instance (inside immutable selectors), Argo CD's tracking
    # label: `label` tracking (the default before 3.0) reads it as the owning Application's name, and
    # `annotation+label` overwrites it.
    "application.resourceTrackingMethod": "annotation",
    "resource.customizations.health.argoproj.io_Application": APPLICATION_HEALTH,
}


def apps_folder(environment: Environment) -> str:
    return f"{environment.gitops.path}/gitops/{environment.name}/argocd/apps"


def application_name(environment: Environment) -> str:
    return f"floe-{environment.name}"


def root_name(environment: Environment) -> str:
    return f"{application_name(environment)}-root"


def render(scope: Scope, environment: Environment, objects: list[JsonView]) -> None:
    """The environment's project and Application, synced by the root."""
    _project(scope, environment)
    _application(scope, environment, objects)


def render_root(scope: Scope, environment: Environment) -> None:
    """What an operator applies by hand on a new cluster: the root's project and the app-of-apps."""
    _root_project(scope, environment)
    _root_application(scope, environment)


def render_settings(scope: Scope, environment: Environment) -> None:
    """The Argo CD settings to merge into ``argocd-cm`` (``kubectl patch``), in a folder of their own so that
    applying the root's folder never replaces the whole ConfigMap with them."""
    k8s.KubeConfigMap(scope, "settings",
                      metadata=k8s.ObjectMeta(name="argocd-cm", namespace=environment.gitops.argocd.namespace),
                      data=ARGOCD_SETTINGS)


def _namespaces(environment: Environment) -> list[str]:
    return [environment.namespaces.platform, environment.namespaces.jobs]


def _project(scope: Scope, environment: Environment) -> None:
    settings = environment.gitops
    argocd = settings.argocd
    AppProject(
        scope, "project",
        metadata=cdk8s.ApiObjectMetadata(name=application_name(environment), namespace=argocd.namespace,
                                         annotations={SYNC_WAVE: str(PROJECT_WAVE)}),
        spec=AppProjectSpec(
            description=f"floe platform, environment {environment.name}",
            source_repos=[settings.repository],
            destinations=[AppProjectSpecDestinations(server=argocd.destination, namespace=ns)
                          for ns in _namespaces(environment)],
            cluster_resource_whitelist=_cluster_whitelist(environment),
            namespace_resource_whitelist=[AppProjectSpecNamespaceResourceWhitelist(group=k.group, kind=k.kind)
                                          for k in emittable_kinds(namespaced=True)],
            orphaned_resources=AppProjectSpecOrphanedResources(
                warn=True,
                # Runs are created at run time (the orchestrator, `floe run`), never rendered; Secrets are
                # made by the operator, `floe secrets init` or External Secrets, never rendered either.
                ignore=[AppProjectSpecOrphanedResourcesIgnore(group="batch", kind="Job"),
                        AppProjectSpecOrphanedResourcesIgnore(group="", kind="Pod"),
                        AppProjectSpecOrphanedResourcesIgnore(group="", kind="Secret")],
            ),
        ),
    )


def _cluster_names(environment: Environment) -> dict[GroupKind, list[str]]:
    """The names each cluster-scoped kind the generator can emit is allowed by: the environment's own."""
    policy = [admission.policy_name(environment)]
    return {NAMESPACE: _namespaces(environment), ADMISSION_POLICY: policy, ADMISSION_BINDING: policy}


def _cluster_whitelist(environment: Environment) -> list[AppProjectSpecClusterResourceWhitelist]:
    """Cluster-scoped kinds, each by name: destinations fence only namespaced objects, so a kind allowed
    alone would let a commit adopt, and later prune, any object of it: any namespace, or another
    team's admission policy. A cluster-scoped kind without names here fails the render (KeyError)."""
    names = _cluster_names(environment)
    return [AppProjectSpecClusterResourceWhitelist(group=k.group, kind=k.kind, name=name)
            for k in emittable_kinds(namespaced=False) for name in names[k]]


def _application(scope: Scope, environment: Environment, objects: list[JsonView]) -> None:
    settings = environment.gitops
    name = application_name(environment)
    Application(
        scope, "application",
        metadata=cdk8s.ApiObjectMetadata(name=name, namespace=settings.argocd.namespace,
                                         annotations={SYNC_WAVE: str(APPLICATION_WAVE)}),
        spec=ApplicationSpec(
            project=name,
            source=ApplicationSpecSource(
                repo_url=settings.repository,
                target_revision=settings.revision,
                path=f"{settings.path}/{environment.name}",
                # Tier folders hold a kustomization.yaml for Flux; it is not a Kubernetes object.
                directory=ApplicationSpecSourceDirectory(recurse=True, exclude="*/kustomization.yaml"),
            ),
            destination=ApplicationSpecDestination(server=settings.argocd.destination,
                                                   namespace=environment.namespaces.platform),
            sync_policy=ApplicationSpecSyncPolicy(automated=_automated(environment),
                                                  sync_options=list(SYNC_OPTIONS), retry=_retry(environment)),
            ignore_differences=[
                # The autoscaler owns replicas; Argo CD must neither report nor revert them.
                ApplicationSpecIgnoreDifferences(group=group, kind=kind, namespace=namespace, name=target,
                                                 json_pointers=["/spec/replicas"])
                for group, kind, namespace, target in autoscaled_targets(objects)
            ] or None,
            revision_history_limit=10,
        ),
    )


def _root_project(scope: Scope, environment: Environment) -> None:
    """The root's fence: this repository, Argo CD's own namespace, AppProjects and Applications, and
    no cluster-scoped kind (an empty cluster whitelist allows none)."""
    settings = environment.gitops
    AppProject(
        scope, "root-project",
        metadata=cdk8s.ApiObjectMetadata(name=root_name(environment), namespace=settings.argocd.namespace),
        spec=AppProjectSpec(
            description=f"floe platform, environment {environment.name}: the app-of-apps",
            source_repos=[settings.repository],
            destinations=[AppProjectSpecDestinations(server=IN_CLUSTER, namespace=settings.argocd.namespace)],
            namespace_resource_whitelist=[AppProjectSpecNamespaceResourceWhitelist(group=k.group, kind=k.kind)
                                          for k in ROOT_KINDS],
        ),
    )


def _root_application(scope: Scope, environment: Environment) -> None:
    """The app-of-apps. It syncs the environment's project and Application, so it syncs the way the
    environment does: where a person syncs the platform, a person also syncs any change to its project
    or sync policy, which an automated root would otherwise apply unreviewed."""
    settings = environment.gitops
    Application(
        scope, "root",
        metadata=cdk8s.ApiObjectMetadata(name=root_name(environment), namespace=settings.argocd.namespace),
        spec=ApplicationSpec(
            project=root_name(environment),
            source=ApplicationSpecSource(repo_url=settings.repository, target_revision=settings.revision,
                                         path=apps_folder(environment)),
            destination=ApplicationSpecDestination(server=IN_CLUSTER, namespace=settings.argocd.namespace),
            sync_policy=ApplicationSpecSyncPolicy(
                automated=_automated(environment),
                # Never adopt an AppProject or Application that another Application already tracks.
                sync_options=["FailOnSharedResource=true"],
                retry=_retry(environment),
            ),
        ),
    )


def _automated(environment: Environment) -> ApplicationSpecSyncPolicyAutomated | None:
    sync = environment.gitops.argocd.sync
    return ApplicationSpecSyncPolicyAutomated(prune=sync.prune, self_heal=sync.self_heal) if sync.automated else None


def _retry(environment: Environment) -> ApplicationSpecSyncPolicyRetry:
    retry = environment.gitops.argocd.retry
    return ApplicationSpecSyncPolicyRetry(
        limit=retry.limit,
        backoff=ApplicationSpecSyncPolicyRetryBackoff(duration=retry.backoff, factor=retry.factor,
                                                      max_duration=retry.max_backoff),
    )
