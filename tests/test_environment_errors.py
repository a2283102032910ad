"""Every mistake in an environment file is one line: ``file:line: field: what is wrong and what is allowed``.

Loaded in-process (tests/test_bad_input.py covers the command line and the untouched dist/).
"""

import json
from pathlib import Path

import pytest

from floe.config.loader import environment_files, load_environment
from floe.errors import FloeError
from tests.conftest import ROOT, environment_error

GOOD = 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
PRODUCT = ("  - name: sales\n    image: registry.example.com/floe/sales:1.0.0\n"
           "    module: sales.definitions\n    dlt: {module: sales.ingest}\n")


CROSS_FIELD = {
    "namespaces": (
        GOOD + "namespaces:\n  platform: floe\n  jobs: floe\n",
        "qa.yaml:6: namespaces.jobs: platform and jobs are both 'floe': the two layers need separate namespaces",
    ),
    "autoscaling": (
        GOOD + "catalog:\n  polaris:\n    autoscaling:\n      max_replicas: 1\n",
        "qa.yaml:7: catalog.polaris.autoscaling.max_replicas: min_replicas 2 exceeds max_replicas 1",
    ),
    "bucket set in the file": (
        GOOD + "semantic:\n  cube_store:\n    bucket: elsewhere\n",
        "qa.yaml:6: semantic.cube_store.bucket 'elsewhere' is not one of storage.object_store.buckets "
        "(floe-warehouse, floe-backups)",
    ),
    "compute-log bucket set in the file": (
        GOOD + "orchestrator:\n  compute_logs:\n    bucket: logs\n",
        "qa.yaml:6: orchestrator.compute_logs.bucket 'logs' is not one of storage.object_store.buckets "
        "(floe-warehouse, floe-backups)",
    ),
    "bucket list without a default bucket": (
        GOOD + "storage:\n  object_store:\n    buckets: [lake, floe-backups]\n",
        "qa.yaml:6: storage.object_store.buckets: lacks 'floe-warehouse', the default of "
        "catalog.polaris.warehouse_bucket: list it, or set catalog.polaris.warehouse_bucket to one of these",
    ),
    "bucket listed twice": (
        GOOD + "storage:\n  object_store:\n    buckets:\n      - floe-warehouse\n      - floe-warehouse\n",
        "qa.yaml:8: storage.object_store.buckets.1: 'floe-warehouse' is listed twice; list each bucket once",
    ),
    "CA missing": (
        GOOD + "storage:\n  postgres:\n    dagster:\n      mode: external\n      host: db.example.org\n"
               "      database: dagster\n      credentials_secret: pg\n      egress: [{cidr: 192.0.2.0/24}]\n",
        "qa.yaml:6: storage.postgres.dagster.ca_secret: ssl_mode verify-full verifies the server against a CA: "
        "set ca_secret, or use ssl_mode require",
    ),
    "quality engine settings": (
        GOOD + "data_products:\n" + PRODUCT + "    quality: {engine: soda-core}\n",
        "qa.yaml:9: data_products.0.quality.engine: soda-core needs contract and data_source set as well",
    ),
    "MinIO erasure sets": (
        GOOD + "storage:\n  object_store:\n    replicas: 17\n",
        "qa.yaml:6: storage.object_store.replicas: MinIO splits its drives into equal erasure sets of 2 to 16, and "
        "17 servers (one drive each) cannot be split so: use a count with a divisor from 2 to 16",
    ),
    "unknown preset of a product": (
        GOOD + "data_products:\n" + PRODUCT + "    resources: hugh\n",
        "qa.yaml:9: data_products.0.resources: unknown resource preset 'hugh'; "
        "known presets: job-burst, large, service, small",
    ),
}


@pytest.mark.parametrize("case", sorted(CROSS_FIELD))
def test_a_check_across_fields_points_at_the_field_to_fix(case: str, tmp_path: Path) -> None:
    text, expected = CROSS_FIELD[case]
    assert environment_error(tmp_path, text) == expected


WORDS = {
    "number bound": (
        GOOD + "jobs:\n  run_as_user: 4294967294\n",
        "qa.yaml:5: jobs.run_as_user: must be at most 2147483647 (got 4294967294)",
    ),
    "share bound": (
        GOOD + "compute:\n  local:\n    type: duckdb\n    memory_share: 1.5\n",
        "qa.yaml:7: compute.local.memory_share: must be at most 0.9 (got 1.5)",
    ),
    "port bound": (
        GOOD + "compute:\n  wh:\n    type: snowflake\n    account: org-acct\n    warehouse: W\n    database: D\n"
               "    credentials_secret: sf\n    egress: [{cidr: 192.0.2.0/24, ports: [70000]}]\n",
        "qa.yaml:11: compute.wh.egress.0.ports.0: must be at most 65535 (got 70000)",
    ),
    "true for a number": (
        GOOD + "storage:\n  object_store:\n    replicas: yes\n",
        "qa.yaml:6: storage.object_store.replicas: expected a whole number (got true)",
    ),
    "empty value": (
        GOOD + "orchestrator:\n  max_concurrent_runs:\n",
        "qa.yaml:5: orchestrator.max_concurrent_runs: expected a whole number (got an empty value)",
    ),
    "host bits set in a CIDR": (
        GOOD + "compute:\n  wh:\n    type: snowflake\n    account: org-acct\n    warehouse: W\n    database: D\n"
               "    credentials_secret: sf\n    egress:\n      - cidr: 192.0.2.1/24\n",
        "qa.yaml:12: compute.wh.egress.0.cidr: '192.0.2.1/24' is not a network in CIDR notation, "
        "such as 203.0.113.0/24",
    ),
    "prefix too long for a CIDR": (
        GOOD + "storage:\n  postgres:\n    dagster:\n      mode: external\n      host: db.example.org\n"
               "      database: dagster\n      credentials_secret: pg\n      ca_secret: pg-ca\n"
               "      egress: [{cidr: 10.0.0.0/33}]\n",
        "qa.yaml:12: storage.postgres.dagster.egress.0.cidr: '10.0.0.0/33' is not a network in CIDR notation, "
        "such as 203.0.113.0/24",
    ),
    "list expected": (
        GOOD + "storage:\n  object_store:\n    buckets: floe-warehouse\n",
        "qa.yaml:6: storage.object_store.buckets: expected a list (got 'floe-warehouse')",
    ),
    "mapping expected": (
        GOOD + "compute: duckdb\n",
        "qa.yaml:4: compute: expected a mapping (got 'duckdb')",
    ),
    "unknown compute type": (
        GOOD + "compute:\n  lake:\n    type: spark\n",
        "qa.yaml:6: compute.lake.type: 'spark' is not one of 'duckdb', 'snowflake'",
    ),
    "compute type missing": (
        GOOD + "compute:\n  lake: {memory_share: 0.5}\n",
        "qa.yaml:5: compute.lake.type: required field is missing",
    ),
    "field inside a union member": (
        GOOD + "compute:\n  lake:\n    type: duckdb\n    memory_share: lots\n",
        "qa.yaml:7: compute.lake.memory_share: expected a number (got 'lots')",
    ),
    "preset name as a key": (
        GOOD + "resource_presets:\n  Big: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}\n",
        "qa.yaml:5: resource_presets.Big: 'Big' does not match the pattern ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    ),
    "name written in the file": (
        GOOD + "name: qa\n",
        "qa.yaml:4: name: not allowed; an environment's name is its file name ('qa')",
    ),
}


@pytest.mark.parametrize("case", sorted(WORDS))
def test_type_and_range_errors_say_what_is_allowed(case: str, tmp_path: Path) -> None:
    text, expected = WORDS[case]
    assert environment_error(tmp_path, text) == expected


MALFORMED = {
    "key indented less": (
        "storage:\n  object_store:\n    replicas: 4\n   buckets: []\n",
        "qa.yaml:4:4: malformed YAML: this key is indented differently from the keys before it; "
        "the keys of one mapping start in the same column",
    ),
    "key indented deeper": (
        "storage:\n  object_store:\n    replicas: 4\n      buckets: []\n",
        "qa.yaml:4:14: malformed YAML: a ':' where no key can start: a key indented deeper than the key before it, "
        "a line above without its ':', or a value holding ': ' that needs quotes",
    ),
    "list item among keys": (
        "storage:\n  object_store:\n    replicas: 4\n  - postgres\n",
        "qa.yaml:4:3: malformed YAML: a list item ('- ') where a key belongs; check the indentation of this line",
    ),
    "line without a colon": (
        "platform_version: '1.0.0'\nstorage\ngitops: {}\n",
        "qa.yaml:2:1: malformed YAML: a line without ':' among keys; write key: value, or indent it under its key",
    ),
    "tab": (
        "storage:\n\tminio: {}\n",
        "qa.yaml:2:1: malformed YAML: a tab; indent with spaces",
    ),
    "text after a quoted value": (
        'platform_version: "1.0.0" x\n',
        "qa.yaml:1:27: malformed YAML: more text after a complete value; quote a value that holds ': ' or ' #', "
        "and start each key on its own line",
    ),
    "quote never closed": (
        "platform_version: '1.0.0\ngitops: {}\n",
        "qa.yaml:1:19: malformed YAML: this quoted value is never closed; add the closing quote",
    ),
    "list never closed": (
        "storage:\n  object_store:\n    buckets: [a, b\n  postgres: {}\n",
        "qa.yaml:4:11: malformed YAML: expected ',' or ']', but found ':' (in the [ ] list that starts at line 3)",
    ),
    "character that cannot start a value": (
        "gitops:\n  revision: @main\n",
        "qa.yaml:2:13: malformed YAML: '@' cannot start a value; put the value in quotes",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_yaml_is_explained_in_words(case: str, tmp_path: Path) -> None:
    text, expected = MALFORMED[case]
    assert environment_error(tmp_path, text) == expected


def test_every_duplicate_key_is_reported_with_its_path(tmp_path: Path) -> None:
    text = GOOD + "data_products:\n" + PRODUCT + "    module: sales.other\nplatform_version: '1.1.0'\n"
    assert environment_error(tmp_path, text) == (
        "qa.yaml:9: data_products.0.module: duplicate key (first set at line 7)\n"
        "qa.yaml:10: platform_version: duplicate key (first set at line 1)")


def test_a_merge_key_is_not_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(GOOD + "storage:\n  object_store: &minio {replicas: 4}\nsemantic:\n  cube_store:\n    workers:\n"
                           "      <<: *minio\n      replicas: 2\n")
    assert load_environment(path).semantic.cube_store.workers.replicas == 2


@pytest.mark.parametrize(("text", "kind"), [("- dev\n- prod\n", "list"), ("just words\n", "str"), ("42\n", "int")])
def test_a_file_that_is_not_a_mapping_is_refused(text: str, kind: str, tmp_path: Path) -> None:
    assert environment_error(tmp_path, text) == f"qa.yaml: the file must hold a mapping of settings, not a {kind}"


def test_gitops_cannot_name_an_environment(tmp_path: Path) -> None:
    path = tmp_path / "gitops.yaml"
    path.write_text(GOOD)
    with pytest.raises(FloeError) as raised:
        load_environment(path)
    assert str(raised.value) == f"{path}: 'gitops' cannot name an environment: dist/gitops/ holds the GitOps wiring"


def test_a_misnamed_environment_file_is_refused(tmp_path: Path) -> None:
    for name in ("dev.yaml", "prod.Yaml", "schema.json", ".editor.yml"):
        (tmp_path / name).write_text(GOOD)
    with pytest.raises(FloeError) as raised:
        environment_files(tmp_path)
    assert str(raised.value) == f"{tmp_path / 'prod.Yaml'}: environment files end in .yaml; rename it to prod.yaml"


def test_the_schema_gives_a_product_name_its_real_length() -> None:
    schema = json.loads((ROOT / "environments" / "schema.json").read_text())
    assert schema["$defs"]["DataProduct"]["properties"]["name"]["maxLength"] == 38
    assert schema["$defs"]["InClusterObjectStore"]["properties"]["replicas"]["minimum"] == 1
