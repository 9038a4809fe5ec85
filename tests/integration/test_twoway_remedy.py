"""Two-way remedy details: remedy_delay_threshold (logged image vs re-read), primary-key changes sent back
whole, and a DDL echo skip that survives a restart of the reverse pipeline."""

import time

import attrs
import pytest
import yaml

from otter_core.engine.back_query import remedy
from otter_core.model import DataMediaSource, EventData, EventType, Hint
from otter_core.testing.harness import running
from otter_mysql.row_reader import MySQLRowReader
from tests.integration.test_twoway import make_tables, otter_run_init, rows, twoway_yaml, wait_for, wait_quiet

pytestmark = pytest.mark.usefixtures("clean_databases")


@pytest.fixture
def reader(mariadb_source):
    config = mariadb_source.source_config("a")
    source = DataMediaSource("a", "mysql", config["host"], config["port"], config["user"], config["password"])
    found = MySQLRowReader(source)
    yield found
    found.close()


def logged_update(age, now, **changes):
    event = EventData(
        "shop",
        "t",
        EventType.UPDATE,
        {"id": 1},
        {"status": "logged", "amount": 3},
        updated=frozenset({"status"}),
        execute_time=now - age,
        hints=frozenset({Hint.REMEDY}),
        old_columns={"status": "before", "amount": 3},
    )
    return attrs.evolve(event, **changes)


def test_a_young_remedy_sends_the_logged_image_whole(mariadb_source, reader):
    make_tables(mariadb_source)
    mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'current', 5)")
    now = time.time()
    (sent,) = remedy(reader, [logged_update(5, now)], threshold=60, now=now)
    assert sent.event_type is EventType.UPDATE and sent.columns == {"status": "logged", "amount": 3}
    assert sent.updated == {"status", "amount"} and Hint.REREAD not in sent.hints  # every column, as logged


def test_an_old_remedy_rereads_the_row_or_deletes_it(mariadb_source, reader):
    make_tables(mariadb_source)
    mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'current', 5)")
    now = time.time()
    present, gone = remedy(
        reader, [logged_update(5, now), logged_update(5, now, keys={"id": 2})], threshold=1, now=now
    )
    assert present.event_type is EventType.INSERT and present.columns == {"status": "current", "amount": 5}
    assert gone.event_type is EventType.DELETE and gone.keys == {"id": 2}
    assert Hint.REREAD in present.hints and present.old_columns is None


def test_an_old_remedy_of_a_key_change_also_settles_the_old_key(mariadb_source, reader):
    make_tables(mariadb_source)
    mariadb_source.execute("INSERT INTO shop.t VALUES (1, 'current', 5)")
    now = time.time()
    old_key, new_key = remedy(reader, [logged_update(5, now, old_keys={"id": 9})], threshold=0, now=now)
    assert (old_key.event_type, old_key.keys) == (EventType.DELETE, {"id": 9})
    assert (new_key.event_type, new_key.keys) == (EventType.INSERT, {"id": 1})


@pytest.mark.parametrize("threshold", [60, 0], ids=["logged-image", "re-read"])
def test_home_sends_a_key_change_back_without_leaving_the_old_key(
    mariadb_source, mariadb_target, tmp_path, threshold
):
    """A transaction on home that carries the channel's mark (as b-to-a's loader writes it) and changes a
    primary key: the remedy must delete the old key on the far side, not only write the new one."""
    a, b = mariadb_source, mariadb_target
    make_tables(a, b)
    otter_run_init(a, b, tmp_path)
    doc = yaml.safe_load(twoway_yaml(a, b, home=True))
    doc["channels"][0]["pipelines"][0]["parameters"]["remedy_delay_threshold"] = threshold
    with running(yaml.safe_dump(doc), str(tmp_path / "state")) as runner:
        a.execute("INSERT INTO shop.t VALUES (1, 'x', 1)")
        wait_for(lambda: rows(b) == [(1, "x", 1)], runner, what="row on b")
        conn = a.connect(autocommit=False)
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO retl.retl_mark VALUES (7, 'ab', 'b-to-a', 1, NOW(6)) "
                "ON DUPLICATE KEY UPDATE seq = seq + 1"
            )
            cur.execute("UPDATE shop.t SET id = 5 WHERE id = 1")
        conn.commit()
        conn.close()
        wait_for(lambda: rows(b) == [(5, "x", 1)], runner, what="key change on b")
        wait_quiet(runner, a, b)
    assert rows(a) == rows(b) == [(5, "x", 1)]


def test_a_restart_between_the_ddl_record_and_its_ddl_still_skips_the_echo(
    mariadb_source, mariadb_target, tmp_path
):
    """b-to-a acked a position after a-to-b's retl_ddl record on b but before the DDL itself; after a
    restart it must still recognise the DDL as the channel's own and not send it back to a."""
    from otter_mysql import retl

    a, b = mariadb_source, mariadb_target
    make_tables(a, b)
    otter_run_init(a, b, tmp_path)
    text, state = twoway_yaml(a, b), str(tmp_path / "state")
    ddl = "ALTER TABLE shop.t ADD COLUMN note VARCHAR(10)"
    with running(text, state) as runner:
        b.execute(
            retl.DDL_RECORD_SQL, args=(retl.ddl_hash("shop", ddl), "ab")
        )  # what a-to-b's loader commits first
        b.execute("INSERT INTO shop.t VALUES (1, 'after-record', 1)")  # moves b-to-a's acked position past it
        wait_for(lambda: rows(a) == [(1, "after-record", 1)], runner, what="row on a")
        wait_quiet(runner, a, b, quiet=1.0)
    a.execute(ddl)  # the far side's change a-to-b is applying ...
    conn = b.connect()
    with conn.cursor() as cur:
        cur.execute("USE shop")
        cur.execute(ddl)  # ... and its DDL on b, while b-to-a is down
    retl.note_ddl_done(conn, retl.ddl_hash("shop", ddl), "ab")
    # a-to-b replaying the DDL finds it applied and undoes its new record, here before b-to-a restarts
    # (the order that made this test flaky): the earlier record must survive for b-to-a's restart
    retl.forget_ddl(conn, retl.record_ddl(conn, "shop", ddl, "ab"), "b")
    conn.close()
    file, pos = a.binlog_position()
    with running(text, state) as runner:
        b.execute("INSERT INTO shop.t VALUES (2, 'later', 2, 'n')")
        wait_for(lambda: len(rows(a)) == 2, runner, what="later row on a")
        wait_quiet(runner, a, b, quiet=1.0)
        assert runner.pipelines[1].stats.last_error in (None, "")
    assert rows(a) == rows(b) == [(1, "after-record", 1, None), (2, "later", 2, "n")]
    # an echo would have made b-to-a's loader record the DDL on a (then forget it, as a already had it)
    since = a.execute(f"SHOW BINLOG EVENTS IN '{file}' FROM {pos}")
    assert not [e for e in since if "retl_ddl" in str(e[-1]) or "ALTER" in str(e[-1]).upper()]
