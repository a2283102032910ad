"""One environment → one cdk8s App: a Chart per tier in startup order, then its GitOps wiring.

Returns the rendered objects grouped by the folder (relative to ``dist/``) each belongs in: a tier's
objects by step (``<env>/<NN-tier>/<wave>-<step>``), which Flux applies one after the other.
"""

import cdk8s

from floe.config.environment import Environment
from floe.constructs.kube import Chart
from floe.gitops import argocd, flux
from floe.registry import COMPONENTS
from floe.rendered import Json
from floe.security import checkov, external_secrets, network_policies
from floe.tiers import FOUNDATION, TIERS, sync_steps


def render_objects(environment: Environment) -> dict[str, list[Json]]:
    app = cdk8s.App()
    charts = {tier: Chart(app, f"{environment.name}-{tier.folder}") for tier in TIERS}
    for component in COMPONENTS:
        component.render(charts[component.tier], environment)
    tiers = {tier: chart.to_json() for tier, chart in charts.items()}
    # Policies derive their ports from the rendered Services: render them once the rest exists.
    rendered = [obj for objects in tiers.values() for obj in objects]
    policies = Chart(app, f"{environment.name}-network-policies")
    network_policies.render(policies, environment, rendered)
    # With a secret store, every Secret the rendered pods read is fetched by an ExternalSecret that
    # syncs in the foundation's first wave, before any reader.
    secrets = Chart(app, f"{environment.name}-external-secrets")
    external_secrets.render(secrets, environment, rendered)
    tiers[FOUNDATION] += policies.to_json() + secrets.to_json()
    tiers = {tier: objects for tier, objects in tiers.items() if objects}
    platform = [obj for objects in tiers.values() for obj in objects]

    gitops = f"gitops/{environment.name}"
    apps, root, settings = (Chart(app, f"{environment.name}-{part}") for part in ("apps", "root", "settings"))
    argocd.render(apps, environment, platform)
    argocd.render_root(root, environment)
    argocd.render_settings(settings, environment)
    steps = sync_steps(tiers)
    folders = {
        **{f"{environment.name}/{step.folder}": objects for step, objects in steps.items()},
        f"{gitops}/argocd/apps": apps.to_json(),
        f"{gitops}/argocd": root.to_json(),
        f"{gitops}/argocd/settings": settings.to_json(),
        **{f"{gitops}/{folder}": objects for folder, objects in flux.render(app, environment, steps).items()},
    }
    for objects in folders.values():
        checkov.annotate(objects)
    return folders
