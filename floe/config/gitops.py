"""How a GitOps engine (Argo CD or Flux) finds and applies an environment's rendered tree."""

from typing import Annotated

from pydantic import Field

from floe.config.base import StrictModel
from floe.config.types import DnsLabel, DnsSubdomain

Duration = Annotated[str, Field(pattern=r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", examples=["30s", "5m", "1h30m"])]
"""A Go duration, as both Argo CD and Flux read them."""


class ArgoSync(StrictModel):
    """The Application's sync policy."""

    automated: bool = True
    """Sync on every commit; false leaves each sync to a person (the production default). The root
    app-of-apps follows it, so a commit changing the project or this policy waits for a person too."""
    prune: bool = True
    """With ``automated``: delete objects that left the rendered tree."""
    self_heal: bool = True
    """With ``automated``: undo changes made in the cluster outside git."""


class ArgoRetry(StrictModel):
    """How a failed sync is retried, with exponential backoff."""

    limit: Annotated[int, Field(strict=True, ge=0, le=20)] = 5
    backoff: Duration = "10s"
    factor: Annotated[int, Field(strict=True, ge=1, le=10)] = 2
    max_backoff: Duration = "3m"


class ArgoCDSettings(StrictModel):
    namespace: DnsLabel = "argocd"
    """Namespace Argo CD runs in and its Applications live in."""
    destination: str = "https://kubernetes.default.svc"
    """API server URL of the cluster the platform is deployed to (the in-cluster default)."""
    sync: ArgoSync = ArgoSync()
    retry: ArgoRetry = ArgoRetry()


class FluxSettings(StrictModel):
    namespace: DnsLabel = "flux-system"
    """Namespace the source and kustomize controllers watch."""
    interval: Duration = "10m"
    """How often each step (and the root) is reconciled against git."""
    timeout: Duration = "15m"
    """How long a step may take to become Ready before the steps after it give up."""
    retry_interval: Duration = "1m"
    secret_ref: DnsSubdomain | None = None
    """Secret in ``namespace`` holding the credentials of a private repository, which the
    GitRepository names in ``secretRef`` (source-controller's keys: ``username`` and ``password``,
    or ``bearerToken``, over https; ``identity`` and ``known_hosts`` over ssh). Created by hand before
    the bootstrap, never rendered; unset for a repository anyone may read."""


class GitOpsSettings(StrictModel):
    """Where the rendered tree lives in git, and how each engine syncs it."""

    repository: Annotated[str, Field(pattern=r"^(https://|ssh://|git@)\S+$")]
    """URL of the git repository holding ``dist/`` (https, ssh, or scp-like ``git@host:path``)."""
    revision: str = "main"
    """Branch (or tag) the engines follow."""
    path: str = "dist"
    """Folder of the rendered tree inside the repository."""
    argocd: ArgoCDSettings = ArgoCDSettings()
    flux: FluxSettings = FluxSettings()
