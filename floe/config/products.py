"""Data products: what an installation runs on the platform, and the axis along which it grows.

Each data product brings its own Dagster code location (a long-lived gRPC server in the
product's image) and one pipeline job template per job type (dbt run, dbt test, dlt ingestion,
quality checks), all in the product's image.
"""

from typing import Annotated, Literal, Self

from croniter import croniter
from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from floe.config.base import FieldError, StrictModel
from floe.config.releases import Image
from floe.config.resources import ResourceChoice
from floe.config.types import DnsLabel
from floe.jobs import JOB_TYPES, TEMPLATE_NAME_LIMIT

PythonModule = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", max_length=200)
]
AbsolutePath = Annotated[str, Field(pattern=r"^/\S*$")]
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def _cron(value: str) -> str:
    if value in _CRON_MACROS or (len(value.split()) == 5 and croniter.is_valid(value)):
        return value
    raise ValueError(
        f"{value!r} is not a Kubernetes CronJob schedule: use five fields (minute hour day month weekday), "
        "such as '0 3 * * *', or one of " + ", ".join(sorted(_CRON_MACROS))
    )


Cron = Annotated[str, AfterValidator(_cron)]

_LONGEST_JOB_TYPE = max(JOB_TYPES, key=len)
PRODUCT_NAME_LIMIT = TEMPLATE_NAME_LIMIT - len(f"-{_LONGEST_JOB_TYPE}")
"""38: the longest name whose longest job template (``<name>-quality-check``) fits a CronJob name."""


def _fits_template_names(value: object) -> object:
    """Checked before the DNS-label rule, whose own limit (63) would mislead."""
    if isinstance(value, str) and len(value) > PRODUCT_NAME_LIMIT:
        raise ValueError(
            f"{value!r} is {len(value)} characters; a data product name has at most {PRODUCT_NAME_LIMIT} "
            f"(its job template <name>-{_LONGEST_JOB_TYPE} must fit the {TEMPLATE_NAME_LIMIT} characters "
            "Kubernetes allows a CronJob name)"
        )
    return value


ProductName = Annotated[DnsLabel, BeforeValidator(_fits_template_names),
                        Field(json_schema_extra={"maxLength": PRODUCT_NAME_LIMIT})]


class Schedules(StrictModel):
    """When each job type runs on its own; unset leaves its template suspended (run by the orchestrator
    or ``floe run``)."""

    dbt_run: Cron | None = None
    dbt_test: Cron | None = None
    dlt_ingest: Cron | None = None
    quality_check: Cron | None = None

    def of(self, job_type: str) -> str | None:
        schedule: str | None = getattr(self, job_type.replace("-", "_"))
        return schedule


class DbtProject(StrictModel):
    """Where the product's image keeps its dbt project."""

    project_dir: AbsolutePath = "/app/dbt"
    profiles_dir: AbsolutePath = "/app/dbt"
    profile: str | None = None
    """Profile name in profiles.yml; unset uses the project's own ``profile:``."""
    target: str | None = None
    """dbt target; unset uses the environment's name."""


class DltPipeline(StrictModel):
    module: PythonModule
    """Module run as ``python -m <module>`` to load the product's raw tables."""


class Quality(StrictModel):
    """The product's quality checks and the engine that runs them."""

    engine: Literal["dbt-tests", "soda-core", "great-expectations"] = "dbt-tests"
    selector: str = "tag:quality"
    """dbt-tests: the ``--select`` of the tests that gate publication."""
    contract: AbsolutePath | None = None
    """soda-core: the data contract file to verify."""
    data_source: AbsolutePath | None = None
    """soda-core: the data source configuration file."""
    checkpoint: str | None = None
    """great-expectations: the checkpoint to run."""
    project_dir: AbsolutePath = "/app/gx"
    """great-expectations: the project root of the file context."""

    @model_validator(mode="after")
    def _engine_settings(self) -> Self:
        needed = {"soda-core": ("contract", "data_source"), "great-expectations": ("checkpoint",)}
        missing = [name for name in needed.get(self.engine, ()) if getattr(self, name) is None]
        if missing:
            raise FieldError(("engine",), f"{self.engine} needs {' and '.join(missing)} set as well")
        return self


class DataProduct(StrictModel):
    """One data product: its image, its pipeline and the compute it runs on."""

    name: ProductName
    """Unique name, at most 38 characters: its longest job template, ``<name>-quality-check``, must fit
    the 52 characters Kubernetes allows a CronJob."""
    image: Image
    """Pinned image of the product's code (registry/repository:tag); every job and its code location use it."""
    module: PythonModule
    """Python module holding the product's Dagster definitions (``dagster api grpc -m <module>``)."""
    description: str | None = None
    compute: DnsLabel = "duckdb"
    """One of the environment's ``compute`` entries."""
    resources: ResourceChoice | None = None
    """Job pod resources; unset uses the compute's."""
    dbt: DbtProject = DbtProject()
    dlt: DltPipeline
    quality: Quality = Quality()
    schedules: Schedules = Schedules()
    reads: tuple[ProductName, ...] = ()
    """Other data products whose tables this one reads: its catalog principal may read their namespaces
    (it writes only its own)."""

    @property
    def catalog_credentials_secret(self) -> str:
        """Secret with keys ``client-id`` and ``client-secret``: the product's own Polaris principal, read by
        its pods in the jobs namespace and by the catalog's bootstrap in the platform namespace (which sets
        the principal's credentials to these values)."""
        return f"floe-{self.name}-catalog-credentials"

    @property
    def object_store_credentials_secret(self) -> str:
        """Secret with keys ``access-key`` and ``secret-key``: the product's own MinIO user, read by its pods in
        the jobs namespace and by MinIO's bucket bootstrap in the platform namespace (which creates the user
        with these values)."""
        return f"floe-{self.name}-object-store-credentials"


def _unique_names(products: tuple[DataProduct, ...]) -> tuple[DataProduct, ...]:
    """Points at the second product of a name: the one to rename."""
    first: dict[str, int] = {}
    for index, product in enumerate(products):
        if product.name in first:
            raise FieldError((index, "name"), f"{product.name!r} already names data_products.{first[product.name]}; "
                                              "each data product needs its own name")
        first[product.name] = index
    return products


def _reads_known(products: tuple[DataProduct, ...]) -> tuple[DataProduct, ...]:
    """A product reads other products of the environment, each once."""
    names = {product.name for product in products}
    for index, product in enumerate(products):
        for position, read in enumerate(product.reads):
            where = (index, "reads", position)
            if read == product.name:
                raise FieldError(where, f"{read!r} is this data product: it writes its own namespace already")
            if read not in names:
                raise FieldError(where, f"{read!r} is not a data product of this environment; known: "
                                        f"{', '.join(sorted(names))}")
            if read in product.reads[:position]:
                raise FieldError(where, f"{read!r} is listed twice")
    return products


DataProducts = Annotated[tuple[DataProduct, ...], AfterValidator(_unique_names), AfterValidator(_reads_known)]
"""The data products of an environment, each name at most once."""
