"""The online initial load: key-ordered chunks of the tables interleaved with the change stream (DBLog).

For each chunk the snapshot commits a *low* watermark in the source's signal table, reads the next
``chunk_rows`` rows after the previous chunk's last key, and commits a *high* watermark. Both watermarks
come back through the selector, in commit order among every other change. Between them, each change of
a key of the chunk removes that row from the chunk: the change itself carries the newer value. At the
high watermark the remaining rows are emitted as INSERTs (idempotent upserts) in the high watermark's
transaction, so the chunk is loaded and acked with that position. No lock, no long transaction: each
read is one short statement, and a chunk is correct whenever it is read, so a restart simply reads the
chunks after the last acked one again.

``SnapshotSelector`` wraps the pipeline's selector (the engine sees an ordinary ``Selector``); all SQL is
in the source plugin's ``TableReader``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from otter_core.contracts import InterruptibleSelector, Selector, TableReader
from otter_core.engine.select import BUSY_POLL_SECONDS
from otter_core.engine.snapshot_bulk import ChunkBlock, bulk_eligible, chunk_event
from otter_core.engine.snapshot_events import chunk_builder
from otter_core.engine.snapshot_plan import (
    SIGNAL_SCHEMA,
    SIGNAL_TABLE,
    Chunk,
    Snapshot,
    _row_size,
    chunk_limit,
    normalize_key,
    resolve_tables,
)
from otter_core.engine.snapshot_reader import InlineChunks, ProcessChunks
from otter_core.errors import OtterError, SourceError
from otter_core.model import (
    EventData,
    EventType,
    Hint,
    Position,
    Transaction,
)

log = logging.getLogger("otter.snapshot")
# How often acked chunks are confirmed (state file, progress) while chunks are read, and once every chunk
# is emitted and only the acks are awaited (so the load is seen done, and ``otter-run load
# --exit-when-done`` exits, soon after the last one)
CHECK_SECONDS = 0.2
EXHAUSTED_CHECK_SECONDS = 0.05


class SnapshotSelector:
    """``Selector`` that interleaves snapshot chunks with the wrapped selector's transactions."""

    def __init__(self, inner: Selector, snapshot: Snapshot) -> None:
        self.inner = inner
        self.snapshot = snapshot
        self.store = snapshot.store
        self._chunks: InlineChunks | ProcessChunks | None = None
        self._chunk: Chunk | None = None
        self._exhausted = False  # every chunk of the plan emitted; waiting for the acks
        self._next_check = 0.0
        self._described: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._limits: dict[str, int] = {}
        self._blocks_logged: set[str] = set()

    @property
    def chunks(self) -> InlineChunks | ProcessChunks:
        if self._chunks is None:
            self._chunks = self.snapshot.chunk_reader()
        return self._chunks

    @property
    def reader(self) -> TableReader:
        return self.chunks.reader

    def _release(self) -> None:
        chunks, self._chunks = self._chunks, None
        if chunks is not None:
            chunks.close()

    def start(self, position: Position | None) -> None:
        if self.store.active or self.store.request_waiting():
            # a load will read chunks: its reader process boots beside the selector's, not after it
            # (each is a fresh interpreter, ~0.15 s; ``inner.start`` waits for its own)
            self.chunks  # noqa: B018 (the property starts it)
        self.inner.start(position)
        self.store.resume(position)
        if self.store.active:
            log.info("[%s] initial load: %s", self.snapshot.pipeline.name, self._describe_resume())

    def interrupt(self) -> None:
        """The wrapped selector's ``interrupt``, where it has one (``InterruptibleSelector``)."""
        if isinstance(self.inner, InterruptibleSelector):
            self.inner.interrupt()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self._release()

    def poll(self, timeout: float) -> Transaction | None:
        if self._chunk is None and time.monotonic() < self._next_check and not self._may_begin():
            return self.inner.poll(self._until_check(timeout))  # no chunk running or due: the selector alone
        if time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + (
                EXHAUSTED_CHECK_SECONDS if self._exhausted else CHECK_SECONDS
            )
            self._check()
        if self._chunk is None and not self._exhausted and self.store.active and self._room():
            self._guarded(self._begin_chunk)
        elif self._chunk is not None:
            tag = self._chunk.tag
            self._guarded(lambda: self.chunks.check(tag))
        txn = self.inner.poll(self._until_check(timeout))
        if txn is None or self._chunk is None or not txn.events:
            return txn
        return self._observe(txn)

    def _until_check(self, timeout: float) -> float:
        """``timeout``, cut to the next check while every chunk is emitted and only the acks are awaited:
        an idle source would otherwise hold the select thread (and the load's end) for the whole wait."""
        if self._exhausted and self.store.active:
            return min(timeout, max(0.0, self._next_check - time.monotonic()))
        return timeout

    def _may_begin(self) -> bool:
        """A chunk may be begun at this poll: an initial load runs and not every chunk is emitted."""
        return not self._exhausted and self.store.active

    def poll_or_wake(self, timeout: float, wake: Any) -> Transaction | None:
        """``poll`` that also returns None when ``wake`` becomes readable (``select.LoadWake``), when the
        wrapped selector can wait so and no chunk is running or due; otherwise a short ``poll``."""
        inner = getattr(self.inner, "poll_or_wake", None)
        if (
            inner is None
            or self._chunk is not None
            or time.monotonic() >= self._next_check
            or self._may_begin()
        ):
            return self.poll(min(timeout, BUSY_POLL_SECONDS))
        return inner(timeout, wake)

    def take_ready(self, max_events: int, max_bytes: int) -> tuple[list, Position, int] | None:
        """The wrapped selector's ``take_ready`` while no chunk runs or is due (no watermark to look for);
        otherwise None: the Batcher then polls, one transaction at a time."""
        inner = getattr(self.inner, "take_ready", None)
        if (
            inner is None
            or self._chunk is not None
            or time.monotonic() >= self._next_check
            or self._may_begin()
        ):
            return None
        return inner(max_events, max_bytes)

    def _room(self) -> bool:
        """Another chunk may be emitted: fewer than ``max_pending_chunks`` are emitted and not yet acked.
        A chunk on the bulk path is one event, so ``batch_size`` (counted in events) no longer bounds its
        rows in a batch; this keeps what a crash can make the load read again to what the window held
        with one event per row (``parallelism`` batches of ``batch_size`` rows, one loading, one cut)."""
        if self.store.pending_chunks() < self._max_pending:
            return True
        self._confirm()  # the acks came: room again at once, not at the next check
        return self.store.pending_chunks() < self._max_pending

    def _confirm(self) -> None:
        if self.store.confirm(self.snapshot.acked()) and not self.store.active:
            log.info(
                "[%s] initial load done: %s", self.snapshot.pipeline.name, self.snapshot.progress.as_dict()
            )

    @property
    def _max_pending(self) -> int:
        params = self.snapshot.pipeline.parameters
        per_batch = max(1, -(-params.batch_size // max(1, self.store.chunk_rows)))
        return per_batch * (params.parallelism + 2)

    # -- requests and acks -----------------------------------------------------------------------
    def _check(self) -> None:
        request = self.store.request_changed()
        if request is not None:
            self._guarded(lambda: self._adopt(request))
        self._confirm()
        if not self.store.active and self._chunk is None:
            self._release()  # no load: no reader connection, no reader process

    def _adopt(self, request: dict) -> None:
        self._chunk, self._exhausted = None, False
        try:
            plan = resolve_tables(self.snapshot.pipeline, self.reader, request.get("tables"))
            estimates = {}
            for name in plan:
                schema, table = name.split(".", 1)
                self._describe(schema, table)  # a table without a key fails the load here, before any chunk
                estimates[name] = self.reader.estimate_rows(schema, table)
        except OtterError as exc:
            if exc.retryable:
                raise
            self.store.adopt(request, [], {})  # the request is answered: failed, with the reason
            raise
        self.store.adopt(request, plan, estimates)
        log.info(
            "[%s] initial load of %d table(s), ~%d rows, %d rows per chunk",
            self.snapshot.pipeline.name,
            len(plan),
            sum(estimates.values()),
            self.store.chunk_rows,
        )

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run a snapshot step. A fault that retrying cannot fix (a table without key, no grant on ``retl``)
        fails the load — shown in its progress, ``otter-run load`` exits non-zero — while the pipeline goes
        on replicating; any other fault rolls the pipeline back, and the load resumes with it."""
        try:
            action()
        except OtterError as exc:
            if exc.retryable:
                raise
            self._fail(exc)

    def _fail(self, exc: OtterError) -> None:
        log.error("[%s] initial load failed: %s", self.snapshot.pipeline.name, exc)
        self.store.fail(str(exc))
        self._chunk = None

    def _describe(self, schema: str, table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        name = f"{schema}.{table}"
        if name not in self._described:
            key = tuple(self.reader.key_columns(schema, table))
            self._described[name] = (key, tuple(self.reader.columns(schema, table)))
        return self._described[name]

    def _limit(self, name: str) -> int:
        """Rows per chunk of table ``name`` (``chunk_limit``: fewer for wide rows), asked once."""
        if name not in self._limits:
            schema, table = name.split(".", 1)
            try:  # optional in a TableReader (the MySQL one has it); the reader process forwards any name
                reader: Any = self.reader
                average = int(reader.average_row_bytes(schema, table) or 0)
            except (AttributeError, SourceError):
                average = 0
            self._limits[name] = chunk_limit(
                self.store.chunk_rows, average, self.snapshot.pipeline.parameters.memory_limit_bytes
            )
            if self._limits[name] < self.store.chunk_rows:
                log.info(
                    "[%s] initial load of %s: %d rows per chunk (wide rows, memory_limit_bytes)",
                    self.snapshot.pipeline.name,
                    name,
                    self._limits[name],
                )
        return self._limits[name]

    def _describe_resume(self) -> str:
        tables = self.store.open_tables(self.snapshot.pipeline.parameters.load_pool_size)
        if not tables:
            return "every chunk emitted, waiting for the acks"
        return ", ".join(
            f"table {name} " + ("from its first row" if lower is None else f"after key {lower!r}")
            for name, lower in tables
        )

    # -- one chunk -------------------------------------------------------------------------------
    def _begin_chunk(self) -> None:
        # as many tables at once as the load has connections: a batch's chunks then go to different
        # tables (docs/performance.md, "Initial load: several tables' chunks in one batch")
        start = self.store.next_chunk_start(self.snapshot.pipeline.parameters.load_pool_size)
        if start is None:
            self._exhausted = True
            self._next_check = min(self._next_check, time.monotonic() + EXHAUSTED_CHECK_SECONDS)
            return
        name, lower = start
        schema, table = name.split(".", 1)
        key, columns = self._describe(schema, table)
        bulk = bulk_eligible(self.snapshot.pipeline, schema, table)
        limit = self._limit(name)
        chunk = Chunk(schema, table, key, columns, lower, limit, uuid.uuid4().hex[:16], bulk)
        self.chunks.start(
            (
                chunk.tag,
                self.snapshot.signal_id,
                chunk.low,
                chunk.high,
                schema,
                table,
                columns,
                key,
                lower,
                chunk.limit,
                bulk,
            )
        )
        self._chunk = chunk

    def _observe(self, txn: Transaction) -> Transaction:
        chunk = self._chunk
        assert chunk is not None
        for event in txn.events:
            if event.table == SIGNAL_TABLE and event.schema == SIGNAL_SCHEMA:
                if event.keys.get("id") != self.snapshot.signal_id:
                    continue  # another pipeline's load on the same source
                mark = event.columns.get("watermark")
                if mark == chunk.low:
                    chunk.window_open = True
                elif mark == chunk.high and chunk.window_open:
                    try:
                        return self._emit(txn, chunk)
                    except OtterError as exc:
                        if exc.retryable:
                            raise
                        self._fail(exc)
                        return txn
            elif chunk.window_open and event.table == chunk.table and event.schema == chunk.schema:
                if event.event_type is EventType.DDL:
                    log.info(
                        "[%s] DDL on %s during a chunk: reading the chunk again",
                        self.snapshot.pipeline.name,
                        chunk.full_name,
                    )
                    self._chunk = None  # its rows may have the old columns
                    return txn
                chunk.changed.add(normalize_key(event.keys[k] for k in chunk.key))
                if event.old_keys:
                    chunk.changed.add(normalize_key(event.old_keys[k] for k in chunk.key))
        return txn

    def _emit(self, txn: Transaction, chunk: Chunk) -> Transaction:
        position = txn.position
        if position.file is None:
            raise SourceError(
                "the initial load needs binlog file/position positions from the selector; "
                "this selector gives none",
                retryable=False,
            )
        rows = self.chunks.rows(chunk.tag)
        positions = [chunk.columns.index(k) for k in chunk.key]
        timestamp = float(position.timestamp or time.time())
        changed = chunk.changed
        events = [e for e in txn.events if not (e.table == SIGNAL_TABLE and e.schema == SIGNAL_SCHEMA)]
        if not isinstance(rows, list):  # packed for the bulk path (read_range_packed)
            return self._emit_block(txn, chunk, rows, positions, events, timestamp)
        upper = tuple(rows[-1][i] for i in positions) if rows else chunk.lower
        key_set = set(chunk.key)
        others = [i for i, c in enumerate(chunk.columns) if c not in key_set]
        before = len(events)
        row_size = _row_size(rows)
        template = EventData(
            chunk.schema,
            chunk.table,
            EventType.INSERT,
            {},
            {},
            None,
            frozenset(),
            timestamp,
            position,
            row_size,
            None,
            frozenset({Hint.SNAPSHOT}),
        )
        # a row whose key changed between the watermarks is left out: the change carries a newer value
        build = chunk_builder(template, positions, chunk.key, others, [chunk.columns[i] for i in others])
        build(rows, changed, events, normalize_key)
        emitted = len(events) - before
        return self._emitted(txn, chunk, upper, emitted, len(rows), events, txn.size + row_size * emitted)

    def _emit_block(
        self,
        txn: Transaction,
        chunk: Chunk,
        packed: Any,
        positions: list[int],
        events: list,
        timestamp: float,
    ) -> Transaction:
        """The chunk as one ``ChunkEvent`` (``snapshot_bulk``); rows whose key changed between the
        watermarks are left out by number (the rows are parsed only then)."""
        if chunk.full_name not in self._blocks_logged:
            self._blocks_logged.add(chunk.full_name)
            log.info(
                "[%s] initial load of %s: chunks travel as blocks (bulk path)",
                self.snapshot.pipeline.name,
                chunk.full_name,
            )
        count = packed.count
        upper = tuple(packed.last[i] for i in positions) if count else chunk.lower
        skip: frozenset[int] = frozenset()
        if chunk.changed and count:
            changed = chunk.changed
            skip = frozenset(
                n
                for n, row in enumerate(packed.rows())
                if normalize_key(row[i] for i in positions) in changed
            )
        block = ChunkBlock(chunk.schema, chunk.table, chunk.columns, chunk.key, packed, skip)
        size = len(getattr(packed, "raw", b"")) or count * 64
        if block.rows:
            template = EventData(
                chunk.schema,
                chunk.table,
                EventType.INSERT,
                execute_time=timestamp,
                position=txn.position,
                hints=frozenset({Hint.SNAPSHOT}),
            )
            events.append(chunk_event(template, chunk.tag, block, size))
        return self._emitted(txn, chunk, upper, block.rows, count, events, txn.size + size)

    def _emitted(
        self,
        txn: Transaction,
        chunk: Chunk,
        upper: tuple | None,
        emitted: int,
        read: int,
        events: list,
        size: int,
    ) -> Transaction:
        position = txn.position
        self.store.record_chunk(chunk.full_name, upper, emitted, read < chunk.limit, position)
        self.snapshot.progress.emitted()
        log.debug(
            "[%s] chunk of %s up to %r: %d rows (%d changed meanwhile) at %s",
            self.snapshot.pipeline.name,
            chunk.full_name,
            upper,
            emitted,
            read - emitted,
            position,
        )
        self._chunk = None
        return Transaction(tuple(events), position, size)
