"""Fencing tokens on a real MariaDB (otter_mysql.fencing): a stale holder's loads cannot commit after a
newer holder took over, and the takeover waits for the stale holder's transaction in flight."""

from __future__ import annotations

import pytest
from loader_support import DB, ins, make_loader

from otter_core.spi import Fenced, LoadError
from otter_core.testing.fencing import assert_takeover_waits
from otter_mysql import fencing

pytestmark = pytest.mark.usefixtures("clean_databases")
PIPELINE = "ch/p"
SELECT = f"SELECT id, v FROM {DB}.f ORDER BY id"


@pytest.fixture
def table(mariadb_target):
    mariadb_target.execute(f"CREATE DATABASE {DB}", f"CREATE TABLE {DB}.f (id INT PRIMARY KEY, v INT)")


def test_a_stale_holder_cannot_load_after_a_newer_one_took_over(mariadb_target, table):
    old, new = make_loader(mariadb_target), make_loader(mariadb_target)
    try:
        old.fence(PIPELINE, 1)
        assert old.load([ins("f", 1, v=10)], 0) == 1
        new.fence(PIPELINE, 2)
        assert new.load([ins("f", 1, v=11)], 0) == 1
        with pytest.raises(Fenced, match="newer holder .*token 2.* holds 1"):
            old.load([ins("f", 1, v=10), ins("f", 2, v=20)], 1)
        with pytest.raises(Fenced):
            old.fence(PIPELINE, 1)  # a retry of the stale stage cannot take over again
        assert mariadb_target.execute(SELECT) == [(1, 11)]
        assert mariadb_target.execute("SELECT pipeline, token FROM retl.retl_fence") == [(PIPELINE, 2)]
    finally:
        old.close()
        new.close()


def test_the_takeover_waits_for_the_stale_holders_transaction_in_flight(mariadb_target, table):
    """The stale holder checked its token and wrote, but has not committed (stuck on a lock, say): the new
    holder's takeover waits until that transaction ends, so its own loads come after it, never before."""
    old = make_loader(mariadb_target)
    new = make_loader(mariadb_target)
    stale = mariadb_target.connect(autocommit=False)
    try:
        old.fence(PIPELINE, 1)
        with stale.cursor() as cur:  # what an in-flight load transaction of the old holder has done so far
            fencing.check(cur, "target", PIPELINE, 1)
            cur.execute(f"INSERT INTO {DB}.f VALUES (1, 10)")
        assert_takeover_waits(lambda: new.fence(PIPELINE, 2), stale.commit)
        assert new.load([ins("f", 1, v=11)], 0) == 1
        assert mariadb_target.execute(SELECT) == [(1, 11)]
    finally:
        stale.close()
        old.close()
        new.close()


def test_a_token_lowered_by_hand_makes_the_load_retry(mariadb_target, table):
    loader = make_loader(mariadb_target)
    try:
        loader.fence(PIPELINE, 5)
        mariadb_target.execute("DELETE FROM retl.retl_fence")
        with pytest.raises(LoadError, match="changed by hand") as raised:
            loader.load([ins("f", 1, v=1)], 0)
        assert raised.value.retryable and not isinstance(raised.value, Fenced)
        assert mariadb_target.execute(SELECT) == []
    finally:
        loader.close()
