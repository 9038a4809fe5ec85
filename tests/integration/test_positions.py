"""Positions pinned before anything else (issue 18, items 2 and 6): ``start: current`` resolved once and
saved, the state-directory lock, and ``otter-run position show|set|reset``. Real MariaDB servers; the CLI
runs as a subprocess so that SIGINT, SIGKILL and a second process are the real thing."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otter_core.config import load_config_text
from otter_core.runner import Runner
from otter_core.testing.harness import pipeline_yaml, running
from otter_core.testing.mariadb import MariaDBServer

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLE = "CREATE TABLE pins.t (id INT PRIMARY KEY, v VARCHAR(20))"
POSITION_FILE = Path("test") / "src-to-dst.position.json"


def otter(*args: str, log=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "otter_core.cli", *args],
        stdout=log or subprocess.PIPE,
        stderr=subprocess.STDOUT if log else subprocess.PIPE,
        text=log is None,
    )


def otter_done(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "otter_core.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def wait_for(condition, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"{what} not within {timeout}s\n{tail}")
        time.sleep(0.1)


def setup_tables(*servers: MariaDBServer) -> None:
    for server in servers:
        server.execute("CREATE DATABASE pins", TABLE)


def has_row(server: MariaDBServer, key: int) -> bool:
    return bool(server.execute("SELECT 1 FROM pins.t WHERE id = %s", args=(key,)))


def config_file(tmp_path: Path, source: MariaDBServer, target: MariaDBServer, start="current") -> Path:
    path = tmp_path / "pins.yaml"
    path.write_text(pipeline_yaml(source, target, ["pins.t"], start=start))
    return path


def run_args(config: Path, state: Path) -> list[str]:
    return ["run", str(config), "--state-dir", str(state), "--quiet"]


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    return proc.returncode


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_start_current_is_pinned_before_the_first_row(mariadb_source, mariadb_target, tmp_path, stop_signal):
    """Stopped (Ctrl-C, or kill -9) before any row was loaded, the next run still delivers a row written
    in between: the first run pinned ``start: current`` in the state directory."""
    setup_tables(mariadb_source, mariadb_target)
    config, state, log_path = (
        config_file(tmp_path, mariadb_source, mariadb_target),
        tmp_path / "st",
        tmp_path / "log",
    )
    with open(log_path, "wb") as log:
        first = otter(*run_args(config, state), log=log)
        try:
            wait_for(lambda: (state / POSITION_FILE).exists(), 60, "a pinned start position", log_path)
        finally:
            first.send_signal(stop_signal)
            first.wait(timeout=90)
        if stop_signal == signal.SIGINT:
            assert first.returncode == 0, log_path.read_text()[-3000:]
        pinned = json.loads((state / POSITION_FILE).read_text())
        assert pinned["start"] == {"kind": "current"}
        mariadb_source.execute("INSERT INTO pins.t VALUES (1, 'between runs')")
        second = otter(*run_args(config, state), log=log)
        try:
            wait_for(lambda: has_row(mariadb_target, 1), 90, "the row written between the runs", log_path)
        finally:
            assert stop(second) == 0, log_path.read_text()[-3000:]
    assert mariadb_target.execute("SELECT id, v FROM pins.t") == [(1, "between runs")]


def test_target_down_at_start_loses_no_row(mariadb_source, tmp_path):
    """The target is down when the pipeline starts; a row written then arrives once the target is up: the
    retries resume from the pinned start, never from a fresh ``current``."""
    late = MariaDBServer(tmp_path / "late-target", server_id=918, log_bin=False)
    setup_tables(mariadb_source)
    text = pipeline_yaml(mariadb_source, late, ["pins.t"], start="current", retry_backoff_ms=100)
    state = tmp_path / "st"
    try:
        with running(text, str(state)) as runner:
            pipeline = runner.pipelines[0]
            wait_for(lambda: (state / POSITION_FILE).exists(), 60, "a pinned start position")
            mariadb_source.execute("INSERT INTO pins.t VALUES (7, 'target was down')")
            wait_for(lambda: pipeline.stats.restarts >= 1, 60, "a failed load while the target is down")
            late.start()
            late.execute("CREATE DATABASE pins", TABLE)
            wait_for(lambda: has_row(late, 7), 120, f"the row on the late target ({runner.status()})")
        assert late.execute("SELECT id, v FROM pins.t") == [(7, "target was down")]
    finally:
        late.destroy()


def test_second_runner_on_a_state_directory_is_refused(mariadb_source, mariadb_target, tmp_path):
    setup_tables(mariadb_source, mariadb_target)
    config, state, log_path = (
        config_file(tmp_path, mariadb_source, mariadb_target),
        tmp_path / "st",
        tmp_path / "log",
    )
    with open(log_path, "wb") as log:
        status = tmp_path / "status.json"
        first = otter(*run_args(config, state), "--status-file", str(status), log=log)
        try:
            wait_for(status.exists, 60, "the first runner's status file", log_path)
            try:
                second = otter_done(*run_args(config, state), timeout=60)
            except subprocess.TimeoutExpired:
                pytest.fail("a second otter-run on the same state directory kept running")
            assert second.returncode != 0
            assert f"is in use by pid {first.pid} (otter-run run)" in second.stderr, second.stderr
            assert first.poll() is None, "the first runner must keep running"
        finally:
            assert stop(first) == 0, log_path.read_text()[-3000:]
    # kill -9 of the holder: the kernel drops the flock, the stale lock file blocks nobody
    from otter_core.state_lock import StateDirLock

    again = otter(*run_args(config, state))
    try:
        wait_for(lambda: StateDirLock(state).in_use() == f"pid {again.pid} (otter-run run)", 60, "the lock")
    finally:
        again.send_signal(signal.SIGKILL)
        again.wait(timeout=30)
    # a selector child forked at that instant may hold the descriptor until its exec closes it (CLOEXEC)
    wait_for(lambda: StateDirLock(state).in_use() is None, 30, "the lock released after kill -9")
    StateDirLock(state).acquire("test").release()


def test_position_command_show_set_reset(mariadb_source, mariadb_target, tmp_path):
    setup_tables(mariadb_source, mariadb_target)
    before_file, before_pos = mariadb_source.binlog_position()
    mariadb_source.execute("INSERT INTO pins.t VALUES (3, 'before any start')")
    config, state, log_path = (
        config_file(tmp_path, mariadb_source, mariadb_target),
        tmp_path / "st",
        tmp_path / "log",
    )
    base = [str(config), "--state-dir", str(state)]

    shown = otter_done("position", "show", *base)
    assert shown.returncode == 0, shown.stderr
    assert "test/src-to-dst: no saved position; the next start pins start: current" in shown.stdout
    now_file, now_pos = mariadb_source.binlog_position()
    assert f"source src is now at {now_file}:{now_pos}" in shown.stdout

    with open(log_path, "wb") as log:
        first = otter(*run_args(config, state), log=log)
        try:
            wait_for(lambda: (state / POSITION_FILE).exists(), 60, "a pinned start position", log_path)
            refused = otter_done("position", "set", *base, "--file", before_file, "--pos", str(before_pos))
            assert refused.returncode == 3, refused.stderr
            assert f"refused: state directory {state} is in use by pid {first.pid}" in refused.stderr
            assert otter_done("position", "reset", *base).returncode == 3
            shown = otter_done("position", "show", *base)
            assert f"in use by pid {first.pid} (otter-run run)" in shown.stdout
        finally:
            assert stop(first) == 0, log_path.read_text()[-3000:]
        assert not has_row(mariadb_target, 3), "start: current must not deliver a row older than the start"

        shown = otter_done("position", "show", *base)
        assert f"test/src-to-dst: saved {now_file}:{now_pos} (from start: current)" in shown.stdout, (
            shown.stdout
        )

        done = otter_done("position", "set", *base, "--file", before_file, "--pos", str(before_pos))
        assert done.returncode == 0, done.stderr
        assert f"position set to {before_file}:{before_pos}" in done.stdout
        shown = otter_done("position", "show", *base)
        assert f"saved {before_file}:{before_pos} (from otter-run position set --file" in shown.stdout

        second = otter(*run_args(config, state), log=log)
        try:
            wait_for(lambda: has_row(mariadb_target, 3), 90, "the row after the set position", log_path)
        finally:
            assert stop(second) == 0, log_path.read_text()[-3000:]

    done = otter_done("position", "reset", *base)
    assert done.returncode == 0, done.stderr
    assert "saved position" in done.stdout and "removed" in done.stdout
    assert not (state / POSITION_FILE).exists()
    shown = otter_done("position", "show", *base)
    assert "no saved position" in shown.stdout

    bad = otter_done("position", "set", *base, "--gtid", "not-a-gtid")
    assert bad.returncode == 2 and "is not a MariaDB GTID position" in bad.stderr


def test_changed_start_keeps_the_saved_position(mariadb_source, mariadb_target, tmp_path, caplog):
    setup_tables(mariadb_source, mariadb_target)
    state = tmp_path / "st"
    file, pos = mariadb_source.binlog_position()
    first = pipeline_yaml(mariadb_source, mariadb_target, ["pins.t"], start="current")
    with running(first, str(state)):
        wait_for(lambda: (state / POSITION_FILE).exists(), 60, "a pinned start position")
    pinned = json.loads((state / POSITION_FILE).read_text())["position"]
    changed = pipeline_yaml(mariadb_source, mariadb_target, ["pins.t"], start={"file": file, "pos": 4})
    caplog.set_level(logging.INFO, logger="otter.pipeline")
    runner = Runner(load_config_text(changed), str(state)).start()
    try:
        wait_for(lambda: "descends from start: current" in caplog.text, 60, "the kept-position warning")
        assert runner.pipelines[0].arbitrator.acked_position().to_dict() == pinned
    finally:
        runner.stop()
        runner.join(timeout=30)
    assert f"the config says start: {{file: {file}, pos: 4}}" in caplog.text
    assert json.loads((state / POSITION_FILE).read_text())["position"] == pinned


def test_position_set_by_time(mariadb_source, mariadb_target, tmp_path):
    """``--time`` resumes at the first transaction committed at or after it (read from the binlog)."""
    setup_tables(mariadb_source, mariadb_target)
    when = int(time.time()) + 1
    wait_for(lambda: time.time() >= when + 0.1, 5, "the next second")
    mariadb_source.execute("INSERT INTO pins.t VALUES (5, 'after the time')")
    config, state, log_path = (
        config_file(tmp_path, mariadb_source, mariadb_target),
        tmp_path / "st",
        tmp_path / "log",
    )
    done = otter_done("position", "set", str(config), "--state-dir", str(state), "--time", str(when))
    assert done.returncode == 0, done.stderr
    saved = json.loads((state / POSITION_FILE).read_text())
    assert saved["start"]["kind"] == "set" and saved["start"]["request"] == f"--time {when}"
    with open(log_path, "wb") as log:
        runner = otter(*run_args(config, state), log=log)
        try:
            wait_for(lambda: has_row(mariadb_target, 5), 90, "the row committed after the time", log_path)
        finally:
            assert stop(runner) == 0, log_path.read_text()[-3000:]
    assert mariadb_target.execute("SELECT id, v FROM pins.t") == [(5, "after the time")]
