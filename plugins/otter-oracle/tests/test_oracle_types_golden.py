"""Golden tests: every MySQL column type the selector handles -> its Oracle type, and every value kind the
selector emits -> the exact bind value (and LOB binding for long values)."""

import datetime as dt
from decimal import Decimal

import pytest

from otter_core.spi import DataError
from otter_oracle.dialect import Naming
from otter_oracle.types import bind_value, create_table_sql, input_sizes, oracle_type

# (MySQL COLUMN_TYPE, Oracle type): the types of plugins/otter-mysql/tests/test_selector_types.py and more
TYPES = [
    ("int(11)", "NUMBER(10)"),
    ("int(10) unsigned", "NUMBER(10)"),
    ("tinyint(4)", "NUMBER(3)"),
    ("tinyint(3) unsigned", "NUMBER(3)"),
    ("tinyint(1)", "NUMBER(3)"),
    ("smallint(6)", "NUMBER(5)"),
    ("smallint(5) unsigned", "NUMBER(5)"),
    ("mediumint(9)", "NUMBER(7)"),
    ("mediumint(8) unsigned", "NUMBER(8)"),
    ("bigint(20)", "NUMBER(19)"),
    ("bigint(20) unsigned", "NUMBER(20)"),
    ("bool", "NUMBER(3)"),
    ("decimal(65,30)", "NUMBER(38,30)"),
    ("decimal(10,2)", "NUMBER(10,2)"),
    ("decimal(5,0)", "NUMBER(5,0)"),
    ("decimal(20,10) unsigned", "NUMBER(20,10)"),
    ("decimal(40,0)", "NUMBER"),
    ("decimal", "NUMBER(10,0)"),
    ("float", "BINARY_FLOAT"),
    ("double", "BINARY_DOUBLE"),
    ("bit(1)", "NUMBER(1)"),
    ("bit(10)", "NUMBER(4)"),
    ("bit(64)", "NUMBER(20)"),
    ("date", "DATE"),
    ("datetime(6)", "TIMESTAMP(6)"),
    ("datetime", "TIMESTAMP(0)"),
    ("datetime(3)", "TIMESTAMP(3)"),
    ("timestamp(6)", "TIMESTAMP(6)"),
    ("timestamp", "TIMESTAMP(0)"),
    ("timestamp(1)", "TIMESTAMP(1)"),
    ("time(6)", "INTERVAL DAY(2) TO SECOND(6)"),
    ("time", "INTERVAL DAY(2) TO SECOND(0)"),
    ("time(3)", "INTERVAL DAY(2) TO SECOND(3)"),
    ("year(4)", "NUMBER(4)"),
    ("year", "NUMBER(4)"),
    ("char(10)", "CHAR(10 CHAR)"),
    ("char(0)", "CHAR(1 CHAR)"),
    ("char(255)", "CHAR(255 CHAR)"),
    ("varchar(300)", "VARCHAR2(300 CHAR)"),
    ("varchar(4000)", "VARCHAR2(4000 CHAR)"),
    ("varchar(16383)", "CLOB"),
    ("tinytext", "VARCHAR2(255 CHAR)"),
    ("text", "CLOB"),
    ("mediumtext", "CLOB"),
    ("longtext", "CLOB"),
    ("binary(8)", "RAW(8)"),
    ("varbinary(300)", "RAW(300)"),
    ("varbinary(4000)", "BLOB"),
    ("tinyblob", "RAW(255)"),
    ("blob", "BLOB"),
    ("mediumblob", "BLOB"),
    ("longblob", "BLOB"),
    ("enum('a','b''q','c,d','é','back\\\\slash')", "VARCHAR2(10 CHAR)"),
    ("set('x','y','z')", "VARCHAR2(5 CHAR)"),
    ("json", "CLOB"),
    ("geometry", "BLOB"),
    ("point", "BLOB"),
    ("polygon", "BLOB"),
    ("linestring", "BLOB"),
    ("multipolygon", "BLOB"),
    ("geometrycollection", "BLOB"),
    ("inet6", "RAW(16)"),
    ("inet4", "RAW(4)"),
    ("uuid", "RAW(16)"),
]


@pytest.mark.parametrize("mysql, oracle", TYPES, ids=[t for t, _ in TYPES])
def test_mysql_type_maps_to_oracle(mysql, oracle):
    assert oracle_type(mysql) == oracle


def test_an_unmappable_type_names_itself_and_the_remedy():
    with pytest.raises(DataError, match=r"'vector\(3\)' has no Oracle mapping.*by hand"):
        oracle_type("vector(3)")


def test_create_table_quotes_maps_and_keys():
    sql = create_table_sql(
        Naming(),
        "shop",
        "order",
        [("id", "bigint(20) unsigned", False), ("note", "varchar(40)", True), ("at", "datetime(6)", True)],
        ["id"],
    )
    assert sql == (
        'CREATE TABLE "SHOP"."ORDER" ("ID" NUMBER(20) NOT NULL, "NOTE" VARCHAR2(40 CHAR), '
        '"AT" TIMESTAMP(6), PRIMARY KEY ("ID"))'
    )


UTC = dt.timezone.utc
# (value the MySQL selector emits, exact bind value)
VALUES = [
    (None, None),
    (0, 0),
    (-9223372036854775808, -9223372036854775808),
    (18446744073709551615, 18446744073709551615),
    (True, 1),
    (False, 0),
    (Decimal("99999999.99"), Decimal("99999999.99")),
    (Decimal("-0.000000000000000000000000000001"), Decimal("-0.000000000000000000000000000001")),
    (3.4028234663852886e38, 3.4028234663852886e38),
    (-2.2250738585072014e-308, -2.2250738585072014e-308),
    (dt.date(9999, 12, 31), dt.date(9999, 12, 31)),
    (dt.datetime(2024, 2, 29, 12, 34, 56, 789000), dt.datetime(2024, 2, 29, 12, 34, 56, 789000)),
    (dt.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC), dt.datetime(2038, 1, 19, 3, 14, 7, 999999)),
    (
        dt.datetime(2020, 6, 15, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2020, 6, 15, 10, 0),
    ),
    (dt.timedelta(hours=-838, minutes=-59, seconds=-59), dt.timedelta(hours=-838, minutes=-59, seconds=-59)),
    (dt.timedelta(microseconds=1), dt.timedelta(microseconds=1)),
    ("emoji 😀 ünïcödé 中文", "emoji 😀 ünïcödé 中文"),
    ("", ""),
    ("x,z", "x,z"),
    (b"\x00\xff", b"\x00\xff"),
    (bytearray(b"ab"), b"ab"),
    (memoryview(b"cd"), b"cd"),
    ({"a": [1, 2.5, "é"]}, '{"a":[1,2.5,"é"]}'),
    ([1, None], "[1,null]"),
    (frozenset({"y", "x"}), "x,y"),
    ("0000-00-00 00:00:00.000000", "0000-00-00 00:00:00.000000"),
]


@pytest.mark.parametrize("value, bound", VALUES, ids=[repr(v)[:40] for v, _ in VALUES])
def test_selector_value_binds_exactly(value, bound):
    result = bind_value(value)
    assert result == bound and type(result) is type(bound)


def test_an_unbindable_value_is_a_data_error():
    with pytest.raises(DataError, match="type complex cannot be written to Oracle"):
        bind_value(1j)


def test_long_text_and_bytes_are_bound_as_lobs():
    assert input_sizes([[1, "short", b"x"]]) is None
    assert input_sizes([[1, "é" * 2001, b"x"], [2, "s", b"y" * 2001]]) == [None, "CLOB", "BLOB"]
    assert input_sizes([[1, "a" * 4000]]) is None  # 4000 bytes still fit a VARCHAR2 bind
