"""An Ingress exposing one Service port at a host, with optional TLS, from environment config.

It syncs in the final wave (as :func:`floe.constructs.metadata.final_meta` places objects): Argo CD counts an Ingress
Progressing until its controller publishes an address, which says nothing about the platform.
"""


from floe.config.common import Ingress
from floe.constructs.kube import Construct, Scope, k8s
from floe.constructs.labels import AppIdentity
from floe.constructs.metadata import object_meta
from floe.tiers import FINAL_WAVE

BACKEND_PROTOCOL = "nginx.ingress.kubernetes.io/backend-protocol"
"""ingress-nginx's annotation for how it speaks to the Service: ``HTTPS`` where the port serves TLS."""


class ServiceIngress(Construct):
    def __init__(self, scope: Scope, id: str, *, identity: AppIdentity, namespace: str, settings: Ingress,
                 service: str, port: str, path: str = "/", backend_https: bool = False) -> None:
        super().__init__(scope, id)
        backend = k8s.IngressBackend(
            service=k8s.IngressServiceBackend(name=service, port=k8s.ServiceBackendPort(name=port))
        )
        k8s.KubeIngress(
            self, "ingress",
            metadata=object_meta(identity, service, namespace, wave=FINAL_WAVE,
                                 annotations={BACKEND_PROTOCOL: "HTTPS"} if backend_https else None),
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
