"""The release catalogue: a platform version names one pinned image for every component.

An upgrade is one change: an environment's ``platform_version``. The catalogue itself lives
in ``floe/releases.yaml`` so that a release bump is a reviewable data diff. Its advisories name
the known vulnerabilities of catalogued images, which ``floe validate`` reports per environment.
"""

import functools
import re
from collections.abc import Collection
from datetime import datetime
from importlib import resources
from typing import Annotated, Self

import yaml
from pydantic import AfterValidator, ValidationError, field_validator, model_validator

from floe.config.base import StrictModel
from floe.errors import FloeError

CATALOGUE_FILE = "floe/releases.yaml"
_PINNED = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?"
                     r"(@sha256:(?P<digest>[0-9a-f]{64}))?$")
MINIO_RELEASE = "RELEASE.%Y-%m-%dT%H-%M-%SZ"
"""MinIO names each release by its UTC timestamp, so releases order as these times do."""


def _pinned(reference: str) -> str:
    match = _PINNED.match(reference)
    if not match or not (match["tag"] or match["digest"]) or match["tag"] == "latest":
        raise ValueError(
            f"{reference!r} is not a pinned image: write registry/repository:tag with an explicit "
            "registry and a fixed tag other than 'latest', or registry/repository@sha256:<64 hex digits>, "
            "or both (registry/repository:tag@sha256:...)"
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


IMAGE_NAMES = tuple(Images.model_fields)


class Advisory(StrictModel):
    """A known vulnerability of one component's images: which tags it affects and the release that fixes it.

    Tags are matched whatever the registry, so an image rebuilt into a private registry is still checked.
    """

    component: str
    cve: str
    fixed: str
    """The first release without the vulnerability, as the component's tags name it."""
    summary: str
    """One line that follows "affected by <cve> (fixed in <release>),"."""
    remedy: str
    """How to get an image of the fixed release, said before "and set images.<component> to it"."""
    tags: tuple[str, ...] = ()
    """Exactly these tags are affected."""
    before: str | None = None
    """Every MinIO ``RELEASE.<timestamp>`` tag older than this one is affected."""

    @field_validator("component")
    @classmethod
    def _catalogued(cls, component: str) -> str:
        if component not in IMAGE_NAMES:
            raise ValueError(f"{component!r} is not an image of the catalogue; known images: {', '.join(IMAGE_NAMES)}")
        return component

    @field_validator("before")
    @classmethod
    def _timestamp(cls, before: str | None) -> str | None:
        if before is not None:
            datetime.strptime(before, MINIO_RELEASE)
        return before

    @model_validator(mode="after")
    def _says_which(self) -> Self:
        if not self.tags and self.before is None:
            raise ValueError(f"{self.cve}: say which images are affected with tags or before")
        return self

    def affects(self, tag: str) -> bool | None:
        """Whether an image with this tag is affected; None when the tag cannot be placed among releases."""
        if tag in self.tags:
            return True
        if self.before is None:
            return False
        try:
            released = datetime.strptime(tag, MINIO_RELEASE)
        except ValueError:
            return None
        return released < datetime.strptime(self.before, MINIO_RELEASE)

    def warning(self, reference: str) -> str | None:
        """What ``floe validate`` says about an environment that renders ``reference``, if anything."""
        tag, _digest = pinned_parts(reference)
        fixed = f"{self.cve} (fixed in {self.fixed}), {self.summary}"
        if tag is None:
            return (f"{self.component} {reference} is pinned by digest alone, so its release cannot be checked against "
                    f"{fixed}: write it as repository:<release>@sha256:<digest> to have it checked")
        affected = self.affects(tag)
        if affected is None:
            return f"{self.component} {reference}: the release of tag {tag} cannot be checked against {fixed}"
        if not affected:
            return None
        return (f"{self.component} {reference} is affected by {fixed}: {self.remedy} "
                f"and set images.{self.component} to it")


class Catalogue(StrictModel):
    releases: dict[str, Release]
    advisories: tuple[Advisory, ...] = ()


def image_tag(reference: str) -> str:
    """What ``app.kubernetes.io/version`` reports: the tag, else ``sha256-`` and the digest's first 12 digits.

    A label value allows neither ``@`` nor ``:`` and at most 63 characters, so a digest is shortened.
    """
    tag, digest = pinned_parts(reference)
    return tag or f"sha256-{digest[:12]}"


def pinned_parts(reference: str) -> tuple[str | None, str]:
    """The tag (None when pinned by digest alone) and digest ('' when pinned by tag alone) of a pinned image."""
    match = _PINNED.match(reference)
    if match is None:
        raise ValueError(f"{reference!r} is not a pinned image")
    return match["tag"], match["digest"] or ""


def advisory_warnings(images: Images, rendered: Collection[str]) -> list[str]:
    """A warning for every image of a release that a known advisory affects or cannot be checked against, among
    those the render runs (``rendered``): MinIO's is none of them when the object store is external."""
    found = [advisory.warning(reference) for advisory in catalogue().advisories
             if (reference := getattr(images, advisory.component)) in rendered]
    return [warning for warning in found if warning]


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
