"""The compiled decoder and the generated-Python fallback give the same rows, value for value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent
from selector_support import read_rows_events, table_schemas
from test_selector_types import COLUMNS, DB, ROWS, write_source_rows

from otter_core.testing.mariadb import MariaDBServer
from otter_mysql import rowops
from otter_mysql.rowcodec import DELETE, UPDATE, WRITE, RowCodec

pytestmark = pytest.mark.usefixtures("clean_databases")
KINDS = {WriteRowsEvent: WRITE, UpdateRowsEvent: UPDATE, DeleteRowsEvent: DELETE}


def raw_rows_events(server: MariaDBServer, start: tuple[str, int]) -> list[tuple]:
    """(kind, table-map columns, bitmaps, body) of every rows event after ``start``."""
    return [
        (
            KINDS[type(ev)],
            columns,
            ev.columns_present_bitmap,
            getattr(ev, "columns_present_bitmap2", None),
            body,
        )
        for ev, columns, body in read_rows_events(server, start, 4322, list(KINDS))
    ]


def typed(rows: list) -> list:
    """Rows with each value as (type name, repr): Decimal('1.50') and Decimal('1.5') differ."""

    def value(v):
        if isinstance(v, dict):
            return [(k, type(x).__name__, repr(x)) for k, x in v.items()]
        return (type(v).__name__, repr(v))

    return [tuple(value(v) for v in row) for row in rows]


def test_compiled_and_python_decoders_agree_value_for_value(mariadb_source: MariaDBServer) -> None:
    assert rowops.BUILT is not None, "the otter_mysql._rowdecode extension did not build"
    mariadb_source.execute(f"CREATE DATABASE {DB}", f"CREATE TABLE {DB}.t ({COLUMNS}) CHARSET utf8mb4")
    start = mariadb_source.binlog_position()
    write_source_rows(mariadb_source, "t")
    # every column takes the next row's value (the compiled decoder finds changed columns by their bytes,
    # the Python one by value: the updated sets must agree for every type), then the key changes
    names = [
        name
        for (name,) in mariadb_source.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 't' "
            "AND EXTRA NOT LIKE '%%GENERATED%%' AND COLUMN_NAME <> 'id'",
            args=(DB,),
        )
    ]
    count = len(ROWS)
    mariadb_source.execute(
        f"CREATE TABLE {DB}.copy AS SELECT * FROM {DB}.t",
        f"UPDATE {DB}.t AS a JOIN {DB}.copy AS b ON b.id = a.id % {count} + 1 SET "
        + ", ".join(f"a.{n} = b.{n}" for n in names),
        f"UPDATE {DB}.t SET id = id + 10, vc = 'changed'",
        f"DELETE FROM {DB}.t",
    )
    events = raw_rows_events(mariadb_source, start)
    assert {kind for kind, *_ in events} == {WRITE, UPDATE, DELETE}
    table = table_schemas(mariadb_source, DB, ["t"])["t"]
    compiled, python = RowCodec(table, events[0][1]), RowCodec(table, events[0][1])
    python_rows = compiled_rows = most_changed = 0
    for kind, _, bitmap, bitmap2, body in events:
        fast = compiled._extension(kind, bitmap, bitmap2)
        slow = python._generate(kind, bitmap, bitmap2)
        assert isinstance(fast, rowops.BUILT.Decoder) and hasattr(slow, "source")
        fast_rows, slow_rows = fast(body), slow(body)
        assert typed(fast_rows) == typed(slow_rows)
        if kind == UPDATE:
            most_changed = max(most_changed, *(len(row[3]) for row in fast_rows))
        compiled_rows += len(fast_rows)
        python_rows += len(slow_rows)
        with pytest.raises(ValueError):
            fast(body[:-1])  # a truncated image is an error, never a short row
    assert compiled_rows == python_rows >= 3 * 5
    assert most_changed >= 40  # the rotation changed (nearly) every column of some row


def test_the_python_fallback_is_used_without_the_extension() -> None:
    code = (
        "from otter_mysql import rowops; import sys; "
        "sys.exit(0 if rowops.EXTENSION is None and rowops.BUILT is not None else 1)"
    )
    env = {**os.environ, "OTTER_PURE_PYTHON_DECODER": "1"}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_events_built_by_the_extension_equal_constructed_ones() -> None:
    from otter_core.spi import EventType, Position
    from otter_mysql import handover

    assert handover._NATIVE is not None, "the extension should build events here"
    pos = Position("bin.000001", 4, "0-1-2", 1700000000)
    inserts = [({"id": i}, {"a": i * 2, "b": f"x{i}"}, 40 + i) for i in range(3)]
    updates = [
        ({"id": 9}, {"a": 1}, {"id": 8}, frozenset({"a"}), 77),
        ({"id": 5}, {"a": 2}, None, frozenset(), 9),
    ]
    chunks = [
        (WRITE, "s", "t", EventType.INSERT, 1.5, inserts),
        (UPDATE, "s", "t", EventType.UPDATE, 2.5, updates),
        (DELETE, "s", "u", EventType.DELETE, 3.5, inserts[:1]),
        (None, "s", "t", EventType.DDL, 4.0, "ALTER x"),
    ]
    for remedy in (False, True):
        fast = handover.build_events(chunks, pos, remedy, fast=True)
        slow = handover.build_events(chunks, pos, remedy, fast=False)
        assert fast == slow and len(fast) == 7
        assert [type(e) for e in fast] == [type(e) for e in slow]
        assert fast[3].old_keys == {"id": 8} and fast[4].old_keys is None and fast[0].updated == frozenset()


def test_row_chunks_are_built_without_the_constructor(monkeypatch) -> None:
    """The per-chunk template comes from defaults read once: a transaction of sysbench's OLTP backlog has
    four chunks of one row, and constructing a template event per chunk cost more than its rows."""
    from otter_core.spi import EventData, EventType, Position
    from otter_mysql import handover

    calls = []
    init = EventData.__init__

    def counting(self, *args, **kwargs):
        calls.append(args)
        init(self, *args, **kwargs)

    monkeypatch.setattr(EventData, "__init__", counting)
    pos = Position("bin.000001", 4, "0-1-2", 1700000000)
    chunks = [
        (UPDATE, "s", "t", EventType.UPDATE, 1.0, [({"id": 1}, {"a": 1}, None, frozenset({"a"}), 9)]),
        (DELETE, "s", "u", EventType.DELETE, 2.0, [({"id": 1}, {"a": 2}, 8)]),
        (WRITE, "s", "u", EventType.INSERT, 3.0, [({"id": 1}, {"a": 3}, 7)]),
    ]
    events = handover.build_events(chunks, pos)
    assert calls == []
    assert [(e.table, e.event_type, e.execute_time, e.columns["a"], e.size) for e in events] == [
        ("t", EventType.UPDATE, 1.0, 1, 9),
        ("u", EventType.DELETE, 2.0, 2, 8),
        ("u", EventType.INSERT, 3.0, 3, 7),
    ]
    assert all(e.position is pos and e.hints == frozenset() and e.old_columns is None for e in events)


def test_raw_expander_asks_the_codec_once_per_rows_event_shape() -> None:
    """The runner's expander keeps decoders by (ident, kind, bitmaps): one lookup per rows event; a decode
    error still names the table and binlog position."""
    from otter_core.spi import EventType, Position, SourceError, Transaction
    from otter_mysql import handover

    asked = []

    class Codec:
        def decoder(self, kind, bitmap, bitmap2, before):
            asked.append((kind, bitmap))

            def decode(body: bytes) -> list:
                if body == b"bad":
                    raise ValueError("truncated")
                return [({"id": int(body)}, {"a": bitmap.hex()}, len(body))]

            return decode

    expander = handover.RawExpander("p", skip_errors=False)
    expander._codecs[1] = Codec()  # type: ignore[assignment]

    def txn(*bodies: tuple[bytes, bytes]) -> Transaction:
        chunks = tuple(
            (handover.RAW, "s", "t", EventType.INSERT, 1.0, (1, WRITE, bitmap, None, body, "bin.000001", 90))
            for bitmap, body in bodies
        )
        return Transaction((), Position("bin.000001", 100), 10, ((), chunks, False))

    first = expander.expand(txn((b"\x07", b"1"), (b"\x03", b"2")))
    second = expander.expand(txn((b"\x07", b"3"), (b"\x03", b"4"), (b"\x07", b"5")))
    assert [(e.keys["id"], e.columns["a"]) for e in first.events + second.events] == [
        (1, "07"),
        (2, "03"),
        (3, "07"),
        (4, "03"),
        (5, "07"),
    ]
    assert asked == [(WRITE, b"\x07"), (WRITE, b"\x03")]
    with pytest.raises(SourceError, match=r"INSERT row of s\.t at bin\.000001:90: ValueError"):
        expander.expand(txn((b"\x07", b"bad")))
