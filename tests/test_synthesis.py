"""Synthesis as a whole: determinism, atomic replacement (drift from dist/: tests/test_snapshots.py)."""

import errno
import filecmp
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from floe import synth
from floe.config.loader import load_environments
from floe.errors import FloeError
from floe.output import write_tree, writing_tree
from floe.synth import synthesize
from tests.conftest import ENVIRONMENT_NAMES, ROOT, tree


def test_two_renders_are_byte_identical_and_pass_jsiis_type_checks(fresh_dist: Path, tmp_path: Path) -> None:
    """The second render runs in a process of its own (another hash seed) without -O, so jsii checks the type of
    every argument floe hands the typed bindings at run time (the suite runs with -O, as renders do)."""
    result = subprocess.run([sys.executable, "main.py", "--outdir", str(tmp_path / "again")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    comparison = filecmp.dircmp(fresh_dist, tmp_path / "again")
    assert tree(fresh_dist) == tree(tmp_path / "again"), comparison.report()


def test_each_environment_renders_into_its_own_folder_by_tier(fresh_dist: Path) -> None:
    assert sorted(p.name for p in fresh_dist.iterdir()) == sorted([*ENVIRONMENT_NAMES, "gitops"])
    assert sorted(p.name for p in (fresh_dist / "gitops").iterdir()) == sorted(ENVIRONMENT_NAMES)
    for environment in ENVIRONMENT_NAMES:
        folders = sorted(p.name for p in (fresh_dist / environment).iterdir())
        assert folders[:2] == ["00-foundation", "10-storage"]


def test_rendering_one_environment_leaves_the_others(tmp_path: Path) -> None:
    outdir = tmp_path / "dist"
    (outdir / "prod").mkdir(parents=True)
    (outdir / "prod" / "keep.yaml").write_text("kept\n")
    (outdir / "dev").mkdir()
    (outdir / "dev" / "stale.yaml").write_text("stale\n")
    synthesize(outdir, ["dev"], environments_dir=ROOT / "environments")
    assert (outdir / "prod" / "keep.yaml").read_text() == "kept\n"
    assert not (outdir / "dev" / "stale.yaml").exists()
    assert (outdir / "dev" / "10-storage" / "11-serve" / "statefulset-minio.yaml").exists()


def test_write_tree_removes_stale_files_and_leaves_no_staging(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_tree(target, {"a/one.yaml": "1\n", "b/two.yaml": "2\n"})
    write_tree(target, {"a/one.yaml": "1\n"})
    assert tree(target) == {"a/one.yaml": b"1\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_tree_failure_keeps_the_previous_tree(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_tree(target, {"one.yaml": "1\n"})
    with pytest.raises(FloeError, match="cannot write .*out: Is a directory"):
        # A file and a folder of the same name: folders are made first, then writing the file fails.
        write_tree(target, {"x/y.yaml": "y\n", "x": "clash\n"})
    assert tree(target) == {"one.yaml": b"1\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_render_failing_after_files_were_written_leaves_the_previous_tree(tmp_path: Path) -> None:
    """synthesize() writes each environment while the next renders: a later one failing must change nothing."""
    target = tmp_path / "out"
    write_tree(target, {"one.yaml": "1\n"})
    with pytest.raises(FloeError, match="staging does not render"), writing_tree(target) as write:
        write({"dev/a.yaml": "a\n", "dev/b/c.yaml": "c\n"})
        raise FloeError("staging does not render")
    assert tree(target) == {"one.yaml": b"1\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_files_written_in_several_calls_make_one_tree(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_tree(target, {"stale.yaml": "0\n"})
    with writing_tree(target) as write:
        write({"dev/a.yaml": "a\n"})
        write({"dev/b.yaml": "b\n", "prod/a.yaml": "p\n"})
    assert tree(target) == {"dev/a.yaml": b"a\n", "dev/b.yaml": b"b\n", "prod/a.yaml": b"p\n"}


def test_a_rewritten_file_with_the_same_bytes_is_the_old_file_linked_and_a_changed_one_is_new(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write_tree(target, {"same.yaml": "1\n", "changed.yaml": "a\n"})
    before = {name: (target / name).stat() for name in ("same.yaml", "changed.yaml")}
    write_tree(target, {"same.yaml": "1\n", "changed.yaml": "b\n", "new.yaml": "n\n"})
    assert tree(target) == {"same.yaml": b"1\n", "changed.yaml": b"b\n", "new.yaml": b"n\n"}
    same = (target / "same.yaml").stat()
    assert (same.st_ino, same.st_mtime_ns) == (before["same.yaml"].st_ino, before["same.yaml"].st_mtime_ns)
    assert same.st_nlink == 1  # the replaced tree is gone: nothing else shares the file
    assert (target / "changed.yaml").stat().st_ino != before["changed.yaml"].st_ino


def test_a_link_in_the_old_tree_is_never_linked_into_the_new_one(tmp_path: Path) -> None:
    """A dist/ file made a symlink to a file elsewhere: the render writes a file of its own, the other is left."""
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("1\n")
    target = tmp_path / "out"
    write_tree(target, {"a.yaml": "0\n"})
    (target / "a.yaml").unlink()
    (target / "a.yaml").symlink_to(elsewhere)
    write_tree(target, {"a.yaml": "1\n"})
    assert not (target / "a.yaml").is_symlink()
    assert (target / "a.yaml").stat().st_ino != elsewhere.stat().st_ino
    assert elsewhere.stat().st_nlink == 1


def test_without_hard_links_every_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out"
    write_tree(target, {"a.yaml": "1\n"})
    def refused(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr("os.link", refused)
    write_tree(target, {"a.yaml": "1\n", "b.yaml": "2\n"})
    assert tree(target) == {"a.yaml": b"1\n", "b.yaml": b"2\n"}


def test_the_bridge_starts_with_every_generated_binding() -> None:
    """A binding first imported by the render would talk to the bridge while its starting thread still does:
    jsii's one pipe is not safe for two threads, and a render hung so (cdk8s synth, waiting for ever)."""
    bindings = {".".join(path.parent.relative_to(ROOT).parts)
                for path in (ROOT / "floe" / "imports").rglob("_jsii") if path.is_dir()}
    assert bindings == {"floe.imports.io.argoproj", "floe.imports.io.cert_manager",
                        "floe.imports.io.fluxcd.toolkit.kustomize", "floe.imports.io.fluxcd.toolkit.source"}
    assert bindings <= set(synth.BRIDGE_MODULES)


def test_a_render_waits_until_the_bridge_has_started() -> None:
    [dev] = load_environments(["dev"], ROOT / "environments")
    synth.render(dev)  # everything imported: a render takes a fraction of a second now
    finished = threading.Event()
    render = threading.Thread(target=lambda: (synth.render(dev), finished.set()))
    with synth._BRIDGE_STARTING:  # as while _start_bridge's thread loads the bindings
        render.start()
        assert not finished.wait(1), "the render talked to the bridge before it had started"  # a render: 0.05 s
    assert finished.wait(60)
    render.join()
