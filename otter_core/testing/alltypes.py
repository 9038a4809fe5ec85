"""A table of every MariaDB column type and random workloads on it: values at their limits, zero dates,
4-byte UTF-8, latin1, every byte, JSON with its CHECK, GEOMETRY, a virtual column and a BIGINT UNSIGNED key
near 2^64. Shared by the loader's field-mode tests (plugins/otter-mysql/tests/test_loader_field_types.py)
and the two-way convergence runs on every type (``otter_core.testing.twoway_types``)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pymysql

from otter_core.testing.mariadb import MariaDBServer

DB = "fieldtypes"


def key_of(n: int) -> int:
    """The n-th row's BIGINT UNSIGNED key: 2^64 - 1 and below."""
    return 2**64 - 1 - n * 29


COLUMNS = """
 id BIGINT UNSIGNED PRIMARY KEY,
 ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
 i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
 dec1 DECIMAL(65,30), dec2 DECIMAL(10,2), f FLOAT, dbl DOUBLE, b1 BIT(1), b64 BIT(64),
 d DATE, dt6 DATETIME(6), ts6 TIMESTAMP(6) NULL, tm6 TIME(6), y YEAR,
 c CHAR(10), vc VARCHAR(300), tx TEXT, mtx MEDIUMTEXT, l1 VARCHAR(300) CHARACTER SET latin1, ltx TEXT CHARACTER SET latin1,
 bn BINARY(8), vb VARBINARY(300), bl BLOB, mbl MEDIUMBLOB,
 e ENUM('a','b''q','é'), st SET('x','y','z'), j JSON, g GEOMETRY, pt POINT, poly POLYGON,
 gen BIGINT AS (i + 1) VIRTUAL
"""
FLOATS = {"f", "dbl"}
GEOMETRIES = {"g", "pt", "poly"}
ALL_BYTES = bytes(range(256))


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("aé'\\\"\n\x00😀中 z") for _ in range(rng.randint(0, n)))


def _latin1(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("aé'\\ÿ€\x81 z") for _ in range(rng.randint(0, n)))


def _polygon(rng: random.Random) -> str:
    x, y, s = rng.randint(-50, 50), rng.randint(-50, 50), rng.randint(1, 9)
    return f"POLYGON(({x} {y},{x + s} {y},{x + s} {y + s},{x} {y}))"


def _line(rng: random.Random) -> str:
    """A LINESTRING of up to 5000 points (80 KB of WKB)."""
    points = rng.choice([2, 5000])
    return "LINESTRING(" + ",".join(f"{i} {rng.randint(-9, 9)}" for i in range(points)) + ")"


# column -> (SQL expression with one %s, value generator); None values are written as NULL
GENERATORS: dict[str, tuple[str, Any]] = {
    "ti": ("%s", lambda r: r.choice([-128, 127, 0, r.randint(-128, 127)])),
    "tiu": ("%s", lambda r: r.choice([0, 255, r.randint(0, 255)])),
    "si": ("%s", lambda r: r.choice([-32768, 32767, r.randint(-32768, 32767)])),
    "siu": ("%s", lambda r: r.choice([0, 65535, r.randint(0, 65535)])),
    "mi": ("%s", lambda r: r.choice([-8388608, 8388607, r.randint(-8388608, 8388607)])),
    "miu": ("%s", lambda r: r.choice([0, 16777215, r.randint(0, 16777215)])),
    "i": ("%s", lambda r: r.choice([-(2**31), 2**31 - 1, r.randint(-(2**31), 2**31 - 1)])),
    "iu": ("%s", lambda r: r.choice([0, 2**32 - 1, r.randint(0, 2**32 - 1)])),
    "bi": ("%s", lambda r: r.choice([-(2**63), 2**63 - 1, r.randint(-(2**63), 2**63 - 1)])),
    "biu": ("%s", lambda r: r.choice([0, 2**64 - 1, r.randint(0, 2**64 - 1)])),
    "dec1": (
        "%s",
        lambda r: r.choice(
            [
                Decimal("9" * 35 + "." + "9" * 30),
                Decimal("-0." + "0" * 29 + "1"),
                Decimal(f"{r.randint(-9999, 9999)}.{r.randrange(10**30):030}"),
            ]
        ),
    ),
    "dec2": ("%s", lambda r: Decimal(r.randint(-99999999, 99999999)) / 100),
    "f": (
        "%s",
        lambda r: r.choice([3.4028234663852886e38, -1.1754943508222875e-38, 0.1, r.uniform(-1e6, 1e6)]),
    ),
    "dbl": ("%s", lambda r: r.choice([1.7976931348623157e308, 5e-324, -0.0, r.uniform(-1e300, 1e300)])),
    "b1": ("%s", lambda r: r.randint(0, 1)),
    "b64": ("%s", lambda r: r.choice([0, 2**64 - 1, 2**63, r.randint(0, 2**64 - 1)])),
    "d": ("%s", lambda r: r.choice(["0000-00-00", "9999-12-31", "1000-01-01", "2024-02-29"])),
    "dt6": (
        "%s",
        lambda r: (
            r.choice(["0000-00-00 00:00:00.000000", "9999-12-31 23:59:59.999999", "2020-00-15 10:11:12"])
            if r.random() < 0.4
            else dt.datetime(2000, 1, 1)
            + dt.timedelta(seconds=r.randint(0, 10**9), microseconds=r.randint(0, 999999))
        ),
    ),
    "ts6": (
        "%s",
        lambda r: r.choice(
            ["0000-00-00 00:00:00", "2038-01-19 03:14:07.999999", "1970-01-01 00:00:01.000001"]
        ),
    ),
    "tm6": (
        "%s",
        lambda r: r.choice(["838:59:59.000000", "-838:59:59.000000", "-00:00:00.000001", "12:34:56.5"]),
    ),
    "y": ("%s", lambda r: r.choice([0, 1901, 2155, 2024])),
    "c": ("%s", lambda r: _text(r, 10)),
    "vc": ("%s", lambda r: _text(r, 300)),
    "tx": ("%s", lambda r: _text(r, 3000)),
    "mtx": ("%s", lambda r: r.choice(["é" * 70000, "x" * r.randint(0, 66000), _text(r, 100)])),
    "l1": ("%s", lambda r: _latin1(r, 300)),
    "ltx": ("%s", lambda r: _latin1(r, 2000)),
    "bn": ("%s", lambda r: bytes(r.randrange(256) for _ in range(r.randint(0, 8)))),
    "vb": ("%s", lambda r: bytes(r.randrange(256) for _ in range(r.randint(0, 300)))),
    "bl": (
        "%s",
        lambda r: r.choice([ALL_BYTES, b"", bytes(r.randrange(256) for _ in range(r.randint(0, 5000)))]),
    ),
    "mbl": ("%s", lambda r: r.choice([ALL_BYTES * 300, b"\x00'\\", ALL_BYTES[r.randrange(256) :] * 7])),
    "e": ("%s", lambda r: r.choice(["a", "b'q", "é"])),
    "st": ("%s", lambda r: r.choice(["", "x", "x,z", "x,y,z"])),
    "j": (
        "%s",
        lambda r: r.choice(
            ['{"a": [1, 2.5, "é😀"], "b": null}', "[]", '"str"', '{"k": "' + "v" * r.randint(0, 70000) + '"}']
        ),
    ),
    "g": ("ST_GeomFromText(%s)", lambda r: r.choice(["POINT(1.5 -2.25)", _line(r), _polygon(r)])),
    "pt": ("ST_GeomFromText(%s)", lambda r: f"POINT({r.uniform(-1e3, 1e3)} {r.uniform(-1e3, 1e3)})"),
    "poly": ("ST_GeomFromText(%s)", _polygon),
}
NAMES = list(GENERATORS)


def create_tables(*servers: MariaDBServer, table: str = "t", extra: str = "") -> None:
    """``DB.table`` with every type (and ``extra`` column definitions, e.g. a version column)."""
    for server in servers:
        server.execute(f"CREATE DATABASE IF NOT EXISTS {DB}")
        server.execute(
            f"CREATE TABLE {DB}.{table} ({COLUMNS}{', ' + extra if extra else ''}) CHARSET utf8mb4"
        )


def session(server: MariaDBServer) -> Any:
    conn = server.connect(database=DB)  # permissive session: zero dates
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
    return conn


def _set(table: str, key: int, values: dict[str, Any]) -> tuple[str, list[Any]]:
    sets = ", ".join(f"`{n}` = " + ("NULL" if v is None else GENERATORS[n][0]) for n, v in values.items())
    return f"UPDATE {table} SET {sets} WHERE id = %s", [v for v in values.values() if v is not None] + [key]


def _commit(cur: Any, statements: list[tuple[str, Any]]) -> None:
    """One transaction; again when it deadlocks (on a two-way channel the loader writes these rows too)."""
    for _attempt in range(20):
        try:
            cur.execute("BEGIN")
            for sql, args in statements:
                cur.execute(sql, args)
            cur.execute("COMMIT")
            return
        except pymysql.err.OperationalError as exc:
            cur.execute("ROLLBACK")
            if exc.args[0] not in (1205, 1213):
                raise
    raise AssertionError("the workload's transaction deadlocked 20 times")


def write_workload(
    server: MariaDBServer,
    seed: int,
    rows: int = 24,
    transactions: int = 12,
    table: str = "t",
    insert: bool = True,
) -> None:
    """Rows inserted whole (one row all NULL; not with ``insert=False``), then transactions that each
    update a few columns of several rows (most rows of a transaction change the same columns, so they
    share one statement) and sometimes delete a row and write it again."""
    rng = random.Random(seed)
    conn = session(server)
    try:
        with conn.cursor() as cur:
            first: list[tuple[str, Any]] = []
            for n in range(rows if insert else 0):
                first.append((f"INSERT INTO {table} (id) VALUES (%s)", (key_of(n),)))
                if n:
                    first.append(_set(table, key_of(n), {c: GENERATORS[c][1](rng) for c in NAMES}))
            _commit(cur, first)
            for _ in range(transactions):
                shared = rng.sample(NAMES, rng.randint(1, 3))
                tx: list[tuple[str, Any]] = []
                changed = rng.sample(range(rows), rng.randint(2, rows // 2))
                for n in changed:
                    cols = shared if rng.random() < 0.8 else rng.sample(NAMES, rng.randint(1, 4))
                    values = {c: None if rng.random() < 0.1 else GENERATORS[c][1](rng) for c in cols}
                    tx.append(_set(table, key_of(n), values))
                if insert and rng.random() < 0.4:  # a row deleted and written again whole
                    n = rng.choice([n for n in range(1, rows) if n not in changed])
                    tx.append((f"DELETE FROM {table} WHERE id = %s", (key_of(n),)))
                    tx.append((f"INSERT INTO {table} (id) VALUES (%s)", (key_of(n),)))
                    tx.append(_set(table, key_of(n), {c: GENERATORS[c][1](rng) for c in NAMES}))
                _commit(cur, tx)
            # whatever the seed: values over 64 KB, BIT and latin1 in one statement shape of several rows
            big = []
            for n in range(1, min(rows, 5)):
                values = {
                    "mtx": "é" * 70000 + str(n),
                    "j": '{"k": "' + "v" * 70000 + f'", "n": {n}}}',
                    "g": _line(rng),
                    "mbl": ALL_BYTES * 300 + bytes([n]),
                    "b1": n % 2,
                    "b64": 2**64 - n,
                    "l1": "€\x81ÿé" * n,
                }
                big.append(_set(table, key_of(n), values))
            _commit(cur, big)
    finally:
        conn.close()


def _expressions(extra: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(label, SQL expression) per compared value: HEX of the stored bytes (GEOMETRY also as WKB and
    SRID), JSON also normalised, floats as doubles (their stored precision), TIMESTAMP also as epoch;
    ``extra`` columns as HEX."""
    exprs = []
    for name in ["id", *NAMES, "gen", *extra]:
        if name in FLOATS:
            exprs.append((name, f"CAST(`{name}` AS DOUBLE)"))
        elif name == "ts6":
            exprs += [(name, f"UNIX_TIMESTAMP(`{name}`)"), (name, f"HEX(`{name}`)")]
        elif name == "j":
            exprs += [(f"{name} normalised", f"JSON_COMPACT(`{name}`)"), (name, f"HEX(`{name}`)")]
        elif name in GEOMETRIES:
            exprs += [(f"{name} as WKB", f"HEX(ST_AsWKB(`{name}`))"), (f"{name} SRID", f"ST_SRID(`{name}`)")]
            exprs.append((name, f"HEX(`{name}`)"))
        else:
            exprs.append((name, f"HEX(`{name}`)"))
    return exprs


def labels(extra: tuple[str, ...] = ()) -> list[str]:
    """The column label of each value of a ``snapshot`` row."""
    return [label for label, _ in _expressions(extra)]


def snapshot(server: MariaDBServer, table: str = "t", extra: tuple[str, ...] = ()) -> list[tuple]:
    """Every column of every row as values that differ whenever the stored values differ."""
    exprs = [sql for _, sql in _expressions(extra)]
    conn = session(server)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(exprs)} FROM {DB}.{table} ORDER BY id")
            return list(cur.fetchall())
    finally:
        conn.close()


def differences(source: list[tuple], target: list[tuple], extra: tuple[str, ...] = ()) -> list[str]:
    """Row by row, column by column: what differs (empty when the tables are equal); ``extra`` as given
    to ``snapshot``."""
    names = labels(extra)
    if len(source) != len(target):
        keys_s, keys_t = {r[0] for r in source}, {r[0] for r in target}
        return [
            f"{len(source)} source rows, {len(target)} target rows: missing on the target "
            f"{sorted(keys_s - keys_t)}, only on the target {sorted(keys_t - keys_s)}"
        ]
    out = []
    for s, t in zip(source, target, strict=True):
        for i, (a, b) in enumerate(zip(s, t, strict=True)):
            if a != b:
                out.append(f"row {s[0]} column {names[i]}: source {_show(a)} target {_show(b)}")
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}…{text[-16:]} ({len(text)} chars)"
