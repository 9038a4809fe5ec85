"""kill -9 of the runner at several points of a 100k-row workload loses and duplicates nothing."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from otter_core.testing.harness import pipeline_yaml

pytestmark = pytest.mark.usefixtures("clean_databases")
ROWS = 100_000


def write_workload(server, done: threading.Event, seed: int = 11, total: int = ROWS) -> None:
    """``total`` (100k) inserted rows in transactions of 1..200 rows, with updates and deletes mixed in."""
    rng = random.Random(seed)
    conn = server.connect(autocommit=False)
    written = 0
    with conn.cursor() as cur:
        while written < total:
            n = min(rng.randint(1, 200), total - written)
            rows = [
                (written + i, rng.randint(0, 10**6), f"v{written + i}", "x" * rng.randint(0, 80))
                for i in range(n)
            ]
            cur.executemany("INSERT INTO crash.ledger VALUES (%s, %s, %s, %s)", rows)
            if rng.random() < 0.3 and written:
                low = rng.randint(0, written)
                cur.execute(
                    "UPDATE crash.ledger SET amount = amount + 1 WHERE id BETWEEN %s AND %s", (low, low + 50)
                )
            if rng.random() < 0.1 and written:
                low = rng.randint(0, written)
                cur.execute("DELETE FROM crash.ledger WHERE id BETWEEN %s AND %s", (low, low + 5))
            conn.commit()
            written += n
    conn.close()
    done.set()


def start_runner(config, state_dir, log):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otter_core.cli",
            "run",
            str(config),
            "--state-dir",
            str(state_dir),
            "--quiet",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def target_matches(source, target) -> bool:
    query = "SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS('#', id, amount, label, note))) FROM crash.ledger"
    return source.execute(query) == target.execute(query)


def test_sigkill_at_random_points_loses_nothing(mariadb_source, mariadb_target, tmp_path):
    ddl = [
        "CREATE DATABASE crash",
        "CREATE TABLE crash.ledger (id INT PRIMARY KEY, amount BIGINT, label VARCHAR(20), note VARCHAR(100))",
    ]
    for server in (mariadb_source, mariadb_target):
        server.execute(*ddl)
    file, pos = mariadb_source.binlog_position()
    config = tmp_path / "crash.yaml"
    config.write_text(
        pipeline_yaml(
            mariadb_source,
            mariadb_target,
            ["crash.ledger"],
            start={"file": file, "pos": pos},
            batch_size=2000,
            parallelism=4,
            load_pool_size=3,
        )
    )
    state_dir = tmp_path / "state"
    log = open(tmp_path / "runner.log", "wb")
    done = threading.Event()
    writer = threading.Thread(target=write_workload, args=(mariadb_source, done), daemon=True)
    writer.start()
    rng = random.Random(5)
    kills = 0
    proc = start_runner(config, state_dir, log)
    try:
        while kills < 4:
            time.sleep(rng.uniform(0.7, 2.5))
            assert proc.poll() is None, (tmp_path / "runner.log").read_text()[-3000:]
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            proc = start_runner(config, state_dir, log)
        writer.join(timeout=300)
        assert done.is_set(), "workload did not finish"
        deadline = time.monotonic() + 180
        while not target_matches(mariadb_source, mariadb_target):
            assert proc.poll() is None, (tmp_path / "runner.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "target never caught up after the kills"
            time.sleep(0.5)
        time.sleep(2)  # let the last runner finish starting: SIGTERM is handled once it runs
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        log.close()
    assert proc.returncode == 0, "a SIGTERM must end the runner cleanly"
    key_query = "SELECT id, amount, label, note FROM crash.ledger ORDER BY id"
    assert mariadb_target.execute(key_query) == mariadb_source.execute(key_query)
    assert os.path.exists(state_dir / "test" / "src-to-dst.position.json")
