"""A server's TLS certificate: a cert-manager ``Certificate`` for its Service, and the Secret it becomes.

cert-manager writes the issued certificate into the Secret named by ``spec.secretName``, keys
``tls.crt`` (the chain), ``tls.key`` (the private key) and ``ca.crt`` (the issuer's CA, where the
issuer knows it); renews it before it expires and rewrites the Secret, which the kubelet then
refreshes in every pod that mounts it. The platform renders the Certificate only, never the Secret.
"""

from dataclasses import dataclass, field

import cdk8s

from floe.config.tls import CertManagerIssuer, IssuedTls
from floe.constructs.kube import Scope, k8s, rendered_in_python
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.constructs.trust import TrustedCa
from floe.imports.io import cert_manager
from floe.tiers import Step

Certificate = rendered_in_python(cert_manager.Certificate)
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"
"""The keys cert-manager writes into a Certificate's Secret, with ``ca.crt`` (:data:`CA_CERT`)."""
ISSUER_GROUP = "cert-manager.io"
SERVER_USAGES = (cert_manager.CertificateSpecUsages.SERVER_AUTH, cert_manager.CertificateSpecUsages.DIGITAL_SIGNATURE,
                 cert_manager.CertificateSpecUsages.KEY_ENCIPHERMENT)
"""A TLS server's key usages (cert-manager's default set, ``digital signature`` and ``key encipherment``, with
``server auth``): the certificate proves the server, never a client."""


IN_CLUSTER_CA_DIR = "/etc/floe/in-cluster-ca"


def trusted_ca(tls: IssuedTls | None) -> TrustedCa | None:
    """The CA that signed the platform's server certificates, as its clients mount it, where the environment
    has in-cluster TLS (``Environment.tls``); None when plain."""
    return TrustedCa(tls.ca_secret, "in-cluster-ca", IN_CLUSTER_CA_DIR) if tls else None


def service_dns_names(service: str, namespace: str, cluster_domain: str) -> tuple[str, ...]:
    """Every name a client in the cluster may dial a Service by: the search-path short forms and the full
    ``<service>.<namespace>.svc.<cluster domain>`` the platform itself uses (``floe.components.dns``)."""
    internal = f"{service}.{namespace}.svc"
    return (service, f"{service}.{namespace}", internal, f"{internal}.{cluster_domain}")


@dataclass(frozen=True)
class ServingCertificate:
    """The certificate of one server: its names, its Secret, and how its pod mounts the Secret."""

    name: str
    """The Certificate's name, and its Secret's."""
    dns_names: tuple[str, ...]
    volume_name: str = "tls"

    @property
    def secret(self) -> str:
        return self.name

    def volume(self, files: tuple[tuple[str, str], ...] = ((TLS_CERT, TLS_CERT), (TLS_KEY, TLS_KEY))) -> k8s.Volume:
        """The Secret as a volume, ``files`` (key, path) in it: owner and group may read (the pod's fsGroup is
        the server's group), so a server that refuses a key others may read (PostgreSQL) accepts it."""
        return k8s.Volume(name=self.volume_name, secret=k8s.SecretVolumeSource(
            secret_name=self.secret, default_mode=0o440,
            items=[k8s.KeyToPath(key=key, path=path) for key, path in files]))

    def mount(self, path: str) -> k8s.VolumeMount:
        return k8s.VolumeMount(name=self.volume_name, mount_path=path, read_only=True)


@dataclass(frozen=True)
class ServingTls:
    """What serving TLS adds to a server's pod; empty where the environment is plain."""

    args: tuple[str, ...] = ()
    mounts: tuple[k8s.VolumeMount, ...] = ()
    volumes: tuple[k8s.Volume, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    """Pod-template annotations (a config file's checksum) that roll the pods when the TLS settings change."""


def serving_certificate(service: str, namespace: str, cluster_domain: str,
                        peers: tuple[str, ...] = ()) -> ServingCertificate:
    """The certificate of ``service`` (``<service>-server-tls``, a name apart from an Ingress's ``tls_secret``),
    valid for its names and for ``peers``, the pod names a StatefulSet's members dial each other by
    (``<pod>.<headless service>.<namespace>.svc...``)."""
    return ServingCertificate(f"{service}-server-tls", (*service_dns_names(service, namespace, cluster_domain), *peers))


def render_certificate(scope: Scope, identity: AppIdentity, namespace: str, certificate: ServingCertificate,
                       issuer: CertManagerIssuer) -> None:
    """The Certificate, synced before its server (``prepare``): the server's pod waits for the Secret."""
    Certificate(
        scope, f"certificate-{certificate.name}",
        metadata=_binding_metadata(object_meta(identity, certificate.name, namespace, Step.PREPARE)),
        spec=cert_manager.CertificateSpec(
            secret_name=certificate.secret,
            dns_names=list(certificate.dns_names),
            usages=list(SERVER_USAGES),
            issuer_ref=cert_manager.CertificateSpecIssuerRef(name=issuer.name, kind=issuer.kind, group=ISSUER_GROUP),
        ),
    )


def _binding_metadata(meta: k8s.ObjectMeta) -> cdk8s.ApiObjectMetadata:
    """floe's metadata (name, namespace, labels, sync wave) in the form a generated binding takes."""
    return cdk8s.ApiObjectMetadata(name=meta.name, namespace=meta.namespace, labels=meta.labels,
                                   annotations=meta.annotations)
