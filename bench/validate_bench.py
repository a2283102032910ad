#!/usr/bin/env python3
"""Benchmark: in-process strict validation of every rendered built-in object, on every supported version.

Renders the shipped environments once into a scratch directory, then validates their built-in objects
twice, side by side in one process: with ``kubernetes_validate.validate`` called per object (which
reads the kind's schema and the shared definitions from disk on every call) and with
``floe.validation.validate`` (in-process path, kubeconform hidden), first with cold caches, then again on
the same objects (each object's verdict kept). Prints, for each: objects validated, seconds and
``json.load`` calls, and whether all gave the same verdicts and messages.

    .venv/bin/python bench/validate_bench.py
"""

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from floe import validation  # noqa: E402
from floe.config.loader import ENVIRONMENTS_DIR  # noqa: E402
from floe.synth import synthesize  # noqa: E402


def rendered_objects() -> list[tuple[str, dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        outdir = Path(tmp) / "dist"
        synthesize(outdir, environments_dir=ROOT / ENVIRONMENTS_DIR)
        return [(str(path.relative_to(outdir)), yaml.load(path.read_text(), Loader=yaml.CSafeLoader))
                for path in sorted(outdir.rglob("*.yaml")) if path.name != "kustomization.yaml"]


def direct(objects: list[tuple[str, dict]]) -> list[str]:
    """kubernetes_validate called per object, as floe/validation.py did before it cached validators."""
    problems = []
    for version in validation.KUBERNETES_VERSIONS:
        for path, obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(p) for p in error.path) or "(object)"
                problems.append(f"{path}: Kubernetes {version}: {where}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                problems.append(f"{path}: Kubernetes {version}: {error.message}")
    return problems


def measured(label: str, run, objects: list[tuple[str, dict]]) -> list[str]:
    loads = 0
    real_load = json.load

    def counting_load(*args, **kwargs):
        nonlocal loads
        loads += 1
        return real_load(*args, **kwargs)

    with mock.patch("json.load", counting_load), mock.patch.object(shutil, "which", return_value=None):
        start = time.perf_counter()
        problems = run(objects)
        seconds = time.perf_counter() - start
    checks = len(objects) * len(validation.KUBERNETES_VERSIONS)
    print(f"  {label:<34} {len(objects):4d} objects x {len(validation.KUBERNETES_VERSIONS)} versions "
          f"= {checks:4d} checks   {seconds:6.3f} s   {loads:4d} json loads   {len(problems)} problems")
    return problems


def main() -> int:
    objects = [(p, o) for p, o in rendered_objects() if o and not validation.is_custom_resource(o)]
    print(f"strict validation of the shipped environments' built-in objects on "
          f"{', '.join(validation.KUBERNETES_VERSIONS)}")
    before = measured("kubernetes_validate per object", direct, objects)
    after = measured("floe.validation (cold caches)", lambda objs: [str(p) for p in validation.validate(objs)],
                     objects)
    again = measured("floe.validation (warm caches)", lambda objs: [str(p) for p in validation.validate(objs)],
                     objects)
    same = sorted(before) == sorted(after) == sorted(again)
    print(f"  same verdicts and messages: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
