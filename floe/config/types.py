"""Constrained scalar types shared by the environment models.

Each validator raises ``ValueError`` with a sentence that says what is allowed; the loader
turns it into ``file: field: message``.
"""

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic.fields import FieldInfo

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


_MULTIPLIERS = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


_PARTS = re.compile(r"^([+]?[0-9.]+)(.*)$")


def quantity_decimal(value: str | int) -> Decimal:
    """The exact size of a valid quantity (cores, bytes), for sums and comparisons.

    The same arithmetic as the Kubernetes client's ``parse_quantity``, without importing that
    client package (a third of a second at every start, for one function).
    """
    parts = _PARTS.match(str(value))
    assert parts, f"{value!r} is not a quantity"  # callers pass validated quantities
    number, suffix = parts.groups()
    if suffix in _MULTIPLIERS:
        return Decimal(number) * _MULTIPLIERS[suffix]
    return Decimal(number + suffix)  # a decimal exponent, such as 1e3


def quantity_value(value: str) -> float:
    """The size of a valid quantity as a float, for comparisons (requests against limits)."""
    return float(quantity_decimal(value))


def _schema(pattern: re.Pattern[str], max_length: int) -> FieldInfo:
    """Publish the pattern in the JSON Schema for editors; validation stays with the clearer validator."""
    field: FieldInfo = Field(json_schema_extra={"pattern": pattern.pattern, "maxLength": max_length})
    return field


DnsLabel = Annotated[str, AfterValidator(_dns_label), _schema(_DNS_LABEL, 63)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain), _schema(_DNS_SUBDOMAIN, 253)]
def _number_as_text(value: object) -> object:
    """YAML reads ``cpu: 2`` as a number; a quantity is its text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Quantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_quantity),
                     Field(json_schema_extra={"pattern": _QUANTITY.pattern})]
BucketName = Annotated[str, AfterValidator(_bucket), _schema(_BUCKET, 63)]
KeyPrefix = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$")]
"""A key prefix inside a bucket: lowercase path segments, no leading or trailing ``/``."""
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
