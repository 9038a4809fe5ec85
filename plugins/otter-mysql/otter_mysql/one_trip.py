"""The load's COMMIT carried by its last statement on MariaDB: one round trip for a load of one statement
instead of two, a row's latency at the median ~0.2 ms shorter.

The server commits only when the statement succeeded without a warning; otherwise the transaction stays
open and the loader goes on as it would have (warnings checked, COMMIT or ROLLBACK sent). An UPDATE
join's last chunk keeps the separate COMMIT: its "Rows matched" is checked before the commit. Target
option ``one_trip_commit: false`` sends every COMMIT alone.
"""

from __future__ import annotations

from typing import Any

from pymysql.constants import SERVER_STATUS

# A last statement up to this size carries the COMMIT; a bigger one takes longer than a round trip and
# the server would copy it into the block's parse tree for nothing.
ONE_TRIP_BYTES = 64 * 1024


def commit_block(sql: str | bytes) -> str | bytes:
    """``sql`` and a COMMIT in one statement: MariaDB's anonymous block commits when ``sql`` succeeded
    without a warning (a note counts too); a failed ``sql`` ends the block with its own error, undone,
    the transaction open. Its warnings stay readable by SHOW WARNINGS (``data_warnings``)."""
    if isinstance(sql, str):
        return f"BEGIN NOT ATOMIC {sql}; IF @@warning_count = 0 THEN COMMIT; END IF; END"
    return b"BEGIN NOT ATOMIC " + bytes(sql) + b"; IF @@warning_count = 0 THEN COMMIT; END IF; END"


def execute_committing(cur: Any, conn: Any, sql: str | bytes) -> bool:
    """Send ``sql`` in a ``commit_block``; whether the server committed (no warning, no transaction left
    open). Not committed, the caller checks the warnings and commits or rolls back as without it."""
    cur.execute(commit_block(sql))
    warned = getattr(cur._result, "warning_count", 0)
    return not warned and not conn.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS
