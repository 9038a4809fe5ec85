"""Small helpers for PyMySQL errors, warnings and connections, shared by the MySQL loader's modules."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from otter_core.spi import DETERMINISTIC, TRANSIENT, UNKNOWN

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


# Server (and client, >= 2000) error numbers that heal by themselves: the load is retried with backoff.
TRANSIENT_ERRORS = {
    1040: "too many connections",  # ER_CON_COUNT_ERROR
    1053: "server shutdown in progress",  # ER_SERVER_SHUTDOWN
    1152: "connection aborted",  # ER_ABORTING_CONNECTION
    1158: "network read error",  # ER_NET_READ_ERROR
    1159: "network read timeout",  # ER_NET_READ_INTERRUPTED
    1160: "network write error",  # ER_NET_ERROR_ON_WRITE
    1161: "network write timeout",  # ER_NET_WRITE_INTERRUPTED
    1180: "commit failed",  # ER_ERROR_DURING_COMMIT
    1181: "rollback failed",  # ER_ERROR_DURING_ROLLBACK
    1203: "too many user connections",  # ER_TOO_MANY_USER_CONNECTIONS
    1205: "lock wait timeout",  # ER_LOCK_WAIT_TIMEOUT
    1213: "deadlock",  # ER_LOCK_DEADLOCK
    1290: "server is read-only",  # ER_OPTION_PREVENTS_STATEMENT (--read-only)
    1317: "query interrupted",  # ER_QUERY_INTERRUPTED
    1614: "transaction branch rolled back: deadlock",  # ER_XA_RBDEADLOCK
    1836: "server is read-only",  # ER_READ_ONLY_MODE
    1927: "connection was killed",  # ER_CONNECTION_KILLED (MariaDB)
    1969: "statement timeout",  # ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
    2002: "cannot connect (socket)",  # CR_CONNECTION_ERROR
    2003: "cannot connect",  # CR_CONN_HOST_ERROR
    2005: "unknown host",  # CR_UNKNOWN_HOST (DNS may come back)
    2006: "server has gone away",  # CR_SERVER_GONE_ERROR
    2013: "lost connection during query",  # CR_SERVER_LOST
    2055: "lost connection",  # CR_SERVER_LOST_EXTENDED
    3024: "query execution interrupted (timeout)",  # ER_QUERY_TIMEOUT (MySQL)
    4031: "disconnected by the server (idle)",  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
}
# Error numbers that fail the same way however often the batch is replayed: the pipeline stops (or, with
# skip_load_exception, sends the row to the reject log). A duplicate key (1062/1586) reaching the pipeline
# is one the loader's own handling could not clear (another UNIQUE key the source does not have).
DETERMINISTIC_ERRORS = {
    1044: "access denied to the database",  # ER_DBACCESS_DENIED_ERROR
    1045: "access denied",  # ER_ACCESS_DENIED_ERROR
    1048: "NULL in a NOT NULL column",  # ER_BAD_NULL_ERROR
    1049: "unknown database",  # ER_BAD_DB_ERROR
    1054: "unknown column",  # ER_BAD_FIELD_ERROR
    1062: "duplicate key",  # ER_DUP_ENTRY
    1064: "syntax error",  # ER_PARSE_ERROR
    1136: "column count does not match",  # ER_WRONG_VALUE_COUNT_ON_ROW
    1142: "command denied",  # ER_TABLEACCESS_DENIED_ERROR
    1143: "column access denied",  # ER_COLUMNACCESS_DENIED_ERROR
    1146: "unknown table",  # ER_NO_SUCH_TABLE
    1216: "foreign key: no parent row",  # ER_NO_REFERENCED_ROW
    1217: "foreign key: row is referenced",  # ER_ROW_IS_REFERENCED
    1227: "privilege missing",  # ER_SPECIFIC_ACCESS_DENIED_ERROR
    1264: "value out of range",  # ER_WARN_DATA_OUT_OF_RANGE
    1265: "data truncated",  # WARN_DATA_TRUNCATED
    1292: "incorrect value",  # ER_TRUNCATED_WRONG_VALUE
    1364: "column has no default",  # ER_NO_DEFAULT_FOR_FIELD
    1366: "incorrect value for the column",  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
    1406: "value too long",  # ER_DATA_TOO_LONG
    1416: "not a geometry value",  # ER_CANT_CREATE_GEOMETRY_OBJECT
    1451: "foreign key: row is referenced",  # ER_ROW_IS_REFERENCED_2
    1452: "foreign key: no parent row",  # ER_NO_REFERENCED_ROW_2
    1586: "duplicate key",  # ER_DUP_ENTRY_WITH_KEY_NAME
    1690: "value out of range",  # ER_DATA_OUT_OF_RANGE
    1906: "value for a generated column",  # ER_WARNING_NON_DEFAULT_VALUE_FOR_VIRTUAL_COLUMN (MariaDB)
    3140: "invalid JSON",  # ER_INVALID_JSON_TEXT (MySQL)
    3819: "CHECK constraint failed",  # ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
    4025: "CHECK constraint failed",  # ER_CONSTRAINT_FAILED (MariaDB)
}


def error_class(exc: BaseException) -> str:
    """DETERMINISTIC, TRANSIENT or UNKNOWN (``otter_core.errors``) for a PyMySQL error or an OS error."""
    code = error_code(exc)
    if code in TRANSIENT_ERRORS:
        return TRANSIENT
    if code in DETERMINISTIC_ERRORS:
        return DETERMINISTIC
    if code == -1 and isinstance(exc, (ConnectionError, TimeoutError)):
        return TRANSIENT
    return UNKNOWN


def error_kwargs(exc: BaseException) -> dict[str, bool]:
    """``retryable``/``transient`` arguments of an OtterError that carries ``exc``'s class."""
    found = error_class(exc)
    return {"retryable": found != DETERMINISTIC, "transient": found == TRANSIENT}


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
