"""What the objects returned by plugin factories must do.

Hook specs (``hookspecs.py``) are factories; the objects they return follow these protocols. The engine
only ever talks to these methods, so a plugin can be tested against them alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from otter_core.model import EventData, FileRef, Position, Transaction
from otter_core.model.node import ReadySignal


@runtime_checkable
class Selector(Protocol):
    """Reads a source's change log as whole transactions, only for tables the pipeline's pairs match."""

    def start(self, position: Position | None) -> None:
        """Begin reading after ``position`` (None: from the pipeline's ``start`` setting)."""

    def poll(self, timeout: float) -> Transaction | None:
        """The next whole transaction, or None when none arrived within ``timeout`` seconds.
        Raises ``SourceError`` for a fault the user must fix."""

    def close(self) -> None:
        """Stop reading and release connections; safe to call twice."""


@runtime_checkable
class RowReader(Protocol):
    """Reads current rows from a source by key (back-query: ``sync_consistency: media``, resync)."""

    def fetch(
        self, schema: str, table: str, keys: Sequence[Mapping[str, Any]]
    ) -> dict[tuple, dict[str, Any]]:
        """Current rows of ``schema.table`` for ``keys``: key-values tuple -> every non-generated column
        (keys included). Keys whose row no longer exists are absent from the result."""

    def close(self) -> None:
        """Release connections; safe to call twice."""


@runtime_checkable
class Loader(Protocol):
    """Applies merged events to one target. Every call must be idempotent: applying the same events
    twice leaves the same target state (the engine re-loads after a rollback)."""

    def load(self, events: Sequence[EventData], slot: int) -> int:
        """Apply ``events`` (already merged: one event per table+key, deletes and upserts never mixed)
        in one transaction on connection ``slot`` (0 <= slot < load_pool_size); return rows written."""

    def apply_ddl(self, event: EventData) -> None:
        """Apply one DDL event (its own transaction)."""

    def close(self) -> None:
        """Release connections; safe to call twice."""

    # Optional capabilities: ``FencedLoader`` and ``IgnoresDDL`` (below).


@runtime_checkable
class Pipe(Protocol):
    """Carries a batch from the Select/Extract side to the Transform/Load side."""

    def put(self, batch: Any) -> str:
        """Store ``batch``; return a key the other side passes to ``get``."""

    def get(self, key: str) -> Any:
        """Return (and forget) the batch stored under ``key``. Raises an ``OtterError`` (retryable unless
        it is a setting the user must fix) when the batch cannot be had; the engine then rolls back."""

    def files(self, key: str) -> FileSource:
        """Where Load reads the files of the batch put under ``key`` (call after ``get``, before loading
        the batch's rows); the files stay readable until ``FileSource.release()`` or ``close()``."""

    def close(self) -> None:
        """Drop every batch and file this pipe still holds (unclaimed after a rollback); safe twice."""


@runtime_checkable
class FileSource(Protocol):
    """Reads source files for the file loader: from the source root (same node) or over the network."""

    def read(self, ref: FileRef, offset: int, length: int) -> Iterator[bytes]:
        """The bytes ``[offset, offset + length)`` of ``ref``'s source file, in order, each chunk verified.
        Raises ``FileChanged`` when the file no longer has ``ref``'s size and mtime (or is gone)."""

    def release(self) -> None:
        """Load is done with this batch's files (the sender may forget them)."""


@runtime_checkable
class Arbitrator(Protocol):
    """Coordinates one pipeline's stages: processIds, the permit, and acked positions."""

    def next_process_id(self) -> int:
        """A new, strictly increasing processId."""

    def acked_position(self) -> Position | None:
        """The last position whose batch was fully loaded (None before the first ack)."""

    def ack(self, process_id: int, position: Position) -> None:
        """Record that the batch ``process_id`` ending at ``position`` is loaded (durable soon after:
        losing the newest acks in a crash only replays idempotent batches)."""

    def flush(self) -> None:
        """Make every ack durable before returning (called when the pipeline stops)."""

    def permit(self) -> bool:
        """True while the pipeline may select (not paused, not rolling back)."""

    def set_permit(self, allowed: bool, reason: str = "") -> None:
        """Open or close the permit."""

    # Optional capabilities: ``StartPinning`` and ``FencingArbitrator`` (below).


@runtime_checkable
class EventProcessor(Protocol):
    """User code that sees each event of a pair in Extract."""

    def process(self, event: EventData) -> EventData | None:
        """Return the event (changed or not), or None to drop it."""

    # Optional capability: ``PerBatch`` (below).


@runtime_checkable
class FileResolver(Protocol):
    """Maps a row to the files it refers to."""

    def resolve(self, event: EventData) -> list[Any]:
        """File references of ``event`` (empty when the row points to none)."""

    # Optional capabilities: ``PerBatch`` and ``DeletesFiles`` (below).


@runtime_checkable
class StageSignals(Protocol):
    """What split stages add to an Arbitrator when Select/Extract and Transform/Load run in different
    processes (``otter_core.engine.stages``). The S/E side publishes, the T/L side consumes in processId
    order and acks; either side starts a rollback, after which S/E re-reads from the acked position."""

    def begin_epoch(self, reason: str) -> int:
        """S/E, at every (re)start: void every earlier signal and return the new epoch."""

    def epoch(self) -> int:
        """The current epoch (kept up to date by a watch: cheap)."""

    def publish(self, signal: ReadySignal) -> None:
        """S/E: batch ``signal.process_id`` is in the pipe; signals are published in processId order."""

    def next_ready(self, timeout: float) -> ReadySignal | None:
        """T/L: the lowest-processId signal of the current epoch, or None after ``timeout`` seconds."""

    def upcoming(self, limit: int, timeout: float) -> list[ReadySignal]:
        """T/L: up to ``limit`` signals of the current epoch not done yet, lowest processId first (empty
        after ``timeout`` seconds); lets T/L fetch the next batches while one loads."""

    def begin_load(self, reason: str) -> None:
        """T/L, at every (re)start: be ready to take signals (a carrier that loses signals with a dead node
        starts a new epoch here, so that S/E re-reads from the acked position)."""

    def done(self, signal: ReadySignal) -> None:
        """T/L: the batch is loaded: ack its position and remove the signal, atomically."""

    def in_flight(self) -> int:
        """S/E: signals published and not yet done (the window across nodes)."""

    def rollback(self, reason: str) -> None:
        """Either side, after a failure: start a new epoch so that S/E restarts from the acked position."""


Key = tuple  # the values of a table's key columns, in key order


@runtime_checkable
class TableReader(Protocol):
    """Reads whole tables in key order, for the initial load (snapshot), ``otter-run verify`` and resync.

    Served by the plugin of a database type for sources and targets alike; the engine keeps every SQL
    text out of the core. Ranges are ``lower < key <= upper`` in the table's key order (None: unbounded);
    rows are tuples in the order of ``columns``."""

    def tables(self) -> list[tuple[str, str]]:
        """(schema, table) of every base table outside the system schemas."""

    def key_columns(self, schema: str, table: str) -> tuple[str, ...]:
        """The columns that identify a row (primary key, else a NOT NULL unique key); ``SourceError``
        naming the table when it has none or does not exist."""

    def columns(self, schema: str, table: str) -> tuple[str, ...]:
        """Every stored (non-generated) column, in table order."""

    def estimate_rows(self, schema: str, table: str) -> int:
        """A cheap estimate of the row count (for progress and ETA)."""

    def read_range(
        self,
        schema: str,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        lower: Key | None,
        upper: Key | None,
        limit: int | None,
        where: str | None = None,
    ) -> list[tuple]:
        """Rows with ``lower < key <= upper`` ordered by key, at most ``limit``; ``where`` is an extra
        condition in the database's own SQL (operator input, e.g. ``otter-run resync --where``)."""

    def nth_key(self, schema: str, table: str, key: Sequence[str], lower: Key | None, n: int) -> Key | None:
        """The key of the ``n``-th row (1-based) after ``lower`` in key order; None when fewer rows follow
        (the upper bound of a chunk of ``n`` rows)."""

    def chunk_checksum(
        self,
        schema: str,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        lower: Key | None,
        upper: Key | None,
    ) -> tuple[int, int]:
        """(row count, checksum) of ``columns`` over the rows with ``lower < key <= upper``; the checksum
        does not depend on row order, and two tables with the same rows give the same pair."""

    def read_keys(
        self, schema: str, table: str, columns: Sequence[str], key: Sequence[str], keys: Sequence[Key]
    ) -> list[tuple]:
        """The rows whose ``key`` values are among ``keys`` (any order)."""

    def parse_key(self, schema: str, table: str, texts: Sequence[str]) -> dict[str, Any]:
        """Key column name -> typed value, from the key's values as text (``retl_buffer.pk_data``);
        ``DataError`` naming the table when the count or a value does not fit."""

    def log_position(self) -> Position | None:
        """The current end of the database's change log (None when it has none)."""

    def write_watermark(self, signal_id: str, value: str) -> None:
        """Commit ``value`` as the watermark of ``signal_id`` in the signal table, so that the selector
        reading this database sees it in the change log (a snapshot window's low and high marks)."""

    def request_resync(self, full_name: str, kind: str, keys: Sequence[Sequence[str]]) -> int:
        """Insert resync requests (otter's ``retl_buffer``: ``kind`` I/U re-read, D delete) for ``keys``
        of ``full_name`` (key values as text) in one transaction; return the rows inserted."""

    def close(self) -> None:
        """Release connections; safe to call twice."""


# -- optional capabilities ------------------------------------------------------------------------------
# An object returned by a hook may add any of these to its base protocol. The engine asks
# ``isinstance(obj, Capability)`` and uses the capability only when the object declares it by having its
# members; nothing else is probed by name.


@runtime_checkable
class StatefulSelector(Protocol):
    """A ``Selector`` that keeps state of its own between runs (the MySQL schema history)."""

    def use_state_dir(self, state_dir: str, channel: str) -> None:
        """Keep that state under ``state_dir`` for ``channel``; called before ``start`` (also in the
        selector process)."""


@runtime_checkable
class InterruptibleSelector(Protocol):
    """A ``Selector`` whose wait in ``poll`` can be ended from another thread: a stopping pipeline does not
    wait out the select thread's wait for the next transaction (``otter-run load --exit-when-done``)."""

    def interrupt(self) -> None:
        """End a ``poll`` waiting in another thread now (it returns None); when none waits, the next
        ``poll`` that finds nothing returns None at once. Safe to call from any thread."""


@runtime_checkable
class BatchPolling(Protocol):
    """A ``Selector`` that hands over every transaction it has ready in one call (the selector process
    takes them so: a ``poll`` per transaction, a lock and a wake-up each, was a third of its main
    thread's CPU on an OLTP backlog)."""

    def poll_all(self, timeout: float, max_bytes: int) -> list[Transaction]:
        """The transactions ready now, in order, as consecutive ``poll`` calls would return them, up to
        the one that brings their sizes to ``max_bytes`` (so the selector's own bound on what it holds
        still bounds the process); waits up to ``timeout`` seconds for the first (an empty list then)."""


@runtime_checkable
class DeferredDecoding(Protocol):
    """A ``Selector`` that can leave row decoding to the runner when it runs in the selector process
    (``select_process: true``): pickling decoded events costs far more than decoding them."""

    def defer_decoding(self) -> bool:
        """Called in the selector process before ``start``; True: transactions carry their undecoded rows
        in ``Transaction.raw`` from now on (False: the selector decodes as usual)."""

    def expand(self, txn: Transaction) -> Transaction:
        """In the runner, on an instance that was never started: ``txn`` with its ``raw`` rows decoded
        into events (``txn`` itself when it has none)."""


@runtime_checkable
class PackedHandover(Protocol):
    """A ``DeferredDecoding`` selector that packs runs of transactions for the selector process's pipe
    into a form of its own (pickling each transaction's objects cost more than decoding its rows)."""

    def pack_handover(self, items: list, tag: str) -> list:
        """In the selector process: ``items`` (the pipe's plain transaction tuples), each run it can pack
        replaced by ``(tag, payload, 0)``; the others, and the order, as they are."""

    def take_packed(self, payload: Any, offset: int, max_events: int, max_bytes: int) -> tuple:
        """In the runner: ``(events, end position or None, size, offset, done)`` of the packed
        transactions from ``offset`` on, up to the one that brings the events to ``max_events`` or the
        size to ``max_bytes``, stopping before one that needs ``expand`` (none taken: no events)."""

    def unpack_packed(self, payload: Any, offset: int) -> tuple:
        """In the runner: ``(item, offset, done)``, the plain tuple of the transaction at ``offset``."""


@runtime_checkable
class StartPinning(Protocol):
    """An ``Arbitrator`` that saves the pipeline's resolved ``start:`` durably before anything is read
    (``engine/start.py``), so every retry and restart resumes from it, never from a fresh ``current``.
    Without it, ``start:`` is left to the selector on every start (not pinned)."""

    def pin_start(self, position: Position, origin: Mapping[str, Any]) -> None:
        """Save ``position`` (resolved from ``origin``, the ``start:`` setting); ``acked_position()``
        returns it from now on."""

    def saved_start(self) -> Mapping[str, Any] | None:
        """The origin saved with the pinned position (None when none was saved)."""


@runtime_checkable
class FencingArbitrator(Protocol):
    """An ``Arbitrator`` that hands out fencing tokens (ZooKeeper mode): ``fencing_token`` grows strictly
    each time a node takes the pipeline's Load over; Load then fences each ``FencedLoader`` with it."""

    fencing_token: int


@runtime_checkable
class FencedLoader(Protocol):
    """A ``Loader`` that can refuse the loads of a node that lost its pipeline to another."""

    def fence(self, pipeline: str, token: int) -> None:
        """Called once, before the first load, when the arbitrator hands out fencing tokens: record
        ``token`` on the target (waiting for the previous holder's transactions in flight); from then on
        every transaction must fail, uncommitted, with a non-retryable ``LoadError`` once the target holds
        a higher token."""


@runtime_checkable
class CheckedLoader(Protocol):
    """A ``Loader`` that can check its target before the first batch, so that a wrong password or an
    unknown database stops the pipeline at start instead of when the first row arrives."""

    def check_target(self) -> None:
        """Connect once and disconnect; raise ``LoadError`` (non-retryable for a refusal that no retry
        heals, retryable for a target that is down) naming the target and what to fix."""


@runtime_checkable
class IgnoresDDL(Protocol):
    """A ``Loader`` whose target has no schema to change (a cache): when ``ignores_ddl`` is true, Load
    skips DDL for its target, even on a renamed pair."""

    ignores_ddl: bool


@runtime_checkable
class PerBatch(Protocol):
    """An ``EventProcessor`` or ``FileResolver`` that swaps versions between batches, never inside one
    (otter-dynamic)."""

    def for_batch(self) -> Any:
        """Called once at the start of every batch; that batch's events go through the object returned
        (an ``EventProcessor``, or a ``FileResolver`` for a resolver)."""


@runtime_checkable
class DeletesFiles(Protocol):
    """A ``FileResolver`` whose files go with their row: a DELETE deletes them on the target even when
    the pair does not set ``is_delete_required``."""

    is_delete_required: bool


@runtime_checkable
class DiscardingPipe(Protocol):
    """A ``Pipe`` that can free a batch no stage will ask for any more (voided by a split-stage rollback)."""

    def discard(self, key: str) -> None:
        """Forget the batch stored under ``key``; may raise when it is already gone."""


@runtime_checkable
class SourceAdmin(Protocol):
    """Administers one configured database outside a running pipeline (``otter-run init-db``,
    ``otter-run position set --time``, a connection check). Each call opens and closes its own
    connection; failures raise ``OtterError`` naming the source and what to do."""

    def check_connection(self) -> str:
        """Connect, ask the server who it is and disconnect; return e.g. ``server 11.4.2-MariaDB``."""

    def init_db(self) -> str | None:
        """Create the system tables otter needs on this database (idempotent); return what is ready,
        e.g. ``system schema `retl` ready (retl_ddl, ...)``, or None when this kind needs none."""

    def position_at(self, when: float) -> Position:
        """The position of the first transaction committed at or after Unix time ``when`` (the current
        end of the log when none is newer)."""


@runtime_checkable
class ConflictStore(Protocol):
    """The conflict log kept on one target (``conflict:`` pairs). Rows are dicts with the fields of
    ``otter_core.conflicts.ConflictRecord``; ``id`` and ``parent_id`` are the store's own numbers."""

    def list(
        self, channel: str | None, pipeline: str | None, status: str | None, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        """Conflicts newest first, filtered by the arguments that are not None; none yet: empty."""

    def get(self, number: int) -> Mapping[str, Any] | None:
        """The conflict ``number``, or None."""

    def resolve(
        self, number: int, action: str, image: Mapping[str, Any] | None, by: str
    ) -> Mapping[str, Any]:
        """Settle parked conflict ``number`` (``source``, ``target`` or ``image``) and the changes of its
        key parked behind it, in one transaction; return the first of those rows (lowest number) as it is
        now. ``ConfigError`` when it is not parked."""

    def close(self) -> None:
        """Release the connection; safe to call twice."""
