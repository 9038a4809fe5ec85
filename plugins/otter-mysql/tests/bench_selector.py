"""Selector-only throughput on a 6-column table: insert / update / delete rows per second.

Run: ``python plugins/otter-mysql/tests/bench_selector.py [rows]`` (starts a throwaway MariaDB). Prints the
selector's rate with each binlog reader (``binlog_reader`` native and library; rows decoded in this
process, and the CPU per row with decoding deferred as in the selector process) and, for reference,
mysql-replication's own decoding (``event.rows``) of the same binlog.
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent
from selector_support import make_pipeline, make_source

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql.selector import MySQLSelector

BASE = dt.datetime(2024, 1, 2, 3, 4, 5)
TABLE = (
    "CREATE TABLE bench.t (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(40), c DATETIME(3), "
    "d DECIMAL(12,2), e DOUBLE)"
)


def write(server: MariaDBServer, kind: str, rows: int) -> tuple[str, int]:
    start = server.binlog_position()
    conn = server.connect()
    with conn.cursor() as cur:
        for lo in range(0, rows, 1000):
            hi = min(rows, lo + 1000)
            if kind == "insert":
                values = ",".join(
                    f"({i}, {i * 7}, 'name-{i:08d}-abcdefghij', "
                    f"'{BASE + dt.timedelta(seconds=i * 61, milliseconds=i):%Y-%m-%d %H:%M:%S.%f}', "
                    f"{i}.25, {i} / 3)"
                    for i in range(lo, hi)
                )
                cur.execute(f"INSERT INTO bench.t VALUES {values}")
            elif kind == "single":  # one row per autocommit transaction
                for i in range(lo, hi):
                    cur.execute(f"INSERT INTO bench.t VALUES ({i + 10_000_000}, {i}, 'single', NULL, 1.5, 2)")
            elif kind == "update":
                cur.execute(
                    f"UPDATE bench.t SET a = a + 1, b = CONCAT(b, 'x') WHERE id >= {lo} AND id < {hi}"
                )
            else:
                cur.execute(f"DELETE FROM bench.t WHERE id >= {lo} AND id < {hi}")
    conn.close()
    return start


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def selector_rate(
    server: MariaDBServer, start: tuple[str, int], rows: int, reader: str = "native", defer: bool = False
) -> tuple[float, float]:
    """(rows/s, CPU µs per row of this process); ``defer``: rows left raw, as in the selector process."""
    t0, c0 = time.perf_counter(), _cpu()
    pipeline = make_pipeline(
        [("bench", "t")], {"kind": "position", "file": start[0], "pos": start[1]}, binlog_reader=reader
    )
    selector = MySQLSelector(make_source(server), pipeline)
    if defer:
        selector.defer_decoding()
    selector.start(None)
    end = server.binlog_position()  # nothing else writes: read up to the binlog's end
    at: tuple = ("", 0)
    while at < end:
        tx = selector.poll(5)
        assert tx is not None, f"stalled at {at}"
        at = (tx.position.file, tx.position.pos)
    elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
    selector.close()
    return rows / elapsed, cpu / rows * 1e6


def library_rate(server: MariaDBServer, start: tuple[str, int], rows: int) -> float:
    t0 = time.perf_counter()
    stream = BinLogStreamReader(
        {"host": "127.0.0.1", "port": server.port, "user": OTTER_USER, "password": OTTER_PASSWORD},
        server_id=4321,
        log_file=start[0],
        log_pos=start[1],
        resume_stream=True,
        blocking=True,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
        enable_logging=False,
    )
    got = 0
    for event in stream:
        got += len(event.rows)
        if got >= rows:
            break
    elapsed = time.perf_counter() - t0
    stream.close()
    return rows / elapsed


def main(rows: int) -> None:
    with MariaDBServer(server_id=9) as server:
        server.execute("CREATE DATABASE bench", TABLE)
        for kind in ("insert", "update", "delete", "single"):
            start = write(server, kind, rows)
            for reader in ("native", "library"):
                ours = max(selector_rate(server, start, rows, reader)[0] for _ in range(2))
                deferred = min(selector_rate(server, start, rows, reader, True)[1] for _ in range(2))
                print(
                    f"{kind:6s} {reader:7s}: selector {ours:9,.0f} rows/s decoded here; "
                    f"{deferred:5.2f} CPU us per row with decoding deferred"
                )
            lib = library_rate(server, start, rows)
            print(f"{kind:6s}: mysql-replication .rows {lib:9,.0f} rows/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
