"""Labels: the ``app.kubernetes.io`` set plus the platform's own (layer, tier, owning team).

Selectors use only ``name`` and ``instance``: never a version or a hash, so they stay valid
across upgrades (a Deployment's selector is immutable).
"""

from dataclasses import dataclass
from enum import StrEnum

from floe.tiers import Tier

PART_OF = "floe"
MANAGED_BY = "floe"
LAYER = "floe.dev/layer"
TIER = "floe.dev/tier"
OWNER = "floe.dev/owner"
LAUNCHED_BY = "floe.dev/launched-by"
"""On run pods the orchestrator launches, naming the launcher (their product label comes from their code
location's container context): the runs alone may reach the orchestrator's database."""


class Layer(StrEnum):
    PLATFORM_SERVICES = "platform-services"
    PIPELINE_JOBS = "pipeline-jobs"


class Owner(StrEnum):
    PLATFORM_TEAM = "platform-team"
    DATA_TEAM = "data-team"


@dataclass(frozen=True)
class AppIdentity:
    """Who an object belongs to; every object of a component carries these labels."""

    name: str
    """The application (``postgres``, ``minio``)."""
    instance: str
    """This installation of it, unique in the namespace (``postgres-dagster``); also the base of object names."""
    component: str
    """Its role in the platform (``database``, ``object-store``, ``bootstrap``)."""
    version: str
    tier: Tier
    layer: Layer = Layer.PLATFORM_SERVICES
    owner: Owner = Owner.PLATFORM_TEAM

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/instance": self.instance}

    @property
    def labels(self) -> dict[str, str]:
        return {
            **self.selector,
            "app.kubernetes.io/component": self.component,
            "app.kubernetes.io/version": self.version,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": MANAGED_BY,
            LAYER: self.layer.value,
            TIER: self.tier.name,
            OWNER: self.owner.value,
        }
