"""An Ingress exposing one Service port at a host, with optional TLS, from environment config."""

from constructs import Construct

from floe.config.common import Ingress
from floe.constructs.kube import k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.tiers import Step


class ServiceIngress(Construct):
    def __init__(self, scope: Construct, id: str, *, identity: AppIdentity, namespace: str, settings: Ingress,
                 service: str, port: str, path: str = "/", step: Step = Step.SERVE) -> None:
        super().__init__(scope, id)
        backend = k8s.IngressBackend(
            service=k8s.IngressServiceBackend(name=service, port=k8s.ServiceBackendPort(name=port))
        )
        k8s.KubeIngress(
            self, "ingress",
            metadata=object_meta(identity, service, namespace, step),
            spec=k8s.IngressSpec(
                ingress_class_name=settings.class_name,
                tls=[k8s.IngressTls(hosts=[settings.host], secret_name=settings.tls_secret)]
                if settings.tls_secret else None,
                rules=[
                    k8s.IngressRule(
                        host=settings.host,
                        http=k8s.HttpIngressRuleValue(
                            paths=[k8s.HttpIngressPath(path=path, path_type="Prefix", backend=backend)]
                        ),
                    )
                ],
            ),
        )
