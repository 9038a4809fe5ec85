"""The MySQL loader's pooled connections (``slot``s): one session per slot, set up as a replica applies
row events, with what the loader learned about it (packet limit, one-trip commit, multi-statement).

Mixed into ``MySQLLoader``: ``bulk_load`` and the tests reach the slots through it.
"""

from __future__ import annotations

from typing import Any

import pymysql
from attrs import define
from pymysql.constants import CLIENT

from otter_core.spi import DataMediaSource, LoadError
from otter_mysql import mysql_connect
from otter_mysql.load_plan import StatementGroup, mariadb_version
from otter_mysql.server_errors import close_quietly, error_code, error_kwargs, server_message

# What a MariaDB replica applies row events under (log_event_server.cc: MODE_NO_AUTO_VALUE_ON_ZERO only):
# zero dates and out-of-range values the source holds are accepted, 0 in an AUTO_INCREMENT column stays 0.
SESSION_SQL = "SET SESSION time_zone='+00:00', sql_mode='NO_AUTO_VALUE_ON_ZERO', foreign_key_checks=0"
CONNECT_OPTIONS = (
    "connect_timeout",
    "read_timeout",
    "write_timeout",
    "unix_socket",
    "ssl",
    "ssl_ca",
    "ssl_cert",
    "ssl_key",
    "ssl_verify_cert",
    "ssl_verify_identity",
)


def connect_arguments(target: DataMediaSource) -> dict[str, Any]:
    """PyMySQL's arguments for a loader connection to ``target``: its address and login, the connection
    options it sets (``CONNECT_OPTIONS``), UTF-8 unless it names another encoding, no autocommit."""
    t = target
    charset = t.encoding if t.encoding and t.encoding.lower() not in ("utf8", "utf-8") else "utf8mb4"
    kwargs: dict[str, Any] = {k: t.options[k] for k in CONNECT_OPTIONS if k in (t.options or {})}
    kwargs.setdefault("connect_timeout", 10)
    return dict(
        host=t.host,
        port=int(t.port),
        user=t.user,
        password=t.password,
        charset=charset,
        autocommit=False,
        max_allowed_packet=1 << 30,
        **kwargs,
    )


@define
class Slot:
    conn: Any
    max_packet: int
    blocks: bool = False  # the server runs ``BEGIN NOT ATOMIC … END`` (MariaDB 10.1.1+): one_trip
    last: StatementGroup | None = None  # the load's last group, whose last statement may commit
    committed: bool = False  # the load's transaction was committed by its last statement
    multi: bool = False  # a load's statements in one multi-statement query (otter_mysql.multi_statement)


class LoadSessions:
    """Opening, setting up and dropping the loader's pooled connections (mixed into ``MySQLLoader``)."""

    target: DataMediaSource
    multi: bool
    one_trip: bool
    mark: bool
    conflicts: Any
    update_join: bool
    _slots: list[Slot | None]
    _ensure_retl: Any

    def _connect(self) -> Any:
        t = self.target
        try:
            conn = mysql_connect.connect(
                **connect_arguments(t), client_flag=CLIENT.MULTI_STATEMENTS if self.multi else 0
            )
        except pymysql.Error as exc:
            raise LoadError(
                f"cannot connect to target {t.name} ({t.host}:{t.port} as {t.user}): "
                f"{server_message(exc)}; check host, port, user and password of the source "
                f"{t.name!r}",
                **error_kwargs(exc),
            ) from None
        try:
            with conn.cursor() as cur:
                cur.execute(SESSION_SQL)
        except BaseException:
            close_quietly(conn)
            raise
        return conn

    def _slot(self, slot: int) -> Slot:
        state = self._slots[slot]
        if state is None:
            conn = self._connect()
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT @@max_allowed_packet")
                    max_packet = int(cur.fetchone()[0])
                conn.commit()
                if self.mark or self.conflicts is not None:
                    self._ensure_retl(conn)
                if self.conflicts is not None or self.update_join:
                    self._read_committed(conn)
            except BaseException:
                close_quietly(conn)
                raise
            blocks = self.one_trip and mariadb_version(conn) >= (10, 1, 1)
            # MariaDB only: MySQL 8 warns (1287) on every upsert's VALUES(), and a warning redoes the load
            multi = self.multi and bool(mariadb_version(conn))
            state = self._slots[slot] = Slot(conn, max_packet, blocks, multi=multi)
        return state

    def _read_committed(self, conn: Any) -> None:
        """Row locks only: a lookup of a missing key (an UPDATE join, a conflict check) takes a gap lock
        under REPEATABLE READ, and the pool's other connections inserting into that gap deadlock with
        it. A target logging statements cannot write under READ COMMITTED: no UPDATE join there."""
        with conn.cursor() as cur:
            cur.execute("SELECT @@log_bin, @@binlog_format")
            log_bin, binlog_format = cur.fetchone()
            if self.conflicts is None and int(log_bin or 0) and str(binlog_format).upper() == "STATEMENT":
                self.update_join = False
                return
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")

    def _discard_or_rollback(self, slot: int, exc: BaseException) -> None:
        state = self._slots[slot]
        if state is None:
            return
        broken = (
            not isinstance(exc, Exception)
            or isinstance(exc, pymysql.err.InterfaceError)
            or (isinstance(exc, pymysql.err.OperationalError) and error_code(exc) >= 2000)
        )
        if not broken:
            try:
                state.conn.rollback()
            except Exception:
                broken = True
        if broken:
            close_quietly(state.conn)
            self._slots[slot] = None
