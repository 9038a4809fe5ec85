"""A load's last statement carries its COMMIT on MariaDB (``one_trip.commit_block``): one round trip for a
small load, counted by the load session's ``Questions`` (statements sent by the client; a stored
program's own statements are not counted); and what the separate COMMIT guaranteed still holds: a statement that fails
or warns commits nothing, an UPDATE join checks its "Rows matched" before the COMMIT."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from loader_support import DB, dele, ins, make_loader, upd

from otter_core.spi import LoadError
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql.loader import MySQLLoader

pytestmark = pytest.mark.usefixtures("clean_databases")
TABLE = f"CREATE TABLE {DB}.t (id INT PRIMARY KEY, n INT CHECK (n >= 0), d DECIMAL(5,2))"


@pytest.fixture
def table(mariadb_target: MariaDBServer) -> Iterator[MariaDBServer]:
    mariadb_target.execute(f"CREATE DATABASE {DB}", TABLE, f"INSERT INTO {DB}.t VALUES (1, 1, 1)")
    yield mariadb_target


def _questions(conn: Any) -> int:
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Questions'")
        return int(cur.fetchone()[1])


def _round_trips(loader: MySQLLoader, events: list) -> int:
    """Statements the loader sent for one load, counted by its own session (slot 0, already open)."""
    conn = loader._slots[0].conn
    before = _questions(conn)
    loader.load(events, 0)
    return _questions(conn) - before - 1  # the second SHOW counts itself


def test_a_load_of_one_statement_is_one_round_trip(table: MariaDBServer) -> None:
    loader = make_loader(table, pool=1)
    try:
        loader.load([ins("t", 2, n=2, d=2)], 0)  # opens the slot (session setup, table description)
        assert _round_trips(loader, [ins("t", 3, n=3, d=3), ins("t", 4, n=4, d=4)]) == 1
        # deletes, then upserts: the last statement commits both
        assert _round_trips(loader, [dele("t", 2), ins("t", 5, n=5, d=5)]) == 2
        assert table.execute(f"SELECT id FROM {DB}.t ORDER BY id") == [(1,), (3,), (4,), (5,)]
        # the slot's connection has no transaction left open: a lock on row 5 would block this
        table.execute("SET SESSION innodb_lock_wait_timeout=1", f"DELETE FROM {DB}.t WHERE id = 5")
    finally:
        loader.close()


def test_one_trip_commit_false_sends_the_commit_alone(table: MariaDBServer) -> None:
    loader = make_loader(table, pool=1, options={"one_trip_commit": "false"})
    try:
        loader.load([ins("t", 2, n=2, d=2)], 0)
        assert _round_trips(loader, [ins("t", 3, n=3, d=3)]) == 2
    finally:
        loader.close()


def test_an_update_join_checks_rows_matched_before_its_commit(table: MariaDBServer) -> None:
    loader = make_loader(table, pool=1)
    try:
        loader.load([ins("t", 2, n=2, d=2)], 0)
        # row 9 is missing on the target: the join matches 1 of 2 rows and the chunk is upserted whole,
        # in the same transaction; then the COMMIT alone
        assert _round_trips(loader, [upd("t", 2, {"n"}, n=20, d=2), upd("t", 9, {"n"}, n=90, d=9)]) == 3
        assert table.execute(f"SELECT id, n FROM {DB}.t ORDER BY id") == [(1, 1), (2, 20), (9, 90)]
    finally:
        loader.close()


def test_a_failing_last_statement_commits_nothing_and_names_the_table(table: MariaDBServer) -> None:
    loader = make_loader(table, pool=1)
    try:
        loader.load([ins("t", 2, n=2, d=2)], 0)
        with pytest.raises(LoadError) as raised:  # the delete ran; the upsert's CHECK fails in the block
            loader.load([dele("t", 1), ins("t", 3, n=-1, d=3)], 0)
        message = str(raised.value)
        assert "UPSERT into `lt`.`t`" in message and "row with key id=3" in message and "(4025)" in message
        assert "rolled back" in message
        assert table.execute(f"SELECT id FROM {DB}.t ORDER BY id") == [(1,), (2,)]  # the delete too
        loader.load([ins("t", 4, n=4, d=4)], 0)  # the pool goes on
        assert table.execute(f"SELECT id FROM {DB}.t ORDER BY id") == [(1,), (2,), (4,)]
    finally:
        loader.close()


def test_a_last_statement_with_a_note_is_not_committed(table: MariaDBServer) -> None:
    """1.005 in a DECIMAL(5,2) is stored rounded with a note (1265), which a strict sql_mode would not turn
    into an error: the block commits only without any warning, and the loader stops as before."""
    loader = make_loader(table, pool=1)
    try:
        loader.load([ins("t", 2, n=2, d=2)], 0)
        with pytest.raises(LoadError) as raised:
            loader.load([dele("t", 1), ins("t", 3, n=3, d="1.005")], 0)
        assert "(1265)" in str(raised.value) and "`lt`.`t`" in str(raised.value)
        assert table.execute(f"SELECT id FROM {DB}.t ORDER BY id") == [(1,), (2,)]
    finally:
        loader.close()
