"""What an environment asks of its cluster: requests, limits and storage per layer and tier.

Pure functions over rendered objects, so the same figures go into the ``floe capacity`` table
and into a file beside each environment's manifests (pull requests show capacity changes).
Each workload counts at its largest size: the replicas it declares, or its autoscaler's maximum.
A pod counts as Kubernetes schedules it: the larger of its containers' sum and its largest init
container. Storage is every PersistentVolumeClaim plus each StatefulSet volume claim per replica.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from floe.config.types import quantity_decimal
from floe.constructs.labels import LAYER, TIER
from floe.rendered import POD_KINDS, JsonView, pod_spec
from floe.tiers import TIERS

RESOURCES = ("cpu", "memory")


@dataclass
class Usage:
    """Totals of one group: pods, requests and limits (cpu in cores, memory and storage in bytes)."""

    pods: int = 0
    requests: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(RESOURCES, Decimal(0)))
    limits: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(RESOURCES, Decimal(0)))
    storage: Decimal = Decimal(0)

    def add(self, other: "Usage") -> None:
        self.pods += other.pods
        for name in RESOURCES:
            self.requests[name] += other.requests[name]
            self.limits[name] += other.limits[name]
        self.storage += other.storage


def _labels(obj: JsonView) -> JsonView:
    return obj["metadata"].get("labels") or {}


def _sum(containers: Iterable[JsonView], side: str, name: str) -> Decimal:
    return sum((quantity_decimal(c.get("resources", {}).get(side, {}).get(name, 0)) for c in containers), Decimal(0))


def _pod(spec: JsonView, side: str, name: str) -> Decimal:
    init = [_sum([c], side, name) for c in spec.get("initContainers") or []]
    return max([_sum(spec.get("containers") or [], side, name), *init])


def _replicas(obj: JsonView, autoscaled: Mapping[tuple[str, str, str], int]) -> int:
    key = (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
    if key in autoscaled:
        return autoscaled[key]
    spec = obj["spec"]
    replicas: int
    if obj["kind"] == "CronJob":
        replicas = spec["jobTemplate"]["spec"].get("parallelism", 1)
    elif obj["kind"] == "Job":
        replicas = spec.get("parallelism", 1)
    else:
        replicas = spec.get("replicas", 1)
    return replicas


def usage_by_group(objects: Iterable[JsonView]) -> dict[tuple[str, str], Usage]:
    """(layer, tier) → usage, in layer order then startup order."""
    objects = list(objects)
    autoscaled = {
        (o["spec"]["scaleTargetRef"]["kind"], o["metadata"].get("namespace", ""), o["spec"]["scaleTargetRef"]["name"]):
            o["spec"]["maxReplicas"]
        for o in objects if o["kind"] == "HorizontalPodAutoscaler"
    }
    groups: dict[tuple[str, str], Usage] = {}
    for obj in objects:
        labels = _labels(obj)
        usage = Usage()
        if obj["kind"] in POD_KINDS:
            spec = pod_spec(obj)
            usage.pods = _replicas(obj, autoscaled)
            for name in RESOURCES:
                usage.requests[name] = _pod(spec, "requests", name) * usage.pods
                usage.limits[name] = _pod(spec, "limits", name) * usage.pods
            for claim in obj["spec"].get("volumeClaimTemplates") or []:
                request = claim["spec"].get("resources", {}).get("requests", {}).get("storage", 0)
                usage.storage += quantity_decimal(request) * usage.pods
        elif obj["kind"] == "PersistentVolumeClaim":
            usage.storage = quantity_decimal(obj["spec"].get("resources", {}).get("requests", {}).get("storage", 0))
        else:
            continue
        groups.setdefault((labels.get(LAYER, "-"), labels.get(TIER, "-")), Usage()).add(usage)
    order = {tier.name: index for index, tier in enumerate(TIERS)}
    return dict(sorted(groups.items(), key=lambda item: (item[0][0], order.get(item[0][1], len(order)), item[0][1])))


def quotas(objects: Iterable[JsonView]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, name, hard limits) of every ResourceQuota rendered."""
    return sorted((o["metadata"].get("namespace", ""), o["metadata"]["name"], dict(sorted(o["spec"]["hard"].items())))
                  for o in objects if o["kind"] == "ResourceQuota" and (o.get("spec") or {}).get("hard"))


def cpu(value: Decimal) -> str:
    """Cores, to the millicore: ``4.4``, ``17``, ``0.25``."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def size(value: Decimal) -> str:
    """Bytes in the largest binary unit that keeps two decimals meaningful."""
    for unit, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= factor:
            amount = value / factor
            text = f"{amount:.2f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return str(int(value))


def total(objects: Iterable[JsonView]) -> Usage:
    """One environment's totals: the last row of its table (``floe diff --format markdown`` shows their deltas)."""
    found = Usage()
    for usage in usage_by_group(objects).values():
        found.add(usage)
    return found


def rows(objects: Iterable[JsonView]) -> list[list[str]]:
    """The table: layer, tier, pods, cpu req/limit, memory req/limit, storage; the last row is the total."""
    objects = list(objects)
    table = [_row(layer, tier, usage) for (layer, tier), usage in usage_by_group(objects).items()]
    table.append(_row("total", "", total(objects)))
    return table


def _row(layer: str, tier: str, usage: Usage) -> list[str]:
    return [layer, tier, str(usage.pods), cpu(usage.requests["cpu"]), cpu(usage.limits["cpu"]),
            size(usage.requests["memory"]), size(usage.limits["memory"]), size(usage.storage)]


HEADERS = ["layer", "tier", "pods", "cpu requests", "cpu limits", "memory requests", "memory limits", "storage"]


def capacity_report(objects: Iterable[JsonView]) -> str:
    """A Markdown report of one environment's rendered objects: deterministic, no timestamps."""
    objects = list(objects)
    lines = [
        "# Capacity",
        "",
        "Generated by floe from the rendered objects; never edit. Workloads count at their largest size "
        "(an autoscaler's maximum), job templates as one run each.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(HEADERS))) + "|",
    ]
    for row in rows(objects):
        cells = [f"**{cell}**" if row[0] == "total" and cell else cell for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    found = quotas(objects)
    if found:
        lines += ["", "## Resource quotas", "", "| namespace | quota | resource | hard |", "|---|---|---|---:|"]
        lines += [f"| {ns} | {name} | {resource} | {value} |"
                  for ns, name, hard in found for resource, value in hard.items()]
    return "\n".join(lines) + "\n"
