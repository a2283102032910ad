"""A run of a job template (``floe.jobs.runs``): the Job ``floe run`` creates, and what ``floe status`` says of it,
on objects shaped as the API returns them."""

from datetime import UTC, datetime

import pytest

from floe.errors import FloeError
from floe.jobs.runs import check_run_id, duration, exit_reason, job_from_cronjob
from tests.cli_support import CRONJOB

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_the_job_of_a_run_is_the_templates_with_the_run_id() -> None:
    job = job_from_cronjob(CRONJOB, "0badc0de")
    assert job["metadata"] == {
        "name": "sales-dbt-run-0badc0de", "namespace": "floe-jobs",
        "labels": {"floe.dev/data-product": "sales", "floe.dev/job-type": "dbt-run", "floe.dev/layer": "pipeline-jobs",
                   "floe.dev/run-id": "0badc0de"},
        "annotations": {"floe.dev/owner": "data-team", "cronjob.kubernetes.io/instantiate": "manual"},
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "sales-dbt-run",
                             "uid": "0a1b2c3d-cron", "controller": True, "blockOwnerDeletion": True}],
    }
    assert "suspend" not in job["spec"] and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "floe.dev/data-product": "sales", "floe.dev/job-type": "dbt-run", "floe.dev/run-id": "0badc0de"}
    assert CRONJOB["spec"]["jobTemplate"]["spec"]["suspend"] is True  # the template itself is left alone


def test_a_rendered_template_has_no_owner() -> None:
    rendered = {**CRONJOB, "metadata": {k: v for k, v in CRONJOB["metadata"].items() if k != "uid"}}
    assert "ownerReferences" not in job_from_cronjob(rendered, "0badc0de")["metadata"]


@pytest.mark.parametrize("run_id", ["0BADC0DE", "0badc0d", "0badc0dee", "sales-dbt", ""])
def test_a_run_id_is_eight_lowercase_hex_characters(run_id: str) -> None:
    with pytest.raises(FloeError) as error:
        check_run_id(run_id)
    assert str(error.value) == (f"{run_id!r} is not a run id: a run id is 8 lowercase hex characters, "
                                "as `floe run` prints it")
    assert check_run_id("0badc0de") == "0badc0de"


@pytest.mark.parametrize(("status", "expected"), [
    ({}, "-"),
    ({"startTime": "2026-03-01T11:55:55Z"}, "4m05s"),
    ({"startTime": "2026-03-01T09:00:00Z", "completionTime": "2026-03-01T10:02:03Z"}, "1h02m03s"),
    ({"startTime": "2026-03-01T11:00:00Z", "conditions": [
        {"type": "Failed", "status": "True", "lastTransitionTime": "2026-03-01T11:00:42Z"}]}, "0m42s"),
])
def test_duration(status: dict, expected: str) -> None:
    assert duration({"status": status}, NOW) == expected


def _pod(**state: object) -> dict:
    return {"metadata": {"name": "sales-dbt-run-0badc0de-x"},
            "status": {"containerStatuses": [{"name": "dbt", "state": state}]}}


def test_why_a_run_ended() -> None:
    complete = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert exit_reason(complete, []) == "Completed"
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                                         "message": "Job was active longer than specified deadline"}]}}
    assert exit_reason(failed, []) == "DeadlineExceeded: Job was active longer than specified deadline"
    crashed = _pod(terminated={"exitCode": 2, "reason": "Error", "message": "dbt: compilation error\nmodel x"})
    assert exit_reason(failed, [crashed]) == "dbt: Error, exit code 2, model x"
    pulling = _pod(waiting={"reason": "ImagePullBackOff", "message": "pull access denied"})
    assert exit_reason({"status": {"active": 1}}, [pulling]) == \
        "sales-dbt-run-0badc0de-x/dbt: ImagePullBackOff: pull access denied"
    assert exit_reason({"status": {"active": 1}}, []) == "-"
