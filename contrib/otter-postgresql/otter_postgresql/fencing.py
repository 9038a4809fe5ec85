"""Fencing tokens on a PostgreSQL target (ZooKeeper mode): the twin of ``otter_mysql.fencing``.

A holder takes a pipeline's loads over by raising its row in ``retl.retl_fence`` to its token; that write
waits for the row locks (``FOR SHARE``) of the previous holder's transactions in flight. Every load
transaction starts by reading the row ``FOR SHARE`` and stops with ``Fenced`` when a newer token is there.
"""

from __future__ import annotations

from typing import Any

from otter_core.spi import LoadError, fencing
from otter_postgresql.dialect import RETL_SCHEMA, quote_ident, quote_table

TABLE = "retl_fence"
NAME = quote_table(RETL_SCHEMA, TABLE)
CREATE_SQL = (
    f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RETL_SCHEMA)}",
    f"CREATE TABLE IF NOT EXISTS {NAME} (pipeline varchar(191) NOT NULL PRIMARY KEY, "
    "token bigint NOT NULL, gmt_modified timestamptz NOT NULL)",
)
EXISTS_SQL = "SELECT to_regclass(%s)"
TAKE_OVER_SQL = (
    f"INSERT INTO {NAME} AS f (pipeline, token, gmt_modified) VALUES (%s, %s, clock_timestamp()) "
    "ON CONFLICT (pipeline) DO UPDATE SET token = GREATEST(f.token, EXCLUDED.token), gmt_modified = "
    "CASE WHEN EXCLUDED.token > f.token THEN clock_timestamp() ELSE f.gmt_modified END"
)
READ_SQL = f"SELECT token FROM {NAME} WHERE pipeline = %s"
CHECK_SQL = READ_SQL + " FOR SHARE"


def take_over(conn: Any, label: str, pipeline: str, token: int) -> None:
    """Raise ``pipeline``'s token to ``token`` (waits for the previous holder's loads in flight)."""
    import psycopg

    try:
        with conn.cursor() as cur:
            cur.execute(EXISTS_SQL, (NAME,))
            if cur.fetchone()[0] is None:
                for sql in CREATE_SQL:
                    cur.execute(sql)
            cur.execute(TAKE_OVER_SQL, (pipeline, token))
            cur.execute(READ_SQL, (pipeline,))
            current = int(cur.fetchone()[0])
        conn.commit()
    except psycopg.Error as exc:
        conn.rollback()
        raise LoadError(
            f"{label}: taking over the loads of pipeline {pipeline} (fencing token {token}) in {NAME} "
            f"failed: {str(exc).strip()}; the user needs CREATE on the database (or an existing "
            f"schema {RETL_SCHEMA}) and INSERT, UPDATE, SELECT on {NAME}"
        ) from None
    fencing.verify(current, label, pipeline, token, NAME, taking_over=True)


def check(cur: Any, label: str, pipeline: str, token: int) -> None:
    """The first statement of a load transaction: ``Fenced`` unless ``token`` is still the newest."""
    fencing.check(cur, CHECK_SQL, NAME, label, pipeline, token)
