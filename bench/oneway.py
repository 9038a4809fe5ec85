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
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_run import BenchBase, BenchError, command_line, run_benchmark, start_three_servers, write_json
from blob import run_blob_phase
from latency import batch_figures, run_latency
from otter_process import OtterProcess, compile_bytecode
from procstat import log
from report import machine_info, print_report
from workloads import BG_DDL, BLOB_DDL, LAT_DDL, SCHEMA, TABLE_DDL, WORKLOADS, checksum, row_count

from otter_core.model import PipelineParameters
from otter_core.testing.mariadb import MariaDBServer

OTTER_SERVER_ID = 4242


class Bench(BenchBase):
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
        self.source, self.target, self.replica = start_three_servers(self.workdir, self.servers, **big)
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

    results: dict[str, Any] = bench.results
    results.update(
        {
            "rows": args.rows,
            "machine": machine_info(),
            "command": command_line(),
            "otter_parameters": dict(bench.params),
        }
    )
    code = run_benchmark(bench, results, (BenchError,))
    print_report(results, bench.params)
    write_json(args.json, results)
    return code


if __name__ == "__main__":
    sys.exit(main())
