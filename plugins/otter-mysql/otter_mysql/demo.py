"""``otter-run demo``: two throwaway MariaDB servers, one channel between them, a live workload, a check.

Starts a source (binlog on) and a target server in a temporary directory, creates the schema ``shop`` on
both, runs a pipeline ``source -> target`` in this process while a background thread writes a mixed
insert/update/delete workload on the source, shows progress every second, waits until the target holds
exactly the source's rows and prints a verification table. Everything is stopped and removed at the end,
also on Ctrl-C or an error (``keep`` keeps the directories).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from otter_core.progress import ProgressPrinter
from otter_core.testing.compare import diff_checksums, table_checksums
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql.demo_workload import DDL, SCHEMA, Workload

CATCH_UP_TIMEOUT = 120.0
QUIET_LOGGERS = ("otter", "otter_core", "otter_mysql", "pymysqlreplication", "stevedore")


def pipeline_yaml(source: MariaDBServer, target: MariaDBServer, start_file: str, start_pos: int) -> str:
    """The pipeline the demo runs, written as a person would write it."""
    return f"""\
sources:
  src: {{type: mysql, host: 127.0.0.1, port: {source.port}, user: {OTTER_USER}, password: {OTTER_PASSWORD}}}
  dst: {{type: mysql, host: 127.0.0.1, port: {target.port}, user: {OTTER_USER}, password: {OTTER_PASSWORD}}}
channels:
  - name: {SCHEMA}
    pipelines:
      - name: src-to-dst
        source: src
        target: dst
        start: {{file: {start_file}, pos: {start_pos}}}   # the source's binlog end before the workload
        pairs:
          - {{source: "{SCHEMA}.*", target: "{SCHEMA}.*"}}
        parameters: {{parallelism: 3, batch_size: 2000, batch_timeout_ms: 200, load_pool_size: 2, sync_mode: field}}
"""


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    previous = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C (only possible in the main thread)."""

    def raise_interrupt(_signum, _frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _start_servers(servers: list[MariaDBServer]) -> None:
    """Start the servers at the same time (each takes a few seconds to initialise).

    Waits for every start to end even when interrupted, so that cleanup sees each server's process.
    """
    errors: list[BaseException] = []

    def start(server: MariaDBServer) -> None:
        try:
            server.start()
        except BaseException as exc:  # raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,), name="demo-start", daemon=True) for s in servers]
    for t in threads:
        t.start()
    interrupted = False
    for t in threads:
        while t.is_alive():
            try:
                t.join(0.2)
            except KeyboardInterrupt:
                interrupted = True
    if interrupted:
        raise KeyboardInterrupt
    if errors:
        raise errors[0]


def _verification_table(source_sums: dict, target_sums: dict, out: TextIO) -> bool:
    tables = sorted(set(source_sums) | set(target_sums))
    width = max(len(f"{SCHEMA}.{t}") for t in tables) if tables else 10
    out.write(f"\n{'table':<{width}}  {'rows source':>11}  {'rows target':>11}  checksum equal\n")
    out.write(f"{'-' * width}  {'-' * 11}  {'-' * 11}  --------------\n")
    equal = True
    for table in tables:
        s = source_sums.get(table)
        t = target_sums.get(table)
        same = s is not None and s == t
        equal &= same
        out.write(
            f"{SCHEMA + '.' + table:<{width}}  {s[0] if s else '-':>11}  {t[0] if t else '-':>11}  "
            f"{'yes' if same else 'NO'}\n"
        )
    return equal and bool(tables)


def run_demo(rows: int = 20000, seconds: float = 15.0, keep: bool = False) -> int:
    """Run the demo; return 0 when the target ends equal to the source, 1 otherwise, 130 on Ctrl-C."""
    out = sys.stdout
    base = Path(tempfile.mkdtemp(prefix="otter-demo-"))
    runner = None
    workload: Workload | None = None
    source = MariaDBServer(base / "source", server_id=1)
    target = MariaDBServer(base / "target", server_id=2, log_bin=False)
    servers = [source, target]
    result = 1

    def say(text: str = "") -> None:
        out.write(text + "\n")
        out.flush()

    with _quiet_logs(), _sigterm_as_interrupt():
        try:
            from otter_core.runner import Runner
            from otter_core.spi import load_config_text

            say(f"otter demo: {rows} row changes over {seconds:g}s, MariaDB -> MariaDB (files in {base})")
            t0 = time.monotonic()
            _start_servers(servers)
            say(
                f"  started source (binlog on) at 127.0.0.1:{source.port} and target at 127.0.0.1:{target.port} "
                f"in {time.monotonic() - t0:.1f}s"
            )
            for server in servers:
                server.execute(*DDL)
            say(f"  created schema {SCHEMA} (customers, orders, order_items) on both")
            start_file, start_pos = source.binlog_position()

            text = pipeline_yaml(source, target, start_file, start_pos)
            say("\npipeline.yaml:\n" + "\n".join("  " + line for line in text.splitlines()) + "\n")
            config = load_config_text(text, "pipeline.yaml")
            runner = Runner(config, state_dir=str(base / "state")).start()

            workload = Workload(source, rows, seconds)
            workload.start()
            printer = ProgressPrinter(out)
            while workload.is_alive():
                workload.join(1.0)
                printer.show(runner.status(), (workload.status_line(),))
                if runner.failures():
                    workload.stop_event.set()
            if workload.error is not None:
                raise RuntimeError(f"the workload failed: {workload.error}") from workload.error

            source_sums = table_checksums(source, SCHEMA)
            target_sums: dict = {}
            caught_up = False
            waited_from = time.monotonic()
            deadline = waited_from + CATCH_UP_TIMEOUT
            while not runner.failures():
                target_sums = table_checksums(target, SCHEMA)
                if not diff_checksums(source_sums, target_sums):
                    caught_up = True
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
                waiting = f"waiting for the target to catch up ... {time.monotonic() - waited_from:.0f}s"
                printer.show(runner.status(), (workload.status_line(), waiting))
            printer.show(runner.status(), (workload.status_line(),))

            failures = runner.failures()
            for name, exc in failures:
                say(f"\npipeline {name} failed: {exc}")
            if caught_up:
                say(f"\ntarget caught up {time.monotonic() - waited_from:.1f}s after the workload ended")
            else:
                if not failures:
                    say(f"\ntarget did not catch up within {CATCH_UP_TIMEOUT:.0f}s")
                target_sums = table_checksums(target, SCHEMA)
            equal = _verification_table(source_sums, target_sums, out)
            total = sum(count for count, _ in source_sums.values())
            if equal:
                say(f"\nOK: the target holds exactly the source's {total} rows in {len(source_sums)} tables")
                result = 0
            else:
                say("\nFAILED: the target differs from the source")
                result = 1
        except KeyboardInterrupt:
            say("\ninterrupted: stopping and cleaning up ...")
            result = 130
        except Exception as exc:  # shown to the user, then cleaned up
            say(f"\ndemo failed: {type(exc).__name__}: {exc}")
            result = 1
        finally:
            _cleanup(runner, workload, servers, base, keep, say)
    return result


def _cleanup(
    runner, workload: Workload | None, servers: list[MariaDBServer], base: Path, keep: bool, say
) -> None:
    """Stop everything that was started, even when interrupted again while doing it."""
    steps: list[Callable[[], None]] = []
    if workload is not None:

        def stop_workload() -> None:
            workload.stop_event.set()
            workload.join(10)

        steps.append(stop_workload)
    if runner is not None:

        def stop_runner() -> None:
            runner.stop()
            runner.join(timeout=30)

        steps.append(stop_runner)
    for server in servers:
        steps.append(server.stop)
    for step in steps:
        for _attempt in range(3):
            try:
                step()
                break
            except KeyboardInterrupt:
                say("  (still cleaning up: please wait)")
            except Exception as exc:  # keep going: the servers must be stopped
                say(f"  cleanup: {type(exc).__name__}: {exc}")
                break
    if keep:
        say(f"servers stopped; their files are kept in {base}")
        user = " --user=root" if os.geteuid() == 0 else ""
        for server in servers:
            say(f"  start again: mariadbd --defaults-file={server.cnf}{user} &")
    else:
        shutil.rmtree(base, ignore_errors=True)
        say("servers stopped and removed")
