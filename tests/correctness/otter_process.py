"""``otter-run run`` as a child process for one harness example: one load path, killable with SIGKILL.

The process (not an in-thread Runner) because the C/Python switch (``OTTER_PURE_PYTHON_DECODER``) is
read at import, and because kill -9 must hit a real process. ``wait_caught_up`` watches the acked
position file and fails fast with the log's tail when the pipeline keeps rolling back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from attrs import frozen

from otter_core.testing.binlog_end import only_bookkeeping_after
from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.mariadb import MariaDBServer


@frozen
class LoadPath:
    """One way rows reach the target: the knobs that choose the loader's and selector's code paths."""

    name: str
    sync_mode: str = "field"
    update_join: bool = True  # field mode: the UPDATE join (False: the upsert of the changed columns)
    pure_python: bool = False  # OTTER_PURE_PYTHON_DECODER=1: Python decoder and statement builder
    select_process: bool = True
    chunks: str = "default"  # "tiny": 1-row statements and 1-transaction batches; "large": one statement
    binlog_reader: str = "native"  # the selector's binlog stream reader ("library": mysql-replication)
    # > 0: the table's first rows exist before the pipeline starts and reach the target through the
    # initial load (``otter-run load --chunk-rows N``), while the later transactions run on the source
    load_chunk_rows: int = 0
    # the load's last statement carries its COMMIT (MariaDB; False: the COMMIT alone, as on MySQL)
    one_trip_commit: bool = True
    # a load's statements in one multi-statement query (otter_mysql.multi_statement; False: one by one)
    multi_statement: bool = True
    # the initial load's bulk path (snapshot_bulk; False: OTTER_SNAPSHOT_BULK=0, every chunk row by row)
    bulk_load: bool = True
    # the selector process packs runs of raw transactions into one blob for its pipe (_native/handover.c;
    # False: OTTER_HANDOVER_PACK=0, each transaction as plain tuples, as before stop 31)
    packed_handover: bool = True
    # the selector process's compiled binlog loop packs plain transactions as it reads them
    # (_native/scanrun.c; False: OTTER_SCAN_RUNS=0, the hand-over packs them from their tuples, as in stop 31)
    scan_runs: bool = True
    # the example's tables, each with every column type and its own workload (transactions span them):
    # with several, an initial load's batches carry chunks of several tables (SnapshotStore.open_tables)
    tables: tuple[str, ...] = ("t",)

    @property
    def takes_bulk_path(self) -> bool:
        """The initial load's chunks travel as blocks (the extension is needed to read them packed)."""
        return bool(self.load_chunk_rows) and self.bulk_load and not self.pure_python

    def parameters(self) -> dict[str, Any]:
        params: dict[str, Any] = {"sync_mode": self.sync_mode, "select_process": self.select_process}
        if self.binlog_reader != "native":
            params["binlog_reader"] = self.binlog_reader
        if self.chunks == "tiny":
            params.update(batch_size=1, batch_bytes=1024, parallelism=2, load_pool_size=2)
        elif self.chunks == "large":
            params.update(batch_size=100_000, batch_bytes=64 * 1024 * 1024, load_pool_size=1)
        return params

    def target_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"update_join": self.update_join}
        if not self.one_trip_commit:
            opts["one_trip_commit"] = False
        if not self.multi_statement:
            opts["multi_statement"] = False
        if self.chunks == "tiny":
            opts.update(load_chunk_rows=1, load_chunk_bytes=1024)
        elif self.chunks == "large":
            opts.update(load_chunk_rows=100_000, load_chunk_bytes=64 * 1024 * 1024)
        return opts


class OtterProcess:
    """Writes the pipeline's YAML (from the source's current binlog end) and runs it; restartable."""

    def __init__(
        self, path: LoadPath, source: MariaDBServer, target: MariaDBServer, schema: str, workdir: Path
    ):
        self.path, self.source, self.schema, self.workdir = path, source, schema, Path(workdir)
        file, pos = source.binlog_position()
        doc = yaml.safe_load(
            pipeline_yaml(
                source,
                target,
                [f"{schema}.{table}" for table in path.tables],
                start={"file": file, "pos": pos},
                **path.parameters(),
            )
        )
        doc["sources"]["dst"]["options"] = path.target_options()
        self.config = self.workdir / "pipeline.yaml"
        self.config.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.state_dir = self.workdir / "state"
        self.log_path = self.workdir / "otter-run.log"
        self.position_file = self.state_dir / "test" / "src-to-dst.position.json"
        self.snapshot_file = self.state_dir / "test" / "src-to-dst.snapshot.json"
        self.process: subprocess.Popen | None = None

    def start(self) -> OtterProcess:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "OTTER_PURE_PYTHON_DECODER",
                "OTTER_SNAPSHOT_BULK",
                "OTTER_HANDOVER_PACK",
                "OTTER_SCAN_RUNS",
            )
        }
        if not self.path.bulk_load:
            env["OTTER_SNAPSHOT_BULK"] = "0"
        if not self.path.packed_handover:
            env["OTTER_HANDOVER_PACK"] = "0"
        if not self.path.scan_runs:
            env["OTTER_SCAN_RUNS"] = "0"
        if self.path.pure_python:
            env["OTTER_PURE_PYTHON_DECODER"] = "1"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "otter_core.cli",
                    "--log-level",
                    "INFO" if self.path.takes_bulk_path else "WARNING",  # INFO: the bulk path's line
                    *self.command(),
                    str(self.config),
                    "--state-dir",
                    str(self.state_dir),
                    "--quiet",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def command(self) -> list[str]:
        """``run``, or ``load`` (then replication goes on) on an initial-load path; a restarted ``load``
        resumes the load in progress."""
        if self.path.load_chunk_rows:
            return ["load", "--chunk-rows", str(self.path.load_chunk_rows)]
        return ["run"]

    def load_state(self) -> str | None:
        """The initial load's state (running, done, failed), None before the pipeline adopted it."""
        try:
            return json.loads(self.snapshot_file.read_text()).get("state")
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def wait_loaded(self, timeout: float = 120.0) -> None:
        """Block until the initial load is done (its last chunk acked); raise when it failed or stalls."""
        deadline = time.monotonic() + timeout
        while (state := self.load_state()) != "done":
            if state == "failed" or self.process is None or self.process.poll() is not None:
                raise AssertionError(f"initial load {state} ({self.path.name}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"initial load not done after {timeout}s ({self.path.name}):\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM (drain, ack), SIGKILL after 60 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def rollbacks(self) -> int:
        """How many times the pipeline rolled back to its acked position after a failure (log lines)."""
        try:
            return self.log_path.read_text(errors="replace").count("rolled back to")
        except FileNotFoundError:
            return 0

    def acked(self) -> tuple[str, int] | None:
        try:
            position = json.loads(self.position_file.read_text())["position"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return None
        return position.get("file"), int(position.get("pos") or 0)

    def wait_caught_up(self, timeout: float = 120.0, allowed_rollbacks: int = 1) -> None:
        """Write a fence row on the source and block until the acked position reaches the source's binlog
        end (the fence's transaction, so there is always one to ack); raise with the log's tail when
        the process ended, the pipeline rolled back more than ``allowed_rollbacks`` times since the call
        (a load error that repeats: retrying forever would only hide it) or ``timeout`` passed."""
        before = self.rollbacks()
        self.source.execute(f"INSERT INTO `{self.schema}`.`fence` () VALUES ()")
        end = self.source.binlog_position()
        deadline = time.monotonic() + timeout
        while True:
            acked = self.acked()
            if acked is not None and (acked >= end or only_bookkeeping_after(self.source, acked, end)):
                return  # a Binlog_checkpoint after a rotation follows the fence: nothing to ack there
            if self.process is None or self.process.poll() is not None:
                raise AssertionError(f"otter-run ended ({self.path.name}):\n{self.log_tail()}")
            if self.rollbacks() - before > allowed_rollbacks:
                raise AssertionError(
                    f"load path {self.path.name}: the pipeline keeps rolling back ({self.rollbacks() - before} "
                    f"times while waiting), "
                    f"acked {acked}, source at {end}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"load path {self.path.name}: not caught up with {end} after {timeout}s (acked {acked}):\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)
