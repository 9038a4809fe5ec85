"""MySQL (MariaDB) -> otter -> PostgreSQL 15, end to end: every column type the selector emits arrives
with the same value; inserts, updates, deletes and translated DDL follow."""

import datetime as dt
import ipaddress
import json
import struct
import uuid
from decimal import Decimal

import pytest
import yaml

from otter_core.testing.harness import pipeline_yaml, running, wait_caught_up
from otter_postgresql.ddl import translate

pytestmark = pytest.mark.usefixtures("clean_databases", "clean_postgresql")

COLUMNS = """
 id INT PRIMARY KEY,
 ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT,
 miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, bo BOOL,
 dec1 DECIMAL(65,30), dec2 DECIMAL(10,2), dec3 DECIMAL(5,0), dec4 DECIMAL(20,10) UNSIGNED,
 f FLOAT, dbl DOUBLE, b1 BIT(1), b10 BIT(10), b64 BIT(64),
 d DATE, dt6 DATETIME(6), dt0 DATETIME, dt3 DATETIME(3), ts6 TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL,
 ts1 TIMESTAMP(1) NULL, tm6 TIME(6), tm0 TIME, tm3 TIME(3), tm1 TIME(1), y YEAR,
 c CHAR(10), vc VARCHAR(300), tx TEXT, ltx LONGTEXT, l1 VARCHAR(300) CHARACTER SET latin1,
 lc CHAR(5) CHARACTER SET latin1, asc1 VARCHAR(10) CHARACTER SET ascii,
 bn BINARY(8), vb VARBINARY(300), bl BLOB, tbl TINYBLOB, mbl MEDIUMBLOB,
 e ENUM('a','b''q','c,d','é','back\\\\slash'), st SET('x','y','z'), j JSON,
 g GEOMETRY, pt POINT, poly POLYGON, ip6 INET6, uu UUID, ip4 INET4,
 gen BIGINT AS (iu + 1) VIRTUAL, gens VARCHAR(40) AS (LEFT(`vc`, 10)) STORED
"""
ALL_BYTES = bytes(range(256))
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
        ts6="2038-01-19 03:14:07.999999",
        ts0="2038-01-19 03:14:07",
        tm6="838:59:59.000000",
        tm0="838:59:59",
        dt3="2024-02-29 12:34:56.789",
        ts1="2001-02-03 04:05:06.7",
        tm3="12:34:56.789",
        tm1="00:00:00.1",
        lc="çà",
        asc1="plain",
        tbl=ALL_BYTES[:255],
        y=2155,
        c="abc",
        vc="x" * 300,
        tx="emoji 😀 ünïcödé 中文",
        ltx="\U0001f600" * 1000,
        l1="é€\x81 ÿ",
        bn=b"\x01\x00\xff",
        vb=ALL_BYTES[:300],
        bl=ALL_BYTES,
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
        dec1=Decimal("-0.000000000000000000000000000001"),
        dec2=Decimal("-0.01"),
        dec3=Decimal("-99999"),
        dec4=Decimal("0.0000000001"),
        f=-1.1754943508222875e-38,
        dbl=5e-324,
        b1=0,
        b10=0,
        b64=0,
        d=dt.date(1000, 1, 1),
        dt6="1000-01-01 00:00:00.000000",
        dt0="1000-01-01 00:00:00",
        ts6="1970-01-01 00:00:01.000000",
        ts0="1970-01-01 00:00:01",
        tm6="-838:59:59.000000",
        tm0="-00:00:01",
        tm3="-00:00:00.001",
        tm1="-01:00:00.5",
        y=1901,
        c="",
        vc="",
        tx="",
        ltx="",
        l1="",
        bn=b"",
        vb=b"",
        bl=b"",
        mbl=b"",
        e="é",
        st="",
        j="[]",
        ip6="::ffff:1.2.3.4",
        uu="5c2f4b86-8f1e-4f8a-9a43-3f1e2d6b7c01",
        ip4="255.255.255.255",
    ),
    dict(id=3),  # NULL in every column
    dict(
        id=4,
        e="back\\slash",
        c="trailing  ",
        vc="trailing  ",
        bn=b"\x00" * 8,
        vb=b"\x00\x00",
        j='"str"',
        l1=ALL_BYTES[1:],
        lc=b"\x80\x81\x9d\xff",
        dt6="2020-06-15 10:11:12.000001",
        tm6="-00:00:00.000001",
    ),
    # zero and partial-zero dates, the ENUM error value, YEAR 0000: written as NULL with zero_dates: null
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
ZERO_DATE_COLUMNS = {"d", "dt6", "dt0", "dt3", "ts6", "ts0"}


def mysql_rows(server, table):
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(
                f"SELECT *, CAST(f AS DOUBLE), CAST(b10 AS UNSIGNED), CAST(b64 AS UNSIGNED), "
                f"CAST(b1 AS UNSIGNED) FROM shop.{table} ORDER BY id"
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        conn.close()


def pg_rows(server, table):
    with server.connect() as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        cur = conn.execute(f'SELECT * FROM shop."{table}" ORDER BY id')
        names = [d.name for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def same(column, mine, theirs, source_row):
    """Whether the PostgreSQL value equals the MySQL one (both read back with their own drivers)."""
    if column in ZERO_DATE_COLUMNS and source_row["id"] == 5:
        return theirs is None  # zero_dates: null
    if mine is None or theirs is None:
        return mine is None and theirs is None
    if column == "f":
        return struct.pack("<f", source_row["CAST(f AS DOUBLE)"]) == struct.pack("<f", theirs)
    if column in ("b1", "b10", "b64"):
        return int(theirs, 2) == source_row[f"CAST({column} AS UNSIGNED)"]
    if column in ("ts6", "ts0", "ts1"):
        return theirs.replace(tzinfo=None) == mine
    if column == "j":
        return json.loads(mine) == theirs
    if column in ("ip6", "ip4"):
        return ipaddress.ip_address(mine) == ipaddress.ip_address(theirs)
    if column == "uu":
        return uuid.UUID(mine) == theirs
    if column in ("g", "pt", "poly"):  # SRID (4 bytes, little-endian) + WKB, as MySQL stores it
        return bytes(theirs) == mine
    if column == "bn":
        return bytes(theirs) == mine
    return mine == theirs


def start_of(server):
    file, pos = server.binlog_position()
    return {"file": file, "pos": pos}


def test_every_type_arrives_with_the_same_value(mariadb_source, postgresql_server, tmp_path):
    create = f"CREATE TABLE shop.alltypes ({COLUMNS}) CHARSET utf8mb4"
    mariadb_source.execute("CREATE DATABASE shop", create)
    postgresql_server.execute("CREATE SCHEMA shop", *translate(create, "shop"))
    doc = yaml.safe_load(
        pipeline_yaml(mariadb_source, postgresql_server, ["shop.alltypes"], start=start_of(mariadb_source))
    )
    doc["sources"]["dst"]["options"]["zero_dates"] = "null"
    with running(yaml.safe_dump(doc), str(tmp_path / "state")) as runner:
        conn = mariadb_source.connect()
        with conn.cursor() as cur:  # zero dates and the ENUM error value need a permissive session
            cur.execute("SET SESSION sql_mode = ''")
        with conn.cursor() as cur:
            for row in ROWS:
                cur.execute(
                    f"INSERT INTO shop.alltypes ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
                    list(row.values()),
                )
            cur.execute(
                "UPDATE shop.alltypes SET g = ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))', 4326), "
                "pt = ST_GeomFromText('POINT(1.5 -2.25)'), poly = ST_GeomFromText("
                "'POLYGON((0 0,10 0,10 10,0 10,0 0),(1 1,2 1,2 2,1 1))') WHERE id = 1"
            )
        conn.close()
        wait_caught_up(runner, mariadb_source)
    source, target = mysql_rows(mariadb_source, "alltypes"), pg_rows(postgresql_server, "alltypes")
    assert [r["id"] for r in target] == [1, 2, 3, 4, 5] and len(target[0]) == len(source[0]) - 4
    differences = [
        (s["id"], column, s[column], t[column])
        for s, t in zip(source, target)
        for column in t
        if not same(column, s[column], t[column], s)
    ]
    assert differences == []


def test_changes_and_ddl_follow_in_order(mariadb_source, postgresql_server, tmp_path):
    mariadb_source.execute("CREATE DATABASE shop")
    postgresql_server.execute("CREATE SCHEMA shop")
    text = pipeline_yaml(mariadb_source, postgresql_server, ["shop.*"], start=start_of(mariadb_source))
    with running(text, str(tmp_path / "state")) as runner:
        mariadb_source.execute(
            "CREATE TABLE shop.orders (id INT PRIMARY KEY, amount DECIMAL(10,2) NOT NULL, note VARCHAR(20))",
            "INSERT INTO shop.orders SELECT seq, seq / 4, CONCAT('n', seq) FROM shop.seq_1_to_3000",
            "UPDATE shop.orders SET amount = amount + 1 WHERE id % 3 = 0",
            "DELETE FROM shop.orders WHERE id % 5 = 0",
            "ALTER TABLE shop.orders ADD COLUMN qty SMALLINT UNSIGNED NOT NULL DEFAULT 7",
            "UPDATE shop.orders SET qty = 9, id = id + 10000 WHERE id = 1",
            "INSERT INTO shop.orders (id, amount) VALUES (5, 1.5)",
        )
        wait_caught_up(runner, mariadb_source)
    mine = mariadb_source.execute("SELECT id, amount, note, qty FROM shop.orders ORDER BY id")
    theirs = postgresql_server.execute("SELECT id, amount, note, qty FROM shop.orders ORDER BY id")
    assert len(mine) == 2401 and [tuple(r) for r in theirs] == [tuple(r) for r in mine]
