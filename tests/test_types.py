"""floe/ type-checks: mypy --strict, as configured in pyproject.toml ([tool.mypy]), reports nothing."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CONFIG = str(ROOT / "pyproject.toml")


def _mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_floe_type_checks() -> None:
    result = _mypy(cwd=ROOT)  # the configured files: floe/ (its generated bindings' errors ignored)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout


def test_a_wrong_annotation_fails(tmp_path: Path) -> None:
    """The same configuration, on a module whose return type is wrong and one left unannotated (strict)."""
    (tmp_path / "wrong.py").write_text('def count() -> int:\n    return "x"\n\n\ndef untyped(x):\n    return x\n')
    result = _mypy("--config-file", CONFIG, "wrong.py", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ('wrong.py:2: error: Incompatible return value type (got "str", expected "int")  [return-value]'
            in result.stdout), result.stdout
    assert ("wrong.py:5: error: Function is missing a type annotation  [no-untyped-def]"
            in result.stdout), result.stdout
