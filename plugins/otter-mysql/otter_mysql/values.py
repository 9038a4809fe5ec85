"""Binlog column values -> Python values that PyMySQL binds back bit-exactly into MySQL/MariaDB.

mysql-replication's own row decoding is lossy without ``binlog_row_metadata=FULL`` (signed integers
for UNSIGNED columns, None for ENUM/SET labels, None for zero dates and empty SETs, 1900 for YEAR 0000,
BIT as a '0101' string, utf-8 for every charset, so arbitrary BINARY/BLOB bytes fail) and slow. This module
decodes each value straight from the rows-event bytes, using the table-map metadata for the layout and
the schema cache for what the binlog lacks. ``value_code`` returns Python source lines that
``rowcodec`` compiles into one decoding function per table.

Values produced (all bound as-is by PyMySQL):
integers -> int (unsigned honoured); FLOAT/DOUBLE -> float; DECIMAL -> Decimal (all digits);
BIT -> int; YEAR -> int (0 for 0000); DATE -> date; DATETIME -> datetime; TIMESTAMP -> aware datetime
in UTC (the loader must use ``time_zone='+00:00'``); TIME -> timedelta (negative allowed);
zero or partial-zero dates/timestamps -> str such as '0000-00-00 00:00:00.000000';
character columns -> str (latin1 decoded as MySQL maps it; bytes when a charset cannot round-trip);
binary columns and GEOMETRY (SRID + WKB) -> bytes, fixed-size ones (BINARY(n), INET6, UUID, INET4)
padded back to their size; ENUM -> label str ('' for the error value); SET -> 'a,b' str;
MySQL binary JSON -> JSON text (MariaDB JSON is LONGTEXT, so str).
DATE, DECIMAL and whole-second DATETIME/TIMESTAMP values are memoized per column (bulk writes repeat them).
The decoders themselves are in value_decoders.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otter_core.spi import SourceError
from otter_mysql import field_types as T
from otter_mysql.schema import ColumnInfo
from otter_mysql.value_decoders import (
    STRUCTS,
    _utf8,
    date_value,
    datetime2_decoder,
    decimal_decoder,
    latin1_decode,
    memoized,
    mysql_json,
    old_datetime,
    old_time,
    old_timestamp,
    set_decoder,
    text_decoder,
    time2_decoder,
    timestamp2_decoder,
)

__all__ = [
    "COMPATIBLE",
    "HELPERS",
    "STRUCTS",
    "compatible",
    "date_value",
    "datetime2_decoder",
    "decimal_decoder",
    "latin1_decode",
    "memoized",
    "mysql_json",
    "old_datetime",
    "old_time",
    "old_timestamp",
    "set_decoder",
    "text_decoder",
    "time2_decoder",
    "timestamp2_decoder",
    "value_code",
]


# ---- code generation ---------------------------------------------------------------------------
_INTS = {
    T.TINY: (1, "_i8", None),
    T.SHORT: (2, "_i16", "_u16"),
    T.LONG: (4, "_i32", "_u32"),
    T.LONGLONG: (8, "_i64", "_u64"),
}
_TEMPORAL = {
    T.DATETIME2: (5, datetime2_decoder),
    T.TIMESTAMP2: (4, timestamp2_decoder),
    T.TIME2: (3, time2_decoder),
}
_STRING_TYPES = (T.VARCHAR, T.VAR_STRING, T.STRING)
_BLOB_TYPES = (T.BLOB, T.TINY_BLOB, T.MEDIUM_BLOB, T.LONG_BLOB)

# information_schema DATA_TYPE -> binlog column types it may be logged as (for a sanity check)
COMPATIBLE = {
    "tinyint": {T.TINY},
    "smallint": {T.SHORT},
    "mediumint": {T.INT24},
    "int": {T.LONG},
    "integer": {T.LONG},
    "bigint": {T.LONGLONG},
    "float": {T.FLOAT},
    "double": {T.DOUBLE},
    "real": {T.DOUBLE},
    "decimal": {T.NEWDECIMAL},
    "numeric": {T.NEWDECIMAL},
    "bit": {T.BIT},
    "year": {T.YEAR},
    "date": {T.DATE, T.NEWDATE},
    "time": {T.TIME, T.TIME2},
    "datetime": {T.DATETIME, T.DATETIME2},
    "timestamp": {T.TIMESTAMP, T.TIMESTAMP2},
    "char": {T.STRING},
    "binary": {T.STRING},
    "varchar": {T.VARCHAR, T.VAR_STRING},
    "varbinary": {T.VARCHAR, T.VAR_STRING},
    "enum": {T.ENUM, T.STRING},
    "set": {T.SET, T.STRING},
    "json": {T.JSON, *_BLOB_TYPES},
    **{
        t: set(_BLOB_TYPES)
        for t in ("tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob")
    },
    **{
        t: {T.GEOMETRY}
        for t in (
            "geometry",
            "point",
            "linestring",
            "polygon",
            "multipoint",
            "multilinestring",
            "multipolygon",
            "geometrycollection",
        )
    },
}


def compatible(binlog_type: int, info: ColumnInfo) -> bool:
    """False when the binlog column type cannot be the information_schema type (schema drift)."""
    allowed = COMPATIBLE.get(info.data_type)
    return allowed is None or binlog_type in allowed


def _bytes_code(
    var: str, length_code: str, width: int, decoder: Callable | None, name: str, ns: dict[str, Any]
) -> list[str]:
    """Lines reading a length-prefixed string at ``p`` into ``var``."""
    raw = f"d[p + {width}:p + {width} + n]"
    if decoder is None:
        expr = raw
    elif decoder is _utf8:
        expr = f"{raw}.decode('utf-8')"
    else:
        ns[name] = decoder
        expr = f"{name}({raw})"
    return [f"n = {length_code}", f"{var} = {expr}", f"p += {width} + n"]


def _memo_code(
    var: str, int_code: str, size: int, decode: Callable[[int], Any], tag: str, ns: dict[str, Any]
) -> list[str]:
    ns[f"M{tag}"], ns[f"D{tag}"] = memoized(decode)
    return [f"x = {int_code}", f"{var} = M{tag}.get(x) or D{tag}(x)", f"p += {size}"]


def _length_code(width: int) -> str:
    return {1: "d[p]", 2: "_u16(d, p)[0]"}.get(width, f"int.from_bytes(d[p:p + {width}], 'little')")


def value_code(col: Any, info: ColumnInfo, var: str, ns: dict[str, Any], tag: str) -> list[str]:
    """Python lines that decode one non-NULL value of table-map column ``col`` from ``d`` at ``p``
    into ``var`` and advance ``p``. Helpers are stored in ``ns`` under names suffixed by ``tag``."""
    t = col.type
    if t in _INTS:
        size, signed, unsigned = _INTS[t]
        if info.unsigned and t == T.TINY:
            return [f"{var} = d[p]", "p += 1"]
        return [f"{var} = {unsigned if info.unsigned else signed}(d, p)[0]", f"p += {size}"]
    if t == T.INT24:
        return [f"{var} = int.from_bytes(d[p:p + 3], 'little', signed={not info.unsigned})", "p += 3"]
    if t == T.FLOAT:
        return [f"{var} = _f32(d, p)[0]", "p += 4"]
    if t == T.DOUBLE:
        return [f"{var} = _f64(d, p)[0]", "p += 8"]
    if t == T.YEAR:
        return [f"{var} = d[p]", "p += 1", f"if {var}: {var} += 1900"]
    if t == T.NEWDECIMAL:
        size, decode = decimal_decoder(col.precision, col.decimals)
        return _memo_code(var, f"int.from_bytes(d[p:p + {size}], 'big')", size, decode, tag, ns)
    if t in (T.DATE, T.NEWDATE):
        return _memo_code(var, "d[p] | d[p + 1] << 8 | d[p + 2] << 16", 3, date_value, tag, ns)
    if t in _TEMPORAL:
        base, factory = _TEMPORAL[t]
        fb = (col.fsp + 1) // 2
        int_code = f"int.from_bytes(d[p:p + {base + fb}], 'big')"
        if fb == 0:  # whole seconds repeat often (bulk writes with NOW()): decode each once
            return _memo_code(var, int_code, base, factory(0), tag, ns)
        ns[f"D{tag}"] = factory(fb)
        return [f"{var} = D{tag}({int_code})", f"p += {base + fb}"]
    if t == T.TIMESTAMP:
        return [f"{var} = _old_timestamp(_u32(d, p)[0])", "p += 4"]
    if t == T.DATETIME:
        return [f"{var} = _old_datetime(_u64(d, p)[0])", "p += 8"]
    if t == T.TIME:
        return [f"{var} = _old_time(int.from_bytes(d[p:p + 3], 'little', signed=True))", "p += 3"]
    if t == T.BIT:
        return [f"{var} = int.from_bytes(d[p:p + {col.bytes}], 'big')", f"p += {col.bytes}"]
    if t == T.ENUM:
        ns[f"E{tag}"] = ("",) + info.values
        index = "d[p]" if col.size == 1 else "_u16(d, p)[0]"
        return [f"{var} = E{tag}[{index}]", f"p += {col.size}"]
    if t == T.SET:
        ns[f"S{tag}"] = set_decoder(info.values)
        return [f"{var} = S{tag}(int.from_bytes(d[p:p + {col.size}], 'little'))", f"p += {col.size}"]
    if t in _STRING_TYPES:
        width = 2 if col.max_length > 255 else 1
        decoder = text_decoder(info.charset)
        lines = _bytes_code(var, _length_code(width), width, decoder, f"C{tag}", ns)
        if decoder is None and t == T.STRING:  # BINARY(n), INET6, UUID...: the binlog strips the 0x00 pad
            lines.insert(2, f"if n < {col.max_length}: {var} = {var}.ljust({col.max_length}, b'\\0')")
        return lines
    if t in _BLOB_TYPES:
        decoder = None if info.data_type.endswith("blob") else text_decoder(info.charset)
        return _bytes_code(var, _length_code(col.length_size), col.length_size, decoder, f"C{tag}", ns)
    if t == T.GEOMETRY:
        return _bytes_code(var, _length_code(col.length_size), col.length_size, None, f"C{tag}", ns)
    if t == T.JSON:
        return _bytes_code(var, _length_code(col.length_size), col.length_size, mysql_json, f"C{tag}", ns)
    raise SourceError(
        f"column {info.name} ({info.column_type}) has binlog type {t}, which this selector cannot "
        f"decode: exclude the column or the table from the pipeline, or report the type",
        retryable=False,
    )


HELPERS: dict[str, Any] = {
    **STRUCTS,
    "_date": date_value,
    "_old_timestamp": old_timestamp,
    "_old_datetime": old_datetime,
    "_old_time": old_time,
}
