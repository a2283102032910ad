"""The code stays clean: ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade) reports nothing."""

import subprocess
import sys

from tests.conftest import ROOT


def test_ruff_reports_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
