"""The git checkout both engines read, and what each builds from a path in it.

``load`` maps every YAML file under a render's ``dist/`` to its parsed documents, keyed by its path
in the repository (``dist/prod/20-catalog/deployment-polaris.yaml``), which is how Argo CD's
``spec.source.path`` and Flux's ``spec.path`` name it.
"""

import fnmatch
import functools
import posixpath
import re
from pathlib import Path

import yaml

Tree = dict[str, list[dict]]
MANIFEST = re.compile(r"^.*\.(yaml|yml|json|jsonnet)$")  # argo-cd reposerver/repository/repository.go
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@functools.cache
def load(dist: Path) -> Tree:
    """Read once per render; callers that edit it (broken variants) edit a deep copy."""
    root = dist.parent
    return {str(path.relative_to(root)): [d for d in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if d]
            for path in sorted(dist.rglob("*")) if path.is_file() and path.suffix in (".yaml", ".yml", ".json")}


def objects(tree: Tree, prefix: str) -> list[dict]:
    """Every Kubernetes object in files under ``prefix`` (kustomization files are not objects)."""
    return [d for path, docs in tree.items() if path.startswith(prefix.rstrip("/") + "/")
            and posixpath.basename(path) not in KUSTOMIZATION_FILES for d in docs]


def glob_match(pattern: str, text: str) -> bool:
    """github.com/gobwas/glob without separators (argo-cd util/glob): ``*`` also crosses ``/``;
    ``{a,b}`` alternatives."""
    regex = ""
    for part in re.split(r"(\{[^}]*\})", pattern):
        if part.startswith("{") and part.endswith("}"):
            regex += "(?:" + "|".join(fnmatch.translate(p)[4:-3] for p in part[1:-1].split(",")) + ")"
        elif part:
            regex += fnmatch.translate(part)[4:-3]
    return re.fullmatch(regex, text, re.DOTALL) is not None


def argocd_directory(tree: Tree, source: dict) -> list[dict]:
    """What an Application with a directory source renders (argo-cd reposerver
    ``getPotentiallyValidManifests``/``getPotentiallyValidManifestFile``): every manifest file under
    ``path`` (sub-folders only with ``recurse``), minus those matching ``exclude`` (a glob over the
    path relative to ``path``), only those matching ``include`` when set. A kustomization.yaml that
    the exclude pattern misses is read like any manifest (and fails the sync as an unknown kind)."""
    base, directory = source["path"].strip("/"), source.get("directory", {})
    found = []
    for path, docs in tree.items():
        if not path.startswith(base + "/"):
            continue
        relative = path[len(base) + 1:]
        if "/" in relative and not directory.get("recurse"):
            continue
        if not MANIFEST.match(posixpath.basename(path)):
            continue
        if directory.get("exclude") and glob_match(directory["exclude"], relative):
            continue
        if directory.get("include") and not glob_match(directory["include"], relative):
            continue
        found += docs
    return found


class BuildError(Exception):
    pass


def kustomize_build(tree: Tree, path: str) -> list[dict]:
    """``kustomize build`` of a folder as kustomize-controller runs it: the folder's kustomization
    file, or, when there is none, one generated from every manifest below it, a sub-folder with its
    own kustomization file counting as one resource (fluxcd/pkg kustomize/kustomize_generator.go
    ``scanManifests``). Only ``resources`` are supported: any other field (patches, namespace,
    labels) would change the objects, so the build refuses it rather than ignore it. Two objects with
    the same id are an error, as in kustomize."""
    path = posixpath.normpath(path.removeprefix("./"))
    files = [posixpath.join(path, name) for name in KUSTOMIZATION_FILES if posixpath.join(path, name) in tree]
    if files:
        kustomization = tree[files[0]][0]
        unsupported = set(kustomization) - {"apiVersion", "kind", "resources"}
        if unsupported:
            raise BuildError(f"{files[0]}: this model does not apply {sorted(unsupported)}")
        resources = [posixpath.normpath(posixpath.join(path, r)) for r in kustomization.get("resources", [])]
    else:
        resources = _scan(tree, path)
    built, seen = [], set()
    for resource in resources:
        if resource in tree:
            docs = tree[resource]
        elif any(p.startswith(resource + "/") for p in tree):
            docs = kustomize_build(tree, resource)
        else:
            raise BuildError(f"{path}: resource {resource} not found")
        for doc in docs:
            ident = (doc["apiVersion"].rpartition("/")[0], doc["kind"], doc["metadata"].get("namespace"),
                     doc["metadata"]["name"])
            if ident in seen:
                raise BuildError(f"{path}: {ident} is built twice")
            seen.add(ident)
            built.append(doc)
    return built


def _scan(tree: Tree, path: str) -> list[str]:
    below = sorted(p for p in tree if p.startswith(path + "/"))
    if not below:
        raise BuildError(f"{path}: no such folder")
    folders = sorted({posixpath.dirname(p) for p in below if posixpath.basename(p) in KUSTOMIZATION_FILES})
    nested = [f for f in folders if not any(f.startswith(o + "/") for o in folders)]
    return nested + [p for p in below if not any(p.startswith(f + "/") for f in nested)]
