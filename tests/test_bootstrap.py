"""scripts/bootstrap.py, the README's two quick-start commands: what a user sees and what it leaves behind."""

import importlib.util
import itertools
import re
import subprocess
import sys
from types import ModuleType, SimpleNamespace

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "bootstrap.py"


@pytest.fixture
def bootstrap() -> ModuleType:
    """A fresh copy of the script as a module, so a test can replace its parts without touching others."""
    spec = importlib.util.spec_from_file_location("bootstrap_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_step(bootstrap: ModuleType, title: str, code: str) -> None:
    """One set-up step whose command is a line of Python."""
    with bootstrap.progress(title):
        bootstrap.run(sys.executable, "-c", code)


def test_a_step_that_succeeds_prints_nothing_when_not_on_a_terminal(bootstrap, monkeypatch, capsys) -> None:
    monkeypatch.setattr(bootstrap, "on_terminal", lambda: False)
    python_step(bootstrap, "saying hello", "import sys; print('noise'); print('more noise', file=sys.stderr)")
    assert capsys.readouterr() == ("", "")


def test_a_step_shows_what_it_does_and_the_seconds_counting_on_a_terminal(bootstrap, monkeypatch, capsys) -> None:
    monkeypatch.setattr(bootstrap, "on_terminal", lambda: True)
    seconds = itertools.count()  # a clock that moves one second each time the line is drawn
    monkeypatch.setattr(bootstrap, "time", SimpleNamespace(monotonic=lambda: next(seconds)))
    python_step(bootstrap, "installing things", "import time; print('noise'); time.sleep(0.35)")
    out, err = capsys.readouterr()
    *live, last = out.split("\r")[1:]
    assert live and all(re.match(r"[^ ✓] setting up: installing things… \d+ s", line) for line in live), out
    counted = [int(re.search(r"(\d+) s", line)[1]) for line in [*live, last]]
    assert counted == sorted(set(counted)), f"the counter must count up: {counted}"
    assert re.fullmatch(r"✓ setting up: installing things… \d+ s\x1b\[K\n", last), last
    assert "noise" not in out + err


def test_a_failing_step_prints_its_command_and_output_then_one_line_without_traceback(
        bootstrap, monkeypatch, capsys) -> None:
    monkeypatch.setattr(bootstrap, "on_terminal", lambda: False)
    monkeypatch.setattr(bootstrap, "setup", lambda: python_step(
        bootstrap, "installing things", "import sys; print('disk full'); sys.exit(3)"))
    assert bootstrap.main(["test"]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == ""
    assert lines[0].startswith("$ ") and sys.executable in lines[0], err
    assert "disk full" in lines
    assert re.fullmatch(r"error: setup failed: installing things: \S+ exited with status 3", lines[-1]), err
    assert "Traceback" not in err


def test_npm_runs_without_update_notice_audit_or_funding_report(bootstrap, tmp_path) -> None:
    """The README promises no global npm package, so npm must not advise `npm install -g npm@…`."""
    no_user_config = tmp_path / "npmrc"  # a developer's ~/.npmrc must not decide the outcome
    no_user_config.touch()
    env = {**bootstrap.project_env(), "NPM_CONFIG_USERCONFIG": str(no_user_config)}
    result = subprocess.run([str(bootstrap.BIN / "npm"), "config", "get", "update-notifier", "audit", "fund"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["update-notifier=false", "audit=false", "fund=false"], result


def test_the_cdk8s_cli_run_by_setup_looks_for_no_upgrade(bootstrap, tmp_path) -> None:
    """The pinned CLI otherwise asks npm for a newer version at every run and advises a global install."""
    result = subprocess.run([str(ROOT / "node_modules" / ".bin" / "cdk8s"), "synth", "--app", "mkdir out",
                             "--output", "out"], cwd=tmp_path, env=bootstrap.project_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "new version" not in result.stderr and "Error" not in result.stderr, result.stderr


def test_activation_turns_upgrade_checks_off_once_and_deactivate_turns_them_back(
        bootstrap, monkeypatch, tmp_path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / "venv"], check=True)
    monkeypatch.setattr(bootstrap, "BIN", tmp_path / "venv" / "bin")
    bootstrap.quiet_activation()
    scripts = {path.name: path.read_text() for path in bootstrap.BIN.glob("activate*")}
    bootstrap.quiet_activation()
    assert {path.name: path.read_text() for path in bootstrap.BIN.glob("activate*")} == scripts, "not idempotent"
    assert "export CDK8S_CHECK_UPGRADE=false" in scripts["activate"]
    assert "set -gx CDK8S_CHECK_UPGRADE false" in scripts["activate.fish"]
    assert "setenv CDK8S_CHECK_UPGRADE false" in scripts["activate.csh"]
    assert "package-lock.json" in scripts["activate"], "the note says where the CLI is pinned and upgraded"
    shell = ('. "$1"; echo "$CDK8S_CHECK_UPGRADE $NPM_CONFIG_UPDATE_NOTIFIER"; '
             'deactivate; echo "${CDK8S_CHECK_UPGRADE-unset} ${NPM_CONFIG_UPDATE_NOTIFIER-unset}"')
    result = subprocess.run(["bash", "-c", shell, "bash", bootstrap.BIN / "activate"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["false false", "unset unset"]


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help_prints_the_usage_and_succeeds(option: str) -> None:
    result = subprocess.run([sys.executable, SCRIPT, option], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: bootstrap.py [render | test]")
    assert "render every environment into dist/" in result.stdout
    assert "arguments go to pytest" in result.stdout
    assert result.stderr == ""


def test_an_unknown_action_is_a_usage_error() -> None:
    result = subprocess.run([sys.executable, SCRIPT, "deploy"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: bootstrap.py")
    assert result.stderr.splitlines()[-1] == "error: unknown action 'deploy'"
    assert result.stdout == ""


def test_the_test_command_runs_pytest_optimised_as_renders_run_and_caches_bytecode(bootstrap, monkeypatch) -> None:
    ran = []
    monkeypatch.setattr(bootstrap, "setup", lambda: None)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    fake = SimpleNamespace(run=lambda argv, env, **_: ran.append((argv, env)) or SimpleNamespace(returncode=0))
    monkeypatch.setattr(bootstrap, "subprocess", fake)
    assert bootstrap.main(["test", "-m", "conformance"]) == 0
    [(argv, env)] = ran
    assert argv == [str(bootstrap.PYTHON), "-O", "-m", "pytest", "-m", "conformance"]
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PATH"].startswith(f"{bootstrap.BIN}:")


def test_a_helpers_assert_still_fails_a_test_under_the_optimised_run(tmp_path) -> None:
    """-O drops plain asserts: conftest has pytest rewrite the helpers' too, or `edit` would edit nothing quietly."""
    from tests.cli_support import edit

    (tmp_path / "dev.yaml").write_text("replicas: 1\n")
    with pytest.raises(AssertionError):
        edit(tmp_path / "dev.yaml", "replicas: 2", "replicas: 3")
