"""Constrained scalar types shared by the environment models.

Each validator raises ``ValueError`` with a sentence that says what is allowed; the loader
turns it into ``file: field: message``.
"""

import re
from typing import Annotated

from kubernetes.utils.quantity import parse_quantity
from pydantic import AfterValidator, BeforeValidator, Field

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Kubernetes' own quantity grammar (apimachinery resource.Quantity).
_QUANTITY = re.compile(
    r"^[+]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 subdomain: use lowercase letters, digits, '-' and '.', "
            "each part starting and ending with a letter or digit"
        )
    return value


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity: use a number with an optional suffix "
            "such as 500m, 2, 512Mi, 1Gi or 1G (suffixes are case-sensitive)"
        )
    return value


def _bucket(value: str) -> str:
    if not _BUCKET.match(value) or ".." in value:
        raise ValueError(
            f"{value!r} is not an S3 bucket name: use 3-63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def quantity_value(value: str) -> float:
    """The numeric size of a validated quantity, for comparisons (requests against limits)."""
    return float(parse_quantity(value))


def _schema(pattern: re.Pattern[str], max_length: int) -> Field:
    """Publish the pattern in the JSON Schema for editors; validation stays with the clearer validator."""
    return Field(json_schema_extra={"pattern": pattern.pattern, "maxLength": max_length})


DnsLabel = Annotated[str, AfterValidator(_dns_label), _schema(_DNS_LABEL, 63)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain), _schema(_DNS_SUBDOMAIN, 253)]
def _number_as_text(value: object) -> object:
    """YAML reads ``cpu: 2`` as a number; a quantity is its text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Quantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_quantity),
                     Field(json_schema_extra={"pattern": _QUANTITY.pattern})]
BucketName = Annotated[str, AfterValidator(_bucket), _schema(_BUCKET, 63)]
Port = Annotated[int, Field(ge=1, le=65535)]
