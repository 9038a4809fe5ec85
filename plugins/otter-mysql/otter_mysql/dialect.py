"""MySQL/MariaDB SQL text for the loader: pure functions, no I/O.

Two ways to get a statement:

* ``build_upsert`` / ``build_delete`` return ``(sql, params)`` with PyMySQL ``%s`` placeholders (golden
  tests, dry-run logs, any caller that wants ``cursor.execute(sql, params)``);
* the loader's fast path uses the same pieces (``upsert_parts``/``delete_parts``) and binds the values
  itself with ``literal_row``, which escapes exactly like PyMySQL's client-side ``%s`` binding does, once
  per row, so that the size of every row is known before it is put into a multi-row statement.

``literal`` assumes the session runs without ``NO_BACKSLASH_ESCAPES`` (the loader sets its sql_mode).
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import os
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from pymysql import converters

from otter_core.spi import DataError


def quote_ident(name: str) -> str:
    """A backtick-quoted identifier; a backtick inside the name is doubled."""
    return "`" + name.replace("`", "``") + "`"


def quote_table(schema: str | None, table: str) -> str:
    """``schema.table`` quoted (just the table when ``schema`` is empty)."""
    return f"{quote_ident(schema)}.{quote_ident(table)}" if schema else quote_ident(table)


# ---------------------------------------------------------------------------------------------- upsert


def upsert_parts(
    schema: str,
    table: str,
    columns: Sequence[str],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None,
) -> tuple[str, str]:
    """``(head, tail)`` of a multi-row upsert: ``head`` ends with ``VALUES `` and ``tail`` is the
    ``ON DUPLICATE KEY UPDATE`` clause. ``update_columns`` None means every non-key column of
    ``columns``; an empty update list (or a table of key columns only) gives ``k=k``, a no-op update
    that still makes the INSERT of an existing row succeed."""
    if update_columns is None:
        keys = set(key_columns)
        update_columns = [c for c in columns if c not in keys]
    head = (
        f"INSERT INTO {quote_table(schema, table)} ("
        + ",".join(quote_ident(c) for c in columns)
        + ") VALUES "
    )
    if update_columns:
        sets = ",".join(f"{q}=VALUES({q})" for q in map(quote_ident, update_columns))
    else:
        first = quote_ident(key_columns[0] if key_columns else columns[0])
        sets = f"{first}={first}"
    return head, " ON DUPLICATE KEY UPDATE " + sets


def update_join_parts(
    schema: str,
    table: str,
    key_columns: Sequence[str],
    update_columns: Sequence[str],
    convert: Collection[str] = (),
    bits: Collection[str] = (),
) -> tuple[str, str]:
    """``(head, tail)`` of a multi-row UPDATE joined to a table value constructor (MariaDB 10.3+):
    ``UPDATE (SELECT k,… FROM t WHERE 0 UNION ALL VALUES (…),(…)) AS v STRAIGHT_JOIN t … ON t.k=v.k
    SET t.c=v.c``. The row literals (key values, then the update columns' values) go between them.

    The first, empty SELECT reads the target's own columns, so each column of ``v`` has its column's
    type: MEDIUMBLOB, JSON, GEOMETRY, latin1 TEXT… A first row of NULLs (the earlier form) typed ``v``
    from the literals alone, and MariaDB 10.11 then cut strings over 64 KB to their length modulo 65536
    without a warning, refused GEOMETRY and JSON values, or crashed. ``WHERE 0`` reads (and locks) no
    row. ``STRAIGHT_JOIN … FORCE INDEX (PRIMARY)`` makes the server read the values first and find each
    target row by its primary key (the key columns must be it): left to itself it may scan a small
    table, and the scan locks rows other load connections are writing (deadlocks).

    Two kinds of columns are read otherwise (names in lower case): ``convert``, character columns in
    another character set than utf8mb4, as ``CONVERT(c USING utf8mb4)`` (the UNION refuses to mix a
    latin1 column with a utf8mb4 literal of characters outside ASCII, 1267; the assignment converts back
    as an INSERT does), and ``bits``, BIT columns, as ``CAST(c AS UNSIGNED)`` (BIT with a number gives
    VARBINARY, and 1 would arrive as the byte '1')."""
    if not key_columns or not update_columns:
        raise ValueError(f"an UPDATE join of {schema}.{table} needs key and update columns")
    names = [quote_ident(c) for c in (*key_columns, *update_columns)]
    typed = [
        f"CONVERT({q} USING utf8mb4) AS {q}"
        if c.lower() in convert
        else f"CAST({q} AS UNSIGNED) AS {q}"
        if c.lower() in bits
        else q
        for c, q in zip((*key_columns, *update_columns), names, strict=True)
    ]
    target = quote_table(schema, table)
    head = "UPDATE (SELECT " + ",".join(typed) + f" FROM {target} WHERE 0 UNION ALL VALUES "
    on = " AND ".join(f"`t`.{q}=`v`.{q}" for q in names[: len(key_columns)])
    sets = ",".join(f"`t`.{q}=`v`.{q}" for q in names[len(key_columns) :])
    return head, f") AS `v` STRAIGHT_JOIN {target} AS `t` FORCE INDEX (PRIMARY) ON {on} SET {sets}"


def build_upsert(
    schema: str,
    table: str,
    columns: Sequence[str],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None,
    rows: Iterable[Sequence[Any]],
) -> tuple[str, list[Any]]:
    """``INSERT … VALUES (%s,…),(…) ON DUPLICATE KEY UPDATE …`` and its flat parameter list."""
    head, tail = upsert_parts(schema, table, columns, key_columns, update_columns)
    row_ph = "(" + ",".join(["%s"] * len(columns)) + ")"
    params: list[Any] = []
    count = 0
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row has {len(row)} values for {len(columns)} columns")
        params.extend(row)
        count += 1
    return head + ",".join([row_ph] * count) + tail, params


# ---------------------------------------------------------------------------------------------- delete


def delete_parts(schema: str, table: str, key_columns: Sequence[str]) -> tuple[str, str]:
    """``(head, tail)`` of ``DELETE FROM t WHERE k IN (…)`` / ``(k1,k2) IN ((…),(…))``; the rows go
    between them, comma-separated (a scalar per row for one key column, a tuple for several)."""
    if not key_columns:
        raise ValueError(f"DELETE from {schema}.{table} needs at least one key column")
    if len(key_columns) == 1:
        target = quote_ident(key_columns[0])
    else:
        target = "(" + ",".join(quote_ident(c) for c in key_columns) + ")"
    return f"DELETE FROM {quote_table(schema, table)} WHERE {target} IN (", ")"


def build_delete(
    schema: str, table: str, key_columns: Sequence[str], keys: Iterable[Sequence[Any]]
) -> tuple[str, list[Any]]:
    """``DELETE … WHERE k IN (%s,…)`` (or the row-constructor form) and its flat parameter list."""
    head, tail = delete_parts(schema, table, key_columns)
    one = "%s" if len(key_columns) == 1 else "(" + ",".join(["%s"] * len(key_columns)) + ")"
    params: list[Any] = []
    count = 0
    for key in keys:
        if len(key) != len(key_columns):
            raise ValueError(f"key has {len(key)} values for {len(key_columns)} key columns")
        params.extend(key)
        count += 1
    if not count:
        raise ValueError("DELETE needs at least one key")
    return head + ",".join([one] * count) + tail, params


# ---------------------------------------------------------------------------------------------- values

# the same table PyMySQL's escape_string uses (backslash escapes; checked by the dialect tests)
_ESCAPE = [chr(c) for c in range(128)]  # a list translates ~2.5x faster than a dict
for _c, _e in (
    (0, "\\0"),
    (ord("\\"), "\\\\"),
    (ord("\n"), "\\n"),
    (ord("\r"), "\\r"),
    (0o32, "\\Z"),
    (ord('"'), '\\"'),
    (ord("'"), "\\'"),
):
    _ESCAPE[_c] = _e
del _c, _e


def _lit_str(v: str) -> str:
    return "'" + v.translate(_ESCAPE) + "'"


def _lit_datetime(v: datetime.datetime) -> str:
    # isoformat (C) is ~4x faster than PyMySQL's str.format; an aware value keeps its wall time
    if v.tzinfo is not None:
        v = v.replace(tzinfo=None)
    return "'" + v.isoformat(" ") + "'"


def _lit_isoformat(v: datetime.date | datetime.time) -> str:
    if isinstance(v, (datetime.datetime, datetime.time)) and v.tzinfo:
        v = v.replace(tzinfo=None)
    return "'" + v.isoformat() + "'"


def _lit_bytes(v: bytes | bytearray) -> str:
    return "X'" + v.hex() + "'"


def _lit_set(v: set | frozenset) -> str:
    # a SET column value: 'a,b' (PyMySQL would write a row constructor here)
    return _lit_str(",".join(sorted(str(x) for x in v)))


def _lit_json(v: dict | list) -> str:
    return _lit_str(json.dumps(v, ensure_ascii=False, separators=(",", ":")))


def _lit_decimal(v: decimal.Decimal) -> str:
    if not v.is_finite():
        raise DataError(f"{v} cannot be written to MySQL")
    return format(v, "f")


def _lit_float(v: float) -> str:
    if not math.isfinite(v):
        raise DataError(f"{v} cannot be written to MySQL")
    return converters.escape_float(v)


_LITERALS: dict[Any, Any] = {  # Any keys: isinstance(v, base) must not narrow v to object
    str: _lit_str,
    int: int.__repr__,
    type(None): lambda v: "NULL",
    bool: lambda v: "1" if v else "0",
    bytes: _lit_bytes,
    bytearray: _lit_bytes,
    memoryview: lambda v: _lit_bytes(v.tobytes()),
    float: _lit_float,
    decimal.Decimal: _lit_decimal,
    datetime.datetime: _lit_datetime,
    datetime.date: _lit_isoformat,
    datetime.time: _lit_isoformat,
    datetime.timedelta: converters.escape_timedelta,
    set: _lit_set,
    frozenset: _lit_set,
    dict: _lit_json,
    list: _lit_json,
}


def _lit_other(v: Any) -> str:
    for base, fn in _LITERALS.items():
        if base is not type(None) and isinstance(v, base):
            return fn(int(v) if base is int else v)
    raise DataError(f"a value of type {type(v).__name__} cannot be written to MySQL: {v!r:.80}")


def literal(v: Any) -> str:
    """The SQL literal of one value, escaped as PyMySQL binds a ``%s`` parameter."""
    return _LITERALS.get(type(v), _lit_other)(v)


def literal_row_python(values: Iterable[Any]) -> str:
    """``(v1,v2,…)`` for a row of values (the fallback without the compiled extension)."""
    get = _LITERALS.get
    return "(" + ",".join([get(type(v), _lit_other)(v) for v in values]) + ")"


def compiled(name: str) -> Any:
    """A function of the compiled extension, or None (not built, or OTTER_PURE_PYTHON_DECODER=1).

    ``sql_literal_row`` renders str, int, bool, None, bytes, datetime, date and plain DECIMALs in C and
    the rest through ``literal`` (no closure per row); ``sql_values`` renders a chunk's whole statement
    (``MySQLLoader._send_group``), ``statement_shapes`` groups a load's events (``load_plan``). Their
    results are checked against the Python code in the tests."""
    if os.environ.get("OTTER_PURE_PYTHON_DECODER") == "1":
        return None
    try:
        from otter_mysql import _rowdecode
    except ImportError:  # pragma: no cover - depends on the install
        return None
    return getattr(_rowdecode, name, None)


literal_row = compiled("sql_literal_row") or literal_row_python
sql_values = compiled("sql_values")
