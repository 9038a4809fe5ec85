"""The binlog stream read by mysql-replication (``parameters.binlog_reader: library``): the fallback.

It feeds the selector the same calls as ``binlog_reader.NativeReader`` (see there), from the library's
event objects. Kept so that a user can go back to the reader otter used until issue 21 if ours
misreads something; it costs ~5x more CPU per OLTP transaction (docs/performance.md).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    GtidEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XAPrepareEvent,
    XidEvent,
)
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from otter_mysql.rowcodec import DELETE, UPDATE, WRITE

_ROW_KIND = {WriteRowsEvent: WRITE, DeleteRowsEvent: DELETE, UpdateRowsEvent: UPDATE}


class LibraryReader:
    """A ``BinLogStreamReader`` from ``point``, its connections made by ``connect``."""

    def __init__(
        self,
        settings: dict[str, Any],
        server_id: int,
        point: dict[str, Any],
        heartbeat_s: float,
        connect: Callable,
    ) -> None:
        kwargs: dict[str, Any] = {"log_file": point.get("log_file"), "log_pos": point.get("log_pos")}
        if "gtid" in point:
            kwargs = {"is_mariadb": True, "auto_position": point["gtid"]}
        self.stream = BinLogStreamReader(
            connection_settings=settings,
            server_id=server_id,
            resume_stream=True,
            blocking=True,
            freeze_schema=True,
            slave_heartbeat=heartbeat_s,
            enable_logging=False,
            only_events=[
                QueryEvent,
                XidEvent,
                MariadbGtidEvent,
                GtidEvent,
                RotateEvent,
                XAPrepareEvent,
                WriteRowsEvent,
                UpdateRowsEvent,
                DeleteRowsEvent,
            ],
            pymysql_wrapper=connect,
            **kwargs,
        )

    @property
    def log_file(self) -> str | None:
        return self.stream.log_file

    @property
    def table_map(self) -> dict:
        return self.stream.table_map

    def shutdown(self) -> None:
        conn = getattr(self.stream, "_stream_connection", None)
        sock = getattr(conn, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:
            pass

    def run(self, sink: Any, stop: Any) -> None:
        """Hand every event to ``sink`` until ``stop`` is set or the stream ends."""
        stream = self.stream
        while not stop.is_set():
            ev = stream.fetchone()
            if ev is None:
                return
            kind = _ROW_KIND.get(type(ev))
            if kind is not None:
                packet = ev.packet
                table = stream.table_map[ev.table_id]
                body = packet.read(ev.event_size - packet.read_bytes)
                bitmap2 = getattr(ev, "columns_present_bitmap2", None)
                sink._on_rows(
                    kind, table, packet.log_pos, ev.timestamp, ev.columns_present_bitmap, bitmap2, body
                )
            elif isinstance(ev, (XidEvent, XAPrepareEvent)):
                sink._on_commit(ev.packet.log_pos, ev.timestamp)
            elif isinstance(ev, QueryEvent):
                schema = ev.schema.decode("utf-8", "replace") if isinstance(ev.schema, bytes) else ev.schema
                sink._on_query(ev.query, schema, ev.packet.log_pos, ev.timestamp)
            elif isinstance(ev, MariadbGtidEvent):
                sink._on_gtid(
                    ev.gtid, not ev.flags & 1
                )  # FL_STANDALONE: one statement, no COMMIT/XID follows
            elif isinstance(ev, GtidEvent):
                sink._on_gtid(ev.gtid, None)
            elif isinstance(ev, RotateEvent):
                sink._on_rotate(bool(ev.timestamp))
            # the library's event and packet refer to each other: without this the cycle (and a
            # 16 MB BLOB's packet) lives until the next garbage collection, several events later
            ev.packet = None
