"""Reading a folder's files as a git commit holds them: the base ``floe diff`` compares a fresh render with.

The ``git`` program does the work (``rev-parse``, ``ls-tree``, one ``cat-file --batch`` for every file),
so whatever the repository is (a worktree, a shallow CI clone) reads as git itself reads it.
"""

import subprocess
from collections.abc import Iterable
from pathlib import Path

from floe.errors import FloeError

TIMEOUT_SECONDS = 60


class GitError(FloeError):
    """git is missing, the folder is not in a repository, or a ref names no commit."""


class GitMissing(GitError):
    """No ``git`` program on PATH."""


def git(where: Path, *args: str, stdin: str | None = None) -> str:
    """The output of ``git <args>`` run in ``where``; its last error line as a :class:`GitError` when it fails."""
    try:
        result = subprocess.run(["git", *args], cwd=where, input=stdin, capture_output=True, text=True,
                                check=False, timeout=TIMEOUT_SECONDS)
    except FileNotFoundError:
        raise GitMissing("comparing with a commit needs git, which is not on PATH") from None
    if result.returncode:
        reason = (result.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise GitError(f"git {args[0]} failed in {where}: {reason}")
    return result.stdout


def commit_of(where: Path, ref: str, length: int = 40) -> str:
    """The commit ``ref`` names in the repository holding ``where``, abbreviated to ``length`` hex digits."""
    return _commit(_top(where, ref), ref, length)


def committed_files(ref: str, folder: Path, under: Iterable[str] | None = None) -> dict[str, str]:
    """The files of ``folder`` as committed at ``ref`` (only those below its sub-folders ``under``, if given),
    keyed by path relative to ``folder``; nothing when the commit has none there."""
    top = _top(folder.resolve().parent, ref)
    _commit(top, ref)
    base = folder.resolve().relative_to(top).as_posix()
    specs = [base] if under is None else [f"{base}/{sub}" for sub in under]
    paths = [line for line in git(top, "ls-tree", "-r", "--name-only", ref, "--", *specs).splitlines()
             if line] if specs else []
    if not paths:
        return {}
    batch = git(top, "cat-file", "--batch", stdin="".join(f"{ref}:{path}\n" for path in paths)).encode("utf-8")
    files = {}
    for path in paths:
        header, batch = batch.split(b"\n", 1)
        size = int(header.split()[2])
        files[path.removeprefix(f"{base}/")], batch = batch[:size].decode("utf-8"), batch[size + 1:]
    return files


def _top(where: Path, ref: str) -> Path:
    """The working tree's top folder of the repository holding ``where``."""
    try:
        return Path(git(where, "rev-parse", "--show-toplevel").strip())
    except GitMissing:
        raise
    except GitError:
        raise GitError(f"{ref}: {where} is not inside a git repository") from None


def _commit(top: Path, ref: str, length: int = 40) -> str:
    try:
        return git(top, "rev-parse", f"--short={length}", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except GitError:
        raise GitError(f"{ref}: not a commit, branch or tag of the repository at {top}") from None
