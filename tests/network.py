"""The rendered NetworkPolicies evaluated as Kubernetes evaluates them, for the tests that prove a path.

A connection passes only if the source pod's namespace policies let it out (egress) and the destination
pod's let it in (ingress); a pod that no policy of its namespace selects in a direction is not isolated in
it. Named ports resolve against the destination pod's container ports. An address outside the cluster
(or the API server's endpoint) has no policies of its own: only the source's egress decides.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network

from floe.rendered import pod_spec, pod_template
from floe.security.network_policies import run_pod_labels

WORKLOADS = {"Deployment", "StatefulSet", "Rollout", "Job", "CronJob"}
NAMESPACE_NAME = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Mapping[str, str]
    ports: Mapping[str, int] = field(default_factory=dict)
    """Its named container ports."""
    name: str = ""
    """The workload it belongs to, for messages."""


def pods(objects: Iterable[Mapping], jobs: str) -> list[Pod]:
    """Every pod the render creates, and the run pods Dagster's run launcher will create in ``jobs``."""
    objects = list(objects)
    found = [Pod(o["metadata"]["namespace"], pod_template(o)["metadata"]["labels"],
                 {p["name"]: p["containerPort"] for c in pod_spec(o)["containers"] for p in c.get("ports", [])
                  if "name" in p}, o["metadata"]["name"])
             for o in objects if o["kind"] in WORKLOADS]
    return found + [Pod(jobs, labels, name="dagster-run") for labels in run_pod_labels(objects)]


def selects(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    """A label selector: matchLabels and matchExpressions; empty or absent selects everything."""
    selector = selector or {}
    if not (selector.get("matchLabels") or {}).items() <= labels.items():
        return False
    for requirement in selector.get("matchExpressions") or []:
        key, operator, values = requirement["key"], requirement["operator"], requirement.get("values") or []
        present, value = key in labels, labels.get(key)
        if not {"In": present and value in values, "NotIn": value not in values,
                "Exists": present, "DoesNotExist": not present}[operator]:
            return False
    return True


def _peer_matches(peer: Mapping, own_namespace: str, other: Pod | None, address: str | None) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        return address is not None and ip_address(address) in ip_network(block["cidr"]) and not any(
            ip_address(address) in ip_network(cidr) for cidr in block.get("except") or [])
    if other is None:
        return False
    if "namespaceSelector" in peer:
        return (selects(peer["namespaceSelector"], {NAMESPACE_NAME: other.namespace})
                and selects(peer.get("podSelector"), other.labels))
    return other.namespace == own_namespace and selects(peer.get("podSelector"), other.labels)


def _port_matches(rule: Mapping, port: int, protocol: str, names: Mapping[str, int]) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("protocol", "TCP") == protocol and names.get(p["port"], p["port"]) == port
                            for p in ports)


def allows(objects: Iterable[Mapping], direction: str, pod: Pod, other: Pod | None, address: str | None,
           port: int, protocol: str = "TCP") -> bool:
    """Whether the policies of ``pod``'s namespace let it send to (egress) or receive from (ingress) the
    other end: a pod ``other``, or an ``address`` outside the cluster."""
    key, peer_key, kind = ("egress", "to", "Egress") if direction == "egress" else ("ingress", "from", "Ingress")
    policies = [o["spec"] for o in objects if o["kind"] == "NetworkPolicy"
                and o["metadata"]["namespace"] == pod.namespace
                and kind in o["spec"]["policyTypes"] and selects(o["spec"]["podSelector"], pod.labels)]
    if not policies:
        return True  # not isolated in this direction
    names = (other.ports if other else {}) if direction == "egress" else pod.ports
    return any(_port_matches(rule, port, protocol, names)
               and (rule.get(peer_key) is None
                    or any(_peer_matches(p, pod.namespace, other, address) for p in rule[peer_key]))
               for spec in policies for rule in spec.get(key) or [])


def connects(objects: Iterable[Mapping], source: Pod, destination: Pod | str, port: int,
             protocol: str = "TCP") -> bool:
    """Whether ``source`` may open a connection to a pod (both sides' policies) or an address (its egress)."""
    objects = list(objects)
    if isinstance(destination, str):
        return allows(objects, "egress", source, None, destination, port, protocol)
    return (allows(objects, "egress", source, destination, None, port, protocol)
            and allows(objects, "ingress", destination, source, None, port, protocol))
