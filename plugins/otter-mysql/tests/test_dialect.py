"""Golden tests of the SQL text and parameters the MySQL dialect builds (no server needed)."""

from __future__ import annotations

import datetime
import decimal
import warnings

import pymysql
import pytest

from otter_core.spi import DataError
from otter_mysql import dialect
from otter_mysql.dialect import (
    build_delete,
    build_upsert,
    delete_parts,
    literal,
    literal_row,
    quote_ident,
    quote_table,
    upsert_parts,
)


def test_quote_ident_doubles_backticks() -> None:
    assert quote_ident("plain") == "`plain`"
    assert quote_ident("a`b") == "`a``b`"
    assert quote_ident("``") == "``````"
    assert quote_ident("with space;--") == "`with space;--`"
    assert quote_table("s`1", "t") == "`s``1`.`t`"
    assert quote_table("", "t") == "`t`"


def test_insert_row_mode_updates_every_non_key_column() -> None:
    sql, params = build_upsert(
        "shop", "offer", ["id", "name", "price"], ["id"], None, [(1, "a", 2.5), (2, "b", None)]
    )
    assert sql == (
        "INSERT INTO `shop`.`offer` (`id`,`name`,`price`) VALUES (%s,%s,%s),(%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE `name`=VALUES(`name`),`price`=VALUES(`price`)"
    )
    assert params == [1, "a", 2.5, 2, "b", None]


def test_field_mode_update_lists_only_changed_columns() -> None:
    sql, params = build_upsert("shop", "offer", ["id", "name", "price"], ["id"], ["price"], [(7, "x", 1)])
    assert sql == (
        "INSERT INTO `shop`.`offer` (`id`,`name`,`price`) VALUES (%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE `price`=VALUES(`price`)"
    )
    assert params == [7, "x", 1]


def test_empty_update_list_and_all_key_table_give_noop_update() -> None:
    sql, _ = build_upsert("s", "t", ["id", "v"], ["id"], [], [(1, 2)])
    assert sql.endswith(" ON DUPLICATE KEY UPDATE `id`=`id`")
    sql, params = build_upsert("s", "link", ["a", "b"], ["a", "b"], None, [(1, 2), (3, 4)])
    assert sql == ("INSERT INTO `s`.`link` (`a`,`b`) VALUES (%s,%s),(%s,%s) ON DUPLICATE KEY UPDATE `a`=`a`")
    assert params == [1, 2, 3, 4]


def test_delete_single_and_composite_key() -> None:
    sql, params = build_delete("s", "t", ["id"], [(1,), (2,), (3,)])
    assert sql == "DELETE FROM `s`.`t` WHERE `id` IN (%s,%s,%s)"
    assert params == [1, 2, 3]
    sql, params = build_delete("s", "t", ["a", "b"], [(1, "x"), (2, "y")])
    assert sql == "DELETE FROM `s`.`t` WHERE (`a`,`b`) IN ((%s,%s),(%s,%s))"
    assert params == [1, "x", 2, "y"]


def test_odd_identifiers_are_quoted_everywhere() -> None:
    sql, _ = build_upsert("d`b", "t`1", ["i`d", "v`al"], ["i`d"], None, [(1, 2)])
    assert sql == (
        "INSERT INTO `d``b`.`t``1` (`i``d`,`v``al`) VALUES (%s,%s)"
        " ON DUPLICATE KEY UPDATE `v``al`=VALUES(`v``al`)"
    )
    sql, _ = build_delete("d`b", "t`1", ["k`1", "k2"], [(1, 2)])
    assert sql == "DELETE FROM `d``b`.`t``1` WHERE (`k``1`,`k2`) IN ((%s,%s))"


def test_parts_are_what_build_uses() -> None:
    head, tail = upsert_parts("s", "t", ["id", "v"], ["id"], None)
    assert head == "INSERT INTO `s`.`t` (`id`,`v`) VALUES "
    assert tail == " ON DUPLICATE KEY UPDATE `v`=VALUES(`v`)"
    assert delete_parts("s", "t", ["id"]) == ("DELETE FROM `s`.`t` WHERE `id` IN (", ")")


def test_wrong_arity_is_refused() -> None:
    with pytest.raises(ValueError):
        build_upsert("s", "t", ["a", "b"], ["a"], None, [(1,)])
    with pytest.raises(ValueError):
        build_delete("s", "t", ["a", "b"], [(1,)])
    with pytest.raises(ValueError):
        build_delete("s", "t", [], [(1,)])


VALUES = [
    None,
    0,
    -12,
    2**63,
    True,
    False,
    "plain",
    'it\'s "q" \\ back\nslash\r\x00\x1a',
    "ünï€😀",
    "",
    b"",
    b"\x00\x01'\\\xff",
    bytearray(b"ab"),
    1.5,
    -2.0e-30,
    decimal.Decimal("12.30"),
    decimal.Decimal("-0.001"),
    datetime.datetime(2024, 2, 29, 23, 59, 58),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
    datetime.date(1999, 12, 31),
    datetime.datetime(5, 1, 1),
    datetime.date(1, 1, 1),
    datetime.time(1, 2, 3, 40),
    datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    datetime.time(1, 2, 3),
    "\x7f\x80 ok",
    datetime.timedelta(hours=-25, minutes=3),
    datetime.timedelta(days=1, seconds=5, microseconds=7),
    "%s %(x)s",
]


def test_literal_matches_pymysql_parameter_binding() -> None:
    """The loader's fast path must escape exactly as ``cursor.execute(sql, params)`` would."""
    conn = pymysql.connections.Connection.__new__(pymysql.connections.Connection)
    conn.encoders = pymysql.converters.encoders
    conn.encoding = "utf8mb4"
    conn.server_status = 0  # backslash escapes on: the loader never sets NO_BACKSLASH_ESCAPES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for value in VALUES:
            assert literal(value) == conn.escape(value), value
    assert literal_row([1, "a'", None]) == "(1,'a\\'',NULL)"


def test_literal_of_values_pymysql_would_misrender() -> None:
    assert literal({"b", "a"}) == "'a,b'"  # SET column, not a row constructor
    assert literal({"k": [1, "é"]}) == '\'{\\"k\\":[1,\\"é\\"]}\''  # JSON text
    assert literal(memoryview(b"\x01")) == "X'01'"
    for bad in (float("nan"), float("inf"), decimal.Decimal("NaN"), object()):
        with pytest.raises(DataError):
            literal(bad)


def test_compiled_literal_row_renders_exactly_like_the_python_one() -> None:
    compiled = dialect.compiled("sql_literal_row")
    assert compiled is not None, "the otter_mysql._rowdecode extension did not build"
    assert dialect.literal_row is not dialect.literal_row_python
    rows = [
        VALUES,
        [
            None,
            True,
            False,
            0,
            -1,
            2**70,
            "",
            "'\\\"\x00\n\r\x1a",
            "é😀中",
            b"\x00\xff" * 3,
            datetime.datetime(1, 1, 1),
            datetime.datetime(9999, 12, 31, 23, 59, 59, 999999),
            datetime.date(2024, 2, 29),
            decimal.Decimal("-1.50"),
            1.5,
            {"a"},
            memoryview(b"x"),
        ],
        # DECIMALs: plain ones take str(), exponents format(v, "f")
        [
            decimal.Decimal(d)
            for d in (
                "0",
                "-0.00",
                "100",
                "1E+2",
                "1.5E+3",
                "1E-7",
                "0.000001",
                "-12.345",
                "123456789012345678901234567890.123456789",
            )
        ],
        [],
    ]
    for row in rows:
        assert compiled(row) == dialect.literal_row_python(row)
        assert compiled(tuple(row)) == dialect.literal_row_python(row)
    for bad in (float("nan"), decimal.Decimal("NaN"), decimal.Decimal("-Infinity"), object()):
        with pytest.raises(DataError):  # the loader's form: the default renderer of other types
            compiled([1, bad])
        with pytest.raises(DataError):
            compiled([1, bad], dialect.literal)


def test_compiled_statement_builder_renders_rows_exactly_like_the_python_literals() -> None:
    from otter_core.spi import EventData, EventType

    assert dialect.sql_values is not None, "the otter_mysql._rowdecode extension did not build"
    rows = [
        VALUES,
        [
            0,
            -1,
            2**63 - 1,
            -(2**63),
            2**63,
            -(2**63) - 1,
            10**30,
            True,
            None,
            "",
            "é",
            "'\\\"\x00\n\r\x1a😀",
            "\udcff lone surrogate",
            b"",
            bytes(range(256)),
            datetime.datetime(1, 1, 1),
            datetime.datetime(2024, 2, 29, 23, 59, 59, 1),
            datetime.date(9999, 12, 31),
            decimal.Decimal("1E+2"),
            decimal.Decimal("-0.000001"),
            1.25,
            {"x", "y"},
            memoryview(b"mv"),
            {"json": ["é"]},
        ],
    ]
    events = [
        EventData("s", "t", EventType.INSERT, keys={"k": i}, columns={f"c{j}": v for j, v in enumerate(row)})
        for i, row in enumerate(rows)
    ]
    sql, end = dialect.sql_values(events, 0, 0, None, 1000, 10**9, -1, "INSERT é ", " END")
    assert end == 2
    expected = (
        "INSERT é " + ",".join(dialect.literal_row_python([i, *row]) for i, row in enumerate(rows)) + " END"
    )
    assert sql == expected.encode("utf8", "surrogateescape")
    picked, _ = dialect.sql_values(events[1:], 0, 0, (3, 0, 12), 1000, 10**9, -1, "", "")
    assert picked == dialect.literal_row_python([2**63 - 1, 1, "'\\\"\x00\n\r\x1a😀"]).encode()
    one_key, _ = dialect.sql_values(events, 0, 1, None, 1000, 10**9, -1, "IN (", ")")
    assert one_key == b"IN (0,1)"
    for bad in (float("nan"), decimal.Decimal("NaN"), object()):
        with pytest.raises(DataError):
            dialect.sql_values(
                [EventData("s", "t", EventType.INSERT, keys={"k": 1}, columns={"c": bad})],
                0,
                0,
                None,
                1000,
                10**9,
                -1,
                "",
                "",
            )


def test_literal_of_subclasses() -> None:
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    assert literal(Level.HIGH) == "3"
    assert dialect.literal_row(()) == "()"
