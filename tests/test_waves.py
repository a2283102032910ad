"""Startup order from one list: every object's sync-wave and folder come from its tier."""

import pytest

from floe.registry import COMPONENTS
from floe.tiers import FINAL_WAVE, SYNC_WAVE, TIERS, Step
from tests.conftest import ENVIRONMENT_NAMES


def test_tiers_follow_the_seed_startup_order() -> None:
    assert [t.name for t in TIERS] == ["foundation", "storage", "catalog", "observability", "orchestrator",
                                       "semantic", "jobs"]
    assert [t.name for t in TIERS if t.seed_component] == ["storage", "catalog", "observability", "orchestrator",
                                                          "semantic"]
    waves = [t.wave for t in TIERS]
    assert waves == sorted(waves) and len(set(waves)) == len(waves)


def test_tier_steps_fit_inside_the_gap_to_the_next_tier() -> None:
    gaps = [b.wave - a.wave for a, b in zip(TIERS, TIERS[1:], strict=False)]
    assert max(Step) < min(gaps)
    assert Step.PREPARE < Step.SERVE < Step.BOOTSTRAP


def test_every_dependency_lies_in_an_earlier_tier_or_earlier_in_the_same_tier() -> None:
    position = {c.name: (TIERS.index(c.tier), i) for i, c in enumerate(COMPONENTS)}
    for component in COMPONENTS:
        for dependency in component.dependencies:
            assert dependency in position, f"{component.name} depends on unknown {dependency}"
            assert position[dependency] < position[component.name], f"{component.name} before {dependency}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_object_carries_the_wave_of_its_tier_folder(environment: str, rendered) -> None:
    folders = {t.folder: t for t in TIERS}
    for path, obj in rendered[environment].items():
        tier = folders[path.split("/")[0]]
        wave = int(obj["metadata"]["annotations"][SYNC_WAVE])
        if obj["kind"] in {"HorizontalPodAutoscaler", "Ingress"}:
            assert wave == FINAL_WAVE, f"{path}: an {obj['kind']} syncs after every tier"
        else:
            assert tier.wave <= wave < tier.wave + 10, f"{path}: wave {wave} outside tier {tier.name}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_namespaces_sync_first(environment: str, rendered) -> None:
    objects = rendered[environment].values()
    namespace_waves = [int(o["metadata"]["annotations"][SYNC_WAVE]) for o in objects if o["kind"] == "Namespace"]
    other_waves = [int(o["metadata"]["annotations"][SYNC_WAVE]) for o in objects if o["kind"] != "Namespace"]
    assert len(namespace_waves) == 2
    assert max(namespace_waves) <= min(other_waves)


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_namespaces_enforce_restricted_pod_security(environment: str, rendered) -> None:
    for obj in rendered[environment].values():
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
