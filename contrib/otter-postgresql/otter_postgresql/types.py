"""MySQL column types -> PostgreSQL column types, and selector values -> values PostgreSQL stores exactly.

``pg_type`` maps a MySQL type as written in DDL or ``information_schema.COLUMNS.COLUMN_TYPE``
(``int(10) unsigned``, ``enum('a','b')``, ``datetime(6)``) to a PostgreSQL type chosen so that every
MySQL value fits exactly (unsigned BIGINT -> numeric(20,0), TIME -> interval since MySQL's range is
+-838 hours, CHAR -> varchar since MySQL returns CHAR values without trailing spaces).

``adapter_for`` returns, for a target column's PostgreSQL type, a function that turns what the MySQL
selector emits into what psycopg sends (None when the value goes as is).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from otter_core.spi import DataError

_TYPE = re.compile(
    r"^\s*(?P<name>[a-z0-9_]+(?:\s+precision)?)\s*(?:\((?P<args>.*)\))?\s*"
    r"(?P<flags>(?:\b(?:unsigned|signed|zerofill)\b\s*)*)$",
    re.I | re.S,
)
_INTEGERS = {
    "tinyint": ("smallint", "smallint"),
    "smallint": ("smallint", "integer"),
    "mediumint": ("integer", "integer"),
    "int": ("integer", "bigint"),
    "integer": ("integer", "bigint"),
    "bigint": ("bigint", "numeric(20,0)"),
}
_FIXED = {
    "float": "real",
    "double": "double precision",
    "double precision": "double precision",
    "real": "double precision",
    "date": "date",
    "year": "smallint",
    "tinytext": "text",
    "text": "text",
    "mediumtext": "text",
    "longtext": "text",
    "json": "jsonb",
    "tinyblob": "bytea",
    "blob": "bytea",
    "mediumblob": "bytea",
    "longblob": "bytea",
    "geometry": "bytea",
    "point": "bytea",
    "linestring": "bytea",
    "polygon": "bytea",
    "multipoint": "bytea",
    "multilinestring": "bytea",
    "multipolygon": "bytea",
    "geometrycollection": "bytea",
    "inet6": "inet",
    "inet4": "inet",
    "uuid": "uuid",
    "bool": "smallint",
    "boolean": "smallint",
    "enum": "text",
    "set": "text",
    "binary": "bytea",
    "varbinary": "bytea",
}


def pg_type(mysql_type: str) -> str:
    """The PostgreSQL type for a MySQL column type; DataError naming it when otter has no mapping."""
    m = _TYPE.match(mysql_type or "")
    if not m:
        raise DataError(
            f"MySQL column type {mysql_type!r} is not understood: create the PostgreSQL column by hand"
        )
    name, args = m["name"].lower(), (m["args"] or "").strip()
    unsigned = "unsigned" in (m["flags"] or "").lower()
    if name in _INTEGERS:
        return _INTEGERS[name][1 if unsigned else 0]
    if name in ("decimal", "numeric", "dec", "fixed"):
        precision, _, scale = (args or "10,0").partition(",")
        return f"numeric({int(precision)},{int(scale or 0)})"
    if name == "bit":
        return f"bit({int(args or 1)})"
    if name == "datetime":
        return f"timestamp({int(args or 0)}) without time zone"
    if name == "timestamp":
        return f"timestamp({int(args or 0)}) with time zone"
    if name == "time":
        return f"interval({int(args or 0)})"
    if name in ("char", "varchar"):
        return f"varchar({max(int(args or 1), 1)})"
    if name in _FIXED:
        return _FIXED[name]
    raise DataError(
        f"MySQL column type {mysql_type!r} has no PostgreSQL mapping in otter-postgresql: "
        "create the PostgreSQL column by hand"
    )


# ---------------------------------------------------------------------------------------------- values

_ZERO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _mariadb_uuid(raw: bytes) -> uuid.UUID:
    """MariaDB's UUID column stores RFC 4122 UUIDs (variant 1, versions 1-5) with the time-low and
    time-high groups swapped so that time-based UUIDs sort by time; others as they are."""
    if len(raw) != 16:
        raise DataError(f"a UUID value has {len(raw)} bytes, not 16")
    variant, version = raw[0] >> 6, raw[8] >> 4  # stored: clock_seq+node, time_hi, time_mid, time_low
    if variant == 0b10 and 1 <= version <= 5:
        raw = raw[12:16] + raw[10:12] + raw[8:10] + raw[0:8]
    return uuid.UUID(bytes=raw)


def _to_inet(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return str(ipaddress.ip_address(bytes(v)))
    return v


def _to_uuid(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return _mariadb_uuid(bytes(v))
    return v


def _to_bool(v: Any) -> Any:
    return bool(v) if isinstance(v, int) else v


def _to_json(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return v


def _to_text(v: Any) -> Any:
    if isinstance(v, (set, frozenset)):
        return ",".join(sorted(str(x) for x in v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (bytes, bytearray)):
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(
                f"bytes {bytes(v)[:40]!r} are not UTF-8 text and cannot go into a PostgreSQL text "
                "column: map the column to bytea"
            ) from None
    return v


def _to_time(v: Any) -> Any:
    if isinstance(v, dt.timedelta):
        if not dt.timedelta(0) <= v < dt.timedelta(days=1):
            raise DataError(
                f"TIME value {v} is outside 00:00..24:00 and cannot go into a PostgreSQL time column: "
                "use interval (otter's default mapping of TIME)"
            )
        return (dt.datetime.min + v).time()
    return v


def _naive_utc(v: Any) -> Any:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v


def zero_date_adapter(policy: str, inner: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """Date/time columns: a MySQL zero date (a str from the selector) is refused or becomes NULL."""

    def adapt(v: Any) -> Any:
        if isinstance(v, str) and _ZERO_DATE.match(v):
            if policy == "null":
                return None
            raise DataError(
                f"MySQL zero date {v!r} has no PostgreSQL value: set the target option "
                "`zero_dates: null` to write NULL, or fix the source row"
            )
        return inner(v) if inner else v

    return adapt


def bit_adapter(length: int, varying: bool) -> Callable[[Any], Any]:
    def adapt(v: Any) -> Any:
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, int):
            return format(v, "b") if varying else format(v, f"0{length}b")
        return v

    return adapt


_ADAPTERS: dict[str, Callable[[Any], Any]] = {
    "inet": _to_inet,
    "cidr": _to_inet,
    "uuid": _to_uuid,
    "bool": _to_bool,
    "json": _to_json,
    "jsonb": _to_json,
    "text": _to_text,
    "varchar": _to_text,
    "bpchar": _to_text,
    "time": _to_time,
}


def numeric_adapter(scale: int) -> Callable[[Any], Any]:
    """A ``numeric(p, scale)`` column rounds a value with more decimal places without an error (PostgreSQL
    raises only on overflow): such a value is refused instead. Trailing zeros (``1.20`` into scale 1) pass."""
    unit = Decimal(1).scaleb(-scale)

    def adapt(v: Any) -> Any:
        if (
            isinstance(v, Decimal)
            and v.is_finite()
            and isinstance(exponent := v.as_tuple().exponent, int)
            and exponent < -scale
            and v.quantize(unit) != v
        ):
            raise DataError(
                f"{v} has more than {scale} decimal place(s): numeric(…,{scale}) would round it; "
                f"widen the target column's scale"
            )
        return v

    return adapt


def adapter_for(pg_typname: str, typmod: int, zero_dates: str) -> Callable[[Any], Any] | None:
    """The value adapter for a target column of type ``pg_typname`` (pg_type.typname)."""
    if pg_typname == "numeric" and typmod >= 4:  # typmod: ((precision << 16) | scale) + 4
        return numeric_adapter((typmod - 4) & 0xFFFF)
    if pg_typname in ("bit", "varbit"):
        return bit_adapter(typmod, pg_typname == "varbit")
    if pg_typname in ("date", "timestamptz"):
        return zero_date_adapter(zero_dates, None)
    if pg_typname == "timestamp":
        return zero_date_adapter(zero_dates, _naive_utc)
    return _ADAPTERS.get(pg_typname)
