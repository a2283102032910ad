"""The runs Dagster launches get the same pod as the product's job templates (issue 10).

A data product's code runs in the jobs namespace by two paths: its CronJob templates, and the runs
Dagster's K8sRunLauncher creates from its code location. The launcher's ``run_k8s_config``
(dagster.yaml) is the same for every run; what a product's runs need besides comes from the
container context its code server reports (``DAGSTER_CONTAINER_CONTEXT``). This module builds
the run pod the launcher would create from the rendered dagster.yaml and the rendered code-location
Deployment, with a small copy of dagster-k8s' own merge, and compares it with each CronJob's pod:
the same Secrets (names and keys), service account, network labels and resources.

The merge follows dagster-k8s 0.29.24 (the pinned ``dagster/dagster-k8s:1.13.24`` image), files in
``python_modules/libraries/dagster-k8s/dagster_k8s/``:

- ``container_context.py``: ``K8sContainerContext.__new__`` and ``_get_base_user_defined_k8s_config``
  (where each top-level field goes: ``env`` → ``container_config.env``, ``labels`` → the pod
  template's and the Job's labels, ``service_account_name`` → ``pod_spec_config`` ...);
  ``_merge_k8s_config``/``_deep_merge_k8s_config`` (the default DEEP merge: mappings merged, lists
  appended and de-duplicated except ``command``/``args``, scalars replaced by the later config);
  ``create_for_run`` (the launcher's own settings and ``run_k8s_config`` first, the code location's
  container context merged over them); ``create_from_config`` (the ``k8s`` key of the context).
- ``job.py``: ``UserDefinedDagsterK8sConfig`` (keys snake-cased through the Kubernetes models,
  so camelCase manifests and snake_case fields meet), ``construct_dagster_k8s_job`` (labels: the
  common ``app.kubernetes.io`` ones, then the launcher's, then the context's; env:
  ``DAGSTER_RUN_JOB_NAME``, ``DAGSTER_HOME``, then the merged ``container_config.env``; the
  service account from ``pod_spec_config``; the user's resources).
- ``launcher.py``: ``_launch_k8s_job_with_args`` (component ``run_worker``, labels ``dagster/job``,
  ``dagster/run-id``, ``dagster/code-location``).

The same merge, run with dagster-k8s 0.29.24 itself on this render, gave the same pods.
"""

import copy
import json
import re
from collections.abc import Mapping

import pytest
import yaml

from floe.constructs.labels import LAUNCHED_BY
from floe.jobs import JOB_TYPES, template_name
from tests.conftest import ENVIRONMENT_NAMES, find, pod_spec

CONTAINER_CONTEXT_FIELDS = {
    "env", "env_config_maps", "env_secrets", "env_vars", "image_pull_policy", "image_pull_secrets", "labels",
    "namespace", "resources", "run_k8s_config", "scheduler_name", "security_context", "server_k8s_config",
    "server_replica_count", "service_account_name", "volume_mounts", "volumes",
}
"""``DagsterK8sJobConfig.config_type_container_context()`` of dagster-k8s 0.29.24: the keys a ``k8s``
container context may have (Dagster refuses a context with any other)."""
SECTIONS = ("container_config", "pod_template_spec_metadata", "pod_spec_config", "job_config", "job_metadata",
            "job_spec_config")
ALWAYS_SHALLOW_MERGE_LIST_FIELDS = {"command", "args"}
NAMESPACE_NAME = "kubernetes.io/metadata.name"

SECRETS = {
    # Each product's own catalog principal and MinIO user.
    "sales catalog": {("floe-sales-catalog-credentials", "client-id"),
                      ("floe-sales-catalog-credentials", "client-secret")},
    "marketing catalog": {("floe-marketing-catalog-credentials", "client-id"),
                          ("floe-marketing-catalog-credentials", "client-secret")},
    "sales object store": {("floe-sales-object-store-credentials", "access-key"),
                           ("floe-sales-object-store-credentials", "secret-key")},
    "marketing object store": {("floe-marketing-object-store-credentials", "access-key"),
                               ("floe-marketing-object-store-credentials", "secret-key")},
    "snowflake": {("snowflake-transformer", "user"), ("snowflake-transformer", "password")},
}
PRODUCT_SECRETS = {
    ("dev", "sales"): SECRETS["sales catalog"] | SECRETS["sales object store"],
    ("staging", "sales"): SECRETS["sales catalog"] | SECRETS["sales object store"],
    ("staging", "marketing"): SECRETS["marketing catalog"] | SECRETS["marketing object store"],
    ("prod", "sales"): SECRETS["sales catalog"] | SECRETS["sales object store"],
    ("prod", "marketing"): SECRETS["marketing catalog"] | SECRETS["marketing object store"] | SECRETS["snowflake"],
}
"""What each product's code reads, whichever path started it (literal: the environments' files)."""
TRUSTED = {"staging": {("floe-in-cluster-ca", "ca.crt")}, "prod": {("floe-in-cluster-ca", "ca.crt")}}
"""With in-cluster TLS, the CA every product's pod mounts (catalog, object store); a run gets it from the launcher."""
SCHEME = {"dev": "http", "staging": "https", "prod": "https"}
"""How the catalog and the object store are reached: in-cluster TLS in staging and prod."""
RESOURCES = {
    "job-burst": {"requests": {"cpu": "1000m", "memory": "2Gi"}, "limits": {"cpu": "4000m", "memory": "8Gi"}},
    "service": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}},
}
PRODUCT_RESOURCES = {("prod", "marketing"): RESOURCES["service"]}
"""Snowflake keeps pods small; every other product runs DuckDB in the pod with the burst preset."""
CASES = [(env, product) for env, product in PRODUCT_SECRETS if env in ENVIRONMENT_NAMES]


# --- dagster-k8s' merge, in small ---------------------------------------------------------------

def _snake(key: str) -> str:
    """A Kubernetes attribute in snake_case (``valueFrom`` → ``value_from``); label keys, resource
    names and env names are never camelCase identifiers and stay as they are."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower() if re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", key) else key


def snake_case(value: object) -> object:
    if isinstance(value, Mapping):
        return {_snake(k): snake_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_case(v) for v in value]
    return value


def _top_level(fields: Mapping) -> dict:
    """``K8sContainerContext._get_base_user_defined_k8s_config``: the run side of the top-level fields."""
    config: dict[str, dict] = {section: {} for section in SECTIONS}
    container, pod = config["container_config"], config["pod_spec_config"]
    for field, section, key in (("volume_mounts", container, "volume_mounts"), ("resources", container, "resources"),
                                ("image_pull_secrets", pod, "image_pull_secrets"), ("volumes", pod, "volumes"),
                                ("image_pull_policy", container, "image_pull_policy"),
                                ("service_account_name", pod, "service_account_name"),
                                ("scheduler_name", pod, "scheduler_name"),
                                ("security_context", container, "security_context")):
        if fields.get(field):
            section[key] = fields[field]
    if fields.get("labels"):
        config["pod_template_spec_metadata"]["labels"] = fields["labels"]
        config["job_metadata"]["labels"] = fields["labels"]
    env_from = [{"config_map_ref": {"name": n}} for n in fields.get("env_config_maps") or []]
    env_from += [{"secret_ref": {"name": n}} for n in fields.get("env_secrets") or []]
    if env_from:
        container["env_from"] = env_from
    variables = [dict(zip(("name", "value"), v.split("=", 1), strict=False)) for v in fields.get("env_vars") or []]
    variables += [dict(v) for v in fields.get("env") or []]
    if variables:
        container["env"] = variables
    return snake_case(config)


def deep_merge(onto: dict, from_: Mapping) -> dict:
    """``K8sContainerContext._deep_merge_k8s_config`` (on a copy)."""
    onto = copy.deepcopy(onto)
    for key, value in from_.items():
        if key not in onto:
            onto[key] = copy.deepcopy(value)
        elif isinstance(value, list) and key not in ALWAYS_SHALLOW_MERGE_LIST_FIELDS:
            onto[key] = [v for i, v in enumerate([*onto[key], *value]) if v not in [*onto[key], *value][:i]]
        elif isinstance(value, Mapping):
            onto[key] = deep_merge(onto[key], value)
        else:
            onto[key] = copy.deepcopy(value)
    return onto


def context(fields: Mapping) -> dict:
    """``K8sContainerContext(...).run_k8s_config``: top-level fields, ``run_k8s_config`` merged over them."""
    raw = snake_case(fields.get("run_k8s_config") or {})
    return deep_merge(_top_level(fields), {section: raw.get(section) or {} for section in SECTIONS})


def expand(value: str) -> str:
    """What the container sees of a literal env value: Kubernetes reads ``$$`` as ``$`` (this value has
    no ``$(NAME)`` reference to expand: checked)."""
    assert not re.search(r"(?<!\$)(\$\$)*\$\(", value), "a $(NAME) reference in DAGSTER_CONTAINER_CONTEXT"
    return value.replace("$$", "$")


def run_pod(launcher: Mapping, location: str, container_context: Mapping | None, dagster_version: str) -> dict:
    """The pod template of the Job the K8sRunLauncher creates for a run of ``location`` (snake_case)."""
    # create_for_run: the launcher's settings (those dagster.yaml sets) and its run_k8s_config ...
    merged = context({"service_account_name": launcher.get("service_account_name"), "labels": launcher.get("labels"),
                      "image_pull_policy": launcher.get("image_pull_policy"),
                      "env_config_maps": launcher.get("env_config_maps"), "env_secrets": launcher.get("env_secrets"),
                      "env_vars": launcher.get("env_vars"), "volume_mounts": launcher.get("volume_mounts"),
                      "volumes": launcher.get("volumes"), "resources": launcher.get("resources"),
                      "run_k8s_config": launcher.get("run_k8s_config")})
    # ... then the code location's container context (its "k8s" key) over them.
    if container_context:
        unknown = set(container_context["k8s"]) - CONTAINER_CONTEXT_FIELDS
        assert not unknown, f"dagster-k8s 0.29.24 refuses container context fields {sorted(unknown)}"
        merged = deep_merge(merged, context(container_context["k8s"]))
    container, pod = merged["container_config"], merged["pod_spec_config"]
    # construct_dagster_k8s_job
    labels = {"app.kubernetes.io/name": "dagster", "app.kubernetes.io/instance": "dagster",
              "app.kubernetes.io/version": dagster_version, "app.kubernetes.io/part-of": "dagster",
              "app.kubernetes.io/component": "run_worker", "dagster/job": "a_job", "dagster/run-id": "r1",
              "dagster/code-location": location, **merged["pod_template_spec_metadata"].get("labels", {})}
    env = [{"name": "DAGSTER_RUN_JOB_NAME", "value": "a_job"},
           {"name": "DAGSTER_HOME", "value": launcher["dagster_home"]}, *container.get("env", [])]
    return {
        "metadata": {"labels": labels},
        "spec": {
            "service_account_name": pod.get("service_account_name"),
            "automount_service_account_token": pod.get("automount_service_account_token", True),
            "containers": [{**container, "env": env, "resources": container.get("resources") or {}}],
            "volumes": pod.get("volumes", []),
        },
    }


# --- what the two pods are compared on ---------------------------------------------------------

def secret_refs(pod: Mapping) -> set[tuple[str, str, str]]:
    """(env var or volume, Secret, key) of every Secret key the pod reads."""
    spec = pod["spec"]
    refs = set()
    for container in spec["containers"]:
        for variable in container.get("env") or []:
            ref = (variable.get("value_from") or {}).get("secret_key_ref")
            if ref:
                refs.add((variable["name"], ref["name"], ref["key"]))
        assert not container.get("env_from"), "a whole Secret read as env"
    for volume in spec.get("volumes") or []:
        if volume.get("secret"):
            refs |= {(volume["name"], volume["secret"]["secret_name"], i["key"]) for i in volume["secret"]["items"]}
    return refs


def network_selectors(objects: dict, jobs: str) -> list[dict[str, str]]:
    """Every pod selector a NetworkPolicy applies to pods of the jobs namespace: the policies there,
    and the peers other policies admit from there."""
    selectors = []
    for policy in (o for o in objects.values() if o["kind"] == "NetworkPolicy"):
        spec = policy["spec"]
        if policy["metadata"]["namespace"] == jobs:
            selectors.append(spec["podSelector"].get("matchLabels") or {})
        for rule in [*(spec.get("ingress") or []), *(spec.get("egress") or [])]:
            for peer in [*(rule.get("from") or []), *(rule.get("to") or [])]:
                namespace = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {}).get(NAMESPACE_NAME)
                if namespace == jobs and "podSelector" in peer:
                    selectors.append(peer["podSelector"].get("matchLabels") or {})
    return selectors


def differences(cron: Mapping, run: Mapping, common: set[tuple[str, str, str]],
                selectors: list[dict[str, str]]) -> list[str]:
    """Where the run pod differs from the CronJob's pod; ``common``: what every run reads (dagster.yaml)."""
    found = []
    cron_refs, run_refs = secret_refs(cron), secret_refs(run)
    if missing := cron_refs - run_refs:
        found.append(f"the run lacks {sorted(missing)}")
    if extra := run_refs - cron_refs - common:
        found.append(f"the run alone reads {sorted(extra)}")
    if cron["spec"]["service_account_name"] != run["spec"]["service_account_name"]:
        found.append(f"service account {cron['spec']['service_account_name']} != {run['spec']['service_account_name']}")
    if cron["spec"]["containers"][0]["resources"] != run["spec"]["containers"][0]["resources"]:
        found.append(f"resources {cron['spec']['containers'][0]['resources']} != "
                     f"{run['spec']['containers'][0]['resources']}")
    # LAUNCHED_BY marks who launched a pod (Dagster), not what it runs: the selectors on it are the
    # orchestrator's own, for every run; the product's pod is selected by all the others.
    keys = {key for selector in selectors for key in selector} - {LAUNCHED_BY}
    cron_labels, run_labels = cron["metadata"]["labels"], run["metadata"]["labels"]
    for key in sorted(keys):
        if cron_labels.get(key) != run_labels.get(key):
            found.append(f"label {key}: {cron_labels.get(key)!r} != {run_labels.get(key)!r}")
    for selector in selectors:
        if LAUNCHED_BY not in selector and (selector.items() <= cron_labels.items()) != (
                selector.items() <= run_labels.items()):
            found.append(f"NetworkPolicy selector {selector} selects only one of them")
    names = [v["name"] for v in run["spec"]["containers"][0]["env"]]
    if duplicated := sorted({n for n in names if names.count(n) > 1}):
        found.append(f"the run's env sets {duplicated} twice")
    return found


# --- reading the render ------------------------------------------------------------------------

def launcher_config(objects: dict) -> dict:
    instance = yaml.safe_load(find(objects, "ConfigMap", "dagster-instance")["data"]["dagster.yaml"])
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
    return instance["run_launcher"]["config"]


def code_location(objects: dict, product: str) -> dict:
    [server] = [o for o in objects.values() if o["kind"] in ("Deployment", "Rollout")
                and o["metadata"]["name"] == f"dagster-code-{product}"]
    return server


def container_context_of(objects: dict, product: str) -> dict:
    [container] = pod_spec(code_location(objects, product))["containers"]
    [variable] = [v for v in container["env"] if v["name"] == "DAGSTER_CONTAINER_CONTEXT"]
    return json.loads(expand(variable["value"]))


def cron_pod(objects: dict, product: str, job_type: str) -> dict:
    cron = find(objects, "CronJob", template_name(product, job_type))
    return snake_case(cron["spec"]["jobTemplate"]["spec"]["template"])


def dagster_version(environment) -> str:
    return environment.release.images.dagster.rsplit(":", 1)[1]


def the_run(objects: dict, environment, product: str, container_context: Mapping | None = None) -> dict:
    context_ = container_context_of(objects, product) if container_context is None else container_context
    return run_pod(launcher_config(objects), product, context_, dagster_version(environment))


def every_run_reads(objects: dict, environment) -> set[tuple[str, str, str]]:
    """The Secrets of dagster.yaml's run_k8s_config alone: the instance's, common to every run."""
    return secret_refs(run_pod(launcher_config(objects), "any", None, dagster_version(environment)))


# --- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "product"), CASES)
def test_code_location_reports_the_products_container_context(rendered, environments, name, product) -> None:
    objects, environment = rendered[name], environments[name]
    value = container_context_of(objects, product)
    assert sorted(value) == ["k8s"]
    k8s = value["k8s"]
    assert set(k8s) <= CONTAINER_CONTEXT_FIELDS
    # The run launcher's own account (the allow-list admits none from a code location or a tag).
    assert "service_account_name" not in k8s
    assert launcher_config(objects)["service_account_name"] == environment.jobs.service_account == "floe-job-runner"
    assert k8s["labels"] == {"floe.dev/layer": "pipeline-jobs", "floe.dev/data-product": product}
    assert k8s["resources"] == PRODUCT_RESOURCES.get((name, product), RESOURCES["job-burst"])
    refs = {(v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
            for v in k8s["env"] if "valueFrom" in v}
    assert refs == PRODUCT_SECRETS[name, product]
    plain = {v["name"]: v["value"] for v in k8s["env"] if "value" in v}
    assert plain["FLOE_DATA_PRODUCT"] == product and plain["FLOE_ENVIRONMENT"] == name
    assert plain["FLOE_CATALOG_URI"] == f"{SCHEME[name]}://polaris.floe-platform.svc.cluster.local:8181/api/catalog"
    assert plain["AWS_ENDPOINT_URL"] == f"{SCHEME[name]}://minio.floe-platform.svc.cluster.local:9000"
    # The code server itself, in the platform namespace, reads none of the jobs namespace's Secrets.
    [server] = pod_spec(code_location(objects, product))["containers"]
    server_refs = {(v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
                   for v in server["env"] if "secretKeyRef" in (v.get("valueFrom") or {})}
    assert not server_refs & PRODUCT_SECRETS[name, product]


@pytest.mark.parametrize(("name", "product"), CASES)
def test_a_run_gets_the_pod_of_the_products_job_templates(rendered, environments, name, product) -> None:
    objects, environment = rendered[name], environments[name]
    run = the_run(objects, environment, product)
    common = every_run_reads(objects, environment)
    selectors = network_selectors(objects, environment.namespaces.jobs)
    assert any("floe.dev/data-product" in s for s in selectors) or name != "prod", "prod's compute policy"
    for job_type in JOB_TYPES:
        cron = cron_pod(objects, product, job_type)
        assert differences(cron, run, common, selectors) == [], job_type
        assert {(s, k) for _, s, k in secret_refs(cron)} == PRODUCT_SECRETS[name, product] | TRUSTED.get(name, set())
    # Literal: what a run of this product reads, besides the instance's database.
    assert {(s, k) for _, s, k in secret_refs(run) - common} == PRODUCT_SECRETS[name, product]
    assert run["spec"]["service_account_name"] == "floe-job-runner"
    assert run["spec"]["containers"][0]["resources"] == PRODUCT_RESOURCES.get((name, product), RESOURCES["job-burst"])
    assert run["metadata"]["labels"]["floe.dev/data-product"] == product
    assert run["metadata"]["labels"]["floe.dev/layer"] == "pipeline-jobs"


def test_without_the_container_context_a_run_reads_only_the_instances_secrets(rendered, environments) -> None:
    """Before: dagster.yaml alone gave a run Dagster's database and nothing of the product's."""
    objects, environment = rendered["prod"], environments["prod"]
    bare = run_pod(launcher_config(objects), "marketing", None, dagster_version(environment))
    found = differences(cron_pod(objects, "marketing", "dbt-run"), bare, every_run_reads(objects, environment),
                        network_selectors(objects, environment.namespaces.jobs))
    assert any("the run lacks" in f and "snowflake-transformer" in f and "floe-marketing-catalog-credentials" in f
               for f in found), found
    assert any("floe.dev/data-product" in f for f in found), found


def _drop_env(ctx: dict, name: str) -> None:
    ctx["k8s"]["env"] = [v for v in ctx["k8s"]["env"] if v["name"] != name]


BREAKAGES = {
    "a Secret missing": lambda ctx: _drop_env(ctx, "FLOE_CATALOG_CLIENT_SECRET"),
    "the compute's Secret missing": lambda ctx: _drop_env(ctx, "SNOWFLAKE_PASSWORD"),
    "another product's label": lambda ctx: ctx["k8s"]["labels"].update({"floe.dev/data-product": "sales"}),
    "another service account": lambda ctx: ctx["k8s"].update(service_account_name="default"),
    "other resources": lambda ctx: ctx["k8s"]["resources"]["limits"].update(memory="16Gi"),
    "a variable set twice": lambda ctx: ctx["k8s"]["env"].append({"name": "DAGSTER_PG_PASSWORD", "value": "x"}),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_container_context_is_caught(rendered, environments, breakage: str) -> None:
    objects, environment = rendered["prod"], environments["prod"]
    broken = copy.deepcopy(container_context_of(objects, "marketing"))
    BREAKAGES[breakage](broken)
    run = the_run(objects, environment, "marketing", broken)
    found = differences(cron_pod(objects, "marketing", "dbt-run"), run, every_run_reads(objects, environment),
                        network_selectors(objects, environment.namespaces.jobs))
    assert found, breakage


def test_the_merge_follows_dagster_k8s() -> None:
    """Spot checks of the copied rules: lists appended without duplicates, mappings merged with the
    later value winning, camelCase and snake_case keys meeting, command/args replaced."""
    onto = {"container_config": {"env": [{"name": "A", "value": "1"}], "command": ["a"],
                                 "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}}
    from_ = {"container_config": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "command": ["b"],
                                  "resources": {"limits": {"cpu": "2"}}}}
    assert deep_merge(onto, from_) == {"container_config": {
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "command": ["b"],
        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}}
    assert snake_case({"valueFrom": {"secretKeyRef": {"name": "s"}}, "floe.dev/layer": "x", "cpu": "1"}) == {
        "value_from": {"secret_key_ref": {"name": "s"}}, "floe.dev/layer": "x", "cpu": "1"}
    assert expand('{"a":"WH$$1"}') == '{"a":"WH$1"}'
    with pytest.raises(AssertionError):
        expand("$(HOME)")


# --- the Polaris bootstrap's secrets never on curl's command line ---------------------------

WORKLOAD_KINDS = {"Deployment", "Rollout", "StatefulSet", "DaemonSet", "Job", "CronJob"}
SECRET_VARIABLE = re.compile(r"\$\{?\w*SECRET\w*\b|\$\(\w*SECRET\w*\)", re.IGNORECASE)
"""Any variable holding a secret: the root's, or a principal's the bootstrap resets."""


def curl_command_lines(script: str) -> list[str]:
    """The simple commands of a shell script that run curl, directly or through a function whose
    body calls it (``api() { curl ...; }``), each with its continuation lines joined."""
    joined = script.replace("\\\n", " ")
    callers = {"curl"} | set(re.findall(r"(\w+)\(\)\s*\{[^}]*\bcurl\b", joined))
    # Commands end at pipes, lists, newlines, subshells and braces (not a parameter's ${...}).
    commands = re.split(r"\$\(|`|\|\||&&|[|;\n()]|(?<![$\w])\{|\}(?=[\s;]|$)", joined)
    found = []
    for command in commands:
        words = [w for w in command.split() if not re.fullmatch(r"\w+=\S*", w)]
        if words and words[0].rsplit("/", 1)[-1] in callers:
            found.append(command.strip())
    return found


def secret_on_curl_command_lines(objects: dict) -> list[str]:
    found = []
    for obj in objects.values():
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        spec = pod_spec(obj)
        for container in [*(spec.get("initContainers") or []), *spec["containers"]]:
            parts = [*(container.get("command") or []), *(container.get("args") or [])]
            if any(p.rsplit("/", 1)[-1] == "curl" for p in parts[:1]) and any(SECRET_VARIABLE.search(p) for p in parts):
                found.append(f"{obj['metadata']['name']}/{container['name']}: {parts}")
            for part in parts:
                found += [f"{obj['metadata']['name']}/{container['name']}: {line}"
                          for line in curl_command_lines(part) if SECRET_VARIABLE.search(line)]
    return found


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_no_curl_command_line_carries_the_root_secret(rendered, name: str) -> None:
    objects = rendered[name]
    assert secret_on_curl_command_lines(objects) == []
    script = create_catalog_script(objects)
    lines = curl_command_lines(script)
    assert any("--config -" in line for line in lines)
    # Each principal's reset body, and the root's access token, reach curl on stdin and from a file.
    assert sum("--data @-" in line for line in lines) == 3
    assert any('-H @"$AUTHORIZATION_HEADER_FILE"' in line for line in lines)
    assert not [line for line in lines if "$token" in line]


def test_the_check_finds_the_secret_on_a_curl_command_line() -> None:
    before = ('token=$(curl --silent --show-error --fail -X POST "$CATALOG_URI/v1/oauth/tokens" \\\n'
              '    -H "Polaris-Realm: $REALM" --user "$ROOT_CLIENT_ID:$ROOT_CLIENT_SECRET" \\\n'
              "    -d grant_type=client_credentials)")
    assert len(curl_command_lines(before)) == 1 and SECRET_VARIABLE.search(curl_command_lines(before)[0])
    through_a_function = 'get() { curl -s "$@"; }\nget --user "root:${ROOT_CLIENT_SECRET}" http://x'
    assert any(SECRET_VARIABLE.search(line) for line in curl_command_lines(through_a_function))
    as_args = {"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [
        {"name": "c", "command": ["curl"], "args": ["--user", "root:$(ROOT_CLIENT_SECRET)", "http://x"]}]}}}}
    assert secret_on_curl_command_lines({"j": as_args})
    # A principal's secret in a request body sent through a function that runs curl.
    as_body = 'send() {\n  status=$(curl -o out "$@")\n}\nsend POST "$url" --data "secret=$client_secret"'
    assert [line for line in curl_command_lines(as_body) if SECRET_VARIABLE.search(line)] == [
        'send POST "$url" --data "secret=$client_secret"']
    # Reading it on stdin is fine: the function's argument is no process's argv.
    assert not any(SECRET_VARIABLE.search(line) for line in curl_command_lines(
        'printf "%s" "$(quoted "$ROOT_CLIENT_SECRET")" | curl --config - http://x'))


def create_catalog_script(objects: dict) -> str:
    job = find(objects, "Job", "polaris-bootstrap")
    [container] = [c for c in pod_spec(job)["containers"] if c["name"] == "bootstrap-catalog"]
    assert container["command"][:2] == ["/bin/sh", "-c"] and "args" not in container
    return container["command"][2]
