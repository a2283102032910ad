"""Rendered objects → files: one object per file, stable names, sorted keys, written atomically.

``dist/<env>/<NN-tier>/<wave>-<step>/<kind>-<name>.yaml``: the path alone says which environment,
when in the sync (the tier, and the wave of its step) and what object. A tree is rendered beside
its target and swapped in whole, so an error never leaves a half-written ``dist/`` behind.
"""

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import yaml

from floe.errors import FloeError
from floe.rendered import Json, JsonView


class _Dumper(yaml.CSafeDumper):
    """libyaml's emitter (PyYAML's wheels bundle it; the pure-Python one is several times slower),
    with block style for multi-line strings (embedded config files stay readable in a diff)."""


def _represent_str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(obj: object) -> str:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=4096, allow_unicode=True)


def to_yaml(obj: JsonView) -> str:
    """``obj`` as YAML: block style, sorted keys, multi-line strings as literal blocks.

    PyYAML's representer walks every value in Python before libyaml writes it; the objects here are
    JSON-like mappings, which :func:`_mapping` writes directly, byte for byte as :func:`_dump` would
    (``tests/test_output.py`` holds it to that). Anything else (a float, an anchor-worthy shared
    value, a very long or non-ASCII string) goes to PyYAML whole.
    """
    out: list[str] = []
    try:
        _mapping(obj, 0, "", out, set())
    except _Unusual:
        return _dump(obj)
    return "".join(out) if out else _dump(obj)


class _Unusual(Exception):
    """A value :func:`to_yaml` leaves to PyYAML."""


_WIDTH = 4000
"""libyaml folds a line at a space past column 4096 (its ``width``): :func:`to_yaml` leaves any line
that could come near to PyYAML."""
_NOT_PLAIN_ASCII = re.compile(r"[^\x20-\x7e]")
_INDICATOR_INSIDE = re.compile(r": | #|:$")
"""After the first character: ``: `` or a final ``:`` (a key's end), `` #`` (a comment)."""
_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def _implicit(text: str) -> bool:
    """Whether a plain ``text`` would read back as something other than a string (``true``, ``1``, ``~``…)."""
    return any(pattern.match(text) for _, pattern in _Dumper.yaml_implicit_resolvers.get(text[0], ()))


def _single_line(text: str) -> str:
    """How libyaml writes a one-line printable ASCII string in block context: plain if it can, else
    single-quoted (libyaml's ``yaml_emitter_analyze_scalar`` and ``select_scalar_style``)."""
    if not text:
        return "''"
    first = text[0]
    plain = not (
        first == " " or text[-1] == " "
        or first in _FIRST_INDICATORS
        or (first in "?:-" and (len(text) == 1 or text[1] == " "))
        or text.startswith(("---", "..."))
        or _INDICATOR_INSIDE.search(text, 1) is not None
        or _implicit(text)
    )
    return text if plain else "'" + text.replace("'", "''") + "'"


_scalars: dict[str, tuple[str, tuple[str, ...]]] = {}
"""string → (its text on the key's line, the lines below it): lines for a literal block, at indent 0."""


def _string(text: str) -> tuple[str, tuple[str, ...]]:
    written = _scalars.get(text)
    if written is None:
        if _NOT_PLAIN_ASCII.search(text) is None:
            written = (_single_line(text), ())
        elif "\n" in text and not _NOT_PLAIN_ASCII.search(text.replace("\n", "")):
            # A literal block: PyYAML writes it alone (content indented by 2), then it moves with its key.
            header, *lines = _dump(text).split("\n")
            if not header.startswith("|") or "+" in header or lines[-1] or any(
                    line and not line.startswith("  ") for line in lines):
                raise _Unusual
            written = (header, tuple(line[2:] for line in lines[:-1]))
        else:
            raise _Unusual
        _scalars[text] = written
    return written


def _scalar(value: object) -> tuple[str, tuple[str, ...]]:
    kind = type(value)
    if kind is str:
        text = cast(str, value)  # exactly str: a subclass (an enum member) takes the general path
        return _scalars.get(text) or _string(text)
    if kind is bool:
        return ("true" if value else "false"), ()
    if kind is int:
        return str(value), ()
    if value is None:
        return "null", ()
    raise _Unusual


_keys: dict[str, str] = {}
"""key → its text before the colon (keys recur in every object)."""


def _key(key: object) -> str:
    if type(key) is not str or len(key) > 100:
        raise _Unusual
    text, lines = _string(key)
    if lines:
        raise _Unusual
    _keys[key] = text
    return text


def _lines(out: list[str], lines: tuple[str, ...], indent: int) -> None:
    pad = " " * indent
    out.extend(f"{pad}{line}\n" if line else "\n" for line in lines)


def _mapping(mapping: object, indent: int, first: str, out: list[str], seen: set[int]) -> None:
    """A block mapping at ``indent``; its first line starts with ``first`` (``"- "`` in a sequence).

    ``seen``: the mappings and lists written so far, by id: PyYAML would write one met twice as an alias.
    """
    if type(mapping) is not dict or id(mapping) in seen:
        raise _Unusual
    seen.add(id(mapping))
    try:
        items = sorted(mapping.items())
    except TypeError:
        raise _Unusual from None
    pad = " " * indent
    start = first or pad
    keys, scalars = _keys, _scalars
    for key, value in items:
        text = keys.get(key) if type(key) is str else None
        if text is None:
            text = _key(key)
        kind = type(value)
        if kind is str:
            written, lines = scalars.get(value) or _string(value)
            line = f"{start}{text}: {written}\n"
            if len(line) > _WIDTH:
                raise _Unusual
            out.append(line)
            if lines:
                _lines(out, lines, indent + 2)
        elif kind is dict:
            if value:
                out.append(f"{start}{text}:\n")
                _mapping(value, indent + 2, "", out, seen)
            else:
                _empty(value, seen)
                out.append(f"{start}{text}: {{}}\n")
        elif kind is list:
            if value:
                out.append(f"{start}{text}:\n")
                _sequence(value, indent, out, seen)
            else:
                _empty(value, seen)
                out.append(f"{start}{text}: []\n")
        else:
            written, lines = _scalar(value)
            out.append(f"{start}{text}: {written}\n")
        start = pad


def _empty(value: Json | list[Any], seen: set[int]) -> None:
    if id(value) in seen:
        raise _Unusual
    seen.add(id(value))


def _sequence(sequence: list[Any], indent: int, out: list[str], seen: set[int]) -> None:
    """A block sequence in a mapping at ``indent``: its dashes at the mapping's indent."""
    _empty(sequence, seen)
    dash = " " * indent + "- "
    for item in sequence:
        kind = type(item)
        if kind is dict:
            if item:
                _mapping(item, indent + 2, dash, out, seen)
            else:
                _empty(item, seen)
                out.append(f"{dash}{{}}\n")
        elif kind is list:
            raise _Unusual
        else:
            text, lines = _scalar(item)
            if len(text) + len(dash) > _WIDTH:
                raise _Unusual
            out.append(f"{dash}{text}\n")
            if lines:
                _lines(out, lines, indent + 2)


def file_name(obj: JsonView) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def header(environment: str) -> str:
    return (f"# Rendered by floe from environments/{environment}.yaml. "
            "Change that file or the generator, then re-render; never edit this file.\n")


def tree_files(environment: str, folders: Mapping[str, Sequence[JsonView]]) -> dict[str, str]:
    """The files of one environment's objects, keyed by path relative to ``dist/``."""
    files: dict[str, str] = {}
    for folder, objects in folders.items():
        for obj in objects:
            path = f"{folder}/{file_name(obj)}"
            if path in files:
                raise FloeError(f"two objects of environment {environment!r} would both be written to {path}")
            files[path] = header(environment) + to_yaml(obj)
    return files


WRITERS = 16
"""Files created at once. Creating a file costs far more than writing it, and is mostly waiting: about half a
millisecond each in a sandboxed container or on a network filesystem, where 16 at a time take a quarter of
the time one at a time takes."""


def _write_file(path: str, content: str, previous: str) -> None:
    """Write ``path``; a file the tree being replaced holds with the same bytes (``previous``) is linked instead.

    A re-render (CI's drift gate, ``cdk8s synth`` after an edit) leaves most files as they were: a hard link
    to the old file costs a thirtieth of creating one, and keeps its timestamps, so git and editors see no
    change either."""
    data = content.encode()
    if _holds(previous, data):
        with contextlib.suppress(OSError):  # a filesystem without hard links: written as any other file
            os.link(previous, path, follow_symlinks=False)
            return
    with open(path, "wb") as file:
        file.write(data)


def _holds(path: str, data: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link to one elsewhere) holding exactly ``data``."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with open(descriptor, "rb") as file:
        status = os.fstat(descriptor)
        return stat.S_ISREG(status.st_mode) and status.st_size == len(data) and file.read() == data


def write_tree(target: Path, files: Mapping[str, str]) -> None:
    """Replace ``target`` with exactly ``files`` (see :func:`writing_tree`)."""
    with writing_tree(target) as write:
        write(files)


@contextlib.contextmanager
def writing_tree(target: Path) -> Iterator[Callable[[Mapping[str, str]], None]]:
    """Replace ``target`` with exactly the files handed to the function this yields, in one or more calls.

    Files are written into a scratch folder beside ``target`` as they come (while the caller renders the
    next ones), and the folder replaces ``target`` when the block ends: stale files vanish, and a failure,
    in the block or in writing, leaves ``target`` untouched. A folder that cannot be written (read-only,
    full disk) is a :class:`FloeError` naming it, with no scratch folder left behind.
    """
    staging = retired = None
    try:
        with _reported(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
        root, folders = str(staging), {""}
        writes: list[Future[None]] = []

        def write(files: Mapping[str, str]) -> None:
            with _reported(target):
                for folder in sorted({relative.rpartition("/")[0] for relative in files} - folders):
                    os.makedirs(f"{root}/{folder}", exist_ok=True)
                    folders.add(folder)
            writes.extend(writers.submit(_write_file, f"{root}/{relative}", text, f"{target}/{relative}")
                          for relative, text in files.items())

        with ThreadPoolExecutor(max_workers=WRITERS) as writers:
            yield write
            with _reported(target):
                for done in writes:
                    done.result()  # the first write that failed raises
        with _reported(target):
            staging.chmod(0o755)
            if target.exists():
                retired = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
                target.rename(retired / target.name)
            _swap_in(staging, target, retired)
        staging = None
    finally:
        for scratch in (staging, retired):
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _reported(target: Path) -> Iterator[None]:
    """An OSError in writing ``target`` as the one line a user needs."""
    try:
        yield
    except OSError as error:
        raise FloeError(f"cannot write {target}: {error.strerror or error} ({error.filename or target}); make it "
                        "writable (or free space) and render again; nothing was changed") from None


def _swap_in(staging: Path, target: Path, retired: Path | None) -> None:
    """Rename the new tree into place; if that fails, the old tree goes back where it was."""
    try:
        staging.rename(target)
    except OSError:
        if retired and (retired / target.name).exists():
            (retired / target.name).rename(target)
        raise
