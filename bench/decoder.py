"""Row decoding alone: the compiled decoder vs the generated-Python fallback vs mysql-replication's ``.rows``.

Run: ``python bench/decoder.py [--rows 200000]`` (starts one throwaway MariaDB). Writes the workloads of
``bench/oneway.py`` (``workloads.py``: inserts, updates of one column, deletes of its 6-column table),
reads the rows events once, then times only the decoding of their bodies, in CPU seconds of this process
(so other work on the machine barely matters): our decoders on the raw bodies, mysql-replication on
events already read (its ``.rows`` parses the same bytes). Prints rows/s and microseconds per row.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent
from workloads import SCHEMA, TABLE_DDL, gen_delete, gen_insert, gen_update

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql import rowops
from otter_mysql.rowcodec import DELETE, UPDATE, WRITE, RowCodec
from otter_mysql.schema import SchemaCache

logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)  # its advice to set binlog_row_metadata

KINDS = {WriteRowsEvent: WRITE, UpdateRowsEvent: UPDATE, DeleteRowsEvent: DELETE}
WRITERS = {"insert": gen_insert, "update": gen_update, "delete": gen_delete}


def write(server: MariaDBServer, kind: str, rows: int) -> tuple[str, int]:
    start = server.binlog_position()
    conn = server.connect()
    WRITERS[kind](conn, rows)
    conn.close()
    return start


def stream(server: MariaDBServer, start: tuple[str, int]) -> BinLogStreamReader:
    return BinLogStreamReader(
        {"host": "127.0.0.1", "port": server.port, "user": OTTER_USER, "password": OTTER_PASSWORD},
        server_id=4321,
        log_file=start[0],
        log_pos=start[1],
        resume_stream=True,
        blocking=False,
        only_events=list(KINDS),
        enable_logging=False,
        freeze_schema=True,
    )


def raw_bodies(
    server: MariaDBServer, start: tuple[str, int]
) -> list[tuple[str, Any, bytes, bytes | None, bytes]]:
    out = []
    reader = stream(server, start)
    for ev in reader:
        kind = KINDS[type(ev)]
        columns = reader.table_map[ev.table_id].columns
        body = ev.packet.read(ev.event_size - ev.packet.read_bytes)
        out.append(
            (kind, columns, ev.columns_present_bitmap, getattr(ev, "columns_present_bitmap2", None), body)
        )
    reader.close()
    return out


def cpu_rate(fn: Callable[[], int]) -> tuple[float, int]:
    best = 0.0
    rows = 0
    for _ in range(3):
        t0 = time.process_time()
        rows = fn()
        elapsed = time.process_time() - t0
        best = max(best, rows / elapsed if elapsed else 0.0)
    return best, rows


def ours(schema: SchemaCache, bodies: list, extension: Any) -> Callable[[], int]:
    rowops.EXTENSION = extension
    table = schema.get(SCHEMA, "t")
    codec = RowCodec(table, bodies[0][1])
    decoders = [(codec.decoder(kind, b1, b2), body) for kind, _, b1, b2, body in bodies]
    rowops.EXTENSION = rowops.BUILT
    return lambda: sum(len(decode(body)) for decode, body in decoders)


def library(server: MariaDBServer, start: tuple[str, int]) -> Callable[[], int]:
    def run() -> int:
        events = list(stream(server, start))  # read (not timed apart: .rows is lazy, parsed below)
        t0 = time.process_time()
        rows = sum(len(ev.rows) for ev in events)
        run.decode_seconds += time.process_time() - t0
        return rows

    run.decode_seconds = 0.0
    return run


def library_rate(server: MariaDBServer, start: tuple[str, int]) -> float:
    best = 0.0
    for _ in range(2):
        fn = library(server, start)
        rows = fn()
        best = max(best, rows / fn.decode_seconds)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    print(f"compiled decoder: {'built' if rowops.BUILT is not None else 'NOT BUILT (pure Python only)'}")
    with MariaDBServer(server_id=9) as server:
        server.execute(f"CREATE DATABASE {SCHEMA}", TABLE_DDL)
        schema = SchemaCache(
            lambda: pymysql.connect(
                host="127.0.0.1", port=server.port, user=OTTER_USER, password=OTTER_PASSWORD, autocommit=True
            ),
            "bench",
        )
        print(
            f"{'workload':8s} {'compiled':>22s} {'generated Python':>22s} {'mysql-replication':>22s}  "
            f"compiled/Python  compiled/library"
        )
        for kind in ("insert", "update", "delete"):
            start = write(server, kind, args.rows)
            bodies = raw_bodies(server, start)
            c_rate = cpu_rate(ours(schema, bodies, rowops.BUILT))[0] if rowops.BUILT is not None else 0.0
            p_rate, rows = cpu_rate(ours(schema, bodies, None))
            lib = library_rate(server, start)
            cells = [f"{r:10,.0f} ({1e6 / r:5.2f} us)" if r else f"{'-':>22s}" for r in (c_rate, p_rate, lib)]
            print(
                f"{kind:8s} {cells[0]:>22s} {cells[1]:>22s} {cells[2]:>22s}  "
                f"{c_rate / p_rate:15.1f}  {c_rate / lib:16.1f}   ({rows:,} rows)"
            )
        schema.close()


if __name__ == "__main__":
    main()
