"""The kustomization.yaml of a tier folder: exactly the files in it, so Flux (and
``kubectl kustomize``) builds the same objects Argo CD reads from the folder."""

from floe.output import header, to_yaml

FILE = "kustomization.yaml"


def kustomization(environment: str, files: list[str]) -> str:
    return header(environment) + to_yaml({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    })
