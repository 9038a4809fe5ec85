"""One-way benchmark: otter (``otter-run run``) against a native MariaDB replica, same workloads, same run.

    python bench/oneway.py [--rows 200000] [--latency-samples 300] [--json out.json]

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
2. Latency. With otter and the replica running and caught up, single rows are inserted (autocommit) at a
   modest rate; one thread per target polls for each row by primary key; latency = arrival - commit.

Everything (servers, otter-run, temp dirs) is removed on exit, also on Ctrl-C or an error.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer

SCHEMA = "bench"
TABLE_DDL = (f"CREATE TABLE {SCHEMA}.t (id INT PRIMARY KEY, qty INT, name VARCHAR(64), "
             "price DECIMAL(12,2), at DATETIME, note TEXT)")
LAT_DDL = f"CREATE TABLE {SCHEMA}.lat (id INT PRIMARY KEY, v INT, note VARCHAR(64))"
NOTE = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incidid 0123456"
TXN_ROWS = 1000
OTTER_SERVER_ID = 4242
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- /proc
def _proc_stat(pid: int) -> tuple[int, int, int, int, int] | None:
    """(ppid, utime+stime, cutime+cstime, ...) in ticks, or None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is state (field 3); ppid field 4 -> [1]; utime 14 -> [11]; stime [12]; cutime [13]; cstime [14]
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]), 0, 0


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(int(entry))
            if st is not None:
                parents.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def cpu_seconds(pid: int) -> float:
    """user+sys seconds of one process (all its threads)."""
    st = _proc_stat(pid)
    return st[1] / CLK_TCK if st else 0.0


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def own_cpu_seconds() -> float:
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


class ProcessTreeMeter:
    """CPU seconds and peak RSS of a process and its descendants (sampled from /proc)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb: dict[int, int] = {}
        self.cmd: dict[int, str] = {}
        self.cpu_ticks: dict[int, int] = {}  # last seen utime+stime+cutime+cstime per pid

    def sample(self) -> None:
        for pid in _descendants(self.pid):
            st = _proc_stat(pid)
            if st is None:
                continue
            self.cpu_ticks[pid] = st[1] + st[2]
            hwm = _vm_hwm_kb(pid)
            if hwm:
                self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), hwm)
            if pid not in self.cmd:
                self.cmd[pid] = _comm(pid)

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu_ticks.values()) / CLK_TCK

    @property
    def peak_rss_mb(self) -> float:
        return sum(self.peak_kb.values()) / 1024

    def breakdown(self) -> list[dict]:
        return [{"pid": pid, "cmd": self.cmd.get(pid, "?"), "cpu_s": round(self.cpu_ticks.get(pid, 0) / CLK_TCK, 2),
                 "peak_rss_mb": round(self.peak_kb.get(pid, 0) / 1024, 1)} for pid in sorted(self.cpu_ticks)]


# ------------------------------------------------------------------------------------------- otter-run
class OtterProcess:
    """``python -m otter_core.cli run CONFIG`` in its own session; stopped by its PID."""

    def __init__(self, workdir: Path, tag: str, source: MariaDBServer, target: MariaDBServer,
                 start: tuple[str, int], params: dict[str, Any], log_level: str) -> None:
        self.dir = workdir / f"otter-{tag}"
        self.dir.mkdir(parents=True)
        self.state_dir = self.dir / "state"
        self.config = self.dir / "pipeline.yaml"
        self.log_path = self.dir / "otter-run.log"
        self.state_file = self.state_dir / "bench" / "oneway.position.json"
        self.config.write_text(_pipeline_yaml(source, target, start, params))
        self.log_level = log_level
        self.process: subprocess.Popen | None = None
        self.meter: ProcessTreeMeter | None = None
        self.started_at = 0.0
        self._log_read = 0

    def start(self) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "otter_core.cli", "--log-level", self.log_level, "run", str(self.config),
             "--state-dir", str(self.state_dir), "--progress-interval", "0.1"],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.meter = ProcessTreeMeter(self.process.pid)

    def progress(self) -> list[tuple[float, int]]:
        """(time, rows loaded) from the progress lines otter-run printed since the last call."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_read)
                data = f.read()
        except OSError:
            return []
        cut = data.rfind(b"\n") + 1
        self._log_read += cut
        now = time.perf_counter()
        return [(now, int(m)) for m in re.findall(rb"rows=(\d+)", data[:cut])]

    def acked(self) -> tuple[str, int] | None:
        try:
            pos = json.loads(self.state_file.read_text())["position"]
        except (OSError, ValueError, KeyError):
            return None
        if not pos.get("file") or pos.get("pos") is None:
            return None
        return str(pos["file"]), int(pos["pos"])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"otter-run (pid {self.process.pid}) did not stop in {timeout:.0f}s: killing its process group")
            except ProcessLookupError:
                pass
        # the selector child and multiprocessing's helper live in otter-run's session: end them too
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        return self.process.returncode


def _pipeline_yaml(source: MariaDBServer, target: MariaDBServer, start: tuple[str, int],
                   params: dict[str, Any]) -> str:
    def src(server: MariaDBServer) -> str:
        return (f"{{type: mysql, host: 127.0.0.1, port: {server.port}, user: {OTTER_USER}, "
                f"password: {OTTER_PASSWORD}}}")
    param_text = ", ".join(f"{k}: {json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v}"
                           for k, v in params.items())
    return "\n".join([
        "sources:",
        f"  src: {src(source)}",
        f"  dst: {src(target)}",
        "channels:",
        "  - name: bench",
        "    pipelines:",
        "      - name: oneway",
        "        source: src",
        "        target: dst",
        f"        start: {{file: {start[0]}, pos: {start[1]}}}",
        "        pairs:",
        f"          - {{source: \"{SCHEMA}.*\", target: \"{SCHEMA}.*\"}}",
        f"        parameters: {{{param_text}}}",
        "",
    ])


# ------------------------------------------------------------------------------------------- workloads
def _row_sql(i: int) -> str:
    at = datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=i)
    return (f"({i},{i},'name-{i:08d}',{(i % 10000000) / 100:.2f},'{at:%Y-%m-%d %H:%M:%S}',"
            f"'{NOTE}')")


def gen_insert(conn: pymysql.connections.Connection, rows: int) -> None:
    with conn.cursor() as cur:
        for lo in range(1, rows + 1, TXN_ROWS):
            hi = min(lo + TXN_ROWS - 1, rows)
            cur.execute(f"INSERT INTO {SCHEMA}.t (id,qty,name,price,at,note) VALUES "
                        + ",".join(_row_sql(i) for i in range(lo, hi + 1)))


def gen_update(conn: pymysql.connections.Connection, rows: int) -> None:
    with conn.cursor() as cur:
        for lo in range(1, rows + 1, TXN_ROWS):
            cur.execute(f"UPDATE {SCHEMA}.t SET qty = qty + 1 WHERE id BETWEEN {lo} AND {lo + TXN_ROWS - 1}")


def gen_delete(conn: pymysql.connections.Connection, rows: int) -> None:
    with conn.cursor() as cur:
        for lo in range(1, rows + 1, TXN_ROWS):
            cur.execute(f"DELETE FROM {SCHEMA}.t WHERE id BETWEEN {lo} AND {lo + TXN_ROWS - 1}")


WORKLOADS: list[tuple[str, Callable]] = [("insert", gen_insert), ("update", gen_update), ("delete", gen_delete)]


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


# -------------------------------------------------------------------------------------------- bench
class BenchError(RuntimeError):
    pass


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="otter-bench-"))
        self.servers: list[MariaDBServer] = []
        self.otters: list[OtterProcess] = []
        self.params = {"parallelism": args.parallelism, "batch_size": args.batch_size,
                       "load_pool_size": args.load_pool_size, "sync_mode": args.sync_mode,
                       "batch_timeout_ms": args.batch_timeout_ms, "select_process": args.select_process,
                       "server_id": OTTER_SERVER_ID}
        self.results: dict[str, Any] = {"throughput": {}, "latency": {}, "problems": []}

    # -- servers
    def start_servers(self) -> None:
        log(f"starting 3 MariaDB servers under {self.workdir}")
        self.source = MariaDBServer(self.workdir / "source", server_id=1, log_bin=True)
        self.target = MariaDBServer(self.workdir / "target", server_id=2, log_bin=False)
        self.replica = MariaDBServer(self.workdir / "replica", server_id=3, log_bin=False,
                                     slave_parallel_threads=0, skip_slave_start=True,
                                     relay_log=self.workdir / "replica" / "data" / "relay-bin")
        for server in (self.source, self.target, self.replica):
            self.servers.append(server)
            server.start()
        self.source.root_execute("SET SESSION sql_log_bin=0", f"CREATE DATABASE {SCHEMA}", TABLE_DDL, LAT_DDL)
        for server in (self.target, self.replica):
            server.root_execute(f"CREATE DATABASE {SCHEMA}", TABLE_DDL, LAT_DDL)
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
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                log(f"cleanup: stopping otter-run failed: {exc}")
        for server in self.servers:
            try:
                server.destroy()
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                log(f"cleanup: stopping MariaDB in {server.basedir} failed: {exc}")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def server_cpu(self, since: dict | None = None) -> dict:
        """CPU seconds of each mariadbd (source, target, replica), or the difference to ``since``."""
        now = {name: cpu_seconds(server.process.pid)
               for name, server in (("source", self.source), ("target", self.target), ("replica", self.replica))}
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
            f"MASTER_LOG_FILE='{start[0]}', MASTER_LOG_POS={start[1]}, MASTER_USE_GTID=no")

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
                        raise BenchError(f"native replica did not reach {end} in {timeout:.0f}s "
                                         f"(at {status.get('Relay_Master_Log_File')}:{status.get('Exec_Master_Log_Pos')})")
        finally:
            conn.close()

    # -- otter
    def start_otter(self, tag: str, start: tuple[str, int]) -> OtterProcess:
        otter = OtterProcess(self.workdir, tag, self.source, self.target, start, self.params, self.args.otter_log_level)
        self.otters.append(otter)
        otter.start()
        return otter

    def otter_wait(self, otter: OtterProcess, end: tuple[str, int], timeout: float,
                   data_done: Callable[[], bool] | None = None) -> dict:
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
                return {"seconds": now - otter.started_at, "first_ack_s": (first_ack or now) - otter.started_at,
                        "first_rows": first_rows, "end": now, "done_by": "acked position"}
            if acked != last_acked:
                last_acked, last_move = acked, now
            # fallback, only once the acked position has stood still for a second (so that the check's
            # full-table scan does not load the target while otter is busy): is the target complete?
            if (data_done is not None and now - last_move >= 1.0 and now - last_data_check >= 1.0):
                last_data_check = now
                if data_done():
                    otter.meter.sample()
                    self.results["problems"].append(
                        f"{otter.dir.name}: target data complete but acked position is {acked}, "
                        f"binlog end is {end[0]}:{end[1]}")
                    return {"seconds": now - otter.started_at,
                            "first_ack_s": (first_ack or now) - otter.started_at, "first_rows": first_rows,
                            "end": now, "done_by": "target data"}
            if not otter.alive():
                raise BenchError(f"otter-run exited with code {otter.process.returncode} before reaching "
                                 f"{end[0]}:{end[1]} (acked {acked}); its log ends:\n{otter.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"otter did not reach {end[0]}:{end[1]} within {timeout:.0f}s (acked {acked}); "
                                 f"otter-run log ends:\n{otter.log_tail()}")
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
            log(f"{name}: written in {gen_s:.1f}s ({rows / gen_s:,.0f} rows/s); binlog end {end[0]}:{end[1]} "
                f"({(end[1] - start[1]) / 1e6:.1f} MB)")
            res: dict[str, Any] = {"rows": rows, "source_write_s": round(gen_s, 2),
                                   "binlog_bytes": end[1] - start[1] if end[0] == start[0] else None}
            self.results["throughput"][name] = res

            if self.args.native_only:
                self._native_phase(name, res, start, end, src_sum)
                continue
            # otter
            log(f"{name}: otter-run from {start[0]}:{start[1]}")
            db_cpu = self.server_cpu()
            otter = self.start_otter(name, start)
            try:
                waited = self.otter_wait(otter, end, self.args.phase_timeout,
                                         data_done=lambda expected=src_sum: checksum(self.target) == expected)
                res["otter_server_cpu_s"] = cpu = self.server_cpu(db_cpu)  # at catch-up, before the stop
            except BenchError as exc:
                res["otter_error"] = str(exc)
                raise
            finally:
                meter = otter.meter
                code = otter.stop()
            cpu["other_processes"] = round(cpu["machine"] - meter.cpu_seconds - cpu["bench"]
                                           - cpu["source"] - cpu["target"] - cpu["replica"], 2)
            steady = None
            if waited["first_rows"] is not None:
                t1, r1 = waited["first_rows"]
                if r1 < rows and waited["end"] - t1 > 0.2:
                    steady = round((rows - r1) / (waited["end"] - t1))
            res.update({
                "otter_s": round(waited["seconds"], 3), "otter_rows_per_s": round(rows / waited["seconds"]),
                "otter_first_ack_s": round(waited["first_ack_s"], 3),
                "otter_steady_rows_per_s": steady,
                "otter_done_by": waited["done_by"],
                "otter_cpu_s": round(meter.cpu_seconds, 2),
                "otter_cpu_s_per_100k": round(meter.cpu_seconds * 100000 / rows, 2),
                "otter_peak_rss_mb": round(meter.peak_rss_mb, 1), "otter_processes": meter.breakdown(),
                "otter_exit_code": code,
            })
            tgt_sum = checksum(self.target)
            res["otter_verified"] = tgt_sum == src_sum
            if tgt_sum != src_sum:
                self.results["problems"].append(
                    f"{name}: otter target differs from the source (CHECKSUM TABLE {tgt_sum} vs {src_sum}; "
                    f"rows {row_count(self.target)} vs {row_count(self.source)})")
            complaints = [line for line in otter.log_tail(10**7).splitlines()
                          if " WARNING " in line or " ERROR " in line or "last error" in line]
            if complaints:
                self.results["problems"].append(f"{name}: otter-run logged:\n    " + "\n    ".join(complaints[:10]))
            log(f"{name}: otter {res['otter_rows_per_s']:,} rows/s ({waited['seconds']:.2f}s, first ack at "
                f"{waited['first_ack_s']:.2f}s), CPU {meter.cpu_seconds:.1f}s, peak RSS {meter.peak_rss_mb:.0f} MB, "
                f"verified={res['otter_verified']}")

            self._native_phase(name, res, start, end, src_sum)
            res["ratio"] = round(res["otter_rows_per_s"] / res["native_rows_per_s"], 3)
            log(f"{name}: ratio otter/native {res['ratio']:.3f}")

    def _native_phase(self, name: str, res: dict, start: tuple[str, int], end: tuple[str, int],
                      src_sum: int | None) -> None:
        self.replica_change_master(start)
        db_cpu = self.server_cpu()
        t0 = time.perf_counter()
        self.replica.root_execute("START SLAVE")
        self.replica_wait(end, self.args.phase_timeout)
        native_s = time.perf_counter() - t0
        res["native_server_cpu_s"] = cpu = self.server_cpu(db_cpu)
        cpu["other_processes"] = round(cpu["machine"] - cpu["bench"] - cpu["source"] - cpu["target"]
                                       - cpu["replica"], 2)
        self.replica.root_execute("STOP SLAVE")
        rep_sum = checksum(self.replica)
        res.update({"native_s": round(native_s, 3), "native_rows_per_s": round(res["rows"] / native_s),
                    "native_verified": rep_sum == src_sum})
        if rep_sum != src_sum:
            self.results["problems"].append(f"{name}: native replica differs from the source")
        log(f"{name}: native {res['native_rows_per_s']:,} rows/s ({native_s:.2f}s)")

    def latency(self) -> None:
        samples = self.args.latency_samples
        if samples <= 0:
            return
        start = self.source.binlog_position()
        log(f"latency: starting otter-run and the replica at {start[0]}:{start[1]}")
        otter = None if self.args.native_only else self.start_otter("latency", start)
        self.replica_change_master(start)
        self.replica.root_execute("START SLAVE")
        src = self.source.connect(autocommit=True)
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
        tconn, rconn = self.target.connect(), self.replica.connect()
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
                    raise BenchError(f"otter-run exited with code {otter.process.returncode} during the latency "
                                     f"warm-up; its log ends:\n{otter.log_tail()}")
                time.sleep(0.01)
        if not ready:
            raise BenchError(f"latency warm-up: rows did not reach both targets in 120s; otter-run log ends:\n"
                             f"{otter.log_tail() if otter else ''}")
        for _ in range(warm):
            insert_one()
            time.sleep(self.args.latency_interval_ms / 1000)
        time.sleep(1.0)
        tconn.close()
        rconn.close()

        first = next_id[0]
        ids = list(range(first, first + samples))
        commits: dict[int, float] = {}
        arrivals: dict[str, dict[int, float]] = {"otter": {}, "native": {}}
        stop = threading.Event()
        poll_s = self.args.poll_interval_ms / 1000

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

        kinds = [("native", self.replica)] + ([] if otter is None else [("otter", self.target)])
        threads = [threading.Thread(target=poller, args=(kind, server), daemon=True) for kind, server in kinds]
        poll_conns = {kind: server.connect() for kind, server in kinds}  # connected before the first insert
        for t in threads:
            t.start()
        time.sleep(0.2)
        log(f"latency: {samples} single-row inserts, one every {self.args.latency_interval_ms} ms")
        lat_cpu = self.server_cpu()
        for _ in ids:
            i, t = insert_one()
            commits[i] = t
            time.sleep(self.args.latency_interval_ms / 1000)
        for t in threads:
            t.join(timeout=30)
        stop.set()
        cpu = self.server_cpu(lat_cpu)
        if otter is not None:
            otter.meter.sample()
        self.results["latency"]["cpu_s"] = cpu
        src.close()
        if otter is not None:
            if not otter.alive():
                self.results["problems"].append(f"latency: otter-run exited early:\n{otter.log_tail()}")
            otter.stop()
        self.replica.root_execute("STOP SLAVE")
        for kind, _ in kinds:
            lat = sorted((arrivals[kind][i] - commits[i]) * 1000 for i in ids if i in arrivals[kind])
            lost = samples - len(lat)
            entry = {"samples": len(lat), "lost": lost,
                     "by_row_ms": [round((arrivals[kind][i] - commits[i]) * 1000, 2) if i in arrivals[kind] else None
                                   for i in ids]}
            if lat:
                entry.update({"p50_ms": round(_pct(lat, 50), 2), "p90_ms": round(_pct(lat, 90), 2),
                              "p99_ms": round(_pct(lat, 99), 2), "max_ms": round(lat[-1], 2),
                              "mean_ms": round(statistics.fmean(lat), 2)})
            if lost:
                self.results["problems"].append(f"latency: {lost} of {samples} rows did not reach {kind} in 10 s")
            self.results["latency"][kind] = entry
            log(f"latency {kind}: " + ", ".join(f"{k}={v}" for k, v in entry.items() if k != "by_row_ms"))

    def run(self) -> dict:
        started = time.perf_counter()
        self.results["loadavg_at_start"] = os.getloadavg()
        self.start_servers()
        self.throughput()
        self.latency()
        self.results["total_s"] = round(time.perf_counter() - started, 1)
        self.results["loadavg_at_end"] = os.getloadavg()
        return self.results


def _pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def machine_info() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "memory_mb": mem_mb, "python": platform.python_version(),
            "kernel": platform.release()}


def print_report(results: dict, params: dict) -> None:
    print()
    print(f"otter one-way benchmark — {results.get('rows')} rows per workload; MariaDB "
          f"{results.get('mariadb_version', '?')}; {results['machine']['cpus']} CPUs")
    print("otter parameters: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    if "loadavg_at_start" in results:
        print("load average at start: " + " ".join(f"{v:.2f}" for v in results["loadavg_at_start"])
              + ("; at end: " + " ".join(f"{v:.2f}" for v in results["loadavg_at_end"])
                 if "loadavg_at_end" in results else ""))
    print()
    head = ("workload", "otter rows/s", "native rows/s", "ratio", "otter CPU s/100k rows", "otter peak RSS MB")
    rows = [head]
    for name, res in results["throughput"].items():
        if "otter_rows_per_s" not in res:
            native = f"{res['native_rows_per_s']:,}" if "native_rows_per_s" in res else "-"
            rows.append((name, "failed" if "otter_error" in res else "-", native, "-", "-", "-"))
            continue
        rows.append((name, f"{res['otter_rows_per_s']:,}", f"{res.get('native_rows_per_s', 0):,}",
                     f"{res.get('ratio', 0):.3f}", f"{res['otter_cpu_s_per_100k']:.2f}",
                     f"{res['otter_peak_rss_mb']:.0f}"))
    widths = [max(len(str(r[c])) for r in rows) for c in range(len(head))]
    for n, r in enumerate(rows):
        print("| " + " | ".join(str(v).ljust(widths[c]) if c == 0 else str(v).rjust(widths[c])
                                for c, v in enumerate(r)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if results["throughput"]:
        print()
        for name, res in results["throughput"].items():
            if "otter_s" in res:
                steady = res.get("otter_steady_rows_per_s")
                print(f"  {name}: otter {res['otter_s']:.2f}s from process start (first batch acked at "
                      f"{res['otter_first_ack_s']:.2f}s; {f'{steady:,}' if steady else '?'} rows/s after startup), "
                      f"native {res.get('native_s', float('nan')):.2f}s; verified otter={res.get('otter_verified')} "
                      f"native={res.get('native_verified')}; CPU s of the applying mariadbd: "
                      f"otter's target {res.get('otter_server_cpu_s', {}).get('target', '?')}, "
                      f"replica {res.get('native_server_cpu_s', {}).get('replica', '?')}; CPU s used by other "
                      f"processes on the machine meanwhile: {res.get('otter_server_cpu_s', {}).get('other_processes', '?')}"
                      f" / {res.get('native_server_cpu_s', {}).get('other_processes', '?')}")
    lat = results.get("latency") or {}
    if lat:
        print()
        print("single-row latency (commit on source -> row visible on target), ms:")
        for kind in ("otter", "native"):
            e = lat.get(kind, {})
            if e.get("samples"):
                print(f"  {kind:<6} p50 {e['p50_ms']:7.2f}  p90 {e['p90_ms']:7.2f}  p99 {e['p99_ms']:7.2f}  "
                      f"max {e['max_ms']:7.2f}  ({e['samples']} samples, {e['lost']} lost)")
    if results.get("problems"):
        print()
        print("problems:")
        for p in results["problems"]:
            print("  - " + p)
    if results.get("error"):
        print()
        print("ERROR: " + results["error"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200000, help="rows per throughput workload (default 200000)")
    ap.add_argument("--latency-samples", type=int, default=300, help="single-row inserts timed (0: skip)")
    ap.add_argument("--latency-interval-ms", type=float, default=20.0, help="pause between those inserts")
    ap.add_argument("--poll-interval-ms", type=float, default=0.5, help="pause between arrival polls")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    ap.add_argument("--parallelism", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=4000)
    ap.add_argument("--load-pool-size", type=int, default=4)
    ap.add_argument("--sync-mode", choices=("field", "row"), default="field")
    ap.add_argument("--batch-timeout-ms", type=int, default=500)
    ap.add_argument("--select-process", action=argparse.BooleanOptionalAction, default=True,
                    help="run otter's selector in a child process (default: yes)")
    ap.add_argument("--phase-timeout", type=float, default=240.0,
                    help="seconds one consumer may take to catch up with one workload")
    ap.add_argument("--native-only", action="store_true", help="measure the native replica only (harness check)")
    ap.add_argument("--keep-logs", metavar="DIR", help="copy otter-run's logs and YAML files to DIR")
    ap.add_argument("--otter-log-level", default="WARNING", help="otter-run --log-level")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    results: dict[str, Any] = bench.results
    results.update({"rows": args.rows, "machine": machine_info(), "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
                    "otter_parameters": dict(bench.params)})
    code = 0
    try:
        bench.run()
    except KeyboardInterrupt:
        results["error"] = "interrupted"
        code = 130
    except BenchError as exc:
        results["error"] = str(exc)
        code = 1
    except Exception as exc:  # noqa: BLE001 - report, then clean up
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
