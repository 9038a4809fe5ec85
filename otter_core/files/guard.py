"""Checks of file references that arrive from another node (gRPC) before anything is written.

A ``FileRef`` received over the network is data, not configuration: its ``path`` could hold ``..``, an
absolute path or a NUL, and its ``target_root`` could name any directory. A node writes a received file
only when the path is relative and normalised, the root is one its own pipeline configures (a pair's
``file_resolver`` ``target_root``), and the real location, symlinks followed, stays inside that root.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Collection, Iterable

from otter_core.errors import DataError
from otter_core.model import FileRef, Pipeline

REMEDY = "the sending node is misconfigured or not trusted: check its file_resolver and who can reach it"


def target_roots(pipeline: Pipeline) -> frozenset[str]:
    """The ``target_root`` of every pair of ``pipeline`` that syncs files (what this node may write)."""
    return frozenset(
        str(p.file_resolver_options.get("target_root"))
        for p in pipeline.pairs
        if p.file_resolver and p.file_resolver_options.get("target_root")
    )


def _refuse(ref: FileRef, why: str) -> DataError:
    return DataError(
        f"received file {ref.path!r} (root {ref.target_root!r}) refused: {why}; {REMEDY}", retryable=False
    )


def check_received(ref: FileRef, roots: Collection[str] | None) -> FileRef:
    """``ref`` when its path is a normalised relative path and its target root is one of ``roots`` (None:
    any root, only the path is checked); DataError naming the file and the reason otherwise."""
    path = ref.path
    if not isinstance(path, str) or not path:
        raise _refuse(ref, "the path is empty")
    for name, value in (("path", path), ("target_root", ref.target_root), ("source_root", ref.source_root)):
        if not isinstance(value, str) or "\x00" in value:
            raise _refuse(ref, f"the {name} holds a NUL byte or is not text")
    if path.startswith("/") or "\\" in path or posixpath.isabs(path):
        raise _refuse(ref, "the path is absolute (or uses backslashes)")
    if ".." in path.split("/"):
        raise _refuse(ref, "the path climbs out of the root with '..'")
    if posixpath.normpath(path) != path:
        raise _refuse(ref, f"the path is not normalised (expected {posixpath.normpath(path)!r})")
    if roots is not None and ref.target_root not in roots:
        allowed = ", ".join(sorted(roots)) or "none: no pair of this pipeline syncs files"
        raise _refuse(ref, f"the target root is not one this pipeline configures ({allowed})")
    return ref


def check_all(refs: Iterable[FileRef], roots: Collection[str] | None) -> tuple[FileRef, ...]:
    return tuple(check_received(ref, roots) for ref in refs)


def inside_root(ref: FileRef) -> str:
    """The target file's path, when it stays inside the root with symlinks followed (a link planted in
    the target tree must not redirect the write); DataError otherwise."""
    root = os.path.realpath(ref.target_root)
    target = os.path.join(ref.target_root, ref.path)
    real = os.path.realpath(target)
    if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
        raise _refuse(ref, f"it resolves to {real!r} outside the root (a symlink on the way)")
    return target
