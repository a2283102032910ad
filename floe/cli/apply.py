"""A direct apply (``floe platform deploy --apply``), for clusters without a GitOps engine.

Tier by tier in startup order, inside a tier wave by wave; after each wave the command waits until
its workloads are Ready (Deployments, StatefulSets and Rollouts available, Jobs complete), with one
deadline per tier. Sync-hook Jobs are deleted and created again, as Argo CD's BeforeHookCreation does.
"""

import time
from collections.abc import Callable, Sequence

from floe.cli.cluster import Cluster, ClusterError
from floe.cli.tree import ApplyWave, describe
from floe.readiness import FAILED, WORKLOADS, Readiness, pod_problem, readiness, selector
from floe.rendered import JsonView, is_hook

POLL_SECONDS = 2.0


def now() -> float:
    return time.monotonic()


def pause(seconds: float) -> None:
    time.sleep(seconds)


def apply_plan(cluster: Cluster, steps: list[ApplyWave], timeout: float, report: Callable[[str], None]) -> None:
    clock, sleep = now, pause
    deadlines: dict[str, float] = {}
    for step in steps:
        deadline = deadlines.setdefault(step.tier.name, clock() + timeout)
        report(f"{step.tier.name} · wave {step.wave}: applying {len(step.objects)} objects")
        for obj in step.objects:
            if obj["kind"] == "Job" and is_hook(obj):
                _delete(cluster, obj, deadline, clock, sleep)
            cluster.apply(obj)
        workloads = [obj for obj in step.objects if obj["kind"] in WORKLOADS]
        if workloads:
            report(f"{step.tier.name} · wave {step.wave}: waiting for {len(workloads)} workloads to be Ready")
            wait_ready(cluster, workloads, deadline, clock, sleep)
    report("every tier is Ready")


def _delete(cluster: Cluster, obj: JsonView, deadline: float, clock: Callable[[], float],
            sleep: Callable[[float], None]) -> None:
    """Delete the object and wait until it is gone (a hook Job is run again as a new Job)."""
    cluster.delete(obj)
    _wait(lambda: cluster.get(obj) is None, deadline, clock, sleep, lambda: f"{describe(obj)} is still being deleted")


def wait_ready(cluster: Cluster, workloads: Sequence[JsonView], deadline: float, clock: Callable[[], float],
               sleep: Callable[[float], None]) -> None:
    pending: dict[str, Readiness] = {}

    def ready() -> bool:
        pending.clear()
        for obj in workloads:
            state = readiness(cluster.get(obj))
            if state.state == FAILED:
                raise ClusterError(f"{describe(obj)} failed: {explain(cluster, obj, state)}; "
                                   "fix it, then run the deploy again")
            if not state.done:
                pending[describe(obj)] = state
        return not pending

    def waiting() -> str:
        by_name = {describe(obj): obj for obj in workloads}
        return "; ".join(f"{name}: {explain(cluster, by_name[name], state)}" for name, state in pending.items())

    _wait(ready, deadline, clock, sleep, waiting)


def explain(cluster: Cluster, obj: JsonView, state: Readiness) -> str:
    """The state's own reason, and the first pod-level reason (CrashLoopBackOff, ImagePullBackOff, ...)."""
    pods = cluster.list_pods(obj["metadata"]["namespace"], selector(obj)) if selector(obj) else []
    return "; ".join(part for part in (state.reason or state.state, pod_problem(pods)) if part)


def _wait(done: Callable[[], bool], deadline: float, clock: Callable[[], float], sleep: Callable[[float], None],
          why: Callable[[], str]) -> None:
    while not done():
        if clock() >= deadline:
            raise ClusterError(f"not Ready before the timeout: {why()}; check `floe platform status` "
                               "or rerun with a longer --timeout")
        sleep(POLL_SECONDS)
