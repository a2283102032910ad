"""Render an environment file after changing one value in it: how a test observes what a change does."""

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml

from floe.config.loader import ENVIRONMENTS_DIR, load_environment
from tests.conftest import ROOT

CHECKSUM = "floe.dev/config-checksum"


def _set(settings: dict, path: str, value: object) -> None:
    *parents, key = path.split(".")
    for parent in parents:
        settings = settings.setdefault(parent, {})
    settings[key] = value


def _add_product(settings: dict) -> None:
    (product,) = settings["data_products"]
    settings["data_products"].append({**copy.deepcopy(product), "name": "orders", "module": "orders.definitions"})


CHANGES: dict[str, Callable[[dict], None]] = {
    "nothing": lambda settings: None,
    "catalog realm": lambda settings: _set(settings, "catalog.polaris.realm", "elsewhere"),
    "maximum of concurrent runs": lambda settings: _set(settings, "orchestrator.max_concurrent_runs", 7),
    "a second data product": _add_product,
    "a trace backend": lambda settings: _set(settings, "observability.otel_collector.traces_endpoint",
                                             "tempo-distributor.tracing.svc.cluster.local:4317"),
    "a scrape interval": lambda settings: _set(settings, "observability.prometheus.scrape_interval", "15s"),
    "the platform namespace": lambda settings: _set(settings, "namespaces.platform", "floe-services"),
    "the jobs namespace": lambda settings: _set(settings, "namespaces.jobs", "floe-pipelines"),
    # Without a kubelet source prometheus.yml names no namespace (its federation asks for both).
    "no kubelet source": lambda settings: _set(settings, "observability.prometheus.cluster_metrics", {}),
    "the jobs namespace, no kubelet source": lambda settings: (
        _set(settings, "namespaces.jobs", "floe-pipelines"),
        _set(settings, "observability.prometheus.cluster_metrics", {})),
}
"""Changes to dev.yaml, by name; "nothing" renders the file as it is."""


@functools.cache
def render_dev_after(change: str) -> tuple[dict, ...]:
    """Every object rendered from environments/dev.yaml with one change made to its settings."""
    from floe.app import render_objects

    settings = yaml.safe_load((ROOT / ENVIRONMENTS_DIR / "dev.yaml").read_text())
    CHANGES[change](settings)
    with TemporaryDirectory() as folder:
        path = Path(folder) / "dev.yaml"
        path.write_text(yaml.safe_dump(settings, sort_keys=False))
        environment = load_environment(path)
    return tuple(obj for objects in render_objects(environment).values() for obj in objects)


def checksum_of(change: str, kind: str, name: str) -> str:
    """The config checksum on the pod template of one workload, rendered after ``change``."""
    (workload,) = [o for o in render_dev_after(change) if o["kind"] == kind and o["metadata"]["name"] == name]
    return workload["spec"]["template"]["metadata"]["annotations"][CHECKSUM]
