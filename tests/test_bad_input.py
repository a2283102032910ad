"""A user mistake gets one clear error naming file and field, a non-zero exit, no traceback,
and leaves dist/ exactly as it was.

One test runs ``main.py`` as a user does, in a process of its own; the others call the function it runs
(``floe.synth.main``) in this process, with the same arguments and the same assertions on its exit code
and what it prints: a process per case would only add the seconds of starting Python each time.
"""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from floe import synth
from tests.conftest import ROOT, tree

GOOD = 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
PRODUCT = ("  - name: sales\n    image: registry.example.com/floe/sales:1.0.0\n"
           "    module: sales.definitions\n    dlt: {module: sales.ingest}\n")
CASES = {
    "unknown key": (
        GOOD + "storage:\n  object_store:\n    replicaz: 2\n",
        r"qa.yaml:6: storage.object_store.replicaz: unknown field",
    ),
    "wrong type": (
        GOOD + "storage:\n  object_store:\n    replicas: many\n",
        r"qa.yaml:6: storage.object_store.replicas: expected a whole number (got 'many')",
    ),
    "invalid quantity": (
        GOOD + "storage:\n  object_store:\n    storage:\n      size: 500mi\n",
        r"qa.yaml:7: storage.object_store.storage.size: '500mi' is not a Kubernetes quantity",
    ),
    "name not DNS-1123": (
        GOOD + "namespaces:\n  platform: Floe_Platform\n",
        r"qa.yaml:5: namespaces.platform: 'Floe_Platform' is not a DNS-1123 label",
    ),
    "unknown platform version": (
        'platform_version: "9.9.9"\n',
        r"qa.yaml:1: platform_version: '9.9.9' is not in the release catalogue (floe/releases.yaml); "
        r"known versions: 1.0.0, 1.1.0",
    ),
    "malformed YAML": (
        GOOD + "storage:\n  object_store: [unclosed\n",
        r"qa.yaml:6:1: malformed YAML: expected ',' or ']', but found the end of the file "
        r"(in the [ ] list that starts at line 5)",
    ),
    "duplicate product": (
        GOOD + "data_products:\n" + PRODUCT + PRODUCT,
        r"qa.yaml:9: data_products.1.name: 'sales' already names data_products.0; "
        r"each data product needs its own name",
    ),
    "invalid cron": (
        GOOD + "data_products:\n" + PRODUCT + "    schedules: {dbt_run: '61 * * * *'}\n",
        r"qa.yaml:9: data_products.0.schedules.dbt_run: '61 * * * *' is not a Kubernetes CronJob schedule",
    ),
    "unknown compute": (
        GOOD + "data_products:\n" + PRODUCT + "    compute: spark\n",
        r"qa.yaml:9: data_products.0.compute: unknown compute 'spark'; known: duckdb",
    ),
    "unknown quality engine": (
        GOOD + "data_products:\n" + PRODUCT + "    quality: {engine: deequ}\n",
        r"qa.yaml:9: data_products.0.quality.engine: 'deequ' is not one of 'dbt-tests', 'soda-core' or "
        r"'great-expectations'",
    ),
    "request above limit": (
        GOOD + "storage:\n  object_store:\n    resources:\n      requests: {cpu: 2, memory: 1Gi}\n"
               "      limits: {cpu: 1, memory: 1Gi}\n",
        r"qa.yaml:6: storage.object_store.resources: the cpu request 2 exceeds its limit 1",
    ),
    "missing version": (
        "storage: {}\n",
        r"qa.yaml: platform_version: required field is missing",
    ),
    "not UTF-8": (
        (GOOD + "storage:\n  object_store:\n    credentials_secret: caf\u00e9\n").encode("latin-1"),
        r"qa.yaml:6: not UTF-8 text (byte 0xe9); save the file as UTF-8",
    ),
    "duplicate key": (
        GOOD + "storage:\n  object_store:\n    replicas: 4\n    storage: {size: 1Gi}\n    replicas: 6\n",
        r"qa.yaml:8: storage.object_store.replicas: duplicate key (first set at line 6)",
    ),
    "negative replicas": (
        GOOD + "storage:\n  object_store:\n    replicas: -3\n",
        r"qa.yaml:6: storage.object_store.replicas: must be at least 1 (got -3)",
    ),
    "no pods in the jobs quota": (
        GOOD + "jobs:\n  quota:\n    pods: 0\n",
        r"qa.yaml:6: jobs.quota.pods: must be at least 1 (got 0)",
    ),
    "product name too long": (
        GOOD + "data_products:\n" + PRODUCT.replace("sales", "s" * 40, 1),
        rf"qa.yaml:5: data_products.0.name: '{'s' * 40}' is 40 characters; a data product name has at most 38 "
        r"(its job template <name>-quality-check must fit the 52 characters Kubernetes allows a CronJob name)",
    ),
    "unknown preset": (
        GOOD + "storage:\n  object_store:\n    resources: hugh\n",
        r"qa.yaml:6: storage.object_store.resources: unknown resource preset 'hugh'; "
        r"known presets: job-burst, large, service, small",
    ),
    "run the jobs quota never admits": (
        GOOD + "data_products:\n" + PRODUCT + "jobs:\n  max_container: {cpu: 2, memory: 8Gi}\n",
        r"qa.yaml:5: data_products.0: a sales job needs cpu 4000m, more than jobs.max_container.cpu 2 allows: "
        r"no run could ever start",
    ),
    "a value where settings belong": (
        GOOD + "orchestrator:\n  webserver: 3\n",
        r"qa.yaml:5: orchestrator.webserver: expected a mapping of settings (got 3)",
    ),
    "mis-indented key": (
        GOOD + "storage:\n  object_store:\n    replicas: 4\n   buckets: [floe-warehouse]\n",
        r"qa.yaml:7:4: malformed YAML: this key is indented differently from the keys before it; "
        r"the keys of one mapping start in the same column",
    ),
}


RunMain = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def run_main(capsys: pytest.CaptureFixture) -> RunMain:
    """``main.py``'s entry point run in this process: its exit code and what it printed. An exception it
    lets out fails the test, as a traceback would."""
    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = synth.main(list(args))
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(["main.py", *args], code, printed.out, printed.err)
    return run


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    environments = tmp_path / "environments"
    environments.mkdir()
    # The cluster fact a render needs besides the two required fields (its API server's endpoint).
    (environments / "dev.yaml").write_text(GOOD + "network:\n  api_server:\n    cidrs: [192.0.2.10/32]\n")
    outdir = tmp_path / "dist"
    (outdir / "dev").mkdir(parents=True)
    (outdir / "dev" / "previous.yaml").write_text("kind: Previous\n")
    return environments, outdir


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_environment_is_refused_cleanly(case: str, workspace: tuple[Path, Path], run_main: RunMain) -> None:
    environments, outdir = workspace
    text, expected = CASES[case]
    (environments / "qa.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    before = tree(outdir)
    result = run_main("--environments", str(environments), "--outdir", str(outdir))
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr, result.stderr
    assert str(environments / "qa.yaml") in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert tree(outdir) == before


def test_missing_environment_file_names_the_known_ones(workspace: tuple[Path, Path], run_main: RunMain) -> None:
    environments, outdir = workspace
    before = tree(outdir)
    result = run_main("--environments", str(environments), "--outdir", str(outdir), "--env", "qa")
    assert result.returncode == 2
    assert f"{environments / 'qa.yaml'}: no such environment file (environments here: dev)" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(outdir) == before


def test_every_error_of_a_file_is_reported_at_once(workspace: tuple[Path, Path], run_main: RunMain) -> None:
    environments, outdir = workspace
    (environments / "qa.yaml").write_text(GOOD + "storage:\n  object_store:\n    replicaz: 2\n    buckets: [A]\n")
    result = run_main("--environments", str(environments), "--outdir", str(outdir))
    assert "storage.object_store.replicaz: unknown field" in result.stderr
    assert "storage.object_store.buckets.0: 'A' is not an S3 bucket name" in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"error: {environments / 'qa.yaml'}:") for line in lines)


def test_a_good_render_of_one_environment_succeeds(workspace: tuple[Path, Path], run_main: RunMain) -> None:
    environments, outdir = workspace
    result = run_main("--environments", str(environments), "--outdir", str(outdir), "--env", "dev")
    assert result.returncode == 0, result.stderr
    assert not (outdir / "dev" / "previous.yaml").exists()
    assert (outdir / "dev" / "10-storage" / "11-serve" / "statefulset-minio.yaml").exists()
    assert "end-of-life" not in result.stdout + result.stderr


def test_environment_file_with_another_extension_is_refused(workspace: tuple[Path, Path], run_main: RunMain) -> None:
    """Skipping it would render every environment but that one, and delete its tree from dist/."""
    environments, outdir = workspace
    (environments / "dev.yaml").rename(environments / "dev.yml")
    (environments / "qa.YAML").write_text(GOOD)
    before = tree(outdir)
    result = run_main("--environments", str(environments), "--outdir", str(outdir))
    assert result.returncode == 2, result.stderr
    assert f"{environments / 'dev.yml'}: environment files end in .yaml; rename it to dev.yaml" in result.stderr
    assert f"{environments / 'qa.YAML'}: environment files end in .yaml; rename it to qa.yaml" in result.stderr
    assert tree(outdir) == before


def test_missing_environments_folder_is_refused(tmp_path: Path, workspace: tuple[Path, Path],
                                                run_main: RunMain) -> None:
    _, outdir = workspace
    before = tree(outdir)
    result = run_main("--environments", str(tmp_path / "nowhere"), "--outdir", str(outdir))
    assert result.returncode == 2
    assert (f"{tmp_path / 'nowhere'}: no such folder; run from the repository root, or name the folder of "
            "environment files with --environments") in result.stderr
    assert "Traceback" not in result.stderr
    assert tree(outdir) == before


def test_main_py_in_a_process_of_its_own_exits_2_without_a_traceback(workspace: tuple[Path, Path]) -> None:
    """The entry point itself, as `python main.py` (and `cdk8s synth`) runs it: what the cases above see in
    this process is what a user sees."""
    environments, outdir = workspace
    text, expected = CASES["unknown key"]
    (environments / "qa.yaml").write_text(text)
    before = tree(outdir)
    result = subprocess.run([sys.executable, "main.py", "--environments", str(environments), "--outdir", str(outdir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {environments / 'qa.yaml'}:6: "), result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert tree(outdir) == before
