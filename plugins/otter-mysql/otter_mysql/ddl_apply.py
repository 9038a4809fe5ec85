"""How the MySQL loader applies a DDL event (mixed into ``MySQLLoader``): verbatim after ``USE`` of its
schema, in its own connection; recorded in ``retl_ddl`` first on a two-way channel (see otter_mysql.retl)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pymysql

from otter_core.spi import DataMediaSource, EventData, LoadError
from otter_mysql import fencing, retl
from otter_mysql.dialect import quote_ident
from otter_mysql.server_errors import close_quietly, error_kwargs, server_message
from otter_mysql.target_schema import TargetSchemaCache

log = logging.getLogger("otter.load")
# errors that mean "applied already" (a replay after a crash): logged and skipped
DDL_ALREADY_APPLIED = {1007, 1008, 1050, 1051, 1060, 1061, 1091, 1826}
ER_BAD_DB = 1049


class DdlApplying:
    """``apply_ddl`` of ``MySQLLoader``."""

    target: DataMediaSource
    dry_run: bool
    mark: bool
    channel: str
    _fence: tuple[str, int] | None
    _schemas: TargetSchemaCache
    _connect: Callable[[], Any]
    _ensure_retl: Callable[[Any], None]

    @property
    def _label(self) -> str:
        raise NotImplementedError  # MySQLLoader's

    def apply_ddl(self, event: EventData) -> None:
        """Run ``event.ddl_sql`` as is after ``USE`` of its schema; an error that means "already
        applied" (replay after a crash) is logged and ignored."""
        if not event.ddl_sql:
            log.warning("DDL event without statement ignored: %s", event.describe())
            return
        if self.dry_run:
            log.info("dry run: would apply DDL in %s: %s", quote_ident(event.schema or ""), event.ddl_sql)
            return
        conn = self._connect()
        note = ""
        recorded = None
        try:
            if self._fence is not None:  # DDL commits by itself: checked just before, not atomically
                with conn.cursor() as cur:
                    fencing.check(cur, self._label, *self._fence)
                conn.commit()
            if self.mark:  # the reverse selector skips the echo of this DDL (see otter_mysql.retl)
                self._ensure_retl(conn)
                recorded = retl.record_ddl(conn, event.schema, event.ddl_sql, self.channel)
            with conn.cursor() as cur:
                if event.schema:
                    try:
                        cur.execute("USE " + quote_ident(event.schema))
                    except pymysql.err.OperationalError as exc:
                        if exc.args[0] != ER_BAD_DB:
                            raise
                        note = f" (schema {quote_ident(event.schema)} does not exist on the target)"
                cur.execute(event.ddl_sql)
            conn.commit()
            if recorded is not None:
                retl.note_ddl_done(conn, recorded.digest, self.channel)
            log.info("applied DDL on %s: %s", event.full_name, event.ddl_sql)
        except pymysql.Error as exc:
            code = exc.args[0] if exc.args else None
            if recorded is not None:
                retl.forget_ddl(conn, recorded, self.target.name)
            if code in DDL_ALREADY_APPLIED:
                log.warning(
                    "DDL on %s already applied on target %s (error %s: %s), skipped: %s",
                    event.full_name,
                    self.target.name,
                    code,
                    server_message(exc),
                    event.ddl_sql,
                )
                return
            raise LoadError(
                f"DDL on target {self.target.name} table {event.full_name} failed: "
                f"{server_message(exc)}{note}; statement: {event.ddl_sql[:500]!r}",
                **error_kwargs(exc),
            ) from None
        finally:
            close_quietly(conn)
            self._schemas.invalidate(event.schema or None)  # no schema: forget every table
