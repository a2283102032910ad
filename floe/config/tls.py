"""In-cluster TLS: whether the platform's components talk to each other encrypted, and who signs.

An environment says it in words, one way or the other: ``in_cluster_tls: plain`` (development: the
servers have no certificate and the clients do not ask for TLS), or a cert-manager issuer that signs
a ``Certificate`` per server and the Secret holding that issuer's CA, which every client trusts. Left
unset, nothing is encrypted and ``floe validate`` says so, so the choice is never silent.
"""

from typing import Annotated, Literal

from pydantic import BeforeValidator, Discriminator, Tag

from floe.config.base import StrictModel
from floe.config.types import DnsSubdomain


class CertManagerIssuer(StrictModel):
    """The cert-manager issuer that signs the servers' certificates (``spec.issuerRef`` of each Certificate)."""

    kind: Literal["Issuer", "ClusterIssuer"]
    """``Issuer``: one in the platform namespace; ``ClusterIssuer``: one for the whole cluster."""
    name: DnsSubdomain


class IssuedTls(StrictModel):
    """Servers serve TLS with certificates cert-manager issues; clients verify them (``verify-full``)."""

    issuer: CertManagerIssuer
    """It must write ``ca.crt`` into each certificate's Secret (a CA or Vault issuer does; ACME does not)."""
    ca_secret: DnsSubdomain = "floe-in-cluster-ca"
    """Secret with key ``ca.crt``, the issuer's CA, in the platform and jobs namespaces: what every client
    trusts. Provided by the operator (or an ExternalSecret, or trust-manager), never by the servers'
    certificates, whose Secrets hold private keys and live in the platform namespace only."""


def _plain(value: object) -> object:
    if value != "plain":
        raise ValueError(f"{value!r} is neither plain nor an issuer: write plain (no TLS between the components), "
                         "or issuer: {kind: Issuer or ClusterIssuer, name: <cert-manager issuer>}")
    return value


InClusterTls = Annotated[
    Annotated[Literal["plain"], BeforeValidator(_plain), Tag("plain")] | Annotated[IssuedTls, Tag("issued")],
    # A mapping is an issuer's settings, anything else must be `plain`: each mistake gets the message that fits.
    Discriminator(lambda value: "issued" if isinstance(value, dict | IssuedTls) else "plain"),
]
