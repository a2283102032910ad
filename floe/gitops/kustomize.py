"""The kustomization.yaml files of the synced tree: each step folder lists exactly its files, each
tier folder its step folders, so Flux (and ``kubectl kustomize``) builds the same objects Argo CD
reads from the folder, one step or a whole tier at a time."""

from collections import defaultdict
from collections.abc import Iterable

from floe.output import header, to_yaml

FILE = "kustomization.yaml"


def kustomization(environment: str, resources: Iterable[str]) -> str:
    return header(environment) + to_yaml({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(resources),
    })


def kustomizations(environment: str, folders: Iterable[str], paths: Iterable[str]) -> dict[str, str]:
    """path → text of the kustomization.yaml of each of ``folders`` (listing its files among
    ``paths``) and of each folder's parent (listing the folders in it)."""
    folders = set(folders)
    resources: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        folder, name = path.rsplit("/", 1)
        if folder in folders:
            resources[folder].append(name)
    for folder in folders:
        parent, name = folder.rsplit("/", 1)
        resources[parent].append(name)
    return {f"{folder}/{FILE}": kustomization(environment, names) for folder, names in resources.items()}
