"""Compare tables of two servers: per-table row count + checksum, and exact rows ordered by primary key.

Used by the demo and by tests of the core and of every plugin. ``server`` is anything with
``execute(sql, args=None) -> list[tuple]`` (e.g. :class:`otter_core.testing.mariadb.MariaDBServer`).
"""

from __future__ import annotations

from typing import Any, Protocol


class _Executes(Protocol):
    def execute(self, *statements: str, args: Any = None) -> list[tuple]: ...


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _split(full_name: str) -> tuple[str, str]:
    if "." not in full_name:
        raise ValueError(f"expected 'schema.table', got {full_name!r}")
    schema, table = full_name.split(".", 1)
    return schema, table


def tables_of(server: _Executes, schema: str) -> list[str]:
    """The base tables of ``schema``, sorted by name (views are left out)."""
    rows = server.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' "
        "ORDER BY TABLE_NAME",
        args=(schema,),
    )
    return [r[0] for r in rows]


def columns_of(server: _Executes, schema: str, table: str) -> list[str]:
    rows = server.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "ORDER BY ORDINAL_POSITION",
        args=(schema, table),
    )
    return [r[0] for r in rows]


def key_of(server: _Executes, schema: str, table: str) -> list[str]:
    """The primary key's columns; else the first unique key's; else every column."""
    rows = server.execute(
        "SELECT s.INDEX_NAME, s.COLUMN_NAME FROM information_schema.STATISTICS s "
        "WHERE s.TABLE_SCHEMA = %s AND s.TABLE_NAME = %s AND s.NON_UNIQUE = 0 "
        "ORDER BY s.INDEX_NAME <> 'PRIMARY', s.INDEX_NAME, s.SEQ_IN_INDEX",
        args=(schema, table),
    )
    if rows:
        first = rows[0][0]
        return [column for index, column in rows if index == first]
    return columns_of(server, schema, table)


def table_checksum(server: _Executes, schema: str, table: str) -> tuple[int, int]:
    """``(row count, checksum)`` of one table; the checksum does not depend on row order.

    Every column is cast to its binary text (so charsets and collations never mix) and NULL is told apart
    from any value, so two tables with the same rows give the same pair on any two servers.
    """
    columns = columns_of(server, schema, table)
    if not columns:
        raise LookupError(f"no table {schema}.{table}")
    parts = ", ".join(f"IFNULL(CONCAT('v', CAST({_quote(c)} AS BINARY)), 'N')" for c in columns)
    rows = server.execute(
        f"SELECT COUNT(*), IFNULL(BIT_XOR(CRC32(CONCAT_WS('#', {parts}))), 0) "
        f"FROM {_quote(schema)}.{_quote(table)}"
    )
    count, checksum = rows[0]
    return int(count), int(checksum)


def table_checksums(server: _Executes, schema: str) -> dict[str, tuple[int, int]]:
    """``{table: (row count, checksum)}`` for every base table of ``schema``."""
    return {table: table_checksum(server, schema, table) for table in tables_of(server, schema)}


def rows_of(server: _Executes, full_name: str) -> list[tuple]:
    """Every row of ``schema.table`` as tuples (columns in table order), ordered by primary key."""
    schema, table = _split(full_name)
    order = ", ".join(_quote(c) for c in key_of(server, schema, table))
    return server.execute(f"SELECT * FROM {_quote(schema)}.{_quote(table)} ORDER BY {order}")


def diff_checksums(source: dict[str, tuple[int, int]], target: dict[str, tuple[int, int]]) -> list[str]:
    """The tables whose count or checksum differ (or that exist on one side only), sorted."""
    return sorted(t for t in set(source) | set(target) if source.get(t) != target.get(t))
