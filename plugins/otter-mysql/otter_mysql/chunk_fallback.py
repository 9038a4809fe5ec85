"""The MySQL loader's chunk sending after the statement: the UPDATE join's upsert for rows it missed, and
the plain statement for a chunk whose optimised statement the target refused.

Mixed into ``MySQLLoader``. An UPDATE join the target refuses (any server error, or values it stored
changed) is sent again as the upsert of its rows; a refused multi-row upsert or delete as one statement
per row, so a row that still fails is the one the error names. The failed statement left nothing
applied (the server undoes a failed statement), and the plain one writes the same columns with the same
values, so the chunk ends the same without a savepoint round trip per chunk.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pymysql

from otter_core.spi import DataMediaSource, EventData, LoadError, Pipeline
from otter_mysql.dialect import quote_table
from otter_mysql.load_plan import StatementGroup
from otter_mysql.server_errors import error_code, server_message
from otter_mysql.target_schema import TargetSchemaCache
from otter_mysql.unique_conflicts import clear_unique_conflicts

if TYPE_CHECKING:
    from otter_mysql.load_session import Slot as _Slot
    from otter_mysql.statement_path import Progress as _Progress

log = logging.getLogger("otter.load")

ER_UNKNOWN_COLUMN = 1054
ER_DUP_ENTRY = 1062
ER_LOCK_WAIT_TIMEOUT = 1205
ER_LOCK_DEADLOCK = 1213
# server errors after which a refused multi-row statement is not sent again as plain statements: the
# transaction is gone (deadlock) or the plain ones would wait the same (lock wait), or ``_apply`` handles
# them (unknown column); client errors (2000-2999: the connection) are not either
_NO_FALLBACK = frozenset({ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, ER_UNKNOWN_COLUMN})
_MATCHED = re.compile(rb"Rows matched: (\d+)")


class ChangedValues(LoadError):
    """The target stored other values than the ones sent (``MySQLLoader._changed_values``)."""


class ChunkFallback:
    """Sending one chunk's statement, with its fallbacks (mixed into ``MySQLLoader``)."""

    target: DataMediaSource
    pipeline: Pipeline
    conflicts: Any
    _schemas: TargetSchemaCache
    _fallbacks_logged: set[tuple[str, str, str]]
    _execute: Any
    _send_group: Any

    def _send_chunk(
        self,
        cur: Any,
        state: _Slot,
        slot: int,
        group: StatementGroup,
        sql: str | bytes,
        chunk: Sequence[EventData],
        at: _Progress,
    ) -> None:
        at.group, at.first, at.rows = group, chunk[0], len(chunk)
        try:
            self._execute(cur, state, slot, sql, group, chunk)
        except (pymysql.Error, ChangedValues) as exc:
            if not self._falls_back(group, chunk, exc):
                raise
            # a refused statement left nothing applied (the server undoes a failed statement; a
            # deadlock or lock wait, which end more than the statement, are not caught here); the plain
            # statement writes the same columns with the same values, so the chunk ends the same
            self._log_fallback(group, exc)
            if group.fallback is not None:
                self._upsert_instead(cur, state, slot, group, chunk, at)
            else:  # a multi-row statement: its rows one by one, the failing one is named
                for ev in chunk:
                    self._send_group(cur, state, slot, group, (ev,), at, compiled=False)
            return
        if group.fallback is not None and rows_matched(cur) != len(chunk):
            # an UPDATE join found fewer rows than it updates (missing on the target, or a server
            # that does not report matches): upsert the chunk's whole rows, as without the join
            self._upsert_instead(cur, state, slot, group, chunk, at)

    def _upsert_instead(
        self,
        cur: Any,
        state: _Slot,
        slot: int,
        group: StatementGroup,
        chunk: Sequence[EventData],
        at: _Progress,
    ) -> None:
        """The UPDATE join's chunk as upserts of whole rows; whole rows write every unique column, so
        their holders are cleared first."""
        clear_unique_conflicts(
            cur,
            self._schemas.get(state.conn, group.schema, group.table),
            chunk,
            {tuple(ev.keys.values()) for ev in chunk} if self.pipeline.two_way else None,
        )
        self._send_group(cur, state, slot, group.fallback, chunk, at)

    def _falls_back(self, group: StatementGroup, chunk: Sequence[EventData], exc: BaseException) -> bool:
        """Whether a refused optimised statement (an UPDATE join, a multi-row statement) is sent again as
        the plain statement: not for errors that end the transaction or the connection, nor for those
        the caller handles (an unknown column re-reads the table, a duplicate under conflict checks)."""
        if group.fallback is None and len(chunk) < 2:
            return False  # already the plain statement: the caller names the row
        if isinstance(exc, ChangedValues):
            return group.fallback is not None  # an upsert's warning names its row already
        code = error_code(exc)
        if code < 0 or 2000 <= code < 3000 or code in _NO_FALLBACK:  # 2000-2999: the client's own
            return False
        return not (code == ER_DUP_ENTRY and self.conflicts is not None)

    def _log_fallback(self, group: StatementGroup, exc: BaseException) -> None:
        """Once per statement kind and table: which statement the target refused, and why."""
        seen = (group.kind, group.schema, group.table)
        if seen in self._fallbacks_logged:
            return
        self._fallbacks_logged.add(seen)
        plain = "upserts" if group.fallback is not None else "one statement per row"
        cause = str(exc) if isinstance(exc, ChangedValues) else server_message(exc)
        log.warning(
            "target %s: a multi-row %s into %s was refused (%s); its rows are sent as %s instead "
            "(logged once per table)",
            self.target.name,
            "UPDATE join" if group.kind == "UPDATE" else group.kind,
            quote_table(group.schema, group.table),
            cause,
            plain,
        )


def rows_matched(cur: Any) -> int | None:
    """ "Rows matched" of the last UPDATE, from the OK packet's info ("Rows matched: 3  Changed: 1 …")."""
    return matched_rows(getattr(getattr(cur, "_result", None), "message", None))


def matched_rows(info: bytes | None) -> int | None:
    """ "Rows matched" in an UPDATE's OK packet info text; None when it has none."""
    found = _MATCHED.search(info or b"")
    return int(found.group(1)) if found else None
