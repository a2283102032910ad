"""The jobs namespace's own objects: capacity (ResourceQuota, LimitRange) and the runner identity.

ADR-0019 names capacity planning per layer as a cost of the two lifecycle models: the quota is
that plan, written down and enforced. Namespace-wide, so it syncs with the namespaces.
"""


from floe.config.environment import Environment
from floe.config.resources import ComputeAmounts
from floe.constructs.job_policy import JOB_POLICY
from floe.constructs.kube import Scope, k8s, quantity
from floe.constructs.labels import AppIdentity, Layer
from floe.constructs.metadata import object_meta
from floe.tiers import FOUNDATION, Step


def _amounts(amounts: ComputeAmounts) -> dict[str, k8s.Quantity]:
    return {"cpu": quantity(amounts.cpu), "memory": quantity(amounts.memory)}


def render(scope: Scope, environment: Environment) -> None:
    jobs = environment.jobs
    namespace = environment.namespaces.jobs
    identity = AppIdentity(name="floe", instance=namespace, component="capacity",
                           version=environment.platform_version, tier=FOUNDATION, layer=Layer.PIPELINE_JOBS)
    quota = jobs.quota
    k8s.KubeResourceQuota(
        scope, "jobs-quota",
        metadata=object_meta(identity, "pipeline-jobs", namespace, Step.PREPARE),
        spec=k8s.ResourceQuotaSpec(hard={
            "requests.cpu": quantity(quota.requests.cpu),
            "requests.memory": quantity(quota.requests.memory),
            "limits.cpu": quantity(quota.limits.cpu),
            "limits.memory": quantity(quota.limits.memory),
            "pods": quantity(str(quota.pods)),
            "count/jobs.batch": quantity(str(quota.jobs)),
        }),
    )
    burst = environment.resources(JOB_POLICY.resources_preset)
    k8s.KubeLimitRange(
        scope, "jobs-limits",
        metadata=object_meta(identity, "pipeline-jobs", namespace, Step.PREPARE),
        spec=k8s.LimitRangeSpec(limits=[
            k8s.LimitRangeItem(
                type="Container",
                # A container that states nothing gets the burst policy, never unbounded.
                default=_amounts(burst.limits),
                default_request=_amounts(burst.requests),
                max=_amounts(jobs.max_container),
            )
        ]),
    )
    k8s.KubeServiceAccount(
        scope, "job-runner",
        metadata=object_meta(identity, jobs.service_account, namespace, Step.PREPARE),
        automount_service_account_token=False,
    )
