"""What the Secrets of an environment hold in a cluster, and who must provide the missing ones.

``floe secrets check|init`` and ``floe platform doctor`` read these rules; the commands only
parse and print. From a cluster only a Secret's key names are ever read, never its values.
Values floe generates go straight to the cluster and are never printed, logged or written to a
file. What only the operator can know (an external database's user, a Snowflake service user, a
TLS certificate, a git repository's credentials) is named, never invented: which Secrets those
are follows from the environment's settings, not from a Secret's name.
"""

import secrets
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from floe.components.minio_users import USER_ACCESS_KEY, USER_SECRET_KEY, object_store_users
from floe.config.common import Ingress
from floe.config.compute import SnowflakeCompute
from floe.config.environment import Environment
from floe.config.storage import ExternalObjectStore, ExternalPostgres
from floe.errors import FloeError
from floe.rendered import JsonView
from floe.security.secrets import SecretUse, inventory, issued_secrets

SECRET_KEYS = frozenset({"password", "root-password", "admin-password", "client-secret", "api-secret", "secret-key"})
"""Keys that hold a password or a shared secret: 32 random bytes, URL-safe (43 characters, none of
``=``, ``,``, ``:`` or ``;``, which MinIO, Polaris' ``realm,id,secret`` lists and URLs reserve)."""
IDENTIFIER_KEYS = frozenset({"username", "root-user", "admin-user", "client-id", "access-key"})
"""Keys that name a user or client: ``floe_`` and 8 random hex digits (13 characters), a valid
PostgreSQL role without quoting and within MinIO's 3 to 20 characters for an access key."""
KEY_PAIR = ("private.pem", "public.pem")
"""The token broker's RSA key pair: PKCS#8 private key and the public key derived from it."""
RSA_BITS = 2048
CREATED_BY = "floe.dev/created-by"
NAMESPACE = "{namespace}"
"""Stands for the namespace in :func:`operator_secrets`' commands: one Secret name may be read in two."""


class SecretCluster(Protocol):
    def secret_keys(self, namespace: str, name: str) -> list[str] | None: ...


@dataclass(frozen=True)
class SecretState:
    """One Secret of the environment and the key names the cluster holds (None: it does not exist)."""

    use: SecretUse
    found: tuple[str, ...] | None

    @property
    def lacking(self) -> tuple[str, ...]:
        return tuple(key for key in self.use.keys if key not in (self.found or ()))

    @property
    def ok(self) -> bool:
        return self.found is not None and not self.lacking

    @property
    def status(self) -> str:
        if self.found is None:
            return "missing"
        return f"lacks keys {', '.join(self.lacking)}" if self.lacking else "ok"


def required(environment: Environment, objects: Iterable[JsonView]) -> list[SecretUse]:
    """The inventory, plus the Flux repository's Secret, which no pod reads (source-controller does).

    Its keys depend on the protocol (``username``/``password``, ``bearerToken``, or ``identity`` and
    ``known_hosts``), so only its existence is checked.
    """
    uses = inventory(objects)
    flux = environment.gitops.flux
    if flux.secret_ref:
        uses.append(SecretUse(flux.namespace, flux.secret_ref, (), ("GitRepository (Flux source-controller)",)))
    return uses


def states(uses: Iterable[SecretUse], cluster: SecretCluster) -> list[SecretState]:
    """What the cluster holds of each Secret: key names only."""
    found = []
    for use in uses:
        keys = cluster.secret_keys(use.namespace, use.name)
        found.append(SecretState(use, None if keys is None else tuple(sorted(keys))))
    return found


# -- who provides a missing Secret --------------------------------------------------------------------------


class Provider(StrEnum):
    EXISTS = "exists"
    INCOMPLETE = "incomplete"
    """Exists but lacks keys: left alone, since rewriting it would change values its readers already use."""
    FLOE = "floe"
    EXTERNAL = "external"
    """An ExternalSecret of the render creates it from the environment's secret store at sync."""
    OPERATOR = "operator"


@dataclass(frozen=True)
class Provision:
    """Who provides one Secret, and in words what that means (the fix, for an operator's Secret)."""

    state: SecretState
    provider: Provider
    detail: str = ""


def provisions(found: list[SecretState], environment: Environment, objects: Iterable[JsonView]) -> list[Provision]:
    """Who provides each Secret; a missing one is floe's to generate only if nothing says otherwise."""
    objects = list(objects)
    operator = operator_secrets(environment)
    external = external_secrets(objects)
    present = {(s.use.namespace, s.use.name) for s in found if s.found is not None}
    result = []
    for state in found:
        use = state.use
        if state.found is not None:
            provider = Provider.EXISTS if state.ok else Provider.INCOMPLETE
            result.append(Provision(state, provider, "" if state.ok else _add_keys(state)))
        elif (use.namespace, use.name) in external:
            result.append(Provision(state, Provider.EXTERNAL, external[use.namespace, use.name]))
        elif use.name in operator:
            result.append(Provision(state, Provider.OPERATOR, operator[use.name].replace(NAMESPACE, use.namespace)))
        else:
            result.append(_generated(state, present))
    return result


def _generated(state: SecretState, present: set[tuple[str, str]]) -> Provision:
    use = state.use
    twins = sorted(ns for ns, name in present if name == use.name and ns != use.namespace)
    if twins:
        return Provision(state, Provider.OPERATOR, f"copy it from namespace {twins[0]}: its readers there and here "
                                                   "must share the values, and floe never reads a Secret's values")
    unknown = [key for key in use.keys if key not in SECRET_KEYS | IDENTIFIER_KEYS | set(KEY_PAIR)]
    if unknown or not use.keys:
        what = f"keys {', '.join(unknown)}" if unknown else "its keys"
        return Provision(state, Provider.OPERATOR, f"floe cannot generate {what}: {_create_command(use)}")
    if set(KEY_PAIR) & set(use.keys):
        if not set(KEY_PAIR) <= set(use.keys):
            return Provision(state, Provider.OPERATOR, f"half a key pair cannot be generated: {_create_command(use)}")
        if not shutil.which("openssl"):
            return Provision(state, Provider.OPERATOR, "generating the RSA key pair needs openssl, which is not on "
                                                       f"PATH: install it and rerun, or {_create_command(use)}")
    return Provision(state, Provider.FLOE, ", ".join(use.keys))


def operator_secrets(environment: Environment) -> dict[str, str]:
    """Secret name → what only the operator can put in it, and how (``{namespace}`` where it goes), read off the
    environment's settings."""
    wanted: dict[str, str] = {}
    for consumer, database in _fields(environment.storage.postgres):
        if isinstance(database, ExternalPostgres):
            where = f"storage.postgres.{consumer} ({database.host})"
            wanted[database.credentials_secret] = f"the user of the external database {where}: " + \
                _command(database.credentials_secret, ("username", "password"))
            if database.ca_secret:
                wanted[database.ca_secret] = f"the CA that signed the certificate of {where}: " + \
                    _command(database.ca_secret, ("ca.crt",))
    if environment.tls:
        issuer = environment.tls.issuer
        wanted[environment.tls.ca_secret] = f"the CA of {issuer.kind} {issuer.name} (in_cluster_tls), which clients " \
            "verify the platform's servers against: " + _command(environment.tls.ca_secret, ("ca.crt",))
    collector = environment.observability.otel_collector
    traces_ca = None if collector.traces_tls == "plaintext" else collector.traces_tls.ca_secret
    if traces_ca:
        wanted.setdefault(traces_ca, f"the CA that signed the certificate of {collector.traces_endpoint} "
                                     "(observability.otel_collector.traces_tls): " + _command(traces_ca, ("ca.crt",)))
    store = environment.storage.object_store
    if isinstance(store, ExternalObjectStore):
        for user in object_store_users(environment):
            wanted[user.secret] = (f"the identity {user.policy} of the external object store ({store.endpoint}), made "
                                   "by its operator with the rights `floe object-store policies` prints: "
                                   + _command(user.secret, (USER_ACCESS_KEY, USER_SECRET_KEY)))
        if store.ca_secret:
            wanted[store.ca_secret] = (f"the CA that signed the certificate of {store.endpoint}: "
                                       + _command(store.ca_secret, ("ca.crt",)))
    for name, compute in environment.compute.items():
        if isinstance(compute, SnowflakeCompute):
            wanted[compute.credentials_secret] = f"the service user of compute.{name} (Snowflake account " \
                                                 f"{compute.account}): " + _command(compute.credentials_secret,
                                                                                   ("user", "password"))
    for path, ingress in _ingresses(environment):
        if ingress.tls_secret:
            wanted[ingress.tls_secret] = f"the TLS certificate for {ingress.host} ({path}): kubectl create secret " \
                                         f"tls {ingress.tls_secret} -n {NAMESPACE} --cert=FILE --key=FILE " \
                                         "(or let cert-manager issue it)"
    web = environment.orchestrator.webserver
    if web.ingress and web.auth:
        wanted[web.auth.credentials_secret] = (
            f"the secret of OIDC client {web.auth.client_id} at {web.auth.issuer_url} (orchestrator.webserver.auth) "
            f"and a cookie key of 32 random bytes: kubectl create secret generic {web.auth.credentials_secret} "
            f"-n {NAMESPACE} --from-file=client-secret=FILE --from-literal=cookie-secret=\"$(openssl rand -base64 32 "
            "| tr -- '+/' '-_')\"")
    token = environment.observability.prometheus.minio_token_secret
    wanted[token] = ("MinIO's metrics token for Prometheus, a JWT that `mc admin prometheus generate` signs with "
                     f"MinIO's root credentials once MinIO runs: kubectl create secret generic {token} -n {NAMESPACE} "
                     "--from-literal=token=\"$(mc admin prometheus generate ALIAS cluster "
                     "| sed -n 's/^ *bearer_token: //p')\"")
    flux = environment.gitops.flux
    if flux.secret_ref:
        wanted[flux.secret_ref] = f"the credentials Flux reads {environment.gitops.repository} with: flux create " \
                                  f"secret git {flux.secret_ref} -n {flux.namespace} --url=..."
    return wanted


def external_secrets(objects: Iterable[JsonView]) -> dict[tuple[str, str], str]:
    """(namespace, Secret) → the rendered ExternalSecret that creates it, and from which store; or the
    Certificate for which cert-manager writes it."""
    objects = list(objects)
    found = {where: f"written at sync by cert-manager for {certificate}"
             for where, certificate in issued_secrets(objects).items()}
    for obj in objects:
        if obj.get("kind") != "ExternalSecret":
            continue
        meta, spec = obj["metadata"], obj.get("spec") or {}
        target = (spec.get("target") or {}).get("name") or meta["name"]
        store = spec.get("secretStoreRef") or {}
        found[meta["namespace"], target] = (f"created at sync by ExternalSecret {meta['name']} from "
                                            f"{store.get('kind', 'SecretStore')} {store.get('name', '?')}")
    return found


def _fields(model: BaseModel) -> Iterator[tuple[str, object]]:
    for name in type(model).model_fields:
        yield name, getattr(model, name)


def _ingresses(model: BaseModel, path: str = "") -> Iterator[tuple[str, Ingress]]:
    """Every Ingress setting of the environment, wherever a component has one."""
    for name, value in _fields(model):
        where = f"{path}.{name}" if path else name
        if isinstance(value, Ingress):
            yield where, value
        elif isinstance(value, BaseModel):
            yield from _ingresses(value, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from _ingresses(item, f"{where}.{key}")


def _command(name: str, keys: Iterable[str]) -> str:
    files = " ".join(f"--from-file={key}=FILE" for key in keys)
    return f"kubectl create secret generic {name} -n {NAMESPACE} {files}"


def _create_command(use: SecretUse) -> str:
    return "create it by hand: " + _command(use.name, use.keys).replace(NAMESPACE, use.namespace)


def _add_keys(state: SecretState) -> str:
    return (f"add {', '.join(state.lacking)} to it by hand (kubectl edit secret {state.use.name} -n "
            f"{state.use.namespace}); floe never changes a Secret that exists")


# -- generated values ---------------------------------------------------------------------------------------


def generate(keys: Iterable[str]) -> dict[str, str]:
    """Fresh values for the keys (each a key floe knows how to generate)."""
    keys = tuple(keys)
    values = {key: secrets.token_urlsafe(32) for key in keys if key in SECRET_KEYS}
    values |= {key: f"floe_{secrets.token_hex(4)}" for key in keys if key in IDENTIFIER_KEYS}
    if set(KEY_PAIR) <= set(keys):
        values |= dict(zip(KEY_PAIR, rsa_key_pair(), strict=True))
    missing = [key for key in keys if key not in values]
    if missing:
        raise ValueError(f"no generator for keys {', '.join(missing)}")
    return values


def rsa_key_pair() -> tuple[str, str]:
    """(private, public) PEM of a new RSA key, by openssl through pipes: the key never touches a file."""
    private = _openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{RSA_BITS}"])
    return private, _openssl(["pkey", "-pubout"], private)


def _openssl(args: list[str], stdin: str | None = None) -> str:
    try:
        done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        raise FloeError(f"openssl {args[0]} failed ({type(error).__name__}); nothing was created for this key "
                        "pair") from None
    return done.stdout
