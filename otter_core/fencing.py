"""What loaders share about fencing tokens (ZooKeeper mode, ``Arbitrator.fencing_token``): comparing the
token a target holds with this node's. The SQL that stores and reads it is each loader's own
(``otter_mysql.fencing``, ``otter_postgresql.fencing``)."""

from __future__ import annotations

from typing import Any

from otter_core.errors import Fenced, LoadError


def verify(
    current: int, label: str, pipeline: str, token: int, table: str, taking_over: bool = False
) -> None:
    """``Fenced`` when the target holds a token above ``token``; below it (the row changed by hand, only
    possible after this node took over) a retryable ``LoadError``: the retry takes over again."""
    if current > token:
        raise Fenced.newer(label, pipeline, token, current, table)
    if current < token and not taking_over:
        raise LoadError(
            f"{label}: the fencing token of pipeline {pipeline} in {table} is {current}, below this "
            f"node's {token}: it was changed by hand; the load is retried after taking over again"
        )


def check(cur: Any, check_sql: str, table: str, label: str, pipeline: str, token: int) -> None:
    """The first statement of a load transaction: ``check_sql`` (the token row, read with a shared lock
    that a takeover waits for), then ``verify``."""
    cur.execute(check_sql, (pipeline,))
    row = cur.fetchone()
    verify(int(row[0]) if row else 0, label, pipeline, token, table)
