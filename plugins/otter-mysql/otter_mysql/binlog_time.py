"""Map a point in time to a binlog position: where a pipeline restarts when an operator resets it "to 10:00".

The answer is the start of the first transaction committed at or after that time (its GTID event), so
the pipeline re-reads whole transactions from there. Binlog timestamps have whole seconds.

The scan reads only event headers over a replication connection opened at an explicit file and position
(python-mysql-replication ignores the file name on MariaDB and would decode every row event from the
oldest binlog on), and it reads at most one binlog file plus the first transaction of the next one: each
file's first transaction tells which file holds the answer.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator
from typing import Any

import pymysql

from otter_core.spi import DataMediaSource, Position, SourceError
from otter_mysql import mysql_connect
from otter_mysql.checks import master_status

COM_BINLOG_DUMP = 0x12
BINLOG_DUMP_NON_BLOCK = 0x01
ROTATE_EVENT = 4
TRANSACTION_STARTS = frozenset({33, 34, 162})  # MySQL GTID, MySQL anonymous GTID, MariaDB GTID
_GRANTS = "the user needs REPLICATION SLAVE and BINLOG MONITOR (MySQL: REPLICATION CLIENT)"
_HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server_id, event_size, log_pos (end), flags


def _connect(source: DataMediaSource, label: str) -> Any:
    tls = {k: v for k, v in (source.options or {}).items() if k.startswith("ssl")}
    try:
        return mysql_connect.connect(
            host=source.host,
            port=int(source.port),
            user=source.user,
            password=source.password,
            connect_timeout=10,
            read_timeout=60,
            charset="utf8mb4",
            autocommit=True,
            **tls,
        )
    except pymysql.err.MySQLError as exc:
        raise SourceError(f"cannot connect to {label} as {source.user!r}: {exc.args[-1]}") from None


def transaction_starts(conn: Any, log_file: str) -> Iterator[tuple[str, int, int]]:
    """(file, start position, timestamp) of every transaction from the start of ``log_file`` to the binlog's
    end, read on ``conn``, which becomes a replication connection and cannot run queries afterwards."""
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL VARIABLES LIKE 'binlog_checksum'")
        row = cur.fetchone()
        checksum = 4 if row and str(row[1]).upper() != "NONE" else 0
        if checksum:
            cur.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
        cur.execute("SET @mariadb_slave_capability = 4")  # send MariaDB GTID events as they are
    server_id = random.randint(10**6, 2 * 10**6)
    conn._execute_command(
        COM_BINLOG_DUMP, struct.pack("<IHI", 4, BINLOG_DUMP_NON_BLOCK, server_id) + log_file.encode()
    )
    current = log_file
    while True:
        packet = conn._read_packet()
        if packet.is_eof_packet():
            return
        data = packet.get_all_data()
        timestamp, kind, _, size, end, _ = _HEADER.unpack_from(data, 1)
        if kind == ROTATE_EVENT:
            current = data[1 + _HEADER.size + 8 : 1 + size - checksum].decode()  # after the 8-byte position
        elif kind in TRANSACTION_STARTS:
            yield current, end - size, timestamp


def _scan(
    source: DataMediaSource, label: str, log_file: str, when: float | None
) -> tuple[str, int, int] | None:
    """The first transaction from ``log_file`` on committed at or after ``when`` (None: the first one)."""
    conn = _connect(source, label)
    try:
        for start in transaction_starts(conn, log_file):
            if when is None or start[2] >= when:
                return start
        return None
    except pymysql.err.MySQLError as exc:
        raise SourceError(
            f"{label}: cannot read binlog {log_file} as {source.user!r}: {exc.args[-1]} ({_GRANTS})",
            retryable=False,
        ) from None
    finally:
        conn.close()


def position_at(source: DataMediaSource, when: float) -> Position:
    """The position of the first transaction committed at or after ``when`` (a Unix time) on ``source``
    (before every binlog: the first transaction of the oldest one); the binlog's end when none was."""
    label = f"source {source.name} ({source.host}:{source.port})"
    conn = _connect(source, label)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW BINARY LOGS")
            files = [row[0] for row in cur.fetchall()]
        end_file, end_pos = master_status(conn, label)
    except pymysql.err.MySQLError as exc:
        raise SourceError(
            f"{label}: cannot list the binary logs as {source.user!r}: {exc.args[-1]} ({_GRANTS})",
            retryable=False,
        ) from None
    finally:
        conn.close()
    if not files:
        raise SourceError(
            f"{label}: no binary logs: enable log_bin to reset a pipeline by time", retryable=False
        )
    begin = files[0]
    for name in reversed(files):  # the newest file whose first transaction is not after ``when``
        first = _scan(source, label, name, None)
        if first is not None and first[2] <= when:
            begin = name
            break
    found = _scan(source, label, begin, when)
    if found is None:
        return Position(end_file, end_pos)
    file, pos, timestamp = found
    return Position(file, pos, timestamp=timestamp)
