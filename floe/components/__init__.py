"""The platform's components, each in its tier, with the components it depends on.

:data:`COMPONENTS` is the single list the app renders from; dependencies declared here are the
ones the startup-order tests (and later the network policies) are derived from.
"""

from collections.abc import Callable
from dataclasses import dataclass

from constructs import Construct

from floe.components import minio, namespaces, postgres
from floe.config.environment import Environment
from floe.tiers import FOUNDATION, STORAGE, Tier


@dataclass(frozen=True)
class Component:
    name: str
    tier: Tier
    render: Callable[[Construct, Environment], None]
    depends_on: tuple[str, ...] = ()


COMPONENTS: tuple[Component, ...] = (
    Component("namespaces", FOUNDATION, namespaces.render),
    Component("postgres", STORAGE, postgres.render, depends_on=("namespaces",)),
    Component("minio", STORAGE, minio.render, depends_on=("namespaces",)),
)
