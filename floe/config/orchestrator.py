"""Settings of the orchestrator tier: the Dagster webserver, daemon and code locations."""

from typing import Annotated

from pydantic import Field

from floe.config.base import StrictModel
from floe.config.common import Ingress, ScalableServiceSettings, ServiceSettings


class WebserverSettings(ScalableServiceSettings):
    """The Dagster UI and GraphQL API (stateless: any number of replicas)."""

    ingress: Ingress | None = None
    """Expose the UI outside the cluster; unset keeps it reachable only through the cluster."""


class OrchestratorSettings(StrictModel):
    """Dagster: run, event-log and schedule storage on its PostgreSQL (``storage.postgres.dagster``).

    Credentials come from that database's Secret (keys ``username`` and ``password``). Runs are
    Jobs in the jobs namespace that write to the same database, so the Secret must exist under
    the same name in both the platform and the jobs namespace; it is never rendered, only referenced.
    """

    webserver: WebserverSettings = WebserverSettings()
    daemon: ServiceSettings = ServiceSettings()
    """The single scheduler and run-queue daemon (always one replica)."""
    code_locations: ServiceSettings = ServiceSettings()
    """Resources of each data product's code location (one gRPC server per product)."""
    max_concurrent_runs: Annotated[int, Field(strict=True, ge=1, le=1000)] = 10
    """Runs executing at once; further runs wait in the queue."""

