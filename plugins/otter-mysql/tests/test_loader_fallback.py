"""A multi-row statement the target refuses (the UPDATE join, a multi-row upsert) is sent again as the
plain statement for that chunk before the load counts as failed, against a real MariaDB: the target
ends with the source's values, or the error names the table, the row's key and the server's reason."""

from __future__ import annotations

import logging

import pytest
from loader_support import DB, ins, make_loader, upd

from otter_core.spi import LoadError
from otter_core.testing.mariadb import MariaDBServer

pytestmark = pytest.mark.usefixtures("clean_databases")

# Refuses any UPDATE of a row that no INSERT of the same statement tried first: the UPDATE join, but not
# an upsert (its BEFORE INSERT trigger fires before the duplicate key turns it into an update).
REFUSE_JOIN = (
    f"CREATE TRIGGER {DB}.ins BEFORE INSERT ON {DB}.t FOR EACH ROW SET @tried = NEW.id",
    f"CREATE TRIGGER {DB}.upd BEFORE UPDATE ON {DB}.t FOR EACH ROW BEGIN "
    f"IF @tried IS NULL OR @tried <> NEW.id THEN "
    f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'updates only through an insert'; END IF; "
    f"SET @tried = NULL; END",
)


def test_a_refused_update_join_is_sent_as_upserts(
    mariadb_target: MariaDBServer, caplog: pytest.LogCaptureFixture
) -> None:
    mariadb_target.execute(
        f"CREATE DATABASE {DB}", f"CREATE TABLE {DB}.t (id INT PRIMARY KEY, qty INT, note VARCHAR(20))"
    )
    loader = make_loader(mariadb_target, pool=1, chunk_rows=3)
    try:
        loader.load([ins("t", i, qty=i, note=f"n{i}") for i in range(1, 9)], 0)
        mariadb_target.execute(*REFUSE_JOIN)
        kinds: list[str] = []
        execute = loader._execute
        loader._execute = lambda cur, state, slot, sql, group, rows: (  # type: ignore[method-assign]
            kinds.append(group.kind),
            execute(cur, state, slot, sql, group, rows),
        )
        with caplog.at_level(logging.WARNING, logger="otter.load"):
            events = [upd("t", i, {"qty"}, qty=100 + i, note="not sent") for i in range(1, 9)]
            assert loader.load(events, 0) == 8
            assert loader.load([upd("t", 1, {"qty"}, qty=7, note="not sent")], 0) == 1
    finally:
        loader.close()
    # every join chunk (3 + 3 + 2 rows, then 1) was refused and its rows upserted instead
    assert kinds == ["UPDATE", "UPSERT"] * 4
    assert mariadb_target.execute(f"SELECT id, qty, note FROM {DB}.t ORDER BY id") == [
        (i, 7 if i == 1 else 100 + i, f"n{i}") for i in range(1, 9)
    ]
    logged = [r.getMessage() for r in caplog.records if "was refused" in r.getMessage()]
    assert len(logged) == 1  # once per table
    assert "UPDATE join into `lt`.`t`" in logged[0] and "updates only through an insert" in logged[0]


def test_a_row_the_plain_statement_refuses_too_is_named(mariadb_target: MariaDBServer) -> None:
    mariadb_target.execute(
        f"CREATE DATABASE {DB}",
        f"CREATE TABLE {DB}.t (id INT PRIMARY KEY, qty INT, note TEXT, CONSTRAINT qty_ok CHECK (qty <> 666))",
    )
    loader = make_loader(mariadb_target, pool=1)
    try:
        loader.load([ins("t", i, qty=i, note=f"n{i}") for i in range(1, 9)], 0)
        events = [upd("t", i, {"qty"}, qty=666 if i == 5 else 100 + i, note="") for i in range(1, 9)]
        with pytest.raises(LoadError) as info:
            loader.load(events, 0)
    finally:
        loader.close()
    message = str(info.value)
    assert "`lt`.`t`" in message and "row with key id=5" in message, message
    assert "(4025)" in message and "qty_ok" in message, message
    # rolled back whole: no row of the batch stays changed
    assert mariadb_target.execute(f"SELECT id, qty FROM {DB}.t ORDER BY id") == [(i, i) for i in range(1, 9)]
