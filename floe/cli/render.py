"""Rendering for the command line: into a scratch folder first, then (once checked) into ``dist/``.

The render itself is :func:`floe.synth.synthesize`; the tree is written with
:func:`floe.output.write_tree`, so ``dist/`` is replaced whole or not at all.
"""

import tempfile
from collections.abc import Mapping
from pathlib import Path

from floe.output import write_tree
from floe.rendered import Json
from floe.synth import owned_folders, synthesize
from floe.validation import Problem, validate, validate_custom_resources


def render_scratch(names: list[str] | None, environments: Path) -> dict[str, str]:
    """Every file of a fresh render of the named environments (all by default) of the ``environments`` folder,
    keyed by path in ``dist/``."""
    with tempfile.TemporaryDirectory(prefix="floe-render-") as scratch:
        rendered = synthesize(Path(scratch) / "dist", names, environments)
    return {path: text for files in rendered.values() for path, text in files.items()}


def promote(files: Mapping[str, str], names: list[str] | None, dist: Path) -> None:
    """Write a checked render into ``dist``: the whole tree, or only the named environments' folders."""
    if names is None:
        write_tree(dist, files)
        return
    for name in names:
        for folder in owned_folders(name):
            write_tree(dist / folder, {path.removeprefix(f"{folder}/"): text for path, text in files.items()
                                       if path.startswith(f"{folder}/")})


def schema_problems(objects: Mapping[str, Json]) -> list[Problem]:
    """Every schema problem of the objects, keyed by the path a problem names."""
    pairs = list(objects.items())
    return validate(pairs) + validate_custom_resources(pairs)
