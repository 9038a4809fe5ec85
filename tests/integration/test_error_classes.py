"""Deterministic errors stop the pipeline at once with table, key and binlog position; a target that is
down is retried with the state ``retrying`` and a lag that grows, and the pipeline catches up with
nothing lost once it is back (issue 18, items 1 and 5)."""

import time

import pytest

from otter_core.config import load_config_text
from otter_core.progress import format_status
from otter_core.runner import Runner
from otter_core.status_file import read_status_file, write_status_file
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLE = "CREATE TABLE shop.t (id INT PRIMARY KEY, amount INT)"


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def make_tables(source, target, target_table=TABLE):
    source.execute("CREATE DATABASE shop", TABLE)
    target.execute("CREATE DATABASE shop", target_table)


def wait_for(condition, runner, timeout=90.0):
    deadline = time.monotonic() + timeout
    while not condition(runner.status()[0]):
        assert time.monotonic() < deadline, f"condition not met after {timeout}s: {runner.status()}"
        time.sleep(0.1)
    return runner.status()[0]


def test_a_row_the_target_refuses_stops_at_once_and_loses_nothing(mariadb_source, mariadb_target, tmp_path):
    make_tables(
        mariadb_source,
        mariadb_target,
        "CREATE TABLE shop.t (id INT PRIMARY KEY, amount INT CHECK (amount < 100))",
    )
    state = str(tmp_path / "state")
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    runner = Runner(load_config_text(text), state).start()
    try:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 500)")
        assert runner.join(90), f"the pipeline retried a refused row instead of stopping: {runner.status()}"
        [(_, error)] = runner.failures()
        status = runner.status()[0]
    finally:
        runner.stop()
        runner.join(10)
    message = str(error)
    assert "(4025)" in message and "`shop`.`t`" in message and "id=1" in message  # error, table, key
    assert "binlog mysql-bin." in message and "acked position" in message  # where it is in the binlog
    assert status["state"] == "failed" and status["error_class"] == "deterministic"
    assert status["restarts"] == 0 and status["error"] == message  # not retried; the alarm rules read it
    assert "failed" in format_status(status) and "deterministic error" in format_status(status)
    assert mariadb_target.execute("SELECT COUNT(*) FROM shop.t") == [(0,)]
    mariadb_target.execute("ALTER TABLE shop.t MODIFY amount INT")  # the operator fixes the target...
    with running(text, state) as again:  # ...and starts the pipeline again: it resumes at the acked position
        wait_caught_up(again, mariadb_source, timeout=90)
    assert mariadb_target.execute("SELECT id, amount FROM shop.t") == [(1, 500)]


def test_a_target_that_is_down_shows_retrying_with_a_growing_lag_then_catches_up(
    mariadb_source, mariadb_target, tmp_path
):
    make_tables(mariadb_source, mariadb_target)
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    status_file = tmp_path / "status.json"
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 1)")
        wait_caught_up(runner, mariadb_source)
        mariadb_target.stop()
        try:
            for i in range(2, 52):
                mariadb_source.execute(f"INSERT INTO shop.t VALUES ({i}, {i})")
            first = wait_for(lambda s: s["state"] == "retrying", runner)
            time.sleep(2.5)
            later = wait_for(lambda s: s["state"] == "retrying", runner)
            assert (
                first["lag_s"] > 0 and later["lag_s"] >= first["lag_s"] + 2.0
            )  # from the oldest unapplied row
            assert (
                later["error_class"] == "transient" and later["attempt"] >= 1 and later["next_try_time"] > 0
            )
            assert later["rows_per_s"] == 0.0 or later["rows"] == first["rows"]
            write_status_file(status_file, runner.status())  # what --status-file and the manager read
            [written] = read_status_file(status_file)["pipelines"]
            assert written["state"] == "retrying" and written["lag_s"] >= 2.0
            assert "retrying (retry " in format_status(written)
        finally:
            mariadb_target.start()
        wait_caught_up(runner, mariadb_source, timeout=120)
        status = wait_for(lambda s: s["state"] == "running", runner)
        assert runner.failures() == [] and status["attempt"] == 0
    assert mariadb_target.execute("SELECT COUNT(*), SUM(amount) FROM shop.t") == [(51, sum(range(1, 52)))]


def test_skip_load_exception_rejects_nothing_while_the_target_is_down(
    mariadb_source, mariadb_target, tmp_path
):
    """A lost connection says nothing about the rows: they are retried, not written to the reject log
    (before, every row of a batch loaded while the target was down went to the reject log: lost)."""
    make_tables(mariadb_source, mariadb_target)
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source), skip_load_exception=True
    )
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 1)")
        wait_caught_up(runner, mariadb_source)
        mariadb_target.stop()
        try:
            mariadb_source.execute(
                "INSERT INTO shop.t VALUES (2, 2), (3, 3)", "INSERT INTO shop.t VALUES (4, 4)"
            )
            wait_for(lambda s: s["restarts"] >= 2 or s["batches"] > 1, runner)  # retried, or acked
        finally:
            mariadb_target.start()
        wait_caught_up(runner, mariadb_source, timeout=120)
        assert runner.pipelines[0].rejects.read() == []
    assert mariadb_target.execute("SELECT id FROM shop.t ORDER BY id") == [(1,), (2,), (3,), (4,)]


def test_a_load_that_hangs_shows_stalled_with_a_growing_lag(mariadb_source, mariadb_target, tmp_path):
    """A target row locked by someone else holds the load (no error yet): after stall_timeout_ms the
    state says stalled and the lag grows; once the lock is released the row arrives."""
    make_tables(mariadb_source, mariadb_target)
    mariadb_target.execute("INSERT INTO shop.t VALUES (1, 0)")
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source), stall_timeout_ms=1000
    )
    holder = mariadb_target.connect(autocommit=False)
    try:
        with running(text, str(tmp_path / "state")) as runner:
            with holder.cursor() as cur:
                cur.execute("SELECT * FROM shop.t WHERE id = 1 FOR UPDATE")  # held until rollback
            mariadb_source.execute("INSERT INTO shop.t VALUES (1, 1)")
            first = wait_for(lambda s: s["state"] == "stalled", runner)
            time.sleep(1.5)
            later = runner.status()[0]
            assert later["state"] == "stalled" and later["lag_s"] >= first["lag_s"] + 1.0
            holder.rollback()
            wait_caught_up(runner, mariadb_source)
            assert wait_for(lambda s: s["state"] == "running", runner)["rows"] == 1
    finally:
        holder.close()
    assert mariadb_target.execute("SELECT * FROM shop.t") == [(1, 1)]
