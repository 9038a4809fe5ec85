"""Live figures of a pipeline: rows/s, bytes/s, lag, I/U/D per table, stage timings, position, last error.

``summary()`` is what ``otter-run run`` prints, writes to its status file (``--status-file``) and what a
node publishes to ZooKeeper; the manager's collector, ``/metrics`` and the alarms read it, so they all see
the same figures.

Rates are rows (bytes) loaded in the last ``RATE_WINDOW_SECONDS`` by load time, divided by that window (by
the time since counting began while that is shorter): right at any batch size, and 0 once a whole window
passed without a load. The lag counts from the commit time of the oldest event read but not yet applied,
so it keeps growing while nothing is applied (a pipeline retrying or stalled never shows 0).
"""

from __future__ import annotations

import collections
import operator
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from attrs import define, field

from otter_core.engine.snapshot_bulk import ChunkEvent
from otter_core.model import EventData, EventType, Position

STAGES = ("select", "extract", "transform", "load")
_COUNTED = {EventType.INSERT: "I", EventType.UPDATE: "U", EventType.DELETE: "D"}
_TABLE_AND_KIND = operator.attrgetter("schema", "table", "event_type")
RATE_WINDOW_SECONDS = 5.0
BUCKET_SECONDS = 0.1  # loads are summed per tenth of a second: memory bounded at any batch rate
_FLOOR = -1  # pending key of the oldest event a rollback left unapplied (until it is selected again)


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
            or type(event) is ChunkEvent
        ):
            if run is not None:
                counts[run] = counts.get(run, 0) + n
            run, n = _TABLE_AND_KIND(event), 0
            if type(event) is ChunkEvent:  # an initial-load chunk as one block: counts its rows
                counts[run] = counts.get(run, 0) + event.block.rows
                run = None
                continue
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
    last_error_class: str = ""  # deterministic, transient or unknown (otter_core.errors)
    restarts: int = 0
    attempt: int = 0  # failed attempts in a row while retrying (0: not retrying)
    next_try_time: float = 0.0  # when the next attempt starts (epoch seconds), while retrying
    stall_seconds: float = 60.0  # nothing applied this long while events wait: "stalled"
    snapshot: Any = None  # the initial load's SnapshotProgress (engine/snapshot.py), set by the runner
    tables: dict = field(factory=dict)  # "schema.table" -> {"I": n, "U": n, "D": n}, source names
    stage_ms_total: dict = field(factory=lambda: dict.fromkeys(STAGES, 0.0))
    stage_ms_last: dict = field(factory=lambda: dict.fromkeys(STAGES, 0.0))
    clock: Callable[[], float] = time.time  # injected by tests
    started: float = 0.0  # when counting began (the rates' window is never longer than this ago)
    # per tenth of a second of load time: [bucket, rows, bytes, largest lag of a batch loaded then]
    _buckets: collections.deque = field(factory=collections.deque)
    # process id -> (commit time of its oldest event, when it was read) of batches read, not yet applied
    _pending: dict = field(factory=dict)
    _lock: threading.Lock = field(factory=threading.Lock)

    def __attrs_post_init__(self) -> None:
        self.started = self.started or self.clock()

    def selected(self, process_id: int, event_time: float) -> None:
        """A batch was read whose oldest event committed at ``event_time`` (0: unknown)."""
        with self._lock:
            self._pending.pop(_FLOOR, None)  # the replay re-read the oldest unapplied events
            self._pending[process_id] = (event_time, self.clock())

    def rolled_back(self) -> None:
        """Every batch read but not applied is dropped and will be read again: its oldest event stays
        unapplied meanwhile (the lag keeps growing from it)."""
        with self._lock:
            known = [p for p in self._pending.values() if p[0]]
            self._pending.clear()
            if known:
                self._pending[_FLOOR] = min(known)

    def has_pending(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def retrying(self, attempt: int, delay: float) -> None:
        """The pipeline failed ``attempt`` times in a row and tries again in ``delay`` seconds."""
        self.state, self.attempt, self.next_try_time = "retrying", attempt, self.clock() + delay

    def resumed(self) -> None:
        """A retry got going (a batch was applied, or nothing waits): running again."""
        if self.state == "retrying":
            self.state = "running"
        self.attempt, self.next_try_time = 0, 0.0

    def record_batch(
        self,
        rows: int,
        position: Position,
        event_time: float,
        size: int = 0,
        tables: Mapping[str, Mapping[str, int]] | None = None,
        stage_ms: Mapping[str, float] | None = None,
        process_id: int | None = None,
    ) -> None:
        """Count a loaded and acked batch: its rows, bytes, I/U/D per table and milliseconds per stage."""
        now = self.clock()
        with self._lock:
            self.rows_loaded += rows
            self.batches_loaded += 1
            self.bytes_loaded += size
            self.position = position
            if event_time:
                self.last_event_time = event_time
            self.last_load_time = now
            oldest = self._pending.pop(process_id, None) if process_id is not None else None
            for name, kinds in (tables or {}).items():
                mine = self.tables.setdefault(name, {"I": 0, "U": 0, "D": 0})
                for kind, n in kinds.items():
                    mine[kind] = mine.get(kind, 0) + n
            for stage, ms in (stage_ms or {}).items():
                self.stage_ms_last[stage] = ms
                self.stage_ms_total[stage] = self.stage_ms_total.get(stage, 0.0) + ms
            since = oldest[0] if oldest and oldest[0] else event_time
            lag = max(0.0, now - since) if since else 0.0
            bucket = int(now / BUCKET_SECONDS)
            if self._buckets and self._buckets[-1][0] == bucket:
                last = self._buckets[-1]
                last[1] += rows
                last[2] += size
                last[3] = max(last[3], lag)
            else:
                self._buckets.append([bucket, rows, size, lag])
            self._forget(now)
        if self.state == "retrying":
            self.resumed()

    def _forget(self, now: float) -> None:
        """Drop buckets that ended before the rate window (called under the lock)."""
        oldest = int((now - RATE_WINDOW_SECONDS) / BUCKET_SECONDS)
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()

    def record_error(self, error: BaseException | str, error_class: str = "") -> None:
        self.last_error = str(error)
        self.last_error_class = error_class
        self.last_error_time = self.clock()

    def _rates(self, now: float) -> tuple[float, float, float]:
        """Rows/s and bytes/s over the rate window ending at ``now``, and the largest lag of a batch
        loaded in it. A bucket counts when it began after the window's start."""
        with self._lock:
            self._forget(now)
            first = (now - RATE_WINDOW_SECONDS) / BUCKET_SECONDS
            inside = [b for b in self._buckets if b[0] >= first]
        if not inside:
            return 0.0, 0.0, 0.0
        span = min(RATE_WINDOW_SECONDS, max(now - self.started, 1.0))  # no spike in the first second
        rows = sum(b[1] for b in inside)
        size = sum(b[2] for b in inside)
        return rows / span, size / span, max(b[3] for b in inside)

    def rows_per_second(self) -> float:
        return self._rates(self.clock())[0]

    def lag_seconds(self, idle: bool, now: float | None = None) -> float:
        """Seconds the target is behind the source: from the oldest event read and not yet applied; when
        nothing waits, the delay of the last batch applied (0 once idle)."""
        now = self.clock() if now is None else now
        with self._lock:
            waiting = [p[0] for p in self._pending.values() if p[0]]
        if waiting:
            return max(0.0, now - min(waiting))
        if idle or not self.last_event_time:
            return 0.0
        return max(0.0, self.last_load_time - self.last_event_time)

    def current_state(self, now: float | None = None) -> str:
        """``state``, or ``stalled`` when running but nothing was applied for ``stall_seconds`` while
        events wait to be applied."""
        if self.state != "running":
            return self.state
        now = self.clock() if now is None else now
        with self._lock:
            waiting_since = min((p[1] for p in self._pending.values()), default=None)
        if waiting_since is None:
            return self.state
        quiet = now - max(self.last_load_time, waiting_since)
        return "stalled" if quiet > self.stall_seconds else self.state

    def summary(self, idle: bool) -> dict:
        now = self.clock()
        rows_per_s, bytes_per_s, recent_lag = self._rates(now)
        with self._lock:
            tables = {name: dict(kinds) for name, kinds in self.tables.items()}
            stage_total = {k: round(v, 3) for k, v in self.stage_ms_total.items()}
            stage_last = {k: round(v, 3) for k, v in self.stage_ms_last.items()}
        lag = self.lag_seconds(idle, now)
        state = self.current_state(now)
        return {
            "channel": self.channel,
            "pipeline": self.pipeline,
            "state": state,
            "attempt": self.attempt if state == "retrying" else 0,
            "next_try_time": self.next_try_time if state == "retrying" else 0.0,
            "rows": self.rows_loaded,
            "rows_per_s": round(rows_per_s, 1),
            "batches": self.batches_loaded,
            "bytes": self.bytes_loaded,
            "bytes_per_s": round(bytes_per_s, 1),
            "lag_s": round(lag, 3),
            "lag_max_5s": round(max(recent_lag, lag), 3),
            "position": str(self.position) if self.position else "",
            "position_detail": self.position.to_dict() if self.position else None,
            "last_load_time": self.last_load_time,
            "last_event_time": self.last_event_time,
            "error": self.last_error,
            "error_class": self.last_error_class,
            "error_time": self.last_error_time,
            "restarts": self.restarts,
            "tables": tables,
            "stage_ms_total": stage_total,
            "stage_ms_last": stage_last,
            "snapshot": self.snapshot.as_dict() if self.snapshot is not None else None,
        }
