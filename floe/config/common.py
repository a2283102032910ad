"""Settings shared by many components: storage volumes and the shape of a service's scale."""

import ipaddress
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from floe.config.base import FieldError, StrictModel
from floe.config.resources import ResourceChoice
from floe.config.types import DnsSubdomain, Port, Quantity

Replicas = Annotated[int, Field(strict=True, ge=1, le=100)]


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


class Autoscaling(StrictModel):
    """A HorizontalPodAutoscaler on CPU use, instead of fixed replicas."""

    min_replicas: Replicas = 2
    max_replicas: Replicas = 5
    target_cpu_utilization: Annotated[int, Field(strict=True, ge=10, le=100)] = 75
    """Average CPU use, in percent of the request, the autoscaler aims for."""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise FieldError((self.first_set("max_replicas", "min_replicas"),),
                             f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}")
        return self


class BlueGreen(StrictModel):
    """Upgrade by starting the new version beside the old one (an Argo Rollouts ``Rollout``)."""

    auto_promote: bool = False
    """Switch traffic to the new version once it is ready, without a person promoting it."""
    scale_down_delay_seconds: Annotated[int, Field(strict=True, ge=0)] = 30
    """How long the old version keeps running after the switch, for a fast rollback."""


class Ingress(StrictModel):
    """Expose a UI or API outside the cluster."""

    host: DnsSubdomain
    class_name: DnsSubdomain
    """The IngressClass that serves it (``nginx`` for ingress-nginx). Required: without one, only a
    class the cluster marks as default would serve it; with none, no controller ever gives it an
    address and Argo CD counts it Progressing forever."""
    tls_secret: DnsSubdomain | None = None
    """Secret holding the TLS certificate for ``host``; unset serves plain HTTP."""


class ReplicatedServiceSettings(ServiceSettings):
    """A stateless service: fixed replicas or an autoscaler."""

    replicas: Replicas = 1
    """Fixed replicas; ignored when ``autoscaling`` is set."""
    autoscaling: Autoscaling | None = None


class ScalableServiceSettings(ReplicatedServiceSettings):
    """A stateless service that may also upgrade blue-green."""

    blue_green: BlueGreen | None = None
    """Render an Argo Rollouts blue-green ``Rollout`` instead of a Deployment."""


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
