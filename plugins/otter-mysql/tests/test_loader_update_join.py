"""Field-mode UPDATEs sent as an UPDATE joined to a table value constructor (otter_mysql.load_plan),
against a real MariaDB: the same target state as the upsert, the upsert for rows the join misses."""

from __future__ import annotations

import datetime
import decimal

import attrs
import pytest
from loader_support import DB, ins, make_loader, upd

from otter_core.spi import EventData, EventType, SyncMode
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql.load_plan import _has_value_constructors
from otter_mysql.loader import MySQLLoader

pytestmark = pytest.mark.usefixtures("clean_databases")

TYPES = (
    "(id BIGINT PRIMARY KEY, name VARCHAR(64) CHARACTER SET latin1, qty INT, price DECIMAL(30,10), "
    "at DATETIME(6), d DATE, note TEXT, data BLOB, f DOUBLE, e ENUM('a','b'), j JSON, "
    "g INT AS (qty * 2) VIRTUAL)"
)


def whole(i: int, **over: object) -> dict:
    cols = {
        "name": f"n{i}",
        "qty": i,
        "price": decimal.Decimal(f"{i}.0000000001"),
        "at": datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
        "d": datetime.date(2024, 2, 29),
        "note": 'it\'s\\ a "note"\n',
        "data": bytes(range(256)),
        "f": 1.5,
        "e": "a",
        "j": '{"k": 1}',
    }
    cols.update(over)
    return cols


CHANGES = {
    "name": "Ä'ö",
    "qty": -7,
    "price": decimal.Decimal("-12345678901234567890.0123456789"),
    "at": datetime.datetime(1999, 12, 31, 23, 59, 59, 999999),
    "d": None,
    "note": "",
    "data": b"\x00'\\",
    "f": -0.25,
    "e": "b",
    "j": '[1, "two", null]',
}


def state(server: MariaDBServer, table: str) -> list[tuple]:
    return server.execute(f"SELECT * FROM {DB}.{table} ORDER BY id")


def test_join_gives_the_upserts_state_for_every_type(mariadb_target: MariaDBServer) -> None:
    mariadb_target.execute(
        f"CREATE DATABASE {DB}", f"CREATE TABLE {DB}.a {TYPES}", f"CREATE TABLE {DB}.u {TYPES}"
    )
    joined = make_loader(mariadb_target)
    upserted = make_loader(mariadb_target, pool=1)
    upserted.update_join = False
    try:
        for loader, table in ((joined, "a"), (upserted, "u")):
            loader.load([ins(table, i, **whole(i)) for i in range(1, 13)], 0)
            # one column changes per row (one statement shape each), the last row changes them all
            events = [
                upd(table, i, {name}, **whole(i, **{name: value}))
                for i, (name, value) in enumerate(CHANGES.items(), start=1)
            ]
            events.append(upd(table, 12, set(CHANGES), **whole(12, **CHANGES)))
            before = loader.statements_executed
            assert loader.load(events, 0) == len(events)
            sent = loader.statements_executed - before
            assert sent == len(events)  # one per shape: the join found every row (no upsert after it)
    finally:
        joined.close()
        upserted.close()
    got, expected = state(mariadb_target, "a"), state(mariadb_target, "u")
    assert got == expected
    assert got[11][1:11] == (
        "Ä'ö",
        -7,
        decimal.Decimal("-12345678901234567890.0123456789"),
        datetime.datetime(1999, 12, 31, 23, 59, 59, 999999),
        None,
        "",
        b"\x00'\\",
        -0.25,
        "b",
        '[1, "two", null]',
    )
    assert got[1][2] == -7 and got[1][1] == "n2"  # only the updated column changed


def test_plan_uses_the_join_only_where_it_may(mariadb_target: MariaDBServer) -> None:
    mariadb_target.execute(
        f"CREATE DATABASE {DB}",
        f"CREATE TABLE {DB}.i (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {DB}.s (id VARCHAR(8) PRIMARY KEY, v INT)",
    )
    loader = make_loader(mariadb_target)
    try:
        conn = loader._slot(0).conn
        assert _has_value_constructors(conn)
        moved = EventData(
            DB,
            "i",
            EventType.UPDATE,
            keys={"id": 9},
            columns={"v": 1},
            old_keys={"id": 8},
            updated=frozenset({"v"}),
        )
        kinds = [
            g.kind
            for g in loader._plan(
                [
                    upd("i", 1, {"v"}, v=1),  # integer key: join
                    EventData(
                        DB,
                        "s",
                        EventType.UPDATE,
                        keys={"id": "x"},
                        columns={"v": 1},
                        updated=frozenset({"v"}),
                    ),  # string key: upsert
                    moved,  # key changed: upsert
                    ins("i", 2, v=2),  # insert: upsert
                ],
                conn,
            )
        ]
        assert kinds == ["UPDATE", "UPSERT", "UPSERT", "UPSERT"]
        joined = loader._plan([upd("i", 1, {"v"}, v=1)], conn)[0]
        # the empty SELECT of the target's own columns types the values (see dialect.update_join_parts)
        assert joined.head == "UPDATE (SELECT `id`,`v` FROM `lt`.`i` WHERE 0 UNION ALL VALUES "
        assert joined.tail == (
            ") AS `v` STRAIGHT_JOIN `lt`.`i` AS `t` FORCE INDEX (PRIMARY) ON `t`.`id`=`v`.`id` "
            "SET `t`.`v`=`v`.`v`"
        )
        explain = mariadb_target.execute("EXPLAIN " + joined.head + "(1,5),(2,6)" + joined.tail)
        assert [(row[2], row[3]) for row in explain if row[2] == "t"] == [("t", "eq_ref")]  # by key, no scan
        assert joined.fallback is not None and joined.fallback.kind == "UPSERT"
        loader.update_join = False
        assert [g.kind for g in loader._plan([upd("i", 1, {"v"}, v=1)], conn)] == ["UPSERT"]
        row_mode = make_loader(mariadb_target, sync_mode=SyncMode.ROW)
        try:
            assert [g.kind for g in row_mode._plan([upd("i", 1, {"v"}, v=1)], row_mode._slot(0).conn)] == [
                "UPSERT"
            ]
        finally:
            row_mode.close()
    finally:
        loader.close()


def test_rows_missing_on_the_target_are_upserted_whole(mariadb_target: MariaDBServer) -> None:
    mariadb_target.execute(f"CREATE DATABASE {DB}", f"CREATE TABLE {DB}.a {TYPES}")
    loader = make_loader(mariadb_target, chunk_rows=4)
    try:
        loader.load([ins("a", i, **whole(i)) for i in range(1, 11, 2)], 0)  # odd ids exist
        events = [upd("a", i, {"qty"}, **whole(i, qty=100 + i)) for i in range(1, 11)]
        before = loader.statements_executed
        assert loader.load(events, 0) == 10
        # chunks of 4, 4, 2 rows: each join misses the even ids, so each chunk is upserted after it
        assert loader.statements_executed - before == 6
        again = loader.statements_executed
        assert loader.load(events, 0) == 10  # a replay: every row is there now, joins only
        assert loader.statements_executed - again == 3
    finally:
        loader.close()
    got = state(mariadb_target, "a")
    assert [r[0] for r in got] == list(range(1, 11))
    assert [r[2] for r in got] == [100 + i for i in range(1, 11)]
    assert got[1][1] == "n2" and got[1][6] == whole(2)["note"]  # a missing row arrives whole


def test_target_option_turns_the_join_off(mariadb_target: MariaDBServer) -> None:
    mariadb_target.execute(f"CREATE DATABASE {DB}", f"CREATE TABLE {DB}.i (id INT PRIMARY KEY, v INT)")
    default = make_loader(mariadb_target)
    switched = MySQLLoader(attrs.evolve(default.target, options={"update_join": "false"}), default.pipeline)
    try:
        assert default.update_join and not switched.update_join
        conn = switched._slot(0).conn
        assert [g.kind for g in switched._plan([upd("i", 1, {"v"}, v=1)], conn)] == ["UPSERT"]
    finally:
        default.close()
        switched.close()
