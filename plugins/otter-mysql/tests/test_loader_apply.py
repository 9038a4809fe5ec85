"""MySQLLoader against a real MariaDB target: applying, idempotence, field mode, chunking."""

from __future__ import annotations

import datetime
import decimal
import hashlib
import logging
import threading

import pytest
from loader_support import DB, dele, ins, make_loader, upd

from otter_core.spi import EventData, EventType, SyncMode
from otter_core.testing.mariadb import MariaDBServer

pytestmark = pytest.mark.usefixtures("clean_databases")

T_DDL = (
    "CREATE TABLE lt.t (id INT PRIMARY KEY, name VARCHAR(64), qty INT, "
    "price DECIMAL(12,2), at DATETIME, note TEXT)"
)


def setup_db(server: MariaDBServer, *ddl: str) -> None:
    server.execute(f"CREATE DATABASE {DB}", *ddl)


def dump(server: MariaDBServer, table: str = "t") -> list[tuple]:
    return server.execute(f"SELECT * FROM {DB}.{table} ORDER BY 1")


def row(i: int, **over: object) -> dict:
    cols = {
        "name": f"n{i}",
        "qty": i,
        "price": decimal.Decimal(f"{i}.50"),
        "at": datetime.datetime(2024, 1, 2, 3, 4, i % 60),
        "note": "x" * 100,
    }
    cols.update(over)
    return cols


def test_insert_update_delete(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, T_DDL)
    loader = make_loader(mariadb_target)
    try:
        assert loader.load([ins("t", i, **row(i)) for i in range(1, 6)], 0) == 5
        assert loader.load([upd("t", 2, **row(2, name="two")), upd("t", 3, **row(3, qty=30))], 1) == 2
        assert loader.load([dele("t", 4, **row(4)), dele("t", 5, **row(5))], 2) == 2
    finally:
        loader.close()
    got = dump(mariadb_target)
    assert [r[0] for r in got] == [1, 2, 3]
    assert got[1][1] == "two" and got[2][2] == 30
    assert got[0] == (1, "n1", 1, decimal.Decimal("1.50"), datetime.datetime(2024, 1, 2, 3, 4, 1), "x" * 100)
    loader.close()  # twice is fine


def test_applying_twice_and_partial_then_whole_give_same_state(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, T_DDL)
    loader = make_loader(mariadb_target, chunk_rows=7)
    inserts = [ins("t", i, **row(i)) for i in range(50)]
    updates = [upd("t", i, updated={"name"}, **row(i, name=f"u{i}")) for i in range(0, 50, 3)]
    deletes = [dele("t", i, **row(i)) for i in range(0, 50, 5)]
    try:
        for batch in (inserts, updates, deletes):
            loader.load(batch, 0)
        once = dump(mariadb_target)
        for batch in (inserts, updates, deletes):  # the whole sequence again (replay)
            loader.load(batch, 0)
        assert dump(mariadb_target) == once
        mariadb_target.execute(f"DELETE FROM {DB}.t")
        loader.load(inserts[:20], 0)  # a partial earlier apply...
        loader.load(updates[:3], 0)
        for batch in (inserts, updates, deletes):  # ...then the whole batches
            loader.load(batch, 0)
        assert dump(mariadb_target) == once
    finally:
        loader.close()


def test_field_mode_writes_only_updated_columns(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, T_DDL)
    field = make_loader(mariadb_target, SyncMode.FIELD)
    rowmode = make_loader(mariadb_target, SyncMode.ROW)
    try:
        field.load([ins("t", 1, **row(1)), ins("t", 2, **row(2))], 0)
        mariadb_target.execute(f"UPDATE {DB}.t SET qty=99, note='target' WHERE id IN (1, 2)")
        field.load([upd("t", 1, updated={"name"}, **row(1, name="changed"))], 0)
        field.load([upd("t", 2, updated=set(), **row(2, name="ignored"))], 0)  # no-op upsert
        got = dump(mariadb_target)
        assert got[0][1:3] == ("changed", 99) and got[0][5] == "target"
        assert got[1][1:3] == ("n2", 99)
        rowmode.load([upd("t", 1, updated={"name"}, **row(1, name="changed"))], 0)
        assert dump(mariadb_target)[0][1:3] == ("changed", 1)  # row mode writes every column
    finally:
        field.close()
        rowmode.close()


def test_update_of_missing_row_creates_it_whole(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, T_DDL)
    loader = make_loader(mariadb_target, SyncMode.FIELD)
    try:
        loader.load([upd("t", 9, updated={"qty"}, **row(9, qty=900))], 0)
    finally:
        loader.close()
    assert dump(mariadb_target) == [
        (9, "n9", 900, decimal.Decimal("9.50"), datetime.datetime(2024, 1, 2, 3, 4, 9), "x" * 100)
    ]


def test_all_key_and_composite_key_tables(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, "CREATE TABLE lt.link (a INT, `b``x` VARCHAR(8), PRIMARY KEY (a, `b``x`))")
    loader = make_loader(mariadb_target)

    def ev(kind: EventType, a: int, b: str) -> EventData:
        return EventData(DB, "link", kind, keys={"a": a, "b`x": b})

    try:
        batch = [ev(EventType.INSERT, i, s) for i in range(3) for s in ("p", "q'")]
        loader.load(batch, 0)
        loader.load(batch, 0)  # k=k no-op on duplicates
        loader.load([ev(EventType.DELETE, 1, "q'"), ev(EventType.DELETE, 2, "p")], 0)
        loader.load([ev(EventType.DELETE, 1, "q'")], 0)  # deleting again is harmless
    finally:
        loader.close()
    got = mariadb_target.execute(f"SELECT * FROM {DB}.link ORDER BY 1, 2")
    assert got == [(0, "p"), (0, "q'"), (1, "p"), (2, "q'")]


def test_chunking_by_rows_bytes_and_a_16mb_blob(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, "CREATE TABLE lt.b (id INT PRIMARY KEY, data LONGBLOB)")
    big = bytes(range(256)) * (16 * 1024 * 1024 // 256)
    events = [ins("b", i, data=b"small%d" % i) for i in range(5)]
    events.append(ins("b", 5, data=big))
    events += [ins("b", i, data=b"small%d" % i) for i in range(6, 10)]
    loader = make_loader(mariadb_target)
    try:
        assert loader.load(events, 0) == 10
        assert loader.statements_executed == 3  # 5 small | the big one alone | 4 small
        got = mariadb_target.execute(f"SELECT id, LENGTH(data), MD5(data) FROM {DB}.b ORDER BY id")
        assert len(got) == 10
        assert got[5] == (5, len(big), hashlib.md5(big).hexdigest())
        assert got[9][1] == len(b"small9")
    finally:
        loader.close()
    by_rows = make_loader(mariadb_target, chunk_rows=3)
    by_bytes = make_loader(mariadb_target, chunk_bytes=1024)
    try:
        small = [upd("b", i, data=b"y" * 300) for i in range(100, 110)]
        by_rows.load(small, 0)
        # 3+3+3+1 rows: each UPDATE join finds none of the rows, so each chunk is upserted too
        assert by_rows.statements_executed == 4 + 4
        by_bytes.load(small, 0)
        assert by_bytes.statements_executed == 10  # ~600 hex chars a row: one row per statement
    finally:
        by_rows.close()
        by_bytes.close()
    assert mariadb_target.execute(f"SELECT COUNT(*) FROM {DB}.b")[0][0] == 20


def test_session_is_permissive_and_utc(mariadb_target: MariaDBServer) -> None:
    setup_db(
        mariadb_target,
        "CREATE TABLE lt.z (id INT AUTO_INCREMENT PRIMARY KEY, d DATETIME, "
        "ts TIMESTAMP NULL, g INT AS (id * 2) VIRTUAL, s TEXT)",
    )
    loader = make_loader(mariadb_target)
    try:
        loader.load(
            [ins("z", 0, d="0000-00-00 00:00:00", g=123, s="ü😀", ts=datetime.datetime(2024, 1, 1, 0, 0, 0))],
            0,
        )
    finally:
        loader.close()
    got = mariadb_target.execute(
        "SET time_zone='+05:00'", f"SELECT id, CAST(d AS CHAR), ts, g, s FROM {DB}.z"
    )
    # id 0 kept (NO_AUTO_VALUE_ON_ZERO), zero date accepted, TIMESTAMP written as UTC,
    # generated column left out of the statement
    assert got == [(0, "0000-00-00 00:00:00", datetime.datetime(2024, 1, 1, 5, 0), 0, "ü😀")]


def test_parallel_slots(mariadb_target: MariaDBServer) -> None:
    setup_db(mariadb_target, T_DDL)
    loader = make_loader(mariadb_target, pool=4)
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            for start in range(slot * 1000, slot * 1000 + 1000, 250):
                loader.load([ins("t", i, **row(i)) for i in range(start, start + 250)], slot)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loader.close()
    assert not errors
    assert mariadb_target.execute(f"SELECT COUNT(*) FROM {DB}.t")[0][0] == 4000
    with pytest.raises(ValueError):
        loader.load([ins("t", 1, **row(1))], 4)


def test_dry_run_writes_nothing(mariadb_target: MariaDBServer, caplog: pytest.LogCaptureFixture) -> None:
    setup_db(mariadb_target, T_DDL)
    loader = make_loader(mariadb_target, dry_run=True)
    with caplog.at_level(logging.INFO, logger="otter.load"):
        assert loader.load([ins("t", 1, **row(1)), dele("t", 2)], 0) == 0
    loader.close()
    assert dump(mariadb_target) == []
    text = caplog.text
    assert "dry run: would DELETE 1 row(s)" in text and "dry run: would UPSERT 1 row(s)" in text
    assert "INSERT INTO `lt`.`t`" in text
