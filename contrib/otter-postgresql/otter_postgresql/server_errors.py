"""Which PostgreSQL errors heal by themselves (retried) and which fail the same way on every replay
(the pipeline stops), by SQLSTATE: the same three classes as the MySQL loader's error numbers."""

from __future__ import annotations

from otter_core.spi import DETERMINISTIC, TRANSIENT, UNKNOWN

# Whole SQLSTATE classes (first two characters) and single codes that heal by themselves.
TRANSIENT_CLASSES = {
    "08": "connection exception",
    "53": "insufficient resources (too many connections, out of memory or disk)",
    "57": "operator intervention (server shutdown, cannot connect now, statement timeout)",
}
TRANSIENT_STATES = {
    "40001": "serialization failure",
    "40P01": "deadlock detected",
    "55P03": "lock not available",
    "25006": "read-only transaction (a standby or default_transaction_read_only)",
}
# Classes whose errors repeat on every replay of the same rows. 42703 (undefined column) is left out: the
# loader forgets the table's columns on it, so the next attempt may succeed after an ALTER on the target.
DETERMINISTIC_CLASSES = {
    "22": "data exception (a value the column cannot hold)",
    "23": "integrity constraint violation (NOT NULL, foreign key, unique, check)",
    "28": "invalid authorization (user or password)",
    "3D": "unknown database",
    "3F": "unknown schema",
    "42": "syntax error or access rule violation (unknown table, missing privilege)",
    "0A": "feature not supported",
}
UNKNOWN_STATES = {"42703"}
# What libpq says (without a SQLSTATE) when the server refuses the login itself: no retry heals it.
REFUSED_LOGIN = ("authentication failed", "no pg_hba.conf entry", "does not exist")


def error_class(exc: BaseException) -> str:
    """DETERMINISTIC, TRANSIENT or UNKNOWN (``otter_core.errors``) for a psycopg error or an OS error.
    Without a SQLSTATE (raised by psycopg, not the server) an OperationalError is a connection that
    failed or broke, a DataError/ProgrammingError a value psycopg refused."""
    state = getattr(getattr(exc, "diag", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    if state:
        if state in TRANSIENT_STATES or state[:2] in TRANSIENT_CLASSES:
            return TRANSIENT
        if state not in UNKNOWN_STATES and state[:2] in DETERMINISTIC_CLASSES:
            return DETERMINISTIC
        return UNKNOWN
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return TRANSIENT
    psycopg_bases = {c.__name__ for c in type(exc).__mro__ if c.__module__.startswith("psycopg")}
    if psycopg_bases & {"OperationalError", "InterfaceError"}:  # libpq reports a refused login as text
        return DETERMINISTIC if any(words in str(exc) for words in REFUSED_LOGIN) else TRANSIENT
    if psycopg_bases & {"DataError", "IntegrityError", "ProgrammingError", "NotSupportedError"}:
        return DETERMINISTIC  # refused by psycopg itself (a NUL in text, a value it cannot adapt)
    return UNKNOWN


def error_kwargs(exc: BaseException) -> dict[str, bool]:
    """``retryable``/``transient`` arguments of an OtterError that carries ``exc``'s class."""
    found = error_class(exc)
    return {"retryable": found != DETERMINISTIC, "transient": found == TRANSIENT}
