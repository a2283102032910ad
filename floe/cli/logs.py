"""Streaming the logs of a set of pods, every line prefixed with its pod and container."""

import queue
import re
import threading
from collections.abc import Callable, Sequence

from floe.cli.cluster import Cluster
from floe.cli.context import console
from floe.errors import FloeError
from floe.rendered import JsonView

_SINCE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_seconds(text: str | None) -> int | None:
    """``10m`` → 600; None stays None."""
    if not text:
        return None
    match = _SINCE.match(text)
    if not match or int(match[1]) == 0:
        raise FloeError(f"--since {text!r}: write a positive number and a unit: s, m, h or d (for example 10m)")
    return int(match[1]) * _UNITS[match[2]]


def containers(pod: JsonView) -> list[str]:
    spec = pod.get("spec") or {}
    return [c["name"] for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]]


def print_logs(cluster: Cluster, namespace: str, selector: str, missing: str, *, follow: bool = False,
               since: int | None = None) -> None:
    """Print the logs of the pods ``selector`` picks; ``missing`` is the error when there are none."""
    pods = cluster.list_pods(namespace, selector)
    if not pods:
        raise FloeError(missing)
    out = console()
    stream(cluster, namespace, pods, lambda line: out.print(line, markup=False, highlight=False, soft_wrap=True),
           follow=follow, since=since)


def stream(cluster: Cluster, namespace: str, pods: Sequence[JsonView], write: Callable[[str], None], *,
           follow: bool = False, since: int | None = None) -> None:
    """Every container's log; following, all streams at once until every one ends."""
    sources = [(pod["metadata"]["name"], name) for pod in pods for name in containers(pod)]
    if not follow:
        for pod, container in sources:
            for line in cluster.pod_logs(namespace, pod, container, since_seconds=since):
                write(f"[{pod}/{container}] {line}")
        return
    lines: queue.Queue[str | FloeError | None] = queue.Queue()  # None: one stream ended

    def pump(pod: str, container: str) -> None:
        try:
            for line in cluster.pod_logs(namespace, pod, container, follow=True, since_seconds=since):
                lines.put(f"[{pod}/{container}] {line}")
        except FloeError as error:
            lines.put(error)
        finally:
            lines.put(None)

    for pod, container in sources:
        threading.Thread(target=pump, args=(pod, container), daemon=True).start()
    remaining = len(sources)
    while remaining:
        item = lines.get()
        if item is None:
            remaining -= 1
        elif isinstance(item, FloeError):
            raise item
        else:
            write(item)
