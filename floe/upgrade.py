"""The rules of ``floe platform upgrade``: which platform version an environment may move to.

A version must be in the release catalogue; an older one is a downgrade, refused unless asked for
(the older release may not read data the newer one wrote); and the PostgreSQL major version must
stay, because a rolling update cannot convert a data directory. The command renders, guards and
writes; these rules decide before anything is rendered.
"""

from floe.config.environment import Environment
from floe.config.releases import image_tag, known_versions
from floe.errors import FloeError


def major_version(image: str) -> str:
    """The major version of an image's tag: ``postgres:16.4-alpine3.20`` → ``16``, ``postgres:17-alpine`` → ``17``."""
    return image_tag(image).split(".")[0].split("-")[0]


def upgraded(environment: Environment, version: str, *, allow_downgrade: bool = False) -> Environment:
    """``environment`` moved to platform ``version``, or a :class:`FloeError` saying why it may not move there."""
    current = environment.platform_version
    known = known_versions()
    if version not in known:
        raise FloeError(f"{version!r} is not in the release catalogue (floe/releases.yaml); "
                        f"known versions: {', '.join(known)}")
    # The catalogue's versions in release order (by number: 1.9.0 before 1.10.0); the current one is among them.
    if known.index(version) < known.index(current) and not allow_downgrade:
        raise FloeError(f"{version} is older than {environment.name}'s {current}: a downgrade may not read data "
                        "written by the newer release; pass --allow-downgrade if you mean it")
    moved = environment.model_copy(update={"platform_version": version})
    # The images the environment renders: an override in its ``images`` stays across the upgrade.
    old, new = environment.release.images.postgres, moved.release.images.postgres
    if major_version(old) != major_version(new):
        raise FloeError(f"PostgreSQL {image_tag(old)} → {image_tag(new)} changes the major version, which a "
                        "rolling update cannot do (the data directory needs pg_upgrade or a dump and restore); "
                        "migrate the databases first, then upgrade")
    return moved
