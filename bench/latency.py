"""Single-row latency (commit on the source -> row visible on the target), optionally under background load.

With otter and the replica running and caught up, single rows are inserted (autocommit) into ``bench.lat``
at a modest rate; one thread per target polls for each row by primary key; latency = arrival - the time
the source's INSERT returned. ``--background-rows-per-s N`` adds, meanwhile, N rows/s of other writes
(``bench.bg``, 10-row transactions paced by a clock) that both consumers must carry as well.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from procstat import log
from report import _pct
from workloads import SCHEMA

from otter_core.testing.mariadb import MariaDBServer

BACKGROUND_TXN_ROWS = 10


class BackgroundLoad:
    """Writes ``rows_per_s`` rows a second into ``bench.bg`` from a thread until ``stop``."""

    def __init__(self, server: MariaDBServer, rows_per_s: float) -> None:
        self.server = server
        self.rows_per_s = rows_per_s
        self.rows = 0
        self.seconds = 0.0
        self.behind = 0  # transactions that started late (the source or this thread could not keep up)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="background-load", daemon=True)

    def start(self) -> None:
        if self.rows_per_s > 0:
            self._thread.start()

    def _run(self) -> None:
        conn = self.server.connect(autocommit=True)
        interval = BACKGROUND_TXN_ROWS / self.rows_per_s
        started = time.perf_counter()
        due = started
        next_id = 1
        try:
            with conn.cursor() as cur:
                while not self._stop.is_set():
                    now = time.perf_counter()
                    if now < due:
                        time.sleep(due - now)
                        continue
                    if now - due > interval:
                        self.behind += 1
                    values = ",".join(
                        f"({i},{i},'background row {i}')"
                        for i in range(next_id, next_id + BACKGROUND_TXN_ROWS)
                    )
                    cur.execute(f"INSERT INTO {SCHEMA}.bg (id, v, note) VALUES {values}")
                    next_id += BACKGROUND_TXN_ROWS
                    self.rows += BACKGROUND_TXN_ROWS
                    due += interval
        finally:
            self.seconds = time.perf_counter() - started
            conn.close()

    def stop(self) -> dict:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(30)
        return {
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds else 0,
            "late_txns": self.behind,
        }


def batch_figures(before: dict, after: dict) -> dict[str, float]:
    """Batches loaded between two status snapshots: how many, rows per batch, mean ms per stage."""
    batches = after.get("batches", 0) - before.get("batches", 0)
    if not before or batches <= 0:
        return {}
    figures = {"batches": batches, "rows_per_batch": round((after["rows"] - before["rows"]) / batches, 1)}
    for stage, total in after.get("stage_ms_total", {}).items():
        figures[f"{stage}_ms"] = round((total - before["stage_ms_total"].get(stage, 0.0)) / batches, 2)
    return figures


def run_latency(bench: Any) -> None:
    """The latency phase of ``oneway.Bench`` (see the module docstring)."""
    samples = bench.args.latency_samples
    if samples <= 0:
        return
    start = bench.source.binlog_position()
    log(f"latency: starting otter-run and the replica at {start[0]}:{start[1]}")
    otter = None if bench.args.native_only else bench.start_otter("latency", start)
    bench.replica_change_master(start)
    bench.replica.root_execute("START SLAVE")
    src = bench.source.connect(autocommit=True)
    warm = 20
    next_id = [1]

    def insert_one() -> tuple[int, float]:
        i = next_id[0]
        next_id[0] += 1
        with src.cursor() as cur:
            cur.execute(f"INSERT INTO {SCHEMA}.lat (id, v, note) VALUES (%s, %s, %s)", (i, i, f"row {i}"))
        return i, time.perf_counter()

    def arrived(conn, i: int) -> bool:
        with conn.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {SCHEMA}.lat WHERE id=%s", (i,))
            return cur.fetchone() is not None

    # warm up: both consumers running and caught up
    tconn, rconn = bench.target.connect(), bench.replica.connect()
    deadline = time.monotonic() + 120
    ready = False
    while time.monotonic() < deadline and not ready:
        i, _ = insert_one()
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end:
            if (otter is None or arrived(tconn, i)) and arrived(rconn, i):
                ready = True
                break
            if otter is not None and not otter.alive():
                raise bench.error(
                    f"otter-run exited with code {otter.process.returncode} during the latency "
                    f"warm-up; its log ends:\n{otter.log_tail()}"
                )
            time.sleep(0.01)
    if not ready:
        raise bench.error(
            f"latency warm-up: rows did not reach both targets in 120s; otter-run log ends:\n"
            f"{otter.log_tail() if otter else ''}"
        )
    for _ in range(warm):
        insert_one()
        time.sleep(bench.args.latency_interval_ms / 1000)
    time.sleep(1.0)
    tconn.close()
    rconn.close()
    background = BackgroundLoad(bench.source, bench.args.background_rows_per_s)
    background.start()
    time.sleep(0.5 if background.rows_per_s else 0)

    first = next_id[0]
    ids = list(range(first, first + samples))
    commits: dict[int, float] = {}
    arrivals: dict[str, dict[int, float]] = {"otter": {}, "native": {}}
    stop = threading.Event()
    poll_s = bench.args.poll_interval_ms / 1000

    def poller(kind: str, server: MariaDBServer) -> None:
        conn = poll_conns[kind]
        try:
            for i in ids:
                limit = None
                while not stop.is_set():
                    if arrived(conn, i):
                        arrivals[kind][i] = time.perf_counter()
                        break
                    if i in commits:
                        limit = limit or commits[i] + 10.0
                        if time.perf_counter() > limit:
                            break  # lost (counted below)
                    time.sleep(poll_s)
        finally:
            conn.close()

    kinds = [("native", bench.replica)] + ([] if otter is None else [("otter", bench.target)])
    threads = [threading.Thread(target=poller, args=(kind, server), daemon=True) for kind, server in kinds]
    poll_conns = {kind: server.connect() for kind, server in kinds}  # connected before the first insert
    for t in threads:
        t.start()
    time.sleep(0.2)
    log(f"latency: {samples} single-row inserts, one every {bench.args.latency_interval_ms} ms")
    lat_cpu = bench.server_cpu()
    status_before = otter.pipeline_status() if otter is not None else {}
    for _ in ids:
        i, t = insert_one()
        commits[i] = t
        time.sleep(bench.args.latency_interval_ms / 1000)
    for t in threads:
        t.join(timeout=30)
    stop.set()
    bench.results["latency"]["background"] = background.stop()
    if background.rows:
        log(
            f"latency: background load {background.rows} rows in {background.seconds:.1f}s "
            f"({background.rows / background.seconds:,.0f} rows/s, {background.behind} transactions late)"
        )
    cpu = bench.server_cpu(lat_cpu)
    if otter is not None:
        otter.meter.sample()
        time.sleep(1.1)  # the status file is written every second
        bench.results["latency"]["otter_batches"] = batches = batch_figures(
            status_before, otter.pipeline_status()
        )
        if batches:
            log("latency: otter's batches meanwhile: " + ", ".join(f"{k}={v}" for k, v in batches.items()))
    bench.results["latency"]["cpu_s"] = cpu
    src.close()
    if otter is not None:
        if not otter.alive():
            bench.results["problems"].append(f"latency: otter-run exited early:\n{otter.log_tail()}")
        otter.stop()
    bench.replica.root_execute("STOP SLAVE")
    for kind, _ in kinds:
        lat = sorted((arrivals[kind][i] - commits[i]) * 1000 for i in ids if i in arrivals[kind])
        lost = samples - len(lat)
        entry = {
            "samples": len(lat),
            "lost": lost,
            "by_row_ms": [
                round((arrivals[kind][i] - commits[i]) * 1000, 2) if i in arrivals[kind] else None
                for i in ids
            ],
        }
        if lat:
            entry.update(
                {
                    "p50_ms": round(_pct(lat, 50), 2),
                    "p90_ms": round(_pct(lat, 90), 2),
                    "p99_ms": round(_pct(lat, 99), 2),
                    "max_ms": round(lat[-1], 2),
                    "mean_ms": round(statistics.fmean(lat), 2),
                }
            )
        if lost:
            bench.results["problems"].append(
                f"latency: {lost} of {samples} rows did not reach {kind} in 10 s"
            )
        bench.results["latency"][kind] = entry
        log(f"latency {kind}: " + ", ".join(f"{k}={v}" for k, v in entry.items() if k != "by_row_ms"))
