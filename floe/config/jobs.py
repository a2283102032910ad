"""Settings of Layer 4: the jobs namespace's capacity, its runner identity and its network edges."""

from typing import Annotated

from pydantic import Field

from floe.config.base import StrictModel
from floe.config.resources import ComputeAmounts
from floe.config.types import DnsLabel, DnsSubdomain


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
    object_store_credentials_secret: DnsSubdomain = "floe-jobs-object-store-credentials"
    """Secret in the jobs namespace with keys ``root-user`` and ``root-password`` (MinIO's key
    names): the object-store identity jobs use."""


class NetworkSettings(StrictModel):
    """Cluster facts the service addresses and NetworkPolicies need."""

    cluster_domain: DnsSubdomain = "cluster.local"
    """The cluster's DNS domain (kubelet ``clusterDomain``)."""
    ingress_namespace: DnsLabel = "ingress-nginx"
    """Namespace of the ingress controller, allowed to reach services that have an Ingress."""
    dns_namespace: DnsLabel = "kube-system"
    dns_pod_labels: dict[str, str] = {"k8s-app": "kube-dns"}
    """Labels of the cluster DNS pods (CoreDNS keeps ``k8s-app: kube-dns``)."""
