"""MySQLTableReader against real MariaDB: key ranges, chunk bounds, checksums, typed keys, signals."""

from __future__ import annotations

import datetime
import decimal
import itertools

import pytest

from otter_core.spi import DataError, DataMediaSource, SourceError
from otter_core.testing.mariadb import OTTER_PASSWORD, OTTER_USER, MariaDBServer
from otter_mysql.table_reader import MySQLTableReader, range_condition

pytestmark = pytest.mark.usefixtures("clean_databases")


def reader_for(server: MariaDBServer) -> MySQLTableReader:
    return MySQLTableReader(
        DataMediaSource(
            name="s",
            type="mysql",
            host="127.0.0.1",
            port=server.port,
            user=OTTER_USER,
            password=OTTER_PASSWORD,
        )
    )


@pytest.fixture
def grid(mariadb_source: MariaDBServer):
    """tr.grid: a three-column key (a, b, c) over 4 x 3 x 3 rows."""
    mariadb_source.execute(
        "CREATE DATABASE tr",
        "CREATE TABLE tr.grid (a INT, b VARCHAR(4), c DATE, v INT, PRIMARY KEY (a, b, c))",
    )
    rows = [
        (a, b, datetime.date(2024, 1, c), a * 100 + c)
        for a, b, c in itertools.product(range(4), ("x", "y", "z"), (1, 2, 3))
    ]
    conn = mariadb_source.connect()
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO tr.grid VALUES (%s, %s, %s, %s)", rows)
    conn.close()
    reader = reader_for(mariadb_source)
    yield reader, sorted(rows)
    reader.close()


def test_range_condition_binds_every_value_and_leads_with_the_first_key_column():
    sql, args = range_condition(["a", "b"], (1, "x"), (3, "z"))
    assert sql == (
        "`a` >= %s AND ((`a` > %s) OR (`a` = %s AND `b` > %s)) AND "
        "`a` <= %s AND ((`a` < %s) OR (`a` = %s AND `b` <= %s))"
    )
    assert args == [1, 1, 1, "x", 3, 3, 3, "z"]
    assert range_condition(["a"], None, None) == ("1=1", [])


def test_ranges_over_a_composite_key_partition_the_table(grid):
    reader, rows = grid
    key = ("a", "b", "c")
    columns = ("a", "b", "c", "v")
    bounds = [None, *[tuple(r[:3]) for r in rows[4::7]], None]
    seen = []
    for lower, upper in zip(bounds, bounds[1:]):
        part = reader.read_range("tr", "grid", columns, key, lower, upper, None)
        assert all((lower is None or r[:3] > lower) and (upper is None or r[:3] <= upper) for r in part)
        seen += part
    assert seen == rows


def test_nth_key_cuts_chunks_of_n_rows(grid):
    reader, rows = grid
    key = ("a", "b", "c")
    assert reader.nth_key("tr", "grid", key, None, 5) == rows[4][:3]
    assert reader.nth_key("tr", "grid", key, rows[4][:3], 5) == rows[9][:3]
    assert reader.nth_key("tr", "grid", key, rows[30][:3], 10) is None
    assert reader.read_range("tr", "grid", ("v",), key, rows[4][:3], None, 2) == [
        (rows[5][3],),
        (rows[6][3],),
    ]


def test_checksums_agree_across_servers_and_change_with_any_value(grid, mariadb_target):
    reader, rows = grid
    mariadb_target.execute(
        "CREATE DATABASE tr",
        "CREATE TABLE tr.grid (a INT, b VARCHAR(4), c DATE, v INT, PRIMARY KEY (a, b, c))",
    )
    target = reader_for(mariadb_target)
    try:
        conn = mariadb_target.connect()
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO tr.grid VALUES (%s, %s, %s, %s)", list(reversed(rows)))
        conn.close()
        key, columns = ("a", "b", "c"), ("a", "b", "c", "v")
        whole = reader.chunk_checksum("tr", "grid", columns, key, None, None)
        assert whole[0] == len(rows)
        assert target.chunk_checksum("tr", "grid", columns, key, None, None) == whole
        mariadb_target.execute("UPDATE tr.grid SET v = NULL WHERE a = 2 AND b = 'y' AND c = '2024-01-02'")
        assert target.chunk_checksum("tr", "grid", columns, key, None, None) != whole
        assert target.chunk_checksum(
            "tr", "grid", columns, key, None, (1, "z", datetime.date(2024, 1, 3))
        ) == reader.chunk_checksum("tr", "grid", columns, key, None, (1, "z", datetime.date(2024, 1, 3)))
    finally:
        target.close()


def test_parse_key_types_values_as_a_select_returns_them(mariadb_source):
    mariadb_source.execute(
        "CREATE DATABASE tr",
        "CREATE TABLE tr.k (i BIGINT UNSIGNED, d DECIMAL(8,3), t DATETIME, "
        "s VARCHAR(10), PRIMARY KEY (i, d, t, s))",
    )
    reader = reader_for(mariadb_source)
    try:
        key = reader.parse_key("tr", "k", ["18446744073709551615", "1.500", "2024-02-03 04:05:06", "x"])
        assert key == {
            "i": 18446744073709551615,
            "d": decimal.Decimal("1.500"),
            "t": datetime.datetime(2024, 2, 3, 4, 5, 6),
            "s": "x",
        }
        with pytest.raises(DataError, match="tr.k has 4 key column"):
            reader.parse_key("tr", "k", ["1"])
        with pytest.raises(DataError, match="key column i"):
            reader.parse_key("tr", "k", ["one", "1", "2024-01-01", "x"])
    finally:
        reader.close()


def test_a_table_without_a_key_is_refused_with_its_name(mariadb_source):
    mariadb_source.execute("CREATE DATABASE tr", "CREATE TABLE tr.heap (v INT)")
    reader = reader_for(mariadb_source)
    try:
        with pytest.raises(SourceError, match="tr.heap .*has no primary key"):
            reader.key_columns("tr", "heap")
    finally:
        reader.close()


def test_watermarks_and_resync_requests_land_in_retl(mariadb_source):
    reader = reader_for(mariadb_source)
    try:
        reader.write_watermark("ch/p", "abc-low")
        reader.write_watermark("ch/p", "abc-high")
        assert mariadb_source.execute("SELECT id, watermark FROM retl.retl_signal") == [("ch/p", "abc-high")]
        assert reader.request_resync("shop.t", "I", [["1"], ["2", "b"]]) == 2
        assert mariadb_source.execute(
            "SELECT table_id, full_name, type, pk_data FROM retl.retl_buffer ORDER BY id"
        ) == [(0, "shop.t", "I", "1"), (0, "shop.t", "I", "2\x01b")]
        position = reader.log_position()
        assert (position.file, position.pos) == mariadb_source.binlog_position()
    finally:
        reader.close()


def test_float_columns_are_read_and_checksummed_exactly(mariadb_source: MariaDBServer) -> None:
    """The server writes a FLOAT with 6 significant digits: a chunk read that way loaded 16777200 for
    16777217's float (16777216) and verify's checksums saw two different floats as equal."""
    mariadb_source.execute(
        "CREATE DATABASE tf",
        "CREATE TABLE tf.a (id INT PRIMARY KEY, f FLOAT, d DOUBLE)",
        "CREATE TABLE tf.b LIKE tf.a",
        "INSERT INTO tf.a VALUES (1, 16777217, 0.1), (2, -9.539097714956233e-21, NULL), (3, NULL, 1)",
        "INSERT INTO tf.b SELECT * FROM tf.a",
        "UPDATE tf.b SET f = -9.539100138336934e-21 WHERE id = 2",  # the same 6 digits, another float
    )
    reader = reader_for(mariadb_source)
    try:
        rows = reader.read_range("tf", "a", ("id", "f", "d"), ("id",), None, None, None)
        assert rows == [(1, 16777216.0, 0.1), (2, -9.539097714956233e-21, None), (3, None, 1.0)]
        assert reader.read_keys("tf", "a", ("id", "f"), ("id",), [(2,)]) == [(2, -9.539097714956233e-21)]
        back = reader.fetch("tf", "a", [{"id": 1}, {"id": 2}])  # the back-query (sync_consistency: media)
        assert (back[(1,)]["f"], back[(2,)]["f"]) == (16777216.0, -9.539097714956233e-21)
        columns = ("id", "f", "d")
        assert reader.chunk_checksum("tf", "a", columns, ("id",), None, (1,)) == reader.chunk_checksum(
            "tf", "b", columns, ("id",), None, (1,)
        )
        assert reader.chunk_checksum("tf", "a", columns, ("id",), None, None) != reader.chunk_checksum(
            "tf", "b", columns, ("id",), None, None
        )
    finally:
        reader.close()
