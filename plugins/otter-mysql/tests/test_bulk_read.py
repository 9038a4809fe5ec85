"""bulk_read: result rows parsed in C are PyMySQL's rows, value for value and type for type, on real MariaDB."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from test_selector_types import COLUMNS, DB, write_source_rows
from test_table_reader import reader_for

from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql import bulk_load, bulk_read, mysql_connect
from otter_mysql.table_reader import MySQLTableReader

pytestmark = [
    pytest.mark.usefixtures("clean_databases"),
    pytest.mark.skipif(not bulk_read.AVAILABLE, reason="the C extension is not built"),
]


def plain_connection(server: MariaDBServer) -> Any:
    conn = mysql_connect.connect(
        host="127.0.0.1",
        port=server.port,
        user=OTTER_USER,
        password=OTTER_PASSWORD,
        charset="utf8mb4",
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute("SET SESSION time_zone='+00:00'")
    return conn


def rows_of(conn: Any, sql: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


def typed(rows: list[tuple]) -> list[tuple]:
    return [tuple((type(v), v) for v in row) for row in rows]


@pytest.fixture
def every_type(mariadb_source: MariaDBServer) -> MariaDBServer:
    """The selector tests' rows of every column type (zero dates, NULLs, 4-byte UTF-8, BIT, JSON, GEOMETRY),
    copied 600 times (row packets across the read buffer's ends), plus rows of 60 KB and of 18 MB."""
    mariadb_source.execute(f"CREATE DATABASE {DB}", f"CREATE TABLE {DB}.t ({COLUMNS}) CHARSET utf8mb4")
    write_source_rows(mariadb_source, "t")
    plain = [
        name
        for (name,) in mariadb_source.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 't' "
            "AND EXTRA NOT LIKE '%%GENERATED' ORDER BY ORDINAL_POSITION",
            args=(DB,),
        )
    ]
    select = ", ".join(c if c != "id" else "id + %d" for c in plain)
    for copy in range(1, 600):
        mariadb_source.execute(
            f"INSERT INTO {DB}.t ({', '.join(plain)}) SELECT {select % (copy * 10)} FROM {DB}.t WHERE id < 10"
        )
    mariadb_source.execute(
        f"INSERT INTO {DB}.t (id, bl, vc) VALUES (100001, REPEAT(x'00ff41', 20000), 'sixty KB')",
        f"INSERT INTO {DB}.t (id, ltx, vc) VALUES (100002, REPEAT('é😀x', 2500000), 'eighteen MB')",
    )
    return mariadb_source


def test_rows_read_in_c_equal_pymysqls_rows_value_for_value(every_type: MariaDBServer) -> None:
    plain = plain_connection(every_type)
    fast = bulk_read.fast_reads(plain_connection(every_type))
    calls = []
    real: Any = bulk_read.TEXT_ROWS

    def counting(*args):
        calls.append(1)
        return real(*args)

    bulk_read.TEXT_ROWS = counting
    try:
        assert type(fast) is bulk_read.FastReadConnection
        for sql in (
            f"SELECT * FROM {DB}.t ORDER BY id",
            f"SELECT id, ST_AsText(g), d, dt6, ts0, tm3, j FROM {DB}.t WHERE id > 5000 ORDER BY id DESC",
            f"SELECT COUNT(*), SUM(i), MAX(dt6) FROM {DB}.t",
            f"SELECT * FROM {DB}.t WHERE id < 0",
        ):
            expected, got = rows_of(plain, sql), rows_of(fast, sql)
            assert typed(got) == typed(expected), sql
        big = rows_of(fast, f"SELECT ltx FROM {DB}.t WHERE id = 100002")
        assert len(big[0][0]) == 7_500_000
        assert calls, "the rows were not parsed by text_rows"
        with pytest.raises(Exception, match="Unknown column"):
            rows_of(fast, f"SELECT nope FROM {DB}.t")
        assert rows_of(fast, "SELECT 1") == [(1,)]  # the connection is still in step after the error
    finally:
        bulk_read.TEXT_ROWS = real
        plain.close()
        fast.close()


def test_the_table_reader_reads_chunks_in_c(every_type: MariaDBServer) -> None:
    reader: MySQLTableReader = reader_for(every_type)
    try:
        columns = reader.columns(DB, "t")
        rows = reader.read_range(DB, "t", columns, ("id",), (3,), None, 2000)
        assert type(reader._conn) is bulk_read.FastReadConnection
        plain = plain_connection(every_type)
        select = reader._select_list(DB, "t", columns)  # FLOAT columns as DOUBLE
        expected = rows_of(plain, f"SELECT {select} FROM {DB}.t WHERE id > 3 ORDER BY id LIMIT 2000")
        plain.close()
        assert len(rows) == 2000
        assert typed(rows) == typed(expected)
        # a chunk crosses the snapshot reader's pipe as its packets, parsed again on arrival
        assert type(rows) is bulk_read.PackedRows
        assert typed(pickle.loads(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))) == typed(expected)
        tail = reader.read_range(DB, "t", columns, ("id",), (5000,), None, None)
        assert [r[0] for r in tail][-2:] == [100001, 100002]
        assert type(tail) is list  # the 18 MB row came in several packets: pickled as values
        assert typed(pickle.loads(pickle.dumps(tail))) == typed(tail)
        sixty = reader.read_range(DB, "t", columns, ("id",), (5000,), (100001,), None)
        assert type(sixty) is bulk_read.PackedRows and len(sixty[-1][columns.index("bl")]) == 60000
        assert typed(pickle.loads(pickle.dumps(sixty))) == typed(sixty)
    finally:
        reader.close()


def test_a_bulk_chunk_is_kept_as_packets_and_only_its_last_row_parsed(every_type: MariaDBServer) -> None:
    """The chunk reader does not parse a bulk chunk's rows (the loader reads the packets): text_rows
    runs once, for the last row; the packets are the same rows, and a row over 16 MB still takes the
    row path."""
    from test_bulk_load import NO_TEXT_FORM

    reader: MySQLTableReader = reader_for(every_type)
    calls = []
    real: Any = bulk_read.TEXT_ROWS

    def counting(*args):
        calls.append(1)
        return real(*args)

    try:
        columns = tuple(c for c in reader.columns(DB, "t") if c not in NO_TEXT_FORM)
        expected = reader.read_range(DB, "t", columns, ("id",), (3,), None, 2000)
        bulk_read.TEXT_ROWS = counting
        chunk = reader.read_range_packed(DB, "t", columns, ("id",), (3,), 2000)
        assert len(calls) == 1, "the chunk reader parsed more than the last row"
        bulk_read.TEXT_ROWS = real
        assert type(chunk) is bulk_load.PackedChunk and chunk.count == 2000
        assert typed([chunk.last]) == typed([expected[-1]])
        assert typed(chunk.rows()) == typed(expected)
        tail = reader.read_range_packed(DB, "t", columns, ("id",), (5000,), 10_000)
        assert type(tail) is list  # the 18 MB row came in several packets: the row path, parsed
        assert typed(tail) == typed(reader.read_range(DB, "t", columns, ("id",), (5000,), None, None))
        assert [r[0] for r in tail][-2:] == [100001, 100002]
        assert reader.read_range(DB, "t", columns, ("id",), None, None, 1)[0][0] == 1  # parsed again
    finally:
        bulk_read.TEXT_ROWS = real
        reader.close()


def test_a_bulk_chunk_crosses_the_reader_pipe_out_of_band(every_type: MariaDBServer) -> None:
    """The snapshot reader process sends a bulk chunk's packets beside its pickle, not copied into it."""
    import multiprocessing
    import threading

    from test_bulk_load import NO_TEXT_FORM

    from otter_core.engine.snapshot_reader import receive_answer, send_answer

    reader: MySQLTableReader = reader_for(every_type)
    parent, child = multiprocessing.Pipe()
    try:
        columns = tuple(c for c in reader.columns(DB, "t") if c not in NO_TEXT_FORM)
        chunk = reader.read_range_packed(DB, "t", columns, ("id",), None, 2000)
        assert type(chunk) is bulk_load.PackedChunk and len(chunk.raw) > 100_000
        buffers: list = []
        data = pickle.dumps(("ok", ("tag", chunk)), protocol=5, buffer_callback=buffers.append)
        assert len(data) < 2000 and [len(b.raw()) for b in buffers] == [len(chunk.raw)]
        sender = threading.Thread(target=send_answer, args=(child, ("ok", ("tag", chunk))))
        sender.start()  # the pipe holds less than the chunk: the reader must read meanwhile
        status, (tag, got) = receive_answer(parent)
        sender.join()
        assert (status, tag, got.count, got.last, got.lits) == ("ok", "tag", 2000, chunk.last, chunk.lits)
        assert type(got.raw) is bytes and got.raw == chunk.raw
        assert typed(got.rows()) == typed(chunk.rows())
        in_band = pickle.loads(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
        assert type(in_band.raw) is bytes and in_band.raw == chunk.raw
        assert pickle.loads(pickle.dumps(chunk, protocol=4)).raw == chunk.raw
    finally:
        parent.close()
        child.close()
        reader.close()
