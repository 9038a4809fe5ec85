"""OLTP catch-up: a sysbench backlog applied by otter and by a native MariaDB replica, same run (issue 21).

    python bench/oltp_catchup.py [--quick] [--tables 4] [--table-size 100000] [--threads 8] [--time 30]
                                 [--workloads oltp_write_only,oltp_read_write] [--json out.json]

Starts three throwaway MariaDB servers (a binlog source, otter's target, a native replica), prepares the
sysbench tables on the source (Debian package ``sysbench``) and copies them to both consumers with
``mariadb-dump`` while nothing writes. Then, per workload:

1. the backlog: ``sysbench WORKLOAD run`` (``--threads`` clients for ``--time`` s) on the source while
   every consumer is stopped; the start and end binlog positions bound it, sysbench counts its
   transactions and write statements (one row change each: rows = writes);
2. otter, default parameters: ``otter-run run`` from the start position (fresh state dir), timed until its
   acked position reaches the binlog end, then every table compared with ``CHECKSUM TABLE``; its CPU
   seconds and peak RSS (``VmHWM`` of otter-run and its selector child) come from /proc;
3. the native replica, single-threaded apply (``slave_parallel_threads=0``), from the same position to
   ``MASTER_POS_WAIT`` of the end, then checksums;
4. the native replica again, from the same start state (the tables restored from the dump taken before
   the backlog), with ``slave_parallel_threads=4`` and ``slave_parallel_mode=optimistic``.

It prints rows/s and tx/s side by side with otter's ratio to each native run, and the load average
sampled during each phase: the machine is shared, so only ratios from the same run mean anything.
``--readers native,library`` runs otter once per binlog reader (``parameters.binlog_reader``) on the
same backlog, its target restored to the start state in between; each line shows the selector process's
CPU seconds per transaction beside the whole of otter's.
``--variants 'batch_size=8000;load_pool_size=2'`` runs otter once more per variant (its parameters over
the defaults) on the same backlog, its target restored in between: a parameter sweep whose points share
one backlog and one pair of native runs.
``--profile DIR`` records otter-run with py-spy (``pip install py-spy``) as ``bench/oneway.py`` does.
Everything is removed on exit, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_run import BenchBase, BenchError, command_line, run_benchmark, start_three_servers, write_json
from oneway import OTTER_SERVER_ID
from otter_process import compile_bytecode
from procstat import CLK_TCK, cpu_seconds, log, sched_seconds
from report import machine_info, print_catchup_report, variant_name
from workloads import SCHEMA

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, SERVER_USER, MariaDBServer, find_binary


def parse_variant(text: str) -> dict[str, int]:
    """``batch_size=8000,load_pool_size=2``: pipeline parameters of one more otter run."""
    if text.strip() == "default":
        return {}
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {key.strip(): int(value) for key, value in pairs}


def sysbench_counts(output: str) -> dict[str, int]:
    """Transactions, write statements and ignored errors from sysbench's summary."""

    def number(label: str) -> int:
        found = re.search(rf"^\s*{label}:\s+(\d+)", output, re.M)
        if not found:
            raise BenchError(f"sysbench printed no '{label}:' line; its output ends:\n{output[-2000:]}")
        return int(found.group(1))

    return {
        "transactions": number("transactions"),
        "writes": number("write"),
        "ignored_errors": number("ignored errors"),
    }


class LoadSampler:
    """The 1-minute load average, sampled while a phase runs (the machine is shared)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def sample(self) -> None:
        self.values.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float]:
        if not self.values:
            self.sample()
        return {"min": round(min(self.values), 2), "max": round(max(self.values), 2)}


class OltpBench(BenchBase):
    """The shared otter and native-replica helpers (bench_run.BenchBase); servers and phases are its own."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="otter-bench-oltp-"))
        self.servers: list[MariaDBServer] = []
        self.otters = []
        self.params: dict[str, Any] = {"server_id": OTTER_SERVER_ID, **dict(args.param or [])}
        self.results: dict[str, Any] = {"workloads": {}, "problems": []}
        self.tables = [f"sbtest{i}" for i in range(1, args.tables + 1)]

    # -- servers and data
    def start_servers(self) -> None:
        log(f"starting 3 MariaDB servers under {self.workdir}")
        pool = {"innodb_buffer_pool_size": self.args.buffer_pool}
        self.source, self.target, self.replica = start_three_servers(self.workdir, self.servers, **pool)
        for server in (self.source, self.target, self.replica):
            server.root_execute(f"CREATE DATABASE {SCHEMA}")
        self.results["mariadb_version"] = self.source.execute("SELECT VERSION()")[0][0]

    def sysbench(self, workload: str, command: str, **extra: Any) -> str:
        args = [
            "sysbench",
            workload,
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            f"--mysql-port={self.source.port}",
            f"--mysql-user={OTTER_USER}",
            f"--mysql-password={OTTER_PASSWORD}",
            f"--mysql-db={SCHEMA}",
            f"--tables={self.args.tables}",
            f"--table-size={self.args.table_size}",
            "--rand-seed=21",
            *(f"--{k.replace('_', '-')}={v}" for k, v in extra.items()),
            command,
        ]
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(
                f"sysbench {workload} {command} failed ({done.returncode}): {done.stderr[-2000:]}"
            )
        return done.stdout

    def dump(self, path: Path) -> None:
        """The sysbench tables of the source (nothing writes meanwhile), for the consumers' start state."""
        with open(path, "wb") as out:
            subprocess.run(
                [
                    find_binary("mariadb-dump", "mysqldump"),
                    f"--socket={self.source.socket_path}",
                    f"--user={SERVER_USER}",
                    "--single-transaction",
                    "--skip-lock-tables",
                    SCHEMA,
                    *self.tables,
                ],
                stdout=out,
                check=True,
            )

    def restore(self, server: MariaDBServer, path: Path) -> None:
        server.root_execute(f"DROP DATABASE IF EXISTS {SCHEMA}", f"CREATE DATABASE {SCHEMA}")
        with open(path, "rb") as dump:
            subprocess.run(
                [
                    find_binary("mariadb", "mysql"),
                    f"--socket={server.socket_path}",
                    f"--user={SERVER_USER}",
                    SCHEMA,
                ],
                stdin=dump,
                check=True,
            )

    def checksums(self, server: MariaDBServer) -> list[tuple[str, int]]:
        tables = ", ".join(f"{SCHEMA}.{t}" for t in self.tables)
        return [(str(name), int(value)) for name, value in server.execute(f"CHECKSUM TABLE {tables}")]

    # -- consumers
    def run_otter(
        self,
        name: str,
        res: dict,
        start: tuple[str, int],
        end: tuple[str, int],
        expected: list,
        reader: str | None = None,
        key: str = "otter",
        variant: dict[str, int] | None = None,
    ) -> None:
        loads = LoadSampler()
        loads.sample()
        servers_cpu0 = [cpu_seconds(server.process.pid) for server in (self.source, self.target)]
        target_sched0 = sched_seconds(self.target.process.pid)
        extra: dict[str, Any] = {"binlog_reader": reader} if reader else {}
        extra.update(variant or {})
        otter = self.start_otter(f"{name}-{key}", start, **extra)
        try:
            waited = self.otter_wait(
                otter,
                end,
                self.args.phase_timeout,
                data_done=lambda: self.checksums(self.target) == expected,
            )
        finally:
            meter = otter.meter
            target_sched = [b - a for a, b in zip(target_sched0, sched_seconds(self.target.process.pid))]
            status = otter.pipeline_status()
            code = otter.stop()
        loads.sample()
        source_cpu, target_cpu = (
            cpu_seconds(server.process.pid) - before
            for server, before in zip((self.source, self.target), servers_cpu0, strict=True)
        )
        seconds = waited["seconds"]
        equal = self.checksums(self.target) == expected
        children = sum(p["cpu_s"] for p in meter.breakdown() if p["pid"] != meter.pid)
        res[key] = {
            "binlog_reader": reader or "default",
            "parameters": variant or {},
            "selector_cpu_s": round(children, 2),  # the selector process (otter-run's children)
            "us_per_tx": round(meter.cpu_seconds / res["transactions"] * 1e6, 1),
            "selector_us_per_tx": round(children / res["transactions"] * 1e6, 1),
            "seconds": round(seconds, 2),
            "rows_per_s": round(res["rows"] / seconds),
            "tx_per_s": round(res["transactions"] / seconds),
            "cpu_s": round(meter.cpu_seconds, 1),
            "runner_cpu_s": round(meter.cpu_ticks.get(meter.pid, 0) / CLK_TCK, 1),  # otter-run itself
            "processes": meter.breakdown(),  # otter-run and its selector process
            "peak_rss_mb": round(meter.peak_rss_mb, 1),
            "target_cpu_s": round(target_cpu, 1),  # its mariadbd: otter's statements (and the checksums)
            "source_cpu_s": round(source_cpu, 1),  # the binlog dump thread (and the checksums)
            # the target's threads on a CPU / waiting for one, per second of the catch-up: its busy share
            "target_busy": round(target_sched[0] / seconds, 2),
            "target_waiting_for_cpu": round(target_sched[1] / seconds, 2),
            "done_by": waited["done_by"],
            "verified": equal,
            "exit_code": code,
            "batches": status.get("batches"),
            "loadavg": loads.summary(),
        }
        if not equal:
            self.results["problems"].append(
                f"{name}: otter's target differs from the source (CHECKSUM TABLE)"
            )
        log(f"{name}: {key} {res[key]}")

    def run_native(
        self, name: str, res: dict, start: tuple[str, int], end: tuple[str, int], mode: str
    ) -> None:
        loads = LoadSampler()
        threads = 0 if mode == "native_single" else 4
        self.replica_change_master(start)  # stops the slave: its parallel settings can change now
        self.replica.root_execute(
            f"SET GLOBAL slave_parallel_threads={threads}", "SET GLOBAL slave_parallel_mode='optimistic'"
        )
        cpu0 = cpu_seconds(self.replica.process.pid)
        loads.sample()
        t0 = time.perf_counter()
        self.replica.root_execute("START SLAVE")
        self.replica_wait(end, self.args.phase_timeout)
        seconds = time.perf_counter() - t0
        loads.sample()
        self.replica.root_execute("STOP SLAVE")
        equal = self.checksums(self.replica) == res["source_checksums"]
        res[mode] = {
            "seconds": round(seconds, 2),
            "rows_per_s": round(res["rows"] / seconds),
            "tx_per_s": round(res["transactions"] / seconds),
            "replica_cpu_s": round(cpu_seconds(self.replica.process.pid) - cpu0, 1),
            "slave_parallel_threads": threads,
            "verified": equal,
            "loadavg": loads.summary(),
        }
        if not equal:
            self.results["problems"].append(f"{name}: native replica ({mode}) differs from the source")
        log(f"{name}: {mode} {res[mode]}")

    # -- the run
    def run(self) -> dict:
        args = self.args
        self.results["loadavg_at_start"] = os.getloadavg()
        self.start_servers()
        log(f"sysbench prepare: {args.tables} tables x {args.table_size} rows")
        self.sysbench("oltp_write_only", "prepare", threads=min(args.tables, 4))
        dump = self.workdir / "start.sql"
        self.dump(dump)
        for server in (self.target, self.replica):
            self.restore(server, dump)
        for name in args.workloads:
            res: dict[str, Any] = {}
            self.results["workloads"][name] = res
            if name != args.workloads[0]:
                self.dump(dump)  # the replica's start state for this backlog (otter's target is equal)
                self.restore(self.replica, dump)
            start = self.source.binlog_position()
            log(f"{name}: sysbench backlog, {args.threads} threads x {args.time} s, consumers stopped")
            out = self.sysbench(name, "run", threads=args.threads, time=args.time, report_interval=0)
            end = self.source.binlog_position()
            counts = sysbench_counts(out)
            res.update(counts, rows=counts["writes"], start=start, end=end)
            res["source_checksums"] = self.checksums(self.source)
            log(f"{name}: {counts}, binlog {start[0]}:{start[1]} .. {end[0]}:{end[1]}")
            runs = [(None, {})] + [(None, v) for v in args.variants or []]
            if args.readers:
                runs = [(reader, {}) for reader in args.readers]
            for i, (reader, variant) in enumerate(runs):
                if i:  # the target back to the backlog's start state (otter's first run left it equal)
                    self.restore(self.target, dump)
                key = "otter" if i == 0 else f"otter_{reader}" if reader else f"otter_{variant_name(variant)}"
                key += f"#{i}" if key in res else ""  # a point run twice (e.g. 'default' between variants)
                self.run_otter(name, res, start, end, res["source_checksums"], reader, key, variant)
            self.run_native(name, res, start, end, "native_single")
            self.restore(self.replica, dump)
            self.run_native(name, res, start, end, "native_parallel")
            for peer in ("native_single", "native_parallel"):
                res[f"ratio_{peer}"] = round(res["otter"]["rows_per_s"] / res[peer]["rows_per_s"], 3)
                for key in [k for k in res if k.startswith("otter_")]:
                    res[f"ratio_{peer}_{key}"] = round(res[key]["rows_per_s"] / res[peer]["rows_per_s"], 3)
        self.results["loadavg_at_end"] = os.getloadavg()
        return self.results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 tables x 10000 rows, 8 s of backlog")
    ap.add_argument("--tables", type=int, default=4)
    ap.add_argument("--table-size", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=8, help="sysbench clients writing the backlog")
    ap.add_argument("--time", type=int, default=30, help="seconds of sysbench writing the backlog")
    ap.add_argument(
        "--workloads",
        default="oltp_write_only,oltp_read_write",
        type=lambda text: [w for w in text.split(",") if w],
        help="sysbench workloads, each its own backlog (default oltp_write_only,oltp_read_write)",
    )
    ap.add_argument(
        "--param",
        action="append",
        type=lambda text: (text.split("=", 1)[0], int(text.split("=", 1)[1])),
        metavar="NAME=INT",
        help="an otter pipeline parameter instead of its default (repeatable)",
    )
    ap.add_argument(
        "--readers",
        type=lambda text: [r for r in text.split(",") if r],
        help="otter once per binlog reader, e.g. native,library (parameters.binlog_reader; default: one run, "
        "the default reader)",
    )
    ap.add_argument(
        "--variants",
        type=lambda text: [parse_variant(v) for v in text.split(";") if v],
        help="more otter runs on the same backlog, each with these parameters over the defaults (and "
        "--param), the target restored in between: 'batch_size=8000;default;load_pool_size=2' ('default': the defaults again)",
    )
    ap.add_argument("--buffer-pool", default="512M", help="innodb_buffer_pool_size of each server")
    ap.add_argument("--phase-timeout", type=float, default=600.0, help="seconds one consumer may take")
    ap.add_argument("--profile", metavar="DIR", help="record otter-run with py-spy into DIR")
    ap.add_argument("--keep-logs", metavar="DIR", help="copy otter-run's logs and YAML files to DIR")
    ap.add_argument("--otter-log-level", default="WARNING", help="otter-run --log-level")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = ap.parse_args(argv)
    if args.quick:
        args.table_size, args.time = 10_000, 8
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("sysbench") is None:
        print("oltp_catchup: sysbench is not installed: apt-get install sysbench", file=sys.stderr)
        return 2
    compile_bytecode()
    bench = OltpBench(args)

    results = bench.results
    results.update(
        {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": machine_info(),
            "command": command_line(),
            "otter_parameters": dict(bench.params),
            "otter_parameters_changed": bool(args.param),
        }
    )
    code = run_benchmark(bench, results, (BenchError, subprocess.CalledProcessError))
    print_catchup_report(results)
    write_json(args.json, results)
    return code or (1 if results["problems"] else 0)


if __name__ == "__main__":
    sys.exit(main())
