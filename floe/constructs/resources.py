"""Resource policy: a container's requests and limits from a resolved preset or explicit values.

Presets and their overrides are data (``floe.config.resources``); this module only turns the
chosen values into the Kubernetes structure.
"""

from floe.config.resources import Resources
from floe.constructs.kube import k8s, quantity


def resource_requirements(resources: Resources) -> k8s.ResourceRequirements:
    return k8s.ResourceRequirements(
        requests={"cpu": quantity(resources.requests.cpu), "memory": quantity(resources.requests.memory)},
        limits={"cpu": quantity(resources.limits.cpu), "memory": quantity(resources.limits.memory)},
    )
