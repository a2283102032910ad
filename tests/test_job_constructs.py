"""The Job constructs enforce their own policy: a job template (a pipeline run) and a bootstrap step set their
pods' restartPolicy themselves, and a job template's Job carries the Layer-4 Job policy without the caller
passing any of it."""

import cdk8s
import pytest

from floe.config.resources import BUILTIN_PRESETS, SMALL
from floe.constructs.bootstrap import BootstrapJob, BootstrapProps
from floe.constructs.container import Container
from floe.constructs.job_template import JobTemplate, JobTemplateProps
from floe.constructs.labels import AppIdentity, Layer
from floe.constructs.pod import PodProps
from floe.constructs.security import RunAs
from floe.tiers import JOBS, STORAGE

RUN_AS = RunAs(user=1000, group=1000)


def pod(restart_policy: str | None = None) -> PodProps:
    container = Container(name="main", image="registry.example.com/tool:1.0.0", resources=BUILTIN_PRESETS[SMALL])
    return PodProps(containers=(container,), run_as=RUN_AS, restart_policy=restart_policy)


def template(props: PodProps) -> dict:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    JobTemplate(chart, "t", JobTemplateProps(
        identity=AppIdentity(name="sales", instance="sales-dbt-run", component="job", version="1.0.0", tier=JOBS,
                             layer=Layer.PIPELINE_JOBS),
        name="sales-dbt-run", namespace="floe-jobs", pod=props, service_account="sales", active_deadline_seconds=900))
    (cronjob,) = chart.to_json()
    return cronjob


def bootstrap(props: PodProps) -> dict:
    chart = cdk8s.Chart(cdk8s.App(), "c")
    BootstrapJob(chart, "b", BootstrapProps(
        identity=AppIdentity(name="minio", instance="minio-buckets", component="bootstrap", version="1", tier=STORAGE),
        namespace="floe-platform", pod=props))
    (job,) = [obj for obj in chart.to_json() if obj["kind"] == "Job"]
    return job


def test_a_job_template_carries_the_job_policy_itself() -> None:
    spec = template(pod())["spec"]["jobTemplate"]["spec"]
    assert {key: spec[key] for key in ("backoffLimit", "ttlSecondsAfterFinished", "activeDeadlineSeconds")} == {
        "backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "activeDeadlineSeconds": 900}
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_a_bootstrap_step_is_never_restarted_in_place() -> None:
    spec = bootstrap(pod())["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (4, 600)
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("render", [template, bootstrap])
def test_another_restart_policy_is_refused(render) -> None:
    assert render(pod("Never"))["kind"] in ("CronJob", "Job")  # the same policy, said twice, is harmless
    with pytest.raises(ValueError, match=r"^restartPolicy 'OnFailure': these pods are always 'Never'$"):
        render(pod("OnFailure"))
