"""Load ``environments/<name>.yaml`` into an :class:`Environment`, or fail with a clear error.

Every failure is a :class:`FloeError` whose lines read ``file:line: field: what is allowed``.
"""

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from floe.config.base import FieldError
from floe.config.environment import Environment
from floe.errors import FloeError

ENVIRONMENTS_DIR = Path("environments")
SCHEMA_FILE = "schema.json"
SUFFIX = ".yaml"

RESERVED_NAMES = {"gitops"}
"""Names of dist/ folders that are not environments."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml when PyYAML has it: ten times faster, and its nodes carry line marks as well."""
_MERGE = "tag:yaml.org,2002:merge"


def environment_files(directory: Path = ENVIRONMENTS_DIR) -> list[Path]:
    """The environment files of a directory, in name order (the schema file is not one).

    A file that looks like one but would be skipped (``dev.yml``, ``dev.YAML``) is refused:
    rendering every environment would otherwise delete that environment from dist/ without a word.
    """
    if not directory.is_dir():
        raise FloeError(f"{directory}: no such folder; run from the repository root, or name the folder of "
                        "environment files with --environments")
    misnamed = sorted(path for path in directory.iterdir() if path.suffix.lower() in {".yaml", ".yml"}
                      and path.suffix != SUFFIX and not path.name.startswith("."))
    if misnamed:
        raise FloeError("\n".join(f"{path}: environment files end in {SUFFIX}; rename it to {path.stem}{SUFFIX}"
                                  for path in misnamed))
    return sorted(directory.glob(f"*{SUFFIX}"))


def load_environment(path: Path) -> Environment:
    """Parse and validate one environment file."""
    node, data = _parse(path, _read(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FloeError(f"{path}: the file must hold a mapping of settings, not a {type(data).__name__}")
    if path.stem in RESERVED_NAMES:
        raise FloeError(f"{path}: {path.stem!r} cannot name an environment: dist/{path.stem}/ holds the GitOps wiring")
    if "name" in data:
        line, _ = _locate(node, ["name"])
        raise FloeError(f"{_where(path, line)}: name: not allowed; an environment's name is its file name "
                        f"({path.stem!r})")
    try:
        return Environment.model_validate({**data, "name": path.stem})
    except ValidationError as error:
        errors = error.errors()
        raise FloeError("\n".join(_describe(path, node, item) for item in errors
                                  if not _follows_from_items(item, errors))) from None


def load_environments(names: list[str] | None = None, directory: Path = ENVIRONMENTS_DIR) -> list[Environment]:
    """Load the named environments, or every environment of the directory; all must be valid."""
    paths = [directory / f"{name}{SUFFIX}" for name in names] if names else environment_files(directory)
    if not paths:
        raise FloeError(f"{directory}: no environment files (*{SUFFIX}) found")
    return [load_environment(path) for path in paths]


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        known = ", ".join(p.stem for p in environment_files(path.parent)) or "none"
        raise FloeError(f"{path}: no such environment file (environments here: {known})") from None
    except OSError as error:
        raise FloeError(f"{path}: cannot be read: {error.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise FloeError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[error.start]:02x}); "
                        "save the file as UTF-8") from None


def _parse(path: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """The file's node tree (for line numbers) and its data, from one parse."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        duplicates = [f"{path}:{line}: {field}: duplicate key (first set at line {first})"
                      for line, field, first in _duplicate_keys(node)]
        if duplicates:
            raise FloeError("\n".join(duplicates))
        return node, None if node is None else loader.construct_document(node)
    except yaml.YAMLError as error:
        raise FloeError(_malformed(path, text, error)) from None
    finally:
        loader.dispose()


def _duplicate_keys(root: yaml.Node | None) -> Iterator[tuple[int, str, int]]:
    """Keys set twice in one mapping, as (line, dotted path, first line): PyYAML would keep the last one silently."""
    visited: set[int] = set()  # an alias repeats a node, and may even contain itself

    def walk(node: yaml.Node | None, path: tuple[Any, ...]) -> Iterator[tuple[int, str, int]]:
        if id(node) in visited:
            return
        visited.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                yield from walk(item, (*path, index))
        if not isinstance(node, yaml.MappingNode):
            return
        first: dict[tuple[str, Any], int] = {}
        for key, value in node.value:
            here = (*path, key.value)
            if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE:
                if (key.tag, key.value) in first:
                    yield key.start_mark.line + 1, ".".join(map(str, here)), first[key.tag, key.value]
                first.setdefault((key.tag, key.value), key.start_mark.line + 1)
            yield from walk(value, here)

    return walk(root, ())


# PyYAML's problems in words: what was found, and what to check.
_YAML_PROBLEMS = {
    "expected <block end>, but found '<block mapping start>'":
        "this key is indented differently from the keys before it; the keys of one mapping start in the same column",
    "expected <block end>, but found '<block sequence start>'":
        "this list is indented differently from the lines before it; check the indentation of this line",
    "expected <block end>, but found '-'": "a list item ('- ') where a key belongs; check the indentation of this line",
    "expected <block end>, but found '?'": "a key where a list item ('- ') belongs; check the indentation of this line",
    "expected <block end>, but found '<scalar>'":
        "more text after a complete value; quote a value that holds ': ' or ' #', and start each key on its own line",
    "mapping values are not allowed here":
        "a ':' where no key can start: a key indented deeper than the key before it, a line above without its ':', "
        "or a value holding ': ' that needs quotes",
    "sequence entries are not allowed here": "a list item ('- ') on its key's line; start the list on the next line",
    "could not find expected ':'": "a line without ':' among keys; write key: value, or indent it under its key",
    "found unexpected end of stream": "this quoted value is never closed; add the closing quote",
    "found character '\\t' that cannot start any token": "a tab; indent with spaces",
    "found unhashable key": "a list or mapping used as a key; keys are plain names",
    "but found another document": "a second document ('---'); an environment file holds one",
    "second occurrence": "this anchor (&name) is defined twice; rename one of them",
}
_YAML_PATTERNS = (
    (r"^found character (.+) that cannot start any token$", r"\1 cannot start a value; put the value in quotes"),
    (r"^could not determine a constructor for the tag (.+)$", r"the tag \1 is not supported; remove it"),
    (r"^expected alphabetic or numeric character, but found .+$",
     "'*' and '&' start an alias or anchor name; put a value that begins with them in quotes"),
)
_YAML_TOKENS = {
    "but got": "but found", "'<stream end>'": "the end of the file", "<block end>": "the end of the block",
    "'<scalar>'": "a value", "'<block mapping start>'": "an indented key",
    "'<block sequence start>'": "an indented list", "'<document start>'": "'---'", "'<document end>'": "'...'",
    "'<alias>'": "an alias (*name)", "'<anchor>'": "an anchor (&name)", "'<tag>'": "a tag (!name)",
}
_FLOW = {"while parsing a flow sequence": "[ ] list", "while parsing a flow mapping": "{ } mapping"}
_AT_TOKEN_START = {"while scanning a simple key", "while scanning a quoted scalar"}
"""Problems found where a token should have ended; the culprit is where it started."""


def _malformed(path: Path, text: str, error: yaml.YAMLError) -> str:
    """``file:line:column: malformed YAML: ...`` in words instead of the parser's token names."""
    error = _precise(text, error)
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1
        return f"{path}:{line}: malformed YAML: character U+{error.character:04X} is not allowed; remove it"
    problem, context = getattr(error, "problem", None) or str(error), getattr(error, "context", None)
    context_mark: yaml.Mark | None = getattr(error, "context_mark", None)
    mark = context_mark if context in _AT_TOKEN_START else getattr(error, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    words = _YAML_PROBLEMS.get(problem)
    if words is None:
        words = problem
        for pattern, replacement in _YAML_PATTERNS:
            words = re.sub(pattern, replacement, words)
        for token, meaning in _YAML_TOKENS.items():
            words = words.replace(token, meaning)
    if context in _FLOW and context_mark:
        words += f" (in the {_FLOW[context]} that starts at line {context_mark.line + 1})"
    return f"{where}: malformed YAML: {words}"


def _precise(text: str, error: yaml.YAMLError) -> yaml.YAMLError:
    """libyaml says "did not find expected key" where PyYAML's own parser names what it found: ask that one."""
    if _Loader is yaml.SafeLoader:
        return error
    try:
        yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as precise:
        return precise
    return error


# Pydantic's generic errors in the file's terms; ``got`` is the value found, the rest is pydantic's context.
_MESSAGES = {
    "extra_forbidden": "unknown field; check its spelling against environments/schema.json",
    "missing": "required field is missing",
    "union_tag_not_found": "required field is missing",
    "union_tag_invalid": "{tag!r} is not one of {expected_tags}",
    "literal_error": "{got} is not one of {expected}",
    "model_type": "expected a mapping of settings (got {got})",
    "model_attributes_type": "expected a mapping of settings (got {got})",
    "dict_type": "expected a mapping (got {got})",
    "list_type": "expected a list (got {got})",
    "tuple_type": "expected a list (got {got})",
    "string_type": "expected text (got {got})",
    "int_type": "expected a whole number (got {got})",
    "int_parsing": "expected a whole number (got {got})",
    "int_from_float": "expected a whole number (got {got})",
    "float_type": "expected a number (got {got})",
    "float_parsing": "expected a number (got {got})",
    "bool_type": "expected true or false (got {got})",
    "bool_parsing": "expected true or false (got {got})",
    "greater_than_equal": "must be at least {ge} (got {got})",
    "greater_than": "must be more than {gt} (got {got})",
    "less_than_equal": "must be at most {le} (got {got})",
    "less_than": "must be less than {lt} (got {got})",
    "too_short": "needs at least {min_length} item(s) (got {actual_length})",
    "too_long": "takes at most {max_length} item(s) (got {actual_length})",
    "string_too_short": "needs at least {min_length} character(s) (got {got})",
    "string_too_long": "takes at most {max_length} characters (got {got})",
    "string_pattern_mismatch": "{got} does not match the pattern {pattern}",
}


def _follows_from_items(error: ErrorDetails, errors: list[ErrorDetails]) -> bool:
    """A list too short only because its items failed (pydantic counts the valid ones): their errors say why."""
    depth = len(error["loc"])
    return error["type"] == "too_short" and any(len(other["loc"]) > depth and other["loc"][:depth] == error["loc"]
                                                for other in errors)


def _describe(path: Path, root: yaml.Node | None, error: ErrorDetails) -> str:
    """One pydantic error as ``file:line: field: message``, the line found along the file's nodes."""
    line, location = _locate(root, [*error["loc"], *_located_within(error)])
    where = _where(path, line)
    template = _MESSAGES.get(error["type"])
    message = (template.format(got=_shown(error.get("input")), **error.get("ctx", {})) if template
               else error["msg"].removeprefix("Value error, "))
    field = ".".join(str(part) for part in location)
    if location == ["name"]:
        return f"{path}: file name: {message}; rename the file"
    if not field or message.startswith(field):  # a check whose sentence names its field
        return f"{where}: {message}"
    return f"{where}: {field}: {message}"


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def _located_within(error: ErrorDetails) -> tuple[Any, ...]:
    """Where inside the error's location it is about: a cross-field check's field, a union's discriminator."""
    context = error.get("ctx", {})
    if isinstance(field_error := context.get("error"), FieldError):
        return field_error.path
    discriminator = re.fullmatch(r"'(\w+)'", str(context.get("discriminator", "")))
    return (discriminator[1],) if discriminator else ()


def _shown(value: Any) -> str:
    """A value as the file wrote it, short."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


@functools.cache
def _union_tags() -> frozenset[str]:
    """The member names pydantic puts into the location of an error inside a tagged union (``external``,
    ``duckdb``); the file has no such key."""
    tags: set[str] = set()

    def collect(schema: Any) -> None:
        if isinstance(schema, dict):
            if schema.get("type") == "tagged-union":
                tags.update(schema["choices"])
            for value in schema.values():
                collect(value)
        elif isinstance(schema, list | tuple):
            for value in schema:
                collect(value)

    collect(Environment.__pydantic_core_schema__)
    return frozenset(tags)


def _locate(root: yaml.Node | None, location: list[Any]) -> tuple[int | None, list[Any]]:
    """The 1-based line of the deepest YAML node on an error's location, and the location as the file spells it
    (without union member names and pydantic's ``[key]`` marker)."""
    node, line, spelled = root, None, []
    for part in location:
        key, child = _child(node, part)
        if key is None and (part == "[key]" or part in _union_tags()):
            continue
        spelled.append(part)
        if key is not None:
            line = key.start_mark.line + 1
        node = child
    return line, spelled


def _child(node: yaml.Node | None, part: Any) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The node that marks ``part`` of a location (a mapping's key, a sequence's item) and its value node."""
    if isinstance(node, yaml.MappingNode):
        return next(((key, value) for key, value in node.value if key.value == str(part)), (None, None))
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part], node.value[part]
    return None, None
