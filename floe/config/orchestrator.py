"""Settings of the orchestrator tier: the Dagster webserver, daemon and code locations."""

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from floe.config.base import FieldError, StrictModel
from floe.config.common import (
    Egress,
    Ingress,
    ReplicatedServiceSettings,
    ScalableServiceSettings,
    ServiceSettings,
)
from floe.config.resources import SMALL, ResourceChoice
from floe.config.types import BucketName, DnsSubdomain, KeyPrefix


def _https_url(value: str) -> str:
    if not re.fullmatch(r"https://\S+", value):
        raise ValueError(f"{value!r} is not an https:// URL: the provider's tokens and keys are only trusted over TLS")
    return value


EmailDomain = Annotated[str, Field(pattern=r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+)$")]
"""A mail domain such as ``example.com``, or ``*`` for any address the provider vouches for."""
GroupName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^\S+$")]


class UiLogin(ReplicatedServiceSettings):
    """The login in front of the Dagster UI: oauth2-proxy with an OpenID Connect provider.

    Open-source Dagster has no login of its own: whoever reaches the webserver can launch, re-run
    and terminate runs. So the UI's Ingress sends every request to oauth2-proxy, which lets it
    through to the webserver only with a session from the provider, for an allowed address and group.
    The OIDC client must allow ``https://<ingress host>/oauth2/callback`` as a redirect URI.
    """

    resources: ResourceChoice = SMALL
    provider: Literal["oidc"] = "oidc"
    """oauth2-proxy's generic OpenID Connect provider (Keycloak, Dex, Entra ID, Okta, Google...)."""
    issuer_url: Annotated[str, AfterValidator(_https_url),
                          Field(json_schema_extra={"pattern": r"^https://\S+$"})]
    """The provider's issuer; oauth2-proxy reads ``<issuer>/.well-known/openid-configuration`` at start."""
    client_id: Annotated[str, Field(min_length=1, pattern=r"^\S+$")]
    egress: Annotated[tuple[Egress, ...], Field(min_length=1)]
    """The issuer's addresses (and its keys' and token endpoint's, if elsewhere), usually ports [443]:
    oauth2-proxy's pods may reach only these outside the cluster."""
    credentials_secret: DnsSubdomain = "dagster-ui-login"
    """Secret in the platform namespace with keys ``client-secret`` (the OIDC client's secret) and
    ``cookie-secret`` (16, 24 or 32 bytes, base64url allowed: the key encrypting the session cookie)."""
    email_domains: Annotated[tuple[EmailDomain, ...], Field(min_length=1)]
    """Addresses allowed in, by domain; ``*``: any address the provider vouches for (then rely on groups)."""
    allowed_groups: tuple[GroupName, ...] = ()
    """Only members of one of these groups (the ID token's ``groups`` claim) get in; empty: any group."""


class ViewerSettings(ReplicatedServiceSettings):
    """A second webserver, read-only (``dagster-webserver --read-only``), behind a login of its own.

    For people who look without acting: runs, logs, assets and schedules, but no launching,
    re-executing, terminating or switching schedules. Its pods get no Kubernetes token and no
    run launcher. Its login uses ``auth``'s OIDC client, which must also allow
    ``https://<viewer host>/oauth2/callback``, and admits ``allowed_groups`` instead of ``auth``'s.
    """

    ingress: Ingress
    """Its own host; a request reaches the read-only webserver only through its login."""
    allowed_groups: Annotated[tuple[GroupName, ...], Field(min_length=1)]
    """Members of one of these groups (the ID token's ``groups`` claim) get in."""


class WebserverSettings(ScalableServiceSettings):
    """The Dagster UI and GraphQL API (stateless: any number of replicas)."""

    ingress: Ingress | None = None
    """Expose the UI outside the cluster, through ``auth``; unset keeps it reachable only through the cluster."""
    auth: UiLogin | None = None
    """Required with ``ingress``: the OIDC login every request from outside the cluster passes."""
    viewer: ViewerSettings | None = None
    """A read-only UI for viewers, on a host of its own; needs ``auth``."""

    @model_validator(mode="after")
    def _no_ui_without_login(self) -> Self:
        if self.ingress and not self.auth:
            raise FieldError(("ingress",), "exposes the Dagster UI, which has no login of its own (whoever reaches "
                             "it can launch runs): set orchestrator.webserver.auth (an OIDC login through "
                             "oauth2-proxy), or remove the Ingress")
        if self.viewer and not self.auth:
            raise FieldError(("viewer",), "needs orchestrator.webserver.auth: the read-only UI's login uses the same "
                             "OIDC client")
        return self


class ComputeLogSettings(StrictModel):
    """Where the stdout and stderr of every run's steps are kept: Dagster's S3 compute log manager on MinIO.

    Without it they stay in the run pod's scratch volume and are gone with the pod. A run uploads
    its own logs with its data product's object-store identity (the ``AWS_*`` variables of its
    container context), whose MinIO policy allows writing under ``prefix``; the webserver reads them
    back, for the UI, with its own identity (``credentials_secret``).
    """

    bucket: BucketName = "floe-warehouse"
    """Bucket holding the logs; must be one of ``storage.object_store.buckets``."""
    prefix: KeyPrefix = "dagster/compute-logs"
    """Key prefix of the logs inside ``bucket``, apart from the catalog's tables."""
    credentials_secret: DnsSubdomain = "dagster-compute-logs-credentials"
    """Secret in the platform namespace with keys ``access-key`` and ``secret-key``: the MinIO user
    ``floe-compute-logs``, allowed to list and read under ``prefix``, used by the webserver to show the logs;
    MinIO's bucket bootstrap creates it with these values."""
    upload_interval_seconds: Annotated[int, Field(strict=True, ge=1, le=3600)] = 30
    """How often a running step's partial logs are uploaded, so the UI shows a long step's progress."""


class OrchestratorSettings(StrictModel):
    """Dagster: run, event-log and schedule storage on its PostgreSQL (``storage.postgres.dagster``).

    Credentials come from that database's Secret (keys ``username`` and ``password``). Runs are
    Jobs in the jobs namespace that write to the same database, so the Secret must exist under
    the same name in both the platform and the jobs namespace; it is never rendered, only referenced.
    """

    webserver: WebserverSettings = WebserverSettings()
    daemon: ServiceSettings = ServiceSettings()
    """The single scheduler and run-queue daemon (always one replica)."""
    code_locations: ServiceSettings = ServiceSettings()
    """Resources of each data product's code location (one gRPC server per product)."""
    compute_logs: ComputeLogSettings = ComputeLogSettings()
    max_concurrent_runs: Annotated[int, Field(strict=True, ge=1, le=1000)] = 10
    """Runs executing at once; further runs wait in the queue."""

