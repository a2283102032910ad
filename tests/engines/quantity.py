"""``resource.Quantity`` as the API server serialises it.

Follows k8s.io/apimachinery pkg/api/resource/quantity.go (``ParseQuantity``, ``CanonicalizeBytes``):
the value is rounded up to nano units; the format is the suffix's (DecimalSI for ``m``/``k``/``M``...,
BinarySI for ``Ki``/``Mi``..., DecimalExponent for ``e3``); BinarySI falls back to DecimalSI below
1024 or for a fraction; DecimalSI picks the largest power of 1000 that keeps the mantissa whole.
So ``1000m`` → ``1``, ``0.5`` → ``500m``, ``1024Mi`` → ``1Gi``, ``2000`` → ``2k``.
"""

import re
from fractions import Fraction
from math import ceil

_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"": 0, "Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE]|)$")


def parse(text: str) -> tuple[Fraction, str]:
    """(value, format) of a quantity; ValueError when Kubernetes would refuse it."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"not a quantity: {text!r}")
    number, suffix = Fraction(match.group(1)), match.group(2)
    if suffix[:1] in ("e", "E"):
        value, fmt = number * Fraction(10) ** int(suffix[1:]), "DecimalExponent"
    elif suffix.endswith("i"):
        if suffix not in _BINARY:
            raise ValueError(f"not a quantity: {text!r}")
        value, fmt = number * 2 ** _BINARY[suffix], "BinarySI"
    else:
        value, fmt = number * Fraction(10) ** _DECIMAL[suffix], "DecimalSI"
    sign = -1 if value < 0 else 1
    value = sign * Fraction(ceil(abs(value) * 10**9), 10**9)  # rounded up to nano, away from zero
    if fmt == "BinarySI" and 0 < abs(value) < 1:
        fmt = "DecimalSI"
    return value, fmt


def canonical(text: str | int | float) -> str:
    value, fmt = parse(str(text))
    if value == 0:
        return "0"
    sign, value = ("-" if value < 0 else ""), abs(value)
    if fmt == "BinarySI" and (value < 1024 or value.denominator != 1):
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        mantissa, power = int(value), 0
        while mantissa % 1024 == 0 and power < 60:
            mantissa, power = mantissa // 1024, power + 10
        return f"{sign}{mantissa}{next(s for s, p in _BINARY.items() if p == power)}"
    mantissa, exponent = int(value * 10**9), -9
    while mantissa % 1000 == 0:
        mantissa, exponent = mantissa // 1000, exponent + 3
    if fmt == "DecimalSI" and exponent <= 18:
        return f"{sign}{mantissa}{next(s for s, e in _DECIMAL.items() if e == exponent)}"
    return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
