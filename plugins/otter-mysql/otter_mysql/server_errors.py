"""Small helpers for PyMySQL errors, warnings and connections, shared by the MySQL loader's modules."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

# Warnings by which the server tells it stored something else than the value sent: the loader runs in the
# replica's non-strict sql_mode, so a target column narrower than the source's (VARCHAR(5) for 64
# characters, TINYINT for 300, utf8mb3 for an emoji, NOT NULL for a NULL, a DATE for a bad date) would
# otherwise keep a truncated, clipped, '?' or zero value without an error. Not listed: 1364 (a target
# column the source does not have got its default) and notes such as 1287 (deprecated syntax).
DATA_WARNINGS = {
    1048: "a NULL was stored as the column's default",  # ER_BAD_NULL_ERROR
    1263: "a NULL was stored as the column's default",  # ER_WARN_NULL_TO_NOTNULL
    1264: "a number was clipped to the column's range",  # ER_WARN_DATA_OUT_OF_RANGE
    1265: "a value was truncated",  # WARN_DATA_TRUNCATED
    1292: "a value was converted with loss",  # ER_TRUNCATED_WRONG_VALUE
    1300: "a string was not valid in the column's character set",  # ER_INVALID_CHARACTER_STRING
    1366: "a value could not be stored as it is",  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
    1406: "a value was too long",  # ER_DATA_TOO_LONG
}
_AT_ROW = re.compile(r"at row (\d+)")
_COLUMN = re.compile(r"[Cc]olumn (?:`(?:[^`]|``)*`\.`(?:[^`]|``)*`\.)?[`']((?:[^`']|``)+)[`']")


def error_code(exc: BaseException) -> int:
    """The server's error number (1062, 1213, ...), -1 when ``exc`` carries none."""
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else -1


def server_message(exc: BaseException) -> str:
    """``(code) message`` of a server error, else the exception's type and text."""
    args: tuple = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return f"({args[0]}) {args[1]}"
    return f"{type(exc).__name__}: {exc}"


def close_quietly(conn: Any) -> None:
    """Close ``conn``, ignoring errors (it may be broken already)."""
    try:
        conn.close()
    except Exception:  # already broken: nothing left to release
        return


def data_warnings(
    cur: Any, generated: Callable[[], Collection[str]] = frozenset
) -> list[tuple[int, str, int | None]]:
    """``(code, message, row number or None)`` of the last statement's warnings that mean a value was
    stored changed (``DATA_WARNINGS``); empty, without a query, when the statement had no warning. Warnings
    on the columns ``generated()`` names (lower case) are left out: the target computes those values itself."""
    result = getattr(cur, "_result", None)
    if not getattr(result, "warning_count", 0):
        return []
    cur.execute("SHOW WARNINGS")
    found = []
    warnings = cur.fetchall()
    computed = generated() if any(code in DATA_WARNINGS for _level, code, _message in warnings) else ()
    for _level, code, message in warnings:
        column = _COLUMN.search(message)
        if code in DATA_WARNINGS and not (column and column.group(1).replace("``", "`").lower() in computed):
            row = _AT_ROW.search(message)
            found.append((code, message, int(row.group(1)) if row else None))
    return found
