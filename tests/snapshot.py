"""A syrupy extension whose snapshot store is the committed ``dist/`` itself.

There is one copy of the rendered YAML: ``pytest --snapshot-update`` rewrites ``dist/`` from a
fresh render, and a plain run fails on any file that differs, is missing, or is stale (syrupy
reports stale files as unused snapshots).
"""

from pathlib import Path

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

DIST = Path(__file__).resolve().parent.parent / "dist"


class DistSnapshotExtension(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "yaml"

    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(DIST)

    @classmethod
    def discovery_dirname(cls, *, test_location) -> str:
        return str(DIST)

    @classmethod
    def get_snapshot_name(cls, *, test_location, index=0) -> str:
        # The index is the object's path under dist/, e.g. "dev/10-storage/statefulset-minio".
        return str(index)
