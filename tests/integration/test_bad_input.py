"""Bad input stops the pipeline with one clear error naming the thing and the remedy; nothing is lost."""

import time

import pytest

from otter_core.config import load_config_text
from otter_core.runner import Runner
from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up

pytestmark = pytest.mark.usefixtures("clean_databases")


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def failure_of(yaml_text, state_dir, timeout=60.0) -> str:
    runner = Runner(load_config_text(yaml_text), state_dir).start()
    try:
        assert runner.join(timeout), f"pipeline did not stop by itself: {runner.status()}"
        [(_, error)] = runner.failures()
        return str(error)
    finally:
        runner.stop()
        runner.join(10)


def test_wrong_password_is_retried_then_named_without_the_password(mariadb_source, mariadb_target, tmp_path):
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], retry_max=2)
    text = text.replace("password: otter", "password: not-the-password-xyz", 1)
    message = failure_of(text, str(tmp_path))
    assert f"127.0.0.1:{mariadb_source.port}" in message and "not-the-password-xyz" not in message


def test_unreachable_host_is_named(mariadb_source, mariadb_target, tmp_path):
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], retry_max_transient=2)
    text = text.replace(f"port: {mariadb_source.port}", "port: 1", 1)  # refused: transient, bounded here
    assert "127.0.0.1:1" in failure_of(text, str(tmp_path))


def test_statement_binlog_format_is_refused(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("SET GLOBAL binlog_format='STATEMENT'")
    try:
        message = failure_of(
            pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], retry_max=1), str(tmp_path)
        )
    finally:
        mariadb_source.execute("SET GLOBAL binlog_format='ROW'")
    assert "binlog_format" in message and "ROW" in message


def test_minimal_row_image_is_refused(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("SET GLOBAL binlog_row_image='MINIMAL'")
    try:
        message = failure_of(
            pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], retry_max=1), str(tmp_path)
        )
    finally:
        mariadb_source.execute("SET GLOBAL binlog_row_image='FULL'")
    assert "binlog_row_image" in message and "FULL" in message


def test_unknown_table_in_a_pair_is_named(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop")
    message = failure_of(
        pipeline_yaml(mariadb_source, mariadb_target, ["shop.nosuch"], retry_max=1), str(tmp_path)
    )
    assert "shop.nosuch" in message


def test_table_without_primary_key_is_refused(mariadb_source, mariadb_target, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop", "CREATE TABLE shop.heap (a INT, b INT)")
    message = failure_of(
        pipeline_yaml(mariadb_source, mariadb_target, ["shop.heap"], retry_max=1), str(tmp_path)
    )
    assert "shop.heap" in message and "primary key" in message.lower()


def test_unique_not_null_key_stands_in_for_a_missing_primary_key(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop",
            "CREATE TABLE shop.codes (code VARCHAR(10) NOT NULL, v INT, UNIQUE (code))",
        )
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.codes"], start=start_of(mariadb_source))
    with running(text, str(tmp_path)) as runner:
        mariadb_source.execute(
            "INSERT INTO shop.codes VALUES ('a', 1), ('b', 2)",
            "UPDATE shop.codes SET v = 9 WHERE code = 'a'",
            "DELETE FROM shop.codes WHERE code = 'b'",
        )
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT * FROM shop.codes") == [("a", 9)]


def test_purged_binlog_position_is_named(mariadb_source, mariadb_target, tmp_path):
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.*"], retry_max=1, start={"file": "mysql-bin.000000", "pos": 4}
    )
    message = failure_of(text, str(tmp_path))
    assert "mysql-bin.000000" in message


def test_ddl_on_a_synced_table_is_applied_and_rows_follow(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT)")
    text = pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=start_of(mariadb_source))
    with running(text, str(tmp_path)) as runner:
        mariadb_source.execute(
            "INSERT INTO shop.t VALUES (1, 1)",
            "ALTER TABLE shop.t ADD COLUMN b VARCHAR(10) DEFAULT 'd'",
            "INSERT INTO shop.t VALUES (2, 2, 'two')",
            "UPDATE shop.t SET b = 'one' WHERE id = 1",
        )
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT * FROM shop.t ORDER BY id") == [(1, 1, "one"), (2, 2, "two")]


def test_skip_ddl_leaves_the_target_schema_alone(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT)")
    text = pipeline_yaml(
        mariadb_source, mariadb_target, ["shop.*"], start=start_of(mariadb_source), skip_ddl=True
    )
    with running(text, str(tmp_path)) as runner:
        mariadb_source.execute("ALTER TABLE shop.t ADD INDEX (a)", "INSERT INTO shop.t VALUES (1, 1)")
        wait_caught_up(runner, mariadb_source)
        time.sleep(0.2)
    assert mariadb_target.execute("SHOW INDEX FROM shop.t WHERE Key_name = 'a'") == []
    assert mariadb_target.execute("SELECT * FROM shop.t") == [(1, 1)]


def test_rows_older_than_an_appended_column_still_decode(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT)")
    start = start_of(mariadb_source)
    mariadb_source.execute(
        "INSERT INTO shop.t VALUES (1, 1)",
        "ALTER TABLE shop.t ADD COLUMN b VARCHAR(10)",
        "INSERT INTO shop.t VALUES (2, 2, 'two')",
    )
    # the pipeline starts after the ALTER: its schema cache has 3 columns, the first row has 2
    with running(
        pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=start), str(tmp_path)
    ) as runner:
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT * FROM shop.t ORDER BY id") == [(1, 1, None), (2, 2, "two")]


def test_rows_older_than_a_dropped_column_stop_with_a_remedy(mariadb_source, mariadb_target, tmp_path):
    for server in (mariadb_source, mariadb_target):
        server.execute("CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY, a INT, b INT)")
    start = start_of(mariadb_source)
    mariadb_source.execute("INSERT INTO shop.t VALUES (1, 1, 1)", "ALTER TABLE shop.t DROP COLUMN a")
    message = failure_of(
        pipeline_yaml(mariadb_source, mariadb_target, ["shop.*"], start=start, retry_max=1), str(tmp_path)
    )
    assert "shop.t" in message and "DROP COLUMN a" in message and "resync shop.t" in message


def test_a_cascading_foreign_key_between_synced_tables_stops_the_start_naming_it(
    mariadb_source, mariadb_target, tmp_path
):
    """Cascaded child changes are not in the binlog (checked here): syncing both tables would leave the
    target's child rows behind, so the pipeline refuses to start unless allow_fk_cascades is set."""
    fk = (
        "CREATE TABLE shop.c (id INT PRIMARY KEY, p INT, CONSTRAINT c_to_p FOREIGN KEY (p) REFERENCES shop.p (id) "
        "ON DELETE CASCADE)"
    )
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop",
            "CREATE TABLE shop.p (id INT PRIMARY KEY)",
            fk,
            "INSERT INTO shop.p VALUES (1)",
            "INSERT INTO shop.c VALUES (10, 1)",
        )
    file, pos = mariadb_source.binlog_position()
    mariadb_source.execute("DELETE FROM shop.p WHERE id = 1")
    events = [row[5] for row in mariadb_source.execute(f"SHOW BINLOG EVENTS IN '{file}' FROM {pos}")]
    assert (
        "table_id: " in " ".join(events) and sum(e.startswith("table_id") for e in events) == 3
    )  # 2 maps, 1 rows
    assert mariadb_source.execute("SELECT COUNT(*) FROM shop.c") == [(0,)]
    start = {"file": file, "pos": pos}
    with running(
        pipeline_yaml(mariadb_source, mariadb_target, ["shop.p", "shop.c"], start=start),
        str(tmp_path / "refused"),
    ) as runner:
        assert runner.join(timeout=60)
        [(_, error)] = runner.failures()
    assert "foreign key c_to_p of shop.c references shop.p with ON DELETE CASCADE" in str(error)
    assert "allow_fk_cascades: true" in str(error)
    assert mariadb_target.execute("SELECT COUNT(*) FROM shop.p") == [(1,)]  # nothing loaded
    with running(
        pipeline_yaml(mariadb_source, mariadb_target, ["shop.p"], start=start),  # child not synced
        str(tmp_path / "parent-only"),
    ) as runner:
        wait_caught_up(runner, mariadb_source)
    assert mariadb_target.execute("SELECT COUNT(*) FROM shop.p") == [(0,)]
