"""The command of each job type, from the product's settings (tool flags as each tool documents them)."""

from floe.config.environment import Environment
from floe.config.products import DataProduct

GREAT_EXPECTATIONS_CHECKPOINT = """\
import sys
import great_expectations as gx
context = gx.get_context(mode="file", project_root_dir=sys.argv[1])
result = context.checkpoints.get(sys.argv[2]).run()
print(result.describe())
sys.exit(0 if result.success else 1)
"""
"""Great Expectations 1.x has no CLI: a checkpoint runs through the Python API."""


def _dbt(environment: Environment, product: DataProduct, verb: str) -> tuple[str, ...]:
    dbt = product.dbt
    command = ("dbt", verb, "--project-dir", dbt.project_dir, "--profiles-dir", dbt.profiles_dir,
               "--target", dbt.target or environment.name)
    return command + (("--profile", dbt.profile) if dbt.profile else ())


def command(environment: Environment, product: DataProduct, job_type: str) -> tuple[str, ...]:
    if job_type in ("dbt-run", "dbt-test"):
        return _dbt(environment, product, job_type.removeprefix("dbt-"))
    if job_type == "dlt-ingest":
        return ("python", "-m", product.dlt.module)
    if job_type != "quality-check":
        raise ValueError(f"unknown job type {job_type!r}")
    quality = product.quality
    if quality.engine == "dbt-tests":
        return _dbt(environment, product, "test") + ("--select", quality.selector)
    if quality.engine == "soda-core":
        assert quality.contract and quality.data_source  # Quality's validator requires both for soda-core
        return ("soda", "contract", "verify", "--data-source", quality.data_source, "--contract", quality.contract)
    assert quality.checkpoint  # Quality's validator requires it for great-expectations
    return ("python", "-c", GREAT_EXPECTATIONS_CHECKPOINT, quality.project_dir, quality.checkpoint)
