"""Rendering for the command line: in memory first, then (once checked) into ``dist/``.

The render itself is :func:`floe.synth.render_environments`; the tree is written with
:func:`floe.synth.write_rendered`, so ``dist/`` is replaced whole or not at all.
"""

from collections.abc import Mapping
from pathlib import Path

from floe.rendered import Json
from floe.synth import render_environments
from floe.validation import Problem, validate, validate_custom_resources


def render_scratch(names: list[str] | None, environments: Path) -> dict[str, str]:
    """Every file of a fresh render of the named environments (all by default) of the ``environments`` folder,
    keyed by path in ``dist/``."""
    rendered = render_environments(names, environments)
    return {path: text for files in rendered.values() for path, text in files.items()}


def schema_problems(objects: Mapping[str, Json]) -> list[Problem]:
    """Every schema problem of the objects, keyed by the path a problem names."""
    pairs = list(objects.items())
    return validate(pairs) + validate_custom_resources(pairs)
