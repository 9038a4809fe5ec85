"""The MySQL/MariaDB loader: applies merged row events with idempotent multi-row SQL.

INSERT/UPDATE become ``INSERT … ON DUPLICATE KEY UPDATE`` (field-mode UPDATEs on MariaDB an UPDATE join,
with the upsert for rows it does not find: ``load_plan``) and DELETE becomes ``DELETE … WHERE k IN (…)``,
so a batch applied twice (or after a partial apply) leaves the same target state. Events of the same
statement shape are batched into multi-row statements, chunked by rows and by size so that a statement
stays under the server's ``max_allowed_packet``. One ``load`` call is one transaction on one pooled
connection (``slot``, ``load_session``).

A load's statements go to the target by one of three paths:

- ``multi_statement``: all of them in one multi-statement query, then the COMMIT (MariaDB);
- ``statement_path``: one by one, the last one carrying the COMMIT on MariaDB (``one_trip``); the path
  of a load the multi-statement query cannot send, or that warned or failed there;
- ``chunk_fallback``: a chunk the target refused as one statement, sent again row by row (or an UPDATE
  join's chunk as upserts), so that the error names the failing row.

The warnings check and the error messages are in ``load_errors``; DDL is applied by ``ddl_apply``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import pymysql

from otter_core.spi import DataMediaSource, EventData, LoadError, Pipeline, SyncMode
from otter_mysql import bulk_infile, bulk_load, fencing, retl
from otter_mysql.chunk_fallback import ER_DUP_ENTRY, ER_LOCK_DEADLOCK, ER_UNKNOWN_COLUMN, ChunkFallback
from otter_mysql.conflicts import ConflictScreen
from otter_mysql.ddl_apply import DdlApplying
from otter_mysql.load_errors import LoadErrors
from otter_mysql.load_plan import StatementGroup, StatementPlanning
from otter_mysql.load_session import CONNECT_OPTIONS, SESSION_SQL, LoadSessions, Slot
from otter_mysql.multi_statement import MultiStatementSending, Redo
from otter_mysql.server_errors import close_quietly, error_code
from otter_mysql.statement_path import Progress, StatementByStatement
from otter_mysql.target_schema import TargetSchemaCache
from otter_mysql.unique_conflicts import clear_before_upserts

log = logging.getLogger("otter.load")

DEFAULT_CHUNK_ROWS = 1000
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024
# the names ``bulk_infile`` and bench/stages.py import from here
_CONNECT_OPTIONS, _Slot, _Progress = CONNECT_OPTIONS, Slot, Progress
__all__ = ["MySQLLoader", "SESSION_SQL"]


class MySQLLoader(
    MultiStatementSending,
    StatementByStatement,
    ChunkFallback,
    LoadErrors,
    LoadSessions,
    StatementPlanning,
    DdlApplying,
):
    """``otter_core.contracts.Loader`` for MySQL/MariaDB targets (PyMySQL)."""

    def __init__(
        self,
        target: DataMediaSource,
        pipeline: Pipeline,
        *,
        chunk_rows: int | None = None,
        chunk_bytes: int | None = None,
    ) -> None:
        self.target = target
        self.pipeline = pipeline
        params = pipeline.parameters
        self.field_mode = params.sync_mode == SyncMode.FIELD
        self.dry_run = params.dry_run
        opts = target.options or {}
        self.chunk_rows = max(1, int(chunk_rows or opts.get("load_chunk_rows") or DEFAULT_CHUNK_ROWS))
        self.chunk_bytes = max(1024, int(chunk_bytes or opts.get("load_chunk_bytes") or DEFAULT_CHUNK_BYTES))
        self._slots: list[Slot | None] = [None] * max(1, params.load_pool_size)
        self._schemas = TargetSchemaCache()
        self._shapes: dict[tuple, tuple[Any, StatementGroup]] = {}  # load_plan._group_for
        self._statements = [0] * len(self._slots)
        self.mark = pipeline.marks_loopback  # two-way: a retl_mark row in every transaction
        self.channel = pipeline.channel or pipeline.name
        self._retl_ready = False
        self.conflicts = ConflictScreen(pipeline) if pipeline.detects_conflicts else None  # see conflicts.py
        # field-mode UPDATEs as an UPDATE join on MariaDB (load_plan); target option update_join: false
        # keeps the upsert for every row
        self.update_join = self.conflicts is None and str(opts.get("update_join", True)).lower() not in (
            "false",
            "0",
            "no",
            "off",
        )
        # the COMMIT sent with the load's last statement (see the module docstring)
        self.one_trip = str(opts.get("one_trip_commit", True)).lower() not in ("false", "0", "no", "off")
        # a load's statements sent at once (otter_mysql.multi_statement); target option multi_statement: false
        self.multi = str(opts.get("multi_statement", True)).lower() not in ("false", "0", "no", "off")
        self._fallbacks_logged: set[tuple[str, str, str]] = set()  # (kind, schema, table): _log_fallback
        self._fence: tuple[str, int] | None = None  # ZooKeeper mode: (pipeline, fencing token), see fence()
        # the initial load's LOAD DATA LOCAL INFILE (bulk_load._takes_infile): refused by the target, and
        # per (schema, table) whether it may take it (no triggers)
        self._infile_refused = False
        self._infile_tables: dict[tuple[str, str], bool] = {}
        self._infile_conns: list[Any] = [None] * len(self._slots)  # LOCAL INFILE connections (bulk_infile)

    # ------------------------------------------------------------------------------------ public API

    @property
    def statements_executed(self) -> int:
        """Data statements sent so far (all slots); tests use it to check chunking."""
        return sum(self._statements)

    def load(self, events: Sequence[EventData], slot: int) -> int:
        """Apply ``events`` in one transaction on connection ``slot``; return the rows applied
        (0 in dry-run mode, where the statements are only logged)."""
        if not 0 <= slot < len(self._slots):
            raise ValueError(f"slot {slot} outside 0..{len(self._slots) - 1} (load_pool_size)")
        if not events:
            return 0
        if self.dry_run:
            self._log_dry_run(events)
            return 0
        return self._apply(self._slot(slot), slot, events)

    def load_chunk(self, block: Any, start: int, end: int, slot: int) -> int | None:
        """The initial load's bulk entry point (``otter_core.engine.snapshot_bulk``): rows ``start``..``end``
        of a snapshot chunk's packed rows upserted in one transaction on ``slot``, without EventData; None
        when the chunk must take the row path (``bulk_load.refusal``)."""
        if not 0 <= slot < len(self._slots):
            raise ValueError(f"slot {slot} outside 0..{len(self._slots) - 1} (load_pool_size)")
        return bulk_load.load_chunk(self, block, start, end, slot)

    def check_target(self) -> None:
        """Connect once as the target's user and disconnect (``CheckedLoader``): access denied or an
        unknown database stop the pipeline at start; a target that is down is retried like a load."""
        if not self.dry_run:
            close_quietly(self._connect())

    def fence(self, pipeline: str, token: int) -> None:
        """Take ``pipeline``'s loads over on the target with fencing ``token`` (otter_mysql.fencing): waits
        for the previous holder's transactions in flight; from now on every transaction checks the token."""
        conn = self._connect()
        try:
            fencing.take_over(conn, self._label, pipeline, token)
        finally:
            close_quietly(conn)
        self._fence = (pipeline, token)

    @property
    def _label(self) -> str:
        return f"target {self.target.name} ({self.target.host}:{self.target.port})"

    def _ensure_retl(self, conn: Any) -> None:
        if not self._retl_ready:
            retl.ensure_tables(conn, self._label, LoadError)
            self._retl_ready = True

    def close(self) -> None:
        """Close every pooled connection; safe to call twice."""
        bulk_infile.discard(self)  # the initial load's LOAD DATA connections (bulk_load)
        for i, state in enumerate(self._slots):
            if state is not None:
                close_quietly(state.conn)
                self._slots[i] = None

    # ------------------------------------------------------------------------------------ applying

    def _apply(
        self,
        state: Slot,
        slot: int,
        events: Sequence[EventData],
        retried: bool = False,
        multi: bool = True,
    ) -> int:
        conn = state.conn
        at = Progress()  # the group, chunk and row being sent, for the error message
        rows = 0
        started = time.perf_counter()
        try:
            groups = self._plan(events, conn) if self.conflicts is None else None
            with conn.cursor() as cur:
                if self._fence is not None:  # ZooKeeper mode: a newer holder's token stops this transaction
                    fencing.check(cur, self._label, *self._fence)
                if self.mark:  # first statement of the transaction: the reverse selector drops it
                    cur.execute(
                        retl.MARK_SQL,
                        (
                            retl.mark_id(self.channel, self.pipeline.name, slot),
                            self.channel,
                            self.pipeline.name[:128],
                        ),
                    )
                if groups is None:  # conflict detection: read and lock the target rows, decide, log
                    groups = self._plan(self.conflicts.screen(cur, events), conn)
                clear_before_upserts(
                    cur,
                    lambda schema, table: self._schemas.get(conn, schema, table),
                    groups,
                    self.pipeline.two_way,
                )
                state.committed = False
                if not (multi and state.multi and self._send_multi(cur, state, slot, groups, at)):
                    # an UPDATE join (it has a fallback) checks its "Rows matched" before the COMMIT
                    state.last = (
                        groups[-1] if state.blocks and groups and groups[-1].fallback is None else None
                    )
                    for group in groups:
                        self._send_group(cur, state, slot, group, group.events, at)
                    state.last = None
                rows = sum(len(group.events) for group in groups)
            if not state.committed:
                conn.commit()
        except BaseException as exc:
            state.last = None
            self._discard_or_rollback(slot, exc)
            if not isinstance(exc, Exception):
                raise
            if isinstance(exc, LoadError):
                raise
            if isinstance(exc, Redo):  # rolled back: the same load statement by statement
                return self._apply(self._slot(slot), slot, events, retried, multi=False)
            if (
                isinstance(exc, pymysql.Error)
                and error_code(exc) == ER_UNKNOWN_COLUMN
                and not retried
                and at.group is not None
            ):
                # the target changed behind our back: re-read its columns and try once more
                self._schemas.invalidate(at.group.schema, at.group.table)
                return self._apply(self._slot(slot), slot, events, retried=True)
            if (
                isinstance(exc, pymysql.Error)
                and error_code(exc) == ER_DUP_ENTRY
                and not retried
                and self.conflicts is not None
            ):  # a row appeared after the check: check again
                return self._apply(self._slot(slot), slot, events, retried=True)
            if isinstance(exc, pymysql.Error) and error_code(exc) == ER_LOCK_DEADLOCK and not retried:
                # another partition of the batch held rows this one needs (a unique value moving between
                # rows of two partitions): the server rolled this one back; the other goes on, so again
                return self._apply(self._slot(slot), slot, events, retried=True)
            raise self._load_error(at.group, at.first, at.ev, exc, at.rows) from None
        log.debug(
            "loaded %d rows into %s in %.1f ms",
            rows,
            self.target.name,
            (time.perf_counter() - started) * 1000,
        )
        return rows
