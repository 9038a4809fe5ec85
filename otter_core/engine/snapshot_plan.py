"""The initial load's plan and progress: which tables, one chunk's window state, the figures shown.

Split from ``snapshot.py`` (the selector wrapper and the chunk's life are there).
"""

from __future__ import annotations

import collections
import datetime
import time
from collections.abc import Callable, Iterable
from typing import Any

from attrs import define, field

from otter_core.contracts import Selector, TableReader
from otter_core.engine.snapshot_reader import InlineChunks, ProcessChunks
from otter_core.engine.snapshot_state import SnapshotStore, read_request, request_snapshot
from otter_core.errors import ConfigError
from otter_core.model import DataMedia, DataMediaSource, Pipeline, Position

SIGNAL_SCHEMA, SIGNAL_TABLE = "retl", "retl_signal"
_UTC = datetime.timezone.utc


def normalize_key(values: Iterable[Any]) -> tuple:
    """A key as both the binlog decoder and a SELECT give it (aware UTC datetimes made naive, bytearrays
    bytes), so a change in the window finds the chunk row it replaces."""
    out = []
    for value in values:
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(_UTC).replace(tzinfo=None)
        elif isinstance(value, (bytearray, memoryview)):
            value = bytes(value)
        out.append(value)
    return tuple(out)


def resolve_tables(pipeline: Pipeline, reader: TableReader, requested: list[str] | None) -> list[str]:
    """``schema.table`` of every source table the pipeline's pairs take, limited to ``requested`` names or
    patterns; a requested name that matches nothing is a ConfigError."""
    patterns = [DataMedia(*name.split(".", 1)) for name in requested or () if "." in name]
    if requested and len(patterns) != len(requested):
        raise ConfigError(
            f"load of pipeline {pipeline.name}: table names are written schema.table, got {requested}"
        )
    taken = [f"{s}.{t}" for s, t in reader.tables() if s != SIGNAL_SCHEMA and pipeline.pair_for(s, t)]
    if not patterns:
        return taken
    chosen = [name for name in taken if any(p.matches(*name.split(".", 1)) for p in patterns)]
    unmatched = [str(p) for p in patterns if not any(p.matches(*name.split(".", 1)) for name in taken)]
    if unmatched:
        raise ConfigError(
            f"load of pipeline {pipeline.name}: {', '.join(unmatched)} matches no source table that "
            f"a pair of the pipeline takes; check the name and the pipeline's pairs"
        )
    return chosen


# a chunk of wide rows is cut so that about this many fit in the window's share of the memory guard
# (``Window``: a third of ``memory_limit_bytes``): a 40 MB chunk of BLOB rows filled it alone, and
# nothing else was read or loaded until it was
CHUNKS_PER_WINDOW = 8


def chunk_limit(chunk_rows: int, average_row_bytes: int, memory_limit_bytes: int) -> int:
    """Rows per chunk of a table: ``chunk_rows``, fewer when its rows are wide (at least 1)."""
    if average_row_bytes <= 0:
        return chunk_rows
    budget = memory_limit_bytes // 3 // CHUNKS_PER_WINDOW
    return max(1, min(chunk_rows, budget // average_row_bytes))


@define
class Chunk:
    """One chunk in flight: read between its watermarks, waiting for the high one in the stream."""

    schema: str
    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    lower: tuple | None
    limit: int
    tag: str
    bulk: bool = False  # read packed and emitted as one block (snapshot_bulk)
    window_open: bool = False
    changed: set = field(factory=set)  # normalized keys changed between the watermarks

    @property
    def low(self) -> str:
        return f"{self.tag}-low"

    @property
    def high(self) -> str:
        return f"{self.tag}-high"

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.table}"


class SnapshotProgress:
    """Live figures of a pipeline's load for the CLI and the manager (``as_dict``)."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self._recent: collections.deque = collections.deque(maxlen=240)

    def emitted(self) -> None:
        self._recent.append((time.time(), self.store.rows_done()[0]))

    def rows_per_second(self, window: float = 10.0) -> float:
        now = time.time()
        points = [p for p in list(self._recent) if now - p[0] <= window]
        if len(points) < 2:
            return 0.0
        return (points[-1][1] - points[0][1]) / max(points[-1][0] - points[0][0], 1e-3)

    def as_dict(self) -> dict | None:
        """None when no load ever ran; see INTERFACES.md for the keys."""
        with self.store.lock:
            state = self.store.state
            if state is None:
                return None
            rows, chunks = self.store.rows_done()
            running = state["state"] == "running"
            nxt = self.store.next_chunk_start() if running else None
            done_tables = sum(1 for t in state["plan"] if state["confirmed"].get(t, {}).get("done"))
            # the estimates come from table statistics (InnoDB samples them): once done, the rows are the total
            total = rows if state["state"] == "done" else max(sum(state["estimates"].values()), rows)
            started, finished, error = state["started_at"], state["finished_at"], state["error"]
            plan_size, kind = len(state["plan"]), state["state"]
        rate = self.rows_per_second() if running else 0.0
        eta: float | None
        if kind == "done":
            percent, eta = 100.0, 0.0
        else:
            percent = min(99.9, 100.0 * rows / total) if total else 0.0
            eta = (total - rows) / rate if running and rate > 0 else None
        if kind == "done" and finished:
            rate = rows / max(finished - started, 1e-3)
        return {
            "state": kind,
            "tables_total": plan_size,
            "tables_done": done_tables,
            "table": nxt[0] if nxt else "",
            "rows": rows,
            "rows_total": total,
            "percent": round(percent, 1),
            "rows_per_s": round(rate, 1),
            "eta_s": round(eta, 1) if eta is not None else None,
            "chunks": chunks,
            "started_at": started,
            "finished_at": finished,
            "error": error,
        }


class Snapshot:
    """A pipeline's load controller: lives as long as its PipelineRunner (across restarts)."""

    def __init__(
        self,
        pipeline: Pipeline,
        channel: str,
        state_dir: str,
        make_reader: Callable[[], TableReader],
        acked: Callable[[], Position | None],
        source: DataMediaSource | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.make_reader = make_reader
        self.source = source  # given: chunks are read in a child process when select_process is on
        self.acked = acked
        self.store = SnapshotStore(state_dir, channel, pipeline.name)
        self.progress = SnapshotProgress(self.store)
        self.signal_id = f"{channel}/{pipeline.name}"[:191]
        settings = getattr(pipeline, "snapshot", None)
        if (
            settings is not None
            and self.store.state is None
            and acked() is None
            and read_request(state_dir, channel, pipeline.name) is None
        ):
            request_snapshot(
                state_dir, channel, pipeline.name, list(settings.tables) or None, settings.chunk_rows
            )

    def wrap(self, selector: Selector) -> Selector:
        from otter_core.engine.snapshot import SnapshotSelector  # the selector module imports this one

        return SnapshotSelector(selector, self)

    def chunk_reader(self) -> InlineChunks | ProcessChunks:
        if self.source is not None and self.pipeline.parameters.in_child_process:
            return ProcessChunks(self.pipeline, self.source)
        return InlineChunks(self.make_reader())


def _row_size(rows: list[tuple], sample: int = 64) -> int:
    """The average size of a row of ``rows`` (a sample: the window's memory guard needs an estimate)."""
    if not rows:
        return 0
    picked = rows[:: max(1, len(rows) // sample)]
    total = sum(len(v) if isinstance(v, (str, bytes)) else 8 for row in picked for v in row)
    return max(1, total // len(picked))
