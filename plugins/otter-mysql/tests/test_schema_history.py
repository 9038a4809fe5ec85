"""Schema history across DDL (issue 18, items 3 and 4): rows are decoded with the layout in force at their
binlog position, also when otter is stopped behind the DDL, under binlog_row_metadata MINIMAL and FULL;
what cannot be known stops with the DDL and position named."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from otter_core.runner import Runner
from otter_core.spi import load_config_text
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up
from otter_core.testing.mariadb import MariaDBServer

pytestmark = pytest.mark.usefixtures("clean_databases")


@pytest.fixture(params=["MINIMAL", "FULL"])
def row_metadata(request: pytest.FixtureRequest, mariadb_source: MariaDBServer):
    mariadb_source.execute(f"SET GLOBAL binlog_row_metadata = '{request.param}'")
    yield request.param
    mariadb_source.execute("SET GLOBAL binlog_row_metadata = 'MINIMAL'")


def start_of(server: MariaDBServer) -> dict:
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def both(source: MariaDBServer, target: MariaDBServer, *statements: str) -> None:
    for server in (source, target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.seed (id INT PRIMARY KEY AUTO_INCREMENT)", *statements
        )


def sync_once(text: str, state_dir: str, source: MariaDBServer) -> None:
    """One run of the pipeline until it has read the whole binlog; stopped (acked) afterwards (a row
    in shop.seed gives it something to ack)."""
    source.execute("INSERT INTO shop.seed VALUES ()")
    with running(text, state_dir) as runner:
        wait_caught_up(runner, source)


def failure_of(text: str, state_dir: str, timeout: float = 60.0) -> str:
    runner = Runner(load_config_text(text), state_dir).start()
    try:
        assert runner.join(timeout), f"pipeline did not stop by itself: {runner.status()}"
        [(_, error)] = runner.failures()
        return str(error)
    finally:
        runner.stop()
        runner.join(10)


def rows(server: MariaDBServer, sql: str) -> list[tuple]:
    return [tuple(r) for r in server.execute(sql)]


def test_reorder_while_stopped_keeps_each_value_in_its_column(
    row_metadata, mariadb_source, mariadb_target, tmp_path
) -> None:
    """Item 3: stop otter; INSERT; MODIFY b INT AFTER id; start: the INSERT predates the reorder."""
    both(mariadb_source, mariadb_target, "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b INT)")
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=start_of(mariadb_source))
    mariadb_source.execute("INSERT INTO shop.t VALUES (1, 10, 20)")
    sync_once(text, str(tmp_path), mariadb_source)
    history = json.loads(next(Path(tmp_path).rglob("*.schema-history.json")).read_text())
    assert ["shop", "t"] in [t[:2] for t in history["tables"]]
    mariadb_source.execute(
        "INSERT INTO shop.t VALUES (2, 30, 40)",
        "ALTER TABLE shop.t MODIFY b INT AFTER id",
        "INSERT INTO shop.t (id, a, b) VALUES (3, 50, 60)",
        "UPDATE shop.t SET a = 11 WHERE id = 1",
    )
    sync_once(text, str(tmp_path), mariadb_source)
    expected = [(1, 11, 20), (2, 30, 40), (3, 50, 60)]
    assert rows(mariadb_source, "SELECT id, a, b FROM shop.t ORDER BY id") == expected
    assert rows(mariadb_target, "SELECT id, a, b FROM shop.t ORDER BY id") == expected


def test_column_ddl_while_stopped_is_followed(row_metadata, mariadb_source, mariadb_target, tmp_path) -> None:
    """ADD (FIRST / AFTER / last), DROP, MODIFY (new type), CHANGE, RENAME COLUMN and RENAME TABLE, each
    with rows before and after it, all logged while otter was stopped."""
    both(
        mariadb_source,
        mariadb_target,
        "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b VARCHAR(10), c INT) DEFAULT CHARSET=latin1",
    )
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=start_of(mariadb_source))
    mariadb_source.execute("INSERT INTO shop.t VALUES (1, 1, 'é1', 1)")
    sync_once(text, str(tmp_path), mariadb_source)
    mariadb_source.execute(
        "INSERT INTO shop.t VALUES (2, 2, 'é2', 2)",
        "ALTER TABLE shop.t ADD COLUMN z INT FIRST, ADD COLUMN m VARCHAR(5) CHARACTER SET utf8mb4 AFTER a",
        "INSERT INTO shop.t VALUES (30, 3, 3, 'ü', 'é3', 3)",
        "ALTER TABLE shop.t DROP COLUMN c",
        "INSERT INTO shop.t VALUES (40, 4, 4, 'ö', 'é4')",
        "ALTER TABLE shop.t MODIFY a BIGINT UNSIGNED",
        "INSERT INTO shop.t VALUES (50, 5, 18446744073709551615, 'ä', 'é5')",
        "ALTER TABLE shop.t CHANGE b bb TEXT CHARACTER SET utf8mb4 AFTER id",
        "INSERT INTO shop.t VALUES (60, 6, '😀', 6, 'ß')",
        "ALTER TABLE shop.t RENAME COLUMN m TO mm",
        "UPDATE shop.t SET mm = 'x' WHERE id = 2",
        "RENAME TABLE shop.t TO shop.t2",
        "INSERT INTO shop.t2 (id, z, bb, a, mm) VALUES (7, 70, 'seven', 7, 'y')",
        "ALTER TABLE shop.t2 ADD COLUMN tail DATETIME(6) DEFAULT '2026-01-02 03:04:05.678901'",
        "INSERT INTO shop.t2 (id, a) VALUES (8, 8)",
    )
    sync_once(text, str(tmp_path), mariadb_source)
    query = "SELECT * FROM shop.t2 ORDER BY id"
    assert rows(mariadb_target, query) == rows(mariadb_source, query)
    assert len(rows(mariadb_target, query)) == 8


def test_restart_in_the_middle_uses_the_saved_history(
    row_metadata, mariadb_source, mariadb_target, tmp_path
) -> None:
    """Runs that stop between DDLs each resume with the history the previous one saved."""
    both(mariadb_source, mariadb_target, "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b INT)")
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=start_of(mariadb_source))
    steps = [
        ("INSERT INTO shop.t VALUES (1, 1, 2)", "ALTER TABLE shop.t MODIFY a INT AFTER b"),
        ("INSERT INTO shop.t VALUES (2, 4, 3)", "ALTER TABLE shop.t ADD COLUMN c INT FIRST"),
        ("INSERT INTO shop.t VALUES (5, 3, 6, 5)", "ALTER TABLE shop.t DROP COLUMN b"),
        ("INSERT INTO shop.t VALUES (7, 4, 8)",),
    ]
    sync_once(text, str(tmp_path), mariadb_source)
    for statements in steps:
        mariadb_source.execute(*statements)
        sync_once(text, str(tmp_path), mariadb_source)
    query = "SELECT id, a, c FROM shop.t ORDER BY id"
    assert (
        rows(mariadb_target, query)
        == rows(mariadb_source, query)
        == [
            (1, 1, None),
            (2, 3, None),
            (3, 5, 5),
            (4, 8, 7),
        ]
    )


def test_start_behind_a_reorder_it_never_saw_stops_naming_the_ddl(
    row_metadata, mariadb_source, mariadb_target, tmp_path
) -> None:
    """A first start from a position before a DDL: the layout before it was never read, so the rows
    before it stop the pipeline (never decoded with the newer layout); nothing is written."""
    both(mariadb_source, mariadb_target, "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b INT)")
    start = start_of(mariadb_source)
    mariadb_source.execute(
        "INSERT INTO shop.t VALUES (2, 30, 40)", "ALTER TABLE shop.t MODIFY b INT AFTER id"
    )
    message = failure_of(
        pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=start, retry_max=1), str(tmp_path)
    )
    assert "shop.t" in message and "MODIFY b INT AFTER id" in message and "mysql-bin." in message
    assert "resync shop.t" in message
    assert rows(mariadb_target, "SELECT * FROM shop.t") == []


def test_unfollowable_ddl_stops_with_the_ddl_and_position(
    row_metadata, mariadb_source, mariadb_target, tmp_path
) -> None:
    both(mariadb_source, mariadb_target, "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT)")
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.*"], start=start_of(mariadb_source), retry_max=1
    )
    sync_once(text, str(tmp_path), mariadb_source)
    ddl = "ALTER TABLE shop.t ADD SYSTEM VERSIONING"  # adds hidden row_start/row_end: not modelled
    mariadb_source.execute(ddl)
    file, pos = mariadb_source.binlog_position()
    mariadb_source.execute("INSERT INTO shop.t VALUES (1, 1)")
    message = failure_of(text, str(tmp_path))
    assert ddl in message and f"{file}:{pos}" in message and "could not be followed" in message
    assert "resync shop.t" in message


def test_unfollowable_ddl_rows_go_to_the_reject_log_when_skipping(
    row_metadata, mariadb_source, mariadb_target, tmp_path
) -> None:
    both(mariadb_source, mariadb_target, "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT)")
    text = pipeline_yaml(
        mariadb_source,
        mariadb_target,
        ["shop.*"],
        start=start_of(mariadb_source),
        skip_select_exception=True,
        skip_ddl=True,
    )
    sync_once(text, str(tmp_path), mariadb_source)
    mariadb_source.execute("ALTER TABLE shop.t ADD SYSTEM VERSIONING", "INSERT INTO shop.t VALUES (1, 1)")
    mariadb_source.execute("INSERT INTO shop.seed VALUES ()")
    sync_once(text, str(tmp_path), mariadb_source)
    rejects = "".join(p.read_text() for p in Path(tmp_path).rglob("*.rejects.jsonl"))
    assert "shop" in rejects and "ADD SYSTEM VERSIONING" in rejects
    assert rows(mariadb_target, "SELECT * FROM shop.t") == []


def test_rows_of_a_keyless_table_are_never_applied_under_a_key_added_later(
    row_metadata, mariadb_source, mariadb_target, tmp_path
) -> None:
    """Item 4: refused (no key); the user adds a primary key and starts again: the rows logged while
    the table had no key stop the pipeline with the DDL and what to do, instead of merging two rows."""
    both(mariadb_source, mariadb_target, "CREATE TABLE shop.k (id INT NOT NULL, v INT)")
    start = start_of(mariadb_source)
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=start, retry_max=1)
    mariadb_source.execute(
        "INSERT INTO shop.k VALUES (1, 1), (1, 2)", "DELETE FROM shop.k WHERE v = 2"
    )  # two rows with id 1: one key value under the later key
    refusal = failure_of(text, str(tmp_path))
    assert "add a primary key" in refusal and "start the pipeline past it" in refusal and "resync" in refusal
    mariadb_source.execute("ALTER TABLE shop.k ADD PRIMARY KEY (id)", "INSERT INTO shop.k VALUES (2, 2)")
    message = failure_of(text, str(tmp_path))
    assert "shop.k" in message and "ADD PRIMARY KEY" in message and "resync shop.k" in message
    assert rows(mariadb_target, "SELECT * FROM shop.k") == []  # nothing applied under the new key


def test_keyless_table_created_while_running_names_exclude(mariadb_source, mariadb_target, tmp_path) -> None:
    """A table created without a key under a pattern pair stops the pipeline at its first row; the message
    offers leaving it out (`exclude:`), which is the way on without an ALTER the user never ran."""
    both(mariadb_source, mariadb_target)
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.*"], start=start_of(mariadb_source), retry_max=1
    )
    runner = Runner(load_config_text(text), str(tmp_path)).start()
    try:
        mariadb_source.execute("INSERT INTO shop.seed VALUES ()")  # something to ack
        wait_caught_up(runner, mariadb_source)  # running before the table exists: the start check passed
        mariadb_source.execute("CREATE TABLE shop.log (a INT)", "INSERT INTO shop.log VALUES (1)")
        assert runner.join(60), f"pipeline did not stop by itself: {runner.status()}"
        [(_, error)] = runner.failures()
    finally:
        runner.stop()
        runner.join(10)
    message = str(error)
    assert "shop.log has no primary key" in message and "exclude: [shop.log]" in message, message
    assert "that ALTER" not in message, message


def test_keyless_rows_in_the_history_stop_and_keyed_rows_after_flow(
    mariadb_source, mariadb_target, tmp_path
) -> None:
    """With the history saved (otter ran while the table had a key, the key was dropped and added
    again while otter was stopped) rows logged without a key stop the pipeline with what to do; a run
    started past the ALTER that added the key back applies the rest."""
    both(mariadb_source, mariadb_target, "CREATE TABLE shop.k (id INT PRIMARY KEY, v INT)")
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.*"], start=start_of(mariadb_source), retry_max=1
    )
    sync_once(text, str(tmp_path), mariadb_source)
    mariadb_source.execute(
        "ALTER TABLE shop.k DROP PRIMARY KEY",
        "INSERT INTO shop.k VALUES (1, 1)",
        "ALTER TABLE shop.k ADD PRIMARY KEY (id)",
    )
    after = start_of(mariadb_source)
    mariadb_source.execute("INSERT INTO shop.k VALUES (2, 2)")
    message = failure_of(text, str(tmp_path))
    assert "shop.k has no primary key" in message and "resync shop.k" in message
    assert rows(mariadb_target, "SELECT * FROM shop.k") == []
    mariadb_target.execute("DROP TABLE shop.k", "CREATE TABLE shop.k (id INT PRIMARY KEY, v INT)")  # resynced
    later = pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=after, retry_max=1)
    sync_once(later, str(tmp_path / "past"), mariadb_source)
    assert rows(mariadb_target, "SELECT * FROM shop.k") == [(2, 2)]


def test_full_metadata_column_names_decide_the_order_and_catch_a_wrong_history(
    mariadb_source: MariaDBServer,
) -> None:
    """With binlog_row_metadata=FULL the binlog's names are the truth: a history whose order is wrong
    still decodes by name, and a name the history does not have stops instead of guessing."""
    from selector_support import collect, make_selector

    from otter_core.spi import SourceError

    mariadb_source.execute(
        "SET GLOBAL binlog_row_metadata = 'FULL'",
        "CREATE DATABASE shop",
        "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b INT)",
        "CREATE TABLE shop.u (id INT PRIMARY KEY, a INT)",
    )
    selector = make_selector(mariadb_source, [("shop", "t"), ("shop", "u")])
    try:
        t = selector.history.tables[("shop", "t")][-1][1]
        t.columns[1], t.columns[2] = t.columns[2], t.columns[1]  # the history says (id, b, a)
        u = selector.history.tables[("shop", "u")][-1][1]
        u.columns[1] = dataclasses.replace(u.columns[1], name="renamed")
        mariadb_source.execute("INSERT INTO shop.t VALUES (1, 10, 20)")
        [txn] = collect(selector, transactions=1)
        assert [(e.keys, e.columns) for e in txn.events] == [({"id": 1}, {"a": 10, "b": 20})]
        mariadb_source.execute("INSERT INTO shop.u VALUES (1, 10)")
        with pytest.raises(
            SourceError, match=r"shop\.u at mysql-bin\.\d+:\d+ have columns id, a but the schema"
        ):
            collect(selector, transactions=1)
    finally:
        selector.close()
        mariadb_source.execute("SET GLOBAL binlog_row_metadata = 'MINIMAL'")
