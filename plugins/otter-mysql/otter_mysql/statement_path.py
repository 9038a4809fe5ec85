"""The load's statements sent one by one: each chunk of a statement group its own round trip, its
warnings checked after it, the last one carrying the COMMIT (``one_trip``).

The path every load could take: the multi-statement query (``multi_statement``) leaves to it the loads
it cannot send at once and applies here again, one by one, a load that warned or failed, so that the
warning or error names its row. Mixed into ``MySQLLoader``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import define

from otter_core.spi import EventData
from otter_mysql import bigrows
from otter_mysql.dialect import literal, literal_row, sql_values
from otter_mysql.load_errors import PacketTooLarge
from otter_mysql.load_plan import StatementGroup
from otter_mysql.load_session import Slot
from otter_mysql.one_trip import ONE_TRIP_BYTES, execute_committing


@define
class Progress:
    """The group, chunk and row being sent, for the error message."""

    group: StatementGroup | None = None
    first: EventData | None = None  # first event of the chunk being built / sent
    ev: EventData | None = None
    rows: int = 0  # rows of the statement being sent


class StatementByStatement:
    """Chunking a statement group and sending its chunks one by one (mixed into ``MySQLLoader``)."""

    chunk_rows: int
    chunk_bytes: int
    _statements: list[int]
    _send_chunk: Any
    _check_warnings: Any

    def _send_group(
        self,
        cur: Any,
        state: Slot,
        slot: int,
        group: StatementGroup,
        events: Sequence[EventData],
        at: Progress,
        compiled: bool = True,
    ) -> None:
        """Send ``events`` of one statement shape in chunks of ``chunk_rows`` rows and ``chunk_bytes``."""
        at.group = group
        limit = min(self.chunk_bytes, max(4096, (state.max_packet - 1024) // 4))
        chunk_rows = self.chunk_rows
        head, tail, picks = group.head, group.tail, group.picks
        kind = group.kind
        if compiled and sql_values is not None and state.conn.encoding == "utf8":  # the compiled chunk
            # builder writes UTF-8 (utf8mb4 connections); the loop below for other charsets and what it refuses
            events = events[self._send_compiled(cur, state, slot, group, events, at, limit) :]
            if not events:
                return
        base = len(head) + len(tail)
        buf: list[str] = []
        size = base
        begin = 0  # index in ``events`` of the chunk's first row
        for i, ev in enumerate(events):
            at.ev = ev
            if kind == "UPSERT" and ev.size > bigrows.BIG_ROW_BYTES:  # alone, as bytes, one at a time
                if buf:
                    self._send_chunk(
                        cur, state, slot, group, head + ",".join(buf) + tail, events[begin:i], at
                    )
                    buf, size = [], base
                at.first, at.rows = ev, 1
                values = (*ev.keys.values(), *ev.columns.values())
                with bigrows.GATE:
                    self._execute(
                        cur,
                        state,
                        slot,
                        bigrows.statement(
                            head, [values[i] for i in picks] if picks else values, tail, state.conn.encoding
                        ),
                        group,
                        (ev,),
                    )
                continue
            if kind != "DELETE":
                values = (*ev.keys.values(), *ev.columns.values())
                lit = literal_row([values[i] for i in picks] if picks else values)
            elif len(ev.keys) == 1:
                lit = literal(next(iter(ev.keys.values())))
            else:
                lit = literal_row(ev.keys.values())
            if buf and (len(buf) >= chunk_rows or size + len(lit) > limit):
                self._send_chunk(cur, state, slot, group, head + ",".join(buf) + tail, events[begin:i], at)
                buf, size = [], base
            if not buf:
                at.first, begin = ev, i
            buf.append(lit)
            size += len(lit) + 1
        if buf:
            self._send_chunk(cur, state, slot, group, head + ",".join(buf) + tail, events[begin:], at)

    def _send_compiled(
        self,
        cur: Any,
        state: Slot,
        slot: int,
        group: StatementGroup,
        events: Sequence[EventData],
        at: Progress,
        limit: int,
    ) -> int:
        """``_send_group`` by ``dialect.sql_values`` (same chunks, same SQL); return how many events it sent.

        Rows too big to share a statement go through ``_send_group`` one by one. A row it cannot render
        stops it, and the Python loop renders that chunk again to name the row in its error."""
        kind = group.kind
        mode = 0 if kind != "DELETE" else 1 if len(group.columns) == 1 else 2
        big = bigrows.BIG_ROW_BYTES if kind == "UPSERT" else -1
        begin, count = 0, len(events)
        while begin < count:
            try:
                sql, end = sql_values(
                    events, begin, mode, group.picks, self.chunk_rows, limit, big, group.head, group.tail
                )
            except Exception:
                return begin
            if end == begin:  # a big row
                end = begin + 1
                self._send_group(cur, state, slot, group, events[begin:end], at, compiled=False)
            else:
                at.first, at.ev = events[begin], events[end - 1]
                self._send_chunk(cur, state, slot, group, sql, events[begin:end], at)
            begin = end
        return begin

    def _execute(
        self,
        cur: Any,
        state: Slot,
        slot: int,
        sql: str | bytes | memoryview,
        group: StatementGroup,
        rows: Sequence[EventData],
    ) -> None:
        if len(rows) == 1 and len(sql) > state.max_packet:
            raise PacketTooLarge(len(sql), state.max_packet)
        if (
            group is state.last
            and len(rows) == len(group.events)  # the group's only statement: the load's last one
            and len(sql) <= ONE_TRIP_BYTES
            and not isinstance(sql, memoryview)
        ):
            state.last = None  # a fallback's statements after a refusal go alone
            state.committed = execute_committing(cur, state.conn, sql)
            self._statements[slot] += 1
            if state.committed:
                return
        else:
            cur.execute(sql)
            self._statements[slot] += 1
        self._check_warnings(cur, state.conn, group, rows)
