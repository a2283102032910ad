"""The registry: every component of the platform, its tier, and the components it depends on.

:data:`COMPONENTS` is the single list the app renders from. The dependencies declared here
order startup (a test proves each lies in an earlier tier or earlier in the same tier) and are
the allow-list the NetworkPolicies are generated from (``floe.security.network_policies``).
Telemetry is the one edge not listed: every pod may export to the OTLP collector, which the seed
starts after the catalog, so it can be no one's startup dependency.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from floe.components import (
    cube,
    dagster,
    grafana,
    jobs_namespace,
    kube_state_metrics,
    minio,
    namespaces,
    oauth2_proxy,
    object_store,
    otel_collector,
    polaris,
    postgres,
    postgres_backup,
    postgres_roles,
    prometheus,
)
from floe.config.common import Egress
from floe.config.environment import Environment
from floe.constructs.kube import Scope
from floe.constructs.labels import LAYER, TIER, Layer
from floe.jobs import templates
from floe.security import admission, rbac
from floe.tiers import CATALOG, FOUNDATION, JOBS, OBSERVABILITY, ORCHESTRATOR, SEMANTIC, STORAGE, Tier


@dataclass(frozen=True)
class Dependency:
    """A component whose Services another's pods call: on the named ports, or on every port it serves (None)."""

    component: str
    ports: tuple[str, ...] | None = None

    def __str__(self) -> str:
        """How ``floe platform status`` lists it: ``minio:api``, or the bare name for every port."""
        return f"{self.component}:{','.join(self.ports)}" if self.ports else self.component


def on(component: str, *ports: str) -> Dependency:
    """``on("minio", "api")``: MinIO's ``api`` port; ``on("prometheus")``: every port Prometheus serves."""
    return Dependency(component, ports or None)


@dataclass(frozen=True)
class Component:
    name: str
    tier: Tier
    render: Callable[[Scope, Environment], None]
    depends_on: tuple[Dependency, ...] = ()
    """Components whose Services this one's pods call, and which must therefore start first."""
    selector: dict[str, str] = field(default_factory=dict)
    """Labels of this component's pods; default: ``app.kubernetes.io/name`` is the component's name."""
    layer: Layer = Layer.PLATFORM_SERVICES
    """Which namespace its pods run in."""
    outside: Callable[[Environment], tuple[Egress, ...]] | None = None
    """Where it lives when the environment runs it outside the cluster (an external database)."""
    outside_ports: tuple[str, ...] = ()
    """The ports those addresses stand for: a dependent naming one of them reaches them (a database's
    ``postgres``; not its exporter's ``metrics``, which runs only beside an in-cluster server). Callers never
    do: they call the component's own pods."""
    callers: tuple[Dependency, ...] = ()
    """Components that call this one's named ports without starting after it (``on("prometheus", "http")``:
    Prometheus scrapes this one's ``http``), such as Prometheus scraping a component that itself depends on
    Prometheus. The NetworkPolicies let them through as they let dependents through; startup order ignores them."""

    def __post_init__(self) -> None:
        for entry in (*self.depends_on, *self.callers):
            if not isinstance(entry, Dependency):
                raise TypeError(f"{self.name}: {entry!r} is not a Dependency: write on(name, *ports)")
        for entry in self.callers:
            if not entry.ports:
                raise TypeError(f"{self.name}: caller {entry.component} names no port")

    @property
    def pod_selector(self) -> dict[str, str]:
        return self.selector or {"app.kubernetes.io/name": self.name}

    @property
    def dependencies(self) -> dict[str, tuple[str, ...] | None]:
        """Each dependency's name, with the port names used (None: all of them)."""
        return {entry.component: entry.ports for entry in self.depends_on}

    @property
    def called_by(self) -> dict[str, tuple[str, ...]]:
        """Each caller's name, with the port names it calls."""
        return {entry.component: entry.ports or () for entry in self.callers}


def _instance(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": name}


def _launched_by_dagster(scope: Scope, environment: Environment) -> None:
    """Nothing of its own to render: the run launcher's Job spec is in the dagster component's dagster.yaml."""


def _backup(consumer: str) -> Component:
    """The backup pods of one instance: they dump their PostgreSQL and upload to the object store's API."""
    return Component(postgres_backup.instance_name(consumer), STORAGE, postgres_backup.renderer(consumer),
                     depends_on=(on(postgres.instance_name(consumer), "postgres"), on("minio", "api")),
                     selector=_instance(postgres_backup.instance_name(consumer)))


def _roles(consumer: str) -> Component:
    """The role bootstrap of one instance: it logs in to its PostgreSQL as the superuser."""
    return Component(postgres_roles.instance_name(consumer), STORAGE, postgres_roles.renderer(consumer),
                     depends_on=(on(postgres.instance_name(consumer), "postgres"),),
                     selector=_instance(postgres_roles.instance_name(consumer)))


COMPONENTS: tuple[Component, ...] = (
    Component("namespaces", FOUNDATION, namespaces.render),
    Component("jobs-namespace", FOUNDATION, jobs_namespace.render, depends_on=(on("namespaces"),)),
    # What a pod in the jobs namespace may run (images, account, Secrets): in place before the first
    # template or run, and harmless before the namespace exists (its binding selects it by name).
    Component("jobs-admission", FOUNDATION, admission.render),
    Component("postgres-dagster", STORAGE, postgres.renderer("dagster"),
              selector=_instance(postgres.instance_name("dagster")), outside=postgres.egress_of("dagster"),
              outside_ports=("postgres",)),
    Component("postgres-polaris", STORAGE, postgres.renderer("polaris"),
              selector=_instance(postgres.instance_name("polaris")), outside=postgres.egress_of("polaris"),
              outside_ports=("postgres",)),
    # The object store's S3 API: MinIO's pods, or the addresses of an external store (storage.object_store),
    # which its clients reach in their place. Prometheus scrapes MinIO's own metrics there: a caller of
    # the pods, which an external store has none of.
    Component("minio", STORAGE, minio.render, outside=object_store.egress, outside_ports=("api",),
              callers=(on("prometheus", "api"),)),
    _roles("dagster"),
    _roles("polaris"),
    _backup("dagster"),
    _backup("polaris"),
    Component("polaris", CATALOG, polaris.render,
              depends_on=(on("postgres-polaris", "postgres"), on("minio", "api"))),
    Component("otel-collector", OBSERVABILITY, otel_collector.render),
    # Reads the pods, Jobs, CronJobs and quotas of both namespaces from the API server (no pod of the platform).
    Component("kube-state-metrics", OBSERVABILITY, kube_state_metrics.render),
    # Prometheus scrapes every component that exports metrics (prometheus.scrape_targets), on these ports;
    # a database's clients name its `postgres` port, so only Prometheus reaches its exporter.
    Component("prometheus", OBSERVABILITY, prometheus.render,
              depends_on=(on("otel-collector", "telemetry", "prometheus"),
                          on("polaris", "management"), on("postgres-dagster", "metrics"),
                          on("postgres-polaris", "metrics"), on("kube-state-metrics", "http-metrics"))),
    Component("grafana", OBSERVABILITY, grafana.render, depends_on=(on("prometheus"),),
              callers=(on("prometheus", "http"),)),
    Component("orchestrator-rbac", ORCHESTRATOR, rbac.render, depends_on=(on("jobs-namespace"),)),
    Component("dagster", ORCHESTRATOR, dagster.render,
              depends_on=(on("postgres-dagster", "postgres"), on("polaris", "api"), on("minio", "api"),
                          on("orchestrator-rbac"))),
    # The login in front of the UI's Ingress: the only pods that reach the webserver from outside it.
    Component("oauth2-proxy", ORCHESTRATOR, oauth2_proxy.render, depends_on=(on("dagster", "http"),)),
    # Cube starts after the orchestrator (the seed's order); its DuckDB reads the tables through the
    # catalog and their files from the object store, and Cube Store persists to the object store.
    Component("cube", SEMANTIC, cube.render, depends_on=(on("polaris", "api"), on("minio", "api")),
              selector={TIER: SEMANTIC.name}),
    # Every run pod, from a template or launched by the orchestrator: the job's code reads and
    # writes tables through the catalog and the object store.
    Component("pipeline-jobs", JOBS, templates.render,
              depends_on=(on("jobs-namespace"), on("polaris", "api"), on("minio", "api")),
              selector={LAYER: Layer.PIPELINE_JOBS.value}, layer=Layer.PIPELINE_JOBS),
    # The runs the orchestrator launches (pipeline jobs too) also record their events in Dagster's
    # database from inside the run; the templates' pods never do, so they may not reach it.
    Component("dagster-runs", JOBS, _launched_by_dagster, depends_on=(on("postgres-dagster", "postgres"),),
              selector=dagster.RUN_SELECTOR, layer=Layer.PIPELINE_JOBS),
)
