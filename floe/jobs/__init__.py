"""Layer 4 of ADR-0019: pipeline job templates, one per data product and job type.

The names and labels here are the contract between the rendered templates (CronJobs in the
jobs namespace) and ``floe run``, which creates a Job from a template with a fresh run id.
"""

JOB_TYPES = ("dbt-run", "dbt-test", "dlt-ingest", "quality-check")
"""The seed's four job types, in the order a product's pipeline runs them."""
PRODUCT_LABEL = "floe.dev/data-product"
JOB_TYPE_LABEL = "floe.dev/job-type"
RUN_ID_LABEL = "floe.dev/run-id"
RUN_ID_LENGTH = 8
TEMPLATE_NAME_LIMIT = 52
"""Kubernetes caps CronJob names at 52 characters (the controller appends 11 to name its Jobs)."""


def template_name(product: str, job_type: str) -> str:
    """The CronJob holding a product's template for one job type."""
    return f"{product}-{job_type}"


def run_name(template: str, run_id: str) -> str:
    """The Job of one run; at most 52 + 1 + 8 = 61 characters, within the 63 a label value allows."""
    return f"{template}-{run_id}"
