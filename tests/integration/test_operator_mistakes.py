"""What operators do to a running otter-run (QA pass after issue 18): a stop signal sent to the whole
process group (`systemctl stop`, `timeout`), two pipelines of the same name in two channels, a wrong
password. Real MariaDB servers; the CLI runs as a subprocess so signals and process groups are real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.mariadb import MariaDBServer

pytestmark = pytest.mark.usefixtures("clean_databases")


def wait_for(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout}s\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def status(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text())["pipelines"]
    except (OSError, ValueError):  # not written yet
        return []


def start_cli(tmp_path: Path, yaml_text: str) -> tuple[subprocess.Popen, Path, Path]:
    """``otter-run run`` in a session (process group) of its own, with a status file and a log."""
    config, log, status_file = tmp_path / "p.yaml", tmp_path / "log", tmp_path / "status.json"
    config.write_text(yaml_text)
    args = ["run", str(config), "--state-dir", str(tmp_path / "st"), "--status-file", str(status_file)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "otter_core.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, log, status_file


def setup_table(*servers: MariaDBServer, table: str = "t") -> None:
    for server in servers:
        server.execute(
            "CREATE DATABASE IF NOT EXISTS ops", f"CREATE TABLE ops.{table} (id INT PRIMARY KEY, v INT)"
        )


def test_stop_signal_to_the_process_group_is_a_clean_stop(mariadb_source, mariadb_target, tmp_path):
    """`systemctl stop` and `timeout` send SIGTERM to every process of the group, the selector's child
    process included: the stop is orderly (exit 0, state `stopped`, no error), not a selector that "ended
    unexpectedly" and a rollback logged as an unknown error."""
    setup_table(mariadb_source, mariadb_target)
    proc, log, status_file = start_cli(tmp_path, pipeline_yaml(mariadb_source, mariadb_target, ["ops.t"]))
    try:
        position = tmp_path / "st" / "test" / "src-to-dst.position.json"
        wait_for(position.exists, 90, "the pinned start", log)
        mariadb_source.execute("INSERT INTO ops.t VALUES (1, 1)")
        wait_for(lambda: mariadb_target.execute("SELECT v FROM ops.t") == [(1,)], 90, "the first row", log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=90)
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    assert "ended unexpectedly" not in text and "rolled back" not in text, text[-3000:]
    (final,) = status(status_file)
    assert (final["state"], final["error"]) == ("stopped", ""), final


@pytest.mark.parametrize("side", ["src", "dst"])
def test_wrong_password_stops_at_once(mariadb_source, mariadb_target, tmp_path, side):
    """A wrong password fails the same way on every attempt: the pipeline stops at once with the source
    named and the class `deterministic`, instead of retrying as an unknown error. The target's too is
    found at start, with no row written on the source (the loader used to connect at the first row)."""
    setup_table(mariadb_source, mariadb_target)
    doc = yaml.safe_load(pipeline_yaml(mariadb_source, mariadb_target, ["ops.t"]))
    doc["sources"][side]["password"] = "not-the-password"
    proc, log, status_file = start_cli(tmp_path, yaml.safe_dump(doc))
    try:
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert proc.returncode == 1, text[-3000:]
    (final,) = status(status_file)
    assert (final["state"], final["error_class"], final["restarts"]) == ("failed", "deterministic", 0), final
    assert f"{side} (127.0.0.1:" in final["error"] and "Access denied" in final["error"], final
