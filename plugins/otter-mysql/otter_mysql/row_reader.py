"""Back-query for MySQL/MariaDB sources: the current rows of a table by key (``sync_consistency: media``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pymysql

from otter_core.spi import DataMediaSource, SourceError
from otter_mysql import mysql_connect
from otter_mysql.dialect import quote_ident, quote_table
from otter_mysql.schema import SchemaCache
from otter_mysql.server_errors import error_kwargs

CHUNK = 500


class MySQLRowReader:
    """``otter_core.contracts.RowReader``: SELECT … WHERE key IN (…) on the source, values bound."""

    def __init__(self, source: DataMediaSource) -> None:
        self.source = source
        self._conn: Any = None
        self._schemas = SchemaCache(self._connect, label=source.name)

    def _connect(self) -> Any:
        s = self.source
        try:
            conn = mysql_connect.connect(
                host=s.host,
                port=int(s.port),
                user=s.user,
                password=s.password,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=10,
            )
        except pymysql.Error as exc:
            raise SourceError(
                f"cannot connect to source {s.name} ({s.host}:{s.port} as {s.user}) to read rows "
                f"back: {exc.args[-1] if exc.args else exc}; check host, port, user and password",
                **error_kwargs(exc),  # a wrong password (1045) stops at once; a refused connection retries
            ) from None
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone='+00:00'")  # TIMESTAMPs as the selector and loader see them
        return conn

    def fetch(
        self, schema: str, table: str, keys: Sequence[Mapping[str, Any]]
    ) -> dict[tuple, dict[str, Any]]:
        info = self._schemas.get(schema, table).require_key()
        columns = [c.name for c in info.columns if not c.generated]
        key_names = list(info.key)
        # the server writes a FLOAT as text with 6 digits (16777217's float as 16777200): read as DOUBLE
        floats = {c.name for c in info.columns if c.data_type == "float"}
        select = ", ".join(
            f"CAST({quote_ident(c)} AS DOUBLE) AS {quote_ident(c)}" if c in floats else quote_ident(c)
            for c in columns
        )
        key_sql = ", ".join(quote_ident(k) for k in key_names)
        one = "(" + ", ".join(["%s"] * len(key_names)) + ")"
        rows: dict[tuple, dict[str, Any]] = {}
        unique = list(dict.fromkeys(tuple(k[n] for n in key_names) for k in keys))
        if self._conn is None:
            self._conn = self._connect()
        with self._conn.cursor() as cur:
            for start in range(0, len(unique), CHUNK):
                chunk = unique[start : start + CHUNK]
                sql = (
                    f"SELECT {select} FROM {quote_table(schema, table)} "
                    f"WHERE ({key_sql}) IN ({', '.join([one] * len(chunk))})"
                )
                cur.execute(sql, [v for key in chunk for v in key])
                for values in cur.fetchall():
                    row = dict(zip(columns, values))
                    rows[tuple(row[k] for k in key_names)] = row
        return rows

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a broken connection must not hide anything
                pass
            self._conn = None
        self._schemas.close()
