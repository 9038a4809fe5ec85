"""Bad sources and settings raise SourceError/ConfigError naming the server and the remedy."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import attrs
import pytest
from selector_support import make_pipeline, make_selector, make_source

from otter_core.spi import ConfigError, PipelinePlugins, Position, Selector, SourceError
from otter_core.testing.mariadb import OTTER_PASSWORD, MariaDBServer, free_port
from otter_mysql import ddl, plugin
from otter_mysql.schema import SchemaCache, parse_enum_values
from otter_mysql.selector import MySQLSelector, derive_server_id

pytestmark = pytest.mark.usefixtures("clean_databases")


@pytest.fixture
def tables(mariadb_source: MariaDBServer) -> MariaDBServer:
    mariadb_source.execute("CREATE DATABASE c1", "CREATE TABLE c1.ok (id INT PRIMARY KEY, v INT)")
    return mariadb_source


@pytest.fixture
def global_setting(mariadb_source: MariaDBServer) -> Iterator:
    changed: list[tuple[str, str]] = []

    def set_global(name: str, value: str) -> None:
        (old,) = mariadb_source.execute(f"SELECT @@GLOBAL.{name}")[0]
        changed.append((name, old))
        mariadb_source.root_execute(f"SET GLOBAL {name} = '{value}'")

    yield set_global
    for name, old in reversed(changed):
        mariadb_source.root_execute(f"SET GLOBAL {name} = '{old}'")


def start_error(server: MariaDBServer, pairs=(("c1", "ok"),), exc: type = SourceError, **kwargs) -> str:
    with pytest.raises(exc) as info:
        make_selector(server, pairs, **kwargs).close()
    return str(info.value)


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("binlog_format", "STATEMENT", "binlog_format is STATEMENT, not ROW; set binlog_format=ROW"),
        ("binlog_row_image", "MINIMAL", "binlog_row_image is MINIMAL, not FULL; set binlog_row_image=FULL"),
    ],
)
def test_binlog_settings(tables: MariaDBServer, global_setting, name: str, value: str, words: str) -> None:
    global_setting(name, value)
    message = start_error(tables)
    assert words in message and f"127.0.0.1:{tables.port}" in message


def test_log_bin_off(tmp_path) -> None:
    with MariaDBServer(tmp_path / "nobinlog", server_id=77, log_bin=False) as server:
        server.execute("CREATE DATABASE c1", "CREATE TABLE c1.ok (id INT PRIMARY KEY)")
        message = start_error(server)
    assert "binary logging is off (log_bin=OFF); enable it" in message and "source src" in message


def test_purged_binlog_file_and_gtid(tables: MariaDBServer) -> None:
    tables.execute("INSERT INTO c1.ok VALUES (1, 1)")
    file, pos = tables.binlog_position()
    (gtid,) = tables.execute("SELECT @@gtid_binlog_pos")[0]
    tables.execute("FLUSH BINARY LOGS", "INSERT INTO c1.ok VALUES (2, 2)")
    newest, _ = tables.binlog_position()
    deadline = time.monotonic() + 10
    while tables.execute("SHOW BINARY LOGS")[0][0] != newest:  # waits for the binlog checkpoint
        assert time.monotonic() < deadline, "PURGE BINARY LOGS did not purge"
        tables.execute(f"PURGE BINARY LOGS TO '{newest}'")
        time.sleep(0.05)
    message = start_error(tables, position=Position(file, pos))
    assert (
        f"binlog file {file} was purged; set the pipeline's position with `otter-run position set "
        f"PIPELINE.yaml --current`" in message
    )
    assert "does not exist" in start_error(
        tables, start={"kind": "position", "file": "mysql-bin.999999", "pos": 4}
    )
    first_gtid = "-".join(gtid.split("-")[:2] + ["1"])
    message = start_error(tables, start={"kind": "gtid", "gtid": first_gtid})
    assert (
        "purged; set the pipeline's position with `otter-run position set PIPELINE.yaml --current`" in message
    )
    assert "is not a MariaDB GTID" in start_error(
        tables, start={"kind": "gtid", "gtid": "abc"}, exc=ConfigError
    )


def test_missing_table_and_missing_key(tables: MariaDBServer) -> None:
    message = start_error(tables, pairs=[("c1", "ok"), ("c1", "nope")])
    assert "table c1.nope named by pipeline" in message and "does not exist on source src" in message
    tables.execute("CREATE TABLE c1.nokey (a INT, b INT, UNIQUE KEY (a))")  # unique but nullable
    for pairs in ([("c1", "nokey")], [("c1", "*")]):
        message = start_error(tables, pairs=pairs)
        assert "c1.nokey" in message and "add a primary key (or a unique not-null key)" in message
    make_selector(tables, [("c2*", "*"), ("c1", "ok")]).close()  # patterns may match nothing


def test_statement_format_writes_to_a_matched_table_are_refused(tables: MariaDBServer) -> None:
    selector = make_selector(tables, [("c1", "ok")])
    try:
        conn = tables.connect()
        with conn.cursor() as cur:
            cur.execute("SET SESSION binlog_format = 'STATEMENT'")
            cur.execute("INSERT INTO c1.ok VALUES (1, 1)")
        conn.close()
        with pytest.raises(SourceError, match="statement-format change of c1.ok.*binlog_format=ROW"):
            while True:
                selector.poll(5)
    finally:
        selector.close()


def test_unique_not_null_key_is_the_fallback(tables: MariaDBServer) -> None:
    tables.execute(
        "CREATE TABLE c1.uk (a INT NOT NULL, b VARCHAR(5) NOT NULL, c INT, d INT NOT NULL, "
        "UNIQUE KEY wide (c, d), UNIQUE KEY pre (b(2)), UNIQUE KEY uk (b, a))"
    )
    cache = SchemaCache(tables.connect)
    table = cache.get("c1", "uk")
    assert table.key == ("b", "a") and table.key_name == "uk" and table.data_columns == ("c", "d")
    tables.execute("CREATE TABLE c1.pk (x INT, y INT, z INT, PRIMARY KEY (z, x))")
    assert cache.get("c1", "pk").key == ("z", "x")
    tables.execute("ALTER TABLE c1.pk DROP PRIMARY KEY")
    assert cache.get("c1", "pk").key == ("z", "x")  # cached until invalidated
    cache.invalidate("c1", "pk")
    assert cache.find("c1", "pk").key == () and cache.find("c1", "zzz") is None
    cache.close()


def test_connection_failures_name_host_and_user_not_password(mariadb_source: MariaDBServer) -> None:
    wrong = make_source(mariadb_source, password="s3cret-pw")
    message = start_error(mariadb_source, source=wrong)
    assert f"127.0.0.1:{mariadb_source.port}" in message and "'otter'" in message
    assert "check the host, port, user and password" in message and "s3cret-pw" not in message
    closed = make_source(mariadb_source, port=free_port())
    message = start_error(mariadb_source, source=closed)
    assert f"127.0.0.1:{closed.port}" in message and "check the host, port" in message
    assert OTTER_PASSWORD not in message.replace("'otter'", "")


def test_plugin_hooks_and_server_id(mariadb_source: MariaDBServer) -> None:
    pipeline = make_pipeline([("c1", "ok")])
    source = make_source(mariadb_source)
    assert isinstance(plugin.otter_selector("mariadb", source, pipeline), MySQLSelector)
    assert isinstance(plugin.otter_selector("mysql", source, pipeline), MySQLSelector)
    assert plugin.otter_selector("oracle", source, pipeline) is None
    assert plugin.otter_loader("oracle", source, pipeline) is None
    selector = PipelinePlugins(pipeline).selector(source)  # through the entry point, as the engine does
    assert isinstance(selector, MySQLSelector) and isinstance(selector, Selector)
    assert derive_server_id("p") == derive_server_id("p") and 1000 <= derive_server_id("p") < 101000
    assert MySQLSelector(source, make_pipeline([], server_id=4242)).server_id == 4242


def test_same_pipeline_name_in_two_channels_gets_two_server_ids(mariadb_source: MariaDBServer) -> None:
    """Two channels may both call their pipeline ``src-to-dst``; with one derived server_id the two binlog
    connections to the source would drop each other for ever (error 4052) while both say `running`."""
    source = make_source(mariadb_source)
    pipeline = make_pipeline([])
    ids = {MySQLSelector(source, attrs.evolve(pipeline, channel=c)).server_id for c in ("orders", "stock")}
    assert len(ids) == 2 and all(1000 <= i < 101000 for i in ids)


def test_server_id_taken_by_another_replica_is_named(mariadb_source: MariaDBServer) -> None:
    """A second replica registering with a running selector's server_id makes the server drop the first
    connection: the selector says so (server_id, the remedy) instead of reconnecting in silence."""
    mariadb_source.execute(
        "CREATE DATABASE IF NOT EXISTS sameid", "CREATE TABLE IF NOT EXISTS sameid.t (id INT PRIMARY KEY)"
    )
    first = make_selector(mariadb_source, [("sameid", "t")], server_id=4242)
    second = make_selector(mariadb_source, [("sameid", "t")], server_id=4242)
    try:
        with pytest.raises(SourceError, match=r"server_id 4242.*parameters.server_id"):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                first.poll(0.2)
                second.poll(0.2)
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    "query, kind, tables",
    [
        ("ALTER TABLE `d`.`t` ADD c INT", "table", [("d", "t")]),
        ("alter online ignore table t rename to u", "table", [("def", "t"), ("def", "u")]),
        ("CREATE TABLE IF NOT EXISTS t2 (id int)", "table", [("def", "t2")]),
        ("CREATE OR REPLACE TABLE x.`we``ird` LIKE y", "table", [("x", "we`ird")]),
        ("DROP TABLE IF EXISTS `a`,b.c /* generated by server */", "table", [("def", "a"), ("b", "c")]),
        ("RENAME TABLE a TO b, x.c TO x.d", "table", [("def", "a"), ("def", "b"), ("x", "c"), ("x", "d")]),
        ("TRUNCATE TABLE t", "table", [("def", "t")]),
        ("CREATE UNIQUE INDEX i ON s.t (a)", "table", [("s", "t")]),
        ("DROP INDEX i ON t", "table", [("def", "t")]),
        ("/* hi */ CREATE DATABASE IF NOT EXISTS `db1`", "database", []),
        ("INSERT INTO s.t VALUES (1)", "dml", [("s", "t")]),
        ("SAVEPOINT x", "control", []),
        ("GRANT SELECT ON *.* TO u", "other", []),
    ],
)
def test_ddl_parser(query: str, kind: str, tables: list) -> None:
    statement = ddl.parse(query, "def")
    assert statement.kind == kind and list(statement.tables) == tables


def test_enum_labels_parse() -> None:
    assert parse_enum_values("enum('a''q','b\\\\c','d,e','é')") == ("a'q", "b\\c", "d,e", "é")
    assert parse_enum_values("set('x','y')") == ("x", "y") and parse_enum_values("int(11)") == ()


def test_keyless_table_at_start_names_both_ways_out(mariadb_source: MariaDBServer) -> None:
    """A keyless table a pattern pair takes stops the start; the message gives both remedies a user has
    (add a key, or leave the table out with `exclude:`) and speaks of no ALTER the user never ran."""
    mariadb_source.execute(
        "CREATE DATABASE IF NOT EXISTS keyless",
        "CREATE TABLE IF NOT EXISTS keyless.log (at DATETIME NOT NULL, msg VARCHAR(20))",
        "CREATE TABLE IF NOT EXISTS keyless.ok (id INT PRIMARY KEY)",
    )
    with pytest.raises(SourceError) as raised:
        make_selector(mariadb_source, [("keyless", "*")]).close()
    message = str(raised.value)
    assert "keyless.log" in message and "add a primary key" in message, message
    assert "exclude: [keyless.log]" in message and "that ALTER" not in message, message


def test_pattern_matching_no_table_is_logged(mariadb_source: MariaDBServer, caplog) -> None:
    """A pattern pair with a typo (`shop.ordrs*`) matches nothing: the start says so instead of syncing
    nothing in silence; a pattern that matches does not warn."""
    mariadb_source.execute(
        "CREATE DATABASE IF NOT EXISTS typo", "CREATE TABLE IF NOT EXISTS typo.orders (id INT PRIMARY KEY)"
    )
    with caplog.at_level(logging.WARNING, logger="otter_mysql"):
        make_selector(mariadb_source, [("typo", "ordrs*"), ("typo", "ord*")]).close()
    warned = [r.getMessage() for r in caplog.records if "matches no table" in r.getMessage()]
    assert len(warned) == 1 and "typo.ordrs*" in warned[0], warned
