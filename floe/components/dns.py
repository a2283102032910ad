"""How components address each other: the cluster DNS name of a platform Service."""

from floe.config.environment import Environment


def service_host(environment: Environment, service: str) -> str:
    """``<service>.<platform namespace>.svc.<cluster domain>``; a StatefulSet pod is ``<pod>.<headless service>``."""
    return f"{service}.{environment.namespaces.platform}.svc.{environment.network.cluster_domain}"
