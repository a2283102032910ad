"""What a product's compute engine adds to its job pods: settings, credentials and egress."""

import math

from floe.config.common import Egress
from floe.config.compute import DuckDBCompute, SnowflakeCompute
from floe.config.environment import Environment
from floe.config.products import DataProduct
from floe.config.types import quantity_value
from floe.constructs import env
from floe.constructs.kube import k8s


def compute_of(environment: Environment, product: DataProduct) -> DuckDBCompute | SnowflakeCompute:
    return environment.engines[product.compute]


def compute_env(environment: Environment, product: DataProduct) -> tuple[k8s.EnvVar, ...]:
    """Connection settings the product's dbt profile and pipelines read (``env_var(...)`` in profiles.yml)."""
    compute = compute_of(environment, product)
    if isinstance(compute, DuckDBCompute):
        limits = environment.job_resources(product).limits
        memory_mib = int(quantity_value(limits.memory) * compute.memory_share) // 2**20
        return (
            env.literal("FLOE_COMPUTE", "duckdb"),
            env.literal("FLOE_DUCKDB_MEMORY_LIMIT", f"{memory_mib}MiB"),
            env.literal("FLOE_DUCKDB_THREADS", max(1, math.floor(quantity_value(limits.cpu)))),
        )
    return (
        env.literal("FLOE_COMPUTE", "snowflake"),
        env.literal("SNOWFLAKE_ACCOUNT", compute.account),
        env.literal("SNOWFLAKE_WAREHOUSE", compute.warehouse),
        env.literal("SNOWFLAKE_DATABASE", compute.database),
        *((env.literal("SNOWFLAKE_ROLE", compute.role),) if compute.role else ()),
        env.from_secret("SNOWFLAKE_USER", compute.credentials_secret, "user"),
        env.from_secret("SNOWFLAKE_PASSWORD", compute.credentials_secret, "password"),
    )


def compute_egress(environment: Environment, product: DataProduct) -> tuple[Egress, ...]:
    """Addresses outside the cluster the product's jobs must reach (none for an in-pod engine)."""
    compute = compute_of(environment, product)
    return compute.egress if isinstance(compute, SnowflakeCompute) else ()
