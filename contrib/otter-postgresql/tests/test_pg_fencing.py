"""Fencing tokens on a real PostgreSQL 15 (otter_postgresql.fencing): a stale holder cannot load after a newer
one took over, and the takeover waits for the stale holder's transaction in flight."""

import pytest
from test_pg_loader import TABLE, ins, make_loader, rows

from otter_core.spi import Fenced, LoadError
from otter_core.testing.fencing import assert_takeover_waits
from otter_postgresql import fencing

PIPELINE = "shop/to-pg"


@pytest.fixture
def orders(clean_postgresql):
    clean_postgresql.execute("CREATE SCHEMA shop", TABLE)
    return clean_postgresql


def test_a_stale_holder_cannot_load_after_a_newer_one_took_over(orders):
    old, new = make_loader(orders), make_loader(orders)
    try:
        old.fence(PIPELINE, 1)
        assert old.load([ins(1, "1.00")], 0) == 1
        new.fence(PIPELINE, 2)
        assert new.load([ins(1, "2.00")], 0) == 1
        with pytest.raises(Fenced, match="newer holder .*token 2.* holds 1"):
            old.load([ins(1, "1.00"), ins(2)], 1)
        with pytest.raises(Fenced):
            old.fence(PIPELINE, 1)
        assert [(r[0], str(r[1])) for r in rows(orders)] == [(1, "2.00")]
        assert orders.execute("SELECT pipeline, token FROM retl.retl_fence") == [(PIPELINE, 2)]
    finally:
        old.close()
        new.close()


def test_the_takeover_waits_for_the_stale_holders_transaction_in_flight(orders):
    import psycopg

    old, new = make_loader(orders), make_loader(orders)
    stale = psycopg.connect(
        host="127.0.0.1", port=orders.port, user="otter", password="otter", dbname="otter"
    )
    try:
        old.fence(PIPELINE, 1)
        with stale.cursor() as cur:  # an in-flight load transaction of the old holder
            fencing.check(cur, "target", PIPELINE, 1)
            cur.execute("INSERT INTO shop.orders (id, amount) VALUES (1, 1)")
        assert_takeover_waits(lambda: new.fence(PIPELINE, 2), stale.commit)
        assert new.load([ins(1, "2.00")], 0) == 1
        assert [(r[0], str(r[1])) for r in rows(orders)] == [(1, "2.00")]
    finally:
        stale.close()
        old.close()
        new.close()


def test_a_token_removed_by_hand_makes_the_load_retry(orders):
    loader = make_loader(orders)
    try:
        loader.fence(PIPELINE, 5)
        orders.execute("DELETE FROM retl.retl_fence")
        with pytest.raises(LoadError, match="changed by hand") as raised:
            loader.load([ins(1)], 0)
        assert raised.value.retryable and not isinstance(raised.value, Fenced)
        assert rows(orders) == []
    finally:
        loader.close()
