"""The memory arbitrator: processIds and the permit in memory, acked positions in the state directory."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Any

from otter_core.hookspecs import hookimpl
from otter_core.model import Pipeline, Position
from otter_core.state import PositionStore


class MemoryArbitrator:
    """Coordinates the stages of a pipeline that runs entirely in this process.

    Acked positions are written to disk by a writer thread, newest first, so the Load thread never waits
    for an fsync. A crash may then lose the last few acks: the pipeline re-reads those batches and, Load
    being idempotent, applies them again with the same result. ``flush()`` writes the newest ack now.
    The writer ends after ``writer_idle_s`` without acks (the next ack starts a new one), so a stopped
    pipeline leaves no thread behind.
    """

    writer_idle_s = 10.0

    def __init__(self, store: PositionStore) -> None:
        self.store = store
        self._unsaved: tuple[int, Position] | None = None
        self._saving = threading.Condition()  # guards _unsaved only: ack() never waits for a disk write
        self._file_lock = threading.Lock()
        self._saved_id = 0
        self._writer: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._permit = threading.Event()
        self._permit.set()
        self.reason = ""
        self._acked = store.load()

    def next_process_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def acked_position(self) -> Position | None:
        return self._acked

    def pin_start(self, position: Position, origin: Mapping[str, Any]) -> None:
        """Save the pipeline's resolved start at once (before anything is read), so that a retry or a
        restart before the first ack resumes there instead of resolving ``start:`` again."""
        with self._file_lock:
            self.store.pin(position, origin)
            self._acked = position

    def saved_start(self) -> Mapping[str, Any] | None:
        """The ``start:`` setting (or ``position set``) the saved position descends from, if known."""
        return self.store.origin

    def ack(self, process_id: int, position: Position) -> None:
        self._acked = position
        with self._saving:
            self._unsaved = (process_id, position)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_acks, name="ack-writer", daemon=True)
                self._writer.start()
            self._saving.notify_all()

    def _write_acks(self) -> None:
        while True:
            with self._saving:
                if not self._saving.wait_for(lambda: self._unsaved is not None, timeout=self.writer_idle_s):
                    self._writer = None  # under the lock ack() checks it with: no ack is left unsaved
                    return
            self.flush()

    def flush(self) -> None:
        """Write the newest acked position to disk before returning."""
        # the file lock first: if the writer thread has just taken the newest ack and is saving it,
        # wait for that save instead of returning before the position is on disk
        with self._file_lock:
            with self._saving:
                unsaved, self._unsaved = self._unsaved, None
            if unsaved is None:
                return
            process_id, position = unsaved
            if process_id > self._saved_id:  # never let a slower writer put back an older position
                self.store.save(position, process_id)
                self._saved_id = process_id

    def permit(self) -> bool:
        return self._permit.is_set()

    def set_permit(self, allowed: bool, reason: str = "") -> None:
        self.reason = reason
        if allowed:
            self._permit.set()
        else:
            self._permit.clear()


@hookimpl
def otter_arbitrator(name: str, pipeline: Pipeline, channel: str, state_dir: str) -> MemoryArbitrator | None:
    if name != "memory":
        return None
    return MemoryArbitrator(PositionStore(state_dir, channel, pipeline.name))
