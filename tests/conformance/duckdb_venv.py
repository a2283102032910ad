"""DuckDB as the pinned Cube image embeds it, with its extensions, built once (``cached_venv``).

The pinned Cube (``cubejs/cube:v1.8.30``) runs DuckDB through ``@duckdb/node-api``. Cube 1.8.30's own
manifest could not be read here; the nearest published one, ``@cubejs-backend/duckdb-driver`` 1.7.43,
depends on ``@duckdb/node-api`` 1.5.5-r.5, which is DuckDB 1.5.5. The conformance tests run that DuckDB
release from PyPI, and the extensions Cube's configuration installs from DuckDB's own extension wheels
(``duckdb-extension-<name>``, each holding ``extensions/v<version>/<name>.duckdb_extension``, the file
``extensions.duckdb.org`` serves gzipped), in an environment of their own under ``.cache/``.
"""

from pathlib import Path

from tests.conformance.cached_venv import CACHE, ensure_venv

DUCKDB_VERSION = "1.5.5"
EXTENSIONS = ("httpfs", "avro", "iceberg")
REQUIREMENTS = (f"duckdb=={DUCKDB_VERSION}",
                *(f"duckdb-extension-{name}=={DUCKDB_VERSION}" for name in EXTENSIONS))
NAME = f"duckdb-{DUCKDB_VERSION}"
VENV = (NAME, REQUIREMENTS)


def ensure_duckdb() -> tuple[Path, float | None]:
    """The environment's python, built first if needed; and the seconds a build took (None when reused)."""
    return ensure_venv(NAME, REQUIREMENTS)


def extension_file(name: str) -> Path:
    """Where the extension's wheel put the file DuckDB installs."""
    found = list((CACHE / NAME / "lib").glob(f"python3*/site-packages/duckdb_extension_{name}/extensions/"
                                              f"v{DUCKDB_VERSION}/{name}.duckdb_extension"))
    if len(found) != 1:
        raise FileNotFoundError(f"the {name} extension of DuckDB {DUCKDB_VERSION} is not in {CACHE / NAME}")
    return found[0]


if __name__ == "__main__":
    _, seconds = ensure_duckdb()
    print("reused" if seconds is None else f"built in {seconds:.0f}s")
