"""Administration of a MySQL/MariaDB source outside a running pipeline (hook ``otter_source_admin``):
``otter-run init-db`` creates ``retl``, ``otter-run position set --time`` maps a time to a binlog position,
and a connection check says which server answers."""

from __future__ import annotations

from typing import Any

import pymysql

from otter_core.spi import ConfigError, DataMediaSource, Position
from otter_mysql import mysql_connect, retl


class MySQLSourceAdmin:
    """Each call opens one connection as the source's user and closes it."""

    def __init__(self, source: DataMediaSource) -> None:
        self.source = source
        self.label = f"source {source.name} ({source.host}:{source.port})"

    def _connect(self, **extra: Any) -> Any:
        source = self.source
        try:
            return mysql_connect.connect(
                host=source.host,
                port=int(source.port),
                user=source.user,
                password=source.password,
                connect_timeout=10,
                charset="utf8mb4",
                **extra,
            )
        except pymysql.Error as exc:
            raise ConfigError(
                f"cannot connect to {self.label} as {source.user!r}: {exc.args[-1] if exc.args else exc}"
            ) from None

    def check_connection(self) -> str:
        conn = self._connect(read_timeout=10)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                row = cur.fetchone()
        finally:
            conn.close()
        return f"server {row[0] if row else 'of unknown version'}"

    def init_db(self) -> str:
        conn = self._connect()
        try:
            retl.ensure_tables(conn, self.label, ConfigError)
        finally:
            conn.close()
        return f"system schema `{retl.SCHEMA}` ready ({', '.join(sorted(retl.SYSTEM_TABLES))})"

    def position_at(self, when: float) -> Position:
        from otter_mysql.binlog_time import position_at

        return position_at(self.source, when)
