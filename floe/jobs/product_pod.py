"""One model of the pod that runs a data product's code in the jobs namespace.

A product's code runs there by three paths: its CronJob templates (scheduled, or ``floe run``),
and the runs Dagster launches from its code location. All of them are rendered from
:func:`product_pod`: the same service account, network labels, resources, and the same env
(catalog, object store and compute settings, credentials only as Secret references).

The CronJob templates build their pods from it (``floe.jobs.templates``). Dagster's run launcher
cannot: its ``run_k8s_config`` is one setting for every run of every product. What differs per
product reaches a run through the product's code location, whose server reports its
*container context* (``DAGSTER_CONTAINER_CONTEXT``, read by ``dagster api grpc``); the launcher
merges it into that location's runs (dagster-k8s ``K8sContainerContext.create_for_run``, deep
merge: lists appended, mappings merged, the location's values winning). :func:`container_context`
renders it from the same model.
"""

import json
from dataclasses import dataclass

from floe.components import minio, polaris
from floe.components.object_store import object_store_of
from floe.config.environment import Environment
from floe.config.products import DataProduct
from floe.config.resources import Resources
from floe.constructs import env
from floe.constructs.certificate import trusted_ca
from floe.constructs.kube import k8s
from floe.constructs.labels import LAYER, Layer
from floe.constructs.resources import resource_requirements
from floe.constructs.trust import ca_mounts, ca_volumes
from floe.jobs import PRODUCT_LABEL
from floe.jobs.compute import compute_env
from floe.rendered import Json
from floe.security.secrets import CONTAINER_CONTEXT_ENV


@dataclass(frozen=True)
class ProductPod:
    """What every pod of a product's code in the jobs namespace gets, whichever path launched it."""

    service_account: str
    labels: dict[str, str]
    """The labels NetworkPolicies select job pods on: the layer and the data product."""
    env: tuple[k8s.EnvVar, ...]
    """Settings and credentials (Secret references only) the product's code reads."""
    resources: Resources
    volumes: tuple[k8s.Volume, ...] = ()
    mounts: tuple[k8s.VolumeMount, ...] = ()


def product_env(environment: Environment, product: DataProduct) -> tuple[k8s.EnvVar, ...]:
    """Where the product's data is and the credentials to reach it: the catalog, the object store, its compute."""
    store, ca = object_store_of(environment), trusted_ca(environment.tls)
    return (
        env.literal("FLOE_ENVIRONMENT", environment.name),
        env.literal("FLOE_DATA_PRODUCT", product.name),
        env.literal("FLOE_CATALOG_URI", polaris.catalog_uri(environment)),
        env.literal("FLOE_CATALOG_WAREHOUSE", environment.catalog.polaris.catalog),
        # With in-cluster TLS, the CA the catalog's certificate is verified against (pyiceberg's ssl.cabundle).
        # Not REQUESTS_CA_BUNDLE: it would replace the public roots that dlt's sources are verified against.
        *((env.literal("FLOE_CATALOG_CA_FILE", ca.file),) if ca else ()),
        # The product's own principal: it writes the product's namespace and reads those it declares.
        env.from_secret("FLOE_CATALOG_CLIENT_ID", product.catalog_credentials_secret, polaris.CLIENT_ID_KEY),
        env.from_secret("FLOE_CATALOG_CLIENT_SECRET", product.catalog_credentials_secret, polaris.CLIENT_SECRET_KEY),
        env.literal("FLOE_OBJECT_STORE_ENDPOINT", store.endpoint),
        # path or virtual-host: no AWS variable says it (pyarrow's force_virtual_addressing, DuckDB's URL_STYLE).
        env.literal("FLOE_OBJECT_STORE_ADDRESSING", store.addressing),
        # The standard AWS SDK variables, which boto3, pyarrow, DuckDB and dlt all read.
        *store.sdk_env(),
        # The product's own identity: its namespace's files, those of the products it reads, its runs' logs.
        env.from_secret("AWS_ACCESS_KEY_ID", product.object_store_credentials_secret, minio.USER_ACCESS_KEY),
        env.from_secret("AWS_SECRET_ACCESS_KEY", product.object_store_credentials_secret, minio.USER_SECRET_KEY),
        *compute_env(environment, product),
    )


def network_labels(product: DataProduct) -> dict[str, str]:
    """The jobs namespace's NetworkPolicies select on the layer (every job pod) and the product (its compute)."""
    return {LAYER: Layer.PIPELINE_JOBS.value, PRODUCT_LABEL: product.name}


def trusted_cas(environment: Environment) -> tuple[tuple[k8s.Volume, ...], tuple[k8s.VolumeMount, ...]]:
    """The CAs every product's pod trusts besides the system's: an external store's (``AWS_CA_BUNDLE``) and,
    with in-cluster TLS, the in-cluster CA (the catalog's certificate; the object store's too when it is
    MinIO). The same for every product, so Dagster's runs get them from the run launcher's own settings
    (``floe.components.dagster.run_k8s_config``): its allow-list admits no volume from a code location."""
    store = object_store_of(environment)
    ca = trusted_ca(environment.tls)
    return (*store.ca_volumes(), *ca_volumes(ca)), (*store.ca_mounts(), *ca_mounts(ca))


def product_pod(environment: Environment, product: DataProduct) -> ProductPod:
    volumes, mounts = trusted_cas(environment)
    return ProductPod(
        service_account=environment.jobs.service_account,
        labels=network_labels(product),
        env=product_env(environment, product),
        resources=environment.job_resources(product),
        volumes=volumes,
        mounts=mounts,
    )


def container_context(environment: Environment, product: DataProduct) -> Json:
    """The code location's container context: the fields of dagster-k8s 0.29's ``k8s`` container context
    (``DagsterK8sJobConfig.config_type_container_context``) that carry the product's pod.

    Its service account is left out: the run launcher's own ``service_account_name`` is the same
    one (both are ``jobs.service_account``), and the launcher's allow-list, which checks this
    context as well as the run's tags (``floe.components.dagster.USER_DEFINED_K8S_CONFIG``),
    admits no service account."""
    pod = product_pod(environment, product)
    spec = k8s.KubePod.manifest(spec=k8s.PodSpec(
        containers=[k8s.Container(name="run", env=list(pod.env), resources=resource_requirements(pod.resources))],
    ))["spec"]
    container = spec["containers"][0]
    # The pod's volumes (the CAs, the same for every product) come from the run launcher (trusted_cas).
    return {"k8s": {"labels": dict(pod.labels), "env": container["env"], "resources": container["resources"]}}


def container_context_env(environment: Environment, product: DataProduct) -> k8s.EnvVar:
    """``DAGSTER_CONTAINER_CONTEXT`` as a literal env var: JSON, each ``$`` doubled (Kubernetes reads
    ``$(NAME)`` in a value as a reference to expand and ``$$`` as one ``$``)."""
    text = json.dumps(container_context(environment, product), sort_keys=True, separators=(",", ":"))
    return env.literal(CONTAINER_CONTEXT_ENV, text.replace("$", "$$"))
