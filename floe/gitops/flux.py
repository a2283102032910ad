"""Flux: a GitRepository and one Kustomization per tier, chained by ``dependsOn`` in tier order.

Flux has no waves: each tier waits (``wait: true``) until every object it applied is Ready,
Jobs included (a bootstrap Job is Ready once it has completed), and only then does the next
tier's Kustomization start.
"""

import cdk8s
from constructs import Construct

from floe.config.environment import Environment
from floe.imports.io.fluxcd.toolkit.kustomize import (
    Kustomization,
    KustomizationSpec,
    KustomizationSpecDependsOn,
    KustomizationSpecSourceRef,
    KustomizationSpecSourceRefKind,
)
from floe.imports.io.fluxcd.toolkit.source import GitRepository, GitRepositorySpec, GitRepositorySpecRef
from floe.tiers import Tier


def source_name(environment: Environment) -> str:
    return f"floe-{environment.name}"


def kustomization_name(environment: Environment, tier: Tier) -> str:
    return f"floe-{environment.name}-{tier.name}"


def render(scope: Construct, environment: Environment, tiers: list[Tier]) -> None:
    """``tiers``: the tiers that rendered objects, in startup order."""
    flux = environment.gitops.flux
    metadata = {"namespace": flux.namespace}
    GitRepository(
        scope, "source",
        metadata=cdk8s.ApiObjectMetadata(name=source_name(environment), **metadata),
        spec=GitRepositorySpec(url=environment.gitops.repository, interval=flux.interval,
                               ref=GitRepositorySpecRef(branch=environment.gitops.revision)),
    )
    previous: Tier | None = None
    for tier in tiers:
        Kustomization(
            scope, tier.name,
            metadata=cdk8s.ApiObjectMetadata(name=kustomization_name(environment, tier), **metadata),
            spec=KustomizationSpec(
                interval=flux.interval,
                retry_interval=flux.retry_interval,
                timeout=flux.timeout,
                path=f"./{environment.gitops.path}/{environment.name}/{tier.folder}",
                prune=True,
                wait=True,
                source_ref=KustomizationSpecSourceRef(kind=KustomizationSpecSourceRefKind.GIT_REPOSITORY,
                                                      name=source_name(environment)),
                depends_on=[KustomizationSpecDependsOn(name=kustomization_name(environment, previous))]
                if previous else None,
            ),
        )
        previous = tier
