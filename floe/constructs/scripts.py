"""The shell scripts containers run: one file each under ``floe/scripts/``, shipped exactly as written.

A script is the ``-c`` argument of the shell its shebang names (the shell of the container's image,
and the dialect shellcheck checks it in). Its parameters come from the container's environment, never
from string formatting, so the file's text is the rendered text.
"""

from importlib import resources


def shell_command(name: str) -> tuple[str, str, str]:
    """``(shell, "-c", text)`` for ``floe/scripts/<name>``; the shell is its shebang's."""
    text = resources.files("floe").joinpath("scripts", name).read_text(encoding="utf-8")
    shebang, _, _ = text.partition("\n")
    if not shebang.startswith("#!/"):
        raise ValueError(f"floe/scripts/{name} names no shell on its first line (#!/bin/sh or #!/bin/bash)")
    return shebang.removeprefix("#!"), "-c", text
