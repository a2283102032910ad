"""The pinned Dagster, built once into its own cached virtual environment (``cached_venv``).

The platform runs ``docker.io/dagster/dagster-k8s:1.13.24``; the conformance tests run the same
Dagster release, and the integration libraries released with it, from PyPI in an environment of
their own so that none of their pins reach the project's ``.venv``.
"""

from pathlib import Path

from tests.conformance.cached_venv import ensure_venv

DAGSTER_VERSION = "1.13.24"
"""The tag of the pinned dagster-k8s image is the version of the ``dagster`` package it bundles."""
LIBRARY_VERSION = "0.29.24"
"""Dagster's integration libraries are released with it as 0.(minor + 16).patch."""
REQUIREMENTS = (
    f"dagster=={DAGSTER_VERSION}",
    f"dagster-webserver=={DAGSTER_VERSION}",
    f"dagster-graphql=={DAGSTER_VERSION}",
    f"dagster-k8s=={LIBRARY_VERSION}",
    f"dagster-postgres=={LIBRARY_VERSION}",
    # The S3 compute log manager (the instance's `compute_logs`) is dagster-aws's.
    f"dagster-aws=={LIBRARY_VERSION}",
    # dagster-postgres 0.29 breaks on SQLAlchemy 2.1, which pip would otherwise pick.
    "sqlalchemy<2.1",
)
NAME = f"dagster-{DAGSTER_VERSION}"
VENV = (NAME, REQUIREMENTS)


def ensure_dagster() -> tuple[Path, float | None]:
    """The environment's ``bin`` folder (built first if needed) and the seconds a build took, None when reused."""
    python, seconds = ensure_venv(NAME, REQUIREMENTS)
    return python.parent, seconds


if __name__ == "__main__":
    _, built = ensure_dagster()
    print("reused" if built is None else f"built in {built:.0f}s")
