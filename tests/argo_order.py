"""Argo CD's sync order (gitops-engine ``syncTasks``): phase, then wave, then kind, then name."""

PHASES = ("PreSync", "Sync", "PostSync", "SyncFail")
KIND_ORDER = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService",
)


def phase(obj: dict) -> str:
    hook = obj["metadata"].get("annotations", {}).get("argocd.argoproj.io/hook", "Sync")
    return hook.split(",")[0]


def sort_key(obj: dict) -> tuple:
    annotations = obj["metadata"].get("annotations", {})
    kind = obj["kind"]
    return (
        PHASES.index(phase(obj)),
        int(annotations.get("argocd.argoproj.io/sync-wave", "0")),
        KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER),  # custom resources last
        obj["metadata"]["name"],
    )


def sync_order(objects: list[dict]) -> list[dict]:
    return sorted(objects, key=sort_key)
