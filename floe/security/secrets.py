"""The inventory of Secrets: every Secret the rendered platform reads, with its keys and readers.

Derived from the rendered objects, never listed by hand: a Secret that a workload starts to read
is in the inventory as soon as it is rendered, and one no workload reads any more leaves it. The
ExternalSecrets, ``floe secrets`` and ``floe platform doctor`` all read this one list. Besides the
pods of the rendered workloads it covers the runs Dagster launches, whose pod template lives in
the rendered ``dagster.yaml`` (the run launcher's ``run_k8s_config``), not in any workload.
"""

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import yaml

from floe.rendered import JsonView, pod_specs

TLS_KEYS = ("tls.crt", "tls.key")
"""The keys of a ``kubernetes.io/tls`` Secret, which the ingress controller reads for an Ingress."""
DAGSTER_INSTANCE_KEY = "dagster.yaml"
CONTAINER_CONTEXT_ENV = "DAGSTER_CONTAINER_CONTEXT"
"""Read by ``dagster api grpc`` (its ``--container-context`` option); the run launcher merges it into the
runs of that code location, so the Secrets it references are read in the run launcher's namespace."""
K8S_RUN_LAUNCHER = "K8sRunLauncher"


@dataclass(frozen=True)
class SecretUse:
    """One Secret, the keys its readers need, and who reads it (``Kind/name``)."""

    namespace: str
    name: str
    keys: tuple[str, ...]
    readers: tuple[str, ...]
    written_by: str | None = None
    """``Certificate/<name>`` when cert-manager writes it (a server's certificate); None: the operator provides
    it (by hand, ``floe secrets init`` or an ExternalSecret)."""


def inventory(objects: Iterable[JsonView]) -> list[SecretUse]:
    """Every Secret the objects' pods read, by namespace and name."""
    keys: dict[tuple[str, str], set[str]] = defaultdict(set)
    readers: dict[tuple[str, str], set[str]] = defaultdict(set)
    objects = list(objects)
    for namespace, reader, spec in _pods(objects):
        for name, key in references(spec):
            keys[namespace, name].add(key)
            readers[namespace, name].add(reader)
    for ingress in (obj for obj in objects if obj.get("kind") == "Ingress"):
        for tls in ingress["spec"].get("tls") or []:
            where = (ingress["metadata"]["namespace"], tls["secretName"])
            keys[where].update(TLS_KEYS)
            readers[where].add(f"Ingress/{ingress['metadata']['name']}")
    issued = issued_secrets(objects)
    return [SecretUse(namespace, name, tuple(sorted(keys[namespace, name])), tuple(sorted(readers[namespace, name])),
                      issued.get((namespace, name)))
            for namespace, name in sorted(keys)]


def issued_secrets(objects: Iterable[JsonView]) -> dict[tuple[str, str], str]:
    """(namespace, Secret) → ``Certificate/<name>`` for each Secret a rendered cert-manager Certificate has
    cert-manager write (``spec.secretName``): the operator never provides those."""
    return {(obj["metadata"]["namespace"], obj["spec"]["secretName"]): f"Certificate/{obj['metadata']['name']}"
            for obj in objects if obj.get("kind") == "Certificate"}


def _pods(objects: list[JsonView]) -> Iterator[tuple[str, str, JsonView]]:
    """(namespace, reader, pod spec) of every rendered workload and of the runs Dagster launches."""
    for obj, spec in pod_specs(objects):
        yield obj["metadata"]["namespace"], f"{obj['kind']}/{obj['metadata']['name']}", spec
    for obj in objects:
        launcher = run_launcher(obj)
        if launcher:
            run = launcher.get("run_k8s_config") or {}
            container = (run.get("container_config") or {})
            spec = {"containers": [container], "volumes": (run.get("pod_spec_config") or {}).get("volumes") or []}
            yield launcher["job_namespace"], f"runs launched by ConfigMap/{obj['metadata']['name']}", spec
            yield from _location_runs(objects, launcher["job_namespace"])


def _location_runs(objects: list[JsonView], namespace: str) -> Iterator[tuple[str, str, JsonView]]:
    """The runs of each code location, with what its container context adds (its product's Secrets)."""
    for obj, spec in pod_specs(objects):
        for container in spec.get("containers") or []:
            for variable in container.get("env") or []:
                if variable["name"] == CONTAINER_CONTEXT_ENV:
                    # Kubernetes reads `$$` in a literal value as `$`.
                    context = json.loads(variable["value"].replace("$$", "$")).get("k8s") or {}
                    run = {"containers": [{"name": "run", "env": context.get("env") or []}],
                           "volumes": context.get("volumes") or []}
                    yield namespace, f"runs launched from {obj['kind']}/{obj['metadata']['name']}", run


def run_launcher(obj: JsonView) -> JsonView | None:
    """The Kubernetes run launcher's config in a rendered Dagster instance ConfigMap, if this is one."""
    if obj.get("kind") != "ConfigMap" or DAGSTER_INSTANCE_KEY not in (obj.get("data") or {}):
        return None
    launcher = (_instance(obj["data"][DAGSTER_INSTANCE_KEY]) or {}).get("run_launcher") or {}
    return launcher.get("config") if launcher.get("class") == K8S_RUN_LAUNCHER else None


@functools.lru_cache(maxsize=8)
def _instance(text: str) -> JsonView | None:
    """A ``dagster.yaml``, parsed once however many readers ask (not to be modified)."""
    instance: JsonView | None = yaml.load(text, Loader=yaml.CSafeLoader)
    return instance


def references(spec: JsonView) -> Iterator[tuple[str, str]]:
    """(Secret, key) for each key a pod reads: env vars and Secret volumes (which must list their keys)."""
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for variable in container.get("env") or []:
            ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                yield ref["name"], ref["key"]
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                raise ValueError(f"container {container['name']} takes a whole Secret ({source['secretRef']['name']}) "
                                 "as env: name each key with secretKeyRef so the inventory knows it")
    for volume in spec.get("volumes") or []:
        secret = volume.get("secret")
        if secret:
            if not secret.get("items"):
                raise ValueError(f"volume {volume['name']} mounts all of Secret {secret['secretName']}: list its "
                                 "keys (items) so the inventory knows them")
            for item in secret["items"]:
                yield secret["secretName"], item["key"]


def markdown_table(inventories: Mapping[str, Iterable[SecretUse]]) -> str:
    """The README's table of Secrets: each Secret of every environment's inventory, with the namespace
    it is read in, its keys, its readers and the environments that read it."""
    rows: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for environment, uses in inventories.items():
        for use in uses:
            row = rows[use.name, use.namespace]
            row["keys"].update(use.keys)
            row["readers"].update(use.readers)
            if use.written_by:
                row["readers"].add(f"(written by cert-manager for {use.written_by})")
            row["environments"].add(environment)
    order = list(inventories)
    lines = ["| Secret | namespace | keys | read by | environments |", "|---|---|---|---|---|"]
    for (name, namespace), row in sorted(rows.items()):
        readers = "<br>".join(sorted(row["readers"]))
        keys = ", ".join(f"`{key}`" for key in sorted(row["keys"]))
        environments = ", ".join(env for env in order if env in row["environments"])
        lines.append(f"| `{name}` | {namespace} | {keys} | {readers} | {environments} |")
    return "\n".join(lines) + "\n"
