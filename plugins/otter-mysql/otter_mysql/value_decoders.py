"""Binlog column values -> Python values: the decoders of one value that the generated code calls.

Split from values.py, which generates the decoding code and re-exports these names (``rowops`` reads
them as ``values.X``)."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import struct
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any

from pymysql.charset import charset_by_name

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
