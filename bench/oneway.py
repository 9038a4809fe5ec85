"""One-way benchmark: otter (``otter-run run``) against a native MariaDB replica, same workloads, same run.

    python bench/oneway.py [--rows 1000000] [--json out.json]     (the lead's one command; see --help)

Starts three throwaway MariaDB servers (a binlog source, a target for otter and a native replica of the
source, single-threaded apply), then:

1. Throughput. For each workload (INSERT, UPDATE of one non-key column, DELETE; ``--rows`` rows of a
   6-column table, 1000-row transactions) the workload is first written to the source while both
   consumers are stopped. Then ``otter-run run`` is started as a subprocess from the workload's start
   position (fresh state dir) and timed until its acked position reaches the binlog end; then the native
   replica is started from the same position (``CHANGE MASTER TO … ; START SLAVE``) and timed until
   ``MASTER_POS_WAIT`` returns. Both targets are compared with the source (``CHECKSUM TABLE``).
   Otter's CPU time (user+sys of the otter-run process and its children, e.g. the selector process) and
   peak RSS (sum of ``VmHWM`` of those processes) come from /proc.
2. Latency (``latency.py``): single-row inserts timed from commit on the source to visibility on each
   target, while ``--background-rows-per-s`` other rows are written (default 5000 rows/s).
3. Memory (``blob.py``): ``--blob-rows`` rows with a 16 MB BLOB each, loaded with a huge batch size and
   batch_bytes: otter's peak RSS must stay under the memory guard's bound whatever the batch size.

Modules: ``procstat`` (/proc CPU and RSS), ``otter_process`` (otter-run as a measured subprocess, py-spy
with ``--profile``), ``workloads``, ``latency``, ``blob``, ``report``.

Everything (servers, otter-run, temp dirs) is removed on exit, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql
from blob import run_blob_phase
from latency import batch_figures, run_latency
from otter_process import OtterProcess, compile_bytecode
from procstat import cpu_seconds, log, own_cpu_seconds, system_busy_seconds
from report import machine_info, print_report
from workloads import BG_DDL, BLOB_DDL, LAT_DDL, SCHEMA, TABLE_DDL, WORKLOADS, checksum, row_count

from otter_core.model import PipelineParameters
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer

OTTER_SERVER_ID = 4242


class BenchError(RuntimeError):
    pass


class Bench:
    error = BenchError

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="otter-bench-"))
        self.servers: list[MariaDBServer] = []
        self.otters: list[OtterProcess] = []
        self.params = {
            "parallelism": args.parallelism,
            "batch_size": args.batch_size,
            "load_pool_size": args.load_pool_size,
            "sync_mode": args.sync_mode,
            "batch_timeout_ms": args.batch_timeout_ms,
            "select_process": args.select_process,
            "server_id": OTTER_SERVER_ID,
        }
        if args.memory_limit_bytes:
            self.params["memory_limit_bytes"] = args.memory_limit_bytes
        self.results: dict[str, Any] = {"throughput": {}, "latency": {}, "problems": []}

    # -- servers
    def start_servers(self) -> None:
        log(f"starting 3 MariaDB servers under {self.workdir}")
        big = {"max_allowed_packet": "256M"}  # 16 MB BLOB rows (the loader's statement holds their hex)
        self.source = MariaDBServer(self.workdir / "source", server_id=1, log_bin=True, **big)
        self.target = MariaDBServer(self.workdir / "target", server_id=2, log_bin=False, **big)
        self.replica = MariaDBServer(
            self.workdir / "replica",
            server_id=3,
            log_bin=False,
            **big,
            slave_parallel_threads=0,
            skip_slave_start=True,
            relay_log=self.workdir / "replica" / "data" / "relay-bin",
        )
        for server in (self.source, self.target, self.replica):
            self.servers.append(server)
            server.start()
        self.source.root_execute(
            "SET SESSION sql_log_bin=0", f"CREATE DATABASE {SCHEMA}", TABLE_DDL, LAT_DDL, BG_DDL, BLOB_DDL
        )
        for server in (self.target, self.replica):
            server.root_execute(f"CREATE DATABASE {SCHEMA}", TABLE_DDL, LAT_DDL, BG_DDL, BLOB_DDL)
        conn = self.source.root_connect()
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            self.results["mariadb_version"] = cur.fetchone()[0]
        conn.close()

    def cleanup(self) -> None:
        if self.args.keep_logs:
            dest = Path(self.args.keep_logs)
            dest.mkdir(parents=True, exist_ok=True)
            for otter in self.otters:
                shutil.copy(otter.log_path, dest / f"{otter.dir.name}.log")
                shutil.copy(otter.config, dest / f"{otter.dir.name}.yaml")
        for otter in self.otters:
            try:
                otter.stop(timeout=20)
            except Exception as exc:  # keep cleaning up
                log(f"cleanup: stopping otter-run failed: {exc}")
        for server in self.servers:
            try:
                server.destroy()
            except Exception as exc:  # keep cleaning up
                log(f"cleanup: stopping MariaDB in {server.basedir} failed: {exc}")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def server_cpu(self, since: dict | None = None) -> dict:
        """CPU seconds of each mariadbd (source, target, replica), or the difference to ``since``."""
        now = {
            name: cpu_seconds(server.process.pid)
            for name, server in (("source", self.source), ("target", self.target), ("replica", self.replica))
        }
        now["bench"] = own_cpu_seconds()
        now["machine"] = system_busy_seconds()
        if since is None:
            return now
        return {name: round(now[name] - since[name], 2) for name in now}

    # -- native replica
    def replica_change_master(self, start: tuple[str, int]) -> None:
        for sql in ("STOP SLAVE", "RESET SLAVE"):
            try:
                self.replica.root_execute(sql)
            except pymysql.err.MySQLError:
                pass  # not configured yet
        self.replica.root_execute(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.source.port}, "
            f"MASTER_USER='{OTTER_USER}', MASTER_PASSWORD='{OTTER_PASSWORD}', "
            f"MASTER_LOG_FILE='{start[0]}', MASTER_LOG_POS={start[1]}, MASTER_USE_GTID=no"
        )

    def replica_status(self) -> dict:
        conn = self.replica.root_connect(cursorclass=pymysql.cursors.DictCursor)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW SLAVE STATUS")
                return cur.fetchone() or {}
        finally:
            conn.close()

    def replica_wait(self, end: tuple[str, int], timeout: float) -> None:
        conn = self.replica.root_connect()
        deadline = time.monotonic() + timeout
        try:
            with conn.cursor() as cur:
                while True:
                    cur.execute("SELECT MASTER_POS_WAIT(%s, %s, 1)", end)
                    got = cur.fetchone()[0]
                    if got is not None and got >= 0:
                        return
                    status = self.replica_status()
                    err = status.get("Last_SQL_Error") or status.get("Last_IO_Error")
                    if err:
                        raise BenchError(f"native replica failed: {err}")
                    if time.monotonic() > deadline:
                        raise BenchError(
                            f"native replica did not reach {end} in {timeout:.0f}s "
                            f"(at {status.get('Relay_Master_Log_File')}:{status.get('Exec_Master_Log_Pos')})"
                        )
        finally:
            conn.close()

    # -- otter
    def start_otter(self, tag: str, start: tuple[str, int], **params: Any) -> OtterProcess:
        otter = OtterProcess(
            self.workdir,
            tag,
            self.source,
            self.target,
            start,
            {**self.params, **params},
            self.args.otter_log_level,
            self.args.profile,
        )
        self.otters.append(otter)
        otter.start()
        return otter

    def otter_wait(
        self,
        otter: OtterProcess,
        end: tuple[str, int],
        timeout: float,
        data_done: Callable[[], bool] | None = None,
    ) -> dict:
        """Wait until otter's acked position reaches ``end``; sample CPU/RSS meanwhile."""
        deadline = time.monotonic() + timeout
        first_ack = None
        first_rows: tuple[float, int] | None = None  # first progress line showing loaded rows
        last_sample = 0.0
        last_data_check = 0.0
        last_acked: tuple[str, int] | None = None
        last_move = time.perf_counter()
        while True:
            now = time.perf_counter()
            if now - last_sample >= 0.25:
                otter.meter.sample()
                last_sample = now
            if first_rows is None:
                first_rows = next(((t, r) for t, r in otter.progress() if r > 0), None)
            acked = otter.acked()
            if acked is not None and first_ack is None:
                first_ack = now
            if acked is not None and acked >= end:
                otter.meter.sample()
                return {
                    "seconds": now - otter.started_at,
                    "first_ack_s": (first_ack or now) - otter.started_at,
                    "first_rows": first_rows,
                    "end": now,
                    "done_by": "acked position",
                }
            if acked != last_acked:
                last_acked, last_move = acked, now
            # fallback, only once the acked position has stood still for 3 s (so that the check's
            # full-table scan does not load the target while otter is busy): is the target complete?
            if data_done is not None and now - last_move >= 3.0 and now - last_data_check >= 1.0:
                last_data_check = now
                if data_done():
                    otter.meter.sample()
                    self.results["problems"].append(
                        f"{otter.dir.name}: target data complete but acked position is {acked}, "
                        f"binlog end is {end[0]}:{end[1]}"
                    )
                    return {
                        "seconds": now - otter.started_at,
                        "first_ack_s": (first_ack or now) - otter.started_at,
                        "first_rows": first_rows,
                        "end": now,
                        "done_by": "target data",
                    }
            if not otter.alive():
                raise BenchError(
                    f"otter-run exited with code {otter.process.returncode} before reaching "
                    f"{end[0]}:{end[1]} (acked {acked}); its log ends:\n{otter.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise BenchError(
                    f"otter did not reach {end[0]}:{end[1]} within {timeout:.0f}s (acked {acked}); "
                    f"otter-run log ends:\n{otter.log_tail()}"
                )
            time.sleep(0.005)

    # -- phases
    def throughput(self) -> None:
        rows = self.args.rows
        for name, generate in WORKLOADS:
            start = self.source.binlog_position()
            log(f"{name}: writing {rows} rows on the source (consumers stopped) from {start[0]}:{start[1]}")
            conn = self.source.root_connect()
            t0 = time.perf_counter()
            generate(conn, rows)
            gen_s = time.perf_counter() - t0
            conn.close()
            end = self.source.binlog_position()
            src_sum = checksum(self.source)
            log(
                f"{name}: written in {gen_s:.1f}s ({rows / gen_s:,.0f} rows/s); binlog end {end[0]}:{end[1]} "
                f"({(end[1] - start[1]) / 1e6:.1f} MB)"
            )
            res: dict[str, Any] = {
                "rows": rows,
                "source_write_s": round(gen_s, 2),
                "binlog_bytes": end[1] - start[1] if end[0] == start[0] else None,
            }
            self.results["throughput"][name] = res

            if self.args.native_only:
                self._native_phase(name, res, start, end, src_sum)
                continue
            # otter
            log(f"{name}: otter-run from {start[0]}:{start[1]}")
            db_cpu = self.server_cpu()
            otter = self.start_otter(name, start)
            try:
                waited = self.otter_wait(
                    otter,
                    end,
                    self.args.phase_timeout,
                    data_done=lambda expected=src_sum: checksum(self.target) == expected,
                )
                res["otter_server_cpu_s"] = cpu = self.server_cpu(db_cpu)  # at catch-up, before the stop
            except BenchError as exc:
                res["otter_error"] = str(exc)
                raise
            finally:
                meter = otter.meter
                status = otter.pipeline_status()
                code = otter.stop()
            cpu["other_processes"] = round(
                cpu["machine"]
                - meter.cpu_seconds
                - cpu["bench"]
                - cpu["source"]
                - cpu["target"]
                - cpu["replica"],
                2,
            )
            steady = None
            if waited["first_rows"] is not None:
                t1, r1 = waited["first_rows"]
                if r1 < rows and waited["end"] - t1 > 0.2:
                    steady = round((rows - r1) / (waited["end"] - t1))
            res.update(
                {
                    "otter_s": round(waited["seconds"], 3),
                    "otter_rows_per_s": round(rows / waited["seconds"]),
                    "otter_first_ack_s": round(waited["first_ack_s"], 3),
                    "otter_steady_rows_per_s": steady,
                    "otter_done_by": waited["done_by"],
                    "otter_cpu_s": round(meter.cpu_seconds, 2),
                    "otter_cpu_s_per_100k": round(meter.cpu_seconds * 100000 / rows, 2),
                    "otter_peak_rss_mb": round(meter.peak_rss_mb, 1),
                    "otter_processes": meter.breakdown(),
                    "otter_exit_code": code,
                    "otter_batches": batch_figures({"batches": 0, "rows": 0, "stage_ms_total": {}}, status),
                }
            )
            tgt_sum = checksum(self.target)
            res["otter_verified"] = tgt_sum == src_sum
            if tgt_sum != src_sum:
                self.results["problems"].append(
                    f"{name}: otter target differs from the source (CHECKSUM TABLE {tgt_sum} vs {src_sum}; "
                    f"rows {row_count(self.target)} vs {row_count(self.source)})"
                )
            complaints = [
                line
                for line in otter.log_tail(10**7).splitlines()
                if " WARNING " in line or " ERROR " in line or "last error" in line
            ]
            if complaints:
                self.results["problems"].append(
                    f"{name}: otter-run logged:\n    " + "\n    ".join(complaints[:10])
                )
            log(
                f"{name}: otter {res['otter_rows_per_s']:,} rows/s ({waited['seconds']:.2f}s, first ack at "
                f"{waited['first_ack_s']:.2f}s), CPU {meter.cpu_seconds:.1f}s, peak RSS {meter.peak_rss_mb:.0f} MB, "
                f"verified={res['otter_verified']}"
            )
            log(f"{name}: otter batches {res['otter_batches']}")

            self._native_phase(name, res, start, end, src_sum)
            res["ratio"] = round(res["otter_rows_per_s"] / res["native_rows_per_s"], 3)
            log(f"{name}: ratio otter/native {res['ratio']:.3f}")

    def _native_phase(
        self, name: str, res: dict, start: tuple[str, int], end: tuple[str, int], src_sum: int | None
    ) -> None:
        self.replica_change_master(start)
        db_cpu = self.server_cpu()
        t0 = time.perf_counter()
        self.replica.root_execute("START SLAVE")
        self.replica_wait(end, self.args.phase_timeout)
        native_s = time.perf_counter() - t0
        res["native_server_cpu_s"] = cpu = self.server_cpu(db_cpu)
        cpu["other_processes"] = round(
            cpu["machine"] - cpu["bench"] - cpu["source"] - cpu["target"] - cpu["replica"], 2
        )
        self.replica.root_execute("STOP SLAVE")
        rep_sum = checksum(self.replica)
        res["native_cpu_s_per_100k"] = round(cpu["replica"] * 100000 / res["rows"], 2)  # its mariadbd
        res.update(
            {
                "native_s": round(native_s, 3),
                "native_rows_per_s": round(res["rows"] / native_s),
                "native_verified": rep_sum == src_sum,
            }
        )
        if rep_sum != src_sum:
            self.results["problems"].append(f"{name}: native replica differs from the source")
        log(f"{name}: native {res['native_rows_per_s']:,} rows/s ({native_s:.2f}s)")

    def run(self) -> dict:
        started = time.perf_counter()
        self.results["loadavg_at_start"] = os.getloadavg()
        self.start_servers()
        self.throughput()
        run_latency(self)
        run_blob_phase(self)
        self.results["total_s"] = round(time.perf_counter() - started, 1)
        self.results["loadavg_at_end"] = os.getloadavg()
        return self.results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--rows", type=int, default=1_000_000, help="rows per throughput workload (default 1000000)"
    )
    ap.add_argument("--latency-samples", type=int, default=300, help="single-row inserts timed (0: skip)")
    ap.add_argument("--latency-interval-ms", type=float, default=20.0, help="pause between those inserts")
    ap.add_argument("--poll-interval-ms", type=float, default=0.5, help="pause between arrival polls")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    defaults = PipelineParameters()  # otter's defaults, so a changed default is what the bench measures
    ap.add_argument("--parallelism", type=int, default=defaults.parallelism)
    ap.add_argument("--batch-size", type=int, default=defaults.batch_size)
    ap.add_argument("--load-pool-size", type=int, default=defaults.load_pool_size)
    ap.add_argument("--sync-mode", choices=("field", "row"), default="field")
    ap.add_argument("--batch-timeout-ms", type=int, default=defaults.batch_timeout_ms)
    ap.add_argument(
        "--select-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run otter's selector in a child process (default: yes)",
    )
    ap.add_argument(
        "--phase-timeout",
        type=float,
        default=240.0,
        help="seconds one consumer may take to catch up with one workload",
    )
    ap.add_argument(
        "--native-only", action="store_true", help="measure the native replica only (harness check)"
    )
    ap.add_argument("--keep-logs", metavar="DIR", help="copy otter-run's logs and YAML files to DIR")
    ap.add_argument("--otter-log-level", default="WARNING", help="otter-run --log-level")
    ap.add_argument(
        "--background-rows-per-s",
        type=float,
        default=5000,
        help="other writes on the source while latency is measured (0: none; default 5000)",
    )
    ap.add_argument("--blob-rows", type=int, default=24, help="16 MB BLOB rows of the memory phase (0: skip)")
    ap.add_argument("--blob-mb", type=float, default=16.0, help="size of each of those BLOBs")
    ap.add_argument(
        "--blob-batch-size",
        type=int,
        default=100000,
        help="batch_size (and batch_bytes = 1 GiB) of the memory phase: the guard, not the batch "
        "size, must bound memory",
    )
    ap.add_argument("--memory-limit-bytes", type=int, default=None, help="otter's memory_limit_bytes")
    ap.add_argument(
        "--profile",
        metavar="DIR",
        help="record each otter-run with py-spy --gil (raw collapsed stacks of the thread holding the GIL, every process) into DIR",
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compile_bytecode()
    bench = Bench(args)

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    results: dict[str, Any] = bench.results
    results.update(
        {
            "rows": args.rows,
            "machine": machine_info(),
            "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
            "otter_parameters": dict(bench.params),
        }
    )
    code = 0
    try:
        bench.run()
    except KeyboardInterrupt:
        results["error"] = "interrupted"
        code = 130
    except BenchError as exc:
        results["error"] = str(exc)
        code = 1
    except Exception as exc:  # report, then clean up
        import traceback

        results["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log("cleaning up servers and temp dirs")
        bench.cleanup()
    print_report(results, bench.params)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
