"""Live figures of a pipeline: rows/s, bytes/s, lag, I/U/D per table, stage timings, position, last error.

``summary()`` is what ``otter-run run`` prints, writes to its status file (``--status-file``) and what a
node publishes to ZooKeeper; the manager's collector samples it into history.
"""

from __future__ import annotations

import collections
import operator
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import define, field

from otter_core.model import EventData, EventType, Position

STAGES = ("select", "extract", "transform", "load")
_COUNTED = {EventType.INSERT: "I", EventType.UPDATE: "U", EventType.DELETE: "D"}
_TABLE_AND_KIND = operator.attrgetter("schema", "table", "event_type")


def count_by_table(events: Iterable[EventData]) -> dict[str, dict[str, int]]:
    """``{"schema.table": {"I": n, "U": n, "D": n}}`` of the row events (DDL is not counted)."""
    counts: dict[tuple, int] = {}
    run: tuple | None = None  # a rows event's events share their strings: counted as one run
    n = 0
    for event in events:
        if (
            run is None
            or event.schema is not run[0]
            or event.table is not run[1]
            or event.event_type is not run[2]
        ):
            if run is not None:
                counts[run] = counts.get(run, 0) + n
            run, n = _TABLE_AND_KIND(event), 0
        n += 1
    if run is not None:
        counts[run] = counts.get(run, 0) + n
    tables: dict[str, dict[str, int]] = {}
    for (schema, table, kind), n in counts.items():
        letter = _COUNTED.get(kind)
        if letter is not None:
            tables.setdefault(f"{schema}.{table}", {"I": 0, "U": 0, "D": 0})[letter] += n
    return tables


@define
class PipelineStats:
    channel: str
    pipeline: str
    state: str = "starting"
    rows_loaded: int = 0
    batches_loaded: int = 0
    bytes_loaded: int = 0
    position: Position | None = None
    last_event_time: float = 0.0
    last_load_time: float = 0.0
    last_error: str = ""
    last_error_time: float = 0.0
    restarts: int = 0
    snapshot: Any = None  # the initial load's SnapshotProgress (engine/snapshot.py), set by the runner
    tables: dict = field(factory=dict)  # "schema.table" -> {"I": n, "U": n, "D": n}, source names
    stage_ms_total: dict = field(factory=lambda: dict.fromkeys(STAGES, 0.0))
    stage_ms_last: dict = field(factory=lambda: dict.fromkeys(STAGES, 0.0))
    _recent: collections.deque = field(factory=lambda: collections.deque(maxlen=64))
    _lock: threading.Lock = field(factory=threading.Lock)

    def record_batch(
        self,
        rows: int,
        position: Position,
        event_time: float,
        size: int = 0,
        tables: Mapping[str, Mapping[str, int]] | None = None,
        stage_ms: Mapping[str, float] | None = None,
    ) -> None:
        """Count a loaded and acked batch: its rows, bytes, I/U/D per table and milliseconds per stage."""
        now = time.time()
        with self._lock:
            self.rows_loaded += rows
            self.batches_loaded += 1
            self.bytes_loaded += size
            self.position = position
            if event_time:
                self.last_event_time = event_time
            self.last_load_time = now
            for name, kinds in (tables or {}).items():
                mine = self.tables.setdefault(name, {"I": 0, "U": 0, "D": 0})
                for kind, n in kinds.items():
                    mine[kind] = mine.get(kind, 0) + n
            for stage, ms in (stage_ms or {}).items():
                self.stage_ms_last[stage] = ms
                self.stage_ms_total[stage] = self.stage_ms_total.get(stage, 0.0) + ms
            lag = max(0.0, now - event_time) if event_time else 0.0
            self._recent.append((now, self.rows_loaded, self.bytes_loaded, lag))

    def record_error(self, error: BaseException | str) -> None:
        self.last_error = str(error)
        self.last_error_time = time.time()

    def _rates(self, window: float = 5.0) -> tuple[float, float, float]:
        """Rows/s and bytes/s over the last ``window`` seconds, and the largest delay of a batch loaded then."""
        now = time.time()
        with self._lock:
            points = [p for p in self._recent if now - p[0] <= window]
            rows, size = self.rows_loaded, self.bytes_loaded
        if not points:
            return 0.0, 0.0, 0.0
        first_time, first_rows, first_bytes, _ = points[0]
        span = max(now - first_time, 1.0)
        return (rows - first_rows) / span, (size - first_bytes) / span, max(p[3] for p in points)

    def rows_per_second(self, window: float = 5.0) -> float:
        return self._rates(window)[0]

    def lag_seconds(self, idle: bool) -> float:
        """Seconds the target is behind the source: 0 when everything read has been loaded."""
        if idle or not self.last_event_time:
            return 0.0
        return max(0.0, self.last_load_time - self.last_event_time)

    def summary(self, idle: bool) -> dict:
        rows_per_s, bytes_per_s, recent_lag = self._rates()
        with self._lock:
            tables = {name: dict(kinds) for name, kinds in self.tables.items()}
            stage_total = {k: round(v, 3) for k, v in self.stage_ms_total.items()}
            stage_last = {k: round(v, 3) for k, v in self.stage_ms_last.items()}
        return {
            "channel": self.channel,
            "pipeline": self.pipeline,
            "state": self.state,
            "rows": self.rows_loaded,
            "rows_per_s": round(rows_per_s, 1),
            "batches": self.batches_loaded,
            "bytes": self.bytes_loaded,
            "bytes_per_s": round(bytes_per_s, 1),
            "lag_s": round(self.lag_seconds(idle), 3),
            "lag_max_5s": round(recent_lag, 3),
            "position": str(self.position) if self.position else "",
            "position_detail": self.position.to_dict() if self.position else None,
            "last_load_time": self.last_load_time,
            "last_event_time": self.last_event_time,
            "error": self.last_error,
            "error_time": self.last_error_time,
            "restarts": self.restarts,
            "tables": tables,
            "stage_ms_total": stage_total,
            "stage_ms_last": stage_last,
            "snapshot": self.snapshot.as_dict() if self.snapshot is not None else None,
        }
