"""Where the platform's Secrets come from: made by the operator (the default), or fetched by the
External Secrets Operator from a secret manager the environment names."""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from floe.config.base import FieldError, StrictModel
from floe.config.gitops import Duration
from floe.config.types import DnsSubdomain

RemoteKeyPrefix = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", max_length=200,
                                       examples=["floe/prod", "platform/floe-prod"])]
"""Path segments joined by ``/``, without a leading or trailing ``/``."""


class SecretStoreRef(StrictModel):
    """An External Secrets Operator store, created outside floe (it holds the credentials of the
    secret manager, which only the operator can provide)."""

    kind: Literal["ClusterSecretStore", "SecretStore"]
    """``ClusterSecretStore``: one store for the whole cluster, which must admit the environment's
    two namespaces; ``SecretStore``: a store of this name must exist in each of the two namespaces."""
    name: DnsSubdomain
    """The store's ``metadata.name``."""


class SecretsSettings(StrictModel):
    """Without a store, every Secret is created by the operator before the first sync. With one,
    every Secret the rendered platform reads is rendered as an ``ExternalSecret`` that fetches it
    from ``<remote_key_prefix>/<namespace>/<secret name>``, one property per key."""

    store: SecretStoreRef | None = None
    """The External Secrets store every Secret is fetched from; unset: the operator makes the Secrets."""
    remote_key_prefix: RemoteKeyPrefix = "floe"
    """Where this environment's secrets live in the secret manager; environments sharing one
    secret manager need distinct prefixes (their namespaces are named alike by default)."""
    refresh_interval: Duration = "1h"
    """How often each ``ExternalSecret`` fetches its values again (a rotated value reaches the
    Secret within this interval; pods read it at their next start)."""

    @model_validator(mode="after")
    def _store_named(self) -> Self:
        unused = [field for field in ("remote_key_prefix", "refresh_interval") if field in self.model_fields_set]
        if self.store is None and unused:
            raise FieldError((unused[0],), f"{unused[0]} applies only with a store: name secrets.store, "
                                           "or remove it")
        return self
