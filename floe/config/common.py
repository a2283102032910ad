"""Settings shared by many components: storage volumes and the shape of a service's scale."""

from typing import Annotated

from pydantic import Field

from floe.config.base import StrictModel
from floe.config.resources import ResourceChoice
from floe.config.types import DnsSubdomain, Quantity


class Storage(StrictModel):
    """A persistent volume claimed by a component."""

    size: Quantity = "10Gi"
    """Requested capacity. Most storage classes can grow a volume later, none can shrink it."""
    storage_class: DnsSubdomain | None = None
    """StorageClass name; unset uses the cluster's default class."""


class ServiceSettings(StrictModel):
    """Settings every long-lived service has."""

    resources: ResourceChoice = "service"
    """A preset name (``small``, ``service``, ``large``, or one from ``resource_presets``) or explicit values."""


Replicas = Annotated[int, Field(ge=1, le=100)]
