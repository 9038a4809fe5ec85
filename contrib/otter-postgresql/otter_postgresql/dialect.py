"""PostgreSQL SQL text for the loader: pure functions, no I/O, golden-tested.

Values are always psycopg parameters (``%s``); identifiers are always double-quoted, keeping MySQL's
case. Deletes compare ``"k" IN (%s, …)`` (or a row constructor for a composite key) so that PostgreSQL
types each parameter from the column, whatever the column type.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

RETL_SCHEMA = "retl"
MARK_TABLE = "retl_mark"
MAX_PARAMETERS = 65535


def quote_ident(name: str) -> str:
    """A double-quoted identifier; a double quote inside the name is doubled."""
    if not name or "\0" in name:
        raise ValueError(f"{name!r} cannot be a PostgreSQL identifier")
    return '"' + name.replace('"', '""') + '"'


def quote_table(schema: str | None, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}" if schema else quote_ident(table)


def conflict_clause(
    columns: Sequence[str], key_columns: Sequence[str], update_columns: Sequence[str] | None
) -> str:
    """``ON CONFLICT (keys) DO UPDATE SET c = EXCLUDED.c`` (every non-key column when ``update_columns``
    is None; ``DO NOTHING`` when there is nothing to update)."""
    if not key_columns:
        raise ValueError("an upsert needs key columns")
    if update_columns is None:
        keys = set(key_columns)
        update_columns = [c for c in columns if c not in keys]
    target = "(" + ", ".join(map(quote_ident, key_columns)) + ")"
    if not update_columns:
        return f" ON CONFLICT {target} DO NOTHING"
    sets = ", ".join(f"{q} = EXCLUDED.{q}" for q in map(quote_ident, update_columns))
    return f" ON CONFLICT {target} DO UPDATE SET {sets}"


def upsert_sql(
    schema: str,
    table: str,
    columns: Sequence[str],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None,
    rows: int,
) -> str:
    """``INSERT INTO t (…) VALUES (%s, …), … ON CONFLICT …`` for ``rows`` rows."""
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return (
        f"INSERT INTO {quote_table(schema, table)} ("
        + ", ".join(map(quote_ident, columns))
        + ") VALUES "
        + ", ".join([row] * rows)
        + conflict_clause(columns, key_columns, update_columns)
    )


def rows_per_statement(columns: int, limit: int) -> int:
    """How many rows one multi-row statement may carry (PostgreSQL allows 65535 parameters)."""
    return max(1, min(limit, MAX_PARAMETERS // max(columns, 1)))


def delete_sql(schema: str, table: str, key_columns: Sequence[str], rows: int) -> str:
    """``DELETE FROM t WHERE "k" IN (%s, …)`` or ``WHERE ("a", "b") IN ((%s, %s), …)``."""
    if not key_columns:
        raise ValueError(f"DELETE from {schema}.{table} needs key columns")
    if len(key_columns) == 1:
        target, one = quote_ident(key_columns[0]), "%s"
    else:
        target = "(" + ", ".join(map(quote_ident, key_columns)) + ")"
        one = "(" + ", ".join(["%s"] * len(key_columns)) + ")"
    return f"DELETE FROM {quote_table(schema, table)} WHERE {target} IN (" + ", ".join([one] * rows) + ")"


def stage_table_sql(stage: str, schema: str, table: str) -> str:
    """A session temp table shaped like the target, emptied at every commit (COPY lands here)."""
    return (
        f"CREATE TEMP TABLE IF NOT EXISTS {quote_ident(stage)} (LIKE {quote_table(schema, table)} "
        "INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )


def copy_sql(stage: str, columns: Sequence[str]) -> str:
    return f"COPY {quote_ident(stage)} (" + ", ".join(map(quote_ident, columns)) + ") FROM STDIN"


def merge_stage_sql(
    stage: str,
    schema: str,
    table: str,
    columns: Sequence[str],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None,
) -> str:
    """Move the COPYed rows into the target with the same ON CONFLICT as a plain upsert (idempotent),
    then empty the stage for the next group of the same transaction."""
    cols = ", ".join(map(quote_ident, columns))
    return (
        f"INSERT INTO {quote_table(schema, table)} ({cols}) SELECT {cols} FROM {quote_ident(stage)}"
        + conflict_clause(columns, key_columns, update_columns)
    )


def stage_name(schema: str, table: str) -> str:
    """A temp table name for a target table (63 bytes at most, stable per table)."""
    return f"otter_stage_{zlib.crc32(f'{schema}.{table}'.encode()):08x}"


# ------------------------------------------------------------------------------------ loopback marks

MARK_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RETL_SCHEMA)}",
    f"CREATE TABLE IF NOT EXISTS {quote_table(RETL_SCHEMA, MARK_TABLE)} (id integer NOT NULL PRIMARY KEY, "
    "channel_id varchar(64) NOT NULL, channel_info varchar(128) NOT NULL DEFAULT '', "
    "seq bigint NOT NULL DEFAULT 0, gmt_modified timestamptz NOT NULL)",
)
MARK_SQL = (
    f"INSERT INTO {quote_table(RETL_SCHEMA, MARK_TABLE)} AS m (id, channel_id, channel_info, seq, gmt_modified) "
    "VALUES (%s, %s, %s, 1, clock_timestamp()) ON CONFLICT (id) DO UPDATE SET channel_id = EXCLUDED.channel_id, "
    "channel_info = EXCLUDED.channel_info, seq = m.seq + 1, gmt_modified = clock_timestamp()"
)


def mark_id(channel: str, pipeline: str, slot: int) -> int:
    """The mark row of one loader slot: the same ids as the MySQL and Oracle loaders."""
    return zlib.crc32(f"{channel}/{pipeline}".encode()) % 10_000_000 * 64 + slot % 64


TARGET_COLUMNS_SQL = (
    "SELECT a.attname, t.typname, a.atttypmod, a.attgenerated <> '' FROM pg_attribute a "
    "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_type t ON t.oid = a.atttypid "
    "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum"
)
# every plain UNIQUE index (primary key included) of a table: name and column names in index order;
# partial and expression indexes are left out (their clashes surface as errors, never as a wrong row)
TARGET_UNIQUE_SQL = (
    "SELECT i.relname, array_agg(a.attname ORDER BY k.ord) FROM pg_index x "
    "JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_class i ON i.oid = x.indexrelid "
    "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
    "WHERE n.nspname = %s AND c.relname = %s AND x.indisunique AND x.indpred IS NULL AND x.indexprs IS NULL "
    "GROUP BY i.relname ORDER BY i.relname"
)


def unique_holders_sql(schema: str, table: str, unique: Sequence[str], keys: Sequence[str], rows: int) -> str:
    """Keys and values of the rows holding one of ``rows`` values of ``unique`` (parameters: the values,
    ``rows`` × unique), locked; the loader keeps those that are not its own rows with the same value."""
    u = ",".join(quote_ident(c) for c in unique)
    k = ",".join(quote_ident(c) for c in keys)
    one = "(" + ",".join(["%s"] * len(unique)) + ")"
    return f"SELECT {k},{u} FROM {quote_table(schema, table)} WHERE ({u}) IN ({','.join([one] * rows)}) FOR UPDATE"
