"""MySQL column types -> Oracle column types, and selector values -> Oracle bind values.

``oracle_type`` maps a MySQL ``COLUMN_TYPE`` (``information_schema.COLUMNS.COLUMN_TYPE``, e.g.
``int(10) unsigned``, ``enum('a','b')``) to the Oracle type a target table should use; ``create_table_sql``
writes a whole CREATE TABLE. ``bind_value`` turns what the MySQL selector emits into what python-oracledb
binds exactly; ``input_sizes`` says which columns of a chunk must be bound as LOBs.

Known limits (docs in README): Oracle stores '' as NULL; NUMBER keeps 38 significant digits (a DECIMAL
with precision above 38 loses digits beyond that); TIMESTAMP values are written in UTC; a MySQL zero date
('0000-00-00') has no Oracle value and is refused by the server with the table and key named.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from otter_core.spi import DataError
from otter_oracle.dialect import Naming

_TYPE = re.compile(
    r"^\s*(?P<name>[a-z0-9_ ]+?)\s*(?:\((?P<args>.*)\))?\s*(?P<flags>(?:unsigned|signed|zerofill|\s)*)$",
    re.I | re.S,
)
_INTEGERS = {
    "tinyint": (3, 3),
    "smallint": (5, 5),
    "mediumint": (7, 8),
    "int": (10, 10),
    "integer": (10, 10),
    "bigint": (19, 20),
}
_FIXED = {
    "float": "BINARY_FLOAT",
    "double": "BINARY_DOUBLE",
    "double precision": "BINARY_DOUBLE",
    "real": "BINARY_DOUBLE",
    "date": "DATE",
    "year": "NUMBER(4)",
    "tinytext": "VARCHAR2(255 CHAR)",
    "text": "CLOB",
    "mediumtext": "CLOB",
    "longtext": "CLOB",
    "json": "CLOB",
    "tinyblob": "RAW(255)",
    "blob": "BLOB",
    "mediumblob": "BLOB",
    "longblob": "BLOB",
    "geometry": "BLOB",
    "point": "BLOB",
    "linestring": "BLOB",
    "polygon": "BLOB",
    "multipoint": "BLOB",
    "multilinestring": "BLOB",
    "multipolygon": "BLOB",
    "geometrycollection": "BLOB",
    "inet6": "RAW(16)",
    "inet4": "RAW(4)",
    "uuid": "RAW(16)",
    "bool": "NUMBER(3)",
    "boolean": "NUMBER(3)",
}
VARCHAR2_MAX_CHARS = 4000
RAW_MAX_BYTES = 2000
LOB_STRING_CHARS = 1000  # above this many characters a str may exceed 4000 bytes: bind it as a CLOB


def _labels(args: str) -> list[str]:
    return [m.replace("''", "'").replace("\\\\", "\\") for m in re.findall(r"'((?:[^']|'')*)'", args)]


def oracle_type(column_type: str) -> str:
    """The Oracle type for a MySQL ``COLUMN_TYPE``; DataError for a type otter cannot map."""
    m = _TYPE.match(column_type or "")
    if not m:
        raise DataError(
            f"MySQL column type {column_type!r} is not understood: create the Oracle column by hand"
        )
    name, args, unsigned = (
        m["name"].lower().strip(),
        (m["args"] or "").strip(),
        "unsigned" in m["flags"].lower(),
    )
    if name in _INTEGERS:
        return f"NUMBER({_INTEGERS[name][1 if unsigned else 0]})"
    if name in ("decimal", "numeric", "dec", "fixed"):
        precision, _, scale = (args or "10,0").partition(",")
        p, s = int(precision), int(scale or 0)
        return f"NUMBER({p},{s})" if p <= 38 else ("NUMBER" if s == 0 else f"NUMBER(38,{min(s, 38)})")
    if name == "bit":
        return f"NUMBER({len(str(2 ** int(args or 1) - 1))})"
    if name in ("datetime", "timestamp"):
        return f"TIMESTAMP({int(args or 0)})"
    if name == "time":
        return f"INTERVAL DAY(2) TO SECOND({int(args or 0)})"
    if name in ("char", "varchar"):
        length = int(args or 1)
        if name == "char" and length <= 2000:
            return f"CHAR({max(length, 1)} CHAR)"
        return f"VARCHAR2({max(length, 1)} CHAR)" if length <= VARCHAR2_MAX_CHARS else "CLOB"
    if name in ("binary", "varbinary"):
        length = int(args or 1)
        return f"RAW({max(length, 1)})" if length <= RAW_MAX_BYTES else "BLOB"
    if name == "enum":
        return f"VARCHAR2({max([len(x) for x in _labels(args)] + [1])} CHAR)"
    if name == "set":
        labels = _labels(args)
        return f"VARCHAR2({max(sum(len(x) for x in labels) + len(labels) - 1, 1)} CHAR)"
    if name in _FIXED:
        return _FIXED[name]
    raise DataError(
        f"MySQL column type {column_type!r} has no Oracle mapping in otter-oracle: "
        "create the Oracle column by hand"
    )


def create_table_sql(
    naming: Naming,
    schema: str,
    table: str,
    columns: Sequence[tuple[str, str, bool]],
    key_columns: Sequence[str],
) -> str:
    """CREATE TABLE for ``columns`` given as (name, MySQL COLUMN_TYPE, nullable) with this primary key."""
    parts = [
        f"{naming.ident(name)} {oracle_type(ctype)}{'' if nullable else ' NOT NULL'}"
        for name, ctype, nullable in columns
    ]
    if key_columns:
        parts.append("PRIMARY KEY (" + ", ".join(naming.ident(k) for k in key_columns) + ")")
    return f"CREATE TABLE {naming.table(schema, table)} (" + ", ".join(parts) + ")"


# ---------------------------------------------------------------------------------------------- values


def _aware_to_utc(v: dt.datetime) -> dt.datetime:
    return v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo is not None else v


def _json_text(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


_BIND: dict[type, Callable[[Any], Any]] = {
    bool: int,
    dt.datetime: _aware_to_utc,
    set: lambda v: ",".join(sorted(str(x) for x in v)),
    frozenset: lambda v: ",".join(sorted(str(x) for x in v)),
    dict: _json_text,
    list: _json_text,
    bytearray: bytes,
    memoryview: bytes,
}
_AS_IS = (type(None), int, float, str, bytes, decimal.Decimal, dt.date, dt.timedelta)


def bind_value(v: Any) -> Any:
    """The value python-oracledb binds for a selector value (see the module docstring for the mapping)."""
    convert = _BIND.get(type(v))
    if convert is not None:
        return convert(v)
    if isinstance(v, _AS_IS):
        return v
    raise DataError(f"a value of type {type(v).__name__} cannot be written to Oracle: {v!r:.80}")


def bind_row(values: Sequence[Any]) -> list[Any]:
    return [bind_value(v) for v in values]


def input_sizes(rows: Sequence[Sequence[Any]]) -> list[str | None] | None:
    """Per column: "CLOB" or "BLOB" when some value of this chunk is too long for VARCHAR2/RAW binding
    (None: let the driver decide); None when no column needs it."""
    if not rows:
        return None
    sizes: list[str | None] = [None] * len(rows[0])
    for row in rows:
        for i, v in enumerate(row):
            if type(v) is str and len(v) > LOB_STRING_CHARS and len(v.encode("utf-8")) > 4000:
                sizes[i] = "CLOB"
            elif type(v) is bytes and len(v) > RAW_MAX_BYTES:
                sizes[i] = "BLOB"
    return sizes if any(sizes) else None
