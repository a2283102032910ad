"""Run by the pinned Dagster's Python: dagster-k8s's own merge of one run's Kubernetes settings.

Reads JSON on stdin: the rendered run launcher's ``config``, the code location's container context
and the run's tags. Builds the launcher from that config through its own schema, a run whose code
origin carries the container context, and asks ``K8sContainerContext.create_for_run`` (what
``K8sRunLauncher.launch_run`` uses) for the run's settings. Prints JSON: the merged
``run_k8s_config`` and namespace, or the error the launcher raised.
"""

import json
import sys
from pathlib import Path

from dagster._config import process_config
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.storage.dagster_run import DagsterRun
from dagster_k8s import K8sRunLauncher
from dagster_k8s.container_context import K8sContainerContext

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


def main() -> None:
    given = json.load(sys.stdin)
    # Outside a cluster: a kubeconfig naming an API server that is never called.
    kubeconfig = Path(given["scratch"]) / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    config = {**given["launcher"], "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    processed = process_config(K8sRunLauncher.config_type(), config)
    if not processed.success:
        print(json.dumps({"config_errors": [error.message for error in processed.errors]}))
        return
    launcher = K8sRunLauncher.from_config_value(None, processed.value)
    repository = RepositoryPythonOrigin(
        executable_path="python", code_pointer=ModuleCodePointer("product.definitions", "defs", None),
        container_image="registry.example.com/product:1", container_context=given["container_context"],
    )
    run = DagsterRun(job_name="job", run_id="0" * 36, tags=given["tags"],
                     job_code_origin=JobPythonOrigin("job", repository))
    try:
        context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=True)
    except Exception as error:  # noqa: BLE001 (the launcher's refusal is the result)
        print(json.dumps({"error": str(error)}))
        return
    print(json.dumps({"run_k8s_config": context.run_k8s_config.to_dict(), "namespace": context.namespace}))


if __name__ == "__main__":
    main()
