"""The environment model: what one installation (dev, staging, prod) sets, nothing more.

Every field has a default except ``platform_version``; an environment file holds only what
differs. Charts read these fields and never branch on the environment's name.
"""

from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from floe.config.base import StrictModel
from floe.config.catalog import CatalogSettings
from floe.config.gitops import GitOpsSettings
from floe.config.observability import ObservabilitySettings
from floe.config.orchestrator import OrchestratorSettings
from floe.config.products import DataProducts
from floe.config.releases import Release, known_versions, release
from floe.config.resources import BUILTIN_PRESETS, PresetName, ResourceChoice, Resources
from floe.config.semantic import SemanticSettings
from floe.config.storage import StorageSettings
from floe.config.types import DnsLabel


class Namespaces(StrictModel):
    """Where each layer of ADR-0019 runs."""

    platform: DnsLabel = "floe-platform"
    """Layer 3: the long-lived platform services."""
    jobs: DnsLabel = "floe-jobs"
    """Layer 4: the pipeline jobs."""

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.platform == self.jobs:
            raise ValueError(
                f"platform and jobs are both {self.platform!r}: the two layers need separate namespaces"
            )
        return self


class Scheduling(StrictModel):
    """How replicated pods are placed."""

    spread_across_nodes: bool = False
    """Require the replicas of a workload to run on different nodes (topology spread)."""


class Environment(StrictModel):
    """One installation of the floe platform, loaded from ``environments/<name>.yaml``."""

    name: SkipJsonSchema[DnsLabel] = Field(exclude=True)
    """The file's name without ``.yaml``; set by the loader, never written in the file."""
    platform_version: str
    """Release of the platform (see ``floe/releases.yaml``) that pins every image."""
    namespaces: Namespaces = Namespaces()
    resource_presets: dict[PresetName, Resources] = {}
    """Presets added to, or replacing, the built-in ones (small, service, large, job-burst)."""
    scheduling: Scheduling = Scheduling()
    storage: StorageSettings = StorageSettings()
    """The storage tier: object store and PostgreSQL instances."""
    catalog: CatalogSettings = CatalogSettings()
    """The catalog tier: Apache Polaris."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """The observability tier: OTLP collector, Prometheus and Grafana."""
    orchestrator: OrchestratorSettings = OrchestratorSettings()
    """The orchestrator tier: Dagster webserver, daemon and code locations."""
    semantic: SemanticSettings = SemanticSettings()
    """The semantic tier: Cube API, refresh worker and Cube Store."""
    gitops: GitOpsSettings
    """Where this environment's rendered tree lives in git and how Argo CD or Flux syncs it."""
    data_products: DataProducts = ()
    """The data products this installation runs; each gets a Dagster code location."""

    @field_validator("platform_version")
    @classmethod
    def _released(cls, version: str) -> str:
        if version not in known_versions():
            raise ValueError(
                f"{version!r} is not in the release catalogue (floe/releases.yaml); "
                f"known versions: {', '.join(known_versions())}"
            )
        return version

    @model_validator(mode="after")
    def _presets_resolve(self) -> Self:
        presets = self.presets
        for path, choice in _resource_choices(self):
            if isinstance(choice, str) and choice not in presets:
                raise ValueError(
                    f"{path}: unknown resource preset {choice!r}; known presets: {', '.join(sorted(presets))}"
                )
        return self

    @model_validator(mode="after")
    def _buckets_created(self) -> Self:
        buckets = self.storage.minio.buckets
        for field, bucket in (("catalog.polaris.warehouse_bucket", self.catalog.polaris.warehouse_bucket),
                              ("semantic.cube_store.bucket", self.semantic.cube_store.bucket)):
            if bucket not in buckets:
                raise ValueError(
                    f"{field} {bucket!r} is not one of storage.minio.buckets "
                    f"({', '.join(buckets)}): the bootstrap step only creates those"
                )
        return self

    @property
    def presets(self) -> dict[str, Resources]:
        return {**BUILTIN_PRESETS, **self.resource_presets}

    @property
    def release(self) -> Release:
        return release(self.platform_version)

    def resources(self, choice: ResourceChoice) -> Resources:
        """Explicit requests and limits for a preset name or explicit values."""
        return self.presets[choice] if isinstance(choice, str) else choice


def _resource_choices(model: StrictModel, prefix: str = "") -> list[tuple[str, ResourceChoice]]:
    """Every ``resources`` field in the tree, with its dotted path, so unknown presets are found anywhere."""
    found: list[tuple[str, ResourceChoice]] = []
    for field in type(model).model_fields:
        value = getattr(model, field)
        path = f"{prefix}{field}"
        if field == "resources":
            found.append((path, value))
        elif isinstance(value, StrictModel):
            found.extend(_resource_choices(value, f"{path}."))
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, StrictModel):
                    found.extend(_resource_choices(item, f"{path}.{index}."))
    return found
