"""Data products: what an installation runs on the platform, and the axis along which it grows.

Each data product brings its own Dagster code location (a long-lived gRPC server in the
product's image); its pipeline Job templates are derived from it too.
"""

from typing import Annotated

from pydantic import AfterValidator, Field

from floe.config.base import StrictModel
from floe.config.releases import Image
from floe.config.types import DnsLabel

PythonModule = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", max_length=200)
]


class DataProduct(StrictModel):
    """One data product and the image holding its Dagster definitions."""

    name: Annotated[DnsLabel, Field(max_length=50)]
    """Unique name; its code location is the Service ``dagster-code-<name>`` (hence at most 50 characters)."""
    image: Image
    """Pinned image of the product's code (registry/repository:tag); also the image its runs use."""
    module: PythonModule
    """Python module holding the product's Dagster definitions (``dagster api grpc -m <module>``)."""
    description: str | None = None


def _unique_names(products: tuple[DataProduct, ...]) -> tuple[DataProduct, ...]:
    names = [product.name for product in products]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"data product names must be unique; repeated: {', '.join(repeated)}")
    return products


DataProducts = Annotated[tuple[DataProduct, ...], AfterValidator(_unique_names)]
"""The data products of an environment, each name at most once."""
