"""A table-schema cache read from ``information_schema`` (shared by the selector and the loader).

The binlog (with the server default ``binlog_row_metadata=MINIMAL``/``NO_LOG``) carries neither column
names nor signedness, charsets or ENUM/SET labels; this cache supplies them by ordinal position. It also
chooses the key a row is identified by: the primary key, else the smallest UNIQUE key whose columns are
all NOT NULL (and not prefixes).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from otter_core.spi import SourceError

_GENERATED = re.compile(r"\b(VIRTUAL|STORED|PERSISTENT)\s+GENERATED\b", re.I)
_QUOTED = re.compile(r"'((?:[^'\\]|''|\\.)*)'", re.S)
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


def parse_enum_values(column_type: str) -> tuple[str, ...]:
    """The labels of ``enum('a','b''c')`` / ``set(...)`` as information_schema spells them."""
    if not column_type.lower().startswith(("enum(", "set(")):
        return ()
    return tuple(
        re.sub(r"''|\\(.)", lambda m: _ESCAPES.get(m[1], m[1]) if m[1] else "'", raw)
        for raw in _QUOTED.findall(column_type[column_type.index("(") :])
    )


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """One column as information_schema describes it."""

    name: str
    ordinal: int  # 0-based position in the row image
    data_type: str  # lower-case DATA_TYPE: int, varchar, enum, ...
    column_type: str  # full COLUMN_TYPE: "int(10) unsigned", "enum('a','b')"
    unsigned: bool = False
    charset: str | None = None  # CHARACTER_SET_NAME; None for non-character types
    nullable: bool = True
    generated: bool = False  # VIRTUAL or STORED generated column
    values: tuple[str, ...] = ()  # ENUM / SET labels in definition order

    @property
    def is_binary(self) -> bool:
        """True when the value is a byte string (BINARY/VARBINARY/BLOB/GEOMETRY, or charset binary)."""
        return self.charset in (None, "binary")


@dataclass(frozen=True, slots=True)
class TableSchema:
    """A table's columns in ordinal order and its identifying key."""

    schema: str
    name: str
    columns: tuple[ColumnInfo, ...]
    key: tuple[str, ...] = ()  # key column names in key order; () when the table has none
    key_name: str | None = None  # "PRIMARY" or the unique index used
    by_name: dict[str, ColumnInfo] = field(default_factory=dict, compare=False, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def data_columns(self) -> tuple[str, ...]:
        """Non-key, non-generated column names in ordinal order (what EventData.columns holds)."""
        keys = set(self.key)
        return tuple(c.name for c in self.columns if not c.generated and c.name not in keys)

    def require_key(self, where: str = "") -> TableSchema:
        """Return self, or raise SourceError when the table has no usable key."""
        if not self.key:
            raise SourceError(
                f"table {self.full_name}{where} has no primary key and no UNIQUE key whose columns are all "
                f"NOT NULL; add a primary key (or a unique not-null key) so its rows can be synchronised",
                retryable=False,
            )
        return self


def choose_key(
    by_name: dict[str, ColumnInfo], indexes: dict[str, tuple[bool, list[tuple[str, int | None]]]]
) -> tuple[tuple[str, ...], str | None]:
    """The row key: the primary key, else the smallest UNIQUE key whose columns are all NOT NULL, not
    generated and not prefixes. ``indexes``: name -> (unique, [(column, prefix length or None)])."""
    if "PRIMARY" in indexes:
        return tuple(c for c, _ in indexes["PRIMARY"][1]), "PRIMARY"
    candidates = []
    for index_name, (unique, parts) in indexes.items():
        infos = [by_name.get(c) for c, _ in parts]
        if (
            unique
            and all(i is not None and not i.nullable and not i.generated for i in infos)
            and all(sub is None for _, sub in parts)
        ):
            candidates.append((len(parts), index_name, tuple(c for c, _ in parts)))
    if not candidates:
        return (), None
    _, key_name, key = min(candidates)
    return key, key_name


def index_map(stats: list[tuple]) -> dict[str, tuple[bool, list[tuple[str, int | None]]]]:
    """STATISTICS rows (index, non_unique, seq, column, sub_part) -> name -> (unique, parts in order)."""
    indexes: dict[str, tuple[bool, list[tuple[str, int | None]]]] = {}
    for index_name, non_unique, _, col, sub_part in sorted(stats, key=lambda s: (s[0], int(s[2]))):
        indexes.setdefault(index_name, (not int(non_unique), []))[1].append((col, sub_part))
    return indexes


def column_infos(cols: list[tuple]) -> list[ColumnInfo]:
    """ColumnInfo of COLUMNS rows (name, data_type, column_type, charset, nullable, extra) in order."""
    columns = []
    for i, (name, data_type, column_type, charset, nullable, extra) in enumerate(cols):
        data_type = (data_type or "").lower()
        columns.append(
            ColumnInfo(
                name=name,
                ordinal=i,
                data_type=data_type,
                column_type=column_type or "",
                unsigned="unsigned" in (column_type or "").lower(),
                charset=charset,
                nullable=nullable == "YES",
                generated=bool(_GENERATED.search(extra or "")),
                values=parse_enum_values(column_type or "") if data_type in ("enum", "set") else (),
            )
        )
    return columns


def _build(schema: str, table: str, cols: list[tuple], stats: list[tuple]) -> TableSchema:
    columns = column_infos(cols)
    by_name = {c.name: c for c in columns}
    key, key_name = choose_key(by_name, index_map(stats))
    return TableSchema(schema, table, tuple(columns), key, key_name, by_name)


_COLUMNS_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, "
    "IS_NULLABLE, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s{extra} "
    "ORDER BY TABLE_NAME, ORDINAL_POSITION"
)
_STATS_SQL = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART "
    "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s{extra}"
)


class SchemaCache:
    """Thread-safe cache of ``TableSchema`` by (schema, table), loaded lazily through ``connect()``.

    ``connect`` returns a new PyMySQL connection (autocommit); the cache keeps one open and reopens it
    once after an error. ``label`` (e.g. "source db1 (host:port)") is used in error messages.
    """

    def __init__(self, connect: Callable[[], Any], label: str = "") -> None:
        self._connect = connect
        self._label = label
        self._conn: Any = None
        self._lock = threading.RLock()
        self._tables: dict[tuple[str, str], TableSchema | None] = {}
        self._loaded_schemas: set[str] = set()

    # -- queries -----------------------------------------------------------------------------------
    def _query(self, sql: str, args: Iterable[Any]) -> list[tuple]:
        for attempt in (0, 1):
            try:
                if self._conn is None:
                    self._conn = self._connect()
                with self._conn.cursor() as cur:
                    cur.execute(sql, tuple(args))
                    return list(cur.fetchall())
            except Exception:
                self._drop_conn()
                if attempt:
                    raise
        return []  # pragma: no cover

    def _drop_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _load(self, schema: str, table: str | None) -> None:
        extra, args = ("", [schema]) if table is None else (" AND TABLE_NAME = %s", [schema, table])
        cols: dict[str, list[tuple]] = {}
        for row in self._query(_COLUMNS_SQL.format(extra=extra), args):
            cols.setdefault(row[1], []).append(row[2:])
        stats: dict[str, list[tuple]] = {}
        for row in self._query(_STATS_SQL.format(extra=extra), args):
            stats.setdefault(row[1], []).append(row[2:])
        if table is not None:
            self._tables[(schema, table)] = (
                _build(schema, table, cols[table], stats.get(table, [])) if table in cols else None
            )
            return
        for key in [k for k in self._tables if k[0] == schema]:
            del self._tables[key]
        for name, columns in cols.items():
            self._tables[(schema, name)] = _build(schema, name, columns, stats.get(name, []))
        self._loaded_schemas.add(schema)

    # -- public API --------------------------------------------------------------------------------
    def preload(self, schemas: Iterable[str]) -> None:
        """Load every table of ``schemas`` in two queries each (faster than table by table)."""
        with self._lock:
            for schema in schemas:
                self._load(schema, None)

    def find(self, schema: str, table: str) -> TableSchema | None:
        """The table's schema, or None when it does not exist (a keyless table is returned as is)."""
        with self._lock:
            key = (schema, table)
            if key not in self._tables and schema not in self._loaded_schemas:
                self._load(schema, table)
            return self._tables.get(key)

    def get(self, schema: str, table: str) -> TableSchema:
        """The table's schema; SourceError when it does not exist or has no usable key."""
        found = self.find(schema, table)
        where = f" on {self._label}" if self._label else ""
        if found is None:
            raise SourceError(f"table {schema}.{table} does not exist{where}", retryable=False)
        return found.require_key(where)

    def tables(self) -> list[tuple[str, str]]:
        """(schema, table) of every base table outside the system schemas."""
        with self._lock:
            rows = self._query(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = "
                "'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', "
                "'performance_schema', 'sys')",
                (),
            )
            return [(s, t) for s, t in rows]

    def invalidate(self, schema: str | None = None, table: str | None = None) -> None:
        """Forget one table, one schema (table None) or everything (both None); reloaded on next use."""
        with self._lock:
            if schema is None:
                self._tables.clear()
                self._loaded_schemas.clear()
                return
            self._loaded_schemas.discard(schema)
            for key in [k for k in self._tables if k[0] == schema and (table is None or k[1] == table)]:
                del self._tables[key]

    refresh = invalidate

    def close(self) -> None:
        with self._lock:
            self._drop_conn()
