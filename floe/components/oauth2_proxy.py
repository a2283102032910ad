"""oauth2-proxy: the OIDC login in front of the Dagster UI, rendered only with the UI's Ingress.

With ``orchestrator.webserver.viewer`` a second one, for the read-only webserver on the viewers'
host, admits the viewers' groups; both use the same OIDC client and Secret.

Open-source Dagster has no login, and whoever reaches its webserver can launch runs in the jobs
namespace. So the webserver's Ingress sends every request to oauth2-proxy, which passes it on to
the webserver's Service only with a session from the environment's OIDC provider, for an allowed
e-mail domain and group; the NetworkPolicies, derived from the Ingress and the registry, admit the
ingress controller to oauth2-proxy and oauth2-proxy (not the controller) to the webserver.

Flags and variables are oauth2-proxy v7.15's (``pkg/apis/options``): each flag is also
``OAUTH2_PROXY_<FLAG>``, which is how the two secrets arrive, as Secret references. The image is
distroless ``static:nonroot`` (its Makefile's runtime image), whose user is UID/GID 65532; the
binary writes nothing, so the pod has no scratch volume. It calls the provider's issuer (outside
the cluster) at start and at every login: its NetworkPolicy lets it reach the addresses ``auth.egress``
declares, and nothing else outside the cluster.
"""

from dataclasses import dataclass

from floe.components.dagster import VIEWER, WEBSERVER, WEBSERVER_PORT
from floe.components.dns import service_host
from floe.config.common import Ingress
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.constructs import env
from floe.constructs.container import Container, Port
from floe.constructs.ingress import ServiceIngress
from floe.constructs.kube import Scope
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import RunAs
from floe.constructs.service import PlatformService, ServiceProps
from floe.tiers import ORCHESTRATOR

INSTANCE = "oauth2-proxy"
VIEWER_INSTANCE = "oauth2-proxy-viewer"
PORT = 4180
"""oauth2-proxy's default port (``--http-address`` 127.0.0.1:4180), here on every interface."""
RUN_AS = RunAs(user=65532, group=65532)
CLIENT_SECRET_KEY = "client-secret"
COOKIE_SECRET_KEY = "cookie-secret"


@dataclass(frozen=True)
class Login:
    """One oauth2-proxy: the Ingress it answers, the webserver it lets through to, and who may log in."""

    instance: str
    ingress: Ingress
    webserver: str
    allowed_groups: tuple[str, ...]


def logins(environment: Environment) -> tuple[Login, ...]:
    """The UI's login with an Ingress, and the read-only UI's with a viewer."""
    web = environment.orchestrator.webserver
    if web.auth is None:  # the model requires it for an Ingress and for a viewer
        return ()
    found = []
    if web.ingress:
        found.append(Login(INSTANCE, web.ingress, WEBSERVER, web.auth.allowed_groups))
    if web.viewer:
        found.append(Login(VIEWER_INSTANCE, web.viewer.ingress, VIEWER, web.viewer.allowed_groups))
    return tuple(found)


def upstream(environment: Environment, webserver: str) -> str:
    """Where an authenticated request goes: the webserver's Service, inside the cluster."""
    return f"http://{service_host(environment, webserver)}:{WEBSERVER_PORT}/"


def arguments(environment: Environment, login: Login) -> tuple[str, ...]:
    """oauth2-proxy's flags: the provider, who may log in, and the one upstream."""
    auth = environment.orchestrator.webserver.auth
    assert auth  # a login has one (see logins())
    secure = login.ingress.tls_secret is not None
    scheme = "https" if secure else "http"
    return (
        f"--http-address=0.0.0.0:{PORT}",
        f"--provider={auth.provider}",
        f"--oidc-issuer-url={auth.issuer_url}",
        f"--client-id={auth.client_id}",
        f"--redirect-url={scheme}://{login.ingress.host}/oauth2/callback",
        f"--upstream={upstream(environment, login.webserver)}",
        *(f"--email-domain={domain}" for domain in auth.email_domains),
        *(f"--allowed-group={group}" for group in login.allowed_groups),
        # A plain-HTTP Ingress could never send back a cookie marked Secure.
        f"--cookie-secure={str(secure).lower()}",
        # Behind the ingress controller: the client's address is in its X-Forwarded-For/X-Real-IP.
        "--reverse-proxy=true",
        # Nothing to choose on a sign-in page: go straight to the provider.
        "--skip-provider-button=true",
        "--silence-ping-logging=true",
    )


def render(scope: Scope, environment: Environment) -> None:
    auth = environment.orchestrator.webserver.auth
    if auth is None:  # no login to render (see logins())
        return
    namespace = environment.namespaces.platform
    image = environment.release.images.oauth2_proxy
    for login in logins(environment):
        identity = AppIdentity(name="oauth2-proxy", instance=login.instance, component="login",
                               version=image_tag(image), tier=ORCHESTRATOR)
        container = Container(
            name="oauth2-proxy",
            image=image,
            resources=environment.resources(auth.resources),
            args=arguments(environment, login),
            env=(
                env.from_secret("OAUTH2_PROXY_CLIENT_SECRET", auth.credentials_secret, CLIENT_SECRET_KEY),
                env.from_secret("OAUTH2_PROXY_COOKIE_SECRET", auth.credentials_secret, COOKIE_SECRET_KEY),
            ),
            ports=(Port("http", PORT),),
            # /ping answers once it listens; /ready also checks its session store.
            probes=Probes.http("http", "/ping", "/ready"),
            scratch=(),
        )
        PlatformService(
            scope, login.instance,
            ServiceProps(
                identity=identity,
                namespace=namespace,
                replicas=auth.replicas,
                autoscaling=auth.autoscaling,
                spread_across_nodes=environment.scheduling.spread_across_nodes,
                pod=PodProps(containers=(container,), run_as=RUN_AS),
            ),
        )
        # The webserver's one way in from outside the cluster: through the login.
        ServiceIngress(scope, f"{login.instance}-ingress", identity=identity, namespace=namespace,
                       settings=login.ingress, service=login.instance, port="http")
