"""The startup order of ADR-0019, defined once.

Argo CD sync-waves, Flux ``dependsOn`` chains, the ``dist/`` folder names and the order of a
direct apply are all derived from :data:`TIERS`. Each tier owns ten waves so that a tier's own
steps (a schema migration before its servers, a bootstrap Job after them) fit between tiers.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from floe.rendered import Json

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
FINAL_WAVE = JOBS.wave + 10
"""The sync wave after every tier, for objects whose health says nothing about whether the platform
works and would only hold the waves after them: an autoscaler (Degraded in Argo CD until the metrics
server has samples) and an Ingress (Progressing until its load balancer has an address)."""


FINAL = "final"
"""The name of the step that holds a tier's objects of :data:`FINAL_WAVE`."""


@dataclass(frozen=True)
class SyncStep:
    """One step of one tier: what Flux applies together, then waits for, before the next step.

    Argo CD gets the same order from the waves; Flux has none, so each step is a folder of its own
    (``<NN-tier>/<wave>-<step>``) with a Kustomization of its own: a server never starts before its
    migration has finished, nor a bootstrap Job before its server is Ready.
    """

    tier: Tier
    wave: int

    def __post_init__(self) -> None:
        if self.wave != FINAL_WAVE and self.wave - self.tier.wave not in {step.value for step in Step}:
            raise ValueError(f"wave {self.wave} is no step of tier {self.tier.name} (waves "
                             f"{', '.join(str(self.tier.wave_of(step)) for step in Step)}) nor the final "
                             f"wave {FINAL_WAVE}")

    @property
    def name(self) -> str:
        return FINAL if self.wave == FINAL_WAVE else Step(self.wave - self.tier.wave).name.lower()

    @property
    def folder(self) -> str:
        """The step's folder in ``dist/<env>/``, inside its tier's: ``20-catalog/21-serve``."""
        return f"{self.tier.folder}/{self.wave:02d}-{self.name}"


def sync_steps(tiers: Mapping[Tier, list[Json]]) -> dict[SyncStep, list[Json]]:
    """The objects of each tier grouped by step, steps in startup order: tier by tier, wave by wave
    (a tier's final step after its other steps, before the next tier)."""
    steps: dict[SyncStep, list[Json]] = defaultdict(list)
    for tier, objects in tiers.items():
        for obj in objects:
            try:
                step = SyncStep(tier, int(obj["metadata"]["annotations"][SYNC_WAVE]))
            except ValueError as error:
                raise ValueError(f"{obj['kind']}/{obj['metadata']['name']}: {error}") from None
            steps[step].append(obj)
    return dict(sorted(steps.items(), key=lambda item: (TIERS.index(item[0].tier), item[0].wave)))


def tier_named(name: str) -> Tier:
    for tier in TIERS:
        if tier.name == name:
            return tier
    raise KeyError(name)
