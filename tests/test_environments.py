"""Environments are validated data: the schema is generated, files hold only differences."""

import ast
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from floe.config.environment import Environment
from floe.config.loader import load_environment
from floe.config.schema import environment_schema, environment_schema_text
from floe.errors import FloeError
from tests.conftest import ENVIRONMENT_NAMES, ROOT, tree

ENVIRONMENTS = ROOT / "environments"


def test_committed_schema_is_the_generated_one() -> None:
    committed = (ENVIRONMENTS / "schema.json").read_text(encoding="utf-8")
    assert committed == environment_schema_text(), "regenerate it: python -m floe.config.schema"


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_environment_file_validates_against_the_schema(name: str) -> None:
    data = yaml.safe_load((ENVIRONMENTS / f"{name}.yaml").read_text())
    jsonschema.Draft202012Validator(environment_schema()).validate(data)


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_environment_file_points_editors_at_the_schema(name: str) -> None:
    first_line = (ENVIRONMENTS / f"{name}.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=./schema.json"


def _redundant(data: object, default: object, path: str) -> list[str]:
    if isinstance(data, dict) and isinstance(default, dict):
        return [p for key, value in data.items() if key in default
                for p in _redundant(value, default[key], f"{path}.{key}".lstrip("."))]
    return [path] if data == default else []


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_environment_file_holds_only_what_differs_from_defaults(name: str) -> None:
    data = yaml.safe_load((ENVIRONMENTS / f"{name}.yaml").read_text())
    required = {"platform_version": data["platform_version"], "gitops": {"repository": data["gitops"]["repository"]}}
    defaults = Environment(name=name, **required).model_dump(mode="json")
    optional = {**data, "platform_version": None, "gitops": {**data["gitops"], "repository": None}}
    assert _redundant(optional, defaults, "") == []


def _named(name: str) -> re.Pattern[str]:
    """An environment's name as a word of its own (in `floe-prod-root`, `dist/prod/`, `name=prod,`)."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])")


_CHECKSUM = re.compile(r"(floe\.dev/config-checksum: )[0-9a-f]+")


def test_environments_differ_by_data_not_by_name(fresh_dist: Path, tmp_path: Path) -> None:
    """prod.yaml copied to qa.yaml renders prod's tree with only the name changed: nothing branches on it.

    The name appears where it names things (the header `environments/<name>.yaml`, the GitOps objects
    `floe-<name>-…` and their paths `dist/<name>/`, `dist/gitops/<name>/`) and where it is reported
    (OpenTelemetry's `deployment.environment.name`, the jobs' target); a config checksum hashes a
    file holding the name, so its value differs while the file itself does not.
    """
    from floe.synth import render

    copy = tmp_path / "qa.yaml"
    copy.write_bytes((ENVIRONMENTS / "prod.yaml").read_bytes())
    qa = {_named("qa").sub("prod", path): _CHECKSUM.sub(r"\1…", _named("qa").sub("prod", text))
          for path, text in render(load_environment(copy)).items()}
    prod = {path: _CHECKSUM.sub(r"\1…", data.decode()) for path, data in tree(fresh_dist).items()
            if path.startswith(("prod/", "gitops/prod/"))}
    assert sorted(qa) == sorted(prod)
    assert [path for path in prod if qa[path] != prod[path]] == []


_ENVIRONMENT_NAMES = {"dev", "staging", "prod"}


def _literals(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {value for element in node.elts for value in _literals(element)}
    return set()


def test_no_module_compares_anything_to_an_environment_name() -> None:
    """`if environment.name == "prod"` (or `in ("dev", "staging")`, or `case "prod"`) would make a name
    decide what an environment file should."""
    found = []
    for path in sorted((ROOT / "floe").rglob("*.py")):
        if "imports" in path.relative_to(ROOT / "floe").parts:
            continue  # generated CRD bindings
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                named = set().union(*map(_literals, [node.left, *node.comparators])) & _ENVIRONMENT_NAMES
            elif isinstance(node, ast.MatchValue):
                named = _literals(node.value) & _ENVIRONMENT_NAMES
            else:
                continue
            if named:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert found == []


def test_schema_rejects_unknown_keys_everywhere() -> None:
    schema = environment_schema()
    objects = [schema, *schema["$defs"].values()]
    assert all(o.get("additionalProperties") is False for o in objects if o.get("type") == "object"
               and "properties" in o)


def test_model_is_frozen(environments) -> None:
    with pytest.raises(Exception, match="frozen"):
        environments["dev"].storage.object_store.replicas = 3


def test_resource_presets_resolve_per_environment(environments) -> None:
    prod = environments["prod"]
    database = prod.resources(prod.storage.postgres.polaris.resources)
    assert (database.requests.cpu, database.limits.memory) == ("1", "4Gi")
    assert prod.resources("service").requests.cpu == "500m"


REQUIRED = 'gitops:\n  repository: https://git.example.org/floe.git\n'


def _write(tmp_path: Path, text: str) -> Path:
    """An environment file ``qa.yaml``: the required settings last, so line numbers match ``text``."""
    path = tmp_path / "qa.yaml"
    path.write_text(text + REQUIRED)
    return path


def test_unknown_preset_is_named_with_the_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, 'platform_version: "1.0.0"\nstorage:\n  object_store:\n    resources: huge\n')
    with pytest.raises(FloeError, match=r"storage\.object_store\.resources: unknown resource preset 'huge'; "
                                        r"known presets: job-burst, large, service, small"):
        load_environment(path)


def test_request_above_limit_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, 'platform_version: "1.0.0"\nstorage:\n  object_store:\n    resources:\n'
                            '      requests: {cpu: "2", memory: 1Gi}\n      limits: {cpu: "1", memory: 1Gi}\n')
    with pytest.raises(FloeError,
                       match=r"qa\.yaml:4: storage\.object_store\.resources.*cpu request 2 exceeds its limit 1"):
        load_environment(path)


def test_minio_refuses_two_or_three_servers(tmp_path: Path) -> None:
    path = _write(tmp_path, 'platform_version: "1.0.0"\nstorage:\n  object_store:\n    replicas: 2\n')
    with pytest.raises(FloeError, match="MinIO runs either 1 server or at least 4"):
        load_environment(path)


def test_external_postgres_requires_its_host(tmp_path: Path) -> None:
    path = _write(tmp_path, 'platform_version: "1.0.0"\nstorage:\n  postgres:\n    dagster:\n'
                            '      mode: external\n      database: dagster\n      credentials_secret: pg\n')
    with pytest.raises(FloeError, match=r"qa\.yaml:4: storage\.postgres\.dagster\.host: required field is missing"):
        load_environment(path)


def test_schema_json_parses() -> None:
    assert json.loads((ENVIRONMENTS / "schema.json").read_text())["title"] == "floe environment"
