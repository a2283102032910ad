"""Compute plugins: where a data product's transformations run, which decides its job pods.

An in-pod engine (DuckDB) makes the job pod itself the compute: memory-heavy, the seed's burst
resources. A remote warehouse (Snowflake) does the work elsewhere: the pod is small, needs the
warehouse's credentials and egress to it.
"""

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from floe.config.base import StrictModel
from floe.config.resources import ResourceChoice
from floe.config.types import DnsSubdomain, Port


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError:
        raise ValueError(f"{value!r} is not a network in CIDR notation, such as 203.0.113.0/24") from None


Cidr = Annotated[str, AfterValidator(_cidr)]


class Egress(StrictModel):
    """Addresses outside the cluster a job may reach."""

    cidr: Cidr
    ports: tuple[Port, ...] = (443,)


class DuckDBCompute(StrictModel):
    """DuckDB inside the job pod, reading and writing Iceberg tables in the object store."""

    type: Literal["duckdb"]
    resources: ResourceChoice = "job-burst"
    """The pod is the engine: ADR-0019's burst resources by default."""
    memory_share: Annotated[float, Field(gt=0, le=0.9)] = 0.75
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
    resources: ResourceChoice = "small"


Compute = Annotated[DuckDBCompute | SnowflakeCompute, Field(discriminator="type")]

DEFAULT_COMPUTE = {"duckdb": DuckDBCompute(type="duckdb")}
