"""What the MariaDB-to-MariaDB benchmarks (oneway.py, oltp_catchup.py) share: the three servers, otter
and the native replica driven and waited for, the run with its clean-up on any end, and the results file."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pymysql
from otter_process import OtterProcess
from procstat import cpu_seconds, log, own_cpu_seconds, system_busy_seconds

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer


class BenchError(RuntimeError):
    pass


class BenchBase:
    """Servers, otter-run processes and the native replica of one benchmark; the subclass sets them up
    (``args``, ``workdir``, ``servers``, ``otters``, ``params``, ``results``, ``source``/``target``/``replica``)
    and runs the phases."""

    args: argparse.Namespace
    workdir: Path
    servers: list[MariaDBServer]
    otters: list[OtterProcess]
    params: dict[str, Any]
    results: dict[str, Any]
    source: MariaDBServer
    target: MariaDBServer
    replica: MariaDBServer

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

        def finished(now: float, done_by: str) -> dict:
            return {
                "seconds": now - otter.started_at,
                "first_ack_s": (first_ack or now) - otter.started_at,
                "first_rows": first_rows,
                "end": now,
                "done_by": done_by,
            }

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
                return finished(now, "acked position")
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
                    return finished(now, "target data")
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


class Benchmark(Protocol):
    def run(self) -> dict[str, Any]: ...

    def cleanup(self) -> None: ...


def start_three_servers(
    workdir: Path, servers: list[MariaDBServer], **settings: Any
) -> tuple[MariaDBServer, MariaDBServer, MariaDBServer]:
    """The source (binlog on), otter's target and the native replica (its slave threads started by the
    benchmark), each in ``servers`` before it starts so that clean-up finds a half-started one."""
    source = MariaDBServer(workdir / "source", server_id=1, log_bin=True, **settings)
    target = MariaDBServer(workdir / "target", server_id=2, log_bin=False, **settings)
    replica = MariaDBServer(
        workdir / "replica",
        server_id=3,
        log_bin=False,
        slave_parallel_threads=0,
        skip_slave_start=True,
        relay_log=workdir / "replica" / "data" / "relay-bin",
        **settings,
    )
    for server in (source, target, replica):
        servers.append(server)
        server.start()
    return source, target, replica


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name] + sys.argv[1:])


def run_benchmark(bench: Benchmark, results: dict[str, Any], errors: tuple[type[BaseException], ...]) -> int:
    """``bench.run()`` with SIGTERM as an interrupt; the error goes into ``results`` (``errors`` by their
    message, anything else with its traceback) and the servers and temp dirs are cleaned up whatever
    happened. Returns the exit code so far (130 interrupted, 1 failed)."""

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    code = 0
    try:
        bench.run()
    except KeyboardInterrupt:
        results["error"], code = "interrupted", 130
    except errors as exc:
        results["error"], code = str(exc), 1
    except Exception as exc:  # report, then clean up
        import traceback

        results["error"], code = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}", 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log("cleaning up servers and temp dirs")
        bench.cleanup()
    return code


def write_json(path: str | None, results: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(results, indent=2, default=str) + "\n")
