"""The benchmark's tables and workloads (written on the source while the consumers are stopped)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pymysql

from otter_core.testing.mariadb import MariaDBServer

SCHEMA = "bench"
TABLE_DDL = (
    f"CREATE TABLE {SCHEMA}.t (id INT PRIMARY KEY, qty INT, name VARCHAR(64), "
    "price DECIMAL(12,2), at DATETIME, note TEXT)"
)
LAT_DDL = f"CREATE TABLE {SCHEMA}.lat (id INT PRIMARY KEY, v INT, note VARCHAR(64))"
NOTE = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incidid 0123456"
TXN_ROWS = 1000
BG_DDL = f"CREATE TABLE {SCHEMA}.bg (id INT PRIMARY KEY, v INT, note VARCHAR(64))"
BLOB_DDL = f"CREATE TABLE {SCHEMA}.blobs (id INT PRIMARY KEY, label VARCHAR(32), data LONGBLOB)"


def _row_sql(i: int) -> str:
    at = datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=i)
    return f"({i},{i},'name-{i:08d}',{(i % 10000000) / 100:.2f},'{at:%Y-%m-%d %H:%M:%S}','{NOTE}')"


def gen_insert(conn: pymysql.connections.Connection, rows: int) -> None:
    with conn.cursor() as cur:
        for lo in range(1, rows + 1, TXN_ROWS):
            hi = min(lo + TXN_ROWS - 1, rows)
            cur.execute(
                f"INSERT INTO {SCHEMA}.t (id,qty,name,price,at,note) VALUES "
                + ",".join(_row_sql(i) for i in range(lo, hi + 1))
            )


def gen_update(conn: pymysql.connections.Connection, rows: int) -> None:
    with conn.cursor() as cur:
        for lo in range(1, rows + 1, TXN_ROWS):
            cur.execute(f"UPDATE {SCHEMA}.t SET qty = qty + 1 WHERE id BETWEEN {lo} AND {lo + TXN_ROWS - 1}")


def gen_delete(conn: pymysql.connections.Connection, rows: int) -> None:
    with conn.cursor() as cur:
        for lo in range(1, rows + 1, TXN_ROWS):
            cur.execute(f"DELETE FROM {SCHEMA}.t WHERE id BETWEEN {lo} AND {lo + TXN_ROWS - 1}")


WORKLOADS: list[tuple[str, Callable]] = [
    ("insert", gen_insert),
    ("update", gen_update),
    ("delete", gen_delete),
]


def checksum(server: MariaDBServer, table: str = "t") -> int | None:
    conn = server.root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CHECKSUM TABLE {SCHEMA}.{table}")
            return cur.fetchone()[1]
    finally:
        conn.close()


def row_count(server: MariaDBServer, table: str = "t") -> int:
    conn = server.root_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {SCHEMA}.{table}")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def gen_blobs(conn: pymysql.connections.Connection, rows: int, size: int) -> None:
    """``rows`` rows with a ``size``-byte BLOB each, one transaction per row."""
    with conn.cursor() as cur:
        for i in range(1, rows + 1):
            cur.execute(
                f"INSERT INTO {SCHEMA}.blobs VALUES ({i}, 'blob {i}', "
                f"REPEAT(RANDOM_BYTES(1024), {max(1, size // 1024)}))"
            )
