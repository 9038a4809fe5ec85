"""The memory arbitrator: processIds and the permit in memory, acked positions in the state directory."""
from __future__ import annotations

import itertools
import threading

from otter_core.hookspecs import hookimpl
from otter_core.model import Pipeline, Position
from otter_core.state import PositionStore


class MemoryArbitrator:
    """Coordinates the stages of a pipeline that runs entirely in this process."""

    def __init__(self, store: PositionStore) -> None:
        self.store = store
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

    def ack(self, process_id: int, position: Position) -> None:
        self.store.save(position, process_id)
        self._acked = position

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
