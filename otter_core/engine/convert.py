"""Type conversion between compatible column types (ColumnPair ``type``), with errors that name the value.

Conversions are exact or refused: an INT column never silently receives 3.7, a VARCHAR gets the
canonical text of a DECIMAL (scale kept) or DATETIME.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from typing import Any

from otter_core.errors import DataError


def _to_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.timedelta):
        sign = "-" if value < datetime.timedelta(0) else ""
        total = abs(value)
        hours, rest = divmod(total.days * 86400 + total.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        frac = f".{total.microseconds:06d}" if total.microseconds else ""
        return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}{frac}"
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(value))
    return str(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    number = (
        decimal.Decimal(_to_text(value).strip())
        if not isinstance(value, (float, decimal.Decimal))
        else decimal.Decimal(value)
    )
    if number != number.to_integral_value():
        raise ValueError("has a fractional part")
    return int(number)


def _to_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    return decimal.Decimal(_to_text(value).strip())


def _to_float(value: Any) -> float:
    return float(value if isinstance(value, (int, float, decimal.Decimal)) else _to_text(value))


def _to_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    return datetime.datetime.fromisoformat(_to_text(value).strip())


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_text,
    "varchar": _to_text,
    "char": _to_text,
    "text": _to_text,
    "int": _to_int,
    "integer": _to_int,
    "bigint": _to_int,
    "smallint": _to_int,
    "tinyint": _to_int,
    "decimal": _to_decimal,
    "numeric": _to_decimal,
    "float": _to_float,
    "double": _to_float,
    "datetime": _to_datetime,
    "timestamp": _to_datetime,
}


def converter(type_name: str) -> Callable[[Any], Any]:
    try:
        return CONVERTERS[type_name.lower()]
    except KeyError:
        raise DataError(
            f"unknown column type {type_name!r} for a conversion: use one of {', '.join(sorted(CONVERTERS))}",
            retryable=False,
        ) from None


def convert_value(type_name: str, value: Any, where: str) -> Any:
    """``value`` converted to ``type_name``; NULL stays NULL. ``where`` names table, key and column."""
    if value is None:
        return None
    try:
        return converter(type_name)(value)
    except DataError:
        raise
    except (ValueError, ArithmeticError, UnicodeDecodeError, TypeError) as exc:
        raise DataError(
            f"cannot convert {where} value {value!r} to {type_name}: {exc}; fix the row on the "
            f"source or change the pair's column type",
            retryable=False,
        ) from None
