"""The platform's components, each in its tier, with the components it depends on.

:data:`COMPONENTS` is the single list the app renders from; dependencies declared here are the
ones the startup-order tests (and later the network policies) are derived from.
"""

from collections.abc import Callable
from dataclasses import dataclass

from constructs import Construct

from floe.components import cube, dagster, grafana, minio, namespaces, otel_collector, polaris, postgres, prometheus
from floe.config.environment import Environment
from floe.tiers import CATALOG, FOUNDATION, OBSERVABILITY, ORCHESTRATOR, SEMANTIC, STORAGE, Tier


@dataclass(frozen=True)
class Component:
    name: str
    tier: Tier
    render: Callable[[Construct, Environment], None]
    depends_on: tuple[str, ...] = ()


COMPONENTS: tuple[Component, ...] = (
    Component("namespaces", FOUNDATION, namespaces.render),
    Component("postgres", STORAGE, postgres.render, depends_on=("namespaces",)),
    Component("minio", STORAGE, minio.render, depends_on=("namespaces",)),
    Component("polaris", CATALOG, polaris.render, depends_on=("postgres", "minio")),
    Component("otel-collector", OBSERVABILITY, otel_collector.render, depends_on=("namespaces",)),
    Component("prometheus", OBSERVABILITY, prometheus.render, depends_on=("otel-collector",)),
    Component("grafana", OBSERVABILITY, grafana.render, depends_on=("prometheus",)),
    Component("dagster", ORCHESTRATOR, dagster.render, depends_on=("postgres", "polaris", "otel-collector")),
    Component("cube", SEMANTIC, cube.render, depends_on=("minio", "polaris", "otel-collector", "dagster")),
)
