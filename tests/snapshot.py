"""A syrupy extension whose snapshot store is the committed ``dist/`` itself.

There is one copy of the rendered YAML: ``pytest --snapshot-update`` rewrites ``dist/`` from a
fresh render, and a plain run fails on any file that differs, is missing, or is stale (syrupy
reports stale files as unused snapshots).
"""

from pathlib import Path

from syrupy.data import Snapshot, SnapshotCollection
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

DIST = Path(__file__).resolve().parent.parent / "dist"


class DistSnapshotExtension(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = ""  # the snapshot's name carries its own (.yaml, .md)

    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(DIST)

    @classmethod
    def discovery_dirname(cls, *, test_location) -> str:
        return str(DIST)

    @classmethod
    def get_snapshot_name(cls, *, test_location, index=0) -> str:
        # The index is the file's path under dist/, e.g. "dev/10-storage/11-serve/statefulset-minio.yaml".
        return str(index)

    def read_snapshot_collection(self, *, snapshot_location: str) -> SnapshotCollection:
        # Name a discovered file as it was asserted: its path under dist/.
        collection = SnapshotCollection(location=snapshot_location)
        collection.add(Snapshot(name=str(Path(snapshot_location).relative_to(DIST))))
        return collection
