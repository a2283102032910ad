"""One environment → one cdk8s App: a Chart per tier, in startup order, holding its components."""

import cdk8s

from floe.components import COMPONENTS
from floe.config.environment import Environment
from floe.tiers import TIERS, Tier


def build_app(environment: Environment) -> tuple[cdk8s.App, dict[Tier, cdk8s.Chart]]:
    app = cdk8s.App()
    charts = {tier: cdk8s.Chart(app, f"{environment.name}-{tier.folder}") for tier in TIERS}
    for component in COMPONENTS:
        component.render(charts[component.tier], environment)
    return app, charts
