"""LocalRuntime: channels run as detached `otter-run run` processes; start, pause, stop, re-attach after a
manager restart, a killed process seen as DEAD, and positions reset by file+pos, GTID and time replay rows."""

import os
import signal
import subprocess
import sys
import time

import pytest

from otter_core.config import load_config_text
from otter_core.testing.harness import pipeline_yaml
from otter_manager.ops.errors import ChannelConflict, UnknownChannel
from otter_manager.ops.positions import InvalidReset, requested_position
from otter_manager.ops.runtime import LocalRuntime, _alive, _proc_stat, _start_ticks

pytestmark = pytest.mark.usefixtures("clean_databases")
PAIRS = [{"source": "shop.orders", "target": "shop.orders"}]


def wait_until(predicate, what, timeout=90.0, runtime=None, channel="shop"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    log = runtime.log_tail(channel) if runtime else ""
    raise AssertionError(f"{what} not reached after {timeout}s; log: {log}")


def count(server):
    return server.execute("SELECT COUNT(*) FROM shop.orders")[0][0]


def insert(server, ids):
    server.execute("INSERT INTO shop.orders VALUES " + ", ".join(f"({i}, 'n{i}')" for i in ids))


@pytest.fixture
def shop(mariadb_source, mariadb_target):
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    file, pos = mariadb_source.binlog_position()
    return pipeline_yaml(
        mariadb_source, mariadb_target, PAIRS, start={"file": file, "pos": pos}, channel="shop"
    )


@pytest.fixture
def runtime(tmp_path):
    runtime = LocalRuntime(tmp_path / "runs")
    yield runtime
    for channel in runtime.channels():
        if runtime.pid(channel) is not None:
            runtime.stop(channel, timeout=30)


def test_started_channel_runs_detached_and_rows_flow(runtime, shop, mariadb_source, mariadb_target):
    status = runtime.start("shop", shop)
    assert status["state"] == "RUNNING" and status["pid"] is not None
    assert os.getsid(status["pid"]) == status["pid"]  # its own session: survives the manager
    insert(mariadb_source, range(1, 101))
    wait_until(lambda: count(mariadb_target) == 100, "100 rows on the target", runtime=runtime)
    wait_until(
        lambda: sum(p["rows"] for p in runtime.channel_status("shop")["pipelines"]) == 100,
        "status file figures",
        runtime=runtime,
    )
    row = runtime.channel_status("shop")["pipelines"][0]
    assert row["tables"] == {"shop.orders": {"I": 100, "U": 0, "D": 0}} and row["position_detail"]["file"]


def test_pause_holds_rows_back_until_the_channel_starts_again(runtime, shop, mariadb_source, mariadb_target):
    runtime.start("shop", shop)
    wait_until(lambda: runtime.channel_status("shop")["pipelines"], "a status file", runtime=runtime)
    assert runtime.pause("shop")["state"] == "PAUSED"
    wait_until(
        lambda: runtime.channel_status("shop")["pipelines"][0]["state"] == "paused",
        "pipeline paused",
        runtime=runtime,
    )
    insert(mariadb_source, range(1, 11))
    time.sleep(3)
    assert count(mariadb_target) == 0
    pid = runtime.pid("shop")
    assert runtime.start("shop", shop)["pid"] == pid  # resumed, not a second process
    wait_until(lambda: count(mariadb_target) == 10, "rows after resume", runtime=runtime)


def test_stop_ends_the_process_and_pause_of_a_stopped_channel_is_refused(runtime, shop):
    pid = runtime.start("shop", shop)["pid"]
    wait_until(lambda: runtime.channel_status("shop")["pipelines"], "a status file", runtime=runtime)
    status = runtime.stop("shop")
    assert status["state"] == "STOPPED" and status["pid"] is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert runtime.channel_status("shop")["pipelines"][0]["state"] == "stopped"
    with pytest.raises(ChannelConflict, match="'shop' is not running"):
        runtime.pause("shop")
    with pytest.raises(UnknownChannel, match="'nope' was never started"):
        runtime.channel_status("nope")


def test_a_new_manager_reattaches_to_the_running_process(runtime, shop, mariadb_source, mariadb_target):
    pid = runtime.start("shop", shop)["pid"]
    again = LocalRuntime(runtime.root)  # what a restarted manager builds
    assert again.channels() == ["shop"]
    assert again.channel_status("shop")["state"] == "RUNNING" and again.pid("shop") == pid
    insert(mariadb_source, range(1, 6))
    wait_until(lambda: count(mariadb_target) == 5, "rows", runtime=runtime)
    assert again.stop("shop")["state"] == "STOPPED"
    assert runtime.pid("shop") is None


def test_a_killed_process_is_dead_not_stopped(runtime, shop):
    pid = runtime.start("shop", shop)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: runtime.channel_status("shop")["state"] == "DEAD", "state DEAD", runtime=runtime)
    assert runtime.start("shop", shop)["state"] == "RUNNING"  # a start runs it again


def replay_setup(runtime, shop, source, target):
    """Rows 1-10 synced, the channel stopped, the target emptied: a reset decides what comes back."""
    runtime.start("shop", shop)
    insert(source, range(1, 6))
    marks = {"gtid": source.execute("SELECT @@gtid_binlog_pos")[0][0], "file_pos": source.binlog_position()}
    time.sleep(2.2)
    marks["time"] = time.time()
    time.sleep(1.2)
    insert(source, range(6, 11))
    wait_until(lambda: count(target) == 10, "10 rows", runtime=runtime)
    with pytest.raises(ChannelConflict, match="stop it before resetting"):
        runtime.reset_position("shop", "src-to-dst", requested_position({"gtid": marks["gtid"]}, None))
    runtime.stop("shop")
    target.execute("DELETE FROM shop.orders")
    return marks


def test_reset_by_file_and_pos_replays_from_there(runtime, shop, mariadb_source, mariadb_target):
    marks = replay_setup(runtime, shop, mariadb_source, mariadb_target)
    file, pos = marks["file_pos"]
    runtime.reset_position("shop", "src-to-dst", requested_position({"file": file, "pos": pos}, None))
    runtime.start("shop", shop)
    wait_until(lambda: count(mariadb_target) == 5, "rows 6-10 again", runtime=runtime)
    time.sleep(1)
    assert [r[0] for r in mariadb_target.execute("SELECT id FROM shop.orders ORDER BY id")] == list(
        range(6, 11)
    )


def test_reset_by_gtid_replays_the_transactions_after_it(runtime, shop, mariadb_source, mariadb_target):
    marks = replay_setup(runtime, shop, mariadb_source, mariadb_target)
    runtime.reset_position("shop", "src-to-dst", requested_position({"gtid": marks["gtid"]}, None))
    assert runtime.position("shop", "src-to-dst").gtid == marks["gtid"]
    runtime.start("shop", shop)
    wait_until(lambda: count(mariadb_target) == 5, "rows 6-10 again", runtime=runtime)
    assert [r[0] for r in mariadb_target.execute("SELECT id FROM shop.orders ORDER BY id")] == list(
        range(6, 11)
    )


def test_reset_by_time_replays_what_was_committed_after_it(runtime, shop, mariadb_source, mariadb_target):
    marks = replay_setup(runtime, shop, mariadb_source, mariadb_target)
    source = load_config_text(shop).sources["src"]
    position = requested_position({"time": marks["time"]}, source)
    assert (position.file, position.pos) == tuple(marks["file_pos"])  # the start of rows 6-10's transaction
    runtime.reset_position("shop", "src-to-dst", position)
    runtime.start("shop", shop)
    wait_until(lambda: count(mariadb_target) == 5, "rows 6-10 again", runtime=runtime)
    assert [r[0] for r in mariadb_target.execute("SELECT id FROM shop.orders ORDER BY id")] == list(
        range(6, 11)
    )


def test_a_time_after_the_last_transaction_maps_to_the_binlog_end(shop, mariadb_source):
    insert(mariadb_source, range(1, 4))
    source = load_config_text(shop).sources["src"]
    assert requested_position({"time": time.time() + 3600}, source).pos == mariadb_source.binlog_position()[1]
    oldest = requested_position(
        {"time": "2001-01-01T00:00:00"}, source
    )  # before it all: the first transaction
    assert oldest.file == mariadb_source.execute("SHOW BINARY LOGS")[0][0] and oldest.timestamp > 0


@pytest.mark.parametrize(
    "request_body, field",
    [
        ({}, "position"),
        ({"file": "mysql-bin.000001", "gtid": "0-1-1"}, "position"),
        ({"file": "../../etc/passwd", "pos": 4}, "file"),
        ({"file": "mysql-bin.000001", "pos": 2}, "pos"),
        ({"file": "mysql-bin.000001", "pos": "12"}, "pos"),
        ({"gtid": "0-1"}, "gtid"),
        ({"time": "yesterday"}, "time"),
        ({"time": 1700000000}, "time"),  # no source given: time needs a mysql source
    ],
)
def test_bad_reset_requests_name_the_field(request_body, field):
    with pytest.raises(InvalidReset) as caught:
        requested_position(request_body, None)
    assert caught.value.field == field


# the main thread ends first (pthread_exit); another thread ends the process after `argv[1]` seconds
MAIN_THREAD_ENDS_FIRST = """
import ctypes, os, sys, threading, time
threading.Thread(target=lambda: (time.sleep(float(sys.argv[1])), os._exit(0))).start()
print("ready", flush=True)
ctypes.CDLL(None).pthread_exit(None)
"""


def test_a_process_whose_main_thread_ended_is_alive_until_its_last_thread_ends():
    """CI saw a stop reported done while the process still ran: its leader thread was a zombie already."""
    child = subprocess.Popen(
        [sys.executable, "-c", MAIN_THREAD_ENDS_FIRST, "1.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        ticks = _start_ticks(child.pid)
        assert child.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 10
        while _proc_stat(child.pid)[0] != "Z":  # the leader ended; its other thread sleeps
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert _alive(child.pid, ticks)
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # every thread ended, not reaped yet
        assert not _alive(child.pid, ticks)
    finally:
        child.kill()
        child.wait()


def test_the_run_folder_its_config_and_its_log_are_private(runtime, shop):
    """The channel's YAML holds the sources' passwords and its log what failing connections printed."""
    old = os.umask(0o022)
    try:
        runtime.start("shop", shop)
    finally:
        os.umask(old)
    wait_until(lambda: runtime.channel_status("shop")["pipelines"], "a status file", runtime=runtime)
    runtime.stop("shop")
    folder = runtime.channel_dir("shop")
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (runtime.root, folder, folder / "run.log")}
    assert modes == {runtime.root.name: "0o700", folder.name: "0o700", "run.log": "0o600"}
    assert oct(runtime.config_path("shop").stat().st_mode & 0o777) == "0o600"
