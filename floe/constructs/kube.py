"""The typed Kubernetes 1.32 API (``cdk8s_plus_32.k8s``) and cached bridge values.

``Quantity`` and ``IntOrString`` factories each cost a round trip to the jsii bridge; the same
few values recur in every manifest, so each is created once.
"""

import functools

from cdk8s_plus_32 import k8s

__all__ = ["k8s", "int_or_string", "quantity"]


@functools.cache
def quantity(value: str) -> k8s.Quantity:
    return k8s.Quantity.from_string(value)


@functools.cache
def int_or_string(value: int | str) -> k8s.IntOrString:
    if isinstance(value, int):
        return k8s.IntOrString.from_number(value)
    return k8s.IntOrString.from_string(value)
