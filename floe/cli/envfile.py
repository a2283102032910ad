"""Editing an environment file in place, keeping its comments, quoting and layout."""

import io
import os
import tempfile
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import ScalarString


def set_top_level(text: str, key: str, value: str) -> str:
    """``text`` with the top-level ``key`` set to ``value``: a round trip through ruamel.yaml, which keeps
    comments and quoting; if its layout would differ anywhere else, only the value's own token is replaced."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(text)
    old = data[key]
    line, column = data.lc.value(key)
    data[key] = type(old)(value) if isinstance(old, ScalarString) else value
    out = io.StringIO()
    yaml.dump(data, out)
    edited = out.getvalue()
    before, after = text.splitlines(keepends=True), edited.splitlines(keepends=True)
    if len(before) == len(after) and all(a == b for i, (a, b) in enumerate(zip(before, after, strict=True))
                                         if i != line):
        return edited
    # ruamel would have re-indented something: splice the new token into the original text instead.
    original = before[line]
    token = after[next(i for i, text in enumerate(after) if text.lstrip().startswith(f"{key}:"))]
    token = token.split(":", 1)[1].split("#", 1)[0].strip()
    rest = original[column:]
    old_token_length = len(rest) - len(rest.lstrip()) + len(rest.lstrip().split("#", 1)[0].rstrip())
    before[line] = original[:column] + token + original[column + old_token_length:]
    return "".join(before)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, keeping its permissions."""
    handle, scratch = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(scratch, path.stat().st_mode & 0o777)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
