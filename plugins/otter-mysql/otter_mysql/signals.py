"""The system tables of the initial load and of resync, in the system schema ``retl``.

``retl_signal`` holds one row per pipeline whose ``watermark`` column a snapshot updates before and after
it reads a chunk (the low and high watermarks of the DBLog method); the selector sees those updates in the
binlog, between the changes of other sessions. ``retl_buffer`` is otter's "freedom door": a row inserted
there names a table and a key (``pk_data``, key values joined by ``CHAR(1)``) whose current row the
pipeline re-reads and syncs (type I or U), or deletes on the target (type D).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pymysql

from otter_core.spi import OtterError
from otter_mysql.retl import NO_GRANT

SCHEMA = "retl"
SIGNAL_TABLE = "retl_signal"
BUFFER_TABLE = "retl_buffer"
EMITTED_TABLES = frozenset({SIGNAL_TABLE, BUFFER_TABLE})  # the selector emits their rows to the engine
PK_SEPARATOR = "\x01"
CREATE_SQL = {
    SIGNAL_TABLE: (
        f"CREATE TABLE IF NOT EXISTS `{SCHEMA}`.`{SIGNAL_TABLE}` (id VARCHAR(191) NOT NULL PRIMARY KEY, "
        "watermark VARCHAR(64) NOT NULL, gmt_modified DATETIME(6) NOT NULL)"
    ),
    BUFFER_TABLE: (
        f"CREATE TABLE IF NOT EXISTS `{SCHEMA}`.`{BUFFER_TABLE}` (id BIGINT NOT NULL AUTO_INCREMENT "
        "PRIMARY KEY, table_id INT NOT NULL DEFAULT 0, full_name VARCHAR(512) NULL, type CHAR(1) NOT NULL, "
        "pk_data VARCHAR(1024) NOT NULL, gmt_create TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
        "gmt_modified TIMESTAMP NULL DEFAULT NULL)"
    ),
}
WATERMARK_SQL = (
    f"INSERT INTO `{SCHEMA}`.`{SIGNAL_TABLE}` (id, watermark, gmt_modified) VALUES (%s, %s, NOW(6)) "
    "ON DUPLICATE KEY UPDATE watermark = VALUES(watermark), gmt_modified = NOW(6)"
)


def ensure_tables(
    conn: Any, label: str, error: type[OtterError], tables: Sequence[str] = tuple(CREATE_SQL)
) -> None:
    """Create ``retl`` and the named tables when missing (checked first: no DDL in the binlog when they
    exist); a missing grant raises ``error`` naming the GRANT to give."""
    missing = list(tables)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (SCHEMA,))
            present = {row[0] for row in cur.fetchall()}
            missing = [t for t in tables if t not in present]
            if missing:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{SCHEMA}`")
            for table in missing:
                cur.execute(CREATE_SQL[table])
        conn.commit()
    except pymysql.Error as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code in NO_GRANT:
            raise error(
                f"{label}: cannot create `{SCHEMA}`.{', '.join(missing)} ({exc.args[-1]}); run "
                f"`otter-run init-db` as an administrator, or GRANT CREATE, SELECT, INSERT, UPDATE, DELETE "
                f"ON `{SCHEMA}`.* TO the user of this source",
                retryable=False,
            ) from None
        raise


def buffer_rows_sql(rows: int) -> str:
    """A multi-row insert of ``rows`` resync requests (table_id 0: the table is named by full_name)."""
    return (
        f"INSERT INTO `{SCHEMA}`.`{BUFFER_TABLE}` (table_id, full_name, type, pk_data, gmt_create, gmt_modified) "
        "VALUES " + ", ".join(["(0, %s, %s, %s, NOW(), NOW())"] * rows)
    )
