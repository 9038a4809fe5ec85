"""Whole tables in key order on MySQL/MariaDB: snapshot chunks, watermarks, checksums, resync requests.

Ranges are keyset conditions (``lower < key <= upper``) written so that the server can use the key's index
for any number of key columns; every value is bound as a parameter. Checksums are computed by the server:
each row's columns as binary text (NULL told apart) hashed with MD5, the first 64 bits XOR-ed over the rows,
so the result does not depend on row order and only rows (not the network) leave the server when a chunk
differs.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Sequence
from typing import Any

import pymysql

from otter_core.spi import DataError, DataMediaSource, Position, SourceError
from otter_mysql import bulk_load, bulk_read, checks, signals
from otter_mysql.dialect import quote_ident, quote_table
from otter_mysql.row_reader import CHUNK, MySQLRowReader

_SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
_INTEGERS = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year", "bit"}


def range_condition(key: Sequence[str], lower: tuple | None, upper: tuple | None) -> tuple[str, list[Any]]:
    """``lower < key <= upper`` as SQL with placeholders: ``k1 >= a AND (k1 > a OR (k1 = a AND k2 > b))``;
    the leading ``k1 >= a`` lets the optimizer take a range on the key's index."""
    names = [quote_ident(k) for k in key]
    parts: list[str] = []
    args: list[Any] = []
    for bound, lead, strict, last in ((lower, ">=", ">", ">"), (upper, "<=", "<", "<=")):
        if bound is None:
            continue
        if len(bound) != len(names):
            raise ValueError(f"a bound of {len(bound)} value(s) for a key of {len(names)} column(s)")
        alternatives = []
        args.append(bound[0])
        for i in range(len(names)):
            terms = [f"{names[j]} = %s" for j in range(i)]
            terms.append(f"{names[i]} {last if i == len(names) - 1 else strict} %s")
            alternatives.append("(" + " AND ".join(terms) + ")")
            args.extend(bound[: i + 1])
        parts.append(f"{names[0]} {lead} %s AND (" + " OR ".join(alternatives) + ")")
    return (" AND ".join(parts) or "1=1"), args


def checksum_expression(columns: Sequence[str], floats: frozenset[str] | set[str] = frozenset()) -> str:
    """The order-independent 64-bit checksum of ``columns`` over a set of rows (see the module doc);
    ``floats`` (FLOAT columns) are taken as DOUBLE, whose text is exact (see ``_select_list``)."""
    values = [f"CAST({quote_ident(c)} AS DOUBLE)" if c in floats else quote_ident(c) for c in columns]
    parts = ", ".join(f"IFNULL(CONCAT('v', CAST({v} AS BINARY)), 'N')" for v in values)
    return f"IFNULL(BIT_XOR(CAST(CONV(LEFT(MD5(CONCAT_WS('#', {parts})), 16), 16, 10) AS UNSIGNED)), 0)"


class MySQLTableReader(MySQLRowReader):
    """``otter_core.contracts.TableReader`` for MySQL/MariaDB (sources and targets)."""

    def __init__(self, source: DataMediaSource) -> None:
        super().__init__(source)
        self.label = f"{source.name} ({source.host}:{source.port})"
        self._signals_ready: set[str] = set()

    def _connect(self) -> Any:
        return bulk_read.fast_reads(super()._connect())  # chunks are parsed in C (bulk_read)

    def _cursor(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn.cursor()

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        try:
            with self._cursor() as cur:
                cur.execute(sql, tuple(args))
                return bulk_read.result_rows(cur)
        except pymysql.err.OperationalError as exc:
            self.close()  # a broken connection is reopened by the next call
            raise SourceError(f"{self.label}: {exc.args[-1]} (statement: {sql[:160]})") from None
        except pymysql.err.ProgrammingError as exc:
            raise SourceError(
                f"{self.label}: {exc.args[-1]} (statement: {sql[:160]})", retryable=False
            ) from None

    # -- what a table is -------------------------------------------------------------------------
    def tables(self) -> list[tuple[str, str]]:
        marks = ", ".join(["%s"] * len(_SYSTEM_SCHEMAS))
        rows = self._query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = "
            f"'BASE TABLE' AND TABLE_SCHEMA NOT IN ({marks}) ORDER BY 1, 2",
            _SYSTEM_SCHEMAS,
        )
        return [(s, t) for s, t in rows]

    def key_columns(self, schema: str, table: str) -> tuple[str, ...]:
        return tuple(self._schemas.get(schema, table).key)

    def columns(self, schema: str, table: str) -> tuple[str, ...]:
        info = self._schemas.get(schema, table)
        return tuple(c.name for c in info.columns if not c.generated)

    def estimate_rows(self, schema: str, table: str) -> int:
        rows = self._query(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (schema, table),
        )
        return int(rows[0][0] or 0) if rows else 0

    def average_row_bytes(self, schema: str, table: str) -> int:
        """The table statistics' average row length (InnoDB samples it; BLOB pages included); 0: unknown.
        The initial load bounds a chunk of wide rows by it (``snapshot_plan.chunk_limit``)."""
        rows = self._query(
            "SELECT AVG_ROW_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (schema, table),
        )
        return int(rows[0][0] or 0) if rows else 0

    # -- reading ---------------------------------------------------------------------------------
    def read_range(
        self,
        schema: str,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        lower: tuple | None,
        upper: tuple | None,
        limit: int | None,
        where: str | None = None,
    ) -> list[tuple]:
        condition, args = range_condition(key, lower, upper)
        if where:
            condition += f" AND ({where})"
        sql = (
            f"SELECT {self._select_list(schema, table, columns)} FROM {quote_table(schema, table)} "
            f"WHERE {condition} ORDER BY {', '.join(map(quote_ident, key))}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._query(sql, args)

    def read_range_packed(
        self,
        schema: str,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        lower: tuple | None,
        limit: int,
    ) -> bulk_load.PackedChunk | list[tuple]:
        """``read_range`` for the initial load's bulk path: a ``bulk_load.PackedChunk`` when the rows came
        as packets and every column has an exact text form, else the rows (the row path)."""
        info = self._schemas.get(schema, table)
        lits = bulk_load.literal_kinds([info.by_name[c] for c in columns])
        if lits is None or bulk_load.SQL_ROWS is None:
            return self.read_range(schema, table, columns, key, lower, None, limit)
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        conn.otter_packets_only = True  # the rows are not parsed here: the loader reads the packets
        try:
            rows = self.read_range(schema, table, columns, key, lower, None, limit)
        finally:
            conn.otter_packets_only = False
        return bulk_load.packed_chunk(rows, lits)

    def _floats(self, schema: str, table: str) -> set[str]:
        return {c.name for c in self._schemas.get(schema, table).columns if c.data_type == "float"}

    def _select_list(self, schema: str, table: str, columns: Sequence[str]) -> str:
        """``columns`` as a SELECT list. The server writes a FLOAT as text with 6 significant digits
        (16777217 as 16777200, 3.4028235e38 as 3.40282e+38): read as DOUBLE, the value is exact, and a
        FLOAT column given it stores the same float again."""
        floats = self._floats(schema, table)
        return ", ".join(
            f"CAST({quote_ident(c)} AS DOUBLE)" if c in floats else quote_ident(c) for c in columns
        )

    def nth_key(
        self, schema: str, table: str, key: Sequence[str], lower: tuple | None, n: int
    ) -> tuple | None:
        condition, args = range_condition(key, lower, None)
        names = ", ".join(map(quote_ident, key))
        rows = self._query(
            f"SELECT {names} FROM {quote_table(schema, table)} WHERE {condition} ORDER BY {names} "
            f"LIMIT 1 OFFSET {max(0, int(n) - 1)}",
            args,
        )
        return tuple(rows[0]) if rows else None

    def chunk_checksum(
        self,
        schema: str,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        lower: tuple | None,
        upper: tuple | None,
    ) -> tuple[int, int]:
        condition, args = range_condition(key, lower, upper)
        rows = self._query(
            f"SELECT COUNT(*), {checksum_expression(columns, self._floats(schema, table))} "
            f"FROM {quote_table(schema, table)} "
            f"WHERE {condition}",
            args,
        )
        return int(rows[0][0]), int(rows[0][1])

    def read_keys(
        self, schema: str, table: str, columns: Sequence[str], key: Sequence[str], keys: Sequence[tuple]
    ) -> list[tuple]:
        select = self._select_list(schema, table, columns)
        key_sql = ", ".join(map(quote_ident, key))
        one = "(" + ", ".join(["%s"] * len(key)) + ")"
        out: list[tuple] = []
        unique = list(dict.fromkeys(tuple(k) for k in keys))
        for start in range(0, len(unique), CHUNK):
            part = unique[start : start + CHUNK]
            out.extend(
                self._query(
                    f"SELECT {select} FROM {quote_table(schema, table)} WHERE ({key_sql}) IN "
                    f"({', '.join([one] * len(part))})",
                    [v for k in part for v in k],
                )
            )
        return out

    def parse_key(self, schema: str, table: str, texts: Sequence[str]) -> dict[str, Any]:
        info = self._schemas.get(schema, table)
        if len(texts) != len(info.key):
            raise DataError(
                f"{schema}.{table} has {len(info.key)} key column(s) ({', '.join(info.key)}) but the "
                f"resync request gives {len(texts)} value(s) {list(texts)!r}; join key values with "
                f"CHAR(1) in key order",
                retryable=False,
            )
        out = {}
        for name, text in zip(info.key, texts):
            column = info.by_name[name]
            try:
                out[name] = _typed(column.data_type, column.is_binary, text)
            except (ValueError, ArithmeticError) as exc:
                raise DataError(
                    f"{schema}.{table} key column {name} ({column.column_type}) cannot hold the resync "
                    f"value {text!r}: {exc}",
                    retryable=False,
                ) from None
        return out

    def log_position(self) -> Position | None:
        if self._conn is None:
            self._conn = self._connect()
        file, pos = checks.master_status(self._conn, self.label)
        return Position(file, pos)

    # -- writing signals -------------------------------------------------------------------------
    def _ensure(self, table: str) -> None:
        if table not in self._signals_ready:
            if self._conn is None:
                self._conn = self._connect()
            signals.ensure_tables(self._conn, f"source {self.label}", SourceError, (table,))
            self._signals_ready.add(table)

    def write_watermark(self, signal_id: str, value: str) -> None:
        self._ensure(signals.SIGNAL_TABLE)
        self._write(signals.WATERMARK_SQL, (signal_id, value))

    def request_resync(self, full_name: str, kind: str, keys: Sequence[Sequence[str]]) -> int:
        if not keys:
            return 0
        self._ensure(signals.BUFFER_TABLE)
        args: list[Any] = []
        for key in keys:
            args += [full_name, kind, signals.PK_SEPARATOR.join(str(v) for v in key)]
        self._write(signals.buffer_rows_sql(len(keys)), args)
        return len(keys)

    def _write(self, sql: str, args: Sequence[Any]) -> None:
        try:
            with self._cursor() as cur:
                cur.execute(sql, tuple(args))
        except pymysql.Error as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            if code in (1142, 1044, 1227):
                raise SourceError(
                    f"source {self.label}: user {self.source.user!r} may not write to `retl` "
                    f"({exc.args[-1]}); GRANT SELECT, INSERT, UPDATE, DELETE ON `retl`.* to it (the "
                    f"initial load and resync write their signals there)",
                    retryable=False,
                ) from None
            self.close()
            raise SourceError(f"source {self.label}: writing to `retl` failed: {exc.args[-1]}") from None


def _typed(data_type: str, binary: bool, text: str) -> Any:
    """A key value from its text, typed as PyMySQL returns that column type."""
    if data_type in _INTEGERS:
        return int(text)
    if data_type in ("decimal", "numeric"):
        return decimal.Decimal(text)
    if data_type in ("float", "double", "real"):
        return float(text)
    if data_type == "date":
        return datetime.date.fromisoformat(text)
    if data_type in ("datetime", "timestamp"):
        return datetime.datetime.fromisoformat(text)
    if data_type == "time":
        sign = -1 if text.startswith("-") else 1
        hours, minutes, seconds = text.lstrip("-").split(":")
        return sign * datetime.timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))
    if binary and data_type in ("binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob"):
        return text.encode("utf-8")
    return text
