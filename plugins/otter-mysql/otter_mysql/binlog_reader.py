"""otter's own binlog stream reader (``parameters.binlog_reader: native``, the default).

The selector needs, per event, the 19-byte header and the few fields it routes on; the rows themselves
travel raw to the runner's compiled decoder. mysql-replication built several Python objects per event
(a packet wrapper, the event, bitmaps, a table map lookup) for ~95 of the selector's ~120 us per OLTP
transaction (docs/performance.md). This reader reads the dump's packets from PyMySQL's buffered socket
file and hands the selector plain values: ``struct.unpack_from`` on the packet's bytes, Table_map events
parsed once per distinct body, and nothing else built for events the selector ignores.

The events go to a *sink* (``MySQLSelector``) with these methods: ``_on_rows(kind, table, log_pos,
timestamp, bitmap, bitmap2, body)``, ``_on_gtid(gtid, in_tx)``, ``_on_commit(log_pos, timestamp)``,
``_on_query(query, schema, log_pos, timestamp)``, ``_on_rotate(real)``, ``_on_bookkeeping(log_pos,
timestamp)``, ``_forget_table(table_id)`` and, from the compiled loop, ``_on_run(names, blob, count, size,
log_pos, gtid, timestamp)``. ``library_reader.LibraryReader`` feeds the same sink from
mysql-replication (``binlog_reader: library``).

Checksums: each binlog file's Format_description event says whether its events end in a CRC32; they are
verified with ``zlib.crc32`` and a mismatch stops reading with the file and position.

The compiled loop (``_native/binlog.c``): when the sink defers decoding (the selector process), ``run``
reads the socket into a buffer and ``_rowdecode.binlog_scan`` handles the events of an OLTP backlog
(GTID, Xid, Annotate_rows, known Table_map bodies, rows of tables with a codec) itself, as the handlers
would, and stops at any other packet, which ``_event`` (the Python loop's body) then handles. When the
sink packs its hand-over (``sink._scan_runs``), the scan writes such plain transactions straight into
a packed run (``_native/scanrun.c``) handed to ``sink._on_run`` once per call, and reads any other
transaction again from its GTID event the way above.
"""

from __future__ import annotations

import os
import socket
import struct
import zlib
from typing import Any

import pymysql

from otter_core.spi import EventType, SourceError
from otter_mysql import binlog_dump, handover
from otter_mysql.binlog_tablemap import TableInfo, lenenc, parse_table_map
from otter_mysql.rowcodec import DELETE, UPDATE, WRITE
from otter_mysql.txqueue import TxQueue

_scan: Any
_skip: Any
try:  # the compiled event loop (_native/binlog.c); without it the Python loop below reads every event
    from otter_mysql import _rowdecode

    _scan = getattr(_rowdecode, "binlog_scan", None)
    _skip = getattr(_rowdecode, "binlog_skip", None)
except ImportError:
    _scan = _skip = None
# a transaction binlog_scan packs itself (``sink._scan_runs``): at most PACK_MAX_BYTES of rows, as the
# hand-over packs, and RUN_MAX_WALK bytes of events (beyond, rows the pipeline skips are read once the
# Python way instead of again from its GTID event after each read of the socket)
RUN_MAX_WALK = 1 << 18
if _scan is not None:
    _rowdecode.binlog_setup(
        handover.RAW,
        ((WRITE, EventType.INSERT), (UPDATE, EventType.UPDATE), (DELETE, EventType.DELETE)),
        handover.PACK_MAX_BYTES,
        RUN_MAX_WALK,
    )

_HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server_id, event size, next position, flags
_GTID = struct.Struct("<QIB")  # MariaDB GTID: sequence number, domain id, flags
_QUERY = struct.Struct("<IIBHH")  # thread id, exec time, schema length, error code, status vars length
_MAX_PACKET = 0xFFFFFF
QUERY, STOP, ROTATE, FORMAT, XID, TABLE_MAP, HEARTBEAT, XA_PREPARE = 2, 3, 4, 15, 16, 19, 27, 38
MYSQL_GTID, PREVIOUS_GTIDS = 33, 35
ANNOTATE, CHECKPOINT, MARIADB_GTID, GTID_LIST, START_ENCRYPTION = 160, 161, 162, 163, 164
INCIDENT = 26
ROWS = {23: (WRITE, 0), 24: (UPDATE, 0), 25: (DELETE, 0), 30: (WRITE, 1), 31: (UPDATE, 1), 32: (DELETE, 1)}
# rows events this reader cannot read: older rows events, MySQL's partial JSON updates, MariaDB's
# compressed rows events (log_bin_compress); their rows must not be skipped
UNREADABLE_ROWS = {20, 21, 22, 39, 166, 167, 168, 169, 170, 171}
BOOKKEEPING = {STOP, FORMAT, PREVIOUS_GTIDS, CHECKPOINT, GTID_LIST}
IGNORED = {ANNOTATE, START_ENCRYPTION, HEARTBEAT, 5, 13, 14, 28, 29, 34}  # + Intvar, Rand, User_var...
_MAPS_KEPT = 4096  # distinct Table_map bodies remembered (an OLTP backlog repeats a few)
LOOP_ENV = "OTTER_BINLOG_LOOP"  # "python": the Python event loop even with the compiled one there
_READ_SIZE = 1 << 16  # bytes asked of the socket per read by the compiled loop
_NO_LIMIT = 1 << 62
_END = object()


def compiled_loop() -> bool:
    """Whether ``run`` and ``queries`` use the compiled loop: built, and not switched off by
    ``OTTER_BINLOG_LOOP=python`` or ``OTTER_PURE_PYTHON_DECODER=1`` (read at each call, for the tests)."""
    return (
        _scan is not None
        and os.environ.get(LOOP_ENV, "").lower() != "python"
        and os.environ.get("OTTER_PURE_PYTHON_DECODER") != "1"
    )


class NativeReader:
    """One dump connection: ``run(sink)`` reads events until the connection ends or fails."""

    def __init__(
        self,
        conn: Any,
        server_id: int,
        point: dict[str, Any],
        heartbeat_s: float,
        label: str,
        non_block: bool = False,
    ) -> None:
        self.conn = conn
        self.label = label
        self.log_file: str | None = point.get("log_file")
        self.table_map: dict[int, TableInfo] = {}
        self.heartbeats = 0
        self._maps: dict[bytes, TableInfo] = {}
        self._crc = binlog_dump.open_dump(conn, server_id, point, heartbeat_s, non_block)
        conn._sock.settimeout(conn._read_timeout)

    def shutdown(self) -> None:
        """Unblock a read in another thread (close() of the selector)."""
        sock = getattr(self.conn, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:
            pass

    def _packets(self) -> Any:
        """The dump's packets (payloads joined when an event spans several 16 MB packets)."""
        conn = self.conn
        conn._sock.settimeout(conn._read_timeout)
        read = conn._rfile.read
        while True:
            head = read(4)
            size = head[0] | head[1] << 8 | head[2] << 16 if len(head) == 4 else -1
            data = read(size) if size > 0 else b""
            if len(data) != size or not size:
                raise ConnectionError(
                    "the binlog connection was closed by the server or sent an empty packet"
                )
            if size == _MAX_PACKET:
                parts = [data]
                while size == _MAX_PACKET:
                    head = read(4)
                    size = head[0] | head[1] << 8 | head[2] << 16 if len(head) == 4 else -1
                    parts.append(read(size) if size > 0 else b"")
                    if len(parts[-1]) != size:
                        raise ConnectionError("the binlog connection was closed by the server")
                data = b"".join(parts)
            yield data

    def run(self, sink: Any, stop: Any) -> None:
        """Hand every event to ``sink`` until ``stop`` is set; returns at the end of the stream (the
        server sent EOF), raises on a lost connection or a server error."""
        if not compiled_loop() or not sink._deferred:
            # in-thread decoding (select_process: false) hands every rows event to Python anyway
            for data in self._packets():
                if self._event(sink, data) or stop.is_set():
                    return
            return
        # the compiled loop walks the packets read so far and leaves the rest (rare events, first sight
        # of a table, errors) to _event: same handlers, same order, same messages
        buf = bytearray()
        at = mode = 0
        table_map, maps = self.table_map, self._maps
        queue = getattr(sink, "_queue", None)
        queue = queue if isinstance(queue, TxQueue) else None
        while True:
            codecs = sink._codecs
            # plain transactions packed in the scan, once the selector's hand-over packs
            if not mode and getattr(sink, "_scan_runs", False) is True:
                mode = 1
            declared = sink._declared if mode else None
            if queue is not None:  # the transactions of this buffer are queued together
                queue.hold()
            try:
                at, status, mode = _scan(
                    buf, at, self._crc, self.log_file, table_map, maps, codecs, sink, mode, declared
                )
            finally:
                if queue is not None:
                    queue.release()
            if status == 2:  # a transaction the scan rewound: read it again from its GTID event
                del buf[:at]
                at = 0
            elif status:
                data, at = self._take(buf, at)
                del buf[:at]  # consumed: a run of events left to Python (16 MB rows) must not pile up here
                at = 0
                if self._event(sink, data):
                    return
            else:
                del buf[:at]
                at = 0
                self._fill(buf)
            if stop.is_set():
                return

    def _event(self, sink: Any, data: bytes) -> bool:
        """One event (the Python loop's body); True at the end of the stream."""
        if data[0] != 0:
            if data[0] == 0xFF:
                pymysql.err.raise_mysql_exception(data)
            if data[0] == 0xFE and len(data) < 9:
                return True  # EOF: the server ends the dump
            raise SourceError(f"{self.label}: unexpected binlog packet {bytes(data[:16])!r}")
        ts, kind, server_id, _size, log_pos, _flags = _HEADER.unpack_from(data, 1)
        end = len(data)
        if self._crc:
            end -= 4
            if kind != FORMAT and zlib.crc32(memoryview(data)[1:end]) != int.from_bytes(data[end:], "little"):
                raise self._checksum_error(kind, log_pos, _size)
        rows = ROWS.get(kind)
        if rows is not None:
            self._rows(sink, rows, data, end, ts, log_pos)
        elif kind == TABLE_MAP:
            self._table_map(sink, data, end)
        elif kind == MARIADB_GTID:
            seq, domain, flags = _GTID.unpack_from(data, 20)
            sink._on_gtid(f"{domain}-{server_id}-{seq}", not flags & 1)  # FL_STANDALONE: no COMMIT follows
        elif kind == XID or kind == XA_PREPARE:
            sink._on_commit(log_pos, ts)
        elif kind == QUERY:
            _, _, schema_len, _, status_len = _QUERY.unpack_from(data, 20)
            p = 33 + status_len
            schema = data[p : p + schema_len].decode("utf-8", "replace")
            query = data[p + schema_len + 1 : end].decode("utf-8", "backslashreplace")
            sink._on_query(query, schema, log_pos, ts)
        elif kind == HEARTBEAT:
            self.heartbeats += 1
        else:
            self._rare(sink, kind, data, end, ts, log_pos)
        return False

    def _rows(self, sink: Any, rows: tuple, data: bytes, end: int, ts: int, log_pos: int) -> None:
        table_id = int.from_bytes(data[20:26], "little")
        p = 28
        if rows[1]:  # v2: extra data, its length counts itself
            p += data[28] | data[29] << 8
        count = data[p]
        if count < 251:
            p += 1
        else:
            count, p = lenenc(data, p)
        width = (count + 7) >> 3
        bitmap = data[p : p + width]
        p += width
        bitmap2 = None
        if rows[0] is UPDATE:
            bitmap2 = data[p : p + width]
            p += width
        table = self.table_map.get(table_id)
        if table is None:
            raise SourceError(
                f"{self.label}: rows event at {self.log_file}:{log_pos} for table id {table_id} without "
                f"its Table_map event (the stream started inside a statement?); set the pipeline's "
                f"position to a transaction boundary (`otter-run position set`)",
                retryable=False,
            )
        sink._on_rows(rows[0], table, log_pos, ts, bitmap, bitmap2, data[p:end])

    def _fill(self, buf: bytearray) -> None:
        """Append what the socket has (at least one byte) to ``buf``."""
        more = self.conn._rfile.read1(_READ_SIZE)
        if not more:
            raise ConnectionError("the binlog connection was closed by the server or sent an empty packet")
        buf += more

    def _take(self, buf: bytearray, at: int) -> tuple[bytes, int]:
        """The event whose first packet starts at ``buf[at]`` (payloads joined when it spans several
        16 MB packets, reading more as needed) and the offset after it."""
        parts: list[bytes] = []
        while True:
            while len(buf) - at < 4:
                self._fill(buf)
            size = buf[at] | buf[at + 1] << 8 | buf[at + 2] << 16
            if not size and not parts:
                raise ConnectionError(
                    "the binlog connection was closed by the server or sent an empty packet"
                )
            while len(buf) - at - 4 < size:
                self._fill(buf)
            parts.append(bytes(buf[at + 4 : at + 4 + size]))
            at += 4 + size
            if size != _MAX_PACKET:
                return (parts[0] if len(parts) == 1 else b"".join(parts)), at

    def queries(self, until: tuple[str, int]) -> Any:
        """``((file, pos), query, default schema)`` of the Query events up to ``until`` (the schema
        history's scan for DDL at a start behind; every other event is only checked and skipped)."""
        if not compiled_loop():
            for data in self._packets():
                found = self._query_event(data, until)
                if found is _END:
                    return
                if found is not None:
                    yield found
            return
        buf = bytearray()
        at = 0
        while True:
            file = self.log_file
            # events the compiled loop may skip: those at or before `until` (all of them before the first
            # Rotate names the file, as in _query_event)
            limit = _NO_LIMIT if file is None or file < until[0] else until[1] if file == until[0] else -1
            at, status = _skip(buf, at, self._crc, limit)
            if status:
                data, at = self._take(buf, at)
                del buf[:at]
                at = 0
                found = self._query_event(data, until)
                if found is _END:
                    return
                if found is not None:
                    yield found
            else:
                del buf[:at]
                at = 0
                self._fill(buf)

    def _query_event(self, data: bytes, until: tuple[str, int]) -> Any:
        """One event of ``queries``: its Query, None for another event, _END past ``until`` or at EOF."""
        if data[0] != 0:
            if data[0] == 0xFF:
                pymysql.err.raise_mysql_exception(data)
            return _END  # EOF (a non-blocking dump ends at the binlog's end)
        _ts, kind, _server_id, size, log_pos, _flags = _HEADER.unpack_from(data, 1)
        end = len(data)
        if self._crc:
            end -= 4
            if kind != FORMAT and zlib.crc32(memoryview(data)[1:end]) != int.from_bytes(data[end:], "little"):
                raise self._checksum_error(kind, log_pos, size)
        if kind == ROTATE:
            self.log_file = data[28:end].decode("utf-8", "replace")
        elif kind == FORMAT:
            self._format(data)
        if not log_pos or self.log_file is None:
            return None
        if (self.log_file, log_pos) > until:
            return _END
        if kind == QUERY:
            _, _, schema_len, _, status_len = _QUERY.unpack_from(data, 20)
            p = 33 + status_len
            schema = data[p : p + schema_len].decode("utf-8", "replace")
            query = data[p + schema_len + 1 : end].decode("utf-8", "backslashreplace")
            return (self.log_file, log_pos), query, schema
        return None

    def _table_map(self, sink: Any, data: bytes, end: int) -> None:
        body = data[20:end]
        info = self._maps.get(body)
        if info is None:
            if len(self._maps) >= _MAPS_KEPT:
                self._maps.clear()
            info = self._maps[body] = parse_table_map(data, 20, end)
        previous = self.table_map.get(info.table_id)
        if previous is not info:
            self.table_map[info.table_id] = info
            if previous is not None:  # the same id with another layout: decoders made for the old one go
                sink._forget_table(info.table_id)

    def _rare(self, sink: Any, kind: int, data: bytes, end: int, ts: int, log_pos: int) -> None:
        if kind == ROTATE:
            self.log_file = data[28:end].decode("utf-8", "replace")
            if ts:  # a real rotation may follow a server restart: table ids are reused
                self.table_map.clear()
            sink._on_rotate(bool(ts))
        elif kind == FORMAT:
            self._format(data)
            if log_pos:
                sink._on_bookkeeping(log_pos, ts)
        elif kind in BOOKKEEPING:
            if log_pos:
                sink._on_bookkeeping(log_pos, ts)
        elif kind == MYSQL_GTID:
            uuid = data[21:37].hex()
            gno = int.from_bytes(data[37:45], "little")
            sink._on_gtid(f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}:{gno}", None)
        elif kind in UNREADABLE_ROWS or kind == INCIDENT:
            what = "an incident event (the source may have lost changes)" if kind == INCIDENT else "rows"
            raise SourceError(
                f"{self.label}: the binlog holds {what} in an event of type {kind} at {self.log_file}:{log_pos} "
                f"that otter cannot read; rows must not be skipped: check the source's binlog settings "
                f"(log_bin_compress=OFF, binlog_row_value_options empty), then set the pipeline's position "
                f"past it and resync the tables it changed",
                retryable=False,
            )
        # any other event (Annotate_rows, Intvar, Start_encryption...) carries nothing otter uses

    def _format(self, data: bytes) -> None:
        """A Format_description event: whether the events of its file end in a CRC32 (its algorithm
        byte sits before its own 4-byte checksum field, whatever the algorithm)."""
        alg = data[-5]
        if alg not in (0, 1):
            raise SourceError(
                f"{self.label}: the binlog file {self.log_file} uses checksum algorithm {alg}, which otter "
                f"cannot verify; set binlog_checksum to CRC32 or NONE",
                retryable=False,
            )
        self._crc = alg == 1
        if self._crc and zlib.crc32(memoryview(data)[1:-4]) != int.from_bytes(data[-4:], "little"):
            raise self._checksum_error(FORMAT, 4 + len(data) - 1, len(data) - 1)  # a file's first event

    def _checksum_error(self, kind: int, log_pos: int, size: int) -> SourceError:
        at = log_pos - size
        return SourceError(
            f"{self.label}: the binlog event at {self.log_file}:{at} (type {kind}, ending at {log_pos}) fails its "
            f"CRC32 checksum: the event was damaged on disk or on the way; check the source's binlog file "
            f"(mysqlbinlog --verify-binlog-checksum) and the network, then restart the pipeline",
        )
