"""Rendered objects → files: one object per file, stable names, sorted keys, written atomically.

``dist/<env>/<NN-tier>/<wave>-<step>/<kind>-<name>.yaml``: the path alone says which environment,
when in the sync (the tier, and the wave of its step) and what object. A tree is rendered beside
its target and swapped in whole, so an error never leaves a half-written ``dist/`` behind.
"""

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml

from floe.errors import FloeError


class _Dumper(yaml.CSafeDumper):
    """libyaml's emitter (PyYAML's wheels bundle it; the pure-Python one is several times slower),
    with block style for multi-line strings (embedded config files stay readable in a diff)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(obj: Mapping) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=4096,
                     allow_unicode=True)


def file_name(obj: Mapping) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def header(environment: str) -> str:
    return (f"# Rendered by floe from environments/{environment}.yaml. "
            "Change that file or the generator, then re-render; never edit this file.\n")


def tree_files(environment: str, folders: Mapping[str, list[Mapping]]) -> dict[str, str]:
    """The files of one environment's objects, keyed by path relative to ``dist/``."""
    files: dict[str, str] = {}
    for folder, objects in folders.items():
        for obj in objects:
            path = f"{folder}/{file_name(obj)}"
            if path in files:
                raise FloeError(f"two objects of environment {environment!r} would both be written to {path}")
            files[path] = header(environment) + to_yaml(obj)
    return files


def write_tree(target: Path, files: Mapping[str, str]) -> None:
    """Replace ``target`` with exactly ``files``: stale files vanish, and a failure leaves it untouched.

    A folder that cannot be written (read-only, full disk) is a :class:`FloeError` naming it, with no
    scratch folder left behind.
    """
    staging = retired = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
        for relative, content in sorted(files.items()):
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        staging.chmod(0o755)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
            target.rename(retired / target.name)
        _swap_in(staging, target, retired)
        staging = None
    except OSError as error:
        raise FloeError(f"cannot write {target}: {error.strerror or error} ({error.filename or target}); make it "
                        "writable (or free space) and render again; nothing was changed") from None
    finally:
        for scratch in (staging, retired):
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)


def _swap_in(staging: Path, target: Path, retired: Path | None) -> None:
    """Rename the new tree into place; if that fails, the old tree goes back where it was."""
    try:
        staging.rename(target)
    except OSError:
        if retired and (retired / target.name).exists():
            (retired / target.name).rename(target)
        raise
