"""Transactions, positions (resume, GTID), DDL, filtering, queue bounds and reconnects of the selector."""

from __future__ import annotations

import time

import pytest
from selector_support import collect, drain, events_of, make_selector

from otter_core.spi import EventType, Position, SourceError
from otter_core.testing.mariadb import MariaDBServer

pytestmark = pytest.mark.usefixtures("clean_databases")


def setup(server: MariaDBServer) -> None:
    server.execute(
        "CREATE DATABASE s1",
        "CREATE TABLE s1.a (id INT PRIMARY KEY, v VARCHAR(20))",
        "CREATE TABLE s1.b (id INT PRIMARY KEY, n INT)",
        "CREATE TABLE s1.other (id INT PRIMARY KEY, n INT)",
    )


def shape(tx) -> list[tuple]:
    return [(e.table, e.event_type, dict(e.keys), dict(e.columns)) for e in tx.events]


def write_workload(server: MariaDBServer) -> None:
    conn = server.connect(autocommit=False)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO s1.a VALUES (1, 'x'), (2, 'y'), (3, 'z')")
        cur.execute("INSERT INTO s1.b VALUES (1, 10), (2, 20)")
        conn.commit()
        cur.execute("INSERT INTO s1.other VALUES (1, 1)")  # unmatched: an empty transaction
        conn.commit()
        cur.execute("UPDATE s1.a SET v = 'w' WHERE id = 2")
        conn.commit()
        cur.execute("DELETE FROM s1.b WHERE id = 1")
        conn.commit()
        cur.execute("UPDATE s1.a SET v = 'q' WHERE id = 3")
        cur.execute("INSERT INTO s1.other VALUES (2, 2)")
        cur.execute("INSERT INTO s1.b VALUES (3, 30)")
        conn.commit()
    conn.close()


def test_transactions_stay_whole_and_resume_neither_loses_nor_repeats(mariadb_source: MariaDBServer) -> None:
    setup(mariadb_source)
    pairs = [("s1", "a"), ("s1", "b")]
    selector = make_selector(mariadb_source, pairs)
    try:
        write_workload(mariadb_source)
        txs = collect(selector, transactions=4, keep_empty=True)
        txs += drain(selector, 0.3)
    finally:
        selector.close()
    full = [t for t in txs if t.events]
    assert [len(t.events) for t in full] == [5, 1, 1, 2]
    assert [e.event_type for e in full[0].events] == [EventType.INSERT] * 5
    assert shape(full[1]) == [("a", EventType.UPDATE, {"id": 2}, {"v": "w"})]
    assert full[1].events[0].updated == frozenset({"v"})
    assert shape(full[2]) == [("b", EventType.DELETE, {"id": 1}, {"n": 10})]
    assert [e.table for e in full[3].events] == ["a", "b"]  # the unmatched row in between is dropped
    assert any(not t.events for t in txs)  # the 'other' transaction still advanced the position
    for tx in txs:
        assert all(e.position == tx.position for e in tx.events)
        assert tx.position.file and tx.position.gtid and tx.position.timestamp > 0
    positions = [(t.position.file, t.position.pos) for t in txs]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert positions[-1] == mariadb_source.binlog_position()
    # resuming from each emitted position yields exactly the transactions after it
    for i, tx in enumerate(full):
        resumed = make_selector(mariadb_source, pairs, position=tx.position)
        try:
            rest = [t for t in drain(resumed, 0.4) if t.events]
        finally:
            resumed.close()
        assert [shape(t) for t in rest] == [shape(t) for t in full[i + 1 :]]
        assert [t.position for t in rest] == [t.position for t in full[i + 1 :]]


def test_start_from_gtid_and_from_file_position(mariadb_source: MariaDBServer) -> None:
    setup(mariadb_source)
    pairs = [("s1", "a"), ("s1", "b")]
    file, pos = mariadb_source.binlog_position()
    write_workload(mariadb_source)
    selector = make_selector(mariadb_source, pairs, start={"kind": "position", "file": file, "pos": pos})
    try:
        full = [t for t in drain(selector, 0.4) if t.events]
    finally:
        selector.close()
    assert [len(t.events) for t in full] == [5, 1, 1, 2]
    gtid = full[0].position.gtid
    for kwargs in ({"start": {"kind": "gtid", "gtid": gtid}}, {"position": Position(gtid=gtid)}):
        selector = make_selector(mariadb_source, pairs, **kwargs)
        try:
            rest = [t for t in drain(selector, 0.4) if t.events]
        finally:
            selector.close()
        assert [shape(t) for t in rest] == [shape(t) for t in full[1:]]
        assert [t.position for t in rest] == [t.position for t in full[1:]]


def test_ddl_emits_an_event_and_refreshes_the_columns(mariadb_source: MariaDBServer) -> None:
    setup(mariadb_source)
    selector = make_selector(mariadb_source, [("s1", "a"), ("s1", "new_*")])
    try:
        mariadb_source.execute("INSERT INTO s1.a VALUES (1, 'x')")
        mariadb_source.execute("ALTER TABLE s1.a ADD COLUMN extra INT DEFAULT 7 AFTER id, DROP COLUMN v")
        mariadb_source.execute("ALTER TABLE s1.other ADD COLUMN z INT")  # unmatched: no DDL event
        mariadb_source.execute("INSERT INTO s1.a VALUES (2, 8)")
        conn = mariadb_source.connect(database="s1")
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE new_t (k VARCHAR(10) NOT NULL, u INT NOT NULL, UNIQUE KEY (u, k))")
            cur.execute("INSERT INTO new_t VALUES ('a', 1)")
            events = events_of(collect(selector, events=5))
            cur.execute("RENAME TABLE new_t TO new_u")
            cur.execute("INSERT INTO new_u VALUES ('b', 2)")
            events += events_of(collect(selector, events=2))
        conn.close()
    finally:
        selector.close()
    assert [(e.event_type, e.table) for e in events] == [
        (EventType.INSERT, "a"),
        (EventType.DDL, "a"),
        (EventType.INSERT, "a"),
        (EventType.DDL, "new_t"),
        (EventType.INSERT, "new_t"),
        (EventType.DDL, "new_t"),
        (EventType.INSERT, "new_u"),
    ]
    assert events[1].ddl_sql.startswith("ALTER TABLE s1.a") and events[1].schema == "s1"
    assert events[2].keys == {"id": 2} and events[2].columns == {"extra": 8}
    assert events[3].schema == "s1" and events[3].ddl_sql.startswith("CREATE TABLE new_t")
    assert events[4].keys == {"u": 1, "k": "a"} and events[4].columns == {}
    assert events[5].ddl_sql == "RENAME TABLE new_t TO new_u" and events[6].keys == {"u": 2, "k": "b"}


def test_rows_of_a_table_dropped_later_give_a_clear_error(mariadb_source: MariaDBServer) -> None:
    """The schema cache holds the current definition: rows read after their table vanished cannot be
    decoded (known limitation; the message says what to do)."""
    setup(mariadb_source)
    mariadb_source.execute("CREATE TABLE s1.gone (id INT PRIMARY KEY)")
    file, pos = mariadb_source.binlog_position()
    mariadb_source.execute("INSERT INTO s1.gone VALUES (1)", "DROP TABLE s1.gone")
    selector = None
    try:  # the reader may meet the row before start() returns (a loaded machine): start raises it then
        with pytest.raises(SourceError, match="rows of s1.gone at .*DROP TABLE.*resync s1.gone"):
            selector = make_selector(
                mariadb_source, [("s1", "*")], start={"kind": "position", "file": file, "pos": pos}
            )
            collect(selector, transactions=1)
    finally:
        if selector is not None:
            selector.close()


def test_retl_schema_needs_an_explicit_pair(mariadb_source: MariaDBServer) -> None:
    setup(mariadb_source)
    mariadb_source.execute(
        "CREATE DATABASE retl", "CREATE TABLE retl.retl_mark (id INT PRIMARY KEY, channel_id INT)"
    )
    wildcard = make_selector(mariadb_source, [("*", "*")])
    explicit = make_selector(mariadb_source, [("retl", "retl_mark")])
    try:
        mariadb_source.execute("INSERT INTO retl.retl_mark VALUES (1, 1)")
        mariadb_source.execute("INSERT INTO s1.a VALUES (1, 'x')")
        got = events_of(collect(wildcard, transactions=1))
        assert [(e.schema, e.table) for e in got] == [("s1", "a")]
        assert [(e.schema, e.table) for e in events_of(collect(explicit, transactions=1))] == [
            ("retl", "retl_mark")
        ]
    finally:
        wildcard.close()
        explicit.close()


def test_empty_transactions_coalesce_and_poll_and_close_are_prompt(mariadb_source: MariaDBServer) -> None:
    setup(mariadb_source)
    selector = make_selector(mariadb_source, [("s1", "a")])
    try:
        started = time.monotonic()
        assert selector.poll(0.3) is None
        assert (
            0.25 <= time.monotonic() - started < 2.0
        )  # waits its timeout, not a batch timeout (loose: busy CI)
        conn = mariadb_source.connect()
        with conn.cursor() as cur:
            for i in range(50):
                cur.execute(f"INSERT INTO s1.other VALUES ({i}, {i})")
        conn.close()
        end, txs = mariadb_source.binlog_position(), []
        deadline = time.monotonic() + 30
        while not txs or (txs[-1].position.file, txs[-1].position.pos) < end:
            assert time.monotonic() < deadline, f"the selector did not reach {end}: {txs[-1:]}"
            txs += drain(selector, 0.3)
        assert len(txs) < 50 and not any(t.events for t in txs)
        assert (txs[-1].position.file, txs[-1].position.pos) == mariadb_source.binlog_position()
    finally:
        started = time.monotonic()
        selector.close()
        selector.close()
        assert time.monotonic() - started < 5.0
    assert not selector._thread.is_alive()


def test_big_transaction_is_kept_whole_and_queue_is_bounded(mariadb_source: MariaDBServer) -> None:
    setup(mariadb_source)
    selector = make_selector(mariadb_source, [("s1", "a")], batch_bytes=1000, memory_limit_bytes=4000)
    try:
        values = ", ".join(f"({i}, 'value-{i}')" for i in range(5000))
        mariadb_source.execute(f"INSERT INTO s1.a VALUES {values}")
        conn = mariadb_source.connect()
        with conn.cursor() as cur:
            for i in range(5000, 5040):
                cur.execute(f"INSERT INTO s1.a VALUES ({i}, 'v')")
        conn.close()
        time.sleep(0.3)
        assert len(selector._queue) <= 2  # the reader waits while the queue is over its byte bound
        [big] = collect(selector, transactions=1)
        assert len(big.events) == 5000 and big.size > selector._queue.max_bytes
        assert len(events_of(collect(selector, transactions=40))) == 40
    finally:
        selector.close()


def test_lost_connection_resumes_from_the_last_transaction(mariadb_source: MariaDBServer) -> None:
    setup(mariadb_source)
    selector = make_selector(mariadb_source, [("s1", "a")])
    try:
        mariadb_source.execute("INSERT INTO s1.a VALUES (1, 'x')")
        assert len(events_of(collect(selector, transactions=1))) == 1
        dumps = [r[0] for r in mariadb_source.execute("SHOW PROCESSLIST") if r[4] == "Binlog Dump"]
        assert dumps
        for thread_id in dumps:
            mariadb_source.root_execute(f"KILL {thread_id}")
        mariadb_source.execute("INSERT INTO s1.a VALUES (2, 'y'), (3, 'z')")
        mariadb_source.execute("INSERT INTO s1.a VALUES (4, 'w')")
        events = events_of(collect(selector, transactions=2))
        assert [e.keys["id"] for e in events] == [2, 3, 4]
        assert drain(selector, 0.3) == []
    finally:
        selector.close()


def test_reader_errors_surface_in_poll(mariadb_source: MariaDBServer) -> None:
    setup(mariadb_source)
    selector = make_selector(mariadb_source, [("s1", "b")])
    try:
        mariadb_source.execute("ALTER TABLE s1.b DROP PRIMARY KEY")
        mariadb_source.execute("INSERT INTO s1.b VALUES (1, 1)")
        with pytest.raises(SourceError, match=r"s1\.b .*has no primary key.*add a primary key"):
            collect(selector, transactions=2)
    finally:
        selector.close()
