"""What the loader needs to know about a target table: its writable, generated and integer columns, its
UNIQUE keys and its character columns that are not utf8mb4.

Read from ``information_schema.COLUMNS`` and ``STATISTICS`` and cached per table; the loader drops an entry after DDL and
when the server reports an unknown column.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from attrs import frozen

# EXTRA values of columns that cannot be written (MySQL 5.7+/8, MariaDB 10.2+, system versioning)
_NOT_WRITABLE = ("VIRTUAL GENERATED", "STORED GENERATED", "PERSISTENT GENERATED", "ROW START", "ROW END")

_INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})
_COLUMNS_SQL = (
    "SELECT COLUMN_NAME, EXTRA, DATA_TYPE, COLUMN_KEY, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s ORDER BY ORDINAL_POSITION"
)
_UNIQUE_SQL = (
    "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s AND NON_UNIQUE=0 ORDER BY INDEX_NAME, SEQ_IN_INDEX"
)


@frozen
class UniqueKey:
    """One UNIQUE index (the primary key too): its name and, per column, the lower-case name and the
    indexed prefix length (None: the whole value)."""

    name: str
    columns: tuple[tuple[str, int | None], ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(c for c, _ in self.columns)


@frozen
class TargetTable:
    """Columns of one target table, keyed by lower-case name (MySQL column names ignore case)."""

    schema: str
    name: str
    writable: frozenset[str]  # lower-case names
    generated: frozenset[str]  # lower-case names
    integers: frozenset[str] = frozenset()  # lower-case names of integer columns (join keys, see load_plan)
    primary: frozenset[str] = frozenset()  # lower-case names of the primary key's columns
    unique_keys: tuple[UniqueKey, ...] = ()  # every UNIQUE index, PRIMARY included
    # lower-case names of character columns (CHAR, TEXT, ENUM, SET…) in another character set than
    # utf8mb4: the UPDATE join reads them converted to utf8mb4 (``dialect.update_join_parts``)
    narrow_charset: frozenset[str] = frozenset()
    bits: frozenset[str] = frozenset()  # lower-case names of BIT columns (read as numbers by the join)

    def other_unique_keys(self, key_columns: Iterable[str]) -> tuple[UniqueKey, ...]:
        """The UNIQUE keys other than the one rows are identified by (``key_columns``, any case)."""
        identity = frozenset(c.lower() for c in key_columns)
        return tuple(k for k in self.unique_keys if k.names != identity)

    @property
    def exists(self) -> bool:
        return bool(self.writable or self.generated)


def read_target_table(conn: Any, schema: str, table: str) -> TargetTable:
    """Read one table's columns with an open PyMySQL connection (a missing table has none)."""
    with conn.cursor() as cur:
        cur.execute(_COLUMNS_SQL, (schema, table))
        rows = cur.fetchall()
    writable: set[str] = set()
    generated: set[str] = set()
    integers: set[str] = set()
    primary: set[str] = set()
    narrow: set[str] = set()
    bits: set[str] = set()
    for name, extra, data_type, column_key, charset in rows:
        extra = (extra or "").upper()
        (generated if any(g in extra for g in _NOT_WRITABLE) else writable).add(name.lower())
        if (data_type or "").lower() in _INTEGER_TYPES:
            integers.add(name.lower())
        if column_key == "PRI":
            primary.add(name.lower())
        if charset and charset.lower() not in ("utf8mb4", "binary"):
            narrow.add(name.lower())
        if (data_type or "").lower() == "bit":
            bits.add(name.lower())
    return TargetTable(
        schema,
        table,
        frozenset(writable),
        frozenset(generated),
        frozenset(integers),
        frozenset(primary),
        read_unique_keys(conn, schema, table) if rows else (),
        frozenset(narrow),
        frozenset(bits),
    )


def read_unique_keys(conn: Any, schema: str, table: str) -> tuple[UniqueKey, ...]:
    with conn.cursor() as cur:
        cur.execute(_UNIQUE_SQL, (schema, table))
        rows = cur.fetchall()
    keys: dict[str, list[tuple[str, int | None]]] = {}
    for index_name, column, sub_part in rows:
        keys.setdefault(index_name, []).append((column.lower(), int(sub_part) if sub_part else None))
    return tuple(UniqueKey(name, tuple(columns)) for name, columns in keys.items())


class TargetSchemaCache:
    """Thread-safe cache of ``TargetTable`` by (schema, table)."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], TargetTable] = {}
        self._lock = threading.Lock()

    def get(self, conn: Any, schema: str, table: str, refresh: bool = False) -> TargetTable:
        key = (schema, table)
        found = None if refresh else self._tables.get(key)
        if found is None:
            found = read_target_table(conn, schema, table)
            with self._lock:
                self._tables[key] = found
        return found

    def invalidate(self, schema: str | None = None, table: str | None = None) -> None:
        """Forget one table, every table of a schema (``table`` None) or everything (both None)."""
        with self._lock:
            if schema is None:
                self._tables.clear()
            else:
                for key in [k for k in self._tables if k[0] == schema and (table is None or k[1] == table)]:
                    del self._tables[key]
