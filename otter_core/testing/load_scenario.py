"""The initial load's proof, end to end: a source of N rows over four tables under continuous writes is
loaded online by ``otter-run load`` (killed with SIGKILL twice on the way and restarted), replicated
incrementally, verified equal while writes go on, then corrupted on the target on purpose; ``otter-run
verify --repair`` must find and fix exactly those rows.

Used by ``tests/faults/test_load_kill9.py`` (100k rows) and ``bench/load_verify.py`` (1M rows); every
step runs the real ``otter-run`` commands as subprocesses against real MariaDB servers.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from otter_core.engine.snapshot_state import read_state
from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.mariadb import MariaDBServer

SCHEMA = "loadtest"
TABLES = {  # name: (DDL, share of the rows, INSERT … SELECT over the sequence table)
    "orders": (
        "CREATE TABLE {s}.orders (id INT PRIMARY KEY, customer INT, amount DECIMAL(12,2), status VARCHAR(12), "
        "created DATETIME(3), note VARCHAR(64))",
        0.4,
        "INSERT INTO {s}.orders SELECT seq, seq % 9973, seq / 7, ELT(1 + seq % 3, 'new', 'paid', 'sent'), "
        "'2024-01-01' + INTERVAL seq SECOND, CONCAT('order note ', seq) FROM {s}.seq_1_to_{n}",
    ),
    "lines": (
        "CREATE TABLE {s}.lines (order_id INT, line SMALLINT, sku VARCHAR(16), qty INT, price DECIMAL(10,2), "
        "PRIMARY KEY (order_id, line))",
        0.3,
        "INSERT INTO {s}.lines SELECT seq DIV 4, seq % 4, CONCAT('sku-', seq % 5000), seq % 17, seq % 1000 / 4 "
        "FROM {s}.seq_4_to_{n3}",
    ),
    "events": (
        "CREATE TABLE {s}.events (id BIGINT UNSIGNED PRIMARY KEY, kind ENUM('a','b','c'), payload TEXT, "
        "at TIMESTAMP(6) NULL)",
        0.2,
        "INSERT INTO {s}.events SELECT seq * 10, ELT(1 + seq % 3, 'a', 'b', 'c'), REPEAT('p', seq % 50), "
        "'2024-02-01' + INTERVAL seq SECOND FROM {s}.seq_1_to_{n}",
    ),
    "tags": (
        "CREATE TABLE {s}.tags (name VARCHAR(32) PRIMARY KEY, weight INT, raw VARBINARY(16))",
        0.1,
        "INSERT INTO {s}.tags SELECT CONCAT('tag-', seq), seq, UNHEX(MD5(seq)) FROM {s}.seq_1_to_{n}",
    ),
}


def create_tables(source: MariaDBServer, target: MariaDBServer, rows: int) -> dict[str, int]:
    """The four tables on both servers, filled on the source only; returns rows per table."""
    for server in (source, target):
        server.execute(
            f"DROP DATABASE IF EXISTS {SCHEMA}",
            f"CREATE DATABASE {SCHEMA}",
            *(ddl.format(s=SCHEMA) for ddl, _, _ in TABLES.values()),
        )
    counts = {}
    for name, (_, share, fill) in TABLES.items():
        n = max(1, int(rows * share))
        source.execute(fill.format(s=SCHEMA, n=n, n3=n + 3))
        counts[name] = source.execute(f"SELECT COUNT(*) FROM {SCHEMA}.{name}")[0][0]
    return counts


class Writer(threading.Thread):
    """Continuous inserts, updates, deletes and key changes over every table until ``stop()``."""

    def __init__(self, server: MariaDBServer, rows: int, seed: int = 8) -> None:
        super().__init__(name="load-writer", daemon=True)
        self.server, self.rows, self.rng = server, rows, random.Random(seed)
        self._halt = threading.Event()
        self.transactions = 0
        self.error: BaseException | None = None

    def stop(self) -> None:
        self._halt.set()
        self.join(60)
        if self.error is not None:
            raise self.error

    def run(self) -> None:
        try:
            conn = self.server.connect(autocommit=False)
            with conn.cursor() as cur:
                while not self._halt.is_set():
                    for _ in range(self.rng.randint(1, 4)):
                        self._change(cur)
                    conn.commit()
                    self.transactions += 1
                    time.sleep(0.003)
            conn.close()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def _change(self, cur: Any) -> None:
        rng, n, s = self.rng, self.rows, SCHEMA
        i = rng.randint(1, int(n * 0.4) + 100)
        op = rng.random()
        if op < 0.3:
            cur.execute(
                f"REPLACE INTO {s}.orders VALUES (%s, %s, %s, 'w', NOW(3), %s)", (i, i % 7, i % 500, f"w{i}")
            )
        elif op < 0.5:
            cur.execute(
                f"UPDATE {s}.lines SET qty = qty + 1, price = price + 1 WHERE order_id = %s", (i // 2,)
            )
        elif op < 0.65:
            cur.execute(
                f"UPDATE {s}.events SET payload = CONCAT('u', %s), at = NOW(6) WHERE id = %s", (i, i * 10)
            )
        elif op < 0.75:
            cur.execute(
                f"INSERT INTO {s}.tags VALUES (%s, 1, %s) ON DUPLICATE KEY UPDATE weight = weight + 1",
                (f"tag-{i % (n // 10 + 50)}", bytes([i % 256]) * 3),
            )
        elif op < 0.9:
            cur.execute(f"DELETE FROM {s}.orders WHERE id = %s", (i,))
            cur.execute(f"DELETE FROM {s}.lines WHERE order_id = %s AND line = 2", (i // 2,))
        else:
            cur.execute(f"UPDATE IGNORE {s}.events SET id = id + 1 WHERE id = %s", (i * 10,))


class LoadScenario:
    """Runs the steps; ``results`` collects the figures and counts to print or assert."""

    def __init__(
        self,
        source: MariaDBServer,
        target: MariaDBServer,
        workdir: Path,
        rows: int,
        chunk_rows: int = 5000,
        log: Callable[[str], None] = print,
    ) -> None:
        self.source, self.target, self.workdir = source, target, Path(workdir)
        self.rows, self.chunk_rows, self.log = rows, chunk_rows, log
        self.config = self.workdir / "load.yaml"
        self.state_dir = self.workdir / "state"
        self.results: dict[str, Any] = {"rows": rows}
        self._runner_log = open(self.workdir / "otter-run.log", "ab")

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "otter_core.cli", "--log-level", "WARNING", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start_load(self) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "otter_core.cli",
                "load",
                str(self.config),
                "--state-dir",
                str(self.state_dir),
                "--quiet",
                "--chunk-rows",
                str(self.chunk_rows),
            ],
            stdout=self._runner_log,
            stderr=subprocess.STDOUT,
        )

    def state(self) -> dict:
        return read_state(self.state_dir, "load", "src-to-dst") or {}

    def confirmed_rows(self) -> int:
        return sum(v["rows"] for v in self.state().get("confirmed", {}).values())

    def run(self, kills_at: tuple[float, ...] = (0.25, 0.6)) -> dict[str, Any]:
        counts = create_tables(self.source, self.target, self.rows)
        self.results["tables"] = counts
        total = sum(counts.values())
        doc = yaml.safe_load(
            pipeline_yaml(
                self.source,
                self.target,
                [{"source": f"{SCHEMA}.*", "target": f"{SCHEMA}.*"}],
                channel="load",
                batch_size=5000,
                parallelism=4,
                load_pool_size=4,
            )
        )
        self.config.write_text(yaml.safe_dump(doc))
        writer = Writer(self.source, self.rows)
        writer.start()
        started = time.monotonic()
        proc = self.start_load()
        try:
            proc = self._kill_during_load(proc, total, kills_at)
            self._wait(lambda: self.state().get("state") == "done", 1800, proc, "the load to finish")
            self.results["load_seconds"] = round(time.monotonic() - started, 1)
            state = self.state()
            self.results.update(
                load_state=state["state"],
                chunks=state.get("chunks"),
                resumes=state.get("resumes", []),
                load_rows=sum(v["rows"] for v in state["confirmed"].values()),
            )
            time.sleep(2)  # incremental replication goes on after the load
            self.results["verify_live"] = self.verify()  # while the writer still writes
            writer.stop()
            self.results["writer_transactions"] = writer.transactions
            self._wait(self.caught_up, 600, proc, "the pipeline to catch up")
            self.results["verify_after_load"] = self.verify()
            self.results["corrupted"] = self.corrupt()
            self.results["verify_corrupt"] = self.verify()
            self.results["verify_repair"] = self.verify("--repair")
            self.results["verify_final"] = self.verify()
        finally:
            writer._halt.set()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(120)
            self._runner_log.close()
        self.results["runner_exit"] = proc.returncode
        return self.results

    def _kill_during_load(
        self, proc: subprocess.Popen, total: int, kills_at: tuple[float, ...]
    ) -> subprocess.Popen:
        """SIGKILL the load once per fraction of ``kills_at`` (of the rows emitted) and restart it."""
        kills: list[int] = []
        kill_times: list[float] = []
        for fraction in kills_at:
            verdicts: list[str] = []

            def decided(verdicts: list[str] = verdicts, fraction: float = fraction) -> bool:
                verdicts.append(self._kill_point(fraction, kill_times[-1] if kill_times else None, total))
                return verdicts[-1] != "wait"

            # the state file changes with every chunk emitted; a restarted run can go from the last kill to
            # past the last point worth a kill within a tenth of a second (100k rows, chunks read in C), so
            # the kill point is looked for every 10 ms (a 0.1 s look missed it in a clean-clone CI run)
            self._wait(decided, 1800, proc, f"{fraction:.0%} of the load", interval=0.01)
            if verdicts[-1] == "late":
                break  # the load ran past the last point where a kill leaves it work to resume
            proc.send_signal(signal.SIGKILL)
            proc.wait(60)
            kill_times.append(time.time())
            kills.append(self.confirmed_rows())
            self.log(f"kill -9 at {kills[-1]} confirmed rows of {total}; restarting otter-run load")
            proc = self.start_load()
        self.results["killed_at_rows"], self.results["killed_at_times"] = kills, kill_times
        return proc

    def _kill_point(self, fraction: float, last_kill: float | None, total: int) -> str:
        """ "kill", "wait" or "late". A kill must leave the restarted run something to resume: the run
        restarted after ``last_kill`` recorded its resume (it is not killed before it resumed), a chunk is
        confirmed (otherwise the restart starts over) and three chunks are still to be emitted (otherwise
        the restart finds every chunk acked and has nothing to resume). A restarted run can emit the
        window's worth of chunks before its first ack: waiting for an ack of its own as well often left
        no point before the end for the second kill once chunks were read in C."""
        state = self.state()
        confirmed = sum(v["rows"] for v in state.get("confirmed", {}).values())
        emitted = confirmed + sum(c["rows"] for c in state.get("pending", []))
        if state.get("state") == "done" or emitted > total - 3 * self.chunk_rows:
            return "late"
        resumed = last_kill is None or any(r["at"] > last_kill for r in state.get("resumes", []))
        if resumed and confirmed > 0 and emitted >= fraction * total:
            return "kill"
        return "wait"

    def _wait(
        self,
        condition: Callable[[], bool],
        timeout: float,
        proc: subprocess.Popen,
        what: str,
        interval: float = 0.1,
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if proc.poll() is not None:
                tail = (self.workdir / "otter-run.log").read_text(errors="replace")[-3000:]
                raise AssertionError(
                    f"otter-run load exited ({proc.returncode}) while waiting for {what}:\n{tail}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.state()}")
            time.sleep(interval)

    def caught_up(self) -> bool:
        path = self.state_dir / "load" / "src-to-dst.position.json"
        if not path.exists():
            return False
        acked = json.loads(path.read_text())["position"]
        file, pos = self.source.binlog_position()
        return (acked["file"], acked["pos"]) >= (file, pos)

    def verify(self, *extra: str) -> dict[str, Any]:
        done = self.cli("verify", str(self.config), "--state-dir", str(self.state_dir), "--json", *extra)
        if not done.stdout.strip():
            raise AssertionError(f"verify printed nothing (exit {done.returncode}): {done.stderr[-3000:]}")
        report = json.loads(done.stdout)
        summary = report["summary"]
        per_table = {
            t["target"].split(":", 1)[1]: {k: t["found"][k] for k in ("missing", "extra", "different")}
            for t in report["tables"]
        }
        self.log(f"verify {' '.join(extra)}: exit {done.returncode}, {summary}")
        return {"exit": done.returncode, **summary, "tables": per_table}

    def corrupt(self) -> dict[str, int]:
        """7 changed rows, 5 deleted rows and 3 extra rows on the target, over all four tables."""
        t, s = self.target, SCHEMA
        orders = [r[0] for r in t.execute(f"SELECT id FROM {s}.orders ORDER BY id LIMIT 4 OFFSET 100")]
        lines = t.execute(f"SELECT order_id, line FROM {s}.lines ORDER BY order_id, line LIMIT 3 OFFSET 500")
        events = [r[0] for r in t.execute(f"SELECT id FROM {s}.events ORDER BY id DESC LIMIT 3 OFFSET 10")]
        tags = [r[0] for r in t.execute(f"SELECT name FROM {s}.tags ORDER BY name LIMIT 2 OFFSET 7")]
        conn = t.connect()
        with conn.cursor() as cur:
            cur.executemany(f"UPDATE {s}.orders SET note = 'corrupted' WHERE id = %s", [(o,) for o in orders])
            cur.executemany(f"UPDATE {s}.lines SET qty = qty + 1000 WHERE order_id = %s AND line = %s", lines)
            cur.executemany(f"DELETE FROM {s}.events WHERE id = %s", [(e,) for e in events])
            cur.executemany(f"DELETE FROM {s}.tags WHERE name = %s", [(g,) for g in tags])
            cur.executemany(
                f"INSERT INTO {s}.orders VALUES (%s, 0, 0, 'fake', NOW(3), 'extra')", [(-1,), (-2,), (-3,)]
            )
        conn.close()
        return {"different": len(orders) + len(lines), "missing": len(events) + len(tags), "extra": 3}
