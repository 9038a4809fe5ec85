"""`otter-run run --status-file F`: rows, bytes, I/U/D per table, stage timings and the acked position of
every pipeline, rewritten every second, and the final state when the process stops."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otter_core.control import set_channel_state
from otter_core.status_file import read_status_file
from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.processes import stop_process

pytestmark = pytest.mark.usefixtures("clean_databases")
OTTER_RUN = str(Path(sys.executable).parent / "otter-run")
PAIRS = [{"source": "shop.orders", "target": "shop.orders"}, {"source": "shop.items", "target": "shop.items"}]


def at_least(detail, file, pos):
    """The status's acked position is at or past ``file``:``pos`` (a later write must not hang the wait)."""
    return bool(detail) and (detail.get("file"), detail.get("pos") or 0) >= (file, pos)


def wait_for_status(path, process, predicate, what, timeout=90.0):
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"otter-run ended early: {process.stderr.read()}"
        status = read_status_file(path)
        if status and predicate(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"{what} not in the status file after {timeout}s: {json.dumps(status)[:2000]}")


def start_run(source, target, tmp_path):
    for server in (source, target):
        server.execute(
            "CREATE DATABASE shop",
            "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(200))",
            "CREATE TABLE shop.items (id INT PRIMARY KEY, qty INT)",
        )
    config = tmp_path / "shop.yaml"
    file, pos = source.binlog_position()
    config.write_text(pipeline_yaml(source, target, PAIRS, start={"file": file, "pos": pos}, channel="shop"))
    status_path = tmp_path / "status.json"
    process = subprocess.Popen(
        [
            OTTER_RUN,
            "run",
            str(config),
            "--state-dir",
            str(tmp_path / "state"),
            "--quiet",
            "--status-file",
            str(status_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_status(status_path, process, lambda s: s["pipelines"][0]["state"] == "running", "state running")
    return process, status_path


def test_status_file_counts_rows_bytes_and_iud_per_table_with_stage_timings(
    mariadb_source, mariadb_target, tmp_path
):
    process, status_path = start_run(mariadb_source, mariadb_target, tmp_path)
    try:
        for start in range(0, 300, 100):
            values = ", ".join(f"({i}, 'note {i} {'x' * 50}')" for i in range(start, start + 100))
            mariadb_source.execute(f"INSERT INTO shop.orders VALUES {values}")
        mariadb_source.execute(
            "UPDATE shop.orders SET note = 'changed' WHERE id < 40",
            "DELETE FROM shop.orders WHERE id >= 290",
            "INSERT INTO shop.items VALUES (1, 5), (2, 6)",
        )
        file, pos = mariadb_source.binlog_position()
        status = wait_for_status(
            status_path,
            process,
            lambda s: at_least(s["pipelines"][0]["position_detail"], file, pos),
            "the source's binlog end",
        )
        row = status["pipelines"][0]
        assert row["tables"] == {
            "shop.orders": {"I": 300, "U": 40, "D": 10},
            "shop.items": {"I": 2, "U": 0, "D": 0},
        }
        assert 292 <= row["rows"] <= 352  # rows written: changes of one key in one batch merge into one
        assert row["bytes"] > 300 * 50  # the notes alone
        assert row["batches"] >= 1 and row["position_detail"]["file"] == file
        assert set(row["stage_ms_total"]) == {"select", "extract", "transform", "load"}
        assert all(ms > 0 for ms in row["stage_ms_total"].values()), row["stage_ms_total"]
        assert (
            status["pid"] == process.pid and time.time() - status["updated"] < 10 and status["final"] is False
        )
        first_update = status["updated"]
        later = wait_for_status(status_path, process, lambda s: s["updated"] > first_update, "a rewrite")
        assert later["pipelines"][0]["rows"] == row["rows"]
    finally:
        stop_process(process, signal.SIGTERM, timeout=60)
    final = read_status_file(status_path)
    assert final["final"] is True and final["pipelines"][0]["state"] == "stopped"
    assert mariadb_target.execute("SELECT COUNT(*) FROM shop.orders") == [(290,)]


def test_status_file_follows_pause_and_stop_of_the_channel(mariadb_source, mariadb_target, tmp_path):
    process, status_path = start_run(mariadb_source, mariadb_target, tmp_path)
    try:
        set_channel_state(tmp_path / "state", "shop", "PAUSE")
        wait_for_status(
            status_path, process, lambda s: s["pipelines"][0]["state"] == "paused", "state paused"
        )
        set_channel_state(tmp_path / "state", "shop", "STOP")
        assert process.wait(timeout=60) == 0
    finally:
        stop_process(process, signal.SIGTERM, timeout=60)
    final = read_status_file(status_path)
    assert final["final"] is True and final["pipelines"][0]["state"] == "stopped"
