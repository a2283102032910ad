"""Preflight before a first sync: does this cluster have what the environment's render needs?

``floe platform doctor`` prints these checks. Each expectation comes from the rendered objects (a
Rollout needs Argo Rollouts, a claim naming ``fast-ssd`` needs that StorageClass) or from the
environment's settings (the engines' namespaces), never from the environment's name; so a check
appears exactly when the render needs it. A first sync that lacks any of these does not fail
loudly: it hangs (a claim Pending for ever, an Ingress with no address, a pod waiting for its Secret).
"""

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from floe.config.environment import Environment
from floe.rendered import Json, JsonView
from floe.secret_values import Provider, Provision, SecretCluster, provisions, required, states
from floe.validation import KUBERNETES_VERSIONS, is_custom_resource

DEFAULT_STORAGE_CLASS = ("storageclass.kubernetes.io/is-default-class",
                         "storageclass.beta.kubernetes.io/is-default-class")
DEFAULT_INGRESS_CLASS = "ingressclass.kubernetes.io/is-default-class"
PLURALS = {"Application": "applications", "AppProject": "appprojects", "Rollout": "rollouts",
           "ExternalSecret": "externalsecrets", "SecretStore": "secretstores",
           "ClusterSecretStore": "clustersecretstores", "Kustomization": "kustomizations",
           "GitRepository": "gitrepositories", "Certificate": "certificates"}
"""The resource (plural) name of each custom kind floe renders: a CRD is named ``<plural>.<group>``."""
INSTALL = {"argoproj.io": "install Argo Rollouts (its CRDs and controller), or turn blue_green off in the "
                          "environment",
           "external-secrets.io": "install the External Secrets Operator (its CRDs and controller), or remove the "
                                  "environment's secret store",
           "cert-manager.io": "install cert-manager (its CRDs and controller) with the issuer in_cluster_tls names, or "
                              "set in_cluster_tls: plain in the environment"}


@dataclass(frozen=True)
class Engine:
    """A GitOps engine: the kinds it reconciles and the setting naming the namespace it runs in."""

    name: str
    kinds: tuple[tuple[str, str], ...]
    """(API group, kind) of the objects floe renders for it."""
    namespace: Callable[[Environment], str]
    """The setting naming the namespace it runs in."""


ENGINES = (Engine("Argo CD", (("argoproj.io", "Application"), ("argoproj.io", "AppProject")),
                  lambda environment: environment.gitops.argocd.namespace),
           Engine("Flux", (("kustomize.toolkit.fluxcd.io", "Kustomization"),
                           ("source.toolkit.fluxcd.io", "GitRepository")),
                  lambda environment: environment.gitops.flux.namespace))


class PreflightCluster(SecretCluster, Protocol):
    def server_version(self) -> Json: ...
    def namespace_exists(self, name: str) -> bool: ...
    def crd_exists(self, name: str) -> bool: ...
    def storage_classes(self) -> list[Json]: ...
    def ingress_classes(self) -> list[Json]: ...


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    """What was found (when passed) or the fix (when failed)."""


def run(environment: Environment, objects: Iterable[JsonView], cluster: PreflightCluster) -> list[Check]:
    objects = list(objects)
    return [kubernetes_version(cluster), *engine(environment, objects, cluster), *custom_resources(objects, cluster),
            *storage_classes(objects, cluster), *ingress_classes(objects, cluster),
            *secrets(environment, objects, cluster)]


def kubernetes_version(cluster: PreflightCluster) -> Check:
    """Every rendered object is validated against the oldest and newest supported version, no other."""
    info = cluster.server_version()
    found = _minor_version(info)
    oldest, newest = (_minor_version({"gitVersion": v}) for v in KUBERNETES_VERSIONS)
    assert oldest and newest  # floe's own version strings, always of the form 1.<minor>
    supported = f"{oldest[0]}.{oldest[1]} to {newest[0]}.{newest[1]}"
    if found and oldest <= found <= newest:
        return Check("Kubernetes version", True, f"{info.get('gitVersion')} (supported: {supported})")
    return Check("Kubernetes version", False, f"the cluster runs {info.get('gitVersion', '?')}; floe's manifests are "
                                              f"validated for {supported}: use a cluster in that range")


def _minor_version(info: JsonView) -> tuple[int, int] | None:
    """(major, minor) from the version fields; providers append ``+`` or suffixes (``32+``, ``v1.32.3-eks``)."""
    major, minor = (re.match(r"\d+", str(info.get(f) or "")) for f in ("major", "minor"))
    if major and minor:
        return int(major.group()), int(minor.group())
    git = re.match(r"v?(\d+)\.(\d+)", str(info.get("gitVersion") or ""))
    return (int(git.group(1)), int(git.group(2))) if git else None


def engine(environment: Environment, objects: list[JsonView], cluster: PreflightCluster) -> list[Check]:
    """One installed engine is enough: the environment renders both, the operator runs one."""
    rendered = [e for e in ENGINES if any(_group_kind(o) in e.kinds for o in objects)]
    if not rendered:
        return []
    installed = [e for e in rendered if all(cluster.crd_exists(_crd(group, kind)) for group, kind in e.kinds)]
    names = " or ".join(e.name for e in rendered)
    crds = ", ".join(_crd(*e.kinds[0]) for e in rendered)
    engine_check = Check("GitOps engine", True, ", ".join(e.name for e in installed) + " installed") if installed \
        else Check("GitOps engine", False, f"neither {names} is installed (no {crds}): install one of them")
    candidates = installed or rendered
    namespaces = {e.name: e.namespace(environment) for e in candidates}
    present = [f"{namespace} ({name})" for name, namespace in namespaces.items() if cluster.namespace_exists(namespace)]
    wanted = " or ".join(f"{namespace} ({name})" for name, namespace in namespaces.items())
    namespace_check = Check("GitOps engine namespace", True, ", ".join(present)) if present else \
        Check("GitOps engine namespace", False, f"no namespace {wanted}: install the engine there, or set "
                                                "gitops.argocd.namespace / gitops.flux.namespace to where it runs")
    return [engine_check, namespace_check]


def custom_resources(objects: list[JsonView], cluster: PreflightCluster) -> list[Check]:
    """The CRD of every custom kind the tiers render (the engines' own are checked by :func:`engine`)."""
    engine_kinds = {kind for e in ENGINES for kind in e.kinds}
    wanted = sorted({_group_kind(o) for o in objects if is_custom_resource(o)} - engine_kinds)
    checks = []
    for group, kind in wanted:
        name = _crd(group, kind)
        found = cluster.crd_exists(name)
        fix = INSTALL.get(group, f"install the controller that serves {group}")
        checks.append(Check(f"CRD {name}", found, f"installed (the render has {kind} objects)" if found
                            else f"the render has {kind} objects: {fix}"))
    return checks


def _group_kind(obj: JsonView) -> tuple[str, str]:
    api_version = obj.get("apiVersion", "")
    return (api_version.split("/")[0] if "/" in api_version else ""), obj.get("kind", "")


def _crd(group: str, kind: str) -> str:
    return f"{PLURALS.get(kind, kind.lower() + 's')}.{group}"


def storage_classes(objects: list[JsonView], cluster: PreflightCluster) -> list[Check]:
    """Each class a claim names; and a default class when a claim names none (unset, not ``""``)."""
    claims = list(_claims(objects))
    if not claims:
        return []
    classes = cluster.storage_classes()
    names = {c["metadata"]["name"] for c in classes}
    defaults = [c["metadata"]["name"] for c in classes if _is_default(c, DEFAULT_STORAGE_CLASS)]
    return _class_checks("StorageClass", claims, names, defaults, "kubectl patch storageclass NAME -p "
                         "'{\"metadata\":{\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}'")


def _claims(objects: list[JsonView]) -> Iterator[tuple[str, str | None]]:
    """(claim, storage class or None) of every PVC and StatefulSet claim template; ``""`` binds no class."""
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj.get("kind") == "PersistentVolumeClaim":
            specs = [obj.get("spec") or {}]
        elif obj.get("kind") == "StatefulSet":
            specs = [t.get("spec") or {} for t in (obj.get("spec") or {}).get("volumeClaimTemplates") or []]
        else:
            continue
        for spec in specs:
            if spec.get("storageClassName") != "":
                yield where, spec.get("storageClassName")


def ingress_classes(objects: list[JsonView], cluster: PreflightCluster) -> list[Check]:
    ingresses = [(f"Ingress/{o['metadata']['name']}", (o.get("spec") or {}).get("ingressClassName"))
                 for o in objects if o.get("kind") == "Ingress"]
    if not ingresses:
        return []
    classes = cluster.ingress_classes()
    names = {c["metadata"]["name"] for c in classes}
    defaults = [c["metadata"]["name"] for c in classes if _is_default(c, (DEFAULT_INGRESS_CLASS,))]
    return _class_checks("IngressClass", ingresses, names, defaults,
                         "install an ingress controller and mark its IngressClass as the default")


def _class_checks(kind: str, users: list[tuple[str, str | None]], names: set[str], defaults: list[str],
                  default_fix: str) -> list[Check]:
    checks = []
    for wanted in sorted({name for _, name in users if name}):
        who = ", ".join(sorted(user for user, name in users if name == wanted))
        found = wanted in names
        checks.append(Check(f"{kind} {wanted}", found, f"exists (used by {who})" if found else
                            f"{who} name it; the cluster has {', '.join(sorted(names)) or 'none'}: create it, or "
                            "change the environment's setting to one of these"))
    unnamed = sorted(user for user, name in users if not name)
    if unnamed:
        found = bool(defaults)
        checks.append(Check(f"default {kind}", found, f"{', '.join(defaults)} (used by {', '.join(unnamed)})" if found
                            else f"{', '.join(unnamed)} name no class and the cluster has no default: {default_fix}"))
    return checks


def _is_default(obj: JsonView, annotations: tuple[str, ...]) -> bool:
    found = obj["metadata"].get("annotations") or {}
    return any(found.get(a) == "true" for a in annotations)


def secrets(environment: Environment, objects: list[JsonView], cluster: PreflightCluster) -> list[Check]:
    """The same check as ``floe secrets check``; a Secret an ExternalSecret creates at sync may be absent."""
    found = provisions(states(required(environment, objects), cluster), environment, objects)
    failing = [p for p in found if p.provider not in (Provider.EXISTS, Provider.EXTERNAL)]
    checks = [Check(f"Secret {p.state.use.namespace}/{p.state.use.name}", False, _secret_fix(p, environment))
              for p in failing]
    if not failing:
        external = sum(p.provider == Provider.EXTERNAL for p in found)
        later = f" ({external} created at sync by External Secrets)" if external else ""
        checks.append(Check("Secrets", True, f"all {len(found)} exist with their keys{later}"))
    return checks


def _secret_fix(provision: Provision, environment: Environment) -> str:
    status = provision.state.status
    if provision.provider == Provider.FLOE:
        return f"{status}: floe secrets init --env {environment.name}"
    return f"{status}: {provision.detail}"
