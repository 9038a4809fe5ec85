"""A load's statements sent in one multi-statement query (``otter_mysql.multi_statement``), against a real
MariaDB: one round trip for a load of many statement groups, then the COMMIT; and what the
statement-by-statement path guaranteed still holds when a statement warns, fails, or an UPDATE join misses
rows in the middle of the query."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from loader_support import DB, dele, ins, make_loader, upd

from otter_core.spi import LoadError
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql.loader import MySQLLoader

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLES = [
    f"CREATE TABLE {DB}.{name} (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, c VARCHAR(8) CHECK (c <> 'bad'))"
    for name in ("t1", "t2")
]


@pytest.fixture
def tables(mariadb_target: MariaDBServer) -> Iterator[MariaDBServer]:
    rows = ",".join(f"({i}, {i}, 'c{i}')" for i in range(1, 11))
    mariadb_target.execute(
        f"CREATE DATABASE {DB}",
        *TABLES,
        f"INSERT INTO {DB}.t1 VALUES {rows}",
        f"INSERT INTO {DB}.t2 VALUES {rows}",
    )
    yield mariadb_target


def _recording(conn: Any) -> list:
    """The commands ``conn`` sends from now on (each a round trip), as their SQL; COMMIT included."""
    sent: list = []
    original = conn._execute_command

    def execute_command(command: int, sql: Any) -> Any:
        sent.append(sql)
        return original(command, sql)

    conn._execute_command = execute_command
    return sent


def _queries(loader: MySQLLoader, events: list) -> int:
    """Round trips the loader's slot 0 makes for one load, counted on the client."""
    conn = loader._slots[0].conn
    sent = _recording(conn)
    try:
        loader.load(events, 0)
    finally:
        del conn._execute_command
    return len(sent)


def _warm(loader: MySQLLoader) -> None:
    """Opens slot 0 and reads both tables' descriptions (queries of their own)."""
    loader.load(
        [ins("t1", 30, k=30, c="x"), upd("t1", 30, {"k"}, k=30, c="x"), ins("t2", 30, k=30, c="x")], 0
    )


def _oltp_load() -> list:
    """What a merged sysbench batch gives a slot: per table a delete, whole rows, and UPDATE joins of two
    column sets: eight statement groups."""
    return [
        ev
        for t in ("t1", "t2")
        for ev in (
            dele(t, 1),
            ins(t, 20, k=20, c="new"),
            upd(t, 2, {"k"}, k=200, c="c2"),
            upd(t, 3, {"k"}, k=300, c="c3"),
            upd(t, 4, {"c"}, k=4, c="c4x"),
        )
    ]


def _state(server: MariaDBServer) -> list[tuple]:
    return server.execute(f"SELECT * FROM {DB}.t1 UNION ALL SELECT * FROM {DB}.t2")


def test_a_load_of_many_groups_is_one_query_and_its_commit(tables: MariaDBServer) -> None:
    loader = make_loader(tables, pool=1)
    try:
        _warm(loader)
        before = loader.statements_executed
        assert _queries(loader, _oltp_load()) == 2
        assert loader.statements_executed - before == 8
        expected = [(i, {2: 200, 3: 300}.get(i, i), "c4x" if i == 4 else f"c{i}") for i in range(2, 11)]
        assert _state(tables) == [
            *expected,
            (20, 20, "new"),
            (30, 30, "x"),
            *expected,
            (20, 20, "new"),
            (30, 30, "x"),
        ]
    finally:
        loader.close()


def test_the_query_results_after_the_first_are_read_from_their_ok_packets(
    tables: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyMySQL builds a result object and walks the cursor for each of a query's results; the loader reads
    the second and later OK packets itself (``multi_statement.read_ok``): warnings and "Rows matched"
    still seen, nothing left unread on the connection."""
    loader = make_loader(tables, pool=1)
    results: list = []
    original = pymysql.connections.MySQLResult.__init__

    def counted(self: Any, connection: Any) -> None:
        results.append(self)
        original(self, connection)

    try:
        _warm(loader)
        monkeypatch.setattr(pymysql.connections.MySQLResult, "__init__", counted)
        events = _oltp_load()
        events[2] = upd("t1", 99, {"k"}, k=990, c="c99")  # missing: the t1 join matches 1 of 2 rows
        assert _queries(loader, events) == 3  # the query, the missed chunk's upsert, the COMMIT
        assert len(results) == 2  # the query's first result and the upsert's (9 when PyMySQL reads them)
        assert tables.execute(f"SELECT * FROM {DB}.t1 WHERE id IN (3, 99)") == [
            (3, 300, "c3"),
            (99, 990, "c99"),
        ]
        conn = loader._slots[0].conn
        assert conn._result is None or not conn._result.has_next
        with pytest.raises(LoadError, match=r"\(1265\)"):  # a warning in a later statement is still seen
            loader.load([dele("t1", 5), ins("t2", 60, k=1, c="toolongvalue"), ins("t1", 61, k=1, c="ok")], 0)
    finally:
        loader.close()


def test_multi_statement_false_sends_a_query_per_statement(tables: MariaDBServer) -> None:
    loader = make_loader(tables, pool=1, options={"multi_statement": "false"})
    try:
        _warm(loader)
        assert _queries(loader, _oltp_load()) == 9  # 8 statements, the COMMIT after the last join
    finally:
        loader.close()


def test_an_update_join_missing_rows_mid_query_upserts_them_whole(tables: MariaDBServer) -> None:
    loader = make_loader(tables, pool=1)
    try:
        # row 99 is missing on t1: the join matches 1 of 2; after the query its chunk is upserted whole,
        # in the same transaction (t2's delete ran in the query, once)
        loader.load(
            [upd("t1", 2, {"k"}, k=200, c="c2"), upd("t1", 99, {"k"}, k=990, c="c99"), dele("t2", 5)], 0
        )
        assert tables.execute(f"SELECT * FROM {DB}.t1 WHERE id IN (2, 99)") == [
            (2, 200, "c2"),
            (99, 990, "c99"),
        ]
        assert tables.execute(f"SELECT id FROM {DB}.t2 WHERE id = 5") == []
    finally:
        loader.close()


def test_a_warning_mid_query_stops_the_load_naming_table_and_row(tables: MariaDBServer) -> None:
    loader = make_loader(tables, pool=1)
    try:
        before = _state(tables)
        with pytest.raises(LoadError) as raised:  # 'toolongvalue' does not fit VARCHAR(8): warning 1265
            loader.load([dele("t1", 1), ins("t1", 40, k=1, c="toolongvalue"), ins("t2", 41, k=1, c="ok")], 0)
        message = str(raised.value)
        assert "UPSERT into `lt`.`t1`" in message and "id=40" in message and "(1265)" in message, message
        assert _state(tables) == before  # rolled back: the delete before it and the upsert after it too
    finally:
        loader.close()


def test_a_failing_statement_mid_query_names_its_row_and_commits_nothing(tables: MariaDBServer) -> None:
    loader = make_loader(tables, pool=1)
    try:
        before = _state(tables)
        with pytest.raises(LoadError) as raised:  # the CHECK refuses the second row of the t1 upsert
            loader.load(
                [dele("t2", 1), ins("t1", 50, k=1, c="ok"), ins("t1", 51, k=1, c="bad"), dele("t2", 2)], 0
            )
        message = str(raised.value)
        assert "UPSERT into `lt`.`t1`" in message and "row with key id=51" in message and "(4025)" in message
        assert _state(tables) == before
        loader.load([ins("t1", 52, k=1, c="ok"), dele("t2", 3)], 0)  # the slot goes on
        assert tables.execute(f"SELECT id FROM {DB}.t1 WHERE id >= 50") == [(52,)]
    finally:
        loader.close()


def test_a_lock_wait_mid_query_is_raised_once_not_waited_again(tables: MariaDBServer) -> None:
    loader = make_loader(tables, pool=1)
    holder = tables.connect()
    try:
        _warm(loader)
        with loader._slots[0].conn.cursor() as cur:
            cur.execute("SET SESSION innodb_lock_wait_timeout=1")
        with holder.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute(f"SELECT * FROM {DB}.t2 WHERE id = 7 FOR UPDATE")
        events = [dele("t1", 6), dele("t2", 7), ins("t1", 31, k=1, c="y")]
        sent = _recording(loader._slots[0].conn)
        with pytest.raises(LoadError) as raised:
            loader.load(events, 0)
        assert "DELETE into `lt`.`t2`" in str(raised.value) and "(1205)" in str(raised.value)
        assert raised.value.retryable
        assert [sql for sql in sent if "DELETE" in str(sql)] == [sent[0]]  # one query, not sent again
    finally:
        holder.rollback()
        holder.close()
        loader.close()
