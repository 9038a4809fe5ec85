"""The PostgreSQL loader against a real PostgreSQL 15: upserts, COPY bulk loads, deletes, replays,
field mode, loopback marks in the same transaction, errors and DDL."""

import datetime as dt
import socket
from decimal import Decimal

import attrs
import psycopg
import pytest

from otter_core.spi import (
    DataError,
    DataMedia,
    DataMediaPair,
    DataMediaSource,
    EventData,
    EventType,
    LoadError,
    Pipeline,
    PipelineParameters,
)
from otter_postgresql.loader import PostgreSQLLoader

pytestmark = pytest.mark.usefixtures("clean_postgresql")
TABLE = (
    "CREATE TABLE shop.orders (id bigint PRIMARY KEY, amount numeric(10,2), note text, "
    "at timestamp(6), flags bit(4), ok boolean, total numeric GENERATED ALWAYS AS (amount * 2) STORED)"
)


def make_loader(server, copy_min_rows=500, **params):
    target = DataMediaSource(
        "pg",
        "postgresql",
        host="127.0.0.1",
        port=server.port,
        user="otter",
        password="otter",
        options={"database": "otter", "copy_min_rows": copy_min_rows},
    )
    pair = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"))
    return PostgreSQLLoader(
        target,
        Pipeline("to-pg", "src", "pg", (pair,), channel="shop", parameters=PipelineParameters(**params)),
    )


def ins(i, amount="1.00", note="n", kind=EventType.INSERT, **extra):
    return EventData(
        "shop",
        "orders",
        kind,
        {"id": i},
        {
            "amount": Decimal(amount),
            "note": note,
            "at": dt.datetime(2024, 1, 1, 0, 0, 0, i % 1000000),
            "flags": 5,
            "ok": 1,
            "total": None,
            **extra,
        },
    )


def rows(server):
    return server.execute("SELECT id, amount, note, flags, ok, total FROM shop.orders ORDER BY id")


@pytest.fixture
def orders(clean_postgresql):
    clean_postgresql.execute("CREATE SCHEMA shop", TABLE)
    return clean_postgresql


def test_upserts_and_deletes_are_idempotent(orders):
    loader = make_loader(orders)
    batch = [ins(1), ins(2, "2.50", "x"), ins(3)]
    assert loader.load(batch, 0) == 3
    assert loader.load(batch, 0) == 3  # a replay after a crash changes nothing
    update = ins(2, "9.99", "changed", kind=EventType.UPDATE)
    loader.load([attrs.evolve(update, updated=frozenset({"amount", "note"}))], 1)
    loader.load([EventData("shop", "orders", EventType.DELETE, {"id": 3}, {})] * 1, 0)
    loader.load([EventData("shop", "orders", EventType.DELETE, {"id": 3}, {})], 0)  # deleting again: no-op
    loader.close()
    assert rows(orders) == [
        (1, Decimal("1.00"), "n", "0101", True, Decimal("2.00")),
        (2, Decimal("9.99"), "changed", "0101", True, Decimal("19.98")),
    ]


def test_a_bulk_insert_goes_through_copy_and_stays_idempotent(orders):
    loader = make_loader(orders, copy_min_rows=100)
    batch = [ins(i, f"{i}.25") for i in range(1000)]
    orders.execute("INSERT INTO shop.orders (id, amount, note) VALUES (5, 0, 'already there')")
    assert loader.load(batch, 0) == 1000
    assert loader.load(batch, 0) == 1000  # replayed COPY: the stage is merged with ON CONFLICT
    loader.load([ins(i, "7.00") for i in range(2000, 2200)] + [ins(i, "8.00") for i in range(10)], 0)
    loader.close()
    assert orders.execute("SELECT count(*), sum(amount) FROM shop.orders") == [
        (1200, sum(Decimal(f"{i}.25") for i in range(10, 1000)) + 200 * 7 + 10 * 8)
    ]


def test_copy_is_used_for_big_groups(orders, caplog):
    loader = make_loader(orders, copy_min_rows=10)
    statements = []
    loader._copy_upsert = (lambda original: lambda *a: statements.append("copy") or original(*a))(
        loader._copy_upsert
    )
    loader._statements = (lambda original: lambda *a: statements.append("insert") or original(*a))(
        loader._statements
    )
    loader.load([ins(i) for i in range(20)], 0)
    loader.load([ins(i) for i in range(100, 105)], 0)
    loader.close()
    assert statements == ["copy", "insert"]


def test_field_mode_updates_only_changed_columns(orders):
    loader = make_loader(orders, sync_mode="field")
    loader.load([ins(1, "1.00", "keep")], 0)
    orders.execute("UPDATE shop.orders SET note = 'changed on target' WHERE id = 1")
    update = EventData(
        "shop",
        "orders",
        EventType.UPDATE,
        {"id": 1},
        {"amount": Decimal("5.00"), "note": "stale", "at": None, "flags": 0, "ok": 0, "total": None},
        updated=frozenset({"amount"}),
    )
    loader.load([update], 0)
    loader.close()
    assert rows(orders) == [(1, Decimal("5.00"), "changed on target", "0101", True, Decimal("10.00"))]


def test_loopback_mark_is_written_in_the_same_transaction(orders):
    loader = make_loader(orders, loopback_mark=True)
    loader.load([ins(1)], 0)
    loader.load([ins(2)], 0)
    assert orders.execute("SELECT channel_id, channel_info, seq FROM retl.retl_mark") == [
        ("shop", "to-pg", 2)
    ]
    with pytest.raises(LoadError):
        loader.load([ins(3), EventData("shop", "orders", EventType.INSERT, {"id": 4}, {"nope": 1})], 0)
    loader.close()
    assert orders.execute("SELECT seq FROM retl.retl_mark") == [(2,)]  # rolled back with the rows
    assert [r[0] for r in rows(orders)] == [1, 2]


def test_a_missing_table_or_column_is_named_with_the_remedy(orders):
    loader = make_loader(orders)
    with pytest.raises(LoadError, match=r'"shop"."nope" does not exist on pg: create it'):
        loader.load([EventData("shop", "nope", EventType.INSERT, {"id": 1}, {})], 0)
    with pytest.raises(LoadError, match=r'has no column "colour" \(needed by INSERT shop.orders \(id=1\)'):
        loader.load([EventData("shop", "orders", EventType.INSERT, {"id": 1}, {"colour": "red"})], 0)
    loader.close()


def test_a_refused_row_rolls_back_and_names_table_and_row(orders):
    loader = make_loader(orders)
    with pytest.raises(LoadError) as info:
        loader.load([ins(1), ins(2, note="nul \x00 byte")], 0)
    assert "UPSERT into shop.orders" in str(info.value) and "NUL" in str(info.value)
    assert not info.value.retryable
    assert loader.load([ins(1)], 0) == 1  # the connection is usable again
    loader.close()


def test_a_decimal_the_target_would_round_is_refused_naming_column_and_row(orders):
    # amount is numeric(10,2): PostgreSQL itself would store 1.255 as 1.26 without an error
    loader = make_loader(orders, copy_min_rows=2)
    try:
        for rows_ in ([ins(1, "1.255")], [ins(1), ins(2, "-0.001"), ins(3)]):  # by statement, and by COPY
            with pytest.raises(
                DataError, match=r"INSERT shop.orders \(id=\d\).*column 'amount'.*would round it"
            ):
                loader.load(rows_, 0)
        assert rows(orders) == []
        assert loader.load([ins(1, "1.250"), ins(2, "7")], 0) == 2  # trailing zeros and integers fit exactly
        assert [str(r[1]) for r in rows(orders)] == ["1.25", "7.00"]
    finally:
        loader.close()


def test_zero_dates_follow_the_policy(orders):
    loader = make_loader(orders)
    with pytest.raises(DataError, match=r"INSERT shop.orders \(id=1\).*column 'at'.*zero_dates: null"):
        loader.load([ins(1, at="0000-00-00 00:00:00")], 0)
    loader.close()
    loader.target.options["zero_dates"] = "null"
    nulling = make_loader(orders)
    nulling.zero_dates = "null"
    nulling.load([ins(1, at="0000-00-00 00:00:00")], 0)
    nulling.close()
    assert orders.execute("SELECT at FROM shop.orders") == [(None,)]


def test_ddl_is_translated_and_replay_safe(orders):
    loader = make_loader(orders)
    ddl = EventData(
        "shop",
        "orders",
        EventType.DDL,
        ddl_sql="ALTER TABLE orders ADD COLUMN qty INT UNSIGNED NOT NULL DEFAULT 0",
    )
    loader.apply_ddl(ddl)
    loader.apply_ddl(ddl)  # replayed after a crash: already there, skipped
    loader.load([ins(9, qty=4294967295)], 0)
    create = EventData(
        "shop",
        "items",
        EventType.DDL,
        ddl_sql="CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(10)) ENGINE=InnoDB",
    )
    loader.apply_ddl(create)
    loader.apply_ddl(create)
    loader.close()
    assert orders.execute("SELECT qty FROM shop.orders") == [(4294967295,)]
    assert orders.execute("SELECT count(*) FROM shop.items") == [(0,)]


def test_untranslatable_ddl_stops_with_the_remedy(orders):
    loader = make_loader(orders)
    with pytest.raises(LoadError, match="skip_ddl: true.*skip_ddl_exception") as info:
        loader.apply_ddl(EventData("shop", "v", EventType.DDL, ddl_sql="CREATE VIEW v AS SELECT 1"))
    assert not info.value.retryable


def test_a_wrong_password_names_the_target(postgresql_server):
    target = DataMediaSource(
        "pg",
        "postgresql",
        host="127.0.0.1",
        port=postgresql_server.port,
        user="otter",
        password="wrong",
        options={"database": "otter"},
    )
    pair = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"))
    loader = PostgreSQLLoader(target, Pipeline("p", "src", "pg", (pair,)))
    with pytest.raises(
        LoadError, match=r"cannot connect to PostgreSQL target pg .*check host, port, user, password"
    ):
        loader.load([ins(1)], 0)


def pg_target(server, port=None, password="otter"):
    return DataMediaSource(
        "pg",
        "postgresql",
        host="127.0.0.1",
        port=port or server.port,
        user="otter",
        password=password,
        options={"database": "otter", "connect_timeout": 2},
    )


def test_a_wrong_password_is_deterministic_and_a_closed_port_transient(postgresql_server):
    """A wrong password stops the pipeline at once; a target that is down is retried as long as it lasts."""
    pair = DataMediaPair(DataMedia("shop", "orders"), DataMedia("shop", "orders"))
    wrong = PostgreSQLLoader(
        pg_target(postgresql_server, password="wrong"), Pipeline("p", "src", "pg", (pair,))
    )
    with pytest.raises(LoadError) as info:
        wrong.load([ins(1)], 0)
    assert info.value.error_class == "deterministic"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = PostgreSQLLoader(pg_target(postgresql_server, port=closed), Pipeline("p", "src", "pg", (pair,)))
    with pytest.raises(LoadError) as info:
        down.load([ins(1)], 0)
    assert info.value.error_class == "transient" and f"127.0.0.1:{closed}" in str(info.value)


def test_a_check_constraint_is_deterministic_and_a_lock_timeout_transient(orders):
    orders.execute("ALTER TABLE shop.orders ADD CONSTRAINT small CHECK (amount < 100)")
    loader = make_loader(orders)
    with pytest.raises(LoadError) as info:
        loader.load([ins(1, amount="500.00")], 0)
    assert info.value.error_class == "deterministic" and "small" in str(info.value)
    orders.execute("ALTER ROLE otter SET lock_timeout = '300ms'")
    loader.close()
    blocker = psycopg.connect(
        host="127.0.0.1", port=orders.port, user="otter", password="otter", dbname="otter"
    )
    try:
        blocker.execute("LOCK TABLE shop.orders IN ACCESS EXCLUSIVE MODE")  # held until rollback
        with pytest.raises(LoadError) as info:
            make_loader(orders).load([ins(2)], 0)
        assert info.value.error_class == "transient" and "lock" in str(info.value).lower()
    finally:
        blocker.rollback()
        blocker.close()
        orders.execute("ALTER ROLE otter RESET lock_timeout")
