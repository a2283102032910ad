"""A drawing of one environment, beside its manifests: tiers, components, dependencies, network paths, engines.

Pure functions over the registry and the rendered objects, like :mod:`floe.capacity`, so the drawing in
``dist/<env>/topology.md`` can never disagree with what is deployed: the tiers and their waves come from
the objects' sync-wave annotations, the components from :data:`floe.registry.COMPONENTS` (those whose pods
rendered, and what they depend on), the network paths from the rendered NetworkPolicies (their selectors
mapped back to components through the registry's pod selectors), and the engines' chain from the rendered
Flux Kustomizations and Argo CD Applications. The output is Mermaid inside Markdown, which common forges
draw in a pull request; it is sorted throughout and holds no timestamp.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from floe.config.environment import Environment
from floe.constructs.labels import Layer
from floe.registry import COMPONENTS, Component
from floe.rendered import POD_KINDS, JsonView, pod_template
from floe.tiers import SYNC_WAVE, TIERS, Tier

NAMESPACE_NAME = "kubernetes.io/metadata.name"
KIND_ORDER = ("Rollout", "Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod")


def node_id(prefix: str, name: str) -> str:
    """A Mermaid id: letters, digits and underscores only (a dash or a dot would end it)."""
    return prefix + re.sub(r"\W", "_", name)


def label(text: str) -> str:
    """A quoted Mermaid label (a double quote inside one would end it)."""
    return '"' + text.replace('"', "#quot;") + '"'


@dataclass(frozen=True)
class _Pod:
    namespace: str
    labels: Mapping[str, str]
    kind: str


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return selector.items() <= labels.items()


def _conflicts(one: Mapping[str, str], other: Mapping[str, str]) -> bool:
    return any(key in other and other[key] != value for key, value in one.items())


def _wave(obj: JsonView) -> int | None:
    value = (obj["metadata"].get("annotations") or {}).get(SYNC_WAVE)
    return int(value) if value is not None else None


def _ports(ports: Iterable[JsonView] | None) -> tuple[str, ...]:
    """Port names or numbers, with the protocol when it is not TCP; () means every port."""
    return tuple(str(p.get("port", "all")) + ("" if p.get("protocol", "TCP") == "TCP" else f"/{p['protocol']}")
                 for p in ports or [])


def _port_text(ports: Iterable[str]) -> str:
    ports = sorted(set(ports), key=lambda p: (p[0].isdigit(), p))
    return ", ".join(ports) if ports else "any port"


class _Drawing:
    def __init__(self, environment: Environment, folders: Mapping[str, Sequence[JsonView]]) -> None:
        self.environment = environment
        name = environment.name
        self.synced = {folder: objects for folder, objects in folders.items() if folder.startswith(f"{name}/")}
        self.gitops = {folder: objects for folder, objects in folders.items() if folder.startswith(f"gitops/{name}/")}
        self.objects = [obj for objects in self.synced.values() for obj in objects]
        self.namespaces = {Layer.PLATFORM_SERVICES: environment.namespaces.platform,
                           Layer.PIPELINE_JOBS: environment.namespaces.jobs}
        self.pods = [_Pod(obj["metadata"].get("namespace", ""), pod_template(obj)["metadata"].get("labels") or {},
                          obj["kind"]) for obj in self.objects if obj["kind"] in POD_KINDS]
        self.by_name = {c.name: c for c in COMPONENTS}
        self.running = {c.name: self.pods_of(c) for c in COMPONENTS if self.pods_of(c)}
        self.drawn = self._drawn()
        self.nodes: dict[str, str] = {}
        """id → label of every node outside the tiers (other namespaces, addresses outside the cluster)."""

    # -- components --------------------------------------------------------------------------------------

    def namespace_of(self, component: Component) -> str:
        return self.namespaces[component.layer]

    def pods_of(self, component: Component) -> list[_Pod]:
        return [pod for pod in self.pods
                if pod.namespace == self.namespace_of(component) and _selects(component.pod_selector, pod.labels)]

    def _drawn(self) -> list[Component]:
        """The components that run pods, and every component they depend on (directly or not)."""
        wanted = set(self.running)
        pending = list(wanted)
        while pending:
            for dependency in self.by_name[pending.pop()].dependencies:
                if dependency not in wanted:
                    wanted.add(dependency)
                    pending.append(dependency)
        return [c for c in COMPONENTS if c.name in wanted]

    def component_label(self, component: Component) -> str:
        pods = self.running.get(component.name)
        if not pods:
            where = "outside the cluster" if component.outside and component.outside(self.environment) else "no pods"
            return f"{component.name} ({where})"
        kinds = Counter(pod.kind for pod in pods)
        ordered = sorted(kinds, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))
        return f"{component.name} ({', '.join(k if kinds[k] == 1 else f'{k} ×{kinds[k]}' for k in ordered)})"

    # -- tiers ---------------------------------------------------------------------------------------------

    def tier_waves(self) -> dict[Tier, list[int]]:
        """Each rendered tier, in startup order, with the sync waves of its objects."""
        waves: dict[str, set[int]] = defaultdict(set)
        for folder, objects in self.synced.items():
            tier_folder = folder.split("/")[1]
            waves[tier_folder] |= {w for w in map(_wave, objects) if w is not None}
        return {tier: sorted(waves[tier.folder]) for tier in TIERS if tier.folder in waves}

    # -- network paths ---------------------------------------------------------------------------------------

    def selected(self, namespace: str, selector: Mapping[str, str] | None) -> list[str]:
        """Node ids of the pods ``selector`` picks in ``namespace`` (None or {}: every pod there)."""
        selector = selector or {}
        if namespace not in self.namespaces.values():
            text = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
            return [self.node("ext_", f"{namespace}/{text}" if text else namespace,
                              f"pods {text} in {namespace}" if text else f"namespace {namespace}")]
        local = [c for c in COMPONENTS if c.name in self.running and self.namespace_of(c) == namespace]
        if not selector:
            if len(local) == 1:
                return [node_id("", local[0].name)]
            return [self.node("ns_", namespace, f"every pod in {namespace}")]
        matched = [c for c in local if any(_selects(selector, pod.labels) for pod in self.running[c.name])]
        if not matched:  # pods that only exist at run time (launched by the orchestrator)
            matched = [c for c in local if not _conflicts(selector, c.pod_selector)]
        return [node_id("", c.name) for c in matched]

    def node(self, prefix: str, key: str, text: str) -> str:
        identity = node_id(prefix, key)
        self.nodes[identity] = text
        return identity

    def address(self, cidr: str, ports: tuple[str, ...]) -> str:
        """The node of an address outside the cluster: the component the environment runs there, if any."""
        for component in self.drawn:
            for egress in (component.outside(self.environment) if component.outside else ()):
                if str(egress.cidr) == cidr and {str(p) for p in egress.ports} >= set(ports):
                    return node_id("", component.name)
        return self.node("ext_", cidr, f"{cidr} (outside the cluster)")

    def peers(self, peers: Iterable[JsonView] | None, namespace: str, ports: tuple[str, ...]) -> list[str]:
        if peers is None:
            return [self.node("ext_", "anywhere", "anywhere")]
        found = []
        for peer in peers:
            if "ipBlock" in peer:
                found.append(self.address(peer["ipBlock"]["cidr"], ports))
                continue
            where = namespace
            if "namespaceSelector" in peer:
                names = (peer["namespaceSelector"].get("matchLabels") or {})
                where = names.get(NAMESPACE_NAME, "any namespace")
            found += self.selected(where, (peer.get("podSelector") or {}).get("matchLabels"))
        return found

    def network_paths(self) -> dict[tuple[str, str], dict[str, set[str]]]:
        """(from, to) → {port: the NetworkPolicies that open it} for every path the policies open."""
        paths: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for policy in (o for o in self.objects if o["kind"] == "NetworkPolicy"):
            namespace, spec = policy["metadata"]["namespace"], policy["spec"]
            own = self.selected(namespace, (spec.get("podSelector") or {}).get("matchLabels"))
            for direction, key, peer_key in (("ingress", "ingress", "from"), ("egress", "egress", "to")):
                for rule in spec.get(key) or []:
                    ports = _ports(rule.get("ports"))
                    for peer in self.peers(rule.get(peer_key), namespace, ports):
                        for mine in own:
                            source, target = (peer, mine) if direction == "ingress" else (mine, peer)
                            if source != target:
                                for port in ports or ("",):
                                    paths[(source, target)][port].add(policy["metadata"]["name"])
        return {edge: dict(paths[edge]) for edge in sorted(paths)}

    # -- the drawing -------------------------------------------------------------------------------------------

    def platform(self) -> list[str]:
        lines = ["flowchart BT"]
        tiers = self.tier_waves()
        for tier, waves in tiers.items():
            text = f"{tier.folder} · wave{'s' if len(waves) != 1 else ''} {', '.join(map(str, waves))}"
            lines.append(f"  subgraph {node_id('tier_', tier.name)}[{label(text)}]")
            members = [c for c in self.drawn if c.tier == tier]
            for component in members:
                lines.append(f"    {node_id('', component.name)}[{label(self.component_label(component))}]")
            if not members:
                lines.append(f"    {node_id('none_', tier.name)}[{label('no component of the registry')}]")
            lines.append("  end")
        ordered = list(tiers)
        lines += ["  %% startup order: each tier needs the one before it"]
        lines += [f"  {node_id('tier_', later.name)} ==> {node_id('tier_', earlier.name)}"
                  for earlier, later in zip(ordered, ordered[1:], strict=False)]
        lines.append("  %% declared dependencies (floe/registry.py): needs it first")
        drawn = {c.name for c in self.drawn}
        for component in self.drawn:
            lines += [f"  {node_id('', component.name)} --> {node_id('', dependency)}"
                      for dependency in sorted(component.dependencies) if dependency in drawn]
        paths = self.network_paths()
        for identity, text in sorted(self.nodes.items()):
            lines.append(f"  {identity}[{label(text)}]")
        lines.append("  %% network paths the NetworkPolicies open: client -.-> server, on these ports")
        for (source, target), ports in paths.items():
            lines.append(f"  {source} -.->|{label(_port_text(p for p in ports if p))}| {target}")
        return lines

    def engines(self) -> list[str]:
        """Flux's chain (its source, root and steps) and Argo CD's (its project and Applications)."""
        objects = [(folder, obj) for folder, found in sorted(self.gitops.items()) for obj in found]
        return ["flowchart BT", *self._flux(objects), *self._argocd(objects)]

    def _flux(self, objects: list[tuple[str, JsonView]]) -> list[str]:
        prefix = f"{self.environment.gitops.path}/"
        kustomizations = [o for _, o in objects if o["kind"] == "Kustomization"]
        repositories = [o for _, o in objects if o["kind"] == "GitRepository"]
        lines: list[str] = []
        if kustomizations:
            lines.append(f"  subgraph flux[{label('Flux')}]")
            for repository in repositories:
                name = repository["metadata"]["name"]
                lines.append(f"    {node_id('git_', name)}[{label(f'GitRepository {name}')}]")
            # The root applies the folder that holds it; the steps are what it applies.
            roots = [o for f, o in objects if o["kind"] == "Kustomization"
                     and o["spec"]["path"].removeprefix("./").removeprefix(prefix) == f]
            steps = [k for k in kustomizations if k not in roots]
            for root in roots:
                name, spec = root["metadata"]["name"], root["spec"]
                text = f"Kustomization {name}<br/>{spec['path']}"
                lines.append(f"    {node_id('ks_', name)}[{label(text)}]")
                lines.append(f"    {node_id('ks_', name)} -->|{label('source')}| "
                             f"{node_id('git_', spec['sourceRef']['name'])}")
            if steps:
                title = label("the steps, each applied once the one it depends on is Ready")
                lines.append(f"    subgraph flux_steps[{title}]")
                for step in steps:
                    name, path = step["metadata"]["name"], step["spec"]["path"]
                    lines.append(f"      {node_id('ks_', name)}[{label(f'{name}<br/>{path}')}]")
                lines.append("    end")
                for step in steps:
                    lines += [f"    {node_id('ks_', step['metadata']['name'])} --> {node_id('ks_', d['name'])}"
                              for d in step["spec"].get("dependsOn") or []]
                lines += [f"    flux_steps -.->|{label('applied by')}| {node_id('ks_', root['metadata']['name'])}"
                          for root in roots]
            lines.append("  end")
        return lines

    def _argocd(self, objects: list[tuple[str, JsonView]]) -> list[str]:
        prefix = f"{self.environment.gitops.path}/"
        applications = [(f, o) for f, o in objects if o["kind"] in ("Application", "AppProject")]
        lines: list[str] = []
        if applications:
            lines.append(f"  subgraph argocd[{label('Argo CD')}]")
            for _, obj in applications:
                name, text = obj["metadata"]["name"], f"{obj['kind']} {obj['metadata']['name']}"
                if obj["kind"] == "Application":
                    path = obj["spec"]["source"]["path"]
                    text += f"<br/>{path}"
                    waves = self.tier_waves() if path.removeprefix(prefix) == self.environment.name else {}
                    if waves:
                        every = sorted({w for found in waves.values() for w in found})
                        text += f" · waves {', '.join(map(str, every))}"
                lines.append(f"    {node_id(obj['kind'].lower() + '_', name)}[{label(text)}]")
            for _, obj in applications:
                if obj["kind"] != "Application":
                    continue
                name, spec = obj["metadata"]["name"], obj["spec"]
                me = node_id("application_", name)
                lines.append(f"    {me} -->|{label('project')}| {node_id('appproject_', spec['project'])}")
                folder = spec["source"]["path"].removeprefix(prefix)
                lines += [f"    {node_id(o['kind'].lower() + '_', o['metadata']['name'])} -.->|{label('applied by')}| "
                          f"{me}" for f, o in applications if f == folder]
            lines.append("  end")
        return lines


def topology_report(environment: Environment, folders: Mapping[str, Sequence[JsonView]]) -> str:
    """The Markdown drawing of one environment from its rendered objects (``folders`` as
    :func:`floe.app.render_objects` returns them): deterministic, no timestamps."""
    drawing = _Drawing(environment, folders)
    platform = drawing.platform()
    lines = [
        "# Topology",
        "",
        "Generated by floe from the registry (`floe/registry.py`) and the rendered objects; never edit. "
        "Print it with `floe topology --env " + environment.name + "`.",
        "",
        "## Tiers, components and network paths",
        "",
        "Tiers sync from top to bottom, each with the sync waves of its objects. A thick arrow goes from a tier "
        "to the one it waits for, a solid arrow from a component to one it declares it depends on (which starts "
        "first), a dotted arrow from a client to a server the NetworkPolicies let it reach, labelled with the "
        "ports.",
        "",
        "```mermaid",
        *platform,
        "```",
        "",
        "| from | to | ports | NetworkPolicies |",
        "|---|---|---|---|",
    ]
    names = {node_id("", c.name): c.name for c in COMPONENTS} | drawing.nodes
    for (source, target), ports in drawing.network_paths().items():
        policies = sorted({p for found in ports.values() for p in found})
        lines.append(f"| {names[source]} | {names[target]} | {_port_text(p for p in ports if p)} | "
                     f"{', '.join(policies)} |")
    lines += [
        "",
        "## The engines' sync chain",
        "",
        "A solid arrow goes from an object to the one it waits for or reads; a dotted one from what is applied "
        "to what applies it (the root Kustomization applies every step; one arrow stands for all).",
        "",
        "```mermaid",
        *drawing.engines(),
        "```",
    ]
    return "\n".join(lines) + "\n"
