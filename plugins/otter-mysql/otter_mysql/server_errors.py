"""Small helpers for PyMySQL errors and connections, shared by the MySQL loader's modules."""
from __future__ import annotations

from typing import Any


def error_code(exc: BaseException) -> int:
    """The server's error number (1062, 1213, ...), -1 when ``exc`` carries none."""
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else -1


def server_message(exc: BaseException) -> str:
    """``(code) message`` of a server error, else the exception's type and text."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return f"({args[0]}) {args[1]}"
    return f"{type(exc).__name__}: {exc}"


def close_quietly(conn: Any) -> None:
    """Close ``conn``, ignoring errors (it may be broken already)."""
    try:
        conn.close()
    except Exception:  # already broken: nothing left to release
        return
