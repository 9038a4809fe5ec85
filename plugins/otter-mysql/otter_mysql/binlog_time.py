"""Map a point in time to a binlog position: where a pipeline restarts when an operator resets it "to 10:00".

The answer is the start of the first transaction committed at or after that time (its GTID event), so
the pipeline re-reads whole transactions from there. Binlog timestamps have whole seconds.
"""
from __future__ import annotations

import random
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import GtidEvent, MariadbGtidEvent, RotateEvent

from otter_core.errors import SourceError
from otter_core.model import DataMediaSource, Position

from otter_mysql.checks import master_status

_STARTS = (MariadbGtidEvent, GtidEvent)


def _settings(source: DataMediaSource) -> dict[str, Any]:
    tls = {k: v for k, v in (source.options or {}).items() if k.startswith("ssl")}
    return {"host": source.host, "port": int(source.port), "user": source.user, "password": source.password,
            "connect_timeout": 10, "read_timeout": 60, **tls}


def _binary_logs(conn: Any) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        return [row[0] for row in cur.fetchall()]


def _transaction_starts(source: DataMediaSource, log_file: str, mariadb: bool, only_first: bool = False):
    """(file, start position, commit timestamp) of every transaction from ``log_file`` to the binlog's end."""
    stream = BinLogStreamReader(connection_settings=_settings(source), server_id=random.randint(10**6, 2 * 10**6),
                                log_file=log_file, log_pos=4, resume_stream=True, blocking=False,
                                only_events=[*_STARTS, RotateEvent], is_mariadb=mariadb)
    current = log_file
    try:
        for event in stream:
            if isinstance(event, RotateEvent):
                current = event.next_binlog
                continue
            yield current, event.packet.log_pos - event.packet.event_size, int(event.timestamp)
            if only_first:
                return
    finally:
        stream.close()


def position_at(source: DataMediaSource, when: float) -> Position:
    """The position of the first transaction committed at or after ``when`` (a Unix time) on ``source``
    (before every binlog: the first transaction of the oldest one); the binlog's end when none was."""
    label = f"source {source.name} ({source.host}:{source.port})"
    try:
        conn = pymysql.connect(**_settings(source), charset="utf8mb4", autocommit=True)
    except pymysql.err.MySQLError as exc:
        raise SourceError(f"cannot connect to {label} as {source.user!r}: {exc.args[-1]}") from None
    try:
        files = _binary_logs(conn)
        end_file, end_pos = master_status(conn, label)
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            mariadb = "mariadb" in str(cur.fetchone()[0]).lower()
    finally:
        conn.close()
    if not files:
        raise SourceError(f"{label}: no binary logs: enable log_bin to reset a pipeline by time", retryable=False)
    begin = files[0]
    for name in reversed(files):  # the newest file whose first transaction is not after ``when``
        first = next(iter(_transaction_starts(source, name, mariadb, only_first=True)), None)
        if first is not None and first[2] <= when:
            begin = name
            break
    for file, pos, timestamp in _transaction_starts(source, begin, mariadb):
        if timestamp >= when:
            return Position(file, pos, timestamp=timestamp)
    return Position(end_file, end_pos)
