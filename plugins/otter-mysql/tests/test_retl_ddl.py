"""The ``retl_ddl`` record of a DDL across replays: what the loader leaves after a DDL that was already
applied, and what a reverse selector restarted later takes from it (on a real MariaDB)."""

from __future__ import annotations

import pytest

from otter_core.spi import SourceError
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql import retl

pytestmark = pytest.mark.usefixtures("clean_databases")

DDL = "ALTER TABLE shop.t ADD COLUMN note VARCHAR(10)"


def record_row(conn, digest: str) -> tuple | None:
    with conn.cursor() as cur:
        cur.execute("SELECT gtid FROM retl.retl_ddl WHERE hash = %s AND channel = 'ab'", (digest,))
        found = cur.fetchone()
    conn.commit()
    return found


def apply(conn, sql: str) -> str:
    """Record, run and note a DDL as the loader does; the GTID it ran under."""
    record = retl.record_ddl(conn, "shop", sql, "ab")
    with conn.cursor() as cur:
        cur.execute(sql)
    retl.note_ddl_done(conn, record.digest, "ab")
    return record_row(conn, record.digest)[0]


@pytest.fixture
def conn(mariadb_target: MariaDBServer):
    mariadb_target.execute("CREATE DATABASE shop", "CREATE TABLE shop.t (id INT PRIMARY KEY)")
    found = mariadb_target.connect()
    retl.ensure_tables(found, "target", SourceError)
    yield found
    found.close()


def test_a_replayed_ddl_found_applied_puts_the_earlier_record_back(conn):
    resume = _last_gtid(conn)
    gtid = apply(conn, DDL)
    assert gtid and gtid != resume
    again = retl.record_ddl(conn, "shop", DDL, "ab")  # a replay after a crash: the DDL fails with 1060
    assert again.previous_gtid == gtid and record_row(conn, again.digest) == (None,)
    retl.forget_ddl(conn, again, "target")
    assert record_row(conn, again.digest) == (gtid,)
    # a reverse selector restarted before the DDL still skips its echo; one restarted after it does not
    before, after = retl.LoopbackTracker("ab", home=False), retl.LoopbackTracker("ab", home=False)
    assert before.preload(conn, resume) == 1 and before.is_echo("shop", DDL)
    assert after.preload(conn, gtid) == 0 and not after.is_echo("shop", DDL)


def test_a_first_record_of_a_failed_ddl_is_deleted(conn):
    record = retl.record_ddl(conn, "shop", "ALTER TABLE shop.missing ADD COLUMN x INT", "ab")
    assert record.previous_gtid is None and record_row(conn, record.digest) == (None,)
    retl.forget_ddl(conn, record, "target")
    assert record_row(conn, record.digest) is None


def test_the_reverse_selector_drops_a_pending_echo_when_the_record_gets_a_gtid():
    tracker = retl.LoopbackTracker("ab", home=False)
    digest = retl.ddl_hash("shop", DDL)
    key = {"hash": digest, "channel": "ab"}
    tracker.on_rows(retl.DDL_TABLE, False, [(key, {"gtid": None})], 1.0)  # the loader's record
    assert digest in tracker.ddl_echoes
    tracker.on_rows(retl.DDL_TABLE, False, [(key, {"gtid": "0-2-9"})], 2.0)  # put back: no DDL follows
    assert not tracker.is_echo("shop", DDL)
    tracker.on_rows(retl.DDL_TABLE, False, [({**key, "channel": "ba"}, {"gtid": None})], 3.0)
    assert not tracker.ddl_echoes  # another channel's record is not ours to skip


def _last_gtid(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT @@gtid_binlog_pos")
        return cur.fetchone()[0]
