"""Compute plugins: where a data product's transformations run, which decides its job pods.

An in-pod engine (DuckDB) makes the job pod itself the compute: memory-heavy, the seed's burst
resources. A remote warehouse (Snowflake) does the work elsewhere: the pod is small, needs the
warehouse's credentials and egress to it.
"""

from typing import Annotated, Literal

from pydantic import Field

from floe.config.base import StrictModel
from floe.config.common import Egress
from floe.config.resources import JOB_BURST, SERVICE, ResourceChoice
from floe.config.types import DnsSubdomain


class DuckDBCompute(StrictModel):
    """DuckDB inside the job pod, reading and writing Iceberg tables in the object store."""

    type: Literal["duckdb"]
    resources: ResourceChoice = JOB_BURST
    """The pod is the engine: ADR-0019's burst resources by default."""
    memory_share: Annotated[float, Field(strict=True, gt=0, le=0.9)] = 0.75
    """Share of the memory limit DuckDB may use (``FLOE_DUCKDB_MEMORY_LIMIT``); the rest is Python's."""


class SnowflakeCompute(StrictModel):
    """A Snowflake warehouse: the pod only sends SQL and waits."""

    type: Literal["snowflake"]
    account: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$")]
    """Account identifier (``<org>-<account>``)."""
    warehouse: Annotated[str, Field(pattern=r"^[A-Za-z0-9_$]+$")]
    database: Annotated[str, Field(pattern=r"^[A-Za-z0-9_$]+$")]
    role: Annotated[str, Field(pattern=r"^[A-Za-z0-9_$]+$")] | None = None
    credentials_secret: DnsSubdomain
    """Secret with keys ``user`` and ``password`` of the account's service user."""
    egress: Annotated[tuple[Egress, ...], Field(min_length=1)]
    """The account's addresses (Snowflake publishes them per region), usually port 443."""
    resources: ResourceChoice = SERVICE
    """A modest pod: dbt and the warehouse driver, no data in memory."""


Compute = Annotated[DuckDBCompute | SnowflakeCompute, Field(discriminator="type")]

DEFAULT_COMPUTE = {"duckdb": DuckDBCompute(type="duckdb")}
