"""Apache Polaris, the Iceberg REST catalog, and the bootstrap step that prepares its realm and catalog.

A stateless Deployment whose metastore is its own PostgreSQL (``relational-jdbc``). Ports,
health endpoints, UID 10000 / GID 10001 and the config keys are those of the image and the
project's Helm chart. The bootstrap Job runs once Polaris is Ready and is safe on every sync:
the schema is created ``IF NOT EXISTS``, the admin tool skips a bootstrapped realm (Polaris
1.7+), and an existing catalog (409 Conflict) counts as created.
"""

import json

from constructs import Construct

from floe.components import minio
from floe.components.dns import service_host
from floe.components.postgres import PASSWORD_KEY, USERNAME_KEY, Database, database_of
from floe.components.telemetry import otlp_env
from floe.config.environment import Environment
from floe.config.releases import image_tag
from floe.constructs import env
from floe.constructs.bootstrap import BootstrapJob, BootstrapProps, wait_until
from floe.constructs.config_files import config_map
from floe.constructs.container import Container, Port
from floe.constructs.ingress import ServiceIngress
from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.pod import PodProps
from floe.constructs.probes import Probes
from floe.constructs.security import TMP, RunAs, ScratchPath
from floe.constructs.service import PlatformService, ServiceProps
from floe.tiers import CATALOG

INSTANCE = "polaris"
API_PORT = 8181
MANAGEMENT_PORT = 8182
RUN_AS = RunAs(user=10000, group=10001, fs_group=10001)
APP_DIR = "/deployments"
"""Quarkus reads ``config/application.properties`` relative to its working directory."""
TOKEN_BROKER_DIR = "/deployments/token-broker"
PUBLIC_KEY = "public.pem"
PRIVATE_KEY = "private.pem"
CLIENT_ID_KEY = "client-id"
CLIENT_SECRET_KEY = "client-secret"
ADMIN_TOOL = "/opt/jboss/container/java/run/run-java.sh"
"""The admin tool image's entrypoint (runtime/admin/src/main/docker/Dockerfile.jvm); it passes its arguments on."""
ROOT_CREDENTIALS_SCRATCH = ScratchPath("/run/polaris-bootstrap", in_memory=True, size_limit="1Mi")
ROOT_CREDENTIALS_FILE = f"{ROOT_CREDENTIALS_SCRATCH.path}/root-credentials.yaml"
SCHEMA = "polaris_schema"
"""Polaris 1.8 no longer creates its schema; its default ``POLARIS_SCHEMA`` folds to this name in PostgreSQL."""


def catalog_uri(environment: Environment) -> str:
    """The Iceberg REST catalog URL every client of the catalog uses."""
    return f"http://{service_host(environment, INSTANCE)}:{API_PORT}/api/catalog"


def jdbc_url(database: Database) -> str:
    # currentSchema in the URL wins over Polaris's shipped default, so server and admin tool agree.
    root_certificate = f"&sslrootcert={database.ca_file}" if database.ca_file else ""
    return (f"jdbc:postgresql://{database.host}:{database.port}/{database.name}"
            f"?currentSchema={SCHEMA}&sslmode={database.ssl_mode}{root_certificate}")


def application_properties(environment: Environment) -> str:
    """The server's config file; credentials come from env vars, never from here."""
    settings = environment.catalog.polaris
    properties = {
        "polaris.realm-context.realms": settings.realm,
        "polaris.persistence.type": "relational-jdbc",
        "quarkus.datasource.jdbc.url": jdbc_url(database_of(environment, "polaris")),
        "polaris.authentication.token-broker.type": "rsa-key-pair",
        "polaris.authentication.token-broker.rsa-key-pair.public-key-file": f"{TOKEN_BROKER_DIR}/{PUBLIC_KEY}",
        "polaris.authentication.token-broker.rsa-key-pair.private-key-file": f"{TOKEN_BROKER_DIR}/{PRIVATE_KEY}",
        "quarkus.http.port": str(API_PORT),
        "quarkus.management.port": str(MANAGEMENT_PORT),
        # The image's defaults turn on a file handler writing ./logs/polaris.log under the read-only
        # working directory; the console (stdout, collected from the pod) keeps every line.
        "quarkus.log.file.enabled": "false",
        # The image disables tracing by default; export to the collector with otlp_env's settings.
        "quarkus.otel.sdk.disabled": "false",
        "quarkus.otel.exporter.otlp.endpoint": "${OTEL_EXPORTER_OTLP_ENDPOINT}",
        "quarkus.otel.service.name": "${OTEL_SERVICE_NAME}",
        "quarkus.otel.resource.attributes": "${OTEL_RESOURCE_ATTRIBUTES}",
    }
    return "".join(f"{key}={properties[key]}\n" for key in sorted(properties))


def bootstrap_realm_script() -> str:
    """The admin tool's bootstrap, reading the realm's root credentials from a file.

    ``--credential realm,id,secret`` would put the secret on the tool's command line, readable by
    any process of the node in ``/proc/*/cmdline``. The script writes the credentials file
    (``-f``/``--credentials-file``; YAML ``realm: {client-id, client-secret}``) into an in-memory
    scratch volume, owner-only, with bash's builtin ``printf`` (no process gets the values as
    arguments), passes its path, and removes it when the tool exits. The realms to bootstrap are
    the file's keys. Values are YAML single-quoted scalars, a quote written twice.
    """
    def yaml_quoted(variable: str) -> str:
        return f'"$q${{{variable}//$q/$q$q}}$q"'

    return "\n".join((
        "set -eu",
        "umask 077",
        f'credentials="{ROOT_CREDENTIALS_FILE}"',
        """trap 'rm -f -- "$credentials"' EXIT""",
        "q=\"'\"",
        "printf '%s:\\n  client-id: %s\\n  client-secret: %s\\n' \\",
        f'    {yaml_quoted("REALM")} {yaml_quoted("ROOT_CLIENT_ID")} {yaml_quoted("ROOT_CLIENT_SECRET")} \\',
        '    > "$credentials"',
        "# The image's entrypoint; re-running on a bootstrapped realm exits 0.",
        f'{ADMIN_TOOL} bootstrap --credentials-file "$credentials"',
    ))


def storage_credentials(environment: Environment) -> tuple[k8s.EnvVar, ...]:
    """The object store credentials Polaris itself uses to reach MinIO."""
    secret = environment.storage.minio.credentials_secret
    return (
        env.from_secret("AWS_ACCESS_KEY_ID", secret, minio.ROOT_USER_KEY),
        env.from_secret("AWS_SECRET_ACCESS_KEY", secret, minio.ROOT_PASSWORD_KEY),
        env.literal("AWS_REGION", minio.REGION),
    )


def render(scope: Construct, environment: Environment) -> None:
    settings = environment.catalog.polaris
    namespace = environment.namespaces.platform
    database = database_of(environment, "polaris")
    image = environment.release.images.polaris
    identity = AppIdentity(name="polaris", instance=INSTANCE, component="catalog", version=image_tag(image),
                           tier=CATALOG)
    properties = application_properties(environment)
    config = config_map(scope, identity, f"{INSTANCE}-config", namespace, {"application.properties": properties})
    server = Container(
        name="polaris",
        image=image,
        resources=environment.resources(settings.resources),
        working_dir=APP_DIR,
        env=(
            # The chart's form: Quarkus reads env vars named exactly as the property.
            env.from_secret("quarkus.datasource.username", database.credentials_secret, USERNAME_KEY),
            env.from_secret("quarkus.datasource.password", database.credentials_secret, PASSWORD_KEY),
            *storage_credentials(environment),
            *otlp_env(environment, INSTANCE),
        ),
        ports=(Port("api", API_PORT), Port("management", MANAGEMENT_PORT)),
        probes=Probes.http("management", "/q/health/live", "/q/health/ready", startup=True),
        mounts=(
            config.mount(f"{APP_DIR}/config"),
            k8s.VolumeMount(name="token-broker", mount_path=TOKEN_BROKER_DIR, read_only=True),
            *database.ca_mounts(),
        ),
    )
    token_broker = k8s.Volume(
        name="token-broker",
        # Owner and group read only; the pod's fsGroup is the process's group.
        secret=k8s.SecretVolumeSource(secret_name=settings.token_broker_secret, default_mode=0o440,
                                      items=[k8s.KeyToPath(key=key, path=key) for key in (PUBLIC_KEY, PRIVATE_KEY)]),
    )
    service = PlatformService(
        scope, "polaris",
        ServiceProps(
            identity=identity,
            namespace=namespace,
            replicas=settings.replicas,
            autoscaling=settings.autoscaling,
            spread_across_nodes=environment.scheduling.spread_across_nodes,
            per_pod_dns=True,  # Prometheus scrapes each replica's /q/metrics
            pod_annotations=config.annotations,
            pod=PodProps(containers=(server,), run_as=RUN_AS,
                         volumes=(config.volume, token_broker, *database.ca_volumes())),
        ),
    )
    if settings.ingress:
        ServiceIngress(scope, "polaris-ingress", identity=identity, namespace=namespace, settings=settings.ingress,
                       service=service.name, port="api", path="/api")
    _bootstrap(scope, environment, database)


def _bootstrap(scope: Construct, environment: Environment, database: Database) -> None:
    settings = environment.catalog.polaris
    images = environment.release.images
    root_credentials = (
        env.from_secret("ROOT_CLIENT_ID", settings.root_credentials_secret, CLIENT_ID_KEY),
        env.from_secret("ROOT_CLIENT_SECRET", settings.root_credentials_secret, CLIENT_SECRET_KEY),
    )
    create_schema = Container(
        name="create-schema",
        image=images.postgres,
        resources=environment.presets["small"],
        command=("psql", "--no-psqlrc", "--set=ON_ERROR_STOP=1",
                 "--command", f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"),
        env=(
            env.literal("PGHOST", database.host),
            env.literal("PGPORT", database.port),
            env.literal("PGDATABASE", database.name),
            env.literal("PGSSLMODE", database.ssl_mode),
            *((env.literal("PGSSLROOTCERT", database.ca_file),) if database.ca_file else ()),
            env.from_secret("PGUSER", database.credentials_secret, USERNAME_KEY),
            env.from_secret("PGPASSWORD", database.credentials_secret, PASSWORD_KEY),
        ),
        mounts=database.ca_mounts(),
    )
    bootstrap_realm = Container(
        name="bootstrap-realm",
        image=images.polaris_admin_tool,
        resources=environment.presets["small"],
        command=("/bin/bash", "-c", bootstrap_realm_script()),
        env=root_credentials + (
            env.literal("REALM", settings.realm),
            env.literal("POLARIS_PERSISTENCE_TYPE", "relational-jdbc"),
            env.literal("QUARKUS_DATASOURCE_JDBC_URL", jdbc_url(database)),
            env.from_secret("QUARKUS_DATASOURCE_USERNAME", database.credentials_secret, USERNAME_KEY),
            env.from_secret("QUARKUS_DATASOURCE_PASSWORD", database.credentials_secret, PASSWORD_KEY),
            *otlp_env(environment, "polaris-admin-tool"),
        ),
        scratch=(TMP, ROOT_CREDENTIALS_SCRATCH),
        mounts=database.ca_mounts(),
    )
    base_location = f"s3://{settings.warehouse_bucket}/"
    request = {
        "catalog": {
            "name": settings.catalog,
            "type": "INTERNAL",
            "readOnly": False,
            "properties": {"default-base-location": base_location},
            "storageConfigInfo": {
                "storageType": "S3",
                "allowedLocations": [base_location],
                "endpoint": minio.endpoint(environment),
                "endpointInternal": minio.endpoint(environment),
                "pathStyleAccess": True,
                "region": minio.REGION,
                # MinIO here vends no temporary credentials; clients bring their own.
                "stsUnavailable": True,
            },
        }
    }
    script = "\n".join((
        "set -eu",
        'management="${CATALOG_URI%/catalog}/management/v1"',
        # The root credentials reach curl as its config on stdin (`-K -`), never as arguments, which
        # any process of the node could read in /proc/*/cmdline; printf is the shell's builtin.
        # A config string is double-quoted, its backslashes and quotes escaped by a backslash.
        r"""config_quoted() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }""",
        wait_until("\n".join((
            """token=$(printf 'user = "%s:%s"\\n' "$(config_quoted "$ROOT_CLIENT_ID")" \\""",
            '    "$(config_quoted "$ROOT_CLIENT_SECRET")" \\',
            '    | curl --silent --show-error --fail --config - -X POST "$CATALOG_URI/v1/oauth/tokens" \\',
            '    -H "Polaris-Realm: $REALM" -d grant_type=client_credentials -d scope=PRINCIPAL_ROLE:ALL \\',
            """    | sed -n 's/.*"access_token" *: *"\\([^"]*\\)".*/\\1/p') && [ -n "$token" ]""",
        )), "an access token from $CATALOG_URI"),
        'api() { curl --silent --show-error -o /tmp/response -w "%{http_code}" -H "Polaris-Realm: $REALM" \\',
        '    -H "Authorization: Bearer $token" -H "Content-Type: application/json" "$@"; }',
        "# 409 Conflict: the catalog exists (or the grant is held) from an earlier sync.",
        'status=$(api -X POST "$management/catalogs" -d "$CATALOG_REQUEST")',
        'case "$status" in 201|409) ;; *) cat /tmp/response >&2; exit 1 ;; esac',
        'status=$(api -X PUT "$management/catalogs/$CATALOG/catalog-roles/catalog_admin/grants" \\',
        """    -d '{"type": "catalog", "privilege": "CATALOG_MANAGE_CONTENT"}')""",
        'case "$status" in 2??|409) ;; *) cat /tmp/response >&2; exit 1 ;; esac',
        'echo "catalog $CATALOG ready in realm $REALM"',
    ))
    create_catalog = Container(
        name="create-catalog",
        # The server image ships curl (the project's own compose health checks use it).
        image=images.polaris,
        resources=environment.presets["small"],
        command=("/bin/sh", "-c", script),
        env=root_credentials + (
            env.literal("CATALOG_URI", catalog_uri(environment)),
            env.literal("REALM", settings.realm),
            env.literal("CATALOG", settings.catalog),
            env.literal("CATALOG_REQUEST", json.dumps(request, sort_keys=True)),
        ),
    )
    BootstrapJob(
        scope, "polaris-bootstrap",
        BootstrapProps(
            identity=AppIdentity(name="polaris", instance="polaris-bootstrap", component="bootstrap",
                                 version=image_tag(images.polaris), tier=CATALOG),
            namespace=environment.namespaces.platform,
            pod=PodProps(
                init_containers=(create_schema, bootstrap_realm),
                containers=(create_catalog,),
                run_as=RUN_AS,
                volumes=database.ca_volumes(),
                restart_policy="Never",
            ),
        ),
    )
