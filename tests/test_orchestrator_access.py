"""Who can reach the Dagster UI, and what a run launched from it may change.

Open-source Dagster has no login, and a run's ``dagster-k8s/config`` tag reaches the run's Job. So
every Ingress to the UI goes to oauth2-proxy (an OIDC login) and never to the webserver, the
NetworkPolicies admit the ingress controller to oauth2-proxy only, and the run launcher accepts
from a code location or a tag no more than the product settings the platform itself sets there.
(tests/conformance/test_run_launcher_allowlist.py runs dagster-k8s's own merge on these settings.)
"""

import json

import pytest
import yaml

from floe.components.oauth2_proxy import arguments, logins
from floe.config.loader import load_environment
from floe.secret_values import operator_secrets
from floe.security.network_policies import Topology
from floe.security.secrets import inventory
from tests.conftest import ENVIRONMENT_NAMES, containers, environment_error, find, pod_spec

WITH_INGRESS = {
    # environment → (the UI's host, the OIDC client, the allowed group), as the environment files set them.
    "staging": ("dagster.staging.floe.example.internal", "floe-dagster-staging", "floe-operators"),
    "prod": ("dagster.floe.example.internal", "floe-dagster", "floe-operators"),
}
CONTROLLER = {"kubernetes.io/metadata.name": "ingress-nginx"}
WEBSERVER_URL = "http://dagster-webserver.floe-platform.svc.cluster.local:3000/"
GOOD = 'platform_version: "1.0.0"\ngitops:\n  repository: https://git.example.org/floe.git\n'
INGRESS = "orchestrator:\n  webserver:\n    ingress:\n      class_name: nginx\n      host: dagster.example.org\n"


def ingresses(objects: dict) -> list[dict]:
    return [o for o in objects.values() if o["kind"] == "Ingress"]


def backends(ingress: dict) -> set[tuple[str, str, str]]:
    """(host, Service, port name) of every path of the Ingress."""
    return {(rule["host"], path["backend"]["service"]["name"], path["backend"]["service"]["port"]["name"])
            for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]}


def policies(objects: dict) -> list[dict]:
    return [o for o in objects.values()
            if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == "floe-platform"]


def admits_controller(policy: dict) -> bool:
    return any(peer.get("namespaceSelector", {}).get("matchLabels") == CONTROLLER
               for rule in policy["spec"].get("ingress") or [] for peer in rule.get("from") or [])


def proxy_args(objects: dict, name: str = "oauth2-proxy") -> list[str]:
    [container] = containers(find(objects, "Deployment", name))
    return container["args"]


# -- the way in -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WITH_INGRESS))
def test_the_uis_ingress_sends_every_request_to_the_login(rendered, name) -> None:
    host = WITH_INGRESS[name][0]
    [ingress] = [i for i in ingresses(rendered[name]) if any(h == host for h, _, _ in backends(i))]
    assert backends(ingress) == {(host, "oauth2-proxy", "http")}
    service = find(rendered[name], "Service", "oauth2-proxy")
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [("http", 4180, "http")]


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_no_ingress_points_at_a_dagster_webserver(rendered, name) -> None:
    services = {service for ingress in ingresses(rendered[name]) for _, service, _ in backends(ingress)}
    assert not {s for s in services if s.startswith("dagster")}


@pytest.mark.parametrize("name", sorted(WITH_INGRESS))
def test_the_login_passes_requests_to_the_webserver_service(rendered, name) -> None:
    host, client, group = WITH_INGRESS[name]
    assert proxy_args(rendered[name]) == [
        "--http-address=0.0.0.0:4180",
        "--provider=oidc",
        "--oidc-issuer-url=https://sso.floe.example.internal/realms/floe",
        f"--client-id={client}",
        f"--redirect-url=https://{host}/oauth2/callback",
        f"--upstream={WEBSERVER_URL}",
        "--email-domain=example.com",
        f"--allowed-group={group}",
        "--cookie-secure=true",
        "--reverse-proxy=true",
        "--skip-provider-button=true",
        "--silence-ping-logging=true",
    ]
    webserver = find(rendered[name], "Service", "dagster-webserver")
    assert [(p["name"], p["port"]) for p in webserver["spec"]["ports"]] == [("http", 3000)]


@pytest.mark.parametrize("name", sorted(WITH_INGRESS))
def test_the_login_pod(rendered, name) -> None:
    deployment = find(rendered[name], "Deployment", "oauth2-proxy")
    spec = pod_spec(deployment)
    [container] = spec["containers"]
    assert container["image"] == "quay.io/oauth2-proxy/oauth2-proxy:v7.15.3"
    assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (65532, 65532)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["automountServiceAccountToken"] is False
    assert container["livenessProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["env"] == [
        {"name": "OAUTH2_PROXY_CLIENT_SECRET",
         "valueFrom": {"secretKeyRef": {"key": "client-secret", "name": "dagster-ui-login"}}},
        {"name": "OAUTH2_PROXY_COOKIE_SECRET",
         "valueFrom": {"secretKeyRef": {"key": "cookie-secret", "name": "dagster-ui-login"}}},
    ]
    uses = {(use.namespace, use.name): use for use in inventory(rendered[name].values())}
    login = uses["floe-platform", "dagster-ui-login"]
    readers = ("Deployment/oauth2-proxy", *(["Deployment/oauth2-proxy-viewer"] if name == "prod" else []))
    assert (login.keys, login.readers) == (("client-secret", "cookie-secret"), readers)


def test_the_login_secret_is_the_operators_to_create(environments) -> None:
    """floe cannot generate the OIDC client's secret: `floe secrets` says where it comes from."""
    assert operator_secrets(environments["staging"])["dagster-ui-login"] == (
        "the secret of OIDC client floe-dagster-staging at https://sso.floe.example.internal/realms/floe "
        "(orchestrator.webserver.auth) and a cookie key of 32 random bytes: kubectl create secret generic "
        "dagster-ui-login -n {namespace} --from-file=client-secret=FILE --from-literal=cookie-secret=\"$(openssl "
        "rand -base64 32 | tr -- '+/' '-_')\"")
    assert "dagster-ui-login" not in operator_secrets(environments["dev"])


def test_without_an_ingress_there_is_no_login(rendered) -> None:
    assert not [o for o in rendered["dev"].values() if o["metadata"]["name"].startswith("oauth2-proxy")]
    assert "dagster-ui-login" not in {use.name for use in inventory(rendered["dev"].values())}


# -- the read-only UI -------------------------------------------------------------------------------


def test_prods_viewers_reach_a_read_only_webserver_through_their_own_login(rendered) -> None:
    objects = rendered["prod"]
    assert backends(find(objects, "Ingress", "oauth2-proxy-viewer")) == {
        ("dagster-view.floe.example.internal", "oauth2-proxy-viewer", "http")}
    args = proxy_args(objects, "oauth2-proxy-viewer")
    assert "--upstream=http://dagster-webserver-viewer.floe-platform.svc.cluster.local:3000/" in args
    assert "--redirect-url=https://dagster-view.floe.example.internal/oauth2/callback" in args
    assert [a for a in args if a.startswith("--allowed-group")] == ["--allowed-group=floe-viewers"]
    assert [(p["name"], p["port"]) for p in find(objects, "Service", "dagster-webserver-viewer")["spec"]["ports"]] == [
        ("http", 3000)]


def test_the_read_only_webserver_cannot_act(rendered) -> None:
    objects = rendered["prod"]
    viewer = find(objects, "Deployment", "dagster-webserver-viewer")
    spec = pod_spec(viewer)
    [container] = spec["containers"]
    assert container["command"] == ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w",
                                    "/dagster-workspace/workspace.yaml", "--read-only"]
    assert spec["automountServiceAccountToken"] is False
    bound = {subject["name"] for o in objects.values() if o["kind"] == "RoleBinding" for subject in o["subjects"]}
    assert "dagster-webserver" in bound and "dagster-webserver-viewer" not in bound
    [instance] = [v for v in spec["volumes"] if v["name"] == "instance"]
    assert instance["configMap"]["items"] == [{"key": "dagster-viewer.yaml", "path": "dagster.yaml"}]
    files = find(objects, "ConfigMap", "dagster-instance")["data"]
    assert sorted(yaml.safe_load(files["dagster-viewer.yaml"])) == [
        "compute_logs", "event_log_storage", "run_storage", "schedule_storage", "telemetry"]
    assert "dagster-viewer.yaml" not in find(rendered["staging"], "ConfigMap", "dagster-instance")["data"]


def test_a_viewer_without_a_login_is_refused(tmp_path) -> None:
    viewer = ("orchestrator:\n  webserver:\n    viewer:\n      allowed_groups: [viewers]\n      ingress:\n"
              "        class_name: nginx\n        host: view.example.org\n")
    assert environment_error(tmp_path, GOOD + viewer) == (
        "qa.yaml:6: orchestrator.webserver.viewer: needs orchestrator.webserver.auth: the read-only UI's login uses "
        "the same OIDC client")


# -- the NetworkPolicies ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WITH_INGRESS))
def test_the_ingress_controller_reaches_the_login_not_the_webserver(rendered, name) -> None:
    admitting = [p for p in policies(rendered[name]) if admits_controller(p)]
    selected = [p["spec"]["podSelector"]["matchLabels"] for p in admitting]
    assert {"app.kubernetes.io/instance": "oauth2-proxy", "app.kubernetes.io/name": "oauth2-proxy"} in selected
    assert not [s for s in selected if s.get("app.kubernetes.io/name") == "dagster"]
    viewer = {"app.kubernetes.io/instance": "oauth2-proxy-viewer", "app.kubernetes.io/name": "oauth2-proxy"}
    assert (viewer in selected) == (name == "prod")
    dagster = find(rendered[name], "NetworkPolicy", "allow-dagster")
    assert {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "oauth2-proxy"}}}],
            "ports": [{"port": "http", "protocol": "TCP"}]} in dagster["spec"]["ingress"]


def test_a_webserver_ingress_would_have_admitted_the_controller(rendered) -> None:
    """The check above sees the difference: an Ingress straight to the webserver opens it to the controller."""
    objects = list(rendered["staging"].values())
    direct = json.loads(json.dumps(find(rendered["staging"], "Ingress", "oauth2-proxy")))
    direct["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "dagster-webserver"
    opened = Topology([*objects, direct], "floe-platform").ingress_backends()
    assert opened["dagster-webserver"] == (
        {"app.kubernetes.io/instance": "dagster-webserver", "app.kubernetes.io/name": "dagster"}, [("http", "TCP")])


# -- the environment's contract ---------------------------------------------------------------------


def test_an_ingress_without_a_login_is_refused(tmp_path) -> None:
    assert environment_error(tmp_path, GOOD + INGRESS) == (
        "qa.yaml:6: orchestrator.webserver.ingress: exposes the Dagster UI, which has no login of its own (whoever "
        "reaches it can launch runs): set orchestrator.webserver.auth (an OIDC login through oauth2-proxy), or "
        "remove the Ingress")


def test_the_issuer_must_be_https(tmp_path) -> None:
    auth = ("    auth:\n      issuer_url: http://sso.example.org\n      client_id: dagster\n"
            "      email_domains: ['*']\n      egress: [{cidr: 192.0.2.0/24}]\n")
    assert environment_error(tmp_path, GOOD + INGRESS + auth) == (
        "qa.yaml:10: orchestrator.webserver.auth.issuer_url: 'http://sso.example.org' is not an https:// URL: the "
        "provider's tokens and keys are only trusted over TLS")


def test_a_plain_http_ingress_gets_a_cookie_without_secure(tmp_path) -> None:
    auth = ("    auth:\n      issuer_url: https://sso.example.org\n      client_id: dagster\n"
            "      email_domains: ['*']\n      egress: [{cidr: 192.0.2.0/24}]\n")
    path = tmp_path / "qa.yaml"
    path.write_text(GOOD + INGRESS + auth)
    environment = load_environment(path)
    [login] = logins(environment)
    args = arguments(environment, login)
    assert "--redirect-url=http://dagster.example.org/oauth2/callback" in args
    assert "--cookie-secure=false" in args
    assert "--email-domain=*" in args
    assert not [a for a in args if a.startswith("--allowed-group")]


# -- the run launcher -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_the_run_launcher_admits_only_the_products_settings(rendered, name) -> None:
    instance = yaml.safe_load(find(rendered[name], "ConfigMap", "dagster-instance")["data"]["dagster.yaml"])
    launcher = instance["run_launcher"]["config"]
    assert launcher["only_allow_user_defined_k8s_config_fields"] == {
        "container_config": {"env": True, "resources": True},
        "pod_template_spec_metadata": {"labels": True},
        "job_metadata": {"labels": True},
    }
    snowflake = ["SNOWFLAKE_ACCOUNT", "SNOWFLAKE_DATABASE", "SNOWFLAKE_PASSWORD", "SNOWFLAKE_ROLE", "SNOWFLAKE_USER",
                 "SNOWFLAKE_WAREHOUSE"]
    # With in-cluster TLS (staging, prod) the products' code also reads where the CA is.
    tls = ["AWS_CA_BUNDLE"] if name != "dev" else []
    ca = ["FLOE_CATALOG_CA_FILE"] if name != "dev" else []
    assert launcher["only_allow_user_defined_env_vars"] == [
        "AWS_ACCESS_KEY_ID", *tls, "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_SECRET_ACCESS_KEY", *ca,
        "FLOE_CATALOG_CLIENT_ID", "FLOE_CATALOG_CLIENT_SECRET", "FLOE_CATALOG_URI", "FLOE_CATALOG_WAREHOUSE",
        "FLOE_COMPUTE",
        "FLOE_DATA_PRODUCT", "FLOE_DUCKDB_MEMORY_LIMIT", "FLOE_DUCKDB_THREADS", "FLOE_ENVIRONMENT",
        "FLOE_OBJECT_STORE_ADDRESSING", "FLOE_OBJECT_STORE_ENDPOINT", *(snowflake if name == "prod" else []),
    ]
    assert launcher["service_account_name"] == "floe-job-runner"


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_code_locations_report_no_service_account(rendered, name) -> None:
    """The allow-list admits none, and it checks the code locations' context as well as the tags."""
    for obj in rendered[name].values():
        if obj["kind"] == "Deployment" and obj["metadata"]["name"].startswith("dagster-code-"):
            [server] = containers(obj)
            [value] = [v["value"] for v in server["env"] if v["name"] == "DAGSTER_CONTAINER_CONTEXT"]
            context = json.loads(value.replace("$$", "$"))["k8s"]
            assert sorted(context) == ["env", "labels", "resources"]
