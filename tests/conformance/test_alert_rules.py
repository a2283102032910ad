"""promtool on the committed rule files: each parses, and each alert fires (or stays quiet) as its tests say.

The rule files are read from dist/ (the Prometheus ConfigMap's ``alerts.yml``) and copied next to the
rule-test fixtures of ``alert_rules/`` in a scratch folder, where the fixtures' ``rule_files`` find them.
promtool is Debian's (v2.42) while the image runs v3: the rules keep to PromQL both accept.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from floe.components.prometheus import CONFIG_MAP, RULES_FILE
from tests.conftest import ENVIRONMENT_NAMES, find

FIXTURES = Path(__file__).resolve().parent / "alert_rules"
RULE_TESTS = ("firing.yml", "quiet.yml")


@pytest.fixture(scope="module")
def promtool(require) -> str:
    return require("promtool", "Debian package prometheus")


def rules_text(objects: dict[str, dict]) -> str:
    return find(objects, "ConfigMap", CONFIG_MAP)["data"][RULES_FILE]


def run(promtool: str, folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], cwd=folder, capture_output=True, text=True, timeout=60)


def with_rules(folder: Path, text: str) -> Path:
    """The fixtures and a rule file in one folder."""
    for name in RULE_TESTS:
        shutil.copy(FIXTURES / name, folder / name)
    (folder / RULES_FILE).write_text(text)
    return folder


def changed_rule(text: str, alert: str, old: str, new: str) -> str:
    """The rule file with one alert's expression edited."""
    rules = yaml.safe_load(text)
    (rule,) = [r for group in rules["groups"] for r in group["rules"] if r["alert"] == alert]
    assert old in rule["expr"]
    rule["expr"] = rule["expr"].replace(old, new)
    return yaml.safe_dump(rules)


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_promtool_accepts_the_rendered_rules(name, dist_objects, promtool, tmp_path) -> None:
    (tmp_path / RULES_FILE).write_text(rules_text(dist_objects[name]))
    result = run(promtool, tmp_path, "check", "rules", RULES_FILE)
    assert result.returncode == 0, result.stderr
    assert "SUCCESS: 14 rules found" in result.stdout


def test_promtool_refuses_a_rule_that_does_not_parse(dist_objects, promtool, tmp_path) -> None:
    broken = changed_rule(rules_text(dist_objects["dev"]), "FloeTargetDown", "up == 0", "up == == 0")
    (tmp_path / RULES_FILE).write_text(broken)
    result = run(promtool, tmp_path, "check", "rules", RULES_FILE)
    assert result.returncode == 1
    assert '"FloeTargetDown": could not parse expression' in result.stdout + result.stderr


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_each_alert_fires_on_its_series_and_only_then(name, dist_objects, promtool, tmp_path) -> None:
    folder = with_rules(tmp_path, rules_text(dist_objects[name]))
    result = run(promtool, folder, "test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_tests_catch_a_lowered_threshold(dist_objects, promtool, tmp_path) -> None:
    # At 0.78 the volume the quiet test fills to 79 % would raise the warning.
    lowered = changed_rule(rules_text(dist_objects["dev"]), "FloeVolumeFillingUp", "> 0.8", "> 0.78")
    result = run(promtool, with_rules(tmp_path, lowered), "test", "rules", "quiet.yml")
    assert result.returncode == 1
    assert "alertname: FloeVolumeFillingUp, time: 10m" in result.stdout + result.stderr
