"""The startup order of ADR-0019, defined once.

Argo CD sync-waves, Flux ``dependsOn`` chains, the ``dist/`` folder names and the order of a
direct apply are all derived from :data:`TIERS`. Each tier owns ten waves so that a tier's own
steps (a schema migration before its servers, a bootstrap Job after them) fit between tiers.
"""

from dataclasses import dataclass
from enum import IntEnum

SYNC_WAVE = "argocd.argoproj.io/sync-wave"


class Step(IntEnum):
    """Where inside its tier an object syncs, as an offset from the tier's first wave."""

    PREPARE = 0
    """Configuration and migrations the servers need before they start."""
    SERVE = 1
    """The long-lived servers and everything they consume."""
    BOOTSTRAP = 5
    """One-off setup that needs the servers Ready (buckets, a catalog realm)."""


@dataclass(frozen=True)
class Tier:
    name: str
    wave: int
    summary: str
    seed_component: bool = True
    """A tier the seed names as a component (``floe platform deploy --component=<name>``)."""

    @property
    def folder(self) -> str:
        """The tier's folder in ``dist/<env>/``: its first wave, then its name."""
        return f"{self.wave:02d}-{self.name}"

    def wave_of(self, step: Step) -> int:
        return self.wave + step


FOUNDATION = Tier("foundation", 0, "namespaces and namespace-wide policy", seed_component=False)
STORAGE = Tier("storage", 10, "object storage and the PostgreSQL instances")
CATALOG = Tier("catalog", 20, "Apache Polaris, the Iceberg REST catalog")
OBSERVABILITY = Tier("observability", 30, "OTLP collector, Prometheus and Grafana")
ORCHESTRATOR = Tier("orchestrator", 40, "Dagster webserver, daemon and code locations")
SEMANTIC = Tier("semantic", 50, "Cube API and Cube Store")
JOBS = Tier("jobs", 60, "pipeline job templates (Layer 4), once every service they use is up",
            seed_component=False)

TIERS: tuple[Tier, ...] = (FOUNDATION, STORAGE, CATALOG, OBSERVABILITY, ORCHESTRATOR, SEMANTIC, JOBS)


def tier_named(name: str) -> Tier:
    for tier in TIERS:
        if tier.name == name:
            return tier
    raise KeyError(name)
