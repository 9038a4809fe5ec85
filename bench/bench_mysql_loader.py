"""Throughput of the MySQL loader against a throwaway MariaDB: inserts, field-mode updates, deletes.

    python bench/bench_mysql_loader.py [--rows 200000] [--batch 1000] [--threads 1 4] [--profile] [--mark] [--unique]

Prints rows/s per phase and, for reference, a plain PyMySQL multi-row INSERT of the same rows. With
``--unique`` every phase runs again on the table with a secondary UNIQUE key on ``name`` (the loader then
looks for rows holding the batch's values under another key before its upserts), and once more with that
check switched off, which shows what the unique index costs by itself.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import decimal
import pstats
import threading
import time
from functools import partial

from otter_core.model import (
    DataMediaSource,
    EventData,
    EventType,
    Pipeline,
    PipelineParameters,
    SyncMode,
)
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql.loader import MySQLLoader

DDL = (
    "CREATE TABLE bench.t (id INT PRIMARY KEY, qty INT, name VARCHAR(64), price DECIMAL(12,2), "
    "at DATETIME, note TEXT)"
)
NOTE = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incidid 0123456"


def columns(i: int, qty: int) -> dict:
    return {
        "qty": qty,
        "name": f"name-{i:08d}",
        "price": decimal.Decimal(i % 100000) / 100,
        "at": datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=i),
        "note": NOTE,
    }


def make_events(n: int, kind: EventType) -> list[EventData]:
    if kind is EventType.INSERT:
        return [EventData("bench", "t", kind, {"id": i}, columns(i, i)) for i in range(n)]
    if kind is EventType.UPDATE:
        return [
            EventData("bench", "t", kind, {"id": i}, columns(i, i + 1), updated=frozenset({"qty"}))
            for i in range(n)
        ]
    return [EventData("bench", "t", kind, {"id": i}, columns(i, i + 1)) for i in range(n)]


def run(loader: MySQLLoader, events: list[EventData], batch: int, threads: int) -> float:
    """rows/s loading ``events`` in ``batch``-row calls, split by pk hash over ``threads`` slots."""
    parts = [[e for e in events if e.keys["id"] % threads == s] for s in range(threads)]

    def work(slot: int) -> None:
        mine = parts[slot]
        for start in range(0, len(mine), batch):
            loader.load(mine[start : start + batch], slot)

    started = time.perf_counter()
    if threads == 1:  # in this thread, so that --profile sees it
        work(0)
        return len(events) / (time.perf_counter() - started)
    workers = [threading.Thread(target=work, args=(s,)) for s in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return len(events) / (time.perf_counter() - started)


def plain_pymysql(server: MariaDBServer, events: list[EventData], batch: int) -> float:
    conn = server.connect(autocommit=False)
    cols = ["id", "qty", "name", "price", "at", "note"]
    started = time.perf_counter()
    with conn.cursor() as cur:
        for start in range(0, len(events), batch):
            chunk = events[start : start + batch]
            sql = f"INSERT INTO bench.t ({','.join(cols)}) VALUES " + ",".join(
                ["(%s,%s,%s,%s,%s,%s)"] * len(chunk)
            )
            params = [v for e in chunk for v in (*e.keys.values(), *e.columns.values())]
            cur.execute(sql, params)
            conn.commit()
    rate = len(events) / (time.perf_counter() - started)
    conn.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--profile", action="store_true", help="cProfile the 1-thread insert phase")
    ap.add_argument(
        "--mark", action="store_true", help="loopback_mark on: a retl.retl_mark upsert per load call"
    )
    ap.add_argument("--unique", action="store_true", help="also run on the table with UNIQUE KEY (name)")
    args = ap.parse_args()
    phases = {k: make_events(args.rows, k) for k in (EventType.INSERT, EventType.UPDATE, EventType.DELETE)}
    with MariaDBServer() as server:
        server.execute("CREATE DATABASE bench", DDL)
        print(
            f"plain PyMySQL multi-row INSERT, 1 connection: "
            f"{plain_pymysql(server, phases[EventType.INSERT], args.batch):,.0f} rows/s"
        )
        server.execute("TRUNCATE bench.t")
        target = DataMediaSource("bench", "mysql", "127.0.0.1", server.port, OTTER_USER, OTTER_PASSWORD)
        for table in ["plain"] + (["unique name", "unique name, no holder check"] if args.unique else []):
            if table != "plain":
                server.execute("DROP TABLE bench.t", DDL, "ALTER TABLE bench.t ADD UNIQUE KEY by_name (name)")
            checking = MySQLLoader._clear_unique_conflicts
            if table.endswith("no holder check"):  # the baseline: the index's own cost, without the check
                MySQLLoader._clear_unique_conflicts = lambda self, cur, conn, groups: None
            try:
                run_phases(args, target, phases, table)
            finally:
                MySQLLoader._clear_unique_conflicts = checking


def run_phases(args: argparse.Namespace, target: DataMediaSource, phases: dict, table: str) -> None:
    """Every phase with 1 and 4 connections (``--threads``) against the current ``bench.t``."""
    for threads in args.threads:
        params = PipelineParameters(load_pool_size=threads, sync_mode=SyncMode.FIELD, loopback_mark=args.mark)
        loader = MySQLLoader(target, Pipeline("bench", "s", "bench", (), parameters=params))
        for kind, events in phases.items():
            call = partial(run, loader, events, args.batch, threads)
            if args.profile and threads == 1 and kind is EventType.INSERT:
                prof = cProfile.Profile()
                rate = prof.runcall(call)
                pstats.Stats(prof).sort_stats("tottime").print_stats(12)
            else:
                rate = call()
            print(
                f"loader {kind.name:6s} {threads} connection(s){' +mark' if args.mark else ''}, "
                f"{table} table: {rate:,.0f} rows/s"
            )
        loader.close()


if __name__ == "__main__":
    main()
