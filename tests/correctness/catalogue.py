"""Every MariaDB column type the harness generates, with its value strategy and how it is compared.

One table of the harness holds every column below (so each example covers every type) plus a primary
key of one of ``KEY_SHAPES``. A value is written as ``write`` with one bound parameter (GEOMETRY goes
through ``ST_GeomFromText``) and read back for comparison as ``compare`` (exact bytes, the stored
FLOAT widened to DOUBLE, GEOMETRY as WKB, JSON normalised, temporal values as text so zero dates stay
visible: PyMySQL turns ``0000-00-00`` into None).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
from collections.abc import Callable
from decimal import Decimal

from attrs import frozen
from hypothesis import strategies as st

BIG_BLOB_BYTES = 1_100_000  # a MEDIUMBLOB over 1 MB: the loader sends it alone, as bytes
MID_BYTES = (65_537, 400_000)  # over 64 KB, under the loader's 1 MB "big row": shares statements


@frozen
class Big:
    """A big value by recipe (``kind``, ``seed``, ``size``): short in hypothesis's report of a failing
    example and in the workload's SQL, built when the statement is executed (``value()``)."""

    kind: str  # bytes | text (repeats the character ``seed``) | json | line (GEOMETRY WKT)
    seed: int
    size: int

    def value(self) -> bytes | str:
        return _build(self.kind, self.seed, self.size)

    def __repr__(self) -> str:
        return f"Big({self.kind!r}, {self.seed}, {self.size})"


@functools.lru_cache(maxsize=16)
def _build(kind: str, seed: int, size: int) -> bytes | str:
    if kind == "bytes":
        return random.Random(seed).randbytes(size)
    if kind == "text":
        return chr(seed) * size
    if kind == "json":
        return '{"k": "' + "v" * size + '"}'
    rng = random.Random(seed)  # line: ``size`` points
    return "LINESTRING(" + ",".join(f"{i} {rng.randint(-9, 9)}" for i in range(size)) + ")"


BIG_TEXT = Big("text", ord("😀"), 16383)  # 65,532 bytes of 4-byte UTF-8: a TEXT at its 64 KB limit


@frozen
class ColumnType:
    name: str
    ddl: str
    values: st.SearchStrategy
    write: str = "%s"
    compare: str = "{c}"
    generated: bool = False


def _int(bits: int, unsigned: bool) -> st.SearchStrategy[int]:
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.one_of(st.sampled_from([low, high, low + 1, high - 1, 0, 1]), st.integers(low, high))


def _ints() -> list[ColumnType]:
    widths = {"TINYINT": 8, "SMALLINT": 16, "MEDIUMINT": 24, "INT": 32, "BIGINT": 64}
    out = []
    for sql, bits in widths.items():
        short = sql[:2].lower() if sql != "MEDIUMINT" else "mi"
        out.append(ColumnType(f"{short}s", sql, _int(bits, False)))
        out.append(ColumnType(f"{short}u", f"{sql} UNSIGNED", _int(bits, True)))
    return out


def _date_text(d: dt.date) -> str:
    return d.isoformat()


_dates = st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31))
_zero_dates = st.sampled_from(["0000-00-00", "2024-00-00", "2024-02-00"])
_datetimes = st.datetimes(dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999))
_timestamps = st.datetimes(dt.datetime(1970, 1, 2), dt.datetime(2038, 1, 18, 23, 59, 59, 999999))
_times = st.builds(
    lambda neg, h, m, s, us: f"{'-' if neg else ''}{h}:{m:02d}:{s:02d}.{us:06d}",
    st.booleans(),
    st.integers(0, 838),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999999),
)


def _rarely(common: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """``rare`` in about one draw of ten (big values: a few per example, not every row)."""
    return st.integers(0, 9).flatmap(lambda n: rare if n == 0 else common)


_LATIN1 = "".join(chr(c) for c in [*range(0x20, 0x7F), *range(0xA0, 0x100)]) + "€"
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)  # incl. 4-byte UTF-8
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
).map(lambda v: json.dumps(v, ensure_ascii=False))
_json_exponent = st.builds(  # numbers as text, exponents up to 4 digits: beyond a double, kept as written
    lambda whole, fraction, letter, sign, exponent, shape: shape.format(
        f"{whole}.{fraction}{letter}{sign}{exponent}"
    ),
    st.integers(-(10**8), 10**8),
    st.integers(0, 10**16),
    st.sampled_from("eE"),
    st.sampled_from(["", "+", "-"]),
    st.integers(0, 9999),
    st.sampled_from(["{}", "[{}]"]),
)
_big_json = st.integers(*MID_BYTES).map(lambda n: Big("json", 0, n))  # over 64 KB
_coords = st.integers(-1000, 1000)
_point = st.builds(lambda x, y: f"{x} {y}", _coords, _coords)
_long_line = st.integers(0, 2**32).map(lambda seed: Big("line", seed, 5000))  # 80 KB of WKB, over 64 KB
_wkt = st.one_of(
    _point.map(lambda p: f"POINT({p})"),
    st.lists(_point, min_size=2, max_size=4).map(lambda ps: f"LINESTRING({','.join(ps)})"),
    st.builds(
        lambda x, y, d: f"POLYGON(({x} {y},{x + d} {y},{x + d} {y + d},{x} {y}))",
        _coords,
        _coords,
        st.integers(1, 50),
    ),
)


_big_blob = st.builds(
    lambda seed, size: Big("bytes", seed, size),
    st.integers(0, 2**32),
    st.sampled_from([BIG_BLOB_BYTES]) | st.integers(*MID_BYTES),
)
_mid_text = st.builds(  # over 64 KB of 4-, 2- or 1-byte characters
    lambda ch, size: Big("text", ord(ch), size // len(ch.encode())),
    st.sampled_from(["😀", "é", "x"]),
    st.integers(*MID_BYTES),
)

COLUMNS: list[ColumnType] = [
    *_ints(),
    ColumnType(
        "dec",
        "DECIMAL(20,6)",
        st.decimals(Decimal("-99999999999999.999999"), Decimal("99999999999999.999999"), places=6),
    ),
    ColumnType(
        "dec65",
        "DECIMAL(65,30) UNSIGNED",
        st.sampled_from(
            [
                Decimal("0"),
                Decimal("99999999999999999999999999999999999.999999999999999999999999999999"),
                Decimal("0.000000000000000000000000000001"),
            ]
        ),
    ),
    ColumnType(
        "fl",
        "FLOAT",
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        compare="CAST({c} AS DOUBLE)",
    ),
    ColumnType("db", "DOUBLE", st.floats(allow_nan=False, allow_infinity=False)),
    ColumnType("b1", "BIT(1)", st.integers(0, 1)),
    ColumnType("b10", "BIT(10)", st.integers(0, 1023)),
    ColumnType("b64", "BIT(64)", _int(64, True)),
    ColumnType("d", "DATE", _dates.map(_date_text) | _zero_dates, compare="CAST({c} AS CHAR)"),
    ColumnType(
        "dt6",
        "DATETIME(6)",
        _datetimes.map(lambda v: v.isoformat(" ", "microseconds"))
        | _zero_dates.map(lambda d: d + " 00:00:00.000000"),
        compare="CAST({c} AS CHAR)",
    ),
    ColumnType(
        "ts6",
        "TIMESTAMP(6) NULL",
        _timestamps.map(lambda v: v.isoformat(" ", "microseconds")) | st.just("0000-00-00 00:00:00"),
        compare="CAST({c} AS CHAR)",
    ),
    ColumnType("tm6", "TIME(6)", _times, compare="CAST({c} AS CHAR)"),
    ColumnType("yr", "YEAR", st.integers(1901, 2155) | st.just(0), compare="CAST({c} AS CHAR)"),
    ColumnType(
        "ch",
        "CHAR(10)",
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
        compare="CAST({c} AS BINARY)",
    ),
    ColumnType("vc", "VARCHAR(200)", _text, compare="CAST({c} AS BINARY)"),
    ColumnType("tx", "TEXT", _rarely(_text, st.just(BIG_TEXT)), compare="CAST({c} AS BINARY)"),
    ColumnType("mt", "MEDIUMTEXT", _rarely(_text, _mid_text), compare="CAST({c} AS BINARY)"),
    ColumnType(
        "l1",
        "VARCHAR(100) CHARACTER SET latin1",
        st.text(_LATIN1, max_size=30),
        compare="CAST({c} AS BINARY)",
    ),
    ColumnType(
        "lt", "TEXT CHARACTER SET latin1", st.text(_LATIN1, max_size=30), compare="CAST({c} AS BINARY)"
    ),
    ColumnType("bn", "BINARY(8)", st.binary(max_size=8)),
    ColumnType("vb", "VARBINARY(100)", st.binary(max_size=100)),
    ColumnType("bl", "BLOB", st.binary(max_size=300)),
    ColumnType("mb", "MEDIUMBLOB", _rarely(st.binary(max_size=50), _big_blob)),
    ColumnType("en", "ENUM('a','b''q','c,d','é','')", st.sampled_from(["a", "b'q", "c,d", "é", ""])),
    ColumnType("se", "SET('x','y','z')", st.sets(st.sampled_from("xyz")).map(lambda s: ",".join(sorted(s)))),
    # MariaDB adds CHECK (json_valid). JSON_NORMALIZE reads a ``utf8mb4_bin`` text in place and parses a
    # number's exponent with strtol, past the value's end (``e+16`` read as ``E1669`` after a row that
    # held ``e+1669``); another collation makes it copy the text into a zeroed buffer first.
    ColumnType(
        "js",
        "JSON",
        _rarely(st.integers(0, 3).flatmap(lambda n: _json_exponent if n == 0 else _json), _big_json),
        compare="JSON_NORMALIZE({c} COLLATE utf8mb4_general_ci)",
    ),
    ColumnType(
        "geo", "GEOMETRY", _rarely(_wkt, _long_line), write="ST_GeomFromText(%s)", compare="ST_AsWKB({c})"
    ),
    ColumnType("gen", "BIGINT AS (ins + 1) VIRTUAL", st.nothing(), generated=True),
]
WRITABLE = [c for c in COLUMNS if not c.generated]
BY_NAME = {c.name: c for c in COLUMNS}


@frozen
class KeyShape:
    """A primary key: its columns' DDL and a small pool of key values (small, so operations collide)."""

    name: str
    columns: tuple[tuple[str, str], ...]
    pool: tuple[tuple, ...]
    filler: Callable[[int], tuple]  # the i-th key of the bulk rows (never one of the pool)


KEY_SHAPES = [
    KeyShape(
        "int", (("k1", "INT"),), ((-(2**31),), (-1,), (0,), (1,), (2,), (2**31 - 1,)), lambda i: (1000 + i,)
    ),
    KeyShape(
        "bigint_unsigned",
        (("k1", "BIGINT UNSIGNED"),),
        ((2**64 - 1,), (2**64 - 2,), (2**63,), (2**63 - 1,), (0,), (1,)),
        lambda i: (2**64 - 1000 - i,),
    ),
    KeyShape(
        "varchar",
        (("k1", "VARCHAR(40)"),),
        (("a",), ("é",), ("😀x",), ("",), ("key 5",), ("Z" * 40,)),
        lambda i: (f"bulk-{i:05d}-ü",),
    ),
    KeyShape(
        "composite",
        (("k1", "INT"), ("k2", "VARCHAR(20)")),
        ((1, "a"), (1, "b"), (2, "a"), (-5, "😀"), (0, ""), (2**31 - 1, "zz")),
        lambda i: (1000 + i // 3, f"b{i % 3}"),
    ),
]


def table_names(count: int) -> tuple[str, ...]:
    """The harness tables of an example: ``t``, then ``t2``, ``t3``… (each with every column type)."""
    return ("t", *(f"t{i}" for i in range(2, count + 1)))


def create_table_sql(schema: str, key: KeyShape, tables: tuple[str, ...] = ("t",)) -> list[str]:
    """The schema, its ``tables`` (each with every column of ``COLUMNS``) and ``fence``: a row written
    there after the workload gives the pipeline a last transaction to ack (the workload's may change
    nothing)."""
    cols = [f"`{n}` {sql} NOT NULL" for n, sql in key.columns]
    cols += [f"`{c.name}` {c.ddl}" for c in COLUMNS]
    pk = ", ".join(f"`{n}`" for n, _ in key.columns)
    return [
        f"CREATE DATABASE `{schema}` CHARACTER SET utf8mb4",
        *(
            f"CREATE TABLE `{schema}`.`{table}` ({', '.join(cols)}, PRIMARY KEY ({pk})) ENGINE=InnoDB"
            for table in tables
        ),
        f"CREATE TABLE `{schema}`.`fence` (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB",
    ]


@st.composite
def row_values(draw: st.DrawFn, columns: list[ColumnType] | None = None, nulls: int = 20) -> dict:
    """Values for ``columns`` (default: every writable column); about ``nulls`` % of them NULL (None)."""
    out = {}
    for c in WRITABLE if columns is None else columns:
        out[c.name] = None if draw(st.integers(0, 99)) < nulls else draw(c.values)
    return out
