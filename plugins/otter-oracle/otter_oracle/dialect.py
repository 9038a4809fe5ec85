"""Oracle SQL text for the loader: pure functions, no I/O, golden-tested.

Every statement uses positional binds (``:1``, ``:2`` …) and is executed with ``executemany`` over the
rows of one statement shape; values never enter the SQL text. Identifiers are always double-quoted, so
any name works (reserved words, mixed case, spaces); ``Naming`` decides whether MySQL's names are
upper-cased first (``identifier_case: upper``, the default, matches tables created without quotes).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from attrs import frozen

MAX_IDENTIFIER_BYTES = 128  # Oracle 12.2+


@frozen
class Naming:
    """How MySQL names become Oracle identifiers: ``upper`` (default) or ``preserve``."""

    case: str = "upper"

    def ident(self, name: str) -> str:
        """A double-quoted identifier; a double quote inside the name is doubled."""
        name = name.upper() if self.case == "upper" else name
        if not name or len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES or "\0" in name:
            raise ValueError(
                f"{name!r} cannot be an Oracle identifier (1 to {MAX_IDENTIFIER_BYTES} bytes, no NUL)"
            )
        return '"' + name.replace('"', '""') + '"'

    def table(self, schema: str | None, table: str) -> str:
        return f"{self.ident(schema)}.{self.ident(table)}" if schema else self.ident(table)


def merge_sql(
    naming: Naming,
    schema: str,
    table: str,
    columns: Sequence[str],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None = None,
) -> str:
    """``MERGE INTO`` that inserts a row or updates it by key; binds are the row's values in
    ``columns`` order. ``update_columns`` None updates every non-key column; an empty list (or a
    table of key columns only) leaves an existing row as it is (no WHEN MATCHED clause)."""
    if not key_columns:
        raise ValueError(f"MERGE INTO {schema}.{table} needs key columns")
    missing = [k for k in key_columns if k not in columns]
    if missing:
        raise ValueError(f"key column(s) {missing} of {schema}.{table} are not among the columns")
    if update_columns is None:
        keys = set(key_columns)
        update_columns = [c for c in columns if c not in keys]
    q = naming.ident
    select = ", ".join(f":{i} {q(c)}" for i, c in enumerate(columns, 1))
    on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in key_columns)
    sql = f"MERGE INTO {naming.table(schema, table)} t USING (SELECT {select} FROM DUAL) s ON ({on})"
    if update_columns:
        sql += " WHEN MATCHED THEN UPDATE SET " + ", ".join(f"t.{q(c)} = s.{q(c)}" for c in update_columns)
    sql += (
        " WHEN NOT MATCHED THEN INSERT ("
        + ", ".join(q(c) for c in columns)
        + ") VALUES ("
        + ", ".join(f"s.{q(c)}" for c in columns)
        + ")"
    )
    return sql


def delete_sql(naming: Naming, schema: str, table: str, key_columns: Sequence[str]) -> str:
    """``DELETE`` of one row by key (executed over many keys): deleting a missing row is a no-op."""
    if not key_columns:
        raise ValueError(f"DELETE from {schema}.{table} needs key columns")
    where = " AND ".join(f"{naming.ident(k)} = :{i}" for i, k in enumerate(key_columns, 1))
    return f"DELETE FROM {naming.table(schema, table)} WHERE {where}"


# ------------------------------------------------------------------------------------ loopback marks

MARK_TABLE = "RETL_MARK"
DEFAULT_RETL_SCHEMA = "RETL"


def mark_table_ddl(retl_schema: str = DEFAULT_RETL_SCHEMA) -> str:
    """The Oracle twin of ``retl.retl_mark`` (create it once as a DBA, or let the loader try)."""
    name = Naming("preserve").table(retl_schema, MARK_TABLE)
    return (
        f'CREATE TABLE {name} ("ID" NUMBER(10) NOT NULL PRIMARY KEY, "CHANNEL_ID" VARCHAR2(64 CHAR) NOT NULL, '
        '"CHANNEL_INFO" VARCHAR2(128 CHAR), "SEQ" NUMBER(19) DEFAULT 0 NOT NULL, '
        '"GMT_MODIFIED" TIMESTAMP(6) NOT NULL)'
    )


def mark_sql(retl_schema: str = DEFAULT_RETL_SCHEMA) -> str:
    """Upsert of the mark row, the first statement of every loaded transaction (binds: id, channel,
    pipeline); ``SEQ`` always changes, so a log-based reader of this database always sees the mark."""
    name = Naming("preserve").table(retl_schema, MARK_TABLE)
    return (
        f'MERGE INTO {name} t USING (SELECT :1 "ID", :2 "CHANNEL_ID", :3 "CHANNEL_INFO" FROM DUAL) s '
        'ON (t."ID" = s."ID") WHEN MATCHED THEN UPDATE SET t."CHANNEL_ID" = s."CHANNEL_ID", '
        't."CHANNEL_INFO" = s."CHANNEL_INFO", t."SEQ" = t."SEQ" + 1, t."GMT_MODIFIED" = SYSTIMESTAMP '
        'WHEN NOT MATCHED THEN INSERT ("ID", "CHANNEL_ID", "CHANNEL_INFO", "SEQ", "GMT_MODIFIED") '
        'VALUES (s."ID", s."CHANNEL_ID", s."CHANNEL_INFO", 1, SYSTIMESTAMP)'
    )


def mark_id(channel: str, pipeline: str, slot: int) -> int:
    """The mark row a loader slot writes: one per (channel, pipeline, slot), the same ids the MySQL
    loader uses, so one reader can recognise both."""
    return zlib.crc32(f"{channel}/{pipeline}".encode()) % 10_000_000 * 64 + slot % 64


def mark_table_exists_sql() -> str:
    """Binds: owner, table name."""
    return "SELECT COUNT(*) FROM ALL_TABLES WHERE OWNER = :1 AND TABLE_NAME = :2"
