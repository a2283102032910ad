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
    KustomizationSpecHealthCheckExprs,
    KustomizationSpecSourceRef,
    KustomizationSpecSourceRefKind,
)
from floe.imports.io.fluxcd.toolkit.source import GitRepository, GitRepositorySpec, GitRepositorySpecRef
from floe.tiers import Tier


def source_name(environment: Environment) -> str:
    return f"floe-{environment.name}"


def kustomization_name(environment: Environment, tier: Tier) -> str:
    return f"floe-{environment.name}-{tier.name}"


ROLLOUT_HEALTH = KustomizationSpecHealthCheckExprs(
    api_version="argoproj.io/v1alpha1", kind="Rollout",
    current="status.phase == 'Healthy'", failed="status.phase == 'Degraded'",
)
"""kstatus cannot read an Argo Rollout (no Ready condition, a string observedGeneration), so Flux
judges it by its phase; a Rollout paused for manual promotion stays in progress, holding the
next tiers until it is promoted, as under Argo CD."""


def render(scope: Construct, environment: Environment, tiers: dict[Tier, list[dict]]) -> None:
    """``tiers``: each tier that rendered objects, in startup order, with its objects."""
    flux = environment.gitops.flux
    metadata = {"namespace": flux.namespace}
    GitRepository(
        scope, "source",
        metadata=cdk8s.ApiObjectMetadata(name=source_name(environment), **metadata),
        spec=GitRepositorySpec(url=environment.gitops.repository, interval=flux.interval,
                               ref=GitRepositorySpecRef(branch=environment.gitops.revision)),
    )
    previous: Tier | None = None
    for tier, objects in tiers.items():
        rollouts = any(obj["kind"] == "Rollout" for obj in objects)
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
                health_check_exprs=[ROLLOUT_HEALTH] if rollouts else None,
                source_ref=KustomizationSpecSourceRef(kind=KustomizationSpecSourceRefKind.GIT_REPOSITORY,
                                                      name=source_name(environment)),
                depends_on=[KustomizationSpecDependsOn(name=kustomization_name(environment, previous))]
                if previous else None,
            ),
        )
        previous = tier
