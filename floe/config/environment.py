"""The environment model: what one installation (dev, staging, prod) sets, nothing more.

Every field has a default except ``platform_version``; an environment file holds only what
differs. Charts read these fields and never branch on the environment's name.
"""

from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from floe.config.base import FieldError, StrictModel
from floe.config.catalog import CatalogSettings
from floe.config.common import Endpoint
from floe.config.compute import DEFAULT_COMPUTE, Compute
from floe.config.gitops import GitOpsSettings
from floe.config.jobs import JobsSettings, NetworkSettings
from floe.config.observability import ObservabilitySettings
from floe.config.orchestrator import OrchestratorSettings
from floe.config.products import DataProduct, DataProducts
from floe.config.releases import IMAGE_NAMES, Image, Release, known_versions, release
from floe.config.resources import BUILTIN_PRESETS, JOB_BURST, PresetName, ResourceChoice, Resources
from floe.config.secrets import SecretsSettings
from floe.config.semantic import SemanticSettings
from floe.config.storage import StorageSettings
from floe.config.tls import InClusterTls, IssuedTls
from floe.config.types import DnsLabel, quantity_value


class Namespaces(StrictModel):
    """Where each layer of ADR-0019 runs."""

    platform: DnsLabel = "floe-platform"
    """Layer 3: the long-lived platform services."""
    jobs: DnsLabel = "floe-jobs"
    """Layer 4: the pipeline jobs."""

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.platform == self.jobs:
            raise FieldError((self.first_set("jobs", "platform"),),
                             f"platform and jobs are both {self.platform!r}: the two layers need separate namespaces")
        return self


class Scheduling(StrictModel):
    """How replicated pods are placed."""

    spread_across_nodes: bool = False
    """Require the replicas of a workload to run on different nodes (topology spread)."""


class Environment(StrictModel):
    """One installation of the floe platform, loaded from ``environments/<name>.yaml``."""

    name: SkipJsonSchema[DnsLabel] = Field(exclude=True)
    """The file's name without ``.yaml``; set by the loader, never written in the file."""
    platform_version: str
    """Release of the platform (see ``floe/releases.yaml``) that pins every image."""
    images: dict[str, Image] = Field({}, json_schema_extra={"propertyNames": {"enum": list(IMAGE_NAMES)}})
    """Images replacing the release's, by component (``minio: registry.example.com/minio:RELEASE...``): an image
    built from source, or pinned by digest (``repository@sha256:...`` or ``repository:tag@sha256:...``)."""
    namespaces: Namespaces = Namespaces()
    resource_presets: dict[PresetName, Resources] = {}
    """Presets added to, or replacing, the built-in ones (small, service, large, job-burst)."""
    scheduling: Scheduling = Scheduling()
    storage: StorageSettings = StorageSettings()
    """The storage tier: object store and PostgreSQL instances."""
    catalog: CatalogSettings = CatalogSettings()
    """The catalog tier: Apache Polaris."""
    observability: ObservabilitySettings = ObservabilitySettings()
    """The observability tier: OTLP collector, Prometheus and Grafana."""
    orchestrator: OrchestratorSettings = OrchestratorSettings()
    """The orchestrator tier: Dagster webserver, daemon and code locations."""
    semantic: SemanticSettings = SemanticSettings()
    """The semantic tier: Cube API, refresh worker and Cube Store."""
    gitops: GitOpsSettings
    """Where this environment's rendered tree lives in git and how Argo CD or Flux syncs it."""
    data_products: DataProducts = ()
    """The data products this installation runs; each gets a Dagster code location and job templates."""
    compute: dict[DnsLabel, Compute] = {}
    """Compute engines data products run on, by name, besides the built-in ``duckdb`` (in the job pod)."""
    jobs: JobsSettings = JobsSettings()
    """Layer 4: capacity, identity and deadline of pipeline runs."""
    network: NetworkSettings = NetworkSettings()
    secrets: SecretsSettings = SecretsSettings()
    """Where the platform's Secrets come from: the operator (default) or an External Secrets store."""
    in_cluster_tls: InClusterTls | None = None
    """``plain`` (components talk unencrypted: development), or the cert-manager ``issuer`` that signs the
    servers' certificates (PostgreSQL, MinIO, Polaris) and the ``ca_secret`` clients verify them with. Unset is
    plain, and ``floe validate`` says so: set it either way."""

    @field_validator("platform_version")
    @classmethod
    def _released(cls, version: str) -> str:
        if version not in known_versions():
            raise ValueError(
                f"{version!r} is not in the release catalogue (floe/releases.yaml); "
                f"known versions: {', '.join(known_versions())}"
            )
        return version

    @field_validator("images")
    @classmethod
    def _catalogued_images(cls, images: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(images) - set(IMAGE_NAMES))
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))} is not an image of the release catalogue; "
                             f"known images: {', '.join(IMAGE_NAMES)}")
        return images

    @model_validator(mode="after")
    def _presets_resolve(self) -> Self:
        presets = self.presets
        for path, choice in _resource_choices(self):
            if isinstance(choice, str) and choice not in presets:
                raise FieldError(path, f"unknown resource preset {choice!r}; "
                                       f"known presets: {', '.join(sorted(presets))}")
        return self

    @model_validator(mode="after")
    def _buckets_created(self) -> Self:
        """Points at the bucket field if the file sets it, else at the bucket list that lost its default."""
        buckets = self.storage.object_store.buckets
        for settings, path in ((self.catalog.polaris, ("catalog", "polaris", "warehouse_bucket")),
                               (self.semantic.cube_store, ("semantic", "cube_store", "bucket")),
                               (self.orchestrator.compute_logs, ("orchestrator", "compute_logs", "bucket"))):
            field, bucket = ".".join(path), getattr(settings, path[-1])
            if bucket in buckets:
                continue
            if path[-1] in settings.model_fields_set:
                raise FieldError(path, f"{field} {bucket!r} is not one of storage.object_store.buckets "
                                       f"({', '.join(buckets)})")
            raise FieldError(("storage", "object_store", "buckets"),
                             f"lacks {bucket!r}, the default of {field}: list it, or set {field} to one of these")
        return self

    @model_validator(mode="after")
    def _products_fit(self) -> Self:
        quota, largest = self.jobs.quota, self.jobs.max_container
        for index, product in enumerate(self.data_products):
            where = ("data_products", index)
            if product.compute not in self.engines:
                raise FieldError((*where, "compute"), f"unknown compute {product.compute!r}; "
                                                      f"known: {', '.join(sorted(self.engines))}")
            resources = self.job_resources(product)
            for side, ceiling, name in ((resources.requests, quota.requests, "jobs.quota.requests"),
                                        (resources.limits, quota.limits, "jobs.quota.limits"),
                                        (resources.limits, largest, "jobs.max_container")):
                for resource in ("cpu", "memory"):
                    wanted, allowed = getattr(side, resource), getattr(ceiling, resource)
                    if quantity_value(wanted) > quantity_value(allowed):
                        raise FieldError(where, f"a {product.name} job needs {resource} {wanted}, more than "
                                                f"{name}.{resource} {allowed} allows: no run could ever start")
        return self

    @model_validator(mode="after")
    def _egress_declared(self) -> Self:
        """Platform egress is closed by default: every address a pod calls must say where its pods are."""
        for endpoint in self.endpoints:
            if not endpoint.destinations(self.network.cluster_domain):
                raise FieldError(endpoint.field, f"must say where {endpoint.url} is: it is not a Service of the "
                                 f"cluster (<service>.<namespace>.svc.{self.network.cluster_domain}) and platform "
                                 "egress is closed by default; list its addresses ({cidr, ports}) or pods "
                                 "({namespace, pod_labels, ports})")
        return self

    @property
    def endpoints(self) -> list[Endpoint]:
        """Every address outside the platform's namespaces one of its components calls, by the registry
        component that calls it."""
        collector, cluster = self.observability.otel_collector, self.observability.prometheus.cluster_metrics
        found = []
        if collector.traces_endpoint:
            found.append(Endpoint("otel-collector", ("observability", "otel_collector", "traces_egress"),
                                  collector.traces_endpoint, collector.traces_egress))
        if collector.logs:
            found.append(Endpoint("otel-collector", ("observability", "otel_collector", "logs", "egress"),
                                  collector.logs.endpoint, collector.logs.egress))
        where = ("observability", "prometheus", "cluster_metrics")
        if cluster.kubelet:
            found.append(Endpoint("prometheus", (*where, "kubelet", "egress"), cluster.kubelet.federate,
                                  cluster.kubelet.egress))
        if not isinstance(cluster.kube_state_metrics, str):
            found.append(Endpoint("prometheus", (*where, "kube_state_metrics", "egress"),
                                  cluster.kube_state_metrics.address, cluster.kube_state_metrics.egress))
        auth = self.orchestrator.webserver.auth
        if auth:
            found.append(Endpoint("oauth2-proxy", ("orchestrator", "webserver", "auth", "egress"),
                                  auth.issuer_url, auth.egress))
        mirror = self.semantic.duckdb_extensions
        if mirror and mirror.repository:
            found.append(Endpoint("cube", ("semantic", "duckdb_extensions", "egress"), mirror.repository,
                                  mirror.egress))
        return found

    @property
    def tls(self) -> IssuedTls | None:
        """The issuer and CA of in-cluster TLS; None when the components talk plain."""
        return self.in_cluster_tls if isinstance(self.in_cluster_tls, IssuedTls) else None

    def job_resources(self, product: DataProduct) -> Resources:
        """A product's job pod resources: its own override, else its compute's."""
        if product.resources is not None:
            return self.resources(product.resources)
        compute = self.engines.get(product.compute)
        return self.resources(compute.resources if compute else JOB_BURST)

    @property
    def engines(self) -> dict[str, Compute]:
        """Every compute engine by name: the built-in ones and the environment's own."""
        return {**DEFAULT_COMPUTE, **self.compute}

    @property
    def presets(self) -> dict[str, Resources]:
        return {**BUILTIN_PRESETS, **self.resource_presets}

    @property
    def release(self) -> Release:
        """The catalogue's release with this environment's ``images`` in place of its own."""
        catalogued = release(self.platform_version)
        if not self.images:
            return catalogued
        return Release(images=catalogued.images.model_copy(update=self.images))

    def resources(self, choice: ResourceChoice) -> Resources:
        """Explicit requests and limits for a preset name or explicit values."""
        return self.presets[choice] if isinstance(choice, str) else choice


def _resource_choices(model: StrictModel, prefix: tuple[str | int, ...] = ()
                      ) -> list[tuple[tuple[str | int, ...], ResourceChoice]]:
    """Every ``resources`` field in the tree, with its path, so unknown presets are found anywhere."""
    found: list[tuple[tuple[str | int, ...], ResourceChoice]] = []
    for field in type(model).model_fields:
        value = getattr(model, field)
        path = (*prefix, field)
        if field == "resources":
            found.append((path, value))
        elif isinstance(value, StrictModel):
            found.extend(_resource_choices(value, path))
        elif isinstance(value, tuple | dict):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(item, StrictModel):
                    found.extend(_resource_choices(item, (*path, key)))
    return found
