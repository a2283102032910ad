"""A CA certificate a client trusts: key ``ca.crt`` of a Secret, mounted read-only in the client's pod.

Servers signed by a private CA (the in-cluster TLS issuer, an external database, object store or trace
backend) are verified against it. Every client mounts one the same way, each under a volume name and a
directory of its own, so a pod that trusts several (its database's and the object store's) keeps them apart.
"""

from dataclasses import dataclass

from floe.constructs.kube import k8s

CA_CERT = "ca.crt"
"""The key of the CA certificate in its Secret (as cert-manager, trust-manager and most operators write it)."""


@dataclass(frozen=True)
class TrustedCa:
    secret: str
    volume_name: str
    directory: str
    """Where the pod mounts it: the file is ``<directory>/ca.crt``."""

    @property
    def file(self) -> str:
        return f"{self.directory}/{CA_CERT}"

    def volume(self) -> k8s.Volume:
        return k8s.Volume(name=self.volume_name, secret=k8s.SecretVolumeSource(
            secret_name=self.secret, items=[k8s.KeyToPath(key=CA_CERT, path=CA_CERT)]))

    def mount(self, path: str | None = None) -> k8s.VolumeMount:
        """Mounted at its directory, or at ``path`` where a program looks for CAs itself (``mc``'s ``certs/CAs``)."""
        return k8s.VolumeMount(name=self.volume_name, mount_path=path or self.directory, read_only=True)


class TrustsCa:
    """How a client's pod trusts the server it reaches (a database, the object store): ``ca`` is the CA that
    signed the server's certificate, or None (the system's CAs, or no TLS)."""

    @property
    def ca(self) -> TrustedCa | None:
        raise NotImplementedError

    @property
    def ca_file(self) -> str | None:
        return self.ca.file if self.ca else None

    def ca_volumes(self) -> tuple[k8s.Volume, ...]:
        return ca_volumes(self.ca)

    def ca_mounts(self, path: str | None = None) -> tuple[k8s.VolumeMount, ...]:
        return ca_mounts(self.ca, path)


def ca_volumes(ca: TrustedCa | None) -> tuple[k8s.Volume, ...]:
    """The pod's volume for ``ca``: none without one (the system's CAs, or no TLS)."""
    return (ca.volume(),) if ca else ()


def ca_mounts(ca: TrustedCa | None, path: str | None = None) -> tuple[k8s.VolumeMount, ...]:
    return (ca.mount(path),) if ca else ()
