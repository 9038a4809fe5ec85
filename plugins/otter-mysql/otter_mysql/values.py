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
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import struct
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any

from pymysql.charset import charset_by_name
from pymysqlreplication.constants import FIELD_TYPE as T

from otter_core.spi import SourceError
from otter_mysql.schema import ColumnInfo

_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
_FRAC_MULT = (1, 10000, 100, 1)  # fractional bytes -> factor to microseconds
_DECIMAL_CTX = Context(prec=100)  # DECIMAL has at most 65 digits: scaling is exact

# MySQL's latin1 is cp1252 with the five bytes cp1252 leaves undefined mapped to U+0081 etc.
_LATIN1_TABLE = "".join(bytes([i]).decode("cp1252", "ignore") or chr(i) for i in range(256))
_CODECS = {
    "utf8": "utf-8",
    "utf8mb3": "utf-8",
    "utf8mb4": "utf-8",
    "ascii": "ascii",
    "ucs2": "utf-16-be",
    "utf16": "utf-16-be",
    "utf16le": "utf-16-le",
    "utf32": "utf-32-be",
}

STRUCTS = {
    name: struct.Struct(fmt).unpack_from
    for name, fmt in (
        ("_i8", "<b"),
        ("_i16", "<h"),
        ("_u16", "<H"),
        ("_i32", "<i"),
        ("_u32", "<I"),
        ("_i64", "<q"),
        ("_u64", "<Q"),
        ("_f32", "<f"),
        ("_f64", "<d"),
    )
}


def latin1_decode(raw: bytes) -> str:
    """Decode MySQL latin1 exactly as the server maps it to Unicode."""
    return codecs.charmap_decode(raw, "strict", _LATIN1_TABLE)[0]


def text_decoder(charset: str | None) -> Callable[[bytes], Any] | None:
    """A function bytes -> str for ``charset`` (None: keep bytes). Values that do not survive a
    round trip through the Python codec stay bytes (PyMySQL sends bytes as ``_binary``, exact)."""
    if charset in (None, "binary"):
        return None
    if charset == "latin1":
        return latin1_decode
    codec = _CODECS.get(charset)
    if codec is None:
        found = charset_by_name(charset)
        codec = found.encoding if found else charset
    try:
        codecs.lookup(codec)
    except LookupError:
        return None
    if codecs.lookup(codec).name == "utf-8":
        return _utf8

    def decode(raw: bytes, _codec: str = codec) -> Any:
        try:
            text = raw.decode(_codec)
        except UnicodeDecodeError:
            return raw
        return text if text.encode(_codec) == raw else raw

    return decode


def _utf8(raw: bytes) -> str:  # inlined by value_code as .decode('utf-8')
    return raw.decode("utf-8")


def decimal_decoder(precision: int, scale: int) -> tuple[int, Callable[[int], Decimal]]:
    """(byte size, decoder) of MySQL's packed DECIMAL(precision, scale); the decoder takes the bytes
    as one big-endian integer. Compiled per layout: groups of 9 digits in 4 bytes, partial groups in
    fewer, sign in the top bit (negative values stored inverted)."""
    intg0, intg0x = divmod(precision - scale, 9)
    frac0, frac0x = divmod(scale, 9)
    groups = (
        ([(_DIG2BYTES[intg0x], intg0x)] if intg0x else [])
        + [(4, 9)] * (intg0 + frac0)
        + ([(_DIG2BYTES[frac0x], frac0x)] if frac0x else [])
    )
    size = sum(n for n, _ in groups)
    terms, shift, digits = [], 0, 0
    for nbytes, ndigits in reversed(groups):
        terms.append(f"((x >> {shift}) & {(1 << 8 * nbytes) - 1}) * {10**digits}")
        shift, digits = shift + 8 * nbytes, digits + ndigits
    top, full = 1 << (8 * size - 1), (1 << 8 * size) - 1
    src = (
        f"def decode(x):\n    if x & {top}:\n        x ^= {top}\n        s = 1\n    else:\n"
        f"        x ^= {full ^ top}\n        s = -1\n"
        f"    return D(s * ({' + '.join(terms) or '0'})).scaleb({-scale}, CTX)\n"
    )
    ns: dict[str, Any] = {"D": Decimal, "CTX": _DECIMAL_CTX}
    exec(compile(src, f"<decimal({precision},{scale})>", "exec"), ns)
    return size, ns["decode"]


def memoized(decode: Callable[[int], Any], limit: int = 4096) -> tuple[dict, Callable[[int], Any]]:
    """(memo, decoder that fills it): repeated dates and amounts are decoded once. Used by the generated
    code as ``memo.get(x) or decode(x)`` (values are immutable; a falsy one is just decoded again)."""
    memo: dict[int, Any] = {}

    def fill(x: int) -> Any:
        if len(memo) >= limit:
            memo.clear()
        value = memo[x] = decode(x)
        return value

    return memo, fill


def date_value(x: int) -> Any:
    """DATE from its 3-byte integer; a zero or partial-zero date as 'YYYY-MM-DD' text."""
    day, month, year = x & 31, (x >> 5) & 15, x >> 9
    try:
        return dt.date(year, month, day)
    except ValueError:
        return f"{year:04d}-{month:02d}-{day:02d}"


def _datetime_parts(year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int) -> Any:
    try:
        return dt.datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}.{micro:06d}"


def datetime2_decoder(fb: int) -> Callable[[int], Any]:
    """DATETIME(fsp) (5 + fb bytes, big-endian) -> datetime, or text for zero dates."""
    shift, mask, mult = 8 * fb, (1 << 8 * fb) - 1, _FRAC_MULT[fb]
    make = dt.datetime

    def decode(x: int) -> Any:
        packed = (x >> shift) - 0x8000000000
        ymd, hms = packed >> 17, packed & 0x1FFFF
        ym = ymd >> 5
        try:
            return make(ym // 13, ym % 13, ymd & 31, hms >> 12, (hms >> 6) & 63, hms & 63, (x & mask) * mult)
        except ValueError:
            return _datetime_parts(
                ym // 13, ym % 13, ymd & 31, hms >> 12, (hms >> 6) & 63, hms & 63, (x & mask) * mult
            )

    return decode


def timestamp2_decoder(fb: int) -> Callable[[int], Any]:
    """TIMESTAMP(fsp) (4 + fb bytes, big-endian) -> aware UTC datetime; 0 -> zero-date text."""
    shift, mask, mult = 8 * fb, (1 << 8 * fb) - 1, _FRAC_MULT[fb]
    delta = dt.timedelta

    def decode(x: int) -> Any:
        if not x:
            return "0000-00-00 00:00:00"
        return _EPOCH + delta(0, x >> shift, (x & mask) * mult)

    return decode


def time2_decoder(fb: int) -> Callable[[int], dt.timedelta]:
    """TIME(fsp) (3 + fb bytes, big-endian, offset-binary) -> timedelta (may be negative)."""
    shift, mask, mult, offset = 8 * fb, (1 << 8 * fb) - 1, _FRAC_MULT[fb], 0x800000 << 8 * fb
    delta = dt.timedelta

    def decode(x: int) -> dt.timedelta:
        x -= offset
        neg = x < 0
        if neg:
            x = -x
        hms = x >> shift
        value = delta(
            0, ((hms >> 12) & 0x3FF) * 3600 + ((hms >> 6) & 63) * 60 + (hms & 63), (x & mask) * mult
        )
        return -value if neg else value

    return decode


def old_time(x: int) -> dt.timedelta:
    """Pre-5.6 TIME: signed HHMMSS integer."""
    neg, x = x < 0, abs(x)
    value = dt.timedelta(hours=x // 10000, minutes=x // 100 % 100, seconds=x % 100)
    return -value if neg else value


def old_datetime(x: int) -> Any:
    """Pre-5.6 DATETIME: YYYYMMDDhhmmss integer."""
    d, t = divmod(x, 1000000)
    return _datetime_parts(d // 10000, d // 100 % 100, d % 100, t // 10000, t // 100 % 100, t % 100, 0)


def old_timestamp(x: int) -> Any:
    """Pre-5.6 TIMESTAMP: seconds since the epoch."""
    return _EPOCH + dt.timedelta(seconds=x) if x else "0000-00-00 00:00:00"


def set_decoder(labels: tuple[str, ...]) -> Callable[[int], str]:
    """SET bitmask -> 'a,b' in definition order ('' for the empty set)."""
    memo: dict[int, str] = {}

    def decode(mask: int) -> str:
        text = memo.get(mask)
        if text is None:
            text = memo[mask] = ",".join(label for i, label in enumerate(labels) if mask >> i & 1)
        return text

    return decode


def mysql_json(raw: bytes) -> str | None:
    """MySQL 5.7+ binary JSON -> JSON text."""
    if not raw:
        return None
    from pymysqlreplication.json_binary import parse_json

    def plain(v: Any) -> Any:
        if isinstance(v, bytes):
            return v.decode("utf-8", "surrogateescape")
        if isinstance(v, dict):
            return {plain(k): plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(parse_json(raw[0], raw[1:])), ensure_ascii=False)


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
