"""One job template per data product and job type, in the jobs namespace.

Every template carries the Layer-4 policy (``floe.constructs.job_policy``), the product's image,
the command of its job type, the resources and settings of its compute, and what every job needs
to reach: the catalog, the object store and the OTLP collector. Credentials arrive only through
Secret references, from Secrets that must exist in the jobs namespace.
"""

from constructs import Construct

from floe.components import minio, polaris
from floe.components.telemetry import otlp_env
from floe.config.environment import Environment
from floe.config.products import DataProduct
from floe.config.releases import image_tag
from floe.constructs import env
from floe.constructs.container import Container
from floe.constructs.job_policy import JOB_POLICY
from floe.constructs.job_template import JobTemplate, JobTemplateProps
from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity, Layer, Owner
from floe.constructs.pod import PodProps
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.jobs import JOB_TYPE_LABEL, JOB_TYPES, PRODUCT_LABEL, RUN_ID_LABEL, template_name
from floe.jobs.commands import command
from floe.jobs.compute import compute_env
from floe.tiers import JOBS


def identity(product: DataProduct, job_type: str) -> AppIdentity:
    return AppIdentity(name=job_type, instance=template_name(product.name, job_type), component="pipeline-job",
                       version=image_tag(product.image), tier=JOBS, layer=Layer.PIPELINE_JOBS,
                       owner=Owner.DATA_TEAM)


def scratch_paths(product: DataProduct, job_type: str) -> tuple[ScratchPath, ...]:
    """Where each tool writes: dbt its target/ and logs/, Great Expectations its uncommitted/ store."""
    uses_dbt = job_type in ("dbt-run", "dbt-test") or (
        job_type == "quality-check" and product.quality.engine == "dbt-tests")
    if uses_dbt:
        return TMP, ScratchPath(f"{product.dbt.project_dir}/target"), ScratchPath(f"{product.dbt.project_dir}/logs")
    if job_type == "quality-check" and product.quality.engine == "great-expectations":
        return TMP, ScratchPath(f"{product.quality.project_dir}/uncommitted")
    return (TMP,)


def job_env(environment: Environment, product: DataProduct, job_type: str) -> tuple[k8s.EnvVar, ...]:
    jobs = environment.jobs
    return (
        env.literal("FLOE_ENVIRONMENT", environment.name),
        env.literal("FLOE_DATA_PRODUCT", product.name),
        env.literal("FLOE_JOB_TYPE", job_type),
        # Empty for a scheduled run (its Job name identifies it); `floe run` labels its Jobs with a run id.
        env.from_field("FLOE_RUN_ID", f"metadata.labels['{RUN_ID_LABEL}']"),
        env.from_field("K8S_JOB_NAME", "metadata.labels['batch.kubernetes.io/job-name']"),
        env.literal("FLOE_CATALOG_URI", polaris.catalog_uri(environment)),
        env.literal("FLOE_CATALOG_WAREHOUSE", environment.catalog.polaris.catalog),
        env.from_secret("FLOE_CATALOG_CLIENT_ID", jobs.catalog_credentials_secret, polaris.CLIENT_ID_KEY),
        env.from_secret("FLOE_CATALOG_CLIENT_SECRET", jobs.catalog_credentials_secret, polaris.CLIENT_SECRET_KEY),
        env.literal("FLOE_OBJECT_STORE_ENDPOINT", minio.endpoint(environment)),
        # The standard AWS SDK variables, which boto3, pyarrow, DuckDB and dlt all read.
        env.literal("AWS_ENDPOINT_URL", minio.endpoint(environment)),
        env.literal("AWS_REGION", minio.REGION),
        env.from_secret("AWS_ACCESS_KEY_ID", jobs.object_store_credentials_secret, minio.ROOT_USER_KEY),
        env.from_secret("AWS_SECRET_ACCESS_KEY", jobs.object_store_credentials_secret, minio.ROOT_PASSWORD_KEY),
        env.literal("HOME", "/tmp"),
        *((env.literal("DLT_DATA_DIR", "/tmp/dlt"),) if job_type == "dlt-ingest" else ()),
        *compute_env(environment, product),
        *otlp_env(environment, template_name(product.name, job_type),
                  **{"floe.data_product": product.name, "floe.job_type": job_type,
                     "floe.run_id": "$(FLOE_RUN_ID)", "k8s.job.name": "$(K8S_JOB_NAME)"}),
    )


def render(scope: Construct, environment: Environment) -> None:
    jobs = environment.jobs
    run_as = RunAs(user=jobs.run_as_user, group=jobs.run_as_user)
    for product in environment.data_products:
        for job_type in JOB_TYPES:
            name = template_name(product.name, job_type)
            container = Container(
                name=job_type,
                image=product.image,
                resources=environment.job_resources(product),
                command=command(environment, product, job_type),
                env=job_env(environment, product, job_type),
                scratch=scratch_paths(product, job_type),
            )
            JobTemplate(
                scope, name,
                JobTemplateProps(
                    identity=identity(product, job_type),
                    name=name,
                    namespace=environment.namespaces.jobs,
                    pod=PodProps(containers=(container,), run_as=run_as, restart_policy=JOB_POLICY.restart_policy),
                    service_account=jobs.service_account,
                    active_deadline_seconds=jobs.active_deadline_seconds,
                    schedule=product.schedules.of(job_type),
                    labels={PRODUCT_LABEL: product.name, JOB_TYPE_LABEL: job_type},
                ),
            )
