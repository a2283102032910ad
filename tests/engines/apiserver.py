"""A fake Kubernetes API server and the controllers that give the applied objects a status.

What the server stores for an applied object (``Cluster.apply``):

1. server-side apply: the applied fields merged over the live object (``openapi.merge``); ``status``
   is never taken from the request (the main resource of a kind with a status subresource ignores it);
2. conversion: each StatefulSet ``volumeClaimTemplates`` item gets ``apiVersion: v1`` and
   ``kind: PersistentVolumeClaim`` (the apps/v1 round trip through the internal version since
   kubernetes#87706; the cause of argo-cd#11143);
3. defaulting (``scheme_defaults``, the ``SetDefaults_*`` functions of k8s.io/kubernetes
   pkg/apis/{core,apps,batch,networking}/v1/defaults.go, for the fields the rendered kinds leave
   out): inside atomic lists these are what a diff must reproduce (argo-cd's diff re-applies the
   same scheme defaults, ``normalizeTypedValue``/``patchDefaultValues``); elsewhere they are fields
   the applier does not own, which a server-side apply diff leaves at their live value and so
   ignores: Deployment ``replicas``/``strategy``/``revisionHistoryLimit``/``progressDeadlineSeconds``,
   StatefulSet ``podManagementPolicy``/retention policy,
   pod ``restartPolicy``/``dnsPolicy``/``schedulerName``/``terminationGracePeriodSeconds``, container
   ``terminationMessagePath``/``imagePullPolicy``, probe timings, ``fieldRef.apiVersion``, volume
   ``defaultMode``, Service ``type``/``sessionAffinity``/``internalTrafficPolicy``/``targetPort``, Job
   ``completions``/``parallelism``/``completionMode``, CronJob ``concurrencyPolicy``/history limits,
   Namespace ``kubernetes.io/metadata.name`` label, PVC ``volumeMode`` and ``status.phase: Pending``
   (also inside each claim template); a StatefulSet's ``rollingUpdate.partition`` only when
   ``rollingUpdate`` is given or the strategy type is left out (``SetDefaults_StatefulSet``);
4. admission and registry strategy: a Service's ``clusterIP``, a Job's selector and its
   ``controller-uid``/``job-name`` labels, a Namespace's ``kubernetes`` finalizer;
5. Quantity fields in canonical form (built-in kinds only, see ``openapi``);
6. ``metadata.generation`` set to 1, then raised whenever anything outside metadata and status
   changes; an update of an immutable field (Deployment selector; StatefulSet fields other than
   replicas, template, updateStrategy, retention policy, minReadySeconds, ordinals; a Job's template)
   is refused as the API server's validation does.

The controllers (``Cluster.tick``) then move the clock and fill ``status``: pods of a Deployment,
StatefulSet or Rollout become Ready ``initialDelaySeconds + periodSeconds`` of their readiness probe
after they can start, and they can start once every PVC they mount is Bound and every migration Job
they need has completed (``needs``); a StatefulSet creates ``<template>-<name>-<ordinal>`` claims;
a PVC binds when a pod mounts it (``WaitForFirstConsumer``) or at once (``Immediate``); a Job
completes once the servers it waits for are Ready, or fails at ``activeDeadlineSeconds``; an HPA
scales its target to ``minReplicas`` and reports ``ScalingActive False / FailedGetResourceMetric``
until its pods have been Ready for ``metrics_after`` seconds (metrics-server's first samples); an
Ingress gets a load-balancer address only when an ingress controller is simulated; a blue-green
Rollout reports ``observedGeneration`` as a string (argo-rollouts pkg/apis/rollouts/v1alpha1/types.go),
goes Healthy on its first revision and pauses a later one when ``autoPromotionEnabled: false``; an
ExternalSecret writes its target Secret and turns Ready (the store holds every remote key); a
cert-manager Certificate has its Secret written and turns Ready (its issuer signs at once).
"""

import base64
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from floe.rendered import copy_json
from tests.engines import openapi

CLUSTER_SCOPED = {("", "Namespace"), ("", "PersistentVolume"), ("storage.k8s.io", "StorageClass"),
                  ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
                  ("apiextensions.k8s.io", "CustomResourceDefinition"), ("networking.k8s.io", "IngressClass"),
                  ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
                  ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding")}
WORKLOADS = {("apps", "Deployment"), ("apps", "StatefulSet"), ("argoproj.io", "Rollout")}
PRESENT_NAMESPACES = ("default", "kube-system", "argocd", "flux-system")
"""Namespaces of a cluster with the GitOps engine installed (Argo CD's or Flux's own namespace)."""

Key = tuple[str, str, str, str]
"""(API group, kind, namespace, name)."""


class ApplyError(Exception):
    """The API server refused a request (missing namespace, immutable field)."""


def group_of(obj: dict) -> str:
    return obj["apiVersion"].rpartition("/")[0]


def namespaced(obj: dict) -> bool:
    return (group_of(obj), obj["kind"]) not in CLUSTER_SCOPED


def key_of(obj: dict) -> Key:
    namespace = obj["metadata"].get("namespace", "") if namespaced(obj) else ""
    return group_of(obj), obj["kind"], namespace, obj["metadata"]["name"]


def annotations(obj: dict) -> dict:
    return obj["metadata"].get("annotations") or {}


def labels(obj: dict) -> dict:
    return obj["metadata"].get("labels") or {}


def wave(obj: dict) -> int:
    return int(annotations(obj).get("argocd.argoproj.io/sync-wave", "0"))


def pod_template(obj: dict) -> dict | None:
    spec = obj.get("spec", {})
    return spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec.get("template")


def template_hash(obj: dict) -> str:
    """The pod template's hash (a ReplicaSet's pod-template-hash; the StatefulSet revision): cached per
    generation, since only a spec change (a new generation) can change the template."""
    key = (obj["metadata"].get("uid"), obj["metadata"].get("generation"))
    if key not in _HASHES:
        _HASHES[key] = hashlib.sha256(json.dumps(pod_template(obj), sort_keys=True).encode()).hexdigest()[:10]
    return _HASHES[key]


_HASHES: dict[tuple, str] = {}
_UIDS = itertools.count(1)  # unique across clusters, so the hash cache never mixes two objects


# --- defaulting ---------------------------------------------------------------------------------

def _pod_spec_defaults(spec: dict) -> None:
    for name, value in (("restartPolicy", "Always"), ("dnsPolicy", "ClusterFirst"),
                        ("schedulerName", "default-scheduler"), ("terminationGracePeriodSeconds", 30),
                        ("securityContext", {})):
        spec.setdefault(name, value)
    for container in spec.get("initContainers", []) + spec.get("containers", []):
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = container.get("image", "")
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        for port in container.get("ports", []):
            port.setdefault("protocol", "TCP")
        for probe in (container.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")):
            if probe:
                for name, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                                    ("failureThreshold", 3)):
                    probe.setdefault(name, value)
                if "httpGet" in probe:
                    probe["httpGet"].setdefault("path", "/")
                    probe["httpGet"].setdefault("scheme", "HTTP")
        for env in container.get("env", []):
            if "fieldRef" in env.get("valueFrom", {}):
                env["valueFrom"]["fieldRef"].setdefault("apiVersion", "v1")
    for volume in spec.get("volumes", []):
        for source in ("configMap", "secret"):
            if source in volume:
                volume[source].setdefault("defaultMode", 420)


def _pvc_defaults(claim: dict) -> None:
    claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    claim.setdefault("status", {}).setdefault("phase", "Pending")


def scheme_defaults(obj: dict) -> dict:
    """A copy of ``obj`` with the scheme defaults of its kind (the ``SetDefaults_*`` functions)."""
    obj = copy_json(obj)
    _default(obj)
    return obj


def _default(obj: dict) -> None:
    kind, spec = (group_of(obj), obj["kind"]), obj.get("spec")
    template = pod_template(obj)
    if template and kind != ("argoproj.io", "Rollout"):  # a CRD: no scheme defaults
        _pod_spec_defaults(template.setdefault("spec", {}))
    if kind == ("apps", "Deployment"):
        for name, value in (("replicas", 1), ("revisionHistoryLimit", 10), ("progressDeadlineSeconds", 600),
                            ("strategy", {"type": "RollingUpdate"})):
            spec.setdefault(name, value)
        if spec["strategy"]["type"] == "RollingUpdate":
            spec["strategy"].setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
    elif kind == ("apps", "StatefulSet"):
        retention = ("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        for name, value in (("replicas", 1), ("podManagementPolicy", "OrderedReady"), ("revisionHistoryLimit", 10),
                            ("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {}}), retention):
            spec.setdefault(name, value)
        if spec["updateStrategy"].get("type") == "RollingUpdate" and "rollingUpdate" in spec["updateStrategy"]:
            spec["updateStrategy"]["rollingUpdate"].setdefault("partition", 0)  # only when rollingUpdate is set
        for claim in spec.get("volumeClaimTemplates", []):
            _pvc_defaults(claim)
    elif kind == ("", "PersistentVolumeClaim"):
        _pvc_defaults(obj)
    elif kind == ("batch", "Job"):
        for name, value in (("parallelism", 1), ("completions", 1), ("backoffLimit", 6),
                            ("completionMode", "NonIndexed"), ("suspend", False)):
            spec.setdefault(name, value)
    elif kind == ("batch", "CronJob"):
        for name, value in (("concurrencyPolicy", "Allow"), ("suspend", False), ("successfulJobsHistoryLimit", 3),
                            ("failedJobsHistoryLimit", 1)):
            spec.setdefault(name, value)
    elif kind == ("", "Service"):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port["port"])
    elif kind == ("networking.k8s.io", "NetworkPolicy"):
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            for port in rule.get("ports", []):
                port.setdefault("protocol", "TCP")
        spec.setdefault("policyTypes", ["Ingress"] + (["Egress"] if spec.get("egress") else []))
    elif kind == ("", "Namespace"):
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("status", {}).setdefault("phase", "Active")


def _convert(obj: dict) -> None:
    """The apps/v1 ⇄ internal conversion fills the embedded claims' type meta (kubernetes#87706)."""
    if (group_of(obj), obj["kind"]) == ("apps", "StatefulSet"):
        for claim in obj["spec"].get("volumeClaimTemplates", []):
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")


IMMUTABLE = {
    ("apps", "Deployment"): lambda old, new: old["spec"]["selector"] != new["spec"]["selector"],
    ("apps", "StatefulSet"): lambda old, new: _without(old["spec"], _STS_MUTABLE) != _without(new["spec"],
                                                                                            _STS_MUTABLE),
    ("batch", "Job"): lambda old, new: old["spec"]["template"] != new["spec"]["template"],
}
_STS_MUTABLE = ("replicas", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds",
                "ordinals", "revisionHistoryLimit")


def _without(mapping: dict, keys) -> dict:
    return {k: v for k, v in mapping.items() if k not in keys}


# --- the cluster --------------------------------------------------------------------------------

@dataclass
class Cluster:
    """The API server's store and clock; ``tick`` runs the controllers."""

    needs: dict[Key, set[Key]] = field(default_factory=dict)
    """What each workload or Job waits for (see ``needs``): migration Jobs before servers, servers
    before bootstrap Jobs."""
    ingress_controller: bool = False
    binding_mode: str = "WaitForFirstConsumer"
    metrics_after: int = 90
    failed_cronjobs: bool = False
    """A variant: every CronJob's last Job failed (lastScheduleTime after lastSuccessfulTime)."""
    now: int = 0
    objects: dict[Key, dict] = field(default_factory=dict)
    started: dict[tuple[Key, str], int] = field(default_factory=dict)
    ready_since: dict[Key, int] = field(default_factory=dict)
    _serial: int = 0

    def __post_init__(self) -> None:
        for name in PRESENT_NAMESPACES:
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def get(self, obj_or_key) -> dict | None:
        key = obj_or_key if isinstance(obj_or_key, tuple) else key_of(obj_or_key)
        return self.objects.get(key)

    def of_kind(self, group: str, kind: str) -> list[dict]:
        return [o for _, o in sorted((k, o) for k, o in self.objects.items() if k[:2] == (group, kind))]

    def apply(self, obj: dict, *, dry_run: bool = False) -> str:
        """Server-side apply; "created", "configured" or "unchanged" (a dry run stores nothing)."""
        if namespaced(obj) and "namespace" not in obj["metadata"]:
            obj = {**obj, "metadata": {**obj["metadata"], "namespace": "default"}}
        key = key_of(obj)
        if key[2] and self.objects.get(("", "Namespace", "", key[2])) is None:
            raise ApplyError(f'namespaces "{key[2]}" not found ({obj["kind"]}/{key[3]})')
        live = self.objects.get(key)
        node = openapi.schema_of(obj)
        applied = {k: v for k, v in obj.items() if k != "status"}
        merged = copy_json(openapi.merge(live or {}, applied, node))
        _convert(merged)
        if openapi.is_builtin(merged):
            _default(merged)
            merged = openapi.canonical_quantities(merged, node)
        self._admit(merged, live)
        if live is not None:
            check = IMMUTABLE.get(key[:2])
            if check and check(live, merged):
                raise ApplyError(f"{obj['kind']}/{key[3]}: field is immutable")
            if _without(merged, ("metadata", "status")) != _without(live, ("metadata", "status")):
                merged["metadata"]["generation"] = live["metadata"]["generation"] + 1
        if merged == live:
            return "unchanged"
        if not dry_run:
            self._serial += 1
            merged["metadata"]["resourceVersion"] = str(self._serial)
            self.objects[key] = merged
        return "created" if live is None else "configured"

    def _admit(self, obj: dict, live: dict | None) -> None:
        """Admission and registry strategy: what the server sets on create."""
        meta = obj["metadata"]
        if live is not None:
            for name in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                meta[name] = live["metadata"][name]
            return
        self._serial += 1
        meta.update(uid=f"uid-{next(_UIDS)}", creationTimestamp=self.now, generation=1)
        kind = (group_of(obj), obj["kind"])
        if kind == ("", "Service") and "clusterIP" not in obj["spec"]:
            obj["spec"]["clusterIP"] = f"10.96.{self._serial // 256}.{self._serial % 256}"
        if kind == ("", "Service"):
            obj["spec"].setdefault("clusterIPs", [obj["spec"]["clusterIP"]])
        if kind == ("", "Namespace"):
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        if kind == ("batch", "Job"):
            uid = {"batch.kubernetes.io/controller-uid": meta["uid"]}
            job_labels = {**uid, "batch.kubernetes.io/job-name": meta["name"]}
            obj["spec"].setdefault("selector", {"matchLabels": uid})
            obj["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {}).update(job_labels)

    def deleted_by(self, keys) -> set[Key]:
        """What deleting ``keys`` removes, garbage collection included: everything in a deleted
        Namespace, and what an ownerReference ties to a deleted object (a StatefulSet's claims carry
        one only with ``whenDeleted: Delete``: the StatefulSet controller sets it only then)."""
        gone, todo = set(), [k for k in keys if k in self.objects]
        while todo:
            key = todo.pop()
            if key in gone:
                continue
            gone.add(key)
            uid = self.objects[key]["metadata"]["uid"]
            todo += [k for k, o in self.objects.items() if (key[:2] == ("", "Namespace") and k[2] == key[3])
                     or any(r["uid"] == uid for r in o["metadata"].get("ownerReferences", []))]
        return gone

    def delete(self, obj_or_key) -> set[Key]:
        gone = self.deleted_by([obj_or_key if isinstance(obj_or_key, tuple) else key_of(obj_or_key)])
        for key in gone:
            del self.objects[key]
        return gone

    # --- controllers ---------------------------------------------------------------------------

    def tick(self, seconds: int = 5) -> None:
        self.now += seconds
        for key in sorted(self.objects):
            obj = self.objects.get(key)
            controller = CONTROLLERS.get(key[:2])
            if obj is not None and controller:
                controller(self, key, obj)

    def is_ready(self, key: Key) -> bool:
        """A workload whose pods are all Ready, or a Job that completed."""
        obj = self.objects.get(key)
        if obj is None:
            return False
        if key[:2] == ("batch", "Job"):
            return _condition(obj, "Complete") == "True"
        return key in self.ready_since

    def _pods_ready(self, key: Key, obj: dict) -> bool:
        """Pods start once their claims are Bound and what they need is done; they are Ready one
        readiness period after their probe's initial delay."""
        spec = pod_template(obj)["spec"]
        claims = [v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", [])
                  if "persistentVolumeClaim" in v]
        blocked = [c for c in claims if (self.objects.get(("", "PersistentVolumeClaim", key[2], c)) or {})
                   .get("status", {}).get("phase") != "Bound"]
        blocked += [n for n in self.needs.get(key, ()) if not self.is_ready(n)]
        revision = (key, template_hash(obj))
        if blocked:
            self.started.pop(revision, None)
            return False
        start = self.started.setdefault(revision, self.now)
        probe = next((c["readinessProbe"] for c in spec["containers"] if "readinessProbe" in c), {})
        return self.now - start >= probe.get("initialDelaySeconds", 0) + probe.get("periodSeconds", 10)

    def _mark_ready(self, key: Key, ready: bool) -> None:
        if ready:
            self.ready_since.setdefault(key, self.now)
        else:
            self.ready_since.pop(key, None)


def timestamp(seconds: int) -> str:
    """RFC 3339, as the API serialises times (the simulation starts on 2026-01-02)."""
    return (datetime(2026, 1, 2, tzinfo=UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(obj: dict, kind: str) -> str | None:
    return next((c["status"] for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def _deployment(cluster: Cluster, key: Key, obj: dict) -> None:
    replicas, ready = obj["spec"].get("replicas", 1), cluster._pods_ready(key, obj)
    cluster._mark_ready(key, ready)
    obj["status"] = {
        "observedGeneration": obj["metadata"]["generation"], "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": replicas if ready else 0, "availableReplicas": replicas if ready else 0,
        "conditions": [
            {"type": "Available", "status": "True" if ready else "False",
             "reason": "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable"},
            {"type": "Progressing", "status": "True",
             "reason": "NewReplicaSetAvailable" if ready else "ReplicaSetUpdated"},
        ]}


def _statefulset(cluster: Cluster, key: Key, obj: dict) -> None:
    spec, name = obj["spec"], key[3]
    replicas = spec.get("replicas", 1)
    owner = spec.get("persistentVolumeClaimRetentionPolicy", {}).get("whenDeleted") == "Delete"
    for template in spec.get("volumeClaimTemplates", []):
        for ordinal in range(replicas):
            claim_name = f"{template['metadata']['name']}-{name}-{ordinal}"
            if cluster.get(("", "PersistentVolumeClaim", key[2], claim_name)) is None:
                claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": claim_name, "namespace": key[2],
                                      "labels": dict(template["metadata"].get("labels", {}))},
                         "spec": copy_json(template["spec"])}
                if owner:
                    claim["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                             "name": name, "uid": obj["metadata"]["uid"]}]
                cluster.apply(claim)
            # The pod that mounts it exists, so a WaitForFirstConsumer claim binds.
            cluster.get(("", "PersistentVolumeClaim", key[2], claim_name))["status"] = {"phase": "Bound"}
    ready = cluster._pods_ready(key, obj)
    cluster._mark_ready(key, ready)
    revision = f"{name}-{template_hash(obj)}"
    obj["status"] = {"observedGeneration": obj["metadata"]["generation"], "replicas": replicas,
                     "readyReplicas": replicas if ready else 0, "availableReplicas": replicas if ready else 0,
                     "currentReplicas": replicas, "updatedReplicas": replicas,
                     "currentRevision": revision, "updateRevision": revision}


def _claim(cluster: Cluster, key: Key, obj: dict) -> None:
    if obj["status"].get("phase") == "Bound":
        return
    mounted = any(v.get("persistentVolumeClaim", {}).get("claimName") == key[3]
                  for k, w in cluster.objects.items() if k[:2] in WORKLOADS and k[2] == key[2]
                  for v in pod_template(w)["spec"].get("volumes", []))
    if mounted or cluster.binding_mode == "Immediate":
        obj["status"] = {"phase": "Bound", "accessModes": obj["spec"]["accessModes"],
                         "capacity": dict(obj["spec"]["resources"]["requests"])}


def _job(cluster: Cluster, key: Key, obj: dict) -> None:
    status = obj.setdefault("status", {})
    if _condition(obj, "Complete") or _condition(obj, "Failed"):
        return
    status.setdefault("startTime", cluster.now)
    status["active"] = 1
    if all(cluster.is_ready(n) for n in cluster.needs.get(key, ())):
        status.update(active=0, succeeded=1, completionTime=cluster.now, conditions=[
            {"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}])
    elif cluster.now - status["startTime"] >= obj["spec"].get("activeDeadlineSeconds", float("inf")):
        status.update(active=0, failed=1, conditions=[
            {"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded"},
            {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
             "message": "Job was active longer than specified deadline"}])


def _hpa(cluster: Cluster, key: Key, obj: dict) -> None:
    ref = obj["spec"]["scaleTargetRef"]
    target_key = (ref["apiVersion"].rpartition("/")[0], ref["kind"], key[2], ref["name"])
    target = cluster.get(target_key)
    if target is None:
        conditions = [{"type": "AbleToScale", "status": "False", "reason": "FailedGetScale"}]
        current = desired = 0
    else:
        current = target["spec"].get("replicas", 1)
        desired = min(max(current, obj["spec"].get("minReplicas", 1)), obj["spec"]["maxReplicas"])
        if desired != current:  # through the scale subresource: another field manager, a new generation
            target["spec"]["replicas"] = desired
            target["metadata"]["generation"] += 1
        since = cluster.ready_since.get(target_key)
        metrics = since is not None and cluster.now - since >= cluster.metrics_after
        conditions = [
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"} if metrics else
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
             "message": "the HPA was unable to compute the replica count: failed to get cpu utilization: "
                        "unable to get metrics for resource cpu: no metrics returned from resource metrics API"},
        ]
    obj["status"] = {"observedGeneration": obj["metadata"]["generation"], "currentReplicas": current,
                     "desiredReplicas": desired, "conditions": conditions}


def _ingress(cluster: Cluster, key: Key, obj: dict) -> None:
    address = [{"ip": "203.0.113.10"}] if cluster.ingress_controller else None
    obj["status"] = {"loadBalancer": {"ingress": address} if address else {}}


def _service(cluster: Cluster, key: Key, obj: dict) -> None:
    obj.setdefault("status", {"loadBalancer": {}})


def _cronjob(cluster: Cluster, key: Key, obj: dict) -> None:
    if cluster.failed_cronjobs:  # the last run (a minute ago) failed; the one before succeeded a day earlier
        obj["status"] = {"lastScheduleTime": timestamp(cluster.now - 60),
                         "lastSuccessfulTime": timestamp(cluster.now - 86400)}
    else:
        obj["status"] = {}


def _rollout(cluster: Cluster, key: Key, obj: dict) -> None:
    """argo-rollouts' blue-green (rollout/bluegreen.go): the first revision is fast-tracked to active
    (``isBlueGreenFastTracked``: the active Service has no pod-template-hash selector yet); a later one
    waits on the preview Service, paused for promotion unless ``autoPromotionEnabled`` (default true)."""
    status, generation = obj.setdefault("status", {}), obj["metadata"]["generation"]
    replicas, pod_hash = obj["spec"].get("replicas", 1), template_hash(obj)
    ready = cluster._pods_ready(key, obj)
    auto = obj["spec"]["strategy"].get("blueGreen", {}).get("autoPromotionEnabled", True)
    stable = status.get("stableRS")
    if stable in (None, pod_hash) or (auto and ready):
        cluster._mark_ready(key, ready)
        phase = "Healthy" if ready else "Progressing"
        stable = pod_hash if ready else stable
        active, pause = (pod_hash if ready else stable), []
    else:
        phase, active = ("Paused" if ready else "Progressing"), stable
        pause = [{"reason": "BlueGreenPause"}] if ready else []
    status.update(observedGeneration=str(generation), phase=phase, replicas=replicas, updatedReplicas=replicas,
                  readyReplicas=replicas if ready else 0, availableReplicas=replicas if ready else 0,
                  currentPodHash=pod_hash, stableRS=stable, blueGreen={"activeSelector": active},
                  pauseConditions=pause)
    if not pause:
        status.pop("pauseConditions")


def _external_secret(cluster: Cluster, key: Key, obj: dict) -> None:
    """external-secrets (pkg/controllers/externalsecret/externalsecret_controller.go at cc5bfbc,
    ``Reconcile``), with a store that answers and holds every remote key: the target Secret
    (``spec.target.name``, else the ExternalSecret's name) gets one key per ``data`` entry; it is
    created when missing and updated when present (an operator-made one is taken over) for the
    creation policies Owner (the CRD's default), Orphan and CreateOrMerge, only updated for Merge,
    left alone for None. Its labels and annotations are the template's when the target has one, else
    the ExternalSecret's own (``setMetadata``); it gets an ownerReference to the ExternalSecret, and
    so is garbage-collected with it, only with Owner (``applyOwnership``). Then ``Ready`` True,
    reason SecretSynced (``markAsDone``). Deleting the ExternalSecret deletes nothing more: its
    finalizer deletes the Secret only with ``deletionPolicy: Delete`` and only one it controls
    (``cleanupManagedSecrets``), which the ownerReference already covers."""
    spec = obj["spec"]
    target = spec.get("target") or {"creationPolicy": "Owner", "deletionPolicy": "Retain"}
    policy = target.get("creationPolicy", "Owner")
    secret_key = ("", "Secret", key[2], target.get("name") or key[3])
    live = cluster.get(secret_key)
    data = {d["secretKey"]: base64.b64encode(f"{d['remoteRef']['key']}#{d['remoteRef'].get('property', '')}"
                                             .encode()).decode() for d in spec.get("data", [])}
    template = target.get("template")
    meta = (template.get("metadata") or {}) if template is not None else obj["metadata"]
    owner = [{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": key[3], "uid": obj["metadata"]["uid"],
              "controller": True, "blockOwnerDeletion": True}] if policy == "Owner" else []
    if policy == "None" or (policy == "Merge" and live is None):
        reason = "SecretMissing" if policy == "Merge" else "SecretSynced"
    else:
        if live is None:
            cluster.apply({"apiVersion": "v1", "kind": "Secret", "type": (template or {}).get("type", "Opaque"),
                           "metadata": {"name": secret_key[3], "namespace": key[2]}})
            live = cluster.get(secret_key)
        live["data"] = {**(live.get("data") or {} if policy in ("Merge", "CreateOrMerge") else {}), **data}
        live["metadata"]["labels"] = {**(live["metadata"].get("labels") or {}), **(meta.get("labels") or {}),
                                      "reconcile.external-secrets.io/managed": "true"}
        live["metadata"]["annotations"] = {**(live["metadata"].get("annotations") or {}),
                                           **(meta.get("annotations") or {})}
        others = [r for r in live["metadata"].get("ownerReferences", []) if r["uid"] != obj["metadata"]["uid"]]
        if others + owner:
            live["metadata"]["ownerReferences"] = others + owner
        else:
            live["metadata"].pop("ownerReferences", None)
        reason = "SecretSynced"
    obj["status"] = {"refreshTime": timestamp(cluster.now), "syncedResourceVersion": obj["metadata"]["resourceVersion"],
                     "conditions": [{"type": "Ready", "status": "True", "reason": reason}]}


def _certificate(cluster: Cluster, key: Key, obj: dict) -> None:
    """cert-manager, with an issuer that signs at once: the Secret ``spec.secretName`` (type
    ``kubernetes.io/tls``) holds ``tls.crt``, ``tls.key`` and ``ca.crt`` (a CA issuer's), no ownerReference
    (cert-manager's default, ``--enable-certificate-owner-ref=false``); then ``Ready`` True, reason Ready."""
    secret_key = ("", "Secret", key[2], obj["spec"]["secretName"])
    if cluster.get(secret_key) is None:
        cluster.apply({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                       "metadata": {"name": secret_key[3], "namespace": key[2]}})
    cluster.get(secret_key)["data"] = {name: base64.b64encode(f"{key[3]}#{name}".encode()).decode()
                                       for name in ("ca.crt", "tls.crt", "tls.key")}
    obj["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                                     "observedGeneration": obj["metadata"]["generation"]}]}


def _source(cluster: Cluster, key: Key, obj: dict) -> None:
    """source-controller: the GitRepository's artifact is fetched and Ready."""
    obj["status"] = {"observedGeneration": obj["metadata"]["generation"],
                     "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded"}]}


CONTROLLERS = {
    ("apps", "Deployment"): _deployment, ("apps", "StatefulSet"): _statefulset,
    ("", "PersistentVolumeClaim"): _claim, ("batch", "Job"): _job,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa, ("networking.k8s.io", "Ingress"): _ingress,
    ("", "Service"): _service, ("batch", "CronJob"): _cronjob, ("argoproj.io", "Rollout"): _rollout,
    ("source.toolkit.fluxcd.io", "GitRepository"): _source, ("external-secrets.io", "ExternalSecret"): _external_secret,
    ("cert-manager.io", "Certificate"): _certificate,
}


def needs(objects: list[dict]) -> dict[Key, set[Key]]:
    """Who waits for whom, from the rendered objects alone. Within one component (same
    ``floe.dev/tier`` and ``app.kubernetes.io/name`` labels), a Job in an earlier sync wave than a
    server is a migration the server needs before it can become Ready (Dagster refuses an
    unmigrated database), and a Job in a later wave is a bootstrap step that needs the servers
    Ready before it can complete (it retries until they answer, up to its deadline)."""
    def component(obj):
        return labels(obj).get("floe.dev/tier"), labels(obj).get("app.kubernetes.io/name")
    jobs = [o for o in objects if o["kind"] == "Job"]
    servers = [o for o in objects if (group_of(o), o["kind"]) in WORKLOADS]
    found: dict[Key, set[Key]] = {}
    for job in jobs:
        for server in (s for s in servers if component(s) == component(job)):
            if wave(job) < wave(server):
                found.setdefault(key_of(server), set()).add(key_of(job))
            elif wave(job) > wave(server):
                found.setdefault(key_of(job), set()).add(key_of(server))
    return found
