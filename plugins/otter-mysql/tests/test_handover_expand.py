"""The runner's expansion of hand-over transactions: a whole transaction's raw rows events decoded and
built in one call of the extension, equal to the chunk by chunk path, which keeps errors and hints."""

from __future__ import annotations

import attrs
import pytest
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent
from selector_support import read_rows_events, table_schemas

from otter_core.spi import EventType, Hint, Position, SourceError, Transaction
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql import handover, rowops
from otter_mysql.rowcodec import DELETE, UPDATE, WRITE

pytestmark = pytest.mark.usefixtures("clean_databases")
DB = "expand_db"
KINDS = {
    WriteRowsEvent: (WRITE, EventType.INSERT),
    UpdateRowsEvent: (UPDATE, EventType.UPDATE),
    DeleteRowsEvent: (DELETE, EventType.DELETE),
}
SBTEST = "id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL"
PRICES = "id INT, sku VARCHAR(20), price DECIMAL(10,2), at DATETIME(3), note TEXT, PRIMARY KEY (id, sku)"


def oltp_backlog(server: MariaDBServer) -> list[tuple]:
    """sysbench-like transactions on two tables, then their rows events as the selector process hands them
    over: ``(table, table-map columns, raw chunk)`` each, one transaction's chunks per list."""
    server.execute(
        f"CREATE DATABASE {DB}",
        f"CREATE TABLE {DB}.sbtest1 ({SBTEST}) CHARSET utf8mb4",
        f"CREATE TABLE {DB}.prices ({PRICES}) CHARSET utf8mb4",
        f"INSERT INTO {DB}.sbtest1 VALUES (1, 10, 'c1', 'p1'), (2, 20, 'c2', 'p2'), (3, 30, 'ç3', 'p3')",
        f"INSERT INTO {DB}.prices VALUES (1, 'a', 1.50, '2024-01-02 03:04:05.678', 'n'), (2, 'b', NULL, NULL, '')",
    )
    start = server.binlog_position()
    server.execute(
        f"UPDATE {DB}.sbtest1 SET k = k + 1 WHERE id = 1",
        f"UPDATE {DB}.sbtest1 SET c = 'é-changed' WHERE id = 3",
        f"DELETE FROM {DB}.sbtest1 WHERE id = 2",
        f"INSERT INTO {DB}.sbtest1 VALUES (2, 21, 'c2-again', 'p2')",
        f"UPDATE {DB}.prices SET price = 2.25, at = NULL WHERE id = 1",
        f"UPDATE {DB}.prices SET sku = 'bb' WHERE id = 2",  # a key change: old_keys set
        f"INSERT INTO {DB}.prices VALUES (3, 'c', 9.99, '2025-05-05 05:05:05.5', REPEAT('x', 300))",
    )
    out = []
    for ev, columns, body in read_rows_events(server, start, 4323, list(KINDS)):
        kind, etype = KINDS[type(ev)]
        raw = (
            ev.table,
            kind,
            ev.columns_present_bitmap,
            getattr(ev, "columns_present_bitmap2", None),
            body,
            start[0],
            ev.packet.log_pos,
        )
        out.append((ev.table, columns, (handover.RAW, DB, ev.table, etype, 7.5, raw)))
    assert len(out) == 7
    return out


@pytest.fixture
def backlog(mariadb_source: MariaDBServer) -> tuple[tuple, tuple]:
    """``(codec declarations, chunks)``: idents are the table names (any hashable works)."""
    events = oltp_backlog(mariadb_source)
    tables = table_schemas(mariadb_source, DB, {table for table, _, _ in events})
    codecs = {table: (table, tables[table], columns) for table, columns, _ in events}
    return tuple(codecs.values()), tuple(chunk for _, _, chunk in events)


def txn(codecs: tuple, chunks: tuple, remedy: bool = False, resolution: bool = False) -> Transaction:
    return Transaction(
        (), Position("bin.000001", 900, "0-1-5", 1700000000), 123, (codecs, chunks, remedy, resolution)
    )


def chunk_by_chunk(codecs: tuple, chunks: tuple, **flags) -> Transaction:
    expander = handover.RawExpander("p", skip_errors=False)
    expander._whole = None  # the path every transaction took before
    return expander.expand(txn(codecs, chunks, **flags))


def test_a_transactions_raw_rows_events_are_built_in_one_call(backlog, monkeypatch) -> None:
    """Once its shapes are known, a transaction's rows events are decoded and built by one call of the
    extension (sysbench's OLTP transactions are four 1-row rows events: a Python call per rows event
    cost more than its row); the events equal the chunk by chunk path's, value for value."""
    assert rowops.EXTENSION is not None and handover._NATIVE_TRANSACTION is not None
    codecs, chunks = backlog
    expander = handover.RawExpander("p", skip_errors=False)
    first = expander.expand(txn(codecs, chunks))  # shapes seen for the first time: the chunk path
    calls = []
    monkeypatch.setattr(handover, "build_events", lambda *a, **k: calls.append(a) or [])
    again = expander.expand(txn((), chunks))
    assert calls == []
    monkeypatch.undo()
    expected = chunk_by_chunk(codecs, chunks)
    for got in (first, again):
        assert got.events == expected.events and (got.position, got.size) == (
            expected.position,
            expected.size,
        )
        assert [type(e) for e in got.events] == [type(e) for e in expected.events]
        assert [(type(v), repr(v)) for e in got.events for v in (*e.keys.values(), *e.columns.values())] == [
            (type(v), repr(v)) for e in expected.events for v in (*e.keys.values(), *e.columns.values())
        ]
    kinds = [(e.table, e.event_type, e.old_keys) for e in again.events]
    assert kinds == [
        ("sbtest1", EventType.UPDATE, None),
        ("sbtest1", EventType.UPDATE, None),
        ("sbtest1", EventType.DELETE, None),
        ("sbtest1", EventType.INSERT, None),
        ("prices", EventType.UPDATE, None),
        ("prices", EventType.UPDATE, {"id": 2, "sku": "b"}),
        ("prices", EventType.INSERT, None),
    ]
    assert again.events[1].updated == frozenset({"c"}) and again.events[3].columns["c"] == "c2-again"
    assert all(e.execute_time == 7.5 and e.position is again.position for e in again.events)
    assert all(e.hints == frozenset() and e.files == () and e.old_columns is None for e in again.events)


def test_errors_and_hints_stay_with_the_chunk_path(backlog) -> None:
    """A body that does not decode is named (table, binlog position) or reject-logged as before; a sent
    back (REMEDY) or resolved transaction keeps its hint; conflict detection keeps its before images."""
    codecs, chunks = backlog
    expander = handover.RawExpander("p", skip_errors=False)
    expander.expand(txn(codecs, chunks))
    kind, schema, table, etype, ts, raw = chunks[0]
    broken = (kind, schema, table, etype, ts, (*raw[:4], raw[4][:-3], *raw[5:]))
    with pytest.raises(SourceError, match=rf"UPDATE row of {DB}\.sbtest1 at {raw[5]}:{raw[6]}"):
        expander.expand(txn((), (chunks[1], broken)))
    skipping = handover.RawExpander("p", skip_errors=True)
    skipping.expand(txn(codecs, chunks))
    rejected = skipping.expand(txn((), (chunks[1], broken))).events
    assert rejected[0] == chunk_by_chunk(codecs, chunks[1:2]).events[0]
    assert [h.startswith(Hint.SELECT_REJECTED.value) for h in rejected[1].hints] == [True]
    for flags, hint in (({"remedy": True}, Hint.REMEDY), ({"resolution": True}, Hint.CONFLICT_RESOLUTION)):
        events = expander.expand(txn((), chunks, **flags)).events
        assert events == chunk_by_chunk(codecs, chunks, **flags).events
        assert all(e.hints == frozenset({hint}) for e in events)
    detecting = handover.RawExpander("p", skip_errors=False, before=True)
    detecting.expand(txn(codecs, chunks))
    events = detecting.expand(txn((), chunks)).events
    assert events[0].old_columns is not None and events[0].old_columns["k"] == 10
    assert events[2].old_columns == events[2].columns


def test_the_hand_over_builds_each_position_with_its_events_in_the_extension(backlog, monkeypatch) -> None:
    """The selector process's pipe carries positions as field tuples; ``row_events_at`` has the extension
    build the ``Position`` with the events (in Python it cost ~0.3-0.6 us per OLTP transaction): equal
    events at an equal position, one instance shared by the transaction's events, and no Python
    ``Position(...)`` call once the shapes are known."""
    assert handover._NATIVE_TRANSACTION_AT is not None
    codecs, chunks = backlog
    expander = handover.RawExpander("p", skip_errors=False)
    at = ("bin.000001", 900, "0-1-5", 1700000000)
    first = expander.row_events_at((codecs, chunks, False, False), at)  # declares codecs: Python's way
    assert first is None or first == chunk_by_chunk(codecs, chunks).events
    expander.expand(txn((), chunks))  # the decoders of every shape made
    with monkeypatch.context() as patched:
        patched.setattr(handover, "Position", None)  # a Python-built position would fail here
        events = expander.row_events_at(((), chunks, False, False), at)
    assert events is not None and events == chunk_by_chunk(codecs, chunks).events
    position = events[0].position
    assert type(position) is Position and position == Position(*at) and hash(position) == hash(Position(*at))
    assert all(e.position is position for e in events)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        position.pos = 1  # still the frozen class
    for flags in ((True, False), (False, True)):  # sent back or resolved: the chunk path, as row_events
        assert expander.row_events_at(((), chunks, *flags), at) is None
