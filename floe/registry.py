"""The registry: every component of the platform, its tier, and the components it depends on.

:data:`COMPONENTS` is the single list the app renders from. The dependencies declared here
order startup (a test proves each lies in an earlier tier or earlier in the same tier) and are
the allow-list the NetworkPolicies are generated from (``floe.security.network_policies``).
Telemetry is the one edge not listed: every pod may export to the OTLP collector, which the seed
starts after the catalog, so it can be no one's startup dependency.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from constructs import Construct

from floe.components import (
    cube,
    dagster,
    grafana,
    jobs_namespace,
    minio,
    namespaces,
    otel_collector,
    polaris,
    postgres,
    postgres_backup,
    prometheus,
)
from floe.config.common import Egress
from floe.config.environment import Environment
from floe.constructs.labels import LAYER, TIER, Layer
from floe.jobs import templates
from floe.security import rbac
from floe.tiers import CATALOG, FOUNDATION, JOBS, OBSERVABILITY, ORCHESTRATOR, SEMANTIC, STORAGE, Tier


@dataclass(frozen=True)
class Component:
    name: str
    tier: Tier
    render: Callable[[Construct, Environment], None]
    depends_on: tuple[str, ...] = ()
    """Components whose Services this one's pods call, and which must therefore start first:
    ``name`` for every port its Services publish, ``name:port,port`` for only those (named) ports."""
    selector: dict[str, str] = field(default_factory=dict)
    """Labels of this component's pods; default: ``app.kubernetes.io/name`` is the component's name."""
    layer: Layer = Layer.PLATFORM_SERVICES
    """Which namespace its pods run in."""
    outside: Callable[[Environment], tuple[Egress, ...]] | None = None
    """Where it lives when the environment runs it outside the cluster (an external database)."""

    @property
    def pod_selector(self) -> dict[str, str]:
        return self.selector or {"app.kubernetes.io/name": self.name}

    @property
    def dependencies(self) -> dict[str, tuple[str, ...] | None]:
        """Each dependency's name, with the port names used (None: all of them)."""
        parsed = (entry.partition(":") for entry in self.depends_on)
        return {name: tuple(ports.split(",")) if ports else None for name, _, ports in parsed}


def _instance(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": name}


def _launched_by_dagster(scope: Construct, environment: Environment) -> None:
    """Nothing of its own to render: the run launcher's Job spec is in the dagster component's dagster.yaml."""


def _backup(consumer: str) -> Component:
    """The backup pods of one instance: they dump their PostgreSQL and upload to MinIO's API."""
    return Component(postgres_backup.instance_name(consumer), STORAGE, postgres_backup.renderer(consumer),
                     depends_on=(postgres.instance_name(consumer), "minio:api"),
                     selector=_instance(postgres_backup.instance_name(consumer)))


COMPONENTS: tuple[Component, ...] = (
    Component("namespaces", FOUNDATION, namespaces.render),
    Component("jobs-namespace", FOUNDATION, jobs_namespace.render, depends_on=("namespaces",)),
    Component("postgres-dagster", STORAGE, postgres.renderer("dagster"),
              selector=_instance(postgres.instance_name("dagster")), outside=postgres.egress_of("dagster")),
    Component("postgres-polaris", STORAGE, postgres.renderer("polaris"),
              selector=_instance(postgres.instance_name("polaris")), outside=postgres.egress_of("polaris")),
    Component("minio", STORAGE, minio.render),
    _backup("dagster"),
    _backup("polaris"),
    Component("polaris", CATALOG, polaris.render, depends_on=("postgres-polaris", "minio:api")),
    Component("otel-collector", OBSERVABILITY, otel_collector.render),
    # Prometheus scrapes the collector, MinIO and Polaris (prometheus.SCRAPE_TARGETS).
    Component("prometheus", OBSERVABILITY, prometheus.render,
              depends_on=("otel-collector:telemetry,prometheus", "minio:api", "polaris:management")),
    Component("grafana", OBSERVABILITY, grafana.render, depends_on=("prometheus",)),
    Component("orchestrator-rbac", ORCHESTRATOR, rbac.render, depends_on=("jobs-namespace",)),
    Component("dagster", ORCHESTRATOR, dagster.render,
              depends_on=("postgres-dagster", "polaris:api", "orchestrator-rbac")),
    # Cube starts after the orchestrator (the seed's order) but calls only the object store.
    Component("cube", SEMANTIC, cube.render, depends_on=("minio:api",), selector={TIER: SEMANTIC.name}),
    # Every run pod, from a template or launched by the orchestrator: the job's code reads and
    # writes tables through the catalog and the object store.
    Component("pipeline-jobs", JOBS, templates.render,
              depends_on=("jobs-namespace", "polaris:api", "minio:api"),
              selector={LAYER: Layer.PIPELINE_JOBS.value}, layer=Layer.PIPELINE_JOBS),
    # The runs the orchestrator launches (pipeline jobs too) also record their events in Dagster's
    # database from inside the run; the templates' pods never do, so they may not reach it.
    Component("dagster-runs", JOBS, _launched_by_dagster, depends_on=("postgres-dagster",),
              selector=dagster.RUN_SELECTOR, layer=Layer.PIPELINE_JOBS),
)
