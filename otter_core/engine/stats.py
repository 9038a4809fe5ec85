"""Live figures of a pipeline: rows/s, lag, position, state, last error."""
from __future__ import annotations

import collections
import threading
import time
from typing import Any

from attrs import define, field

from otter_core.model import Position


@define
class PipelineStats:
    channel: str
    pipeline: str
    state: str = "starting"
    rows_loaded: int = 0
    batches_loaded: int = 0
    position: Position | None = None
    last_event_time: float = 0.0
    last_load_time: float = 0.0
    last_error: str = ""
    restarts: int = 0
    snapshot: Any = None  # the initial load's SnapshotProgress (engine/snapshot.py), set by the runner
    _recent: collections.deque = field(factory=lambda: collections.deque(maxlen=64))
    _lock: threading.Lock = field(factory=threading.Lock)

    def record_batch(self, rows: int, position: Position, event_time: float) -> None:
        now = time.time()
        with self._lock:
            self.rows_loaded += rows
            self.batches_loaded += 1
            self.position = position
            if event_time:
                self.last_event_time = event_time
            self.last_load_time = now
            self._recent.append((now, self.rows_loaded))

    def rows_per_second(self, window: float = 5.0) -> float:
        now = time.time()
        with self._lock:
            points = [p for p in self._recent if now - p[0] <= window]
        if not points:
            return 0.0
        first_time, first_rows = points[0]
        span = max(now - first_time, 1.0)
        return (self.rows_loaded - first_rows) / span

    def lag_seconds(self, idle: bool) -> float:
        """Seconds the target is behind the source: 0 when everything read has been loaded."""
        if idle or not self.last_event_time:
            return 0.0
        return max(0.0, self.last_load_time - self.last_event_time)

    def summary(self, idle: bool) -> dict:
        return {"channel": self.channel, "pipeline": self.pipeline, "state": self.state,
                "rows": self.rows_loaded, "rows_per_s": round(self.rows_per_second(), 1),
                "lag_s": round(self.lag_seconds(idle), 3),
                "position": str(self.position) if self.position else "", "error": self.last_error,
                "restarts": self.restarts,
                "snapshot": self.snapshot.as_dict() if self.snapshot is not None else None}
