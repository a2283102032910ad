"""The topology drawing beside each environment's manifests: generated from the registry and the rendered
objects in the same render, valid Mermaid, printed by `floe topology`."""

import dataclasses
import re
from pathlib import Path

import pytest

from floe import app as floe_app
from floe import registry, topology
from floe.security import network_policies
from floe.synth import TOPOLOGY_FILE, render
from tests import cli_support as support
from tests.cli_support import floe, one_line_error
from tests.conftest import ENVIRONMENT_NAMES

dev_render = support.dev_render
workspace = support.workspace

NODE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\[\"[^\"]*\"\]$")
SUBGRAPH = re.compile(r"^\s*subgraph ([A-Za-z_][A-Za-z0-9_]*)\[\"[^\"]*\"\]$")
EDGE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*) (-->|==>|-\.->)(\|\"[^\"]*\"\|)? ([A-Za-z_][A-Za-z0-9_]*)$")
RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "click", "default"}


def diagrams(text: str) -> list[list[str]]:
    """The lines of each ```mermaid block."""
    return [block.strip("\n").splitlines() for block in re.findall(r"```mermaid\n(.*?)```", text, re.S)]


def check_mermaid(lines: list[str]) -> tuple[set[str], set[tuple[str, str, str]]]:
    """A structural check of a flowchart (no Mermaid CLI here): a header, balanced subgraph/end, every line a
    node, a subgraph, an edge or a comment, ids that Mermaid reads as ids, every edge's ends declared.
    Returns the declared ids and the edges (from, arrow and label, to)."""
    assert re.fullmatch(r"flowchart (TB|BT|LR|RL)", lines[0]), lines[0]
    declared, edges, depth = set(), set(), 0
    for line in lines[1:]:
        if line.strip().startswith("%%"):
            continue
        if line.strip() == "end":
            depth -= 1
            assert depth >= 0, "an end without its subgraph"
        elif match := SUBGRAPH.match(line):
            depth += 1
            declared.add(match[1])
        elif match := NODE.match(line):
            declared.add(match[1])
        elif match := EDGE.match(line):
            edges.add((match[1], match[2] + (match[3] or ""), match[4]))
        else:
            pytest.fail(f"not a Mermaid line this drawing writes: {line!r}")
    assert depth == 0, "a subgraph without its end"
    assert not declared & RESERVED
    for source, _, target in edges:
        assert {source, target} <= declared, (source, target)
    return declared, edges


@pytest.fixture(scope="session")
def drawings(fresh_dist: Path) -> dict[str, str]:
    return {name: (fresh_dist / name / TOPOLOGY_FILE).read_text(encoding="utf-8") for name in ENVIRONMENT_NAMES}


def test_every_environment_has_its_drawing_beside_capacity(fresh_dist: Path, drawings: dict[str, str]) -> None:
    for name in ENVIRONMENT_NAMES:
        assert (fresh_dist / name / "capacity.md").is_file()
        assert drawings[name].startswith("# Topology\n")
        assert len(diagrams(drawings[name])) == 2


def test_drawings_are_valid_mermaid(drawings: dict[str, str]) -> None:
    for text in drawings.values():
        for lines in diagrams(text):
            check_mermaid(lines)


def test_dev_drawing_tiers_components_dependencies_and_paths(drawings: dict[str, str]) -> None:
    platform, _ = diagrams(drawings["dev"])
    _, edges = check_mermaid(platform)
    # Tiers in startup order, with their waves.
    tiers = [line.strip() for line in platform if line.strip().startswith("subgraph tier_")]
    assert tiers == ['subgraph tier_foundation["00-foundation · wave 0"]',
                     'subgraph tier_storage["10-storage · waves 10, 11, 15"]',
                     'subgraph tier_catalog["20-catalog · waves 20, 21, 25"]',
                     'subgraph tier_observability["30-observability · waves 30, 31"]',
                     'subgraph tier_orchestrator["40-orchestrator · waves 40, 41"]',
                     'subgraph tier_semantic["50-semantic · waves 50, 51"]',
                     'subgraph tier_jobs["60-jobs · wave 61"]']
    assert ("tier_catalog", "==>", "tier_storage") in edges
    # Components with their kinds.
    assert '    polaris["polaris (Deployment, Job)"]' in platform
    assert '    dagster["dagster (Deployment ×3, Job)"]' in platform
    assert '    pipeline_jobs["pipeline-jobs (CronJob ×4)"]' in platform
    # Declared dependencies and network paths (with the port names the NetworkPolicies open).
    assert ("polaris", "-->", "postgres_polaris") in edges
    assert ("pipeline_jobs", '-.->|"api"|', "polaris") in edges
    assert ("prometheus", '-.->|"management"|', "polaris") in edges
    assert ("ns_floe_platform", '-.->|"4317, 4318"|', "otel_collector") in edges
    assert "| pipeline-jobs | polaris | api | allow-pipeline-jobs-egress, allow-polaris |" in drawings["dev"]


def test_prod_drawing_shows_outside_database_and_ingress(drawings: dict[str, str]) -> None:
    platform, _ = diagrams(drawings["prod"])
    _, edges = check_mermaid(platform)
    assert '    postgres_dagster["postgres-dagster (outside the cluster)"]' in platform
    assert ("pipeline_jobs", '-.->|"5432"|', "postgres_dagster") in edges
    assert ("ext_ingress_nginx", '-.->|"http"|', "grafana") in edges
    # Two webservers (the read-only one for viewers) and the UI's login in front of both.
    assert '    dagster["dagster (Rollout, Deployment ×4, Job)"]' in platform
    assert '    oauth2_proxy["oauth2-proxy (Deployment ×2)"]' in platform
    assert ("ext_ingress_nginx", '-.->|"http"|', "oauth2_proxy") in edges
    assert ("oauth2_proxy", '-.->|"http"|', "dagster") in edges
    assert ("ext_ingress_nginx", '-.->|"http"|', "dagster") not in edges


def test_engines_chain(drawings: dict[str, str]) -> None:
    _, engines = diagrams(drawings["dev"])
    _, edges = check_mermaid(engines)
    assert ("ks_floe_dev_catalog_serve", "-->", "ks_floe_dev_catalog_prepare") in edges
    assert ("ks_floe_dev", '-->|"source"|', "git_floe_dev") in edges
    assert ("flux_steps", '-.->|"applied by"|', "ks_floe_dev") in edges
    assert ("application_floe_dev", '-.->|"applied by"|', "application_floe_dev_root") in edges
    assert ("application_floe_dev", '-->|"project"|', "appproject_floe_dev") in edges


def test_the_drawing_is_deterministic(environments) -> None:
    first = render(environments["dev"])[f"dev/{TOPOLOGY_FILE}"]
    assert render(environments["dev"])[f"dev/{TOPOLOGY_FILE}"] == first


def test_a_changed_dependency_changes_the_drawing_in_the_same_render(environments, drawings,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    components = tuple(dataclasses.replace(c, depends_on=(*c.depends_on, registry.on("polaris", "api")))
                       if c.name == "grafana" else c for c in registry.COMPONENTS)
    for module in (registry, floe_app, network_policies, topology):
        monkeypatch.setattr(module, "COMPONENTS", components)
    text = render(environments["dev"])[f"dev/{TOPOLOGY_FILE}"]
    assert text != drawings["dev"]
    _, edges = check_mermaid(diagrams(text)[0])
    assert ("grafana", "-->", "polaris") in edges
    assert ("grafana", '-.->|"api"|', "polaris") in edges
    assert ("grafana", "-->", "polaris") not in check_mermaid(diagrams(drawings["dev"])[0])[1]


def test_without_the_semantic_tier_the_drawing_loses_it(environments, drawings) -> None:
    dev = environments["dev"]
    lean = dev.model_copy(update={"semantic": dev.semantic.model_copy(update={"enabled": False})})
    platform = diagrams(render(lean)[f"dev/{TOPOLOGY_FILE}"])[0]
    _, edges = check_mermaid(platform)
    assert not any("tier_semantic" in line or "cube" in line for line in platform)
    assert ("tier_jobs", "==>", "tier_orchestrator") in edges
    assert "tier_semantic" in drawings["dev"]


def test_floe_topology_prints_dist_or_a_fresh_render(workspace: Path) -> None:
    path = workspace / "dist" / "dev" / TOPOLOGY_FILE
    result = floe(workspace, "topology", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert result.stdout == path.read_text(encoding="utf-8")
    path.unlink()
    fresh = floe(workspace, "topology", "--env", "dev")
    assert fresh.exit_code == 0, fresh.output
    assert fresh.stdout == result.stdout
    assert "printing a fresh render" in fresh.stderr


def test_floe_topology_unknown_environment_is_one_line(workspace: Path) -> None:
    one_line_error(floe(workspace, "topology", "--env", "nope"), 2, "no such environment file")
