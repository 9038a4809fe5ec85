"""The selector's statement (QueryEvent) handling: BEGIN/COMMIT, DDL, and statement-format changes.

Mixed into ``MySQLSelector``: a DDL refreshes the schema cache and the table maps of what it changed,
is skipped when our channel's loader applied it here (two-way echo), and otherwise joins the transaction
as a DDL chunk when it names a matched table.
"""

from __future__ import annotations

from typing import Any

from otter_core.spi import EventType, SourceError
from otter_mysql import ddl


class StatementEvents:
    """Query events of the binlog (mixed into ``MySQLSelector``, which has the attributes used here)."""

    label: str
    schema: Any
    loopback: Any
    _stream: Any
    _codecs: dict
    _chunks: list
    _in_tx: bool
    _tx_size: int
    _on_commit: Any
    _is_matched: Any
    history: Any
    _save_history: Any

    def _on_query(self, query: str, default: str, log_pos: int, timestamp: int) -> None:
        """A Query event: ``default`` is its session's current schema, ``log_pos`` where it ends."""
        head = query.lstrip()[:9].upper()
        if head.startswith("BEGIN"):
            self._in_tx = True
            return
        if head.startswith(("COMMIT", "ROLLBACK")) and not head.startswith("ROLLBACK "):
            self._on_commit(log_pos, timestamp)
            return
        stmt = ddl.parse(query, default)
        if stmt.kind == "dml":
            if any(self._is_matched(s, t) for s, t in stmt.tables):
                raise SourceError(
                    f"{self.label}: a statement-format change of {stmt.tables[0][0]}."
                    f"{stmt.tables[0][1]} is in the binlog ({query[:80]!r}); every writer must "
                    f"use binlog_format=ROW (check sessions that SET binlog_format)",
                    retryable=False,
                )
        elif stmt.kind in ("table", "database", "other"):
            self._on_ddl(stmt, query, default, log_pos, timestamp)
        if not self._in_tx:
            self._on_commit(log_pos, timestamp)

    def _on_ddl(self, stmt: ddl.Statement, query: str, default: str, log_pos: int, timestamp: int) -> None:
        stream = self._stream
        if stream is not None and self.history.on_ddl(query, default, (stream.log_file, log_pos)):
            self._save_history()
        if stmt.kind == "database":
            self.schema.invalidate(stmt.database)
        elif stmt.kind == "table":
            for schema, table in stmt.tables:
                self.schema.invalidate(schema, table)
        else:
            self.schema.invalidate()

        # table ids may survive DDL: forget the table maps (mysql-replication's freeze_schema would keep
        # them) and decoders of what changed
        def gone(schema: str, table: str) -> bool:
            if stmt.kind == "table":
                return (schema, table) in stmt.tables
            if stmt.kind == "database":
                return schema == stmt.database
            return not self._in_tx

        table_map = stream.table_map if stream is not None else {}
        for table_id in [i for i, t in table_map.items() if gone(t.schema, t.table)]:
            del table_map[table_id]
            self._codecs.pop(table_id, None)
        matched = [(s, t) for s, t in stmt.tables if s and self._is_matched(s, t)]
        if self.loopback.is_echo(default, query):
            return  # our channel's loader applied it here: do not send it back
        if matched:
            schema, table = matched[0]
            self._chunks.append((None, schema, table, EventType.DDL, float(timestamp), query))
            self._tx_size += len(query)
