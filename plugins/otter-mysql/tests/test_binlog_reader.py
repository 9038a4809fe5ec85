"""otter's own binlog reader (``binlog_reader``) against real servers, and the library fallback beside it:
rotation, GTID and file/pos starts, heartbeats, a restarted source, checksums, unknown events, and the
position moving past bookkeeping events at the binlog's end."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest
from selector_support import collect, drain, events_of, make_pipeline, make_selector, make_source

from otter_core.spi import SourceError
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql.binlog_reader import NativeReader
from otter_mysql.selector import MySQLSelector

pytestmark = pytest.mark.usefixtures("clean_databases")
READERS = ["native", "library"]


def setup(server: MariaDBServer) -> None:
    server.execute("CREATE DATABASE s1", "CREATE TABLE s1.a (id INT PRIMARY KEY, v VARCHAR(20))")


def ids(transactions) -> list[int]:
    return [e.keys["id"] for e in events_of(transactions)]


@pytest.mark.parametrize("reader", READERS)
def test_rotation_mid_stream_keeps_every_row_and_moves_to_the_new_file(
    mariadb_source: MariaDBServer, reader: str
) -> None:
    setup(mariadb_source)
    selector = make_selector(mariadb_source, [("s1", "a")], binlog_reader=reader)
    try:
        mariadb_source.execute("INSERT INTO s1.a VALUES (1, 'x')")
        old_file = mariadb_source.binlog_position()[0]
        mariadb_source.execute("FLUSH BINARY LOGS")
        mariadb_source.execute("INSERT INTO s1.a VALUES (2, 'y'), (3, 'z')")
        got = collect(selector, transactions=2)
        assert ids(got) == [1, 2, 3]
        assert got[0].position.file == old_file
        assert got[-1].position.file == mariadb_source.binlog_position()[0] != old_file
    finally:
        selector.close()


@pytest.mark.parametrize("reader", READERS)
def test_gtid_start_and_file_position_start(mariadb_source: MariaDBServer, reader: str) -> None:
    setup(mariadb_source)
    mariadb_source.execute("INSERT INTO s1.a VALUES (1, 'x')")
    file, pos = mariadb_source.binlog_position()
    gtid = mariadb_source.execute("SELECT @@gtid_binlog_pos")[0][0]
    mariadb_source.execute("INSERT INTO s1.a VALUES (2, 'y')", "UPDATE s1.a SET v = 'w' WHERE id = 1")
    for start in ({"kind": "gtid", "gtid": gtid}, {"kind": "position", "file": file, "pos": pos}):
        selector = make_selector(mariadb_source, [("s1", "a")], start=start, binlog_reader=reader)
        try:
            got = collect(selector, transactions=2)
            assert [(e.event_type.name, e.keys["id"]) for e in events_of(got)] == [
                ("INSERT", 2),
                ("UPDATE", 1),
            ]
            assert got[0].position.gtid != gtid and got[0].position.gtid.startswith(gtid.rsplit("-", 1)[0])
        finally:
            selector.close()


def test_an_idle_stream_lives_on_heartbeats(mariadb_source: MariaDBServer) -> None:
    """The read timeout is shorter than the idle time: only the heartbeats we ask for keep the
    connection from timing out (a timeout reconnects, which the reconnect counter would show)."""
    setup(mariadb_source)
    selector = MySQLSelector(make_source(mariadb_source), make_pipeline([("s1", "a")]))
    selector.heartbeat_s, selector.read_timeout = 0.25, 3  # a loaded machine may stall a thread ~1 s
    opened = []
    open_stream = selector._open_stream
    selector._open_stream = lambda: opened.append(open_stream()) or opened[-1]  # type: ignore[method-assign]
    selector.start(None)
    try:
        time.sleep(4.5)  # longer than the read timeout
        mariadb_source.execute("INSERT INTO s1.a VALUES (1, 'x')")
        assert ids(collect(selector, transactions=1)) == [1]
        assert len(opened) == 1, "the stream was re-opened: the idle connection timed out"
        assert opened[0].heartbeats >= 3
    finally:
        selector.close()


@pytest.fixture(scope="module")
def own_source(tmp_path_factory: pytest.TempPathFactory):
    """A source of this module's own: restarted and its binlog damaged on purpose."""
    server = MariaDBServer(tmp_path_factory.mktemp("reader-source"), server_id=77, binlog_checksum="CRC32")
    server.start()
    yield server
    server.destroy()


def test_reconnect_after_the_source_restarts(own_source: MariaDBServer) -> None:
    own_source.execute(
        "DROP DATABASE IF EXISTS r1", "CREATE DATABASE r1", "CREATE TABLE r1.a (id INT PRIMARY KEY)"
    )
    selector = make_selector(own_source, [("r1", "a")])
    try:
        own_source.execute("INSERT INTO r1.a VALUES (1)")
        assert ids(collect(selector, transactions=1)) == [1]
        own_source.stop()
        time.sleep(0.5)
        own_source.start()
        own_source.execute("INSERT INTO r1.a VALUES (2)", "INSERT INTO r1.a VALUES (3)")
        assert ids(collect(selector, transactions=2, timeout=30)) == [2, 3]
    finally:
        selector.close()


def test_a_damaged_event_stops_with_its_file_and_position(own_source: MariaDBServer) -> None:
    own_source.execute(
        "DROP DATABASE IF EXISTS r2", "CREATE DATABASE r2", "CREATE TABLE r2.a (id INT PRIMARY KEY, v TEXT)"
    )
    file, pos = own_source.binlog_position()
    own_source.execute("INSERT INTO r2.a VALUES (1, 'a-marker-value-to-damage')")
    own_source.execute("FLUSH BINARY LOGS")  # the file is complete and no longer written
    path = Path(own_source.basedir) / "data" / file
    data = bytearray(path.read_bytes())
    at = data.rindex(b"a-marker-value-to-damage")  # the rows event's (the Annotate_rows event comes first)
    data[at] ^= 0x20  # 'a' -> 'A': the event still parses, only its checksum tells
    path.write_bytes(bytes(data))
    # the schema history's scan of the backlog at start reads it first (the stream would, too)
    with pytest.raises(SourceError, match=rf"event at {file}:\d+ \(type 23, .*fails its CRC32 checksum"):
        selector = make_selector(
            own_source, [("r2", "a")], start={"kind": "position", "file": file, "pos": pos}
        )
        try:
            collect(selector, transactions=1)
        finally:
            selector.close()


def test_the_position_reaches_the_binlog_end_past_bookkeeping_events(mariadb_source: MariaDBServer) -> None:
    """After FLUSH BINARY LOGS the binlog ends with the new file's Format_description, Gtid_list and
    Binlog_checkpoint: the position moves past them (SHOW MASTER STATUS), not only to the last commit."""
    setup(mariadb_source)
    selector = make_selector(mariadb_source, [("s1", "a")])
    try:
        mariadb_source.execute("INSERT INTO s1.a VALUES (1, 'x')")
        mariadb_source.execute("FLUSH BINARY LOGS")
        got = collect(selector, transactions=1) + drain(selector, 1.0)
        end = mariadb_source.binlog_position()  # the last Binlog_checkpoint is written a moment later
        assert ids(got) == [1]
        last = got[-1].position
        assert (last.file, last.pos) == end
        assert not got[-1].events and last.gtid == got[0].position.gtid
    finally:
        selector.close()


def test_an_event_bigger_than_one_protocol_packet(mariadb_source: MariaDBServer) -> None:
    """A rows event over 16 MB arrives in several protocol packets, joined before parsing."""
    mariadb_source.execute("CREATE DATABASE s1", "CREATE TABLE s1.big (id INT PRIMARY KEY, b LONGBLOB)")
    selector = make_selector(mariadb_source, [("s1", "big")])
    value = bytes(range(256)) * (17 * 4096)  # 17 MiB
    try:
        mariadb_source.execute("INSERT INTO s1.big VALUES (1, %s)", args=(value,))
        mariadb_source.execute("INSERT INTO s1.big VALUES (2, 'small')")
        got = events_of(collect(selector, transactions=2, timeout=30))
        assert [e.keys["id"] for e in got] == [1, 2]
        assert got[0].columns["b"] == value and got[1].columns["b"] == b"small"
    finally:
        selector.close()


# -- events no server here writes: crafted packets through the reader's loop ----------------------
class _Sink:
    _deferred = False  # rows decoded by the sink (the compiled loop leaves them to the Python one)

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name: str):
        return lambda *args: self.calls.append((name, *args))


def _packet(kind: int, body: bytes, log_pos: int, crc: bool) -> bytes:
    event = struct.pack("<IBIIIH", 1700000000, kind, 1, 19 + len(body) + 4 * crc, log_pos, 0) + body
    if crc:
        event += struct.pack("<I", zlib.crc32(event))
    payload = b"\x00" + event
    return struct.pack("<I", len(payload))[:3] + b"\x00" + payload


class _Conn:
    def __init__(self, stream: bytes) -> None:
        self._rfile = io.BufferedReader(io.BytesIO(stream))
        self._read_timeout = 1
        self._sock = self

    def settimeout(self, _t: float) -> None:
        pass


def _reader(stream: bytes, crc: bool) -> NativeReader:
    reader = NativeReader.__new__(NativeReader)
    reader.conn, reader.label, reader.log_file = _Conn(stream), "source src", "mysql-bin.000007"
    reader.table_map, reader.heartbeats, reader._maps, reader._crc = {}, 0, {}, crc
    return reader


@pytest.mark.parametrize("crc", [False, True])
def test_unknown_events_are_skipped_and_unreadable_rows_stop(crc: bool) -> None:
    eof = b"\x05\x00\x00\x00\xfe\x00\x00\x02\x00"
    skipped = _packet(200, b"whatever", 300, crc) + _packet(16, struct.pack("<Q", 9), 331, crc) + eof
    sink = _Sink()
    _reader(skipped, crc).run(sink, threading.Event())
    assert sink.calls == [("_on_commit", 331, 1700000000)]
    rows = _packet(169, b"\x01" * 20, 400, crc)  # MariaDB's compressed WRITE_ROWS_V1
    with pytest.raises(
        SourceError, match=r"type 169 at mysql-bin\.000007:400 .*cannot read; rows must not be skipped"
    ):
        _reader(rows + eof, crc).run(_Sink(), threading.Event())


def test_a_bad_checksum_in_a_crafted_stream_names_the_event() -> None:
    bad = bytearray(_packet(16, struct.pack("<Q", 9), 331, True))
    bad[-6] ^= 1
    with pytest.raises(SourceError, match=r"event at mysql-bin\.000007:300 \(type 16, ending at 331\) fails"):
        _reader(bytes(bad), True).run(_Sink(), threading.Event())


def test_library_reader_is_chosen_by_parameter_and_a_typo_is_refused(mariadb_source: MariaDBServer) -> None:
    with pytest.raises(Exception, match=r"binlog_reader is 'mysql-replication'; use native .* or library"):
        MySQLSelector(
            make_source(mariadb_source), make_pipeline([("s1", "a")], binlog_reader="mysql-replication")
        )
    assert MySQLSelector(
        make_source(mariadb_source), make_pipeline([("s1", "a")], binlog_reader="library")
    ).reader == ("library")
