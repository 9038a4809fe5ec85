"""All of a load's statements in one round trip: one multi-statement query (``CLIENT_MULTI_STATEMENTS``).

A merged OLTP batch gives every slot a dozen statement groups or more (per table a delete, an upsert of
whole rows, an UPDATE join per set of changed columns), each a round trip of its own before. Here the
load's statements are rendered first (``dialect.sql_values``, the same chunks and SQL as
``MySQLLoader._send_compiled``), joined with ``;`` and sent at once; the server runs them in order and
stops at the first error. Each statement's result is then read in order, and the load is committed by the
caller only when every one of them was clean: no warning, an UPDATE join that matched all its rows. The
results after the first are read straight from their OK packets (``read_ok``: more results, warning count,
"Rows matched"), not through PyMySQL's result and cursor objects.

Anything else takes the statement-by-statement path, so its guarantees hold unchanged:

- a statement that warned, or an error after which that path would send the chunk again as plain
  statements (``ChunkFallback._falls_back``): ``send`` returns False, the caller rolls the transaction
  back and applies the load again statement by statement (``SHOW WARNINGS`` names the value, the failing
  row is named);
- an UPDATE join that matched fewer rows than it carries: its chunk is upserted whole after the query, in
  the same transaction (``ChunkFallback._upsert_instead``), when no other statement of the load writes
  one of its rows (``distinct_keys``: merged events); otherwise the load is applied again as above;
- an error that path would not retry in place (deadlock, lock wait, unknown column, the connection):
  raised with the failing statement's group and chunk in ``at``, the same error the old path raises, not
  waited for twice;
- a load that renders to a single statement, a row too big to share a statement, a connection charset
  other than utf8mb4, or a row the compiled builder refuses: ``send`` returns None before anything is
  sent, and the caller takes the old path (with its one-trip commit).

MariaDB targets only: MySQL 8 warns (1287, ``VALUES()`` deprecated) on every upsert, which would apply
every load twice. Target option ``multi_statement: false`` turns it off. Values are rendered as escaped
literals either way (``dialect``); the flag lets a load's statements share a packet, nothing more.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pymysql
from pymysql.constants import SERVER_STATUS

from otter_core.spi import EventData
from otter_mysql.bigrows import BIG_ROW_BYTES
from otter_mysql.chunk_fallback import ChunkFallback, matched_rows
from otter_mysql.dialect import sql_values
from otter_mysql.load_plan import StatementGroup
from otter_mysql.one_trip import ONE_TRIP_BYTES

if TYPE_CHECKING:
    from otter_mysql.load_session import Slot
    from otter_mysql.statement_path import Progress

_Statement = tuple[StatementGroup, Sequence[EventData], bytes | str]  # UTF-8 bytes from sql_values
_STATUS_WARNINGS = struct.Struct("<HH")  # an OK packet's server status and warning count


class Redo(Exception):
    """A load sent as one multi-statement query met a warning, an error with a fallback or an UPDATE join
    that missed rows: rolled back, it is applied again statement by statement."""


class MultiStatementSending:
    """The load's statements in one query (mixed into ``MySQLLoader``, before the statement-by-statement
    path it falls back to)."""

    chunk_rows: int
    chunk_bytes: int
    _statements: list[int]
    _upsert_instead: Any

    def _send_multi(
        self, cur: Any, state: Slot, slot: int, groups: list[StatementGroup], at: Progress
    ) -> bool:
        """The load's statements in one round trip when that saves one; False when the load takes the
        statement-by-statement path, nothing sent; raises ``Redo`` when it must be applied again that way."""
        limit = min(self.chunk_bytes, max(4096, (state.max_packet - 1024) // 4))
        statements = render(groups, self.chunk_rows, limit, state.conn, sql_values)
        if not statements:  # None: not renderable here; []: nothing left to write (a conflict screen)
            return False
        last_group, _rows, last_sql = statements[-1]
        one_trip = state.blocks and last_group.fallback is None and len(last_sql) <= ONE_TRIP_BYTES
        if len(statements) + (0 if one_trip else 1) <= 2:  # statement by statement is no more round trips
            return False
        clean, missed = self._execute_many(cur, slot, statements, limit, at)
        if not clean or (missed and not distinct_keys(groups)):
            raise Redo()
        for group, rows in missed:  # rows missing on the target: upserted whole, as _send_chunk does
            at.group, at.first, at.rows = group, rows[0], len(rows)
            self._upsert_instead(cur, state, slot, group, rows, at)
        return True

    def _execute_many(
        self, cur: Any, slot: int, statements: list, limit: int, at: Progress
    ) -> tuple[bool, list[tuple[StatementGroup, Sequence[EventData]]]]:
        """``send``; (clean, the UPDATE join chunks that missed rows)."""
        clean, sent, missed = send(self, cur, statements, limit, at)  # type: ignore[arg-type]
        self._statements[slot] += sent
        return clean, missed


def render(
    groups: Sequence[StatementGroup], chunk_rows: int, limit: int, conn: Any, sql_values: Any
) -> list[_Statement] | None:
    """The load's statements as ``(group, its rows, SQL)`` by ``sql_values`` (``dialect.sql_values``, the
    loader's); None when the load must take the statement-by-statement path (see the module docstring)."""
    if sql_values is None or conn.encoding != "utf8":
        return None
    made: list[_Statement] = []
    for group in groups:
        events = group.events
        mode = 0 if group.kind != "DELETE" else 1 if len(group.columns) == 1 else 2
        big = BIG_ROW_BYTES if group.kind == "UPSERT" else -1
        begin, count = 0, len(events)
        while begin < count:
            try:
                sql, end = sql_values(
                    events, begin, mode, group.picks, chunk_rows, limit, big, group.head, group.tail
                )
            except Exception:
                return None  # a row the builder refuses: the old path names it
            if end == begin or len(sql) > limit:
                return None  # a big row, sent alone as bytes; a row over the packet limit, named there
            made.append((group, events[begin:end], sql))
            begin = end
    return made


def send(
    loader: ChunkFallback, cur: Any, statements: list[_Statement], limit: int, at: Progress
) -> tuple[bool, int, list[tuple[StatementGroup, Sequence[EventData]]]]:
    """Send ``statements`` in multi-statement queries of up to ``limit`` bytes each; return (clean, sent,
    missed): clean is False when the load must be applied again statement by statement (rolled back by the
    caller); sent counts the statements the server ran; missed holds the UPDATE join chunks that matched
    fewer rows than they carry, for the caller's upsert. Errors the old path would raise are raised, with
    ``at`` naming the failing statement's group and chunk."""
    start = 0
    sent = 0
    missed: list[tuple[StatementGroup, Sequence[EventData]]] = []
    while start < len(statements):
        end, size = start, 0
        while end < len(statements) and (end == start or size + len(statements[end][2]) + 1 <= limit):
            size += len(statements[end][2]) + 1
            end += 1
        clean, ran = _send_packet(loader, cur, statements[start:end], at, missed)
        sent += ran
        if not clean:
            return False, sent, missed
        start = end
    return True, sent, missed


def _send_packet(
    loader: ChunkFallback,
    cur: Any,
    statements: list[_Statement],
    at: Progress,
    missed: list[tuple[StatementGroup, Sequence[EventData]]],
) -> tuple[bool, int]:
    clean = True
    index = 0
    try:
        cur.execute(b";".join(sql if isinstance(sql, bytes) else sql.encode() for _g, _r, sql in statements))
        first = cur._result  # the first statement's result, read by PyMySQL
        warnings, info, more = first.warning_count, first.message, first.has_next
        conn = cur.connection
        # the others' OK packets read here (read_ok): nothing left for PyMySQL to read or drain after
        cur._result = conn._result = None
        while True:
            group, rows, _sql = statements[index]
            if warnings:
                clean = False  # the rest still runs on the server: read their results, then redo
            elif group.fallback is not None and matched_rows(info) != len(rows):
                missed.append((group, rows))
            index += 1
            if not more:
                break
            more, warnings, info = read_ok(conn)
    except pymysql.Error as exc:
        group, rows, _sql = statements[index]
        at.group, at.first, at.ev, at.rows = group, rows[0], rows[-1], len(rows)
        if not loader._falls_back(group, rows, exc):
            raise
        return False, index + 1
    return clean, index


def read_ok(conn: Any) -> tuple[int, int, bytes]:
    """The next result of a multi-statement query, an OK packet (an INSERT, UPDATE or DELETE), read without
    PyMySQL's result and cursor objects (~13 per load): (more results follow, warning count, info text).
    A server error is raised as PyMySQL raises it; a result with rows is not expected here."""
    data = conn._read_packet()._data  # an error packet raises here, as in Cursor.nextset
    if data[0] != 0:
        raise pymysql.err.InterfaceError(
            f"a multi-statement load's statement answered with a packet of type {data[0]:#x}, not OK"
        )
    pos = 1
    for _ in range(2):  # affected rows, last insert id: length-encoded integers
        size = data[pos]
        pos += 1 if size < 0xFB else 3 if size == 0xFC else 4 if size == 0xFD else 9
    status, warnings = _STATUS_WARNINGS.unpack_from(data, pos)
    conn.server_status = status
    return status & SERVER_STATUS.SERVER_MORE_RESULTS_EXISTS, warnings, data[pos + 4 :]


def distinct_keys(groups: Sequence[StatementGroup]) -> bool:
    """Whether no row is written by two of the load's statements (merged events: one per key), so that
    an UPDATE join's upsert for rows it missed may follow the statements sent after the join."""
    seen = set()
    count = 0
    for group in groups:
        for ev in group.events:
            seen.add((ev.schema, ev.table, tuple(ev.keys.values())))
            count += 1
    return len(seen) == count
