"""MySQL -> PostgreSQL benchmark: otter (``otter-run run``, otter-postgresql) beside pg_chameleon, same
workload, same run.

    python bench/postgresql.py [--rows 100000] [--latency-samples 100] [--json out.json]

Starts a throwaway MariaDB source (binlog ROW, FULL image) and a throwaway PostgreSQL 15, and installs
pg_chameleon from PyPI into its own throwaway virtualenv (its shipped example settings: replica_batch_size
10000, replay_max_rows 10000, sleep_loop 1; only connections and the schema mapping changed). Table
``bench.t`` is replicated by otter into schema ``otter_bench`` and by pg_chameleon into ``pgch_bench``.

1. Throughput. For each workload (``--rows`` INSERTs, UPDATEs of one non-key column, DELETEs, in
   1000-row transactions) the rows are written while both replicators are stopped; then otter-run is
   started from the workload's start position and timed (from process start) until PostgreSQL holds the
   expected state; then pg_chameleon's ``start_replica`` (which resumes where it stopped) is timed the same
   way. CPU seconds of each replicator's process tree and of the PostgreSQL server during its run are
   recorded (pg_chameleon replays inside PostgreSQL).
2. Latency. Both running and caught up, single-row autocommit INSERTs, one every 50 ms; one poller per
   schema looks for each row by key every 2 ms; latency = first sight - the time the INSERT returned.

Everything is removed on exit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_replicators import SCHEMAS, Otter, PgChameleon, Replicator
from procstat import ProcessTreeMeter, log
from report import _pct, machine_info

from otter_core.testing.mariadb import MariaDBServer
from otter_core.testing.postgresql import PostgreSQLServer
from otter_postgresql.ddl import translate

TABLE_DDL = (
    "CREATE TABLE bench.t (id INT PRIMARY KEY, qty INT, name VARCHAR(64), price DECIMAL(12,2), "
    "at DATETIME, note TEXT)"
)
LAT_DDL = "CREATE TABLE bench.lat (id INT PRIMARY KEY, v INT)"
NOTE = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incidid 0123456"
TXN_ROWS = 1000


# ------------------------------------------------------------------------------------------ workload
def write_workload(source: MariaDBServer, kind: str, rows: int) -> None:
    conn = source.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            for lo in range(0, rows, TXN_ROWS):
                hi = min(rows, lo + TXN_ROWS)
                if kind == "insert":
                    values = ",".join(
                        f"({i},{i % 97},'name {i}',{i % 10000}.25,'2024-01-02 03:04:05','{NOTE}')"
                        for i in range(lo, hi)
                    )
                    cur.execute(f"INSERT INTO bench.t VALUES {values}")
                elif kind == "update":
                    cur.execute(f"UPDATE bench.t SET qty = qty + 1 WHERE id >= {lo} AND id < {hi}")
                else:
                    cur.execute(f"DELETE FROM bench.t WHERE id >= {lo} AND id < {hi}")
                conn.commit()
    finally:
        conn.close()


def expected_state(kind: str, rows: int) -> tuple[int, int]:
    """(count, sum of qty) the target must reach after the workload."""
    base = sum(i % 97 for i in range(rows))
    return {"insert": (rows, base), "update": (rows, base + rows), "delete": (0, 0)}[kind]


def target_state(pg: PostgreSQLServer, schema: str) -> tuple[int, int] | None:
    try:
        ((count, total),) = pg.execute(f'SELECT count(*), coalesce(sum(qty), 0) FROM "{schema}".t')
        return int(count), int(total)
    except Exception:
        return None


# ------------------------------------------------------------------------------------------ phases
def timed_catch_up(
    replicator: Replicator,
    pg: PostgreSQLServer,
    postmaster: int,
    schema: str,
    want: tuple[int, int],
    timeout: float,
) -> dict[str, Any]:
    pg_meter = ProcessTreeMeter(postmaster)
    pg_meter.sample()
    pg_cpu_before = pg_meter.cpu_seconds
    started = time.monotonic()
    meter = replicator.start()
    try:
        while True:
            meter.sample()
            if target_state(pg, schema) == want:
                break
            if not replicator.alive():
                tail = replicator.logfile.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{replicator.name} exited; its log ends with:\n{tail}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(
                    f"{replicator.name} did not catch up in {timeout}s: {target_state(pg, schema)} "
                    f"!= {want}; see {replicator.logfile}"
                )
            time.sleep(0.05)
        seconds = time.monotonic() - started
        meter.sample()
        pg_meter.sample()
        return {
            "seconds": round(seconds, 2),
            "cpu_s": round(meter.cpu_seconds, 2),
            "pg_server_cpu_s": round(pg_meter.cpu_seconds - pg_cpu_before, 2),
            "peak_rss_mb": round(meter.peak_rss_mb, 1),
        }
    finally:
        replicator.stop()


def measure_latency(source: MariaDBServer, pg: PostgreSQLServer, samples: int) -> dict[str, list[float]]:
    seen: dict[str, dict[int, float]] = {name: {} for name in SCHEMAS}
    committed: dict[int, float] = {}
    done = threading.Event()

    def poll(name: str) -> None:
        with pg.connect() as conn:
            while not done.is_set():
                pending = [i for i in committed if i not in seen[name]]
                for i in pending:
                    if conn.execute(f'SELECT 1 FROM "{SCHEMAS[name]}".lat WHERE id = %s', (i,)).fetchone():
                        seen[name][i] = time.monotonic()
                time.sleep(0.002)

    pollers = [threading.Thread(target=poll, args=(name,), daemon=True) for name in SCHEMAS]
    for thread in pollers:
        thread.start()
    conn = source.connect()
    try:
        with conn.cursor() as cur:
            for i in range(samples):
                cur.execute("INSERT INTO bench.lat VALUES (%s, %s)", (i, i))
                committed[i] = time.monotonic()
                time.sleep(0.05)
    finally:
        conn.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(len(seen[n]) < samples for n in SCHEMAS):
        time.sleep(0.05)
    done.set()
    return {name: sorted((seen[name][i] - committed[i]) * 1000 for i in seen[name]) for name in SCHEMAS}


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="otter-bench-pg-"))
    # pg_chameleon reads column names through mysql-replication 1.x, which needs the names in the binlog
    source = MariaDBServer(workdir / "mariadb", server_id=1, binlog_row_metadata="FULL")
    pg = PostgreSQLServer()
    results: dict[str, Any] = {
        "machine": machine_info(),
        "rows": args.rows,
        "throughput": {},
        "latency_ms": {},
    }
    try:
        source.start()
        pg.start()
        postmaster = pg.process.pid
        source.execute("CREATE DATABASE bench", TABLE_DDL, LAT_DDL)
        mine = SCHEMAS["otter"]
        pg.execute(
            f'CREATE SCHEMA "{mine}"',
            *translate(TABLE_DDL.replace("bench.", f"{mine}."), mine),
            *translate(LAT_DDL.replace("bench.", f"{mine}."), mine),
        )
        otter, chameleon = Otter(workdir, source, pg), PgChameleon(workdir, source, pg)
        results["pg_chameleon_version"] = chameleon.install()
        chameleon.setup()  # init_replica: copies the (empty) tables, remembers the binlog position
        for kind in ("insert", "update", "delete"):
            otter.start_at = source.binlog_position()
            log(f"{kind}: writing {args.rows} rows")
            write_workload(source, kind, args.rows)
            want = expected_state(kind, args.rows)
            phase = results["throughput"][kind] = {}
            for replicator in (otter, chameleon):
                log(f"{kind}: {replicator.name} catching up")
                phase[replicator.name] = timed_catch_up(
                    replicator, pg, postmaster, SCHEMAS[replicator.name], want, args.timeout
                )
                phase[replicator.name]["rows_per_s"] = round(args.rows / phase[replicator.name]["seconds"])
                log(f"{kind}: {replicator.name} {phase[replicator.name]}")
        log(f"latency: {args.latency_samples} single-row inserts, both replicators running")
        otter.start_at = source.binlog_position()
        otter.start()
        chameleon.start()
        time.sleep(5)  # both connected and idle
        for name, values in measure_latency(source, pg, args.latency_samples).items():
            results["latency_ms"][name] = (
                {
                    "samples": len(values),
                    "p50": round(_pct(values, 50), 1),
                    "p99": round(_pct(values, 99), 1),
                    "mean": round(statistics.mean(values), 1),
                }
                if values
                else {"samples": 0}
            )
        otter.stop()
        chameleon.stop()
        return results
    finally:
        for server in (source, pg):
            try:
                server.destroy()
            except Exception as exc:
                log(f"cleanup: {exc}")
        shutil.rmtree(workdir, ignore_errors=True)


def print_report(results: dict[str, Any]) -> None:
    print(
        f"\nMySQL -> PostgreSQL, {results['rows']} rows per workload, pg_chameleon "
        f"{results.get('pg_chameleon_version')}, {results['machine']['cpus']} CPUs"
    )
    print(
        f"{'workload':10} {'tool':13} {'rows/s':>9} {'seconds':>8} {'cpu s':>7} {'pg cpu s':>9} {'rss MB':>7}"
    )
    for kind, phase in results["throughput"].items():
        for name, r in phase.items():
            print(
                f"{kind:10} {name:13} {r['rows_per_s']:>9} {r['seconds']:>8} {r['cpu_s']:>7} "
                f"{r['pg_server_cpu_s']:>9} {r['peak_rss_mb']:>7}"
            )
        ratio = phase["otter"]["rows_per_s"] / max(phase["pg_chameleon"]["rows_per_s"], 1)
        print(f"{'':10} {'otter / pgch':13} {ratio:>9.2f}x")
    for name, lat in results["latency_ms"].items():
        print(
            f"latency {name:13} p50 {lat.get('p50')} ms  p99 {lat.get('p99')} ms  ({lat.get('samples')} samples)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    results = run(args)
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
