"""Settings shared by many components: storage volumes and the shape of a service's scale."""

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from floe.config.base import FieldError, StrictModel
from floe.config.resources import SERVICE, ResourceChoice
from floe.config.types import DnsLabel, DnsSubdomain, Port, Quantity

Replicas = Annotated[int, Field(strict=True, ge=1, le=100)]


class Storage(StrictModel):
    """A persistent volume claimed by a component."""

    size: Quantity = "10Gi"
    """Requested capacity. Most storage classes can grow a volume later, none can shrink it."""
    storage_class: DnsSubdomain | None = None
    """StorageClass name; unset uses the cluster's default class."""


class ServiceSettings(StrictModel):
    """Settings every long-lived service has."""

    resources: ResourceChoice = SERVICE
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


class InCluster(StrictModel):
    """Pods of another namespace of the cluster. NetworkPolicies match the pods a Service's traffic is
    translated to, on their own port, never the Service's address: name the pods and their ports."""

    namespace: DnsLabel
    pod_labels: dict[str, str] = {}
    """Labels of the pods; empty: every pod of ``namespace``."""
    ports: Annotated[tuple[Port, ...], Field(min_length=1)]
    """The pods' own ports (a Service's ``targetPort``), which may differ from the Service's."""


def _destination(value: object) -> str:
    return "in-cluster" if isinstance(value, InCluster) or (isinstance(value, dict) and "namespace" in value) \
        else "outside"


Destination = Annotated[
    Annotated[Egress, Tag("outside")] | Annotated[InCluster, Tag("in-cluster")], Discriminator(_destination)]
"""Where a platform pod may connect: addresses outside the cluster (``cidr``) or pods of a namespace."""


@dataclass(frozen=True)
class Endpoint:
    """An address a component of the platform calls, outside the platform's namespaces, as an environment
    declares it: the NetworkPolicies open egress to its ``egress`` or, for a Service of the cluster named
    ``<service>.<namespace>.svc[.<cluster domain>]``, to its namespace's pods on the address's port."""

    caller: str
    """The registry component whose pods call it."""
    field: tuple[str | int, ...]
    """Where the environment declares its ``egress``."""
    url: str
    """``scheme://host[:port]...`` or ``host:port``."""
    egress: tuple[Egress | InCluster, ...]

    def destinations(self, cluster_domain: str) -> tuple[Egress | InCluster, ...]:
        """What its ``egress`` declares, else its Service's namespace on its port; () if neither is known."""
        if self.egress:
            return self.egress
        parts = urlsplit(self.url if "://" in self.url else f"//{self.url}")
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        service = re.fullmatch(rf"[a-z0-9-]+\.([a-z0-9-]+)\.svc(\.{re.escape(cluster_domain)})?", parts.hostname or "")
        return (InCluster(namespace=service[1], ports=(port,)),) if service and port else ()

