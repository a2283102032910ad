"""kube-state-metrics, when the environment asks the platform to run its own: the state of its pods and Jobs.

Readiness, restarts, requests and limits, Job outcomes, CronJob schedules and the jobs quota come from
here, including for the components that export no metrics of their own (the Dagster webserver and daemon,
the Cube API). It reads only the kinds in :data:`RESOURCES`, only in the platform's two namespaces
(``--namespaces``), so namespaced Roles suffice: kube-state-metrics' "Limited privileges environment"
(README) lists per namespace, and the platform renders no ClusterRole for it. Ports, probes and the user
(``nobody``, 65534) are those of the project's ``examples/standard`` manifests and Dockerfile.
"""


from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.config.resources import SMALL
from floe.constructs.container import Container, Port
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.constructs.pod import PodProps
from floe.constructs.probes import LIVENESS, READINESS, STARTUP, Probe, Probes
from floe.constructs.security import RunAs
from floe.constructs.service import PlatformService, ServiceProps
from floe.jobs import PRODUCT_LABEL
from floe.tiers import OBSERVABILITY, Step

INSTANCE = "kube-state-metrics"
PORT = 8080
"""The metrics of the objects (``http-metrics``)."""
TELEMETRY_PORT = 8081
"""Its own metrics and ``/readyz``."""
RUN_AS = RunAs(user=65534, group=65534)
RESOURCES: dict[str, tuple[str, ...]] = {
    # API group → the kinds read (list and watch), each a `--resources` name.
    "": ("pods", "resourcequotas"),
    "batch": ("cronjobs", "jobs"),
}
COMPONENT_LABEL = "app.kubernetes.io/instance"
LABELS = {"pods": (COMPONENT_LABEL, PRODUCT_LABEL), "jobs": (PRODUCT_LABEL,)}
"""Labels exported in ``kube_<kind>_labels`` (``label_<name>``): the component and the data product."""


def renders(environment: Environment) -> bool:
    return environment.observability.prometheus.cluster_metrics.kube_state_metrics == "render"


def args(environment: Environment) -> tuple[str, ...]:
    namespaces = environment.namespaces
    allowlist = ",".join(f"{kind}=[{','.join(labels)}]" for kind, labels in LABELS.items())
    return (
        f"--port={PORT}",
        f"--telemetry-port={TELEMETRY_PORT}",
        f"--namespaces={namespaces.platform},{namespaces.jobs}",
        f"--resources={','.join(sorted(kind for kinds in RESOURCES.values() for kind in kinds))}",
        f"--metric-labels-allowlist={allowlist}",
    )


def render(scope: Scope, environment: Environment) -> None:
    if not renders(environment):
        return
    namespaces = environment.namespaces
    image = environment.release.images.kube_state_metrics
    identity = AppIdentity(name="kube-state-metrics", instance=INSTANCE, component="cluster-metrics",
                           version=image_tag(image), tier=OBSERVABILITY)
    container = Container(
        name="kube-state-metrics",
        image=image,
        resources=environment.presets[SMALL],
        args=args(environment),
        ports=(Port("http-metrics", PORT), Port("telemetry", TELEMETRY_PORT)),
        # /livez stays up through an API server outage; /readyz (telemetry port) once metrics are served.
        probes=Probes(liveness=Probe.from_http_get("/livez", "http-metrics", LIVENESS),
                      readiness=Probe.from_http_get("/readyz", "telemetry", READINESS),
                      startup=Probe.from_http_get("/healthz", "http-metrics", STARTUP)),
        scratch=(),
    )
    PlatformService(
        scope, "kube-state-metrics",
        ServiceProps(
            identity=identity,
            namespace=namespaces.platform,
            pod=PodProps(containers=(container,), run_as=RUN_AS, mount_service_account_token=True),
        ),
    )
    for namespace in (namespaces.platform, namespaces.jobs):
        # Named after the namespace too: both are written to the same step folder.
        role = f"{INSTANCE}-{namespace}"
        k8s.KubeRole(
            scope, f"{namespace}-role",
            metadata=object_meta(identity, role, namespace, Step.PREPARE),
            rules=[k8s.PolicyRule(api_groups=[group], resources=list(kinds), verbs=["list", "watch"])
                   for group, kinds in RESOURCES.items()],
        )
        k8s.KubeRoleBinding(
            scope, f"{namespace}-binding",
            metadata=object_meta(identity, role, namespace, Step.PREPARE),
            role_ref=k8s.RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=role),
            subjects=[k8s.Subject(kind="ServiceAccount", name=INSTANCE, namespace=namespaces.platform)],
        )
