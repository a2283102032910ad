"""One job template per data product and job type, in the jobs namespace.

Every template carries the Layer-4 policy (``floe.constructs.job_policy``), the product's image,
the command of its job type, the OTLP collector's settings, and the product's pod
(``floe.jobs.product_pod``, shared with the runs Dagster launches): service account, network
labels, the resources and settings of its compute, the catalog and the object store. Credentials
arrive only through Secret references, from Secrets that must exist in the jobs namespace.
"""


from floe.components.telemetry import otlp_env
from floe.config.environment import Environment
from floe.config.products import DataProduct
from floe.config.releases import image_tag
from floe.constructs import env
from floe.constructs.container import Container
from floe.constructs.job_template import JobTemplate, JobTemplateProps
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity, Layer, Owner
from floe.constructs.pod import PodProps
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.jobs import JOB_TYPE_LABEL, JOB_TYPES, RUN_ID_LABEL, template_name
from floe.jobs.commands import command
from floe.jobs.product_pod import ProductPod, product_pod
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


def job_env(environment: Environment, product: DataProduct, job_type: str,
            pod: ProductPod | None = None) -> tuple[k8s.EnvVar, ...]:
    """The product's env (shared with the runs Dagster launches), then what belongs to one job type;
    ``pod``: the product's pod, when the caller has it already."""
    return (
        *(pod or product_pod(environment, product)).env,
        env.literal("FLOE_JOB_TYPE", job_type),
        # Empty for a scheduled run (its Job name identifies it); `floe run` labels its Jobs with a run id.
        env.from_field("FLOE_RUN_ID", f"metadata.labels['{RUN_ID_LABEL}']"),
        env.from_field("K8S_JOB_NAME", "metadata.labels['batch.kubernetes.io/job-name']"),
        env.literal("HOME", "/tmp"),
        *((env.literal("DLT_DATA_DIR", "/tmp/dlt"),) if job_type == "dlt-ingest" else ()),
        *otlp_env(environment, template_name(product.name, job_type),
                  **{"floe.data_product": product.name, "floe.job_type": job_type,
                     "floe.run_id": "$(FLOE_RUN_ID)", "k8s.job.name": "$(K8S_JOB_NAME)"}),
    )


def render(scope: Scope, environment: Environment) -> None:
    jobs = environment.jobs
    run_as = RunAs(user=jobs.run_as_user, group=jobs.run_as_user)
    for product in environment.data_products:
        pod = product_pod(environment, product)
        for job_type in JOB_TYPES:
            name = template_name(product.name, job_type)
            container = Container(
                name=job_type,
                image=product.image,
                resources=pod.resources,
                command=command(environment, product, job_type),
                env=job_env(environment, product, job_type, pod),
                scratch=scratch_paths(product, job_type),
                mounts=pod.mounts,
            )
            JobTemplate(
                scope, name,
                JobTemplateProps(
                    identity=identity(product, job_type),
                    name=name,
                    namespace=environment.namespaces.jobs,
                    pod=PodProps(containers=(container,), run_as=run_as, volumes=pod.volumes),
                    service_account=pod.service_account,
                    active_deadline_seconds=jobs.active_deadline_seconds,
                    schedule=product.schedules.of(job_type),
                    labels={**pod.labels, JOB_TYPE_LABEL: job_type},
                ),
            )
