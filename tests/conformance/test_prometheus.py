"""Prometheus on the rendered configuration, for every environment.

The StatefulSet's container is laid out as its pod (the ConfigMap's files at /etc/config, its data and
scratch mounts, its user 65534), then ``promtool check config`` reads the config at the path the rendered
``--config.file`` names, with the rule files it lists where it expects them; and the server itself starts
with the rendered flags in the pod's own loopback, answers its probes, reloads and stops on SIGTERM.

promtool and prometheus come from Debian's ``prometheus`` package: version 2.42, where the image runs
v3. They prove the config's schema, its rule files and the flags as far as 2.42 reads them; a field
only v3 knows would fail here, and what v3 alone changed (its defaults) is not checked.
"""

import copy
import signal
import subprocess
import time
from collections.abc import Callable

import pytest
import yaml

from floe.components import prometheus
from tests.conformance.pod import Pod
from tests.conftest import ENVIRONMENT_NAMES, find

WHERE_FROM = "Debian package prometheus"
ACCOUNT = "nobody"
"""The image's user (UID 65534); Debian already names it."""


def lay_out(objects: dict, root, config_map: dict | None = None, own_network: bool = False) -> Pod:
    """The Prometheus container as its pod, with the rendered ConfigMap or a changed copy of it."""
    statefulset = find(objects, "StatefulSet", prometheus.INSTANCE)
    rendered = [o for o in objects.values() if not (o["kind"] == "ConfigMap" and config_map
                                                    and o["metadata"]["name"] == config_map["metadata"]["name"])]
    return Pod.of(statefulset, prometheus.INSTANCE, root, rendered=[*rendered, *([config_map] if config_map else [])],
                  own_network=own_network)


def config_file(pod: Pod) -> str:
    (flag,) = [arg for arg in pod.command if arg.startswith("--config.file=")]
    return flag.removeprefix("--config.file=")


def check(pod: Pod, promtool: str) -> subprocess.CompletedProcess:
    return pod.run([promtool, "check", "config", "--lint=all", "--lint-fatal", config_file(pod)], user=ACCOUNT)


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_promtool_accepts_the_rendered_config(env, dist_objects, require, pod_root) -> None:
    promtool = require("promtool", WHERE_FROM)
    pod = lay_out(dist_objects[env], pod_root)
    result = check(pod, promtool)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {config_file(pod)} is valid prometheus config file syntax" in result.stdout
    config = yaml.safe_load(pod.path(f"{prometheus.CONFIG_DIR}/{prometheus.CONFIG_FILE}").read_text())
    for rules in config.get("rule_files") or []:  # laid out under root, and checked rule by rule
        assert f"Checking {rules}\n  SUCCESS: " in result.stdout, f"{rules} was not checked"


def _unknown_field(data: dict) -> None:
    config = yaml.safe_load(data[prometheus.CONFIG_FILE])
    config["global"]["scrape_intervall"] = config["global"]["scrape_interval"]
    data[prometheus.CONFIG_FILE] = yaml.safe_dump(config)


def _duplicate_job(data: dict) -> None:
    config = yaml.safe_load(data[prometheus.CONFIG_FILE])
    config["scrape_configs"].append(copy.deepcopy(config["scrape_configs"][0]))
    data[prometheus.CONFIG_FILE] = yaml.safe_dump(config)


@pytest.mark.parametrize(("break_config", "complaint"), [
    (_unknown_field, "field scrape_intervall not found"),
    (_duplicate_job, 'found multiple scrape configs with job name "prometheus"'),
])
def test_promtool_rejects_a_broken_copy(break_config: Callable[[dict], None], complaint: str, dist_objects,
                                        require, pod_root) -> None:
    promtool = require("promtool", WHERE_FROM)
    config_map = copy.deepcopy(find(dist_objects["dev"], "ConfigMap", f"{prometheus.INSTANCE}-config"))
    break_config(config_map["data"])
    result = check(lay_out(dist_objects["dev"], pod_root, config_map), promtool)
    assert result.returncode == 1, result.stdout
    assert complaint in result.stderr


def test_the_server_starts_with_the_rendered_flags(dist_objects, require, pod_root) -> None:
    """prod's flags (its retention) on v2.42: ready and healthy by the rendered probes, its config reloaded
    through the lifecycle API the rendered flag enables, stopped cleanly by the kubelet's SIGTERM."""
    binary = require("prometheus", WHERE_FROM)
    pod = lay_out(dist_objects["prod"], pod_root, own_network=True)
    server = pod.start([binary, *pod.command], user=ACCOUNT)
    try:
        port, ready = pod.http_probe("readinessProbe")
        deadline = time.monotonic() + 60
        while pod.http("GET", port, ready) != 200:
            assert server.poll() is None, (pod.root / ".pod/prometheus.log").read_text()
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.2)
        assert pod.http("GET", *pod.http_probe("livenessProbe")) == 200
        assert pod.http("POST", port, "/-/reload") == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=pod.spec["terminationGracePeriodSeconds"]) == 0
    finally:
        server.kill()
        server.wait()
        pod.close()
    log = (pod.root / ".pod/prometheus.log").read_text()
    assert "Server is ready to receive web requests." in log
    assert "Completed loading of configuration file" in log


def test_the_server_refuses_a_missing_config_file(dist_objects, require, pod_root) -> None:
    """The rendered --config.file names the ConfigMap's file: pointed beside it, the server stops at once."""
    binary = require("prometheus", WHERE_FROM)
    statefulset = copy.deepcopy(find(dist_objects["prod"], "StatefulSet", prometheus.INSTANCE))
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    container["args"] = [arg.replace("--config.file=/etc/config/", "--config.file=/etc/") for arg in container["args"]]
    pod = Pod.of(statefulset, prometheus.INSTANCE, pod_root, rendered=dist_objects["prod"].values(), own_network=True)
    try:
        result = pod.run([binary, *pod.command], user=ACCOUNT, timeout=30)
    finally:
        pod.close()
    assert result.returncode == 2, result.stderr
    assert "Error loading config" in result.stderr
