"""MySQLLoader failures (messages, rollback, broken connections, stale column cache) and DDL."""

from __future__ import annotations

import logging

import pytest
from loader_support import DB, ins, make_loader, upd

from otter_core.spi import DataMediaSource, EventData, EventType, LoadError, Pipeline
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql.loader import MySQLLoader

pytestmark = pytest.mark.usefixtures("clean_databases")

SECRET = "S3cret-pw-x9"


def setup_db(server: MariaDBServer, *ddl: str) -> None:
    server.execute(f"CREATE DATABASE {DB}", *ddl)


def secret_loader(server: MariaDBServer, password: str = SECRET) -> MySQLLoader:
    server.execute(
        "SET SESSION sql_log_bin=0",
        f"CREATE USER IF NOT EXISTS 'lt_user'@'%' IDENTIFIED BY '{SECRET}'",
        "GRANT ALL PRIVILEGES ON *.* TO 'lt_user'@'%'",
    )
    base = make_loader(server)
    target = DataMediaSource(
        name="target", type="mysql", host="127.0.0.1", port=server.port, user="lt_user", password=password
    )
    pipeline: Pipeline = base.pipeline
    return MySQLLoader(target, pipeline)


def test_unknown_target_column_names_table_column_and_remedy(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, "CREATE TABLE lt.t (id INT PRIMARY KEY, a INT)")
    loader = make_loader(mariadb_target)
    try:
        with pytest.raises(LoadError) as err:
            loader.load([ins("t", 1, a=1, extra=2)], 0)
        text = str(err.value)
        assert "`lt`.`t`" in text and "`extra`" in text
        assert "add the column or map/exclude it in the pair" in text
        with pytest.raises(LoadError, match="does not exist"):
            loader.load([ins("nope", 1, a=1)], 0)
    finally:
        loader.close()


def test_failure_rolls_back_the_whole_call(mariadb_target: MariaDBServer) -> None:
    setup_db(
        mariadb_target,
        "CREATE TABLE lt.a (id INT PRIMARY KEY, v INT)",
        "CREATE TABLE lt.c (id INT PRIMARY KEY, v INT, CHECK (v >= 0))",
    )
    loader = secret_loader(mariadb_target)
    events = [ins("a", i, v=i) for i in range(10)] + [ins("c", 5, v=1), ins("c", 6, v=-1)]
    try:
        with pytest.raises(LoadError) as err:
            loader.load(events, 0)
        text = str(err.value)
        # the multi-row upsert was refused, then its rows tried one by one: the failing one is named
        assert "UPSERT into `lt`.`c`" in text and "row with key id=6" in text and "4025" in text
        assert SECRET not in text
        assert mariadb_target.execute("SELECT COUNT(*) FROM lt.a")[0][0] == 0
        assert loader.load(events[:10], 0) == 10  # the connection is still usable
        with pytest.raises(LoadError, match=r"row with key id=3.*cannot be written"):
            loader.load([ins("a", 3, v=object())], 0)
    finally:
        loader.close()


def test_connect_error_never_shows_the_password(mariadb_target: MariaDBServer) -> None:
    loader = secret_loader(mariadb_target, password=SECRET + "-wrong")
    with pytest.raises(LoadError) as err:
        loader.load([ins("a", 1, v=1)], 0)
    assert "cannot connect to target target" in str(err.value)
    assert SECRET not in str(err.value)
    loader.close()


def test_broken_connection_is_discarded_and_reopened(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, "CREATE TABLE lt.a (id INT PRIMARY KEY, v INT)")
    loader = make_loader(mariadb_target)
    try:
        loader.load([ins("a", 1, v=1)], 0)
        thread_id = loader._slots[0].conn.thread_id()
        mariadb_target.execute(f"KILL {thread_id}")
        with pytest.raises(LoadError, match="UPSERT into `lt`.`a`"):
            loader.load([ins("a", 2, v=2)], 0)
        assert loader._slots[0] is None
        assert loader.load([ins("a", 2, v=2)], 0) == 1
    finally:
        loader.close()
    assert mariadb_target.execute("SELECT COUNT(*) FROM lt.a")[0][0] == 2


def test_column_cache_follows_changes_behind_the_loaders_back(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, "CREATE TABLE lt.a (id INT PRIMARY KEY, v INT, w INT)")
    loader = make_loader(mariadb_target)
    try:
        loader.load([ins("a", 1, v=1, w=1)], 0)
        mariadb_target.execute("ALTER TABLE lt.a ADD COLUMN x INT")  # cache lacks x
        assert loader.load([ins("a", 2, v=2, w=2, x=2)], 0) == 1
        mariadb_target.execute("ALTER TABLE lt.a DROP COLUMN w")  # server: unknown column
        with pytest.raises(LoadError, match=r"no column `w`.*map/exclude"):
            loader.load([upd("a", 1, v=5, w=5)], 0)
    finally:
        loader.close()


def test_generated_target_column_is_left_out_of_updates(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, "CREATE TABLE lt.g (id INT PRIMARY KEY, v INT, dbl INT AS (v * 2) STORED)")
    loader = make_loader(mariadb_target)
    try:
        loader.load([ins("g", 1, v=1, dbl=0)], 0)
        loader.load([upd("g", 1, v=4, dbl=0)], 0)
    finally:
        loader.close()
    assert mariadb_target.execute("SELECT * FROM lt.g") == [(1, 4, 8)]


def test_row_bigger_than_max_allowed_packet_is_named(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, "CREATE TABLE lt.b (id INT PRIMARY KEY, data LONGBLOB)")
    (old,) = mariadb_target.execute("SELECT @@GLOBAL.max_allowed_packet")[0]
    mariadb_target.execute("SET GLOBAL max_allowed_packet=1048576")
    loader = make_loader(mariadb_target)  # connects now, so it reads the small limit
    try:
        small = [ins("b", i, data=b"z" * 100_000) for i in range(20)]  # 4 MB of hex together
        assert loader.load(small, 0) == 20
        assert loader.statements_executed > 4
        with pytest.raises(LoadError, match=r"id=99.*raise max_allowed_packet"):
            loader.load([ins("b", 99, data=b"z" * 600_000)], 0)
    finally:
        loader.close()
        mariadb_target.execute(f"SET GLOBAL max_allowed_packet={old}")


def ddl(sql: str, table: str = "d", schema: str = DB) -> EventData:
    return EventData(schema, table, EventType.DDL, ddl_sql=sql)


def test_apply_ddl_and_replay(mariadb_target: MariaDBServer, caplog: pytest.LogCaptureFixture) -> None:
    setup_db(mariadb_target)
    loader = make_loader(mariadb_target)
    steps = [
        "CREATE TABLE d (id INT PRIMARY KEY, a INT)",
        "ALTER TABLE d ADD COLUMN b VARCHAR(10)",
        "CREATE INDEX ix_a ON d (a)",
        "ALTER TABLE d DROP COLUMN a",
    ]
    try:
        with caplog.at_level(logging.WARNING, logger="otter.load"):
            for i, sql in enumerate(steps):
                loader.apply_ddl(ddl(sql))
                loader.apply_ddl(ddl(sql))  # replayed after a crash before the ack
                if i == 1:
                    assert loader.load([ins("d", 1, a=1, b="x")], 0) == 1  # cache refreshed
        assert caplog.text.count("already applied") == 4
        assert mariadb_target.execute("SELECT * FROM lt.d") == [(1, "x")]
        with pytest.raises(LoadError, match=r"no column `a`"):
            loader.load([ins("d", 2, a=2, b="y")], 0)
        with pytest.raises(LoadError, match=r"DDL on target target table lt.d failed: \(1064\)"):
            loader.apply_ddl(ddl("ALTER TABLE d ADD COLUMN"))
        with pytest.raises(LoadError, match="schema `missing` does not exist on the target"):
            loader.apply_ddl(ddl("CREATE TABLE x (id INT PRIMARY KEY)", "x", "missing"))
        loader.apply_ddl(ddl("CREATE DATABASE missing", "", "missing"))  # USE fails, DDL runs
        assert mariadb_target.execute("SHOW DATABASES LIKE 'missing'") == [("missing",)]
    finally:
        loader.close()


def test_dry_run_ddl_does_nothing(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target)
    loader = make_loader(mariadb_target, dry_run=True)
    loader.apply_ddl(ddl("CREATE TABLE d (id INT PRIMARY KEY)"))
    loader.close()
    assert mariadb_target.execute("SHOW TABLES FROM lt") == []
