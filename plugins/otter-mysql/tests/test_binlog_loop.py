"""The compiled event loop (``_native/binlog.c``) against the Python loop of ``binlog_reader``: the same
binlog read by both gives the same transactions, byte for byte, as the selector process sends them
(``defer_decoding``), and the same errors; and the compiled loop is the one that read them."""

from __future__ import annotations

import pickle
import struct
import threading
import time
from decimal import Decimal

import pytest
from selector_support import make_pipeline, make_source
from test_binlog_reader import _packet, _reader, _Sink

from otter_core.engine import select_process
from otter_core.spi import SourceError, Transaction
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql import binlog_reader, handover, rowops
from otter_mysql.binlog_reader import LOOP_ENV, NativeReader
from otter_mysql.selector import MySQLSelector

pytestmark = pytest.mark.usefixtures("clean_databases")
LOOPS = ["compiled", "python"]
EXT = rowops.EXTENSION


class _DeferredSink(_Sink):
    """A sink that leaves decoding to the runner, as in the selector process (the compiled loop's case)."""

    _deferred = True

    def __init__(self) -> None:
        super().__init__()
        self._codecs: dict = {}


def _write_backlog(server: MariaDBServer) -> None:
    """OLTP-like transactions over two matched tables and one that is not, a DDL that changes a table
    map's layout, a rotation, a rolled-back transaction and multi-row statements."""
    server.execute(
        "CREATE DATABASE s1",
        "CREATE TABLE s1.a (id INT PRIMARY KEY, v VARCHAR(20), n BIGINT)",
        "CREATE TABLE s1.b (id INT PRIMARY KEY, d DECIMAL(10,2), t DATETIME(3), blobby BLOB)",
        "CREATE TABLE s1.other (id INT PRIMARY KEY, v INT)",
    )
    for i in range(1, 41):
        server.execute(
            "BEGIN",
            f"INSERT INTO s1.a VALUES ({i}, 'v{i}', {i * 1000})",
            f"INSERT INTO s1.b VALUES ({i}, {i}.25, '2026-12-07 01:02:03.{i:03d}', REPEAT('x', {i * 50}))",
            f"INSERT INTO s1.other VALUES ({i}, {i})",
            f"UPDATE s1.a SET n = n + 1 WHERE id = {max(1, i - 3)}",
            f"DELETE FROM s1.b WHERE id = {max(1, i - 5)}",
            "COMMIT",
        )
    server.execute("ALTER TABLE s1.a ADD COLUMN extra INT DEFAULT 7")
    server.execute("UPDATE s1.a SET extra = id WHERE id < 10", "INSERT INTO s1.a VALUES (100, 'x', 1, 2)")
    server.execute("FLUSH BINARY LOGS")
    server.execute("BEGIN", "INSERT INTO s1.other VALUES (500, 1)", "ROLLBACK")
    server.execute("UPDATE s1.b SET d = d * 2", "DELETE FROM s1.a WHERE id > 30")
    server.execute(
        "INSERT INTO s1.a VALUES " + ", ".join(f"({i}, 'bulk', {i}, NULL)" for i in range(200, 400))
    )


def _settled_end(server: MariaDBServer) -> tuple[str, int]:
    """The binlog's end once the server stopped writing to it: MariaDB writes a Binlog_checkpoint event
    some time after a commit, so an end read at once may be 43 bytes short of where a later read ends."""
    end, deadline = server.binlog_position(), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = server.binlog_position()
        if now == end:
            return end
        end = now
    return end


def _read_deferred(
    server: MariaDBServer,
    start: dict,
    end: tuple[str, int],
    loop: str,
    monkeypatch: pytest.MonkeyPatch,
    runs: list[int] | None = None,
) -> tuple[list[Transaction], int]:
    """Every transaction (position-only ones too) up to ``end``, as the selector process gets them, and
    how many events the Python loop's handler (``NativeReader._event``) saw. ``runs``: the scan packs
    plain transactions (as once the hand-over packs); each run is unpacked to the plain transactions
    the hand-over gives the runner, and its size appended to ``runs``."""
    monkeypatch.setenv(LOOP_ENV, loop)
    seen = [0]
    event = NativeReader._event

    def counting(self: NativeReader, sink: object, data: bytes) -> bool:
        seen[0] += 1
        return event(self, sink, data)

    monkeypatch.setattr(NativeReader, "_event", counting)
    selector = MySQLSelector(make_source(server), make_pipeline([("s1", "a"), ("s1", "b")], start))
    selector.defer_decoding()
    if runs is not None:
        assert selector.pack_handover([], "packed") == [] and selector._scan_runs
    selector.start(None)
    out: list[Transaction] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            tx = selector.poll(0.2)
            if tx is not None and tx.raw is not None and tx.raw[0] == handover.RUN:
                assert runs is not None
                unpacked = _unpack_run(tx)
                runs.append(len(unpacked))
                assert unpacked[-1].position == tx.position and sum(t.size for t in unpacked) == tx.size
                out.extend(unpacked)
            elif tx is not None and (tx.position.file, tx.position.pos) <= end:
                out.append(tx)
            elif out and (out[-1].position.file, out[-1].position.pos) >= end:
                return out, seen[0]
        raise AssertionError(f"the stream did not reach {end}: {len(out)} transactions read")
    finally:
        selector.close()
        monkeypatch.setattr(NativeReader, "_event", event)


def _unpack_run(tx: Transaction) -> list[Transaction]:
    """A run as the runner gets it: through the pipe, packed (``pack_txns``), unpacked (``unpack_txn``)."""
    items = EXT.pack_txns(
        handover.RAW, "packed", [select_process._plain(tx)], handover.PACK_MAX_BYTES, handover.RUN
    )
    ((tag, payload, offset),) = pickle.loads(pickle.dumps(items, pickle.HIGHEST_PROTOCOL))
    assert tag == "packed" and offset == 0
    out, done = [], False
    while not done:
        item, offset, done = EXT.unpack_txn(handover.RAW, *payload, offset)
        out.append(select_process._transaction(item))
    assert len(out) == tx.raw[3]
    return out


def _write_run_cases(server: MariaDBServer) -> None:
    """Transactions the scan must not pack itself: over PACK_MAX_BYTES of rows, rows of tables the
    pipeline skips only, more than RUN_MAX_WALK bytes of skipped rows before taken ones; around plain
    ones of both tables."""
    server.execute("CREATE TABLE s1.big (id INT PRIMARY KEY, v LONGTEXT)")
    for i in range(1, 6):
        server.execute(
            "BEGIN",
            f"UPDATE s1.a SET v = 'r{i}' WHERE id = {i}",
            f"UPDATE s1.b SET blobby = REPEAT('r', {i * 900}) WHERE id = 40",
            "COMMIT",
        )
    server.execute(
        "BEGIN",
        "UPDATE s1.a SET v = REPEAT('z', 20) WHERE id < 30",
        "INSERT INTO s1.b VALUES (600, 1, NOW(), REPEAT('y', 60000))",
        "INSERT INTO s1.b VALUES (601, 1, NOW(), REPEAT('y', 60000))",
        "COMMIT",
    )
    for i in (900, 901):  # the second one's rows, of a table seen since the rotation, are skipped in the scan
        server.execute(
            "BEGIN", f"INSERT INTO s1.other VALUES ({i}, 1)", "UPDATE s1.other SET v = v + 1", "COMMIT"
        )
    server.execute(
        "BEGIN",
        "INSERT INTO s1.big VALUES (1, REPEAT('w', 300000))",
        "UPDATE s1.a SET v = 'after-skipped' WHERE id = 2",
        "COMMIT",
    )
    for i in range(6, 12):
        server.execute("BEGIN", f"UPDATE s1.a SET n = n + {i} WHERE id = {i}", "COMMIT")


@pytest.mark.parametrize("read_size", [binlog_reader._READ_SIZE, 301])
def test_transactions_the_scan_packs_equal_those_the_handlers_build(
    read_size: int, mariadb_source: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the hand-over packed, the compiled loop packs plain transactions itself (``scanrun.c``):
    unpacked, they equal the Python loop's transactions, declarations, chunks, positions and sizes; any
    other transaction (a table's first rows, a layout change, a rotation, a big one, skipped rows only)
    is rewound to its GTID event and built by the handlers. ``read_size`` 301: every transaction spans
    several reads of the socket, so the scan rewinds one it could not finish and reads it again."""
    monkeypatch.setattr(binlog_reader, "_READ_SIZE", read_size)
    file, pos = mariadb_source.binlog_position()
    _write_backlog(mariadb_source)
    _write_run_cases(mariadb_source)
    start = {"kind": "position", "file": file, "pos": pos}
    end = _settled_end(mariadb_source)
    runs: list[int] = []
    scanned, _ = _read_deferred(mariadb_source, start, end, "compiled", monkeypatch, runs)
    python, _ = _read_deferred(mariadb_source, start, end, "python", monkeypatch)
    assert scanned[-1].position == python[-1].position
    # position-only transactions (rows the pipeline skips only) may coalesce in the queue: those both
    # have are equal, GTID and time too
    moves = {(tx.position.file, tx.position.pos): tx.position for tx in python if tx.raw is None}
    both = [tx for tx in scanned if tx.raw is None and (tx.position.file, tx.position.pos) in moves]
    assert both and all(tx.position == moves[(tx.position.file, tx.position.pos)] for tx in both)
    assert any(tx.position.gtid for tx in both)
    scanned, python = ([tx for tx in txs if tx.raw is not None] for txs in (scanned, python))
    assert len(scanned) == len(python) > 50
    for s, p in zip(scanned, python):
        assert (s.position, s.size, s.events) == (p.position, p.size, p.events)
        assert s.raw[:2] == p.raw[:2] and bool(s.raw[2]) == bool(p.raw[2])
    assert sum(runs) > 30, runs  # most plain transactions came packed by the scan
    assert (
        sum(1 for tx in python if tx.raw[0]) >= 3
    )  # declarations: those transactions went the handlers' way
    big = [tx for tx in python if tx.size > handover.PACK_MAX_BYTES]
    assert big and all(len(tx.raw[1]) > 1 for tx in big)


def test_both_loops_give_the_same_transactions_byte_for_byte(
    mariadb_source: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert binlog_reader.compiled_loop(), (
        "the compiled loop is not built (otter_mysql._rowdecode.binlog_scan)"
    )
    file, pos = mariadb_source.binlog_position()
    _write_backlog(mariadb_source)
    start = {"kind": "position", "file": file, "pos": pos}
    end = _settled_end(mariadb_source)
    compiled, compiled_events = _read_deferred(mariadb_source, start, end, "compiled", monkeypatch)
    python, python_events = _read_deferred(mariadb_source, start, end, "python", monkeypatch)
    assert compiled[-1].position == python[-1].position
    # position-only transactions coalesce in the queue when the consumer is slower: not compared
    compiled, python = ([tx for tx in txs if tx.raw is not None] for txs in (compiled, python))
    assert len(compiled) == len(python) > 40
    for c, p in zip(compiled, python):
        assert (c.position, c.size, c.events) == (p.position, p.size, p.events)
        assert c.raw == p.raw  # declarations, chunks (bitmaps and bodies as bytes), remedy, resolution
    rows = [chunk for tx in python if tx.raw for chunk in tx.raw[1]]
    assert {chunk[2] for chunk in rows} == {"a", "b"}  # s1.other is not taken
    assert len({tx.position.file for tx in python}) == 2  # the rotation
    # the compiled loop read the OLTP events itself: the Python handler saw only the rare ones
    assert compiled_events * 4 < python_events, (compiled_events, python_events)
    expander = MySQLSelector(make_source(mariadb_source), make_pipeline([("s1", "a"), ("s1", "b")]))
    try:  # and the runner decodes them to the same rows
        events = [e for tx in compiled if tx.raw for e in expander.expand(tx).events]
        assert events == [e for tx in python if tx.raw for e in expander.expand(tx).events]
        assert len(events) > 300 and any(isinstance(e.columns.get("d"), Decimal) for e in events)
    finally:
        expander.close()


class _RunSink(_DeferredSink):
    """A sink whose compiled loop packs runs (``_scan_runs``), as the selector once the hand-over packs."""

    _scan_runs = True

    def __init__(self) -> None:
        super().__init__()
        self._declared: set = set()


@pytest.mark.parametrize("read_size", [7, binlog_reader._READ_SIZE])
def test_a_transaction_the_scan_does_not_pack_reaches_the_handlers_whole_and_in_order(
    read_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With runs on, a transaction without rows the pipeline takes goes to ``_on_gtid`` and ``_on_commit``
    (its GTID kept); one holding an event the Python reader takes is rewound to its GTID event and reaches
    the handlers from there, its GTID once; MySQL's GTID event opens no run. Any read size, even packets
    cut into 7-byte reads, gives the same calls."""
    monkeypatch.setenv(LOOP_ENV, "compiled")
    monkeypatch.setattr(binlog_reader, "_READ_SIZE", read_size)

    def gtid(seq: int) -> bytes:  # MariaDB GTID: sequence, domain 0, in a transaction
        return _packet(162, struct.pack("<QIB", seq, 0, 0) + b"\x00" * 6, 100 + seq, True)

    query = struct.pack("<IIBHH", 1, 0, 2, 0, 0) + b"s1\x00" + b"BEGIN"
    mysql_gtid = b"\x00" + bytes(range(16)) + struct.pack("<Q", 77) + b"\x00" * 17
    stream = (
        gtid(1)
        + _packet(16, struct.pack("<Q", 1), 331, True)  # no rows: the handlers' way
        + gtid(2)
        + _packet(2, query, 400, True)
        + _packet(16, struct.pack("<Q", 2), 431, True)  # rewound
        + _packet(33, mysql_gtid, 500, True)
        + _packet(16, struct.pack("<Q", 3), 531, True)  # MySQL
        + gtid(4)
        + _packet(16, struct.pack("<Q", 4), 631, True)
    )
    sink = _RunSink()
    with pytest.raises(ConnectionError, match="closed by the server"):
        _reader(stream, True).run(sink, threading.Event())
    assert sink.calls == [
        ("_on_gtid", "0-1-1", True),
        ("_on_commit", 331, 1700000000),
        ("_on_gtid", "0-1-2", True),
        ("_on_query", "BEGIN", "s1", 400, 1700000000),
        ("_on_commit", 431, 1700000000),
        ("_on_gtid", "00010203-0405-0607-0809-0a0b0c0d0e0f:77", None),
        ("_on_commit", 531, 1700000000),
        ("_on_gtid", "0-1-4", True),
        ("_on_commit", 631, 1700000000),
    ]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_bad_checksum_after_good_events_names_the_event(loop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOP_ENV, loop)
    gtid = struct.pack("<QIB", 12, 0, 0) + b"\x00" * 6  # sequence 12, domain 0, in a transaction
    good = _packet(162, gtid, 250, True) + _packet(160, b"UPDATE t SET v = 1", 290, True)
    good += _packet(16, struct.pack("<Q", 9), 331, True)
    bad = bytearray(_packet(16, struct.pack("<Q", 10), 362, True))
    bad[-6] ^= 1
    sink = _DeferredSink()
    with pytest.raises(SourceError, match=r"event at mysql-bin\.000007:331 \(type 16, ending at 362\) fails"):
        _reader(good + bytes(bad), True).run(sink, threading.Event())
    assert sink.calls == [("_on_gtid", "0-1-12", True), ("_on_commit", 331, 1700000000)]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_packet_split_across_reads_and_a_closed_connection(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled loop stops at an incomplete packet and reads on; a stream that ends inside a packet
    is a lost connection (reconnect), never a silent end."""
    monkeypatch.setenv(LOOP_ENV, loop)
    monkeypatch.setattr(binlog_reader, "_READ_SIZE", 7)  # every packet arrives in pieces
    stream = b"".join(_packet(16, struct.pack("<Q", i), 331 + 31 * i, True) for i in range(5))
    sink = _DeferredSink()
    with pytest.raises(ConnectionError, match="closed by the server"):
        _reader(stream + stream[:10], True).run(sink, threading.Event())
    assert sink.calls == [("_on_commit", 331 + 31 * i, 1700000000) for i in range(5)]


@pytest.mark.parametrize("loop", LOOPS)
def test_consecutive_events_over_16_mb_are_not_kept_in_the_read_buffer(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events of several protocol packets go to the Python loop's handler one after another (16 MB BLOB
    rows); the read buffer drops each once taken. It used to be trimmed only when the compiled loop
    needed more bytes, so a run of such events stayed in it: 24 rows of 16 MB took the selector process
    to 517 MB (132 MB with the Python loop)."""
    monkeypatch.setenv(LOOP_ENV, loop)
    size = 17 << 20
    longest = [0]
    fill = NativeReader._fill

    def measured(self: NativeReader, buf: bytearray) -> None:
        fill(self, buf)
        longest[0] = max(longest[0], len(buf))

    monkeypatch.setattr(NativeReader, "_fill", measured)
    stream = b""
    for i in range(4):  # an event the reader skips (an unknown type), then a commit
        packet = _packet(200, bytes(size), 1000 + i * (size + 100), False)
        payload = packet[4:]
        for at in range(0, len(payload) + 1, 0xFFFFFF):  # split as the server sends it
            part = payload[at : at + 0xFFFFFF]
            stream += struct.pack("<I", len(part))[:3] + b"\x00" + part
        stream += _packet(16, struct.pack("<Q", i), 1000 + i * (size + 100) + size + 50, False)
    sink = _DeferredSink()
    with pytest.raises(ConnectionError, match="closed by the server"):  # the stream ends: a lost connection
        _reader(stream, False).run(sink, threading.Event())
    assert [c for c in sink.calls if c[0] == "_on_commit"] == [
        ("_on_commit", 1000 + i * (size + 100) + size + 50, 1700000000) for i in range(4)
    ]
    if loop == "compiled":  # the Python loop reads each packet by its length, without this buffer
        assert longest[0] < 2 * size  # one event and what was read after it, not all four
