"""NetworkPolicies generated from the components' declared dependencies, never from a second list.

Both namespaces deny all traffic by default, and every pod may resolve names and export telemetry.
Platform namespace: each component admits its own pods and the pods of every component that depends
on it or that it names as a caller (on the ports declared), the collector admits every pod's
telemetry, and the ingress controller reaches exactly the Services behind an Ingress; each component
reaches its own pods, its dependencies and the components it calls on the same ports, the
external database or object store standing in for them (for dependents, never callers), and the
addresses outside the platform its environment declares for it (``Environment.endpoints``); only the pods
that mount a service-account token reach the Kubernetes API server, at the endpoint addresses the
environment declares. Jobs namespace: run
pods reach the platform services (or external databases) their component depends on, and their
compute. The runs Dagster launches exist only at run time: they are known by the labels of the
rendered run launcher, and only they (not the job templates' pods) reach Dagster's database.

Ports come from the rendered Services, so a policy can never disagree with what is deployed.
"""

from collections.abc import Iterable, Mapping

from floe.components.telemetry import COLLECTOR, OTLP_GRPC_PORT, OTLP_HTTP_PORT
from floe.config.common import Egress, InCluster
from floe.config.environment import Environment
from floe.constructs.kube import Scope, int_or_string, k8s
from floe.constructs.labels import AppIdentity, Layer
from floe.constructs.metadata import object_meta
from floe.errors import FloeError
from floe.jobs import PRODUCT_LABEL
from floe.jobs.compute import compute_egress
from floe.registry import COMPONENTS, Component
from floe.rendered import JsonView, pod_spec, pod_template
from floe.security.secrets import run_launcher
from floe.tiers import FOUNDATION, Step

NAMESPACE_NAME = "kubernetes.io/metadata.name"
INSTANCE = "app.kubernetes.io/instance"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Rollout", "Job", "CronJob"}

Port = tuple[int | str, str]
TELEMETRY: list[Port] = [(OTLP_GRPC_PORT, "TCP"), (OTLP_HTTP_PORT, "TCP")]
"""Every pod of both layers may export to the collector: the one edge no component declares."""


def pod_labels(obj: JsonView) -> dict[str, str]:
    labels: dict[str, str] = pod_template(obj)["metadata"]["labels"]
    return labels


def run_pod_labels(objects: Iterable[JsonView]) -> list[dict[str, str]]:
    """The labels the Kubernetes run launcher of each rendered Dagster instance puts on its run pods.

    Those pods exist only at run time, but the policies must know them: they reach Dagster's database.
    """
    return [dict(launcher.get("labels") or {}) for launcher in map(run_launcher, objects) if launcher]


class Topology:
    """Which pods exist, which Services select them, and so which ports each component serves.

    Pods are indexed by label once, so a look-up costs the pods a selector picks, not every pod:
    the jobs tier adds pods and Services per data product.
    """

    def __init__(self, objects: Iterable[JsonView], platform: str) -> None:
        objects = list(objects)
        self.pods = [pod_labels(o) for o in objects if o["kind"] in WORKLOAD_KINDS] + run_pod_labels(objects)
        self.api_callers = sorted(pod_labels(o)[INSTANCE] for o in objects if o["kind"] in WORKLOAD_KINDS
                                  and o["metadata"]["namespace"] == platform
                                  and pod_spec(o).get("automountServiceAccountToken"))
        """The instances of the platform whose pods mount a service-account token: they call the API server."""
        self.services = [o for o in objects if o["kind"] == "Service" and o["metadata"]["namespace"] == platform]
        self.ingresses = [o for o in objects if o["kind"] == "Ingress"]
        self._by_label: dict[tuple[str, str], set[int]] = {}
        for index, labels in enumerate(self.pods):
            for item in labels.items():
                self._by_label.setdefault(item, set()).add(index)
        # Pod → the Services that select it, in the order the Services were rendered.
        self._services_of: dict[int, list[int]] = {}
        for index, service in enumerate(self.services):
            for pod in self._selected(service["spec"]["selector"]):
                self._services_of.setdefault(pod, []).append(index)

    def _selected(self, selector: Mapping[str, str]) -> set[int]:
        """The pods (by index) whose labels include every label of ``selector``."""
        if not selector:
            return set(range(len(self.pods)))
        sets = sorted((self._by_label.get(item, set()) for item in selector.items()), key=len)
        return set(sets[0]).intersection(*sets[1:])

    def has_pods(self, component: Component) -> bool:
        return bool(self._selected(component.pod_selector))

    def _owned(self, component: Component) -> list[JsonView]:
        pods = self._selected(component.pod_selector)
        owned = {service for pod in pods for service in self._services_of.get(pod, ())}
        return [self.services[index] for index in sorted(owned)]

    def ports(self, component: Component, names: tuple[str, ...] | None = None) -> list[Port]:
        """The (named) pod ports behind the component's Services: all, or those ``names``."""
        served = {(p["targetPort"], p.get("protocol", "TCP")) for s in self._owned(component)
                  for p in s["spec"]["ports"]}
        if names is None:
            return sorted(served, key=str)
        unknown = sorted(set(names) - {port for port, _ in served})
        if unknown and served:
            raise ValueError(f"{component.name} serves no port named {', '.join(unknown)}")
        return sorted((p for p in served if p[0] in names), key=str)

    def ingress_backends(self) -> dict[str, tuple[dict[str, str], list[Port]]]:
        """Service name → (its pod selector, the pod ports) of every Service an Ingress sends traffic to."""
        services = {s["metadata"]["name"]: s for s in self.services}
        backends: dict[str, tuple[dict[str, str], list[Port]]] = {}
        for ingress in self.ingresses:
            for rule in ingress["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    backend = path["backend"]["service"]
                    service = services[backend["name"]]
                    ports = [(p["targetPort"], p.get("protocol", "TCP")) for p in service["spec"]["ports"]
                             if p["name"] == backend["port"].get("name") or p["port"] == backend["port"].get("number")]
                    selector, known = backends.get(backend["name"], (service["spec"]["selector"], []))
                    backends[backend["name"]] = (selector, sorted({*known, *ports}, key=str))
        return backends


def _ports(ports: Iterable[Port]) -> list[k8s.NetworkPolicyPort]:
    return [k8s.NetworkPolicyPort(port=int_or_string(port), protocol=protocol) for port, protocol in ports]


def _namespace(name: str) -> k8s.LabelSelector:
    return k8s.LabelSelector(match_labels={NAMESPACE_NAME: name})


class _Policies:
    def __init__(self, scope: Scope, environment: Environment, topology: Topology) -> None:
        self.scope, self.environment, self.topology = scope, environment, topology
        self.platform, self.jobs = environment.namespaces.platform, environment.namespaces.jobs

    def namespace_of(self, layer: Layer) -> str:
        return self.jobs if layer is Layer.PIPELINE_JOBS else self.platform

    def peer(self, component: Component, seen_from: Layer = Layer.PLATFORM_SERVICES) -> k8s.NetworkPolicyPeer:
        """The component's pods, as a policy in ``seen_from``'s namespace names them."""
        selector = k8s.LabelSelector(match_labels=component.pod_selector)
        if component.layer is not seen_from:
            return k8s.NetworkPolicyPeer(namespace_selector=_namespace(self.namespace_of(component.layer)),
                                         pod_selector=selector)
        return k8s.NetworkPolicyPeer(pod_selector=selector)

    def policy(self, name: str, namespace: str, layer: Layer, selector: dict[str, str], *,
               ingress: list[k8s.NetworkPolicyIngressRule] | None = None,
               egress: list[k8s.NetworkPolicyEgressRule] | None = None) -> None:
        identity = AppIdentity(name="floe", instance=name, component="network-policy",
                               version=self.environment.platform_version, tier=FOUNDATION, layer=layer)
        types = [t for t, rules in (("Ingress", ingress), ("Egress", egress)) if rules is not None]
        k8s.KubeNetworkPolicy(
            self.scope, f"{namespace}-{name}",
            metadata=object_meta(identity, name, namespace, Step.PREPARE),
            spec=k8s.NetworkPolicySpec(pod_selector=k8s.LabelSelector(match_labels=selector or None),
                                       policy_types=types, ingress=ingress, egress=egress),
        )

    def platform_policies(self) -> None:
        platform = Layer.PLATFORM_SERVICES
        self.policy("default-deny-ingress", self.platform, platform, {}, ingress=[])
        self.policy("default-deny-egress", self.platform, platform, {}, egress=[])
        self.policy("allow-platform-dns", self.platform, platform, {}, egress=[self.dns_rule()])
        self.policy("allow-platform-telemetry", self.platform, platform, {}, egress=[self.telemetry_rule()])
        for component in COMPONENTS:
            if component.layer is platform and self.topology.has_pods(component):
                self.policy(f"allow-{component.name}", self.platform, platform, component.pod_selector,
                            ingress=self.ingress_rules(component), egress=self.egress_rules(component))
        self.api_server_policy()

    def dns_rule(self) -> k8s.NetworkPolicyEgressRule:
        network = self.environment.network
        return k8s.NetworkPolicyEgressRule(
            to=[k8s.NetworkPolicyPeer(namespace_selector=_namespace(network.dns_namespace),
                                      pod_selector=k8s.LabelSelector(match_labels=network.dns_pod_labels))],
            ports=_ports([(53, "UDP"), (53, "TCP")]),
        )

    def telemetry_rule(self) -> k8s.NetworkPolicyEgressRule:
        """Every pod of both layers may export to the collector: the one edge no component declares."""
        collector = {c.name: c for c in COMPONENTS}[COLLECTOR]
        return k8s.NetworkPolicyEgressRule(
            to=[k8s.NetworkPolicyPeer(namespace_selector=_namespace(self.platform),
                                      pod_selector=k8s.LabelSelector(match_labels=collector.pod_selector))],
            ports=_ports(TELEMETRY),
        )

    def egress_rules(self, component: Component) -> list[k8s.NetworkPolicyEgressRule]:
        """Where the component's pods may connect besides DNS and telemetry: its own pods (platform
        services only), its dependencies, the components it calls, and what its environment declares."""
        by_name = {c.name: c for c in COMPONENTS}
        rules = []
        if component.layer is Layer.PLATFORM_SERVICES:
            rules.append(k8s.NetworkPolicyEgressRule(to=[self.peer(component)]))
        called = [(by_name[n], ports, True) for n, ports in component.dependencies.items()]
        called += [(c, c.called_by[component.name], False) for c in COMPONENTS if component.name in c.called_by]
        for target, wanted, depends in called:
            ports = self.topology.ports(target, wanted)
            if ports:  # nothing to reach for namespace-wide objects
                rules.append(k8s.NetworkPolicyEgressRule(to=[self.peer(target, component.layer)],
                                                         ports=_ports(ports)))
            elif depends and target.outside and (wanted is None or set(wanted) & set(target.outside_ports)):
                rules.extend(_external(target.outside(self.environment)))  # run outside the cluster here
        for endpoint in self.environment.endpoints:
            if endpoint.caller == component.name:
                rules.extend(_external(endpoint.destinations(self.environment.network.cluster_domain)))
        return rules

    def api_server_policy(self) -> None:
        """Only the pods that mount a service-account token reach the API server, where policies see it."""
        server, callers = self.environment.network.api_server, self.topology.api_callers
        if not callers:
            return
        if server is None:
            raise FloeError(f"environments/{self.environment.name}.yaml: network.api_server is required: "
                            f"{', '.join(callers)} call the Kubernetes API and platform egress is closed by default; "
                            "declare the API server's endpoint addresses and port (kubectl get endpoints kubernetes "
                            "-n default), e.g. network: {api_server: {cidrs: [10.0.0.10/32], port: 6443}}")
        for instance in callers:
            self.policy(f"allow-api-server-{instance}", self.platform, Layer.PLATFORM_SERVICES, {INSTANCE: instance},
                        egress=[k8s.NetworkPolicyEgressRule(
                            to=[k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=cidr)) for cidr in server.cidrs],
                            ports=_ports([(server.port, "TCP")]))])

    def ingress_rules(self, component: Component) -> list[k8s.NetworkPolicyIngressRule]:
        # Its own pods talk among themselves (peers, workers, bootstrap steps) on any port.
        rules = [k8s.NetworkPolicyIngressRule(from_=[self.peer(component)])]
        # Each dependent reaches the ports it declared; dependents that need the same ports share a rule.
        by_ports: dict[tuple[Port, ...], list[Component]] = {}
        for dependent in COMPONENTS:
            names = dependent.dependencies.get(component.name, component.called_by.get(dependent.name))
            reaches = component.name in dependent.dependencies or dependent.name in component.called_by
            if reaches and self.topology.has_pods(dependent):
                wanted = tuple(self.topology.ports(component, names))
                by_ports.setdefault(wanted, []).append(dependent)
        for wanted, dependents in by_ports.items():
            if wanted:
                rules.append(k8s.NetworkPolicyIngressRule(from_=[self.peer(d) for d in dependents],
                                                          ports=_ports(wanted)))
        if component.name == COLLECTOR:
            # Every workload in both layers exports telemetry to the collector.
            rules.append(k8s.NetworkPolicyIngressRule(
                from_=[k8s.NetworkPolicyPeer(namespace_selector=_namespace(ns)) for ns in (self.platform, self.jobs)],
                ports=_ports(TELEMETRY),
            ))
        return rules

    def ingress_controller_policies(self) -> None:
        """The ingress controller reaches exactly the pods and ports behind an Ingress, nothing else."""
        controller = _namespace(self.environment.network.ingress_namespace)
        for service, (selector, ports) in sorted(self.topology.ingress_backends().items()):
            self.policy(f"allow-ingress-{service}", self.platform, Layer.PLATFORM_SERVICES, selector,
                        ingress=[k8s.NetworkPolicyIngressRule(from_=[k8s.NetworkPolicyPeer(namespace_selector=controller)],
                                                              ports=_ports(ports))])

    def jobs_policies(self) -> None:
        self.policy("default-deny", self.jobs, Layer.PIPELINE_JOBS, {}, ingress=[], egress=[])
        self.policy("allow-dns", self.jobs, Layer.PIPELINE_JOBS, {}, egress=[self.dns_rule()])
        self.policy("allow-telemetry", self.jobs, Layer.PIPELINE_JOBS, {}, egress=[self.telemetry_rule()])
        for component in (c for c in COMPONENTS if c.layer is Layer.PIPELINE_JOBS):
            self.policy(f"allow-{component.name}-egress", self.jobs, Layer.PIPELINE_JOBS, component.pod_selector,
                        egress=self.egress_rules(component))
        # A product's pods reach its own compute: its job templates and, since each code location's
        # container context labels them with their product, the runs Dagster launches for it.
        for product in self.environment.data_products:
            egress = compute_egress(self.environment, product)
            if egress:
                self.policy(f"allow-{product.name}-compute", self.jobs, Layer.PIPELINE_JOBS,
                            {PRODUCT_LABEL: product.name}, egress=_external(egress))


def _external(egress: Iterable[Egress | InCluster]) -> list[k8s.NetworkPolicyEgressRule]:
    """Rules to addresses outside the cluster, or to pods of another namespace."""
    return [k8s.NetworkPolicyEgressRule(to=[_destination(e)], ports=_ports((port, "TCP") for port in e.ports))
            for e in egress]


def _destination(egress: Egress | InCluster) -> k8s.NetworkPolicyPeer:
    if isinstance(egress, InCluster):
        return k8s.NetworkPolicyPeer(namespace_selector=_namespace(egress.namespace),
                                     pod_selector=k8s.LabelSelector(match_labels=egress.pod_labels or None))
    return k8s.NetworkPolicyPeer(ip_block=k8s.IpBlock(cidr=egress.cidr))


def render(scope: Scope, environment: Environment, objects: Iterable[JsonView]) -> None:
    policies = _Policies(scope, environment, Topology(objects, environment.namespaces.platform))
    policies.platform_policies()
    policies.ingress_controller_policies()
    policies.jobs_policies()
