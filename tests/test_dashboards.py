"""Grafana's dashboards: valid JSON, one folder per layer, found by the provider file, on the provisioned source."""

import copy
import json

import pytest
import yaml

from tests.conftest import ENVIRONMENT_NAMES, containers, find, pod_spec

DASHBOARDS = {
    # folder (mount path) → the dashboards' files there
    "/etc/grafana/dashboards/platform-services": {"floe-platform-overview.json", "floe-orchestrator.json",
                                                  "floe-object-store.json", "floe-catalog.json"},
    "/etc/grafana/dashboards/pipeline-jobs": {"floe-pipeline-jobs.json"},
}


@pytest.fixture(params=ENVIRONMENT_NAMES)
def objects(request, rendered) -> dict:
    return rendered[request.param]


def mounted(objects: dict) -> dict[str, dict[str, str]]:
    """Mount path → the files of the ConfigMap Grafana mounts there."""
    deployment = find(objects, "Deployment", "grafana")
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    files = {}
    for mount in containers(deployment)[0]["volumeMounts"]:
        source = volumes[mount["name"]].get("configMap")
        if source:
            assert mount["readOnly"] is True
            files[mount["mountPath"]] = find(objects, "ConfigMap", source["name"])["data"]
    return files


def providers(objects: dict) -> list[dict]:
    return yaml.safe_load(mounted(objects)["/etc/grafana/provisioning/dashboards"]["dashboards.yaml"])["providers"]


def datasource_uid(objects: dict) -> str:
    (source,) = yaml.safe_load(mounted(objects)["/etc/grafana/provisioning/datasources"]["datasources.yaml"])[
        "datasources"]
    return source["uid"]


def problems(board: dict, uid: str) -> list[str]:
    """What keeps Grafana from showing the dashboard as provisioned, or a panel from querying Prometheus."""
    found = [f"no {key}" for key in ("uid", "title") if not board.get(key)]
    if not board.get("panels"):
        found.append("no panels")
    for panel in board.get("panels", []):
        if panel["type"] == "text":
            continue
        if panel.get("datasource") != {"type": "prometheus", "uid": uid}:
            found.append(f"{panel['title']}: data source {panel.get('datasource')}")
        if not panel.get("targets") or not all(t.get("expr") and t.get("refId") for t in panel["targets"]):
            found.append(f"{panel['title']}: a target without a query")
    return found


def test_provider_file_names_one_folder_per_layer_and_each_is_mounted(objects) -> None:
    assert {p["folder"]: p["options"]["path"] for p in providers(objects)} == {
        "Platform services": "/etc/grafana/dashboards/platform-services",
        "Pipeline jobs": "/etc/grafana/dashboards/pipeline-jobs",
    }
    for provider in providers(objects):
        assert provider["type"] == "file"
        assert provider["disableDeletion"] is True and provider["allowUiUpdates"] is False
    files = mounted(objects)
    assert {path: set(files[path]) for path in DASHBOARDS} == DASHBOARDS


def test_every_dashboard_is_valid_and_reads_the_provisioned_data_source(objects) -> None:
    uid = datasource_uid(objects)
    assert uid == "prometheus"
    uids = []
    for path in DASHBOARDS:
        for name, text in mounted(objects)[path].items():
            board = json.loads(text)
            assert name == f"{board['uid']}.json"
            assert problems(board, uid) == [], name
            assert board["schemaVersion"] == 41
            uids.append(board["uid"])
    assert len(uids) == len(set(uids)) == 5


def test_a_broken_dashboard_is_caught(rendered) -> None:
    """The checks above fail on a dashboard without a title, on another data source, on a target without a query."""
    text = mounted(rendered["dev"])["/etc/grafana/dashboards/platform-services"]["floe-catalog.json"]
    board = json.loads(text)
    assert problems(board, "prometheus") == []
    untitled, elsewhere, empty = copy.deepcopy(board), copy.deepcopy(board), copy.deepcopy(board)
    del untitled["title"]
    elsewhere["panels"][0]["datasource"]["uid"] = "loki"
    empty["panels"][1]["targets"][0]["expr"] = ""
    assert problems(untitled, "prometheus") == ["no title"]
    assert problems(elsewhere, "prometheus") == [
        "Requests by status: data source {'type': 'prometheus', 'uid': 'loki'}"]
    assert problems(empty, "prometheus") == ["Server errors: a target without a query"]


def test_pipeline_jobs_dashboard_is_per_data_product(rendered) -> None:
    text = mounted(rendered["prod"])["/etc/grafana/dashboards/pipeline-jobs"]["floe-pipeline-jobs.json"]
    board = json.loads(text)
    (variable,) = board["templating"]["list"]
    assert variable["name"] == "product"
    assert variable["query"] == 'label_values(kube_job_labels{namespace="floe-jobs"}, label_floe_dev_data_product)'
    titles = [p["title"] for p in board["panels"]]
    assert titles == ["Runs (Jobs kept: the last hour)", "Failed runs", "Run duration", "CPU used by runs",
                      "Memory used by runs", "Jobs quota used"]
    quota = board["panels"][-1]["targets"][0]["expr"]
    assert quota == ('kube_resourcequota{namespace="floe-jobs", type="used"} / ignoring(type) '
                     'kube_resourcequota{namespace="floe-jobs", type="hard"}')
