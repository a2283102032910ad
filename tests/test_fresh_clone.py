"""The README's commands work in a clone that has nothing beside it, as a user's clone has.

CI's checkout has reference material beside it, so a path reaching outside the repository would work there
and nowhere else. The clone here is the working tree as it is (committed in a new repository, for
the commands that read git) alone in a temporary folder; it borrows this checkout's .venv and
node_modules (a fresh set-up takes minutes), and PYTHONPATH makes its own floe package the one run.
`floe validate`, `floe diff` and the README's `. .venv/bin/activate && npx cdk8s synth` run in clones of
this clone, alone in their folders too: the CI templates' checkouts (tests/test_pr_report.py, whose drift
gate also proves that `cdk8s synth` writes what the Python render writes, and says nothing of upgrades).
"""

import contextlib
import importlib.util
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT, built_once

pytestmark = pytest.mark.clones

FLOE = "from floe.cli import main; main()"  # what the `floe` console script runs (pyproject.toml)


def git(folder: Path, *arguments: str) -> str:
    return subprocess.run(["git", *arguments], cwd=folder, capture_output=True, text=True, check=True).stdout


def copy_working_tree(target: Path) -> None:
    """Tracked and untracked-but-not-ignored files as they are now (a file deleted meanwhile is skipped)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    for name in map(os.fsdecode, filter(None, listing.split(b"\0"))):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            shutil.copy2(ROOT / name, target / name, follow_symlinks=False)


def bootstrap_of(clone: Path) -> ModuleType:
    """The clone's scripts/bootstrap.py as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("bootstrap_of_clone", clone / "scripts" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def commit_all(repo: Path, message: str) -> str:
    """Commit everything in ``repo`` (an empty commit if nothing changed); returns the commit."""
    git(repo, "add", "--all")
    git(repo, "-c", "user.name=floe tests", "-c", "user.email=tests@floe.invalid", "-c", "commit.gpgsign=false",
        "commit", "--quiet", "--no-verify", "--allow-empty", "--message", message)
    return git(repo, "rev-parse", "HEAD").strip()


def borrow_setup(repo: Path) -> None:
    """Link this checkout's .venv and node_modules into ``repo``, out of its `git status`, and run the set-up
    steps that concern the clone itself: the one that makes an activated venv quiet (a no-op when
    `bootstrap.py test` ran set-up), and the one that writes its bytecode."""
    for name in (".venv", "node_modules"):
        (repo / name).symlink_to(ROOT / name)
    with (repo / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write(".venv\nnode_modules\n")  # .gitignore's `.venv/` matches a folder, not a link
    setup = bootstrap_of(repo)
    setup.quiet_activation()
    setup.compile_project()


@pytest.fixture(scope="session")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree committed in a new repository alone in its folder: made once per session (also for
    tests/test_pr_report.py, which clones it) and never changed."""
    def make(folder: Path) -> None:
        root = folder / "floe"
        copy_working_tree(root)
        git(root, "init", "--quiet")
        commit_all(root, "the working tree")
        borrow_setup(root)
    return built_once(tmp_path_factory, "clone", make) / "floe"


def commands(clone: Path) -> dict[str, list[str]]:
    python = str(clone / ".venv" / "bin" / "python")
    return {
        "import floe": [python, "-c", "import floe; print(floe.__file__)"],
        "deploy": [python, "-c", FLOE, "platform", "deploy", "--env", "dev", "--dry-run"],
        "capacity": [python, "-c", FLOE, "capacity", "--env", "dev"],
    }


def users_shell(clone: Path) -> dict[str, str]:
    """A user's shell: without what `bootstrap.py test` exports to turn upgrade checks off (the activation
    script must do it), without FLOE_ options, and with the clone first on sys.path."""
    exported = bootstrap_of(clone).NO_UPGRADE_CHECKS
    env = {name: value for name, value in os.environ.items() if name not in exported and not name.startswith("FLOE_")}
    return env | {"PYTHONPATH": str(clone)}


def run_in(clone: Path, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=clone, env=users_shell(clone), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)


@pytest.fixture(scope="module")
def results(clone: Path) -> dict[str, subprocess.CompletedProcess]:
    """Every command at once (none writes to the clone)."""
    argvs = commands(clone)
    with ThreadPoolExecutor(max_workers=len(argvs)) as pool:
        started = {name: pool.submit(run_in, clone, argv) for name, argv in argvs.items()}
    return {name: future.result() for name, future in started.items()}


def assert_clean(result: subprocess.CompletedProcess) -> None:
    """Exit 0 with no traceback and no error line: what a user reads as 'it worked'."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output, output
    assert "error:" not in output.lower(), output


def test_the_clone_runs_its_own_floe_package(results, clone: Path) -> None:
    assert_clean(results["import floe"])
    assert Path(results["import floe"].stdout.strip()) == clone / "floe" / "__init__.py"


@pytest.mark.parametrize(("command", "says"), [
    ("deploy", "apply plan"),
    ("capacity", "quota"),
])
def test_a_floe_command_succeeds(results, command: str, says: str) -> None:
    assert_clean(results[command])
    assert says in results[command].stdout


@pytest.mark.conformance  # cdk8s's own importer and jsii compiler, about 20 s of CPU: a real program, as there
def test_the_committed_bindings_match_the_vendored_crds(clone: Path) -> None:
    """`scripts/import_crds.py --check` regenerates the bindings from the clone's CRDs alone, finds them as
    committed, and leaves cdk8s.yaml (which `cdk8s import` likes to extend) and the rest untouched."""
    assert_clean(run_in(clone, [str(clone / ".venv" / "bin" / "python"), "scripts/import_crds.py", "--check"]))
    assert git(clone, "status", "--porcelain") == ""


def test_set_up_leaves_bytecode_that_a_render_loads_without_compiling(clone: Path) -> None:
    """Where interpreters write no bytecode (PYTHONDONTWRITEBYTECODE, as on CI), `python -O main.py` still
    loads floe's modules, the big generated bindings among them, from the bytecode set-up wrote."""
    argv = [str(clone / ".venv" / "bin" / "python"), "-O", "-v", "-c", "import floe.imports.io.argoproj"]
    result = subprocess.run(argv, cwd=clone, env=users_shell(clone) | {"PYTHONDONTWRITEBYTECODE": "1"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    source = clone / "floe" / "imports" / "io" / "argoproj" / "__init__.py"
    cached = importlib.util.cache_from_source(str(source), optimization=1)  # …/__init__.cpython-311.opt-1.pyc
    assert f"# code object from '{cached}'" in result.stderr, result.stderr[-2000:]


def test_the_commands_leave_the_clone_as_committed(results, clone: Path) -> None:
    """Nothing rewrites a tracked file: not dist/, not cdk8s.yaml."""
    assert git(clone, "status", "--porcelain") == ""


def test_ci_runs_the_readme_test_command_in_a_clone_of_this_commit_with_nothing_beside_it(tmp_path: Path) -> None:
    """.ci/run with a stand-in python3 that records where and how it ran."""
    stand_in = tmp_path / "bin" / "python3"
    stand_in.parent.mkdir()
    stand_in.write_text('#!/bin/sh\n{ pwd; echo "$@"; ls -A ..; git rev-parse HEAD; } > "$RECORD"\nexit 7\n')
    stand_in.chmod(0o755)
    env = {**os.environ, "PATH": f"{stand_in.parent}{os.pathsep}{os.environ['PATH']}",
           "RECORD": str(tmp_path / "record")}
    result = subprocess.run(["bash", str(ROOT / ".ci" / "run")], cwd=tmp_path, env=env, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 7, f"CI must fail with the test command's exit code\n{result.stderr}"
    where, arguments, *beside, commit = (tmp_path / "record").read_text().splitlines()
    assert arguments == "scripts/bootstrap.py test"
    assert beside == [Path(where).name], "the clone's folder holds the clone and nothing else"
    assert commit == git(ROOT, "rev-parse", "HEAD").strip()
    assert not Path(where).exists(), "the clone is removed afterwards"
