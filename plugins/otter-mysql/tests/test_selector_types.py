"""Every column type survives source -> selector -> PyMySQL parameters -> target bit-exactly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from selector_support import collect, events_of, insert_event, make_selector, target_conn

from otter_core.spi import EventType
from otter_core.testing.mariadb import MariaDBServer
from otter_mysql import rowops

pytestmark = pytest.mark.usefixtures("clean_databases", "row_decoder")

DB = "seltypes"
COLUMNS = """
 id INT PRIMARY KEY,
 ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT,
 miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, bo BOOL,
 dec1 DECIMAL(65,30), dec2 DECIMAL(10,2), dec3 DECIMAL(5,0), dec4 DECIMAL(20,10) UNSIGNED,
 f FLOAT, dbl DOUBLE,
 b1 BIT(1), b10 BIT(10), b64 BIT(64),
 d DATE, dt6 DATETIME(6), dt0 DATETIME, dt3 DATETIME(3), ts6 TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL,
 ts1 TIMESTAMP(1) NULL, tm6 TIME(6), tm0 TIME, tm3 TIME(3), tm1 TIME(1), y YEAR,
 c CHAR(10), vc VARCHAR(300), tx TEXT, ltx LONGTEXT, l1 VARCHAR(300) CHARACTER SET latin1,
 lc CHAR(5) CHARACTER SET latin1, asc1 VARCHAR(10) CHARACTER SET ascii,
 bn BINARY(8), vb VARBINARY(300), bl BLOB, tbl TINYBLOB, mbl MEDIUMBLOB,
 e ENUM('a','b''q','c,d','é','back\\\\slash'), st SET('x','y','z'), j JSON,
 g GEOMETRY, pt POINT, poly POLYGON, ip6 INET6, uu UUID, ip4 INET4,
 gen BIGINT AS (i + 1) VIRTUAL, gens VARCHAR(40) AS (CONCAT(LEFT(vc, 10), '!')) STORED
"""
ALL_BYTES = bytes(range(256))
FLOAT_COLUMNS = {"f", "dbl"}
PLAIN_COLUMNS = {"dec1", "dec2", "dec3", "dec4"}

ROWS = [
    dict(
        id=1,
        ti=127,
        tiu=255,
        si=32767,
        siu=65535,
        mi=8388607,
        miu=16777215,
        i=2147483647,
        iu=4294967295,
        bi=9223372036854775807,
        biu=18446744073709551615,
        bo=1,
        dec1=Decimal("99999999999999999999999999999999999.999999999999999999999999999999"),
        dec2=Decimal("99999999.99"),
        dec3=Decimal("99999"),
        dec4=Decimal("9999999999.9999999999"),
        f=3.4028234663852886e38,
        dbl=1.7976931348623157e308,
        b1=1,
        b10=1023,
        b64=2**64 - 1,
        d=dt.date(9999, 12, 31),
        dt6="9999-12-31 23:59:59.999999",
        dt0="9999-12-31 23:59:59",
        dt3="2024-02-29 12:34:56.789",
        ts6="2038-01-19 03:14:07.999999",
        ts0="2038-01-19 03:14:07",
        ts1="2001-02-03 04:05:06.7",
        tm6="838:59:59.000000",
        tm0="838:59:59",
        tm3="12:34:56.789",
        tm1="00:00:00.1",
        y=2155,
        c="abc",
        vc="x" * 300,
        tx="emoji 😀 ünïcödé 中文",
        ltx="\U0001f600" * 1000,
        l1="é€\x81 ÿ",
        lc="çà",
        asc1="plain",
        bn=b"\x01\x00\xff",
        vb=ALL_BYTES[:300],
        bl=ALL_BYTES,
        tbl=ALL_BYTES[:255],
        mbl=ALL_BYTES * 300,
        e="b'q",
        st="x,y,z",
        j='{"a": [1, 2.5, "é😀"], "b": null, "c": {"d": true}}',
        ip6="2001:db8::ff00:42:0",
        uu="123e4567-e89b-12d3-a456-426655440000",
        ip4="10.1.2.0",
    ),
    dict(
        id=2,
        ti=-128,
        tiu=0,
        si=-32768,
        siu=0,
        mi=-8388608,
        miu=0,
        i=-2147483648,
        iu=0,
        bi=-9223372036854775808,
        biu=0,
        bo=0,
        dec1=Decimal("-99999999999999999999999999999999999.999999999999999999999999999999"),
        dec2=Decimal("-0.01"),
        dec3=Decimal("-99999"),
        dec4=Decimal("0.0000000001"),
        f=-1.1754943508222875e-38,
        dbl=-2.2250738585072014e-308,
        b1=0,
        b10=0,
        b64=0,
        d=dt.date(1000, 1, 1),
        dt6="1000-01-01 00:00:00.000000",
        dt0="1000-01-01 00:00:00",
        dt3="1000-01-01 00:00:00.001",
        ts6="1970-01-01 00:00:01.000000",
        ts0="1970-01-01 00:00:01",
        ts1="1970-01-01 00:00:01.9",
        tm6="-838:59:59.000000",
        tm0="-838:59:59",
        tm3="-00:00:00.001",
        tm1="-01:00:00.5",
        y=1901,
        c="",
        vc="",
        tx="",
        ltx="",
        l1="",
        lc="",
        asc1="",
        bn=b"",
        vb=b"",
        bl=b"",
        tbl=b"",
        mbl=b"",
        e="é",
        st="",
        j="[]",
        ip6="::",
        uu="00000000-0000-0000-0000-000000000000",
        ip4="0.0.0.0",
    ),
    dict(id=3),  # NULL in every column
    dict(
        id=4,
        dec1=Decimal("0.000000000000000000000000000001"),
        dec2=Decimal("-0.5"),
        dec3=Decimal("0"),
        f=0.1,
        dbl=0.1,
        tm6="-00:00:00.000001",
        tm0="-00:00:01",
        tm3="-12:34:56.789",
        tm1="-00:00:00.1",
        dt6="2020-06-15 10:11:12.000001",
        ts6="2020-06-15 10:11:12.000001",
        d=dt.date(2020, 6, 15),
        y=1999,
        e="c,d",
        st="x,z",
        c="trailing  ",
        vc="trailing  ",
        bn=b"\x00" * 8,
        vb=b"\x00\x00",
        j='"str"',
        l1=ALL_BYTES[1:],
        lc=b"\x80\x81\x9d\xff",
    ),  # every latin1 byte, stored raw from _binary
    # zero and partial-zero dates, the ENUM error value, YEAR 0000 (need a permissive sql_mode)
    dict(
        id=5,
        d="0000-00-00",
        dt6="0000-00-00 00:00:00.000000",
        dt0="2020-00-15 10:11:12",
        dt3="2021-04-00 00:00:00.500",
        ts6="0000-00-00 00:00:00",
        ts0="0000-00-00 00:00:00",
        y=0,
        e="not-a-label",
        f=1.401298464324817e-45,
        dbl=5e-324,
        tm0="00:00:00",
        b64=2**63,
        bi=-1,
        biu=2**63,
    ),
]
GEOMETRY = {
    1: ("POINT(1.5 -2.25)", "POINT(3 4)", "POLYGON((0 0,10 0,10 10,0 10,0 0),(1 1,2 1,2 2,1 1))", 0),
    2: ("LINESTRING(0 0,1 1,2 3)", "POINT(-1e300 1e-300)", "POLYGON((0 0,1 0,0 1,0 0))", 4326),
    4: ("GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))", "POINT(0 0)", "POLYGON((0 0,3 0,0 3,0 0))", 0),
}


def setup_tables(source: MariaDBServer, target: MariaDBServer, *names: str) -> None:
    for server in (source, target):
        server.execute(f"CREATE DATABASE {DB}")
        for name in names:
            server.execute(f"CREATE TABLE {DB}.{name} ({COLUMNS}) CHARSET utf8mb4")


def column_list(server: MariaDBServer, table: str) -> list[tuple[str, str]]:
    return [
        (n, t)
        for n, t in server.execute(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND "
            "TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            args=(DB, table),
        )
    ]


def snapshot(server: MariaDBServer, table: str, columns: list[tuple[str, str]]) -> list[tuple]:
    """Every column of every row, as text that differs whenever the stored bytes differ."""
    exprs = []
    for name, data_type in columns:
        if name in FLOAT_COLUMNS:
            exprs.append(f"CAST(`{name}` AS DOUBLE), HEX(`{name}`)")
        elif name in PLAIN_COLUMNS:
            exprs.append(f"`{name}`")
        elif data_type == "timestamp":
            exprs.append(f"UNIX_TIMESTAMP(`{name}`), HEX(`{name}`)")
        else:
            exprs.append(f"HEX(`{name}`)")
    conn = target_conn(server, DB)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(exprs)} FROM {DB}.{table} ORDER BY id")
            return list(cur.fetchall())
    finally:
        conn.close()


def write_source_rows(source: MariaDBServer, table: str) -> None:
    conn = target_conn(source, DB)  # permissive session: zero dates and the ENUM error value
    try:
        with conn.cursor() as cur:
            cur.execute("BEGIN")
            for row in ROWS:
                cols = ", ".join(row)
                cur.execute(
                    f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(row))})",
                    list(row.values()),
                )
            for id_, (g, pt, poly, srid) in GEOMETRY.items():
                cur.execute(
                    f"UPDATE {table} SET g = ST_GeomFromText(%s, %s), pt = ST_GeomFromText(%s, %s),"
                    f" poly = ST_GeomFromText(%s, %s) WHERE id = %s",
                    (g, srid, pt, srid, poly, srid, id_),
                )
            cur.execute("COMMIT")
    finally:
        conn.close()


def apply(target: MariaDBServer, table: str, events: list) -> None:
    conn = target_conn(target, DB)
    try:
        for event in events:
            insert_event(conn, table, event)
    finally:
        conn.close()


@pytest.fixture(params=["compiled", "python"])
def row_decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with the compiled decoder (the C extension) and with the generated-Python
    fallback that is used when the extension did not build."""
    if request.param == "compiled":
        assert rowops.BUILT is not None, (
            "the otter_mysql._rowdecode extension did not build (pip install -e plugins/otter-mysql)"
        )
        monkeypatch.setattr(rowops, "EXTENSION", rowops.BUILT)
    else:
        monkeypatch.setattr(rowops, "EXTENSION", None)
    return request.param


@pytest.fixture(params=["MINIMAL", "FULL"])
def row_metadata(request: pytest.FixtureRequest, mariadb_source: MariaDBServer) -> Iterator[str]:
    """Run with the server default and with binlog_row_metadata=FULL (which mysql-replication parses)."""
    (old,) = mariadb_source.execute("SELECT @@GLOBAL.binlog_row_metadata")[0]
    mariadb_source.root_execute(f"SET GLOBAL binlog_row_metadata = '{request.param}'")
    yield request.param
    mariadb_source.root_execute(f"SET GLOBAL binlog_row_metadata = '{old}'")


def test_insert_update_delete_images_are_bit_exact(
    mariadb_source: MariaDBServer, mariadb_target: MariaDBServer, row_metadata: str, row_decoder: str
) -> None:
    setup_tables(mariadb_source, mariadb_target, "t", "t_del")
    selector = make_selector(mariadb_source, [(DB, "t")])
    try:
        write_source_rows(mariadb_source, "t")
        [tx] = collect(selector, transactions=1)
        inserts = [e for e in tx.events if e.event_type is EventType.INSERT]
        updates = [e for e in tx.events if e.event_type is EventType.UPDATE]
        assert len(inserts) == len(ROWS) and len(updates) == len(GEOMETRY)
        columns = column_list(mariadb_source, "t")
        first = inserts[0]
        assert list(first.keys) == ["id"]
        assert list(first.columns) == [n for n, _ in columns if n not in ("id", "gen", "gens")]
        assert first.columns["biu"] == 2**64 - 1 and first.columns["b64"] == 2**64 - 1
        assert first.columns["e"] == "b'q" and first.columns["st"] == "x,y,z"
        assert first.columns["bl"] == ALL_BYTES and first.columns["y"] == 2155
        assert first.columns["bn"] == b"\x01\x00\xff" + b"\x00" * 5 and len(inserts[1].columns["uu"]) == 16
        assert inserts[1].columns["st"] == "" and inserts[2].columns["st"] is None
        assert inserts[3].columns["lc"] == "€\x81\x9dÿ" and len(inserts[3].columns["l1"]) == 255
        assert isinstance(inserts[1].columns["tm6"], dt.timedelta) and inserts[1].columns[
            "tm6"
        ] < dt.timedelta(0)
        assert inserts[4].columns["d"] == "0000-00-00" and inserts[4].columns["y"] == 0
        assert inserts[4].columns["ts6"] == "0000-00-00 00:00:00" and inserts[4].columns["e"] == ""
        ts = inserts[0].columns["ts6"]
        assert ts.tzinfo is not None and ts.utcoffset() == dt.timedelta(0)
        assert all(e.position == tx.position and e.size > 0 for e in tx.events)
        # INSERT images, then the UPDATE after-images (geometry), applied on an identical target table
        apply(mariadb_target, "t", inserts)
        conn = target_conn(mariadb_target, DB)
        with conn.cursor() as cur:
            for event in updates:
                assert event.updated == frozenset({"g", "pt", "poly"}) and event.old_keys is None
                cur.execute("DELETE FROM t WHERE id = %s", (event.keys["id"],))
                insert_event(conn, "t", event)
        conn.close()
        assert snapshot(mariadb_target, "t", columns) == snapshot(mariadb_source, "t", columns)

        # UPDATE every row to another row's values (after image), incl. a primary-key change
        mariadb_source.execute(
            "UPDATE seltypes.t a JOIN seltypes.t b ON b.id = a.id % 5 + 1 SET "
            + ", ".join(f"a.`{n}` = b.`{n}`" for n, _ in columns if n not in ("id", "gen", "gens"))
        )
        mariadb_source.execute("UPDATE seltypes.t SET id = 50 WHERE id = 5")
        txs = collect(selector, transactions=2)
        updates = events_of(txs)
        assert {e.event_type for e in updates} == {EventType.UPDATE}
        moved = updates[-1]
        assert moved.old_keys == {"id": 5} and moved.keys == {"id": 50} and moved.updated == frozenset()
        assert all(e.old_keys is None and e.updated for e in updates[:-1])
        conn = target_conn(mariadb_target, DB)
        with conn.cursor() as cur:
            for event in updates:
                cur.execute("DELETE FROM t WHERE id = %s", ((event.old_keys or event.keys)["id"],))
                insert_event(conn, "t", event)
        conn.close()
        assert snapshot(mariadb_target, "t", columns) == snapshot(mariadb_source, "t", columns)

        # DELETE: the before images rebuild the deleted rows exactly
        before = snapshot(mariadb_source, "t", columns)
        mariadb_source.execute("DELETE FROM seltypes.t")
        deletes = events_of(collect(selector, transactions=1))
        assert len(deletes) == len(ROWS) and {e.event_type for e in deletes} == {EventType.DELETE}
        apply(mariadb_target, "t_del", deletes)
        assert snapshot(mariadb_target, "t_del", columns) == before
        decoders = [fn for codec in selector._codecs.values() if codec for fn in codec._decoders.values()]
        assert len(decoders) >= 3  # insert, update, delete
        compiled = [isinstance(fn, rowops.BUILT.Decoder) for fn in decoders]
        assert compiled == [row_decoder == "compiled"] * len(decoders)
    finally:
        selector.close()


def test_values_do_not_need_full_row_metadata(mariadb_source: MariaDBServer) -> None:
    (value,) = mariadb_source.execute("SELECT @@binlog_row_metadata")[0]
    assert value.upper() != "FULL"  # the servers run the default: names come from the schema cache


def test_timestamps_are_utc_whatever_the_writing_session(mariadb_source: MariaDBServer) -> None:
    mariadb_source.execute(
        f"CREATE DATABASE {DB}",
        f"CREATE TABLE {DB}.ts (id INT PRIMARY KEY, t TIMESTAMP(3) NULL, d DATETIME(3))",
    )
    selector = make_selector(mariadb_source, [(DB, "ts")])
    try:
        conn = mariadb_source.connect()
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+05:30'")
            cur.execute(
                f"INSERT INTO {DB}.ts VALUES (1, '2021-03-04 05:36:07.125', '2021-03-04 05:36:07.125')"
            )
        conn.close()
        [event] = events_of(collect(selector, transactions=1))
    finally:
        selector.close()
    assert event.columns["t"] == dt.datetime(2021, 3, 4, 0, 6, 7, 125000, tzinfo=dt.timezone.utc)
    assert event.columns["d"] == dt.datetime(2021, 3, 4, 5, 36, 7, 125000)  # DATETIME has no zone
