"""The jobs namespace admits only what the platform renders (floe/security/admission.py).

The rendered ValidatingAdmissionPolicy's CEL is evaluated here with cel-python, the way the API
server applies a policy to one request (k8s.io/apiserver ``pkg/admission/plugin/policy/validating``):
every match condition true, or the policy does not apply; the variables, each seeing those before
it (``variables.<name>``); then each validation, a false one refusing the request with its message.
``object`` and ``oldObject`` are dynamic there too (``cel.DynType``), so field selection works alike.

Admitted: every CronJob of the jobs namespace, the Job ``floe run`` makes of it and that Job's pod;
the Job Dagster's run launcher creates for each product (the rendered ``dagster.yaml`` merged with the
code location's ``DAGSTER_CONTAINER_CONTEXT``, by tests/test_run_credentials.py's copy of dagster-k8s'
merge) and its pod, and the launcher's fallback run. Refused: foreign images, accounts and Secrets.
What only the API server shows (its CEL cost limits, a type-check warning) is not proven here.
"""

import json
import re
from collections.abc import Callable
from typing import Any

import celpy
import pytest
from celpy import celtypes

from floe.jobs import PRODUCT_LABEL, template_name
from floe.jobs.runs import job_from_cronjob
from floe.rendered import copy_json
from tests.conftest import ENVIRONMENT_NAMES, find, pod_spec
from tests.test_run_credentials import (
    CASES,
    PRODUCT_SECRETS,
    code_location,
    container_context_of,
    dagster_version,
    launcher_config,
    run_pod,
    the_run,
)

IMAGE = "a container's image is neither its data product's (label floe.dev/data-product) nor the platform's run image"
ACCOUNT = "pods in floe-jobs run as the service account floe-job-runner"
ENV = "an env var reads a Secret its data product (label floe.dev/data-product) does not read"
ENV_FROM = "envFrom takes a Secret its data product (label floe.dev/data-product) does not read"
VOLUME = "a volume mounts a Secret its data product (label floe.dev/data-product) does not read"

DAGSTER_IMAGE = "docker.io/dagster/dagster-k8s:1.13.24"
PRODUCT_IMAGES = {("dev", "sales"): "registry.example.com/floe/sales:1.5.0-rc.1",
                  ("staging", "sales"): "registry.example.com/floe/sales:1.4.2",
                  ("staging", "marketing"): "registry.example.com/floe/marketing:0.9.0",
                  ("prod", "sales"): "registry.example.com/floe/sales:1.4.2",
                  ("prod", "marketing"): "registry.example.com/floe/marketing:0.9.0"}
"""Each product's image (literal: the environments' files)."""
RUN_SECRETS = {"dev": ["postgres-dagster-credentials"],
               "staging": ["floe-in-cluster-ca", "postgres-dagster-credentials"],
               "prod": ["dagster-postgres-ca", "dagster-postgres-credentials", "floe-in-cluster-ca"]}
"""Dagster's database Secret (and prod's external database's CA), and with in-cluster TLS (staging, prod) its
CA: what every run reads."""
TOKEN_VOLUME = {
    "name": "kube-api-access-7xq2d",
    "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]},
}
"""What the ServiceAccount admission plugin adds to a pod that mounts its token (a run's), before any
validating policy sees it (kubernetes plugin/pkg/admission/serviceaccount: TokenVolumeSource)."""

CEL = celpy.Environment()


def compiled(expression: str) -> celpy.Runner:
    return CEL.program(CEL.compile(expression))


class Admission:
    """One rendered policy, applied to one request at a time."""

    def __init__(self, policy: dict) -> None:
        spec = policy["spec"]
        self.conditions = [compiled(c["expression"]) for c in spec["matchConditions"]]
        self.variables = [(v["name"], compiled(v["expression"])) for v in spec["variables"]]
        self.validations = [(compiled(v["expression"]), v["message"]) for v in spec["validations"]]

    def refusals(self, obj: dict, old: dict | None = None) -> list[str] | None:
        """The messages refusing ``obj`` (created, or updated from ``old``); None when the policy does not
        apply. An evaluation error (the API server would refuse: ``failurePolicy: Fail``) raises."""
        activation: dict[str, Any] = {
            "object": celpy.json_to_cel(obj), "oldObject": celpy.json_to_cel(old),
            "request": celpy.json_to_cel({"operation": "CREATE" if old is None else "UPDATE"})}
        if not all(condition.evaluate(activation) for condition in self.conditions):
            return None
        values: dict[celtypes.StringType, Any] = {}
        for name, program in self.variables:
            values[celtypes.StringType(name)] = program.evaluate({**activation, "variables": celtypes.MapType(values)})
        activation["variables"] = celtypes.MapType(values)
        return [message for program, message in self.validations if not program.evaluate(activation)]


def policy_of(objects: dict, name: str) -> dict:
    return find(objects, "ValidatingAdmissionPolicy", f"floe-{name}-jobs-admission")


def variable(policy: dict, name: str) -> str:
    [expression] = [v["expression"] for v in policy["spec"]["variables"] if v["name"] == name]
    return expression


# --- the objects a request carries ---------------------------------------------------------------

def pod_of(template: dict) -> dict:
    """The pod a Job's controller creates from its template."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": copy_json(template["metadata"]),
            "spec": copy_json(template["spec"])}


def cronjobs(objects: dict, namespace: str) -> list[dict]:
    return [o for o in objects.values() if o["kind"] == "CronJob" and o["metadata"]["namespace"] == namespace]


def _camel(key: str) -> str:
    """A snake_case attribute in camelCase (``secret_key_ref`` → ``secretKeyRef``); label keys and
    the like are no snake_case identifiers and stay as they are."""
    if not re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", key):
        return key
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), key)


def camel_case(value: Any) -> Any:
    """The run pod of tests/test_run_credentials.py (snake_case, as dagster-k8s holds it) as the API sees it."""
    if isinstance(value, dict):
        return {_camel(k): camel_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_case(v) for v in value]
    return value


def reported_image(objects: dict, product: str) -> str:
    """The image a code location reports to its runs (``DAGSTER_CURRENT_IMAGE``)."""
    [server] = pod_spec(code_location(objects, product))["containers"]
    [image] = [v["value"] for v in server["env"] if v["name"] == "DAGSTER_CURRENT_IMAGE"]
    return image


def run_job(objects: dict, snake_pod: dict, image: str) -> dict:
    """The Job the run launcher creates around a run pod (dagster-k8s ``construct_dagster_k8s_job``: the
    image, and the instance ConfigMap as a volume)."""
    pod = camel_case(snake_pod)
    [container] = pod["spec"]["containers"]
    container.update(name="dagster", image=image)
    volumes = pod["spec"].setdefault("volumes", [])
    volumes.append({"name": "dagster-instance", "configMap": {"name": launcher_config(objects)["instance_config_map"]}})
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "dagster-run-r1", "labels": dict(pod["metadata"]["labels"])},
            "spec": {"backoffLimit": 0, "template": pod}}


def with_token(job: dict) -> dict:
    """The run's pod as the validating policy sees it: with the token volume the ServiceAccount plugin adds."""
    pod = pod_of(job["spec"]["template"])
    pod["spec"]["volumes"].append(TOKEN_VOLUME)
    return pod


# --- the rendered policy --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_the_policy_and_its_binding(rendered, name: str) -> None:
    objects = rendered[name]
    paths = {f"{o['kind']}/{o['metadata']['name']}": path for path, o in objects.items()}
    policy, binding = policy_of(objects, name), find(objects, "ValidatingAdmissionPolicyBinding",
                                                     f"floe-{name}-jobs-admission")
    # In the foundation's first step: in place before the first template (jobs tier) or run (orchestrator).
    assert paths[f"ValidatingAdmissionPolicy/floe-{name}-jobs-admission"].startswith("00-foundation/00-prepare/")
    assert paths[f"ValidatingAdmissionPolicyBinding/floe-{name}-jobs-admission"].startswith("00-foundation/00-prepare/")
    in_jobs = {"matchLabels": {"kubernetes.io/metadata.name": "floe-jobs"}}
    assert binding["spec"] == {"policyName": f"floe-{name}-jobs-admission", "validationActions": ["Deny"],
                               "matchResources": {"namespaceSelector": in_jobs}}
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail" and "paramKind" not in spec
    assert spec["matchConstraints"] == {"namespaceSelector": in_jobs, "resourceRules": [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["pods", "pods/ephemeralcontainers"]},
        {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["jobs", "cronjobs"]}]}
    assert [v["message"] for v in spec["validations"]] == [IMAGE, ACCOUNT, ENV, ENV_FROM, VOLUME]
    assert [v["name"] for v in spec["variables"]] == ["template", "spec", "containers", "product", "product_images",
                                                     "images", "product_secrets", "secrets"]


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_the_allowed_lists_are_the_environments(rendered, environments, name: str) -> None:
    """Per product, its image and the Secrets its pod reads (literal: tests/test_run_credentials.py); for
    every pod, Dagster's image and the Secrets of every run."""
    policy = policy_of(rendered[name], name)
    products = [product.name for product in environments[name].data_products]
    assert variable(policy, "product_images") == "{" + ", ".join(
        f"{json.dumps(product)}: {json.dumps([PRODUCT_IMAGES[name, product]])}" for product in products) + "}"
    owned = {product: sorted({secret for secret, _ in PRODUCT_SECRETS[name, product]}) for product in products}
    assert variable(policy, "product_secrets") == "{" + ", ".join(
        f"{json.dumps(product)}: {json.dumps(owned[product])}" for product in products) + "}"
    assert variable(policy, "images").startswith(f'["{DAGSTER_IMAGE}"] + ')
    every_run = ", ".join(f'"{secret}"' for secret in RUN_SECRETS[name])
    assert variable(policy, "secrets").startswith(f"[{every_run}] + ")


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_every_expression_compiles_in_cel_python(rendered, name: str) -> None:
    """A syntax error would otherwise show only when a real API server refuses the policy."""
    spec = policy_of(rendered[name], name)["spec"]
    expressions = [item["expression"] for key in ("matchConditions", "variables", "validations") for item in spec[key]]
    assert len(expressions) == 1 + 8 + 5
    for expression in expressions:
        CEL.compile(expression)
    # The check finds a broken one: each validation without its last parenthesis.
    for validation in spec["validations"]:
        with pytest.raises(celpy.CELParseError):
            CEL.compile(validation["expression"].rstrip(")"))


# --- admitted -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_every_template_its_runs_and_their_pods_are_admitted(rendered, environments, name: str) -> None:
    objects = rendered[name]
    admission = Admission(policy_of(objects, name))
    templates = cronjobs(objects, environments[name].namespaces.jobs)
    assert len(templates) == 4 * len(environments[name].data_products)
    for cronjob in templates:
        job = job_from_cronjob(cronjob, "0a1b2c3d")
        assert admission.refusals(cronjob) == [], cronjob["metadata"]["name"]
        assert admission.refusals(job) == [], cronjob["metadata"]["name"]
        assert admission.refusals(pod_of(job["spec"]["template"])) == [], cronjob["metadata"]["name"]
        # Applied again unchanged: not checked; its schedule switched on: checked, and admitted.
        assert admission.refusals(cronjob, old=cronjob) is None
        resumed = copy_json(cronjob)
        resumed["spec"]["suspend"] = not cronjob["spec"]["suspend"]
        assert admission.refusals(resumed, old=cronjob) == []


@pytest.mark.parametrize(("name", "product"), CASES)
def test_the_run_launchers_jobs_and_their_pods_are_admitted(rendered, environments, name: str, product: str) -> None:
    objects, environment = rendered[name], environments[name]
    admission = Admission(policy_of(objects, name))
    job = run_job(objects, the_run(objects, environment, product), reported_image(objects, product))
    assert job["spec"]["template"]["metadata"]["labels"][PRODUCT_LABEL] == product
    assert admission.refusals(job) == []
    assert admission.refusals(with_token(job)) == []


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_the_launchers_fallback_run_is_admitted(rendered, environments, name: str) -> None:
    """A run of a code location that reports neither image nor context: the launcher's ``job_image``, no
    product, only the Secrets of every run."""
    objects = rendered[name]
    launcher = launcher_config(objects)
    assert launcher["job_image"] == DAGSTER_IMAGE
    job = run_job(objects, run_pod(launcher, "any", None, dagster_version(environments[name])), launcher["job_image"])
    assert PRODUCT_LABEL not in job["spec"]["template"]["metadata"]["labels"]
    assert Admission(policy_of(objects, name)).refusals(job) == []


# --- refused --------------------------------------------------------------------------------------

def _secret_env(secret: str, key: str) -> Callable[[dict], None]:
    def change(template: dict) -> None:
        template["spec"]["containers"][0]["env"].append(
            {"name": "LOOT", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    return change


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """Sets ``spec.<path>`` (dotted) of the pod template; None removes it."""
    def change(template: dict) -> None:
        *parents, last = ["spec", *path.split(".")]
        target = template
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return change


def _append(field: str, value: dict) -> Callable[[dict], None]:
    return lambda template: template["spec"].setdefault(field, []).append(value)


def _label(product: str | None) -> Callable[[dict], None]:
    def change(template: dict) -> None:
        labels = template["metadata"]["labels"]
        if product is None:
            del labels[PRODUCT_LABEL]
        else:
            labels[PRODUCT_LABEL] = product
    return change


HOSTILE: dict[str, tuple[Callable[[dict], None], list[str]]] = {
    "a foreign image": (_set("containers.0.image", "docker.io/library/python:3.13-slim"), [IMAGE]),
    "another product's image": (_set("containers.0.image", "registry.example.com/floe/marketing:0.9.0"), [IMAGE]),
    "a foreign init container": (
        _append("initContainers", {"name": "fetch", "image": "docker.io/curlimages/curl:8.11.0"}), [IMAGE]),
    "another service account": (_set("serviceAccountName", "dagster-daemon"), [ACCOUNT]),
    "no service account (default)": (_set("serviceAccountName", None), [ACCOUNT]),
    "a Secret another product owns": (_secret_env("snowflake-transformer", "password"), [ENV]),
    "another product's catalog principal": (_secret_env("floe-marketing-catalog-credentials", "client-secret"), [ENV]),
    "a Secret nobody declared": (_secret_env("minio-root-credentials", "root-password"), [ENV]),
    "envFrom a foreign Secret": (_set("containers.0.envFrom", [{"secretRef": {"name": "snowflake-transformer"}}]),
                                 [ENV_FROM]),
    "a secret volume": (
        _append("volumes", {"name": "loot", "secret": {"secretName": "snowflake-transformer"}}), [VOLUME]),
    "a projected secret": (_append("volumes", {"name": "loot", "projected": {"sources": [
        {"secret": {"name": "floe-marketing-catalog-credentials"}}]}}), [VOLUME]),
    # Claiming marketing's label for its Secrets: the image is not marketing's, nor sales' Secrets marketing's.
    "another product's label": (_label("marketing"), [IMAGE, ENV]),
    "no product label": (_label(None), [IMAGE, ENV]),
}
"""Changes to the pod template of prod's ``sales-dbt-run`` (DuckDB; marketing runs on Snowflake), with
the messages that refuse it."""


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_pod_job_or_template_is_refused(rendered, case: str) -> None:
    objects = rendered["prod"]
    admission = Admission(policy_of(objects, "prod"))
    cronjob = copy_json(find(objects, "CronJob", template_name("sales", "dbt-run")))
    change, messages = HOSTILE[case]
    change(cronjob["spec"]["jobTemplate"]["spec"]["template"])
    job = job_from_cronjob(cronjob, "0a1b2c3d")
    assert admission.refusals(cronjob) == messages
    assert admission.refusals(job) == messages
    assert admission.refusals(pod_of(job["spec"]["template"])) == messages
    # The same change to a template already in the cluster (an update of its spec).
    original = find(objects, "CronJob", template_name("sales", "dbt-run"))
    assert admission.refusals(cronjob, old=original) == messages


RUN_TAGS = {
    # dagster-k8s merges a run's ``dagster-k8s/config`` tag over the code location's context, as the
    # context over run_k8s_config; the launcher's allow-list admits env, resources and labels.
    "a tag relabelling the run marketing": (lambda ctx: ctx["k8s"]["labels"].update({PRODUCT_LABEL: "marketing"}),
                                           [IMAGE, ENV]),
    "a tag reading marketing's Secret": (lambda ctx: ctx["k8s"]["env"].append(
        {"name": "FLOE_CATALOG_CLIENT_SECRET", "valueFrom": {"secretKeyRef": {
            "name": "floe-marketing-catalog-credentials", "key": "client-secret"}}}), [ENV]),
}


@pytest.mark.parametrize("case", RUN_TAGS)
def test_a_run_whose_tags_reach_for_another_product_is_refused(rendered, environments, case: str) -> None:
    """What the launcher's allow-list lets a run's tags do (README: "Who reaches the Dagster UI")."""
    objects, environment = rendered["prod"], environments["prod"]
    context = copy_json(container_context_of(objects, "sales"))
    change, messages = RUN_TAGS[case]
    change(context)
    job = run_job(objects, the_run(objects, environment, "sales", context), reported_image(objects, "sales"))
    admission = Admission(policy_of(objects, "prod"))
    assert admission.refusals(job) == messages
    assert admission.refusals(with_token(job)) == messages


def test_an_ephemeral_container_is_checked_like_any_other(rendered) -> None:
    """``kubectl debug`` adds one through the pod's ``ephemeralcontainers`` subresource: an update."""
    objects = rendered["prod"]
    admission = Admission(policy_of(objects, "prod"))
    pod = pod_of(find(objects, "CronJob", template_name("sales", "dbt-run"))["spec"]["jobTemplate"]["spec"]["template"])
    debugged = copy_json(pod)
    debugged["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "docker.io/library/busybox:1.37"}]
    assert admission.refusals(debugged, old=pod) == [IMAGE]
    debugged["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "registry.example.com/floe/sales:1.4.2",
                                                "envFrom": [{"secretRef": {"name": "snowflake-transformer"}}]}]
    assert admission.refusals(debugged, old=pod) == [ENV_FROM]


def test_a_metadata_update_of_a_pod_admitted_before_is_never_refused(rendered) -> None:
    """The Job controller removes its finalizer from a finished pod with an update that changes no spec;
    a pod from before the policy (or of a product since removed) must still let it go."""
    objects = rendered["prod"]
    admission = Admission(policy_of(objects, "prod"))
    template = copy_json(find(objects, "CronJob", template_name("sales", "dbt-run"))["spec"]["jobTemplate"])
    template["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/library/python:3.13-slim"
    old = pod_of(template["spec"]["template"])
    old["metadata"]["finalizers"] = ["batch.kubernetes.io/job-tracking"]
    new = copy_json(old)
    del new["metadata"]["finalizers"]
    assert admission.refusals(new, old=old) is None
    assert admission.refusals(old) == [IMAGE]


def test_a_policy_missing_a_products_secret_would_refuse_its_pods(rendered) -> None:
    """The broken variant: the allowed Secrets without Snowflake's, as a derivation that missed the
    compute's credentials would render them: marketing's templates and runs are refused."""
    objects = rendered["prod"]
    policy = copy_json(policy_of(objects, "prod"))
    [owned] = [v for v in policy["spec"]["variables"] if v["name"] == "product_secrets"]
    assert ', "snowflake-transformer"' in owned["expression"]
    owned["expression"] = owned["expression"].replace(', "snowflake-transformer"', "")
    admission = Admission(policy)
    cronjob = find(objects, "CronJob", template_name("marketing", "dbt-run"))
    assert admission.refusals(cronjob) == [ENV]
    assert admission.refusals(find(objects, "CronJob", template_name("sales", "dbt-run"))) == []


def test_a_job_made_by_hand_is_refused(rendered) -> None:
    """``kubectl -n floe-jobs create job probe --image=busybox`` (the README's check on a real cluster): no
    product, so only the platform's image; no service account, so ``default``."""
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "probe", "namespace": "floe-jobs"},
           "spec": {"template": {"metadata": {}, "spec": {
               "containers": [{"name": "probe", "image": "busybox"}], "restartPolicy": "Never"}}}}
    assert Admission(policy_of(rendered["prod"], "prod")).refusals(job) == [IMAGE, ACCOUNT]
