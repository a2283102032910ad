"""Admission in the jobs namespace: a pod there runs only what the platform renders.

NetworkPolicies bound what a job pod reaches and RBAC what its account may do; neither bounds what a
pod *is*. Whoever may create a Job or a Pod in the jobs namespace (the daemon's run launcher, a run
tag it lets through, ``floe run``, an operator) could otherwise start any image, as any account,
with any Secret of the namespace: another product's catalog principal, Dagster's database password.
A ValidatingAdmissionPolicy (``admissionregistration.k8s.io/v1``, GA in Kubernetes 1.30) refuses, in
Pods, Jobs and CronJobs' job templates there:

- an image that is neither the pod's data product's (label :data:`floe.jobs.PRODUCT_LABEL`) nor
  the platform's run image (the run launcher's fallback ``job_image``, for a run whose code location
  reports no image): a pod that claims another product's label, for its Secrets, must run that
  product's code;
- any service account but the runner (``jobs.service_account``), an unset one included (it
  would become ``default``);
- a Secret the pod's data product does not read, whether
  by env (``secretKeyRef``), ``envFrom`` or a volume (``secret``, or a ``projected`` source): the
  product's own (:func:`floe.jobs.product_pod.container_context`, the same pod as its templates)
  and those every run reads (Dagster's database Secret and CA, from ``run_k8s_config``). A pod
  without a known product label gets only the latter.

The allowed lists are CEL literals, rendered per environment, and the expressions use only what
cel-python (the tests' evaluator) shares with the API server's CEL: no optional types, no string
or set extensions, no ``quantity()``. The policy has no ``paramKind``, so creating it and its
binding needs no right beyond create/patch on the two kinds (the API server checks ``get`` on a
policy's params only when it has some: kubernetes pkg/registry/admissionregistration/
validatingadmissionpolicy/authz.go).

An update is checked only when it changes the object's ``spec``: the Job controller removes its
tracking finalizer from a finished pod with a metadata-only update, which must pass even for a pod
admitted before this policy existed or before its product left the environment.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from floe.components.dagster import run_k8s_config
from floe.config.environment import Environment
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity, Layer
from floe.constructs.metadata import object_meta
from floe.jobs import PRODUCT_LABEL
from floe.jobs.product_pod import container_context
from floe.security.secrets import references
from floe.tiers import FOUNDATION, Step

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every Namespace to its name: what a namespaceSelector can select one name by."""

POD_TEMPLATE = ('object.kind == "Pod" ? object : (object.kind == "Job" ? object.spec.template'
                " : object.spec.jobTemplate.spec.template)")
"""The pod an object describes: a Pod itself, a Job's template, a CronJob's job template's template."""
SPEC_CHANGED = 'request.operation == "CREATE" || object.spec != oldObject.spec'
"""Whether an update is checked: see the module's docstring."""


def policy_name(environment: Environment) -> str:
    """The policy's and its binding's name: cluster-scoped, so the environment's, which no other
    environment on the cluster shares and which never changes while the environment exists (so neither
    engine ever has to prune one)."""
    return f"floe-{environment.name}-jobs-admission"


def platform_images(environment: Environment) -> list[str]:
    """The release's images a pod there may run, whatever its product: Dagster's, the run launcher's
    fallback ``job_image`` (for a run whose code location reports no image; templates never run it)."""
    return [environment.release.images.dagster]


def product_images(environment: Environment) -> dict[str, list[str]]:
    """Each data product's image: its templates run it, and its code location reports it to its runs."""
    return {product.name: [product.image] for product in environment.data_products}


def _secrets(spec: Mapping[str, Any]) -> list[str]:
    return sorted({name for name, _ in references(spec)})


def run_secrets(environment: Environment) -> list[str]:
    """The Secrets every run Dagster launches reads, whatever its product: the instance's database
    credentials and, with an external database, its CA (the launcher's ``run_k8s_config``)."""
    run = run_k8s_config(environment)
    return _secrets({"containers": [run["container_config"]], "volumes": run["pod_spec_config"].get("volumes")})


def product_secrets(environment: Environment) -> dict[str, list[str]]:
    """Each data product's own Secrets: those of its pod, which its templates and its runs share."""
    found: dict[str, list[str]] = {}
    for product in environment.data_products:
        context = container_context(environment, product)["k8s"]
        found[product.name] = _secrets({"containers": [{"name": "run", "env": context["env"]}],
                                        "volumes": context.get("volumes")})
    return found


def cel_list(values: Iterable[str]) -> str:
    """A CEL list literal of strings (a JSON string is a CEL string literal: same quotes and escapes)."""
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def cel_map(values: Mapping[str, Iterable[str]]) -> str:
    """A CEL map literal, each key to a list of strings."""
    return "{" + ", ".join(f"{json.dumps(key)}: {cel_list(items)}" for key, items in values.items()) + "}"


def variables(environment: Environment) -> list[tuple[str, str]]:
    """(name, expression) of the policy's variables, each one able to use those before it."""
    label = json.dumps(PRODUCT_LABEL)
    return [
        ("template", POD_TEMPLATE),
        ("spec", "variables.template.spec"),
        ("containers", "(has(variables.spec.initContainers) ? variables.spec.initContainers : [])"
                       " + variables.spec.containers"
                       " + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers : [])"),
        ("product", f"has(variables.template.metadata) && has(variables.template.metadata.labels)"
                    f" && {label} in variables.template.metadata.labels"
                    f' ? variables.template.metadata.labels[{label}] : ""'),
        ("product_images", cel_map(product_images(environment))),
        ("images", f"{cel_list(platform_images(environment))} + (variables.product in variables.product_images"
                   " ? variables.product_images[variables.product] : [])"),
        ("product_secrets", cel_map(product_secrets(environment))),
        ("secrets", f"{cel_list(run_secrets(environment))} + (variables.product in variables.product_secrets"
                    " ? variables.product_secrets[variables.product] : [])"),
    ]


def validations(environment: Environment) -> list[tuple[str, str]]:
    """(expression, message) of each rule: every one must hold for the object to be admitted."""
    namespace, account = environment.namespaces.jobs, environment.jobs.service_account
    readable = f"a Secret its data product (label {PRODUCT_LABEL}) does not read"
    return [
        ("variables.containers.all(c, has(c.image) && c.image in variables.images)",
         f"a container's image is neither its data product's (label {PRODUCT_LABEL}) nor the platform's run image"),
        (f"has(variables.spec.serviceAccountName) && variables.spec.serviceAccountName == {json.dumps(account)}"
         f" && (!has(variables.spec.serviceAccount) || variables.spec.serviceAccount == {json.dumps(account)})",
         f"pods in {namespace} run as the service account {account}"),
        ("variables.containers.all(c, !has(c.env) || c.env.all(e, !has(e.valueFrom)"
         " || !has(e.valueFrom.secretKeyRef)"
         " || (has(e.valueFrom.secretKeyRef.name) && e.valueFrom.secretKeyRef.name in variables.secrets)))",
         f"an env var reads {readable}"),
        ("variables.containers.all(c, !has(c.envFrom) || c.envFrom.all(f, !has(f.secretRef)"
         " || (has(f.secretRef.name) && f.secretRef.name in variables.secrets)))",
         f"envFrom takes {readable}"),
        ("!has(variables.spec.volumes) || variables.spec.volumes.all(v,"
         " (!has(v.secret) || (has(v.secret.secretName) && v.secret.secretName in variables.secrets))"
         " && (!has(v.projected) || !has(v.projected.sources) || v.projected.sources.all(s, !has(s.secret)"
         " || (has(s.secret.name) && s.secret.name in variables.secrets))))",
         f"a volume mounts {readable}"),
    ]


def render(scope: Scope, environment: Environment) -> None:
    namespace = environment.namespaces.jobs
    identity = AppIdentity(name="floe", instance=namespace, component="admission",
                           version=environment.platform_version, tier=FOUNDATION, layer=Layer.PIPELINE_JOBS)
    name = policy_name(environment)
    # Both the policy and its binding name the namespace: another binding of this policy (say, one
    # without a selector) could never apply its jobs-namespace rules to the rest of the cluster.
    in_jobs = k8s.LabelSelector(match_labels={NAMESPACE_NAME_LABEL: namespace})
    k8s.KubeValidatingAdmissionPolicy(
        scope, "jobs-admission-policy",
        metadata=object_meta(identity, name, None, Step.PREPARE),
        spec=k8s.ValidatingAdmissionPolicySpec(
            failure_policy="Fail",
            match_constraints=k8s.MatchResources(
                namespace_selector=in_jobs,
                resource_rules=[
                    # Ephemeral containers (kubectl debug) are added through their own subresource.
                    k8s.NamedRuleWithOperations(api_groups=[""], api_versions=["v1"], operations=["CREATE", "UPDATE"],
                                                resources=["pods", "pods/ephemeralcontainers"]),
                    k8s.NamedRuleWithOperations(api_groups=["batch"], api_versions=["v1"],
                                                operations=["CREATE", "UPDATE"], resources=["jobs", "cronjobs"]),
                ],
            ),
            match_conditions=[k8s.MatchCondition(name="changes-what-runs", expression=SPEC_CHANGED)],
            variables=[k8s.Variable(name=key, expression=expression) for key, expression in variables(environment)],
            validations=[k8s.Validation(expression=expression, message=message, reason="Forbidden")
                         for expression, message in validations(environment)],
        ),
    )
    k8s.KubeValidatingAdmissionPolicyBinding(
        scope, "jobs-admission-binding",
        metadata=object_meta(identity, name, None, Step.PREPARE),
        spec=k8s.ValidatingAdmissionPolicyBindingSpec(
            policy_name=name, validation_actions=["Deny"],
            match_resources=k8s.MatchResources(namespace_selector=in_jobs),
        ),
    )
