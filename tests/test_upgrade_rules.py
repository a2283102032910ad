"""The rules of ``floe platform upgrade`` (``floe.upgrade``), without rendering: which version an environment may
move to, and why not. The command's own tests (tests/test_cli_render.py) show that a refusal writes nothing."""

import pytest

from floe.config import releases
from floe.config.environment import Environment
from floe.errors import FloeError
from floe.upgrade import major_version, upgraded
from tests.conftest import ROOT

PG17, PG18 = "docker.io/library/postgres:17.11", "docker.io/library/postgres:18.1"


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """1.0.0 as shipped; 1.9.0 and 1.10.0 with a newer Polaris (by text, 1.10.0 would sort first); 2.0.0 with
    PostgreSQL 18."""
    base = releases.catalogue().releases["1.0.0"].images.model_dump()
    assert base["postgres"] == PG17
    newer = {**base, "polaris": "docker.io/apache/polaris:1.9.0"}
    fake = releases.Catalogue.model_validate({"releases": {
        "1.0.0": {"images": base}, "1.9.0": {"images": base}, "1.10.0": {"images": newer},
        "2.0.0": {"images": {**newer, "postgres": PG18}}}})
    monkeypatch.setattr(releases, "catalogue", lambda: fake)


def dev_at(version: str, **images: str) -> Environment:
    from floe.config.loader import load_environment

    dev = load_environment(ROOT / "environments" / "dev.yaml")
    return dev.model_copy(update={"platform_version": version, "images": images})


def test_an_unknown_version_is_refused_with_the_known_ones_in_release_order(catalogue: None) -> None:
    with pytest.raises(FloeError) as error:
        upgraded(dev_at("1.0.0"), "9.9.9")
    assert str(error.value) == ("'9.9.9' is not in the release catalogue (floe/releases.yaml); "
                                "known versions: 1.0.0, 1.9.0, 1.10.0, 2.0.0")


def test_versions_are_ordered_by_number_not_by_text(catalogue: None) -> None:
    assert upgraded(dev_at("1.9.0"), "1.10.0").platform_version == "1.10.0"
    with pytest.raises(FloeError) as error:
        upgraded(dev_at("1.10.0"), "1.9.0")
    assert str(error.value) == ("1.9.0 is older than dev's 1.10.0: a downgrade may not read data written by the "
                                "newer release; pass --allow-downgrade if you mean it")


def test_a_downgrade_passes_when_asked_for(catalogue: None) -> None:
    moved = upgraded(dev_at("1.10.0"), "1.9.0", allow_downgrade=True)
    assert moved.platform_version == "1.9.0"
    assert moved.release.images.polaris == releases.catalogue().releases["1.0.0"].images.polaris


def test_the_same_version_is_no_move(catalogue: None) -> None:
    assert upgraded(dev_at("1.10.0"), "1.10.0").platform_version == "1.10.0"


def test_a_postgresql_major_version_change_is_refused(catalogue: None) -> None:
    with pytest.raises(FloeError) as error:
        upgraded(dev_at("1.10.0"), "2.0.0")
    assert str(error.value) == (
        "PostgreSQL 17.11 → 18.1 changes the major version, which a rolling update cannot do (the data directory "
        "needs pg_upgrade or a dump and restore); migrate the databases first, then upgrade")


def test_an_image_override_stays_across_the_upgrade(catalogue: None) -> None:
    """Already on PostgreSQL 18 by an override: 2.0.0 changes no major version, and the override stays."""
    moved = upgraded(dev_at("1.10.0", postgres=PG18), "2.0.0")
    assert moved.release.images.postgres == PG18
    with pytest.raises(FloeError, match=r"^PostgreSQL 18\.1 → 17\.11 changes the major version"):
        upgraded(dev_at("2.0.0"), "1.10.0", allow_downgrade=True)


@pytest.mark.parametrize(("image", "major"), [
    ("docker.io/library/postgres:17.11", "17"),
    ("docker.io/library/postgres:16.4-alpine3.20", "16"),
    ("docker.io/library/postgres:18-alpine", "18"),
    ("registry.example.com:5000/postgres:15.8", "15"),
])
def test_the_major_version_is_the_tags_first_number(image: str, major: str) -> None:
    assert major_version(image) == major
