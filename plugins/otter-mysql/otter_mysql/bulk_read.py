"""Result sets read in C: the rows of a buffered SELECT parsed by the extension, values as PyMySQL gives them.

PyMySQL parses a result row in Python (a packet object, a length-coded read, a decode and a converter
call per column): ~7 µs of the ~13 µs of client CPU an initial load spent per row. ``FastReadConnection``
reads the row packets straight from the socket's buffer and hands whole runs of them to
``_rowdecode.text_rows``, which builds the same tuples (bytes, strict UTF-8/ASCII text, ``int``, and
datetime/date for the server's plain form; every other value, zero dates included, goes through
PyMySQL's own converter). Columns whose decoding it does not know (another connection character set, a
custom converter) and rows over 16 MB (several packets) take PyMySQL's path, and so does everything when
the extension is absent or ``OTTER_PURE_PYTHON_DECODER=1``. ``tests/test_bulk_read.py`` compares both
paths value by value on a table of every column type.
"""

from __future__ import annotations

import errno
from typing import Any

from pymysql import connections as pm_connections
from pymysql import converters as pm_converters
from pymysql import err
from pymysql.constants import CR, SERVER_STATUS

from otter_mysql import mysql_connect
from otter_mysql.rowops import EXTENSION

TEXT_ROWS = getattr(EXTENSION, "text_rows", None)
TEXT_PACKETS = getattr(EXTENSION, "text_packets", None)
AVAILABLE = TEXT_ROWS is not None

# text_rows' kinds (textrows.c) and its statuses
BYTES, UTF8, ASCII, INT, DATETIME, DATE, CALL_BYTES, CALL_UTF8, CALL_ASCII = range(9)
MORE, EOF, ERROR, LONG = range(4)
_UTF8_NAMES = {"utf8", "utf-8", "utf8mb4"}
# PyMySQL's result and packet classes: their private parts, overridden here, are not in its type stubs
_MySQLResult: Any = pm_connections.MySQLResult
_MysqlPacket: Any = pm_connections.MysqlPacket  # type: ignore[attr-defined]


def column_kinds(converters: list[tuple[str | None, Any]]) -> tuple[bytes, tuple] | None:
    """text_rows' kinds and converters for PyMySQL's (encoding, converter) of each column; None when a
    column's encoding is one text_rows does not decode (then the whole result takes PyMySQL's path)."""
    kinds, calls = bytearray(), []
    for encoding, converter in converters:
        name = encoding.lower() if encoding else None
        if name is None:
            kind = BYTES if converter is None else CALL_BYTES
        elif name in _UTF8_NAMES:
            kind = UTF8 if converter is None else CALL_UTF8
        elif name == "ascii":
            if converter is None:
                kind = ASCII
            elif converter is int:
                kind = INT
            elif converter is pm_converters.convert_datetime:
                kind = DATETIME
            elif converter is pm_converters.convert_date:
                kind = DATE
            else:
                kind = CALL_ASCII
        else:
            return None
        kinds.append(kind)
        calls.append(converter)
    return bytes(kinds), tuple(calls)


class FastResult(_MySQLResult):
    """``MySQLResult`` whose buffered rows are parsed by ``text_rows``; with the connection's
    ``otter_packets_only`` set (the initial load's bulk path), kept as packets and not parsed at all
    (``packets``: ~0.35 µs per row less in the chunk reader; only the last row is parsed)."""

    packets: Packets | None = None

    def _read_rowdata_packet(self) -> None:
        plan = column_kinds(self.converters) if TEXT_ROWS is not None else None
        conn: Any = self.connection  # type: ignore[has-type]  # set by PyMySQL, untyped there
        if plan is None or getattr(conn, "_rfile", None) is None:
            return super()._read_rowdata_packet()
        kinds, calls = plan
        text_rows: Any = TEXT_ROWS
        text_packets: Any = TEXT_PACKETS
        parse = text_packets is None or not getattr(conn, "otter_packets_only", False)
        rows: list[tuple] = []
        raw: list[bytes] | None = []  # the row packets as received (None: a row over 16 MB)
        count, last = 0, b""  # packets only: rows kept, the last row's packet
        rfile = conn._rfile
        conn._sock.settimeout(conn._read_timeout)
        while True:
            data = _io(conn, rfile.peek, 1)  # what the buffer holds (one socket read when it is empty)
            if not data:
                _lost(conn)
            if parse:
                end, status, seq = text_rows(data, kinds, calls, rows)
            else:
                end, status, seq, n, at = text_packets(data)
                if n:
                    count += n
                    last = data[at:end]
            if raw is not None and end:
                raw.append(data[:end])
            if status == EOF:  # complete in data, not consumed yet
                size = 4 + (data[end] | data[end + 1] << 8 | data[end + 2] << 16)
                self._eof(data[end + 4 : end + size])
                conn._next_seq_id = (data[end + 3] + 1) % 256
                _io(conn, rfile.read, end + size)
                break
            if end:
                _io(conn, rfile.read, end)
            if seq >= 0:
                conn._next_seq_id = (seq + 1) % 256
            if status == MORE and end:
                continue
            payload = self._whole_packet(conn)  # an error, a row over 16 MB, or one past the buffer's end
            if payload[:1] == b"\xff":
                err.raise_mysql_exception(payload)
            packet = _MysqlPacket(payload, conn.encoding)
            if self._check_packet_is_eof(packet):
                break
            if not parse and raw is not None and len(payload) < 0xFFFFFF:
                last = len(payload).to_bytes(3, "little") + b"\0" + payload
                raw.append(last)
                count += 1
                continue
            if not parse:  # a row over 16 MB: the packets read so far are parsed, the rest as before
                parse = True
                rows = unpack(b"".join(raw or ()), kinds, calls)
            rows.append(self._read_row_from_packet(packet))
            if raw is not None and len(payload) < 0xFFFFFF:
                raw.append(len(payload).to_bytes(3, "little") + b"\0" + payload)
            else:
                raw = None
        self.connection = None
        if not parse:
            assert raw is not None
            self.packets = Packets(
                b"".join(raw), kinds, calls, count, unpack(last, kinds, calls)[0] if count else None
            )
            rows = []
        self.affected_rows = count if not parse else len(rows)
        self.rows = tuple(rows)
        self.packed = None if raw is None or not parse else (b"".join(raw), kinds, calls)

    def _eof(self, packet: bytes) -> None:
        """What PyMySQL's ``_check_packet_is_eof`` keeps from the EOF packet."""
        if len(packet) == 5 and packet[0] == 0xFE:
            self.warning_count = int.from_bytes(packet[1:3], "little")
            self.server_status = int.from_bytes(packet[3:5], "little")
            self.has_next = bool(self.server_status & SERVER_STATUS.SERVER_MORE_RESULTS_EXISTS)

    @staticmethod
    def _whole_packet(conn: Any) -> bytes:
        """The next packet's payload, across 16 MB continuation packets (as PyMySQL's ``_read_packet``)."""
        buff = bytearray()
        while True:
            header = conn._read_bytes(4)
            length = header[0] | header[1] << 8 | header[2] << 16
            conn._next_seq_id = (header[3] + 1) % 256
            buff += conn._read_bytes(length)
            if length < 0xFFFFFF:
                return bytes(buff)


class Packets:
    """A result read with ``otter_packets_only``: its row packets (``raw``), as ``PackedRows.packed``
    keeps them, the row count and the last row, the only one parsed (the next chunk starts after its key)."""

    __slots__ = ("raw", "kinds", "calls", "count", "last")

    def __init__(self, raw: bytes, kinds: bytes, calls: tuple, count: int, last: tuple | None) -> None:
        self.raw, self.kinds, self.calls, self.count, self.last = raw, kinds, calls, count, last

    def rows(self) -> list[tuple]:
        return unpack(self.raw, self.kinds, self.calls) if self.count else []


class PackedRows(list):
    """A result's rows that travel pickled as the packets they came in (a chunk read in the snapshot
    reader's process): pickling tuples of datetimes, Decimals and strings cost ~2.3 µs per row there, and
    loading them ~0.5 µs in the runner; the packets are one bytes object, parsed again by ``unpack``."""

    packed: tuple[bytes, bytes, tuple]

    def __reduce_ex__(self, protocol: Any) -> Any:
        return unpack, self.packed


def unpack(raw: bytes, kinds: bytes, calls: tuple) -> list[tuple]:
    """The rows of ``raw``, row packets as ``FastResult`` kept them."""
    if TEXT_ROWS is None:
        raise RuntimeError("packed result rows need the otter_mysql._rowdecode extension")
    rows: list[tuple] = []
    end, status, _ = TEXT_ROWS(raw, kinds, calls, rows)
    if end != len(raw) or status != MORE:
        raise ValueError(f"packed result rows: {len(raw) - end} bytes left over (status {status})")
    return rows


def result_rows(cursor: Any) -> Any:
    """The rows of ``cursor``'s last buffered result; ``PackedRows`` when they were read by ``FastResult``,
    ``Packets`` when read with ``otter_packets_only``."""
    packets = getattr(cursor._result, "packets", None)
    if packets is not None:
        return packets
    rows = cursor.fetchall()
    packed = getattr(cursor._result, "packed", None)
    if packed is None:
        return list(rows)
    out = PackedRows(rows)
    out.packed = packed
    return out


def _io(conn: Any, call: Any, size: int) -> bytes:
    """``rfile.peek``/``read`` with PyMySQL's handling of a broken connection (``_read_bytes``)."""
    while True:
        try:
            return call(size)
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            conn._force_close()
            raise err.OperationalError(
                CR.CR_SERVER_LOST, f"Lost connection to MySQL server during query ({exc})"
            ) from None
        except BaseException:
            conn._force_close()
            raise


def _lost(conn: Any) -> None:
    conn._force_close()
    raise err.OperationalError(CR.CR_SERVER_LOST, "Lost connection to MySQL server during query")


class FastReadConnection(mysql_connect.Connection):
    """A PyMySQL connection whose buffered SELECT results are read by ``FastResult``."""

    otter_packets_only = False  # results kept as packets, not parsed (bulk_read.Packets)

    def _read_query_result(self, unbuffered: bool = False) -> Any:
        if unbuffered or not AVAILABLE:
            return super()._read_query_result(unbuffered)  # type: ignore[misc]  # private PyMySQL hook
        self._result = None
        result = FastResult(self)
        result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows


def fast_reads(conn: Any) -> Any:
    """``conn`` (a ``mysql_connect.Connection``) reading its result rows in C, when the extension is there."""
    if AVAILABLE and type(conn) is mysql_connect.Connection:
        conn.__class__ = FastReadConnection
    return conn
