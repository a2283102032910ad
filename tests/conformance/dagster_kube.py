"""A stand-in Kubernetes API server for Dagster's run launcher: HTTPS on loopback, recording Jobs.

The K8sRunLauncher (``load_incluster_config: true``) talks to ``https://$KUBERNETES_SERVICE_HOST:
$KUBERNETES_SERVICE_PORT`` with the pod's service-account token, verifying the server against the
service account's ``ca.crt``. Launching a run is one call, ``POST /apis/batch/v1/namespaces/<ns>/jobs``
(dagster_k8s.client.create_namespaced_job_with_retries); this server records each such request,
its bearer token and its body, and answers 201 with the body as the API server would. Everything
else, e.g. run monitoring's reads of the Job's status, gets a 404 Status.
"""

import json
import re
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

JOBS = re.compile(r"^/apis/batch/v1/namespaces/(?P<namespace>[a-z0-9-]+)/jobs$")


@dataclass(frozen=True)
class CreatedJob:
    namespace: str
    authorization: str
    body: dict


class FakeKubernetesApi:
    """Listens on 127.0.0.1 from the start (``port``: the pods' KUBERNETES_SERVICE_PORT) and serves once
    given its certificate (:meth:`serve`); ``jobs`` lists the Jobs created."""

    def __init__(self) -> None:
        self.jobs: list[CreatedJob] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                match = JOBS.match(self.path.split("?")[0])
                if not match:
                    self._answer(404, _not_found(self.path))
                    return
                api.jobs.append(CreatedJob(match["namespace"], self.headers.get("Authorization", ""), body))
                self._answer(201, body)

            def do_GET(self) -> None:
                self._answer(404, _not_found(self.path))

            do_DELETE = do_PATCH = do_GET

            def _answer(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                """Quiet: the recorded requests are the evidence."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, cert: Path, key: Path) -> None:
        """Serves HTTPS with this certificate: the one the pods were given as the cluster's CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread.start()

    def __enter__(self) -> "FakeKubernetesApi":
        return self

    def __exit__(self, *exc) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def _not_found(path: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
            "message": f"{path} not found"}
