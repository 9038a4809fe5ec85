"""Channel pause/resume, skip policies with the reject log, row filters and dry run, end to end."""

import time

import pytest

from otter_core.control import set_channel_state
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up, wait_paused

pytestmark = pytest.mark.usefixtures("clean_databases")


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def stopped(runner, timeout=90.0):
    """The stats of the runner's pipeline once it stopped by itself (a deterministic error), not retried."""
    assert runner.join(timeout), f"the pipeline did not stop by itself: {runner.status()}"
    stats = runner.pipelines[0].stats
    assert stats.state == "failed" and stats.restarts == 0 and stats.last_error_class == "deterministic"
    return stats


def make_tables(source, target, target_ddl=None):
    source.execute(
        "CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, status VARCHAR(10), amount INT)"
    )
    target.execute(
        "CREATE DATABASE shop",
        target_ddl or "CREATE TABLE shop.t (id INT PRIMARY KEY, status VARCHAR(10), amount INT)",
    )


def test_paused_channel_selects_nothing_until_resumed(mariadb_source, mariadb_target, tmp_path):
    make_tables(mariadb_source, mariadb_target)
    state = str(tmp_path / "state")
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    with running(text, state) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'a', 1)")
        wait_caught_up(runner, mariadb_source)
        set_channel_state(state, "test", "PAUSE")
        wait_paused(runner)
        mariadb_source.execute("INSERT INTO shop.t VALUES (2, 'b', 2)")
        time.sleep(1.5)
        assert mariadb_target.execute("SELECT id FROM shop.t ORDER BY id") == [(1,)]
        assert runner.status()[0]["state"] == "paused"
        set_channel_state(state, "test", "START")
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT id FROM shop.t ORDER BY id") == [(1,), (2,)]


def test_skip_load_exception_rejects_only_the_refused_rows(mariadb_source, mariadb_target, tmp_path):
    make_tables(
        mariadb_source,
        mariadb_target,
        "CREATE TABLE shop.t (id INT PRIMARY KEY, status VARCHAR(10), amount INT CHECK (amount < 100))",
    )
    state = str(tmp_path / "state")
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source), skip_load_exception=True
    )
    with running(text, state) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'ok', 5), (2, 'big', 500), (3, 'ok', 7)")
        wait_caught_up(runner, mariadb_source)
        [rejected] = runner.pipelines[0].rejects.read()
    assert mariadb_target.execute("SELECT id FROM shop.t ORDER BY id") == [(1,), (3,)]
    assert rejected["keys"] == {"id": 2} and rejected["table"] == "t" and rejected["position"]["file"]
    assert "skip_load_exception" in rejected["reason"]


def test_without_skip_a_refused_row_stops_progress_and_loses_nothing(
    mariadb_source, mariadb_target, tmp_path
):
    make_tables(
        mariadb_source,
        mariadb_target,
        "CREATE TABLE shop.t (id INT PRIMARY KEY, status VARCHAR(10), amount INT CHECK (amount < 100))",
    )
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'big', 500)")
        stats = stopped(runner)  # deterministic: the pipeline stops instead of retrying
        assert "`shop`.`t`" in stats.last_error and "id=1" in stats.last_error
    assert mariadb_target.execute("SELECT COUNT(*) FROM shop.t") == [(0,)]
    mariadb_target.execute("ALTER TABLE shop.t MODIFY amount INT")  # the operator fixes the target
    with running(text, str(tmp_path / "state")) as runner:  # and starts again: from the acked position
        wait_caught_up(runner, mariadb_source, timeout=90)
    assert mariadb_target.execute("SELECT id, amount FROM shop.t") == [(1, 500)]


NARROW = "CREATE TABLE shop.t (id INT PRIMARY KEY, status VARCHAR(3), amount INT)"


def test_a_target_column_too_narrow_stops_progress_instead_of_truncating(
    mariadb_source, mariadb_target, tmp_path
):
    make_tables(mariadb_source, mariadb_target, NARROW)
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source))
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'ok', 1), (2, 'shipped', 2)")
        stats = stopped(runner)
        assert "'status'" in stats.last_error and "id=2" in stats.last_error
    assert mariadb_target.execute("SELECT COUNT(*) FROM shop.t") == [(0,)]  # not 'shi'
    mariadb_target.execute("ALTER TABLE shop.t MODIFY status VARCHAR(10)")  # the operator fixes the target
    with running(text, str(tmp_path / "state")) as runner:
        wait_caught_up(runner, mariadb_source, timeout=90)
    assert mariadb_target.execute("SELECT * FROM shop.t ORDER BY id") == [(1, "ok", 1), (2, "shipped", 2)]


def test_skip_load_exception_rejects_a_row_the_target_would_truncate(
    mariadb_source, mariadb_target, tmp_path
):
    make_tables(mariadb_source, mariadb_target, NARROW)
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source), skip_load_exception=True
    )
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'ok', 1), (2, 'shipped', 2), (3, 'new', 3)")
        wait_caught_up(runner, mariadb_source)
        [rejected] = runner.pipelines[0].rejects.read()
    assert mariadb_target.execute("SELECT * FROM shop.t ORDER BY id") == [(1, "ok", 1), (3, "new", 3)]
    assert rejected["keys"] == {"id": 2} and "Data truncated for column 'status'" in rejected["reason"]


def test_filter_keeps_only_matching_rows(mariadb_source, mariadb_target, tmp_path):
    make_tables(mariadb_source, mariadb_target)
    text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        [{"source": "shop.t", "filter": "status == 'paid'"}],
        start=start_of(mariadb_source),
    )
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'paid', 1), (2, 'new', 2), (3, 'paid', 3)")
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT id FROM shop.t ORDER BY id") == [(1,), (3,)]


def test_dry_run_writes_nothing(mariadb_source, mariadb_target, tmp_path):
    make_tables(mariadb_source, mariadb_target)
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source), dry_run=True
    )
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'paid', 1)")
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT COUNT(*) FROM shop.t") == [(0,)]


def test_media_consistency_loads_the_current_row_not_the_logged_image(
    mariadb_source, mariadb_target, tmp_path
):
    make_tables(mariadb_source, mariadb_target)
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source), sync_consistency="media"
    )
    mariadb_source.execute(
        "INSERT INTO shop.t VALUES (1, 'old', 1)", "UPDATE shop.t SET status = 'now', amount = 5"
    )
    with running(text, str(tmp_path / "state")) as runner:
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT * FROM shop.t") == [(1, "now", 5)]


def test_skip_no_row_drops_and_rejects_rows_deleted_since(mariadb_source, mariadb_target, tmp_path):
    make_tables(mariadb_source, mariadb_target)
    mariadb_target.execute("INSERT INTO shop.t VALUES (7, 'stale', 0)")
    text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        ["shop.t"],
        start=start_of(mariadb_source),
        sync_consistency="media",
        skip_no_row=True,
    )
    # the insert and the update of id 2 are read back after the row is gone: nothing of them is loaded
    mariadb_source.execute(
        "INSERT INTO shop.t VALUES (1, 'a', 1), (2, 'b', 2)",
        "UPDATE shop.t SET amount = 3 WHERE id = 2",
        "DELETE FROM shop.t WHERE id = 2",
    )
    with running(text, str(tmp_path / "state")) as runner:
        wait_caught_up(runner, mariadb_source)
        rejected = runner.pipelines[0].rejects.read()
    assert mariadb_target.execute("SELECT id FROM shop.t ORDER BY id") == [(1,), (7,)]
    assert {r["keys"]["id"] for r in rejected} == {2} and all("skip_no_row" in r["reason"] for r in rejected)


def test_skip_select_exception_rejects_rows_that_cannot_be_decoded(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT)")
    start = start_of(mariadb_source)
    # rows logged as INT, then the column becomes a DATE: the old rows no longer fit the table
    mariadb_source.execute(
        "INSERT INTO shop.t VALUES (1, 1)",
        "UPDATE shop.t SET a = NULL",
        "ALTER TABLE shop.t MODIFY a DATE",
        "INSERT INTO shop.t VALUES (2, '2024-01-02')",
    )
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.t"], start=start, skip_select_exception=True)
    with running(text, str(tmp_path / "state")) as runner:
        wait_caught_up(runner, mariadb_source)
        rejected = runner.pipelines[0].rejects.read()
    assert [r["type"] for r in rejected] == ["INSERT", "UPDATE"]
    assert all("skip_select_exception" in r["reason"] and r["position"]["pos"] for r in rejected)
    assert mariadb_target.execute("SELECT id, a FROM shop.t") == [
        (2, __import__("datetime").date(2024, 1, 2))
    ]


def test_skip_ddl_exception_rejects_a_refused_ddl_and_goes_on(mariadb_source, mariadb_target, tmp_path):
    make_tables(mariadb_source, mariadb_target)
    mariadb_target.execute("INSERT INTO shop.t VALUES (8, 'dup', 1), (9, 'dup', 1)")  # the target differs
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.t"], start=start_of(mariadb_source), skip_ddl_exception=True
    )
    with running(text, str(tmp_path / "state")) as runner:
        # the target's duplicate amounts make the unique index fail there (and only there)
        mariadb_source.execute(
            "ALTER TABLE shop.t ADD UNIQUE (amount)", "INSERT INTO shop.t VALUES (1, 'a', 5)"
        )
        wait_caught_up(runner, mariadb_source)
        rejected = runner.pipelines[0].rejects.read()
    assert (
        len(rejected) == 1
        and "ADD UNIQUE" in rejected[0]["ddl"]
        and "skip_ddl_exception" in rejected[0]["reason"]
    )
    assert mariadb_target.execute("SELECT id FROM shop.t ORDER BY id") == [(1,), (8,), (9,)]
