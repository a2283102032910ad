"""Load ``environments/<name>.yaml`` into an :class:`Environment`, or fail with a clear error.

Every failure is a :class:`FloeError` whose lines read ``file:line: field: what is allowed``.
"""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from floe.config.environment import Environment
from floe.errors import FloeError

ENVIRONMENTS_DIR = Path("environments")
SCHEMA_FILE = "schema.json"


RESERVED_NAMES = {"gitops"}
"""Names of dist/ folders that are not environments."""


def environment_files(directory: Path = ENVIRONMENTS_DIR) -> list[Path]:
    """The environment files of a directory, in name order (the schema file is not one)."""
    return sorted(directory.glob("*.yaml"))


def load_environment(path: Path) -> Environment:
    """Parse and validate one environment file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(p.stem for p in environment_files(path.parent)) or "none"
        raise FloeError(f"{path}: no such environment file (environments here: {known})") from None
    except OSError as error:
        raise FloeError(f"{path}: cannot be read: {error.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise FloeError(f"{path}{where}: malformed YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FloeError(f"{path}: the file must hold a mapping of settings, not a {type(data).__name__}")
    if path.stem in RESERVED_NAMES:
        raise FloeError(f"{path}: {path.stem!r} cannot name an environment: dist/{path.stem}/ holds the GitOps wiring")
    if "name" in data:
        raise FloeError(f"{path}: name: not allowed; an environment's name is its file name ({path.stem!r})")
    try:
        return Environment.model_validate({**data, "name": path.stem})
    except ValidationError as error:
        raise FloeError("\n".join(_describe(path, node, item) for item in error.errors())) from None


def load_environments(names: list[str] | None = None, directory: Path = ENVIRONMENTS_DIR) -> list[Environment]:
    """Load the named environments, or every environment of the directory; all must be valid."""
    paths = [directory / f"{name}.yaml" for name in names] if names else environment_files(directory)
    if not paths:
        raise FloeError(f"{directory}: no environment files (*.yaml) found")
    return [load_environment(path) for path in paths]


def _describe(path: Path, root: yaml.Node | None, error: dict[str, Any]) -> str:
    location = [part for part in error["loc"] if not _is_union_tag(part)]
    line = _line_of(root, location)
    where = f"{path}:{line}" if line else str(path)
    message = error["msg"].removeprefix("Value error, ")
    if not location:  # a check across fields; its message names the fields itself
        return f"{where}: {message}"
    field = ".".join(str(part) for part in location)
    if error["type"] == "extra_forbidden":
        message = "unknown field; check its spelling against environments/schema.json"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] in {"int_type", "int_parsing", "string_type", "bool_type", "bool_parsing"}:
        message = f"{message} (got {error['input']!r})"
    return f"{where}: {field}: {message}"


def _is_union_tag(part: object) -> bool:
    return part in {"in-cluster", "external", "preset", "explicit"} or (
        isinstance(part, str) and part.startswith(("function-", "constrained-str"))
    )


def _line_of(node: yaml.Node | None, location: list[Any]) -> int | None:
    """The 1-based line of the deepest YAML node on the error's path."""
    line = None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, _ in node.value if k.value == part), None)
            if key is None:
                break
            line, node = key.start_mark.line + 1, match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
