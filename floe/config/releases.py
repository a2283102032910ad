"""The release catalogue: a platform version names one pinned image for every component.

An upgrade is one change: an environment's ``platform_version``. The catalogue itself lives
in ``floe/releases.yaml`` so that a release bump is a reviewable data diff.
"""

import functools
import re
from importlib import resources
from typing import Annotated

import yaml
from pydantic import AfterValidator, ValidationError

from floe.config.base import StrictModel
from floe.errors import FloeError

CATALOGUE_FILE = "floe/releases.yaml"
_PINNED = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+:(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$")


def _pinned(reference: str) -> str:
    match = _PINNED.match(reference)
    if not match or match["tag"] == "latest":
        raise ValueError(
            f"{reference!r} is not a pinned image: write registry/repository:tag with an explicit "
            "registry and a fixed tag other than 'latest'"
        )
    return reference


Image = Annotated[str, AfterValidator(_pinned)]


class Images(StrictModel):
    """One pinned image per component of a platform release."""

    postgres: Image
    minio: Image
    minio_client: Image
    polaris: Image
    polaris_admin_tool: Image
    otel_collector: Image
    prometheus: Image
    postgres_exporter: Image
    """prometheus-community's exporter, a sidecar of each in-cluster PostgreSQL (runs as the pod's user)."""
    kube_state_metrics: Image
    """Rendered when ``observability.prometheus.cluster_metrics.kube_state_metrics`` is ``render``."""
    grafana: Image
    dagster: Image
    cube: Image
    cubestore: Image
    oauth2_proxy: Image
    """The login in front of the Dagster UI (its distroless image runs as UID 65532, ``nonroot``)."""


class Release(StrictModel):
    """One platform version."""

    images: Images


class Catalogue(StrictModel):
    releases: dict[str, Release]


def image_tag(reference: str) -> str:
    """The tag of a pinned image, which is what ``app.kubernetes.io/version`` reports."""
    return reference.rsplit(":", 1)[1]


@functools.cache
def catalogue() -> Catalogue:
    text = resources.files("floe").joinpath("releases.yaml").read_text(encoding="utf-8")
    try:
        return Catalogue.model_validate(yaml.safe_load(text))
    except ValidationError as error:
        raise FloeError(f"{CATALOGUE_FILE}: {error}") from None


def known_versions() -> list[str]:
    return sorted(catalogue().releases, key=lambda v: tuple(int(p) for p in v.split(".")))


def release(version: str) -> Release:
    """The release named by ``version``; the caller has validated that it exists."""
    return catalogue().releases[version]
