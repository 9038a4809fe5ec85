"""The Load-side step of file sync: bring a batch's files to the target root before its rows load."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from otter_core.contracts import FileSource
from otter_core.errors import FileChanged, LoadError, OtterError
from otter_core.files.collect import file_checksum
from otter_core.files.fetch import discard_parts, fetch_file, part_paths
from otter_core.files.guard import check_received, inside_root
from otter_core.model import EventData, FileAction, FileRef, RowBatch

log = logging.getLogger("otter.files")
MAX_CHANGES = 3  # a file rewritten this often while we copy it: give up for this batch (retried later)


@attrs.define
class FileStats:
    """Counters of one pipeline's file loading (read by benchmarks and tests)."""

    copied: int = 0
    skipped: int = 0
    deleted: int = 0
    gone: int = 0
    bytes: int = 0
    lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False, eq=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


def batch_files(batch: Any) -> list[FileRef]:
    """Every file of every event in ``batch`` (a RowBatch, or a list of events or of tuples ending in an
    event), the last action per target path winning: a row inserted then deleted in one batch only
    deletes."""
    last: dict[tuple[str, str], FileRef] = {}
    for event in _events(batch):
        for ref in event.files:
            last[(ref.target_root, ref.path)] = ref
    return list(last.values())


def _events(batch: Any) -> Iterable[EventData]:
    if isinstance(batch, RowBatch):
        yield from batch.events
        return
    for item in batch or ():
        if isinstance(item, EventData):
            yield item
        elif isinstance(item, tuple) and item and isinstance(item[-1], EventData):
            yield item[-1]


def target_is_current(ref: FileRef, target: str) -> bool:
    """Change detection: the target copy has the source's size and mtime, or (when the pair asks for
    checksums) the same content, in which case its mtime is brought in line."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return False
    if st.st_size != ref.size:
        return False
    if ref.checksum is None:
        return st.st_mtime_ns == ref.mtime_ns
    if file_checksum(target) != ref.checksum:
        return False
    if st.st_mtime_ns != ref.mtime_ns:
        os.utime(target, ns=(ref.mtime_ns, ref.mtime_ns))
    return True


class FileStage:
    """Loads files with ``file_load_pool_size`` threads; ``streams`` parallel ranges per big file.
    ``roots``: the target roots the pipeline configures; a file for another root, or whose path leaves
    its root (``..``, absolute, NUL, a symlink), is refused (None: any root, the path still checked)."""

    def __init__(
        self, pool_size: int, streams: int = 1, name: str = "files", roots: frozenset[str] | None = None
    ) -> None:
        self.pool = ThreadPoolExecutor(max_workers=max(1, pool_size), thread_name_prefix=name)
        self.streams = streams
        self.roots = roots
        self.stats = FileStats()

    def load(self, batch: Any, source: FileSource) -> int:
        """Write or delete every file of ``batch``; return how many were written or deleted. Raises
        ``LoadError`` naming the first file that failed (the batch's rows are then not loaded)."""
        refs = batch_files(batch)
        if not refs:
            source.release()
            return 0
        results = [(ref, self.pool.submit(self.load_one, ref, source)) for ref in refs]
        errors = []
        changed = 0
        for ref, future in results:
            try:
                changed += future.result()
            except Exception as exc:
                errors.append((ref, exc))
        if errors:
            first_ref, first_error = errors[0]
            retryable = first_error.retryable if isinstance(first_error, OtterError) else True
            raise LoadError(
                f"file {first_ref.describe()} could not be loaded ({len(errors)} of {len(refs)} files "
                f"failed): {first_error}",
                retryable=retryable,
            ) from first_error
        source.release()
        return changed

    def load_one(self, ref: FileRef, source: FileSource) -> int:
        target = inside_root(check_received(ref, self.roots))
        if ref.action is FileAction.DELETE:
            return self._delete(target)
        for _ in range(MAX_CHANGES):
            if target_is_current(ref, target):
                discard_parts(target)
                self.stats.add(skipped=1)
                return 0
            try:
                sent = fetch_file(ref, source.read, target, self.streams)
            except FileChanged as changed:
                if changed.size is None or changed.mtime_ns is None:  # raised with both or neither
                    log.warning(
                        "file %s was deleted on the source after its row was read: not copied (the "
                        "row that deleted it follows)",
                        ref.describe(),
                    )
                    self.stats.add(gone=1)
                    return 0
                ref = attrs.evolve(ref, size=changed.size, mtime_ns=changed.mtime_ns, checksum=None)
                continue
            self.stats.add(copied=1, bytes=sent)
            return 1
        raise LoadError(f"file {ref.describe()} kept changing while it was copied")

    def _delete(self, target: str) -> int:
        removed = 0
        for path in (target, *part_paths(target)):
            try:
                os.unlink(path)
                removed = removed or int(path == target)
            except FileNotFoundError:
                pass
        self.stats.add(deleted=removed)
        return removed

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
