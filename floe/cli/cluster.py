"""A thin wrapper over the official Kubernetes client: connect, apply, read, create, stream logs.

Every call carries a short timeout and no retries, so a missing or unreachable cluster is a clear
:class:`ClusterError` within seconds, never a hang. Everything returned is a plain dict in the
API's own (camelCase) form, exactly as the same object would be read from ``dist/``.
"""

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from floe.errors import FloeError
from floe.rendered import Json, JsonView

if TYPE_CHECKING:  # imported where used at run time: the client takes a third of a second to import
    from kubernetes.dynamic import DynamicClient
    from urllib3 import BaseHTTPResponse

FIELD_MANAGER = "floe"
REQUEST_TIMEOUT = (float(os.environ.get("FLOE_KUBE_CONNECT_TIMEOUT", "3")),
                   float(os.environ.get("FLOE_KUBE_READ_TIMEOUT", "20")))
"""(connect, read) seconds for every request except a followed log stream (connect only)."""

T = TypeVar("T")


class ClusterError(FloeError):
    """The cluster cannot be reached, or refused a request."""

    exit_code = 3


def kubeconfig_paths() -> list[Path]:
    value = os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part]


def connect(context: str | None = None) -> "Cluster":
    """A client for the current kubeconfig context (or ``context``), or the in-cluster service account."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    paths = kubeconfig_paths()
    try:
        if any(path.is_file() for path in paths):
            config.load_kube_config(config_file=os.pathsep.join(str(p) for p in paths), context=context,
                                    client_configuration=configuration, persist_config=False)
        elif os.environ.get("KUBERNETES_SERVICE_HOST") and context is None:
            config.load_incluster_config(client_configuration=configuration)
        else:
            raise ClusterError(
                f"no Kubernetes configuration: no kubeconfig at {os.pathsep.join(str(p) for p in paths)} and not "
                "running inside a cluster; set KUBECONFIG or create ~/.kube/config (kubectl config use-context ...)"
            )
    except (ConfigException, ValueError, OSError) as error:
        raise ClusterError(f"the Kubernetes configuration cannot be used: {error}; "
                           "check KUBECONFIG and the context (kubectl config get-contexts)") from None
    if not configuration.verify_ssl:
        _warn_unverified(paths, context)
    configuration.retries = 0
    cluster = Cluster(client.ApiClient(configuration))
    cluster.ping()
    return cluster


def _warn_unverified(paths: list[Path], context: str | None) -> None:
    """Say once, in floe's words, what urllib3 would otherwise repeat as a raw warning on every request."""
    import urllib3
    from kubernetes import config

    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    if context is None:
        _, active = config.list_kube_config_contexts(config_file=os.pathsep.join(str(p) for p in paths))
        context = active["name"]
    print(f"warning: context {context} skips TLS verification (insecure-skip-tls-verify): the API server's identity "
          "is not checked", file=sys.stderr)


class Cluster:
    """The handful of API calls the floe command makes."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.host = api_client.configuration.host
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self._dynamic: DynamicClient | None = None

    # -- plumbing ---------------------------------------------------------------------------------------

    def _call(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
        from urllib3.exceptions import HTTPError

        kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
        try:
            return function(*args, **kwargs)
        except ResourceNotFoundError as error:
            raise ClusterError(f"{what}: the cluster does not serve this kind ({error}); "
                               "install its CustomResourceDefinition first") from None
        except (ApiException, DynamicApiError) as error:
            raise ClusterError(f"{what}: the cluster answered {error.status} {error.reason}: "
                               f"{_message(getattr(error, 'body', None))}") from None
        except (HTTPError, OSError) as error:
            raise ClusterError(f"{what}: cannot reach the Kubernetes API at {self.host} ({type(error).__name__}); "
                               "check that the cluster is up and that your kubeconfig context points at it") from None

    def _to_dict(self, obj: Any) -> Json:
        if hasattr(obj, "to_dict") and not hasattr(obj, "swagger_types") and not hasattr(obj, "openapi_types"):
            found: Json = obj.to_dict()  # a dynamic ResourceInstance
        else:
            found = self.api_client.sanitize_for_serialization(obj)
        return found

    @property
    def dynamic(self) -> "DynamicClient":
        if self._dynamic is None:
            from kubernetes.dynamic import DynamicClient

            self._dynamic = self._call("discover the cluster's API", lambda **_: DynamicClient(self.api_client))
        return self._dynamic

    def ping(self) -> None:
        self.server_version()

    def server_version(self) -> Json:
        """The API server's version: ``major``, ``minor`` and ``gitVersion`` (``v1.32.3+k3s1``)."""
        from kubernetes import client

        return self._to_dict(self._call("reach the cluster", client.VersionApi(self.api_client).get_code))

    # -- generic objects ---------------------------------------------------------------------------------

    def _resource(self, obj: JsonView) -> Any:
        return self._call(f"look up {obj['apiVersion']} {obj['kind']}",
                          lambda **_: self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"]))

    def apply(self, obj: JsonView) -> Json:
        """Server-side apply, field manager ``floe``, taking over fields another manager set."""
        resource = self._resource(obj)
        meta = obj["metadata"]
        return self._to_dict(self._call(
            f"apply {obj['kind']} {meta['name']}", self.dynamic.server_side_apply, resource, body=obj,
            name=meta["name"], namespace=meta.get("namespace"), field_manager=FIELD_MANAGER, force_conflicts=True))

    def get(self, obj: JsonView) -> Json | None:
        """The live state of the object ``obj`` names (its kind, namespace and name), or None."""
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self._resource(obj)
        meta = obj["metadata"]

        def read(**kwargs: Any) -> Any:
            try:
                return self.dynamic.get(resource, name=meta["name"], namespace=meta.get("namespace"), **kwargs)
            except NotFoundError:
                return None

        found = self._call(f"read {obj['kind']} {meta['name']}", read)
        return None if found is None else self._to_dict(found)

    def delete(self, obj: JsonView) -> None:
        """Delete the object (its pods in the background); an absent object is fine."""
        from kubernetes.dynamic.exceptions import NotFoundError

        resource = self._resource(obj)
        meta = obj["metadata"]

        def remove(**kwargs: Any) -> None:
            with contextlib.suppress(NotFoundError):
                self.dynamic.delete(resource, name=meta["name"], namespace=meta.get("namespace"),
                                    body={"propagationPolicy": "Background"}, **kwargs)

        self._call(f"delete {obj['kind']} {meta['name']}", remove)

    # -- preflight: what must exist before a first sync ----------------------------------------------------

    def namespace_exists(self, name: str) -> bool:
        found = self._call(f"read Namespace {name}", _absent_is_none(self.core.read_namespace), name)
        return found is not None

    def crd_exists(self, name: str) -> bool:
        """Whether the CustomResourceDefinition ``name`` (``rollouts.argoproj.io``) is installed."""
        from kubernetes import client

        read = client.ApiextensionsV1Api(self.api_client).read_custom_resource_definition
        # The body (the whole OpenAPI schema) is not needed: only whether there is one.
        found = cast("BaseHTTPResponse | None",  # unparsed: _preload_content=False
                     self._call(f"read CustomResourceDefinition {name}", _absent_is_none(read), name,
                                _preload_content=False))
        if found is None:
            return False
        found.release_conn()
        return True

    def storage_classes(self) -> list[Json]:
        from kubernetes import client

        found = self._call("list StorageClasses", client.StorageV1Api(self.api_client).list_storage_class)
        return [self._to_dict(item) for item in found.items]

    def ingress_classes(self) -> list[Json]:
        from kubernetes import client

        found = self._call("list IngressClasses", client.NetworkingV1Api(self.api_client).list_ingress_class)
        return [self._to_dict(item) for item in found.items]

    # -- Secrets: key names in, values out only when floe creates one ------------------------------------

    def secret_keys(self, namespace: str, name: str) -> list[str] | None:
        """The key names of a Secret (None when it does not exist); its values are dropped unread."""
        found = self._call(f"read Secret {namespace}/{name}", _absent_is_none(self.core.read_namespaced_secret),
                           name, namespace)
        return None if found is None else sorted(found.data or {})

    def create_secret(self, namespace: str, name: str, values: dict[str, str], annotations: dict[str, str]) -> bool:
        """Create an Opaque Secret; False, and nothing changed, when one of that name already exists."""
        from kubernetes.client.exceptions import ApiException

        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "stringData": values,
                "metadata": {"name": name, "namespace": namespace, "annotations": annotations}}

        def create(**kwargs: Any) -> bool:
            try:  # the client sends a dict body as it is (typed: a V1Secret)
                self.core.create_namespaced_secret(namespace, body, **kwargs)  # type: ignore[arg-type]
            except ApiException as error:
                if error.status == 409:
                    return False
                raise
            return True

        # Only the names reach an error message: the body carries the values.
        return self._call(f"create Secret {namespace}/{name}", create)

    # -- jobs and pods ----------------------------------------------------------------------------------

    def read_cronjob(self, namespace: str, name: str) -> Json | None:
        found = self._call(f"read CronJob {namespace}/{name}", _absent_is_none(self.batch.read_namespaced_cron_job),
                           name, namespace)
        return None if found is None else self._to_dict(found)

    def create_job(self, namespace: str, body: Json) -> Json:
        return self._to_dict(self._call(f"create Job {body['metadata']['name']}",
                                        self.batch.create_namespaced_job, namespace, body))

    def list_jobs(self, namespace: str, label_selector: str) -> list[Json]:
        jobs = self._call("list Jobs", self.batch.list_namespaced_job, namespace, label_selector=label_selector)
        return [self._to_dict(job) for job in jobs.items]

    def list_pods(self, namespace: str, label_selector: str) -> list[Json]:
        pods = self._call("list pods", self.core.list_namespaced_pod, namespace, label_selector=label_selector)
        return [self._to_dict(pod) for pod in pods.items]

    def pod_logs(self, namespace: str, pod: str, container: str, *, follow: bool = False,
                 since_seconds: int | None = None) -> Iterator[str]:
        """The container's log, line by line; with ``follow`` the stream stays open until the pod ends."""
        kwargs: dict[str, Any] = {"container": container, "follow": follow, "_preload_content": False,
                                  "_request_timeout": (REQUEST_TIMEOUT[0], None) if follow else REQUEST_TIMEOUT}
        if since_seconds:
            kwargs["since_seconds"] = since_seconds
        response = cast("BaseHTTPResponse",  # unparsed: _preload_content=False
                        self._call(f"read the log of {pod}/{container}", self.core.read_namespaced_pod_log,
                                   pod, namespace, **kwargs))
        buffer = b""
        for chunk in response.stream(4096):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
        if buffer:
            yield buffer.decode("utf-8", "replace")


def _absent_is_none(read: Callable[..., T]) -> Callable[..., T | None]:
    """A read that answers None for an object the cluster does not have (404), instead of failing."""
    from kubernetes.client.exceptions import ApiException

    def absent_is_none(*args: Any, **kwargs: Any) -> T | None:
        try:
            return read(*args, **kwargs)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    return absent_is_none


def _message(body: Any) -> str:
    import json

    if not body:
        return "no details"
    try:
        message: str = json.loads(body).get("message", str(body))
        return message
    except (ValueError, AttributeError, TypeError):
        return str(body)
