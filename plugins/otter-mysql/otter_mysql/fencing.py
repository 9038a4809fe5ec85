"""Fencing tokens on the target: a node that lost its stage cannot commit a load after the next holder began.

In ZooKeeper mode a node stops its stages when its session is suspended, but a load transaction already
in flight (waiting for a row lock, say) can still commit later, after another node took the stage over
and loaded newer changes of the same rows: the stale commit would put older values back. So every
holder of a pipeline's Load gets a fencing token, strictly increasing (``ZooKeeperArbitrator``), and:

- when it takes over, it raises the pipeline's row in ``retl.retl_fence`` to its token. That write waits
  for the shared locks of the previous holder's transactions still in flight: they end first;
- every load transaction begins by reading that row with a shared lock; a token above its own means a
  newer holder: the transaction is rolled back and the stage stops (``Fenced``, not retried).

Shared locks do not block each other, so the pool's connections still load in parallel; the cost is one
round trip per transaction, in ZooKeeper mode only.
"""

from __future__ import annotations

from typing import Any

import pymysql

from otter_core.spi import LoadError, fencing
from otter_mysql import retl
from otter_mysql.server_errors import error_code

TABLE = retl.FENCE_TABLE
NAME = f"`{retl.SCHEMA}`.`{TABLE}`"
CREATE_SQL = (retl.CREATE_SQL[0], next(sql for sql in retl.CREATE_SQL if f"`{TABLE}`" in sql))
EXISTS_SQL = "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
# the timestamp first: ON DUPLICATE KEY UPDATE assigns left to right
TAKE_OVER_SQL = (
    f"INSERT INTO {NAME} (pipeline, token, gmt_modified) VALUES (%s, %s, NOW(6)) "
    "ON DUPLICATE KEY UPDATE gmt_modified = IF(VALUES(token) > token, NOW(6), gmt_modified), "
    "token = GREATEST(token, VALUES(token))"
)
READ_SQL = f"SELECT token FROM {NAME} WHERE pipeline = %s"
CHECK_SQL = READ_SQL + " LOCK IN SHARE MODE"


def take_over(conn: Any, label: str, pipeline: str, token: int) -> None:
    """Raise ``pipeline``'s token on the target to ``token`` (waits for the previous holder's loads in
    flight); ``Fenced`` if the target already holds a higher one."""
    try:
        with conn.cursor() as cur:
            if not cur.execute(EXISTS_SQL, (retl.SCHEMA, TABLE)):  # no DDL in the binlog when it exists
                for sql in CREATE_SQL:
                    cur.execute(sql)
            cur.execute(TAKE_OVER_SQL, (pipeline, token))
            cur.execute(READ_SQL, (pipeline,))
            current = int(cur.fetchone()[0])
        conn.commit()
    except pymysql.Error as exc:
        if error_code(exc) in retl.NO_GRANT:
            raise LoadError(
                f"{label}: cannot write the fencing table {NAME} that ZooKeeper mode needs "
                f"({exc.args[-1]}); run `otter-run init-db` as an administrator, or GRANT "
                f"CREATE, SELECT, INSERT, UPDATE ON `{retl.SCHEMA}`.* TO the user of this target",
                retryable=False,
            ) from None
        raise LoadError(
            f"{label}: taking over the loads of pipeline {pipeline} (fencing token {token}) "
            f"failed: {exc.args[-1]}"
        ) from None
    fencing.verify(current, label, pipeline, token, NAME, taking_over=True)


def check(cur: Any, label: str, pipeline: str, token: int) -> None:
    """The first statement of a load transaction: ``Fenced`` unless ``token`` is still the newest."""
    fencing.check(cur, CHECK_SQL, NAME, label, pipeline, token)
