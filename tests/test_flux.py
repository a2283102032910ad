"""Flux wiring: a Kustomization per step, a root that reconciles them from git, Rollout health that
reads the current generation, delete safety, identities of their own and private repositories.

Each rule names the Flux source it relies on (fluxcd/kustomize-controller, fluxcd/pkg,
fluxcd/cli-utils), so a reader can check the behaviour the test encodes.
"""

import copy
import shutil
import subprocess
from pathlib import Path

import cdk8s
import pytest
import yaml

from floe.app import render_objects
from floe.cli.changes import folder_of
from floe.cli.tree import parse, plan
from floe.config.environment import Environment
from floe.gitops import flux
from floe.gitops.inventory import emittable_kinds, group_kind_of
from floe.tiers import CATALOG, FINAL_WAVE, SYNC_WAVE, TIERS, Step, SyncStep, sync_steps, tier_named
from floe.validation import CRDS_DIR, validate, validate_custom_resources
from tests.conftest import ENVIRONMENT_NAMES, find, load_yaml, load_yaml_all, tree
from tests.engines import source
from tests.test_convergence import flux_run, not_ready

STEP_NAMES = {step.value: step.name.lower() for step in Step}
STATE_KINDS = ("Namespace", "PersistentVolumeClaim")


def _with(model, **changes):
    return model.model_copy(update=changes)


def _kustomizations(gitops_objects: dict[str, dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in gitops_objects.values() if o["kind"] == "Kustomization"}


def _step_kustomizations(environment: str, gitops_objects: dict[str, dict]) -> dict[str, dict]:
    return {name: o for name, o in _kustomizations(gitops_objects).items()
            if name not in (f"floe-{environment}", f"floe-{environment}-access")}


def _step_objects(rendered_env: dict[str, dict], kustomization: dict, environment: str) -> list[dict]:
    folder = kustomization["spec"]["path"].removeprefix(f"./dist/{environment}/")
    return [obj for path, obj in rendered_env.items() if path.rsplit("/", 1)[0] == folder]


def _chain(kustomizations: dict[str, dict]) -> list[str]:
    """The Kustomizations in dependsOn order (each depends on exactly the one before it)."""
    (first,) = [name for name, o in kustomizations.items() if not o["spec"].get("dependsOn")]
    order = [first]
    while True:
        following = [name for name, o in kustomizations.items()
                     if [d["name"] for d in o["spec"].get("dependsOn", [])] == [order[-1]]]
        if not following:
            return order
        (after,) = following
        order.append(after)


# 1. A Kustomization per step -------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_each_object_lies_in_the_folder_of_its_step(environment: str, rendered) -> None:
    """``<NN-tier>/<wave>-<step>/<kind>-<name>.yaml``: the step is the object's wave minus its tier's,
    or the final step of its own tier for the final wave (autoscalers, Ingresses)."""
    for path, obj in rendered[environment].items():
        tier_folder, step_folder, _ = path.split("/")
        tier = next(t for t in TIERS if t.folder == tier_folder)
        wave = int(obj["metadata"]["annotations"][SYNC_WAVE])
        step = "final" if wave == FINAL_WAVE else STEP_NAMES[wave - tier.wave]
        assert step_folder == f"{wave:02d}-{step}", path


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_step_and_tier_folders_list_exactly_their_contents(environment: str, fresh_dist: Path) -> None:
    for tier_folder in (p for p in (fresh_dist / environment).iterdir() if p.is_dir()):
        steps = sorted(p.name for p in tier_folder.iterdir() if p.is_dir())
        assert yaml.safe_load((tier_folder / "kustomization.yaml").read_text())["resources"] == steps
        assert not [p for p in tier_folder.glob("*.yaml") if p.name != "kustomization.yaml"], tier_folder
        for step in steps:
            listed = yaml.safe_load((tier_folder / step / "kustomization.yaml").read_text())["resources"]
            assert listed == sorted(p.name for p in (tier_folder / step).glob("*.yaml")
                                    if p.name != "kustomization.yaml")


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
def test_kubectl_kustomize_builds_a_whole_tier_from_its_steps(fresh_dist: Path) -> None:
    for tier_folder in sorted(p for p in (fresh_dist / "prod").iterdir() if p.is_dir()):
        built = subprocess.run(["kubectl", "kustomize", str(tier_folder)], capture_output=True, text=True, check=True)
        names = sorted((o["kind"], o["metadata"]["name"]) for o in load_yaml_all(built.stdout))
        expected = sorted((o["kind"], o["metadata"]["name"]) for o in (
            load_yaml(p.read_text()) for p in tier_folder.rglob("*.yaml") if p.name != "kustomization.yaml"))
        assert names == expected, tier_folder.name


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_one_kustomization_per_step_chained_in_startup_order(environment: str, gitops, rendered) -> None:
    """floe-<env>-<tier>-<step> for each step folder, each depending on the one before in (tier, wave)
    order, the root first and the access Kustomization right after the foundation."""
    kustomizations = _kustomizations(gitops[environment])
    folders = sorted({path.rsplit("/", 1)[0] for path in rendered[environment]},
                     key=lambda f: (int(f[:2]), int(f.split("/")[1][:2])))
    steps = [f"floe-{environment}-{f.split('/')[0][3:]}-{f.split('/')[1][3:]}" for f in folders]
    chain = _chain(kustomizations)
    assert chain == [f"floe-{environment}", steps[0], f"floe-{environment}-access", *steps[1:]]
    assert sorted(chain) == sorted(kustomizations), "a Kustomization outside the chain"
    for name, folder in zip(steps, folders, strict=True):
        spec = kustomizations[name]["spec"]
        assert spec["path"] == f"./dist/{environment}/{folder}"
        assert spec["wait"] is True and spec["prune"] is True and spec["timeout"]
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": f"floe-{environment}"}


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_a_server_never_races_its_migration_nor_its_bootstrap(environment: str, gitops, rendered) -> None:
    """A migration Job's Kustomization is Ready (the Job complete) before its tier's servers are
    applied; a bootstrap Job's is applied only once the servers' Kustomization is Ready."""
    order = _chain(_kustomizations(gitops[environment]))
    step_of = {}
    for name, kustomization in _step_kustomizations(environment, gitops[environment]).items():
        for obj in _step_objects(rendered[environment], kustomization, environment):
            step_of[(obj["kind"], obj["metadata"]["name"])] = order.index(name)
    jobs = [o for o in rendered[environment].values() if o["kind"] == "Job"]
    assert {"minio-buckets", "polaris-bootstrap", "dagster-migrate"} <= {o["metadata"]["name"] for o in jobs}
    for job in jobs:
        tier = tier_named(job["metadata"]["labels"]["floe.dev/tier"])
        servers = [step_of[(o["kind"], o["metadata"]["name"])] for o in rendered[environment].values()
                   if o["kind"] in ("Deployment", "StatefulSet", "Rollout")
                   and o["metadata"]["labels"]["floe.dev/tier"] == tier.name]
        at = step_of[("Job", job["metadata"]["name"])]
        assert at < min(servers) or at > max(servers), job["metadata"]["name"]


def test_a_wave_that_is_no_step_of_its_tier_is_refused() -> None:
    with pytest.raises(ValueError, match="wave 23 is no step of tier catalog"):
        sync_steps({CATALOG: [{"kind": "ConfigMap", "metadata": {"name": "x", "annotations": {SYNC_WAVE: "23"}}}]})
    assert SyncStep(CATALOG, FINAL_WAVE).folder == f"20-catalog/{FINAL_WAVE}-final"


# 2. A root per environment, reconciled from git ------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_bootstrap_is_the_root_and_its_source(environment: str, gitops) -> None:
    """`kubectl apply -f dist/gitops/<env>/flux/` applies the top of the folder only: the root, its
    GitRepository and the identity the root applies as (kustomize-controller impersonates it from the
    first reconcile on, so it must exist before). Everything else is reconciled from git by the root."""
    top = sorted(path for path in gitops[environment] if path.startswith("flux/") and path.count("/") == 1)
    assert top == [f"flux/{kind}-floe-{environment}.yaml" for kind in (
        "clusterrole", "clusterrolebinding", "gitrepository", "kustomization", "role", "rolebinding", "serviceaccount")]
    assert find(gitops[environment], "Kustomization", f"floe-{environment}")["spec"]["serviceAccountName"] == \
        f"floe-{environment}"
    for path, obj in gitops[environment].items():
        if obj["kind"] == "Kustomization" and obj["metadata"]["name"] != f"floe-{environment}":
            assert path.startswith("flux/steps/"), path


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_root_prunes_its_folder_but_never_itself(environment: str, gitops) -> None:
    """The root's path is its own folder (as `flux bootstrap`'s flux-system is), so it reconciles
    itself, the GitRepository and every step (kustomize-controller generates a kustomization.yaml
    of the folder tree: fluxcd/pkg kustomize/kustomize_generator.go scanManifests). It never prunes
    itself: kustomize-controller skips objects annotated prune: disabled (deleteObjects)."""
    root = find(gitops[environment], "Kustomization", f"floe-{environment}")
    assert root["spec"]["path"] == f"./dist/gitops/{environment}/flux"
    assert root["spec"]["prune"] is True
    assert root["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    # Waiting would deadlock: the steps depend on the root being Ready.
    assert not root["spec"].get("wait")
    assert not [p for p in gitops[environment] if p.endswith("kustomization.yaml")]


def test_a_tier_that_stops_rendering_leaves_the_chain(environments) -> None:
    """Semantic disabled: its Kustomizations leave flux/steps (the root prunes them, and they their
    objects), and the jobs step now depends on the orchestrator."""
    dev = environments["dev"]
    lean = render_objects(_with(dev, semantic=_with(dev.semantic, enabled=False)))
    kustomizations = {o["metadata"]["name"]: o for o in lean["gitops/dev/flux/steps"] if o["kind"] == "Kustomization"}
    assert not [name for name in kustomizations if "-semantic-" in name]
    assert kustomizations["floe-dev-jobs-serve"]["spec"]["dependsOn"] == [{"name": "floe-dev-orchestrator-serve"}]


# 3. Rollout health ----------------------------------------------------------------------------------

def test_rollout_fields_the_health_check_reads_exist_in_the_crd() -> None:
    crd = load_yaml((CRDS_DIR / "argoproj.io_rollouts.yaml").read_text())
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert status["observedGeneration"]["type"] == "string"
    assert status["phase"]["type"] == "string"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_rollout_health_compares_the_observed_generation(environment: str, gitops, rendered) -> None:
    """fluxcd/pkg runtime/cel status_evaluator.go compares observedGeneration only as an integer; a
    Rollout's is a string, so the expressions compare it themselves. inProgress is evaluated first."""
    for kustomization in _step_kustomizations(environment, gitops[environment]).values():
        rollouts = [o for o in _step_objects(rendered[environment], kustomization, environment)
                    if o["kind"] == "Rollout"]
        exprs = [e for e in kustomization["spec"].get("healthCheckExprs", []) if e["kind"] == "Rollout"]
        assert bool(exprs) == bool(rollouts)
        for expr in exprs:
            assert (expr["apiVersion"], expr["kind"]) == ("argoproj.io/v1alpha1", "Rollout")
            assert "status.observedGeneration == string(metadata.generation)" in expr["current"]
            assert "status.phase == 'Healthy'" in expr["current"]
            assert "status.observedGeneration != string(metadata.generation)" in expr["inProgress"]
            assert expr["failed"] == "status.phase == 'Degraded'"
    if environment == "prod":
        assert any(o["kind"] == "Rollout" for o in rendered[environment].values())


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_a_step_with_external_secrets_waits_until_they_are_written(environment: str, gitops, rendered) -> None:
    """kstatus counts an ExternalSecret without status as Current: the step must ask for Ready itself."""
    for kustomization in _step_kustomizations(environment, gitops[environment]).values():
        secrets = [o for o in _step_objects(rendered[environment], kustomization, environment)
                   if o["kind"] == "ExternalSecret"]
        exprs = [e for e in kustomization["spec"].get("healthCheckExprs", []) if e["kind"] == "ExternalSecret"]
        assert exprs == ([{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                           "current": "has(status.conditions) && status.conditions.exists(c, c.type == 'Ready' "
                                      "&& c.status == 'True')"}] if secrets else [])
    if environment == "prod":
        assert any(o["kind"] == "ExternalSecret" for o in rendered[environment].values())


# 4. Delete safety -----------------------------------------------------------------------------------

def _holds_state(obj: dict) -> bool:
    return obj["kind"] in STATE_KINDS or bool(obj["kind"] == "StatefulSet" and obj["spec"].get("volumeClaimTemplates"))


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_kustomizations_holding_state_orphan_their_objects(environment: str, gitops, rendered) -> None:
    """Flux's default deletion policy mirrors prune (kustomize-controller finalizerShouldDeleteResources)."""
    orphaning = []
    for name, kustomization in _step_kustomizations(environment, gitops[environment]).items():
        state = any(_holds_state(o) for o in _step_objects(rendered[environment], kustomization, environment))
        assert kustomization["spec"].get("deletionPolicy") == ("Orphan" if state else None), name
        orphaning += [name] if state else []
    assert f"floe-{environment}-foundation-prepare" in orphaning
    assert f"floe-{environment}-storage-serve" in orphaning


# 5. Identities of their own -------------------------------------------------------------------------

class Authorizer:
    """Kubernetes RBAC over the rendered Flux objects, enough to ask what a step identity may do."""

    def __init__(self, objects: list[dict], flux_namespace: str) -> None:
        self.objects, self.flux_namespace = objects, flux_namespace
        self.roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
                      for o in objects if o["kind"] in ("Role", "ClusterRole")}

    def rules(self, account: str) -> list[tuple[str | None, dict]]:
        """(namespace the rule applies in, None for everywhere; rule) of every grant to ``account``."""
        found = []
        for binding in (o for o in self.objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
            subjects = {(s["kind"], s["name"], s.get("namespace")) for s in binding["subjects"]}
            if ("ServiceAccount", account, self.flux_namespace) not in subjects:
                continue
            namespace = binding["metadata"].get("namespace")
            ref = binding["roleRef"]
            role = self.roles[(ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])]
            found += [(namespace, rule) for rule in role["rules"]]
        return found

    def allows(self, account: str, verb: str, group: str, resource: str, namespace: str | None, name: str) -> bool:
        return any((where is None or where == namespace) and group in rule["apiGroups"]
                   and resource in rule["resources"] and verb in rule["verbs"]
                   and name in rule.get("resourceNames", [name])
                   for where, rule in self.rules(account))


def _authorizer(environment: str, gitops, environments) -> Authorizer:
    return Authorizer(list(gitops[environment].values()), environments[environment].gitops.flux.namespace)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_kustomization_applies_with_an_identity_of_its_own(environment: str, gitops, environments) -> None:
    """The root, the access Kustomization and every step: none keeps kustomize-controller's own identity."""
    flux_namespace = environments[environment].gitops.flux.namespace
    kustomizations = _kustomizations(gitops[environment])
    assert {f"floe-{environment}", f"floe-{environment}-access"} < set(kustomizations)
    for name, kustomization in kustomizations.items():
        assert kustomization["spec"]["serviceAccountName"] == name
        account = find(gitops[environment], "ServiceAccount", name)
        assert account["metadata"]["namespace"] == flux_namespace == kustomization["metadata"]["namespace"]
        assert account["automountServiceAccountToken"] is False


def _wiring(environment: str) -> tuple[str, str]:
    return f"floe-{environment}", f"floe-{environment}-access"


def _applied_by(gitops_objects: dict[str, dict], account: str, environment: str) -> list[dict]:
    """What the root (its folder, sub-folders included) or the access Kustomization (flux-access/) applies."""
    folder = "flux/" if account == f"floe-{environment}" else "flux-access/"
    return [o for path, o in gitops_objects.items() if path.startswith(folder)]


def _granting_rights(rbac: "Authorizer", account: str, objects: list[dict]) -> list[str]:
    """What Kubernetes escalation prevention would refuse ``account`` while it applies ``objects``:
    escalate on each role, bind on the role of each binding, by name (the wiring holds no rule it grants)."""
    missing = []
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in ("Role", "ClusterRole"):
            verb, resource, name = "escalate", flux.resource_of(obj["kind"]), obj["metadata"]["name"]
        elif obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            verb, resource, name = "bind", flux.resource_of(obj["roleRef"]["kind"]), obj["roleRef"]["name"]
        else:
            continue
        if not rbac.allows(account, verb, flux.RBAC_GROUP, resource, namespace, name):
            missing.append(f"{verb} {resource}/{name} in {namespace or 'the cluster'}")
    return missing


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_wiring_may_apply_exactly_what_its_folder_holds(environment: str, gitops, environments) -> None:
    """The root applies its folder (the GitRepository, the Kustomizations, the ServiceAccounts, the
    foundation's ClusterRole and binding, the access identity and its own), the access Kustomization
    the step Roles: each may create, get and patch exactly those names, in the namespace each lies in
    (cluster-wide for the access identity, whose namespaces do not exist when the root applies it),
    and every rule of theirs names its objects."""
    rbac = _authorizer(environment, gitops, environments)
    flux_namespace = environments[environment].gitops.flux.namespace
    for account in _wiring(environment):
        objects = _applied_by(gitops[environment], account, environment)
        root = account == f"floe-{environment}"
        expected = {(group_kind_of(o).group, flux.resource_of(o["kind"]), o["metadata"].get("namespace") if root
                     else None, o["metadata"]["name"]) for o in objects}
        for verb in ("create", "get", "patch"):
            granted = {(group, resource, where, name) for where, rule in rbac.rules(account) if verb in rule["verbs"]
                       for group in rule["apiGroups"] for resource in rule["resources"]
                       for name in rule["resourceNames"]} if verb != "get" else None
            if granted is not None:
                assert granted == expected, (account, verb, granted ^ expected)
            for group, resource, where, name in expected:
                assert rbac.allows(account, verb, group, resource, where, name), (account, verb, resource, name)
        steps = set(flux.every_step_name(environments[environment]))
        for where, rule in rbac.rules(account):
            assert rule.get("resourceNames"), (account, rule)
            assert where in ((None, flux_namespace) if root else (None,)), (account, where)
            assert set(rule["verbs"]) <= {"create", "get", "patch", "delete", "escalate", "bind"}, rule
            if "delete" in rule["verbs"]:  # what it renders but never prunes, and what a step left behind
                pruned = {o["metadata"]["name"] for o in objects if flux.resource_of(o["kind"]) in rule["resources"]
                          and o["metadata"].get("annotations", {}).get(flux.FLUX_PRUNE) != "disabled"}
                assert set(rule["resourceNames"]) <= pruned | steps, rule
                assert not set(rule["resourceNames"]) & set(_wiring(environment)[:1 if root else 2]) - pruned, rule
        cluster_wide = {name for where, rule in rbac.rules(account) if where is None for name in rule["resourceNames"]}
        rendered = {o["metadata"]["name"] for o in objects if root is False or "namespace" not in o["metadata"]}
        assert cluster_wide <= rendered | steps, (account, cluster_wide - rendered - steps)
    # The bindings of the wiring's identities are rendered at the top of the root's folder or beside
    # the access Kustomization, never among what the access Kustomization applies.
    assert not [o for o in _applied_by(gitops[environment], _wiring(environment)[1], environment)
                if o["metadata"]["name"] in _wiring(environment)]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_wiring_grants_rights_by_escalate_and_bind_on_the_names_it_renders(environment: str, gitops,
                                                                               environments) -> None:
    """Kubernetes refuses to create or update a role with rights the account lacks, unless it may
    ``escalate`` that role, and a binding to a role whose rights it lacks, unless it may ``bind`` that
    role (pkg/registry/rbac/escalation_check.go). The wiring gets both, always by name; no step does."""
    rbac = _authorizer(environment, gitops, environments)
    for account in _wiring(environment):
        assert not _granting_rights(rbac, account, _applied_by(gitops[environment], account, environment))
    for obj in gitops[environment].values():
        for rule in obj.get("rules", []) if obj["kind"] in ("Role", "ClusterRole") else []:
            assert "*" not in rule["verbs"], obj["metadata"]
            if {"escalate", "bind"} & set(rule["verbs"]):
                assert rule["resourceNames"] and obj["metadata"]["name"] in _wiring(environment), obj["metadata"]


def test_a_root_that_may_not_bind_the_foundation_role_is_caught(fresh_dist: Path, gitops, environments) -> None:
    """The broken variant: the root's ClusterRole without ``bind`` on the foundation's ClusterRole.
    The rule check finds it, and in the simulation the root never gets Ready (escalation prevention
    refuses the foundation's ClusterRoleBinding), so no step runs."""
    environment = "dev"
    foundation = f"floe-{environment}-foundation-prepare"

    def without_bind(objects: list[dict]) -> None:
        for obj in objects:
            if obj["kind"] == "ClusterRole" and obj["metadata"]["name"] == f"floe-{environment}":
                for rule in (r for r in obj["rules"] if "bind" in r["verbs"]):
                    rule["resourceNames"] = [n for n in rule["resourceNames"] if n != foundation]

    broken = {path: copy.deepcopy(o) for path, o in gitops[environment].items()}
    without_bind(list(broken.values()))
    rbac = Authorizer(list(broken.values()), environments[environment].gitops.flux.namespace)
    assert _granting_rights(rbac, f"floe-{environment}", _applied_by(broken, f"floe-{environment}", environment)) \
        == [f"bind clusterroles/{foundation} in the cluster"]

    tree = copy.deepcopy(source.load(fresh_dist))
    without_bind([doc for path, docs in tree.items() if path.startswith(f"dist/gitops/{environment}/flux/")
                  for doc in docs])
    engine = flux_run(tree, environment)
    failed = not_ready(engine)
    assert f"bind on clusterroles '{foundation}'" in failed[f"floe-{environment}"], failed
    assert not [name for name, state in engine.states.items() if state.phase == "Ready"]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_each_identity_may_apply_exactly_what_its_step_renders(environment: str, gitops, rendered,
                                                              environments) -> None:
    """create, get and patch (server-side apply) on every object of the step; create on nothing but
    the step's kinds in the step's namespaces, and what a Role the step creates or binds grants
    (RBAC lets an account grant only what it holds). The step before the namespaces exist holds its
    grants cluster-wide, by name (see the next test)."""
    rbac = _authorizer(environment, gitops, environments)
    for name, kustomization in _step_kustomizations(environment, gitops[environment]).items():
        objects = _step_objects(rendered[environment], kustomization, environment)
        early = kustomization["spec"]["dependsOn"] == [{"name": f"floe-{environment}"}]
        expected = set()
        for obj in objects:
            group, resource = group_kind_of(obj).group, flux.resource_of(obj["kind"])
            namespace = obj["metadata"].get("namespace")
            for verb in ("create", "get", "patch"):
                assert rbac.allows(name, verb, group, resource, namespace, obj["metadata"]["name"]), (name, verb, obj)
            expected.add((group, resource, None if early else namespace))
        for obj in (o for o in objects if o["kind"] in ("Role", "RoleBinding")):
            role = obj["roleRef"]["name"] if obj["kind"] == "RoleBinding" else obj["metadata"]["name"]
            rules = next(o for o in rendered[environment].values() if o["kind"] == "Role"
                         and o["metadata"]["name"] == role)["rules"]
            expected |= {(group, resource, obj["metadata"]["namespace"]) for rule in rules if "create" in rule["verbs"]
                         for group in rule["apiGroups"] for resource in rule["resources"]}
        creatable = {(group, resource, where) for where, rule in rbac.rules(name) if "create" in rule["verbs"]
                     for group in rule["apiGroups"] for resource in rule["resources"]}
        assert creatable == expected, name


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_cluster_roles_only_name_what_runs_before_the_namespaces_exist(environment: str, gitops, rendered,
                                                                       environments) -> None:
    """The foundation creates the namespaces, so no Role can grant it anything before it runs: it
    alone gets a ClusterRole, every rule limited to the names it applies, and it cannot delete."""
    cluster_roles = [o for o in gitops[environment].values() if o["kind"] == "ClusterRole"
                     and o["metadata"]["name"] not in _wiring(environment)]
    assert [o["metadata"]["name"] for o in cluster_roles] == [f"floe-{environment}-foundation-prepare"]
    (role,) = cluster_roles
    foundation = [o for path, o in rendered[environment].items() if path.startswith("00-foundation/")]
    names = {(group_kind_of(o).group, flux.resource_of(o["kind"])): set() for o in foundation}
    for obj in foundation:
        names[(group_kind_of(obj).group, flux.resource_of(obj["kind"]))].add(obj["metadata"]["name"])
    granted = {}
    for rule in role["rules"]:
        assert rule["resourceNames"] and "delete" not in rule["verbs"]
        for resource in rule["resources"]:
            granted[(rule["apiGroups"][0], resource)] = set(rule["resourceNames"])
    assert granted == names
    # Every Role lives in a namespace the foundation creates, applied after it by the access Kustomization.
    namespaces = {o["metadata"]["name"] for o in foundation if o["kind"] == "Namespace"}
    for path, obj in gitops[environment].items():
        if obj["kind"] in ("Role", "RoleBinding") and obj["metadata"]["name"] not in _wiring(environment):
            assert path.startswith(f"flux-access/{obj['metadata']['namespace']}/")
            assert obj["metadata"]["namespace"] in namespaces


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_step_can_clean_up_whatever_it_may_once_have_applied(environment: str, gitops, environments) -> None:
    """A step prunes after the root and the access Kustomization applied the same revision
    (kustomize-controller checkDependencies), so its own grant has already lost a kind that left.
    Pruning reads then deletes each object (fluxcd/pkg ssa/manager_delete.go): every step identity,
    present or future, may get and delete every namespaced kind the generator can emit in the
    environment's namespaces, and get a claim, which it never deletes."""
    rbac = _authorizer(environment, gitops, environments)
    namespaces = [o["metadata"]["namespace"] for o in gitops[environment].values()
                  if o["kind"] == "Role" and o["metadata"]["name"] == f"floe-{environment}-clean-up"]
    assert sorted(namespaces) == sorted([environments[environment].namespaces.platform,
                                         environments[environment].namespaces.jobs])
    identities = flux.every_step_name(environments[environment])
    assert len(identities) == len(TIERS) * (len(Step) + 1)
    for account in identities:
        for namespace in namespaces:
            for kind in emittable_kinds(namespaced=True):
                resource = flux.resource_of(kind.kind)
                assert rbac.allows(account, "get", kind.group, resource, namespace, "gone")
                assert rbac.allows(account, "delete", kind.group, resource, namespace, "gone") == (
                    kind.kind != "PersistentVolumeClaim"), (account, kind)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_no_flux_identity_can_delete_a_namespace_or_a_claim(environment: str, gitops) -> None:
    for obj in gitops[environment].values():
        for rule in obj.get("rules", []) if obj["kind"] in ("Role", "ClusterRole") else []:
            if "delete" in rule["verbs"]:
                assert not {"namespaces", "persistentvolumeclaims", "*"} & set(rule["resources"]), obj["metadata"]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_what_a_leaving_step_needs_to_clean_up_is_never_pruned(environment: str, gitops) -> None:
    """Deleting a step's Kustomization prunes its objects as its own identity (kustomize-controller
    finalize impersonates it; a missing account leaves the objects behind). The root never prunes
    itself nor its own identity (it would lose the rights to go on), nor the access identity."""
    for path, obj in gitops[environment].items():
        if not path.startswith("flux"):
            continue
        kept = obj["metadata"].get("annotations", {}).get("kustomize.toolkit.fluxcd.io/prune") == "disabled"
        root = obj["kind"] == "Kustomization" and obj["metadata"]["name"] == f"floe-{environment}"
        clean_up = obj["metadata"]["name"] == f"floe-{environment}-clean-up"
        wiring = obj["metadata"]["name"] in _wiring(environment) and obj["kind"] in (
            "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
        assert kept == (obj["kind"] == "ServiceAccount" or clean_up or root or wiring), path
    assert find(gitops[environment], "ServiceAccount", f"floe-{environment}-storage-serve")


def test_grafana_disabled_leaves_its_claim_to_the_clean_up_grant(environments, gitops) -> None:
    """The claim leaves the observability step's own grant, yet the step can still read it (to find
    its prune: disabled annotation and skip it)."""
    dev = environments["dev"]
    observability = dev.observability
    lean = render_objects(_with(dev, observability=_with(
        observability, grafana=_with(observability.grafana, enabled=False))))
    role = next(o for o in lean["gitops/dev/flux-access/floe-platform"] if o["metadata"]["name"]
                == "floe-dev-observability-serve")
    assert not [r for r in role["rules"] if "persistentvolumeclaims" in r["resources"]]
    clean_up = [o for o in lean["gitops/dev/flux-access/floe-platform"] if o["metadata"]["name"] == "floe-dev-clean-up"]
    assert clean_up == [o for o in gitops["dev"].values() if o["metadata"]["name"] == "floe-dev-clean-up"
                        and o["metadata"]["namespace"] == "floe-platform"]


def test_resources_are_named_as_the_crds_name_them() -> None:
    for path in CRDS_DIR.glob("*.yaml"):
        for crd in load_yaml_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                assert flux.resource_of(crd["spec"]["names"]["kind"]) == crd["spec"]["names"]["plural"]
    assert [flux.resource_of(k) for k in ("NetworkPolicy", "Ingress", "ServiceAccount")] == [
        "networkpolicies", "ingresses", "serviceaccounts"]


# 6. Private repositories -----------------------------------------------------------------------------

def _source(environment: Environment) -> dict:
    return find({str(i): o for i, o in enumerate(flux.render(cdk8s.App(), environment, {})["flux"])},
                "GitRepository", f"floe-{environment.name}")


def test_a_private_repository_names_its_secret(environments) -> None:
    dev = environments["dev"]
    assert "secretRef" not in _source(dev)["spec"]
    private = _with(dev, gitops=_with(dev.gitops, flux=_with(dev.gitops.flux, secret_ref="floe-git-credentials")))
    source = _source(private)
    assert source["spec"]["secretRef"] == {"name": "floe-git-credentials"}
    assert not validate_custom_resources([("gitrepository.yaml", source)])


def test_an_scp_like_repository_becomes_an_ssh_url(environments) -> None:
    """source-controller's CRD admits http, https and ssh URLs only."""
    dev = environments["dev"]
    ssh = _with(dev, gitops=_with(dev.gitops, repository="git@git.example.org:platform/floe.git"))
    source = _source(ssh)
    assert source["spec"]["url"] == "ssh://git@git.example.org/platform/floe.git"
    assert not validate_custom_resources([("gitrepository.yaml", source)])


# The rest ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_flux_objects_are_valid(environment: str, gitops) -> None:
    objects = [(path, o) for path, o in gitops[environment].items() if path.startswith("flux")]
    problems = validate_custom_resources(objects) + validate(objects)
    assert not problems, "\n".join(map(str, problems))


def test_the_command_line_reads_the_step_folders(fresh_dist: Path) -> None:
    """Plans and summaries match on the tier folder: a step folder belongs to its tier."""
    objects = parse({f"prod/{path}": text.decode() for path, text in tree(fresh_dist / "prod").items()
                     if path.endswith(".yaml")})
    planned = [obj for step in plan(objects, "prod") for obj in step.objects]
    assert len(planned) == len(objects)
    assert folder_of("prod/20-catalog/21-serve/deployment-polaris.yaml") == "prod/20-catalog"
    assert folder_of("gitops/prod/flux/steps/kustomization-floe-prod-catalog-serve.yaml") == "gitops/prod"


def test_each_parse_of_the_same_file_is_an_object_of_its_own() -> None:
    """Files are parsed once per text (commands read mostly the same files twice): a caller changing what it got
    must not change what the next caller gets."""
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n"
    first = parse({"dev/00-foundation/configmap-c.yaml": text})["dev/00-foundation/configmap-c.yaml"]
    first["data"]["a"] = "changed"
    first["metadata"]["labels"] = {"x": "y"}
    again = parse({"dev/00-foundation/configmap-c.yaml": text})["dev/00-foundation/configmap-c.yaml"]
    assert again == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
