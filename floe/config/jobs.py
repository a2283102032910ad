"""Settings of Layer 4: the jobs namespace's capacity, its runner identity and its network edges."""

from typing import Annotated

from pydantic import Field

from floe.config.base import StrictModel
from floe.config.common import Cidr
from floe.config.resources import ComputeAmounts
from floe.config.types import DnsLabel, DnsSubdomain, Port


class JobsQuota(StrictModel):
    """The jobs namespace's ResourceQuota: what all runs together may hold at once."""

    requests: ComputeAmounts = ComputeAmounts(cpu="16", memory="64Gi")
    limits: ComputeAmounts = ComputeAmounts(cpu="64", memory="256Gi")
    pods: Annotated[int, Field(strict=True, ge=1)] = 40
    jobs: Annotated[int, Field(strict=True, ge=1)] = 200
    """Job objects, finished ones included until their TTL removes them."""


class JobsSettings(StrictModel):
    service_account: DnsLabel = "floe-job-runner"
    """Identity of every run pod (templates and orchestrator runs); it carries no API token."""
    active_deadline_seconds: Annotated[int, Field(strict=True, ge=60)] = 4 * 60 * 60
    """Longest a run may take before Kubernetes stops it, so a hung run cannot hold resources."""
    quota: JobsQuota = JobsQuota()
    max_container: ComputeAmounts = ComputeAmounts(cpu="8", memory="32Gi")
    """LimitRange maximum of one container's limits in the jobs namespace."""
    run_as_user: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] = 10001
    """Non-root UID (and GID) product images are built to run as (Kubernetes allows up to 2147483647);
    at or above 10000 it can never be one of a node's own users."""


class ApiServer(StrictModel):
    """The Kubernetes API server as NetworkPolicies see it.

    Pods call the ``kubernetes`` Service (10.96.0.1:443 on kubeadm), but a policy is checked after that
    address is translated to an endpoint: the API server's own addresses and port (``kubectl get endpoints
    kubernetes -n default``: the control-plane nodes, or a managed cluster's endpoint addresses, usually 6443
    or 443). The Service's address never matches."""

    cidrs: Annotated[tuple[Cidr, ...], Field(min_length=1)]
    port: Port = 6443


class NetworkSettings(StrictModel):
    """Cluster facts the service addresses and NetworkPolicies need."""

    cluster_domain: DnsSubdomain = "cluster.local"
    """The cluster's DNS domain (kubelet ``clusterDomain``)."""
    ingress_namespace: DnsLabel = "ingress-nginx"
    """Namespace of the ingress controller, allowed to reach services that have an Ingress."""
    dns_namespace: DnsLabel = "kube-system"
    dns_pod_labels: dict[str, str] = {"k8s-app": "kube-dns"}
    """Labels of the cluster DNS pods (CoreDNS keeps ``k8s-app: kube-dns``)."""
    api_server: ApiServer | None = None
    """Where the pods that call the Kubernetes API (the Dagster daemon and webserver, kube-state-metrics)
    may connect; required as soon as a rendered pod mounts a service-account token (Dagster's daemon
    launches every run through it), which the render checks."""
