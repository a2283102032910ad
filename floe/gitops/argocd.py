"""Argo CD: an AppProject fenced to this platform, its Application, and a root app-of-apps.

The environment's Application syncs ``dist/<env>/`` recursively; sync-waves inside it carry
the startup order. The root Application syncs only ``dist/gitops/<env>/argocd/apps/`` (the
project and the Application), never its own file, so it cannot prune itself.
"""

from collections.abc import Mapping

import cdk8s
from constructs import Construct

from floe.config.environment import Environment
from floe.gitops.inventory import autoscaled_targets, kinds
from floe.imports.io.argoproj import (
    Application,
    ApplicationSpec,
    ApplicationSpecDestination,
    ApplicationSpecIgnoreDifferences,
    ApplicationSpecSource,
    ApplicationSpecSourceDirectory,
    ApplicationSpecSyncPolicy,
    ApplicationSpecSyncPolicyAutomated,
    ApplicationSpecSyncPolicyRetry,
    ApplicationSpecSyncPolicyRetryBackoff,
    AppProject,
    AppProjectSpec,
    AppProjectSpecClusterResourceWhitelist,
    AppProjectSpecDestinations,
    AppProjectSpecNamespaceResourceWhitelist,
    AppProjectSpecOrphanedResources,
    AppProjectSpecOrphanedResourcesIgnore,
)

IN_CLUSTER = "https://kubernetes.default.svc"
SYNC_OPTIONS = (
    "ApplyOutOfSyncOnly=true",  # large trees: apply only what changed
    "CreateNamespace=false",    # namespaces are rendered, with their Pod Security labels
    "FailOnSharedResource=true",
    "PruneLast=true",           # remove old objects only once the new ones are healthy
    "RespectIgnoreDifferences=true",
    "ServerSideApply=true",
)


def apps_folder(environment: Environment) -> str:
    return f"{environment.gitops.path}/gitops/{environment.name}/argocd/apps"


def application_name(environment: Environment) -> str:
    return f"floe-{environment.name}"


def render(scope: Construct, environment: Environment, objects: list[Mapping]) -> None:
    settings = environment.gitops
    argocd = settings.argocd
    name = application_name(environment)
    namespaces = (environment.namespaces.platform, environment.namespaces.jobs)
    AppProject(
        scope, "project",
        metadata=cdk8s.ApiObjectMetadata(name=name, namespace=argocd.namespace),
        spec=AppProjectSpec(
            description=f"floe platform, environment {environment.name}",
            source_repos=[settings.repository],
            destinations=[AppProjectSpecDestinations(server=argocd.destination, namespace=ns) for ns in namespaces],
            cluster_resource_whitelist=[
                AppProjectSpecClusterResourceWhitelist(group=k.group, kind=k.kind) for k in kinds(objects, False)
            ],
            namespace_resource_whitelist=[
                AppProjectSpecNamespaceResourceWhitelist(group=k.group, kind=k.kind) for k in kinds(objects, True)
            ],
            orphaned_resources=AppProjectSpecOrphanedResources(
                warn=True,
                # Runs are created at run time (the orchestrator, `floe run`), never rendered.
                ignore=[AppProjectSpecOrphanedResourcesIgnore(group="batch", kind="Job"),
                        AppProjectSpecOrphanedResourcesIgnore(group="", kind="Pod")],
            ),
        ),
    )
    Application(
        scope, "application",
        metadata=cdk8s.ApiObjectMetadata(name=name, namespace=argocd.namespace),
        spec=ApplicationSpec(
            project=name,
            source=ApplicationSpecSource(
                repo_url=settings.repository,
                target_revision=settings.revision,
                path=f"{settings.path}/{environment.name}",
                # Tier folders hold a kustomization.yaml for Flux; it is not a Kubernetes object.
                directory=ApplicationSpecSourceDirectory(recurse=True, exclude="*/kustomization.yaml"),
            ),
            destination=ApplicationSpecDestination(server=argocd.destination,
                                                   namespace=environment.namespaces.platform),
            sync_policy=_sync_policy(environment),
            ignore_differences=[
                # The autoscaler owns replicas; Argo CD must neither report nor revert them.
                ApplicationSpecIgnoreDifferences(group=group, kind=kind, namespace=namespace, name=target,
                                                 json_pointers=["/spec/replicas"])
                for group, kind, namespace, target in autoscaled_targets(objects)
            ] or None,
            revision_history_limit=10,
        ),
    )


def render_root(scope: Construct, environment: Environment) -> None:
    """The app-of-apps: the one object a new cluster is given by hand."""
    settings = environment.gitops
    Application(
        scope, "root",
        metadata=cdk8s.ApiObjectMetadata(name=f"{application_name(environment)}-root",
                                         namespace=settings.argocd.namespace),
        spec=ApplicationSpec(
            project="default",
            source=ApplicationSpecSource(repo_url=settings.repository, target_revision=settings.revision,
                                         path=apps_folder(environment)),
            destination=ApplicationSpecDestination(server=IN_CLUSTER, namespace=settings.argocd.namespace),
            sync_policy=ApplicationSpecSyncPolicy(
                automated=ApplicationSpecSyncPolicyAutomated(prune=True, self_heal=True),
                retry=_retry(environment),
            ),
        ),
    )


def _retry(environment: Environment) -> ApplicationSpecSyncPolicyRetry:
    retry = environment.gitops.argocd.retry
    return ApplicationSpecSyncPolicyRetry(
        limit=retry.limit,
        backoff=ApplicationSpecSyncPolicyRetryBackoff(duration=retry.backoff, factor=retry.factor,
                                                      max_duration=retry.max_backoff),
    )


def _sync_policy(environment: Environment) -> ApplicationSpecSyncPolicy:
    sync = environment.gitops.argocd.sync
    automated = (ApplicationSpecSyncPolicyAutomated(prune=sync.prune, self_heal=sync.self_heal)
                 if sync.automated else None)
    return ApplicationSpecSyncPolicy(automated=automated, sync_options=list(SYNC_OPTIONS), retry=_retry(environment))
