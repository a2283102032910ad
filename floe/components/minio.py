"""MinIO, the S3-compatible object store, and the bootstrap step that creates its buckets and users.

One server, or distributed erasure-coded mode across 4+ replicas (each with one drive).
Health endpoints and ports as MinIO documents them; runs as UID/GID 1000. The bootstrap makes the
users and policies of ``floe.components.minio_users`` match the render on every sync.
"""


from floe.components.dns import service_host
from floe.components.minio_users import POLICY_PREFIX, object_store_users
from floe.components.minio_users import USER_ACCESS_KEY as USER_ACCESS_KEY
from floe.components.minio_users import USER_SECRET_KEY as USER_SECRET_KEY
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.config.resources import SMALL
from floe.config.storage import InClusterObjectStore
from floe.constructs import env
from floe.constructs.bootstrap import BootstrapJob, BootstrapProps
from floe.constructs.certificate import (
    TLS_CERT,
    TLS_KEY,
    ServingTls,
    render_certificate,
    serving_certificate,
    trusted_ca,
)
from floe.constructs.config_files import config_map
from floe.constructs.container import Container, Port
from floe.constructs.kube import Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.scripts import shell_command
from floe.constructs.security import RunAs
from floe.constructs.service import PlatformService, ServiceProps, VolumeClaim, WorkloadKind
from floe.constructs.trust import CA_CERT, ca_mounts, ca_volumes
from floe.tiers import STORAGE

INSTANCE = "minio"
API_PORT = 9000
CONSOLE_PORT = 9001
DATA_DIR = "/data"
RUN_AS = RunAs(user=1000, group=1000, fs_group=1000)
ROOT_USER_KEY = "root-user"
ROOT_PASSWORD_KEY = "root-password"
ALIAS = "floe"
"""The bootstrap's ``mc`` alias, defined by ``MC_HOST_<alias>`` alone: the root's keys are in no argv."""
POLICIES_DIR = "/etc/minio-policies"
"""The policy documents (ConfigMap ``minio-policies``), ``<policy>.json`` each."""
USERS_DIR = "/run/minio-users"
"""Each user's Secret mounted at ``<dir>/<policy>/`` (files ``access-key``, ``secret-key``)."""
METRICS_PATH = "/minio/v2/metrics/cluster"
"""Cluster-wide metrics: any one server answers for all of them."""
METRICS_TOKEN_KEY = "token"
REGION = "us-east-1"
"""MinIO's default region; S3 clients must sign requests for it."""


CERTS_DIR = "/etc/minio/certs"
"""MinIO's ``--certs-dir`` with in-cluster TLS, where its certificate's Secret is mounted."""
CLIENT_CONFIG_DIR = "/tmp/.mc"
"""Where MinIO's client keeps its config: scratch, since every pod's root is read-only."""
CLIENT_CAS_DIR = f"{CLIENT_CONFIG_DIR}/certs/CAs"
"""Where ``mc`` looks for the CAs it trusts besides the system's (the MinIO client's documentation:
``certs/CAs`` under its config directory)."""


def client_config_env() -> k8s.EnvVar:
    return env.literal("MC_CONFIG_DIR", CLIENT_CONFIG_DIR)


def scheme(environment: Environment) -> str:
    """``https`` where the environment has in-cluster TLS: MinIO then serves its API only over TLS."""
    return "https" if environment.tls else "http"


def endpoint(environment: Environment) -> str:
    """The S3 API URL every other component uses."""
    return f"{scheme(environment)}://{service_host(environment, INSTANCE)}:{API_PORT}"


def serving_tls(scope: Scope, environment: Environment, identity: AppIdentity, replicas: int) -> ServingTls:
    """MinIO's Certificate, for its Service and, distributed, each server's name on the headless Service
    (the servers dial each other there), laid out as MinIO's certs directory: ``public.crt``, ``private.key``
    and ``CAs/`` (the CAs it trusts when dialing its peers), read through ``--certs-dir`` (MinIO's "Network
    Encryption (TLS)" documentation). Plain, ``--certs-dir`` names an empty scratch folder."""
    tls = environment.tls
    if tls is None:
        return ServingTls(args=("--certs-dir", "/tmp/certs"))
    peers = tuple(service_host(environment, f"{INSTANCE}-{index}.{INSTANCE}-headless") for index in range(replicas))
    certificate = serving_certificate(INSTANCE, environment.namespaces.platform, environment.network.cluster_domain,
                                      peers if replicas > 1 else ())
    render_certificate(scope, identity, environment.namespaces.platform, certificate, tls.issuer)
    files = ((TLS_CERT, "public.crt"), (TLS_KEY, "private.key"), (CA_CERT, f"CAs/{CA_CERT}"))
    return ServingTls(args=("--certs-dir", CERTS_DIR), mounts=(certificate.mount(CERTS_DIR),),
                      volumes=(certificate.volume(files),))


def render(scope: Scope, environment: Environment) -> None:
    """MinIO and its bootstrap; nothing when the object store is external (``floe.components.object_store``)."""
    settings = environment.storage.object_store
    if not isinstance(settings, InClusterObjectStore):
        return
    release = environment.release
    namespace = environment.namespaces.platform
    credentials = (
        env.from_secret("MINIO_ROOT_USER", settings.credentials_secret, ROOT_USER_KEY),
        env.from_secret("MINIO_ROOT_PASSWORD", settings.credentials_secret, ROOT_PASSWORD_KEY),
    )
    identity = AppIdentity(name="minio", instance=INSTANCE, component="object-store",
                           version=image_tag(release.images.minio), tier=STORAGE)
    tls = serving_tls(scope, environment, identity, settings.replicas)
    if settings.replicas == 1:
        drives = DATA_DIR
    else:
        # MinIO's own expansion syntax: one drive on each pod of the StatefulSet.
        pods = service_host(environment, f"{INSTANCE}-{{0...{settings.replicas - 1}}}.{INSTANCE}-headless")
        drives = f"{scheme(environment)}://{pods}{DATA_DIR}"
    server = Container(
        name="minio",
        image=release.images.minio,
        resources=environment.resources(settings.resources),
        args=("server", drives, "--address", f":{API_PORT}", "--console-address", f":{CONSOLE_PORT}", *tls.args),
        env=credentials + (
            # The image's user has no home directory; MinIO keeps its client config under $HOME.
            env.literal("HOME", "/tmp"),
            # Metrics ask for a bearer JWT (`mc admin prometheus generate`), which Prometheus reads from
            # its Secret; `public` would show the cluster's layout and usage to any pod that reaches the API.
            env.literal("MINIO_PROMETHEUS_AUTH_TYPE", "jwt"),
        ),
        ports=(Port("api", API_PORT), Port("console", CONSOLE_PORT)),
        probes=Probes.http("api", "/minio/health/live", "/minio/health/ready", tls=environment.tls is not None),
        mounts=(k8s.VolumeMount(name="data", mount_path=DATA_DIR), *tls.mounts),
    )
    PlatformService(
        scope, "minio",
        ServiceProps(
            identity=identity,
            namespace=namespace,
            kind=WorkloadKind.STATEFUL_SET,
            replicas=settings.replicas,
            volume_claims=(VolumeClaim("data", settings.storage),),
            # Servers form their erasure set together; and the policy is immutable, so it never
            # depends on the replica count.
            parallel_start=True,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            pod=PodProps(containers=(server,), run_as=RUN_AS, volumes=tls.volumes),
        ),
    )
    _bootstrap(scope, environment, settings, credentials)


def _bootstrap(scope: Scope, environment: Environment, settings: InClusterObjectStore,
               credentials: tuple[k8s.EnvVar, ...]) -> None:
    """The Job that creates the buckets, then makes the users and their policies match the render."""
    namespace = environment.namespaces.platform
    address = endpoint(environment).partition("://")[2]
    users = object_store_users(environment)
    image = environment.release.images.minio_client
    # mc trusts every CA in <config dir>/certs/CAs besides the system's.
    ca = trusted_ca(environment.tls)
    identity = AppIdentity(name="minio", instance="minio-buckets", component="bootstrap", version=image_tag(image),
                           tier=STORAGE)
    policies = config_map(scope, identity, "minio-policies", namespace,
                          {f"{user.policy}.json": user.document for user in users})
    client = Container(
        name="create-buckets",
        image=image,
        resources=environment.presets[SMALL],
        command=shell_command("minio-create-buckets.sh"),
        env=credentials + (
            # Kubernetes expands $(VAR) from the variables above: the root's keys reach mc in its env only.
            env.literal(f"MC_HOST_{ALIAS}",
                        f"{scheme(environment)}://$(MINIO_ROOT_USER):$(MINIO_ROOT_PASSWORD)@{address}"),
            env.literal("MINIO_ENDPOINT", endpoint(environment)),
            env.literal("BUCKETS", " ".join(settings.buckets)),
            env.literal("POLICIES", POLICIES_DIR),
            env.literal("USERS", USERS_DIR),
            env.literal("POLICY_PREFIX", POLICY_PREFIX),
            client_config_env(),
        ),
        mounts=(policies.mount(POLICIES_DIR),
                *(k8s.VolumeMount(name=user.policy, mount_path=f"{USERS_DIR}/{user.policy}", read_only=True)
                  for user in users),
                *ca_mounts(ca, CLIENT_CAS_DIR)),
    )
    secrets = tuple(
        # Owner and group read only; the pod's fsGroup is the process's group.
        k8s.Volume(name=user.policy, secret=k8s.SecretVolumeSource(
            secret_name=user.secret, default_mode=0o440,
            items=[k8s.KeyToPath(key=key, path=key) for key in (USER_ACCESS_KEY, USER_SECRET_KEY)]))
        for user in users)
    BootstrapJob(
        scope, "minio-buckets",
        BootstrapProps(
            identity=identity,
            namespace=namespace,
            pod_annotations=policies.annotations,
            pod=PodProps(containers=(client,), run_as=RUN_AS,
                         volumes=(policies.volume, *secrets, *ca_volumes(ca))),
        ),
    )
