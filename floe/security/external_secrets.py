"""ExternalSecrets: with a store named (``secrets.store``), one per Secret of the inventory.

Derived from the rendered objects (:func:`floe.security.secrets.inventory`), never listed by hand:
each ExternalSecret has the namespace and name of the Secret it makes (see :func:`external_secret_names`
for the one exception) and one ``data`` entry per key
its readers need, fetched from ``<remote_key_prefix>/<namespace>/<secret name>`` (one remote secret
per Kubernetes Secret, one property per key).

Synced in the foundation's first wave, after the Namespaces (Argo CD sorts a custom resource after
every built-in kind of its wave; Flux applies Namespaces in a stage of their own first), so before
every reader: Argo CD waits for each to be Healthy, i.e. its ``Ready`` condition True once the Secret
is written (argo-cd resource_customizations/external-secrets.io/ExternalSecret/health.lua), and
kstatus reads the same condition for Flux.

Deleting one never deletes its Secret (external-secrets pkg/controllers/externalsecret/
externalsecret_controller.go at cc5bfbc): with ``creationPolicy: Orphan`` the Secret gets no
ownerReference (``applyOwnership``), so the garbage collector leaves it, and the deletion finalizer
deletes a Secret only with ``deletionPolicy: Delete`` and only one the ExternalSecret controls
(``cleanupManagedSecrets``); ``Retain`` also keeps the Secret as it is when the secret manager
returns nothing. An existing Secret of the same name (one the operator made) is taken over and
updated, not refused.

The target has a ``template`` naming the Secret's labels: without one, the controller copies the
ExternalSecret's own labels and annotations onto the Secret (``setMetadata``), the GitOps engines'
tracking marks and sync options among them. An Ingress's TLS Secret gets the type
``kubernetes.io/tls``.
"""

from collections.abc import Iterable

from floe.config.environment import Environment
from floe.config.secrets import SecretsSettings, SecretStoreRef
from floe.constructs.kube import Scope, api_object
from floe.constructs.labels import AppIdentity, Layer
from floe.constructs.metadata import object_meta
from floe.constructs.rollout import SKIP_DRY_RUN
from floe.rendered import Json, JsonView
from floe.security.secrets import TLS_KEYS, SecretUse, inventory
from floe.tiers import FOUNDATION, Step

API_VERSION = "external-secrets.io/v1"
KIND = "ExternalSecret"
CREATION_POLICY = "Orphan"
"""The Secret is created without an ownerReference: it outlives its ExternalSecret."""
DELETION_POLICY = "Retain"
"""The Secret is kept as it is when the secret manager returns no data, and on any delete."""
TEMPLATE_ENGINE = "v2"
MERGE_POLICY = "Replace"
"""The CRD's defaults for a template, written out so that the rendered object is what is stored."""
TLS_TYPE = "kubernetes.io/tls"


def remote_key(settings: SecretsSettings, namespace: str, name: str) -> str:
    """Where a Secret's values live in the secret manager: one remote secret, a property per key."""
    return f"{settings.remote_key_prefix}/{namespace}/{name}"


def external_secret_names(uses: Iterable[SecretUse]) -> dict[tuple[str, str], str]:
    """(namespace, Secret) → the name of its ExternalSecret: the Secret's own, unless a Secret of that
    name is needed in more than one namespace (Dagster's database Secret, read by the server and by
    its runs), then ``<secret>-<namespace>`` for each: every object of a step is one file
    ``<kind>-<name>.yaml`` in the step's folder, so two ExternalSecrets there cannot share a name.
    ``spec.target.name`` always names the Secret itself."""
    uses = list(uses)
    count: dict[str, int] = {}
    for use in uses:
        count[use.name] = count.get(use.name, 0) + 1
    return {(use.namespace, use.name): use.name if count[use.name] == 1 else f"{use.name}-{use.namespace}"
            for use in uses}


def render(scope: Scope, environment: Environment, objects: Iterable[JsonView]) -> None:
    """One ExternalSecret per Secret the ``objects`` read; none without a store."""
    settings = environment.secrets
    store = settings.store
    if store is None:
        return
    layers = {environment.namespaces.platform: Layer.PLATFORM_SERVICES,
              environment.namespaces.jobs: Layer.PIPELINE_JOBS}
    # A certificate's Secret is cert-manager's to write, never fetched from a store.
    uses = [use for use in inventory(objects) if use.written_by is None]
    names = external_secret_names(uses)
    for use in uses:
        name = names[use.namespace, use.name]
        identity = AppIdentity(name="floe", instance=name, component="secret",
                               version=environment.platform_version, tier=FOUNDATION,
                               layer=layers.get(use.namespace, Layer.PLATFORM_SERVICES))
        metadata = object_meta(identity, name, use.namespace, Step.PREPARE, annotations=SKIP_DRY_RUN)
        api_object(scope, f"externalsecret-{use.namespace}-{use.name}", API_VERSION, KIND,
                   {"name": metadata.name, "namespace": metadata.namespace, "labels": metadata.labels,
                    "annotations": metadata.annotations},
                   spec=_spec(settings, store, use, identity))


def _spec(settings: SecretsSettings, store: SecretStoreRef, use: SecretUse, identity: AppIdentity) -> Json:
    template: Json = {"engineVersion": TEMPLATE_ENGINE, "mergePolicy": MERGE_POLICY,
                      "metadata": {"labels": identity.labels}}
    if use.keys == TLS_KEYS:
        template["type"] = TLS_TYPE
    return {
        "secretStoreRef": {"kind": store.kind, "name": store.name},
        "refreshInterval": settings.refresh_interval,
        "target": {"name": use.name, "creationPolicy": CREATION_POLICY, "deletionPolicy": DELETION_POLICY,
                   "template": template},
        "data": [{"secretKey": key,
                  "remoteRef": {"key": remote_key(settings, use.namespace, use.name), "property": key}}
                 for key in use.keys],
    }
