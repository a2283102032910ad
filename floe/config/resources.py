"""Compute resources: explicit values and the named presets components choose from.

The two presets the ADR-0019 seed defines are built in: ``service`` (steady state of a
long-lived service) and ``job-burst`` (a run-to-completion pipeline job). An environment may
add presets or redefine any of them under ``resource_presets``.
"""

from typing import Annotated, Self

from pydantic import Discriminator, Field, Tag, model_validator

from floe.config.base import StrictModel
from floe.config.types import Quantity, quantity_value


class ComputeAmounts(StrictModel):
    """CPU and memory for one side (requests or limits) of a container's resources."""

    cpu: Quantity
    """CPU, in cores or millicores (``500m``)."""
    memory: Quantity
    """Memory, with a binary suffix (``512Mi``, ``2Gi``)."""


class Resources(StrictModel):
    """Requests (what the scheduler reserves) and limits (the ceiling) of one container."""

    requests: ComputeAmounts
    limits: ComputeAmounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Self:
        for resource in ("cpu", "memory"):
            request = getattr(self.requests, resource)
            limit = getattr(self.limits, resource)
            if quantity_value(request) > quantity_value(limit):
                raise ValueError(
                    f"the {resource} request {request} exceeds its limit {limit}; "
                    "a request must be at most the limit"
                )
        return self


PresetName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]

ResourceChoice = Annotated[
    Annotated[PresetName, Tag("preset")] | Annotated[Resources, Tag("explicit")],
    Discriminator(lambda value: "preset" if isinstance(value, str) else "explicit"),
]
"""Either the name of a preset or explicit requests and limits (a mapping)."""


def _preset(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> Resources:
    return Resources(
        requests=ComputeAmounts(cpu=cpu, memory=memory),
        limits=ComputeAmounts(cpu=cpu_limit, memory=memory_limit),
    )


SMALL = "small"
"""A light process: an exporter, a proxy, a bootstrap or backup step."""
SERVICE = "service"
"""ADR-0019, "Services (Continuous)": sized for steady-state operation."""
LARGE = "large"
JOB_BURST = "job-burst"
"""ADR-0019, "Jobs (Burst)": sized for the workload of one pipeline run."""

BUILTIN_PRESETS: dict[str, Resources] = {
    SMALL: _preset("100m", "128Mi", "250m", "256Mi"),
    SERVICE: _preset("500m", "512Mi", "1000m", "1Gi"),
    LARGE: _preset("1000m", "2Gi", "2000m", "4Gi"),
    JOB_BURST: _preset("1000m", "2Gi", "4000m", "8Gi"),
}
