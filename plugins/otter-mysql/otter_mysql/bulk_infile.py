"""The bulk path's second statement form: ``LOAD DATA LOCAL INFILE … REPLACE``, the rows streamed from memory.

Measured on the target (docs/performance.md, "Initial load: the bulk path"): ~35–40 % less of its CPU
than the multi-row upsert for fresh rows, ~25 % for a replayed chunk. ``sql_rows(…, tsv=True)`` writes
the chunk's packets as LOAD DATA's tab-separated text (binary strings as their bytes, escaped; BIT
and GEOMETRY as hex, set with ``UNHEX``), and ``InfileConnection`` answers the server's request for the "file" with that text.
It never opens a file, whatever name the server asks for (PyMySQL's own handler would read it): a
server can get the chunk being loaded, or nothing.
It needs ``local_infile`` on the server: refused, the upsert is used (logged once). ``REPLACE`` deletes
and re-inserts a row that exists (a replayed chunk): a target table with triggers keeps the upsert, and
so does a target without the option ``bulk_load_data`` (default true).
"""

from __future__ import annotations

import logging
from typing import Any

from pymysql import connections as pm_connections
from pymysql import err
from pymysql.constants import CR

from otter_mysql import mysql_connect
from otter_mysql.dialect import quote_ident, quote_table
from otter_mysql.load_session import SESSION_SQL, connect_arguments

log = logging.getLogger("otter.load")
PACKET = 1 << 20  # bytes of the text per packet sent
# the server refuses LOCAL INFILE: MariaDB/MySQL "not allowed with this version", MySQL 8 "disabled",
# MariaDB "disabled" (local_infile=OFF)
REFUSED = {1148, 3948, 4166}
HEX = 3  # bulk_load's literal kind of BIT and GEOMETRY columns


class _InfileResult(pm_connections.MySQLResult):
    def _read_load_local_packet(self, first_packet: Any) -> None:
        conn: Any = self.connection  # an InfileConnection; PyMySQL's private packet calls are untyped
        data = memoryview(conn.otter_infile)
        try:
            for start in range(0, len(data), PACKET):
                # PyMySQL's write_packet, with one copy of the text instead of two (bytes(), then + header)
                piece = data[start : start + PACKET]
                conn._write_bytes(len(piece).to_bytes(3, "little") + bytes((conn._next_seq_id,)) + piece)
                conn._next_seq_id = (conn._next_seq_id + 1) % 256
        finally:
            conn.write_packet(b"")  # the end of the "file"
            ok_packet = conn._read_packet()
        if not ok_packet.is_ok_packet():
            raise err.OperationalError(CR.CR_COMMANDS_OUT_OF_SYNC, "Commands Out of Sync")
        self._read_ok_packet(ok_packet)  # type: ignore[attr-defined]  # PyMySQL's private method


class InfileConnection(mysql_connect.Connection):
    """A connection that sends ``otter_infile`` when the server asks for a LOCAL INFILE."""

    otter_infile: bytes = b""

    def _read_query_result(self, unbuffered: bool = False) -> Any:
        if unbuffered:
            return super()._read_query_result(unbuffered)  # type: ignore[misc]  # private PyMySQL hook
        self._result = None
        result = _InfileResult(self)
        result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows


def statement(schema: str, table: str, columns: tuple[str, ...], lits: bytes) -> bytes:
    """The LOAD DATA statement of a chunk of ``columns`` (binary ones through a variable and UNHEX)."""
    targets, sets = [], []
    for i, (name, kind) in enumerate(zip(columns, lits)):
        if kind == HEX:
            targets.append(f"@h{i}")
            sets.append(f"{quote_ident(name)}=UNHEX(@h{i})")
        else:
            targets.append(quote_ident(name))
    sql = (
        f"LOAD DATA LOCAL INFILE 'otter-chunk' REPLACE INTO TABLE {quote_table(schema, table)} "
        "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
        f"({','.join(targets)})"
    )
    if sets:
        sql += " SET " + ",".join(sets)
    return sql.encode()


def has_triggers(conn: Any, schema: str, table: str) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = %s "
            "AND EVENT_OBJECT_TABLE = %s",
            (schema, table),
        )
        return bool(cur.fetchone()[0])


def connection(loader: Any, slot: int) -> Any:
    """The loader's LOCAL INFILE connection ``slot`` (its own: the flag is agreed at connect time)."""
    conns = loader._infile_conns
    if conns[slot] is None:
        conn = InfileConnection(**connect_arguments(loader.target), local_infile=True)
        with conn.cursor() as cur:
            cur.execute(SESSION_SQL)
        conns[slot] = conn
    return conns[slot]


def discard(loader: Any, slot: int | None = None) -> None:
    """Close the LOCAL INFILE connection ``slot`` (all: None), quietly."""
    conns = loader._infile_conns
    for i, conn in enumerate(conns):
        if conn is not None and (slot is None or i == slot):
            try:
                conn.close()
            except Exception:  # closing after a failure must not hide the failure
                pass
            conns[i] = None
