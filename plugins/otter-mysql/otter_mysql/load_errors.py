"""The MySQL loader's error messages: a value the target stored changed (the warnings check), and a
failed load naming its table, statement kind and the row or chunk's key.

Mixed into ``MySQLLoader``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pymysql

from otter_core.spi import DataMediaSource, EventData, LoadError, Pipeline
from otter_mysql.chunk_fallback import ER_DUP_ENTRY, ChangedValues
from otter_mysql.dialect import quote_table
from otter_mysql.load_plan import StatementGroup
from otter_mysql.server_errors import DATA_WARNINGS, data_warnings, error_code, error_kwargs, server_message
from otter_mysql.target_schema import TargetSchemaCache


class PacketTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} > {limit}")
        self.size, self.limit = size, limit


class LoadErrors:
    """Turning what the target said into the loader's errors (mixed into ``MySQLLoader``)."""

    target: DataMediaSource
    pipeline: Pipeline
    conflicts: Any
    _schemas: TargetSchemaCache

    def _check_warnings(self, cur: Any, conn: Any, group: StatementGroup, rows: Sequence[EventData]) -> None:
        """Raise ``ChangedValues`` when the last statement stored a value changed (``data_warnings``; no
        query when the statement had no warning)."""
        changed = data_warnings(cur, lambda: self._schemas.get(conn, group.schema, group.table).generated)
        if changed:
            raise self._changed_values(group, rows, changed)

    def _changed_values(
        self, group: StatementGroup, rows: Sequence[EventData], changed: list[tuple[int, str, int | None]]
    ) -> ChangedValues:
        """The target stored other values than the source's: its columns differ. Rolled back; deterministic
        like any refused value, so the pipeline stops; with ``skip_load_exception`` the rows are tried one
        by one and the ones the target would change go to the reject log."""
        code, message, row = changed[0]
        # an UPSERT's or DELETE's "row N" is the N-th row of the statement; an UPDATE join counts otherwise
        ev = rows[row - 1] if row and group.kind != "UPDATE" and row <= len(rows) else rows[0]
        key = ", ".join(f"{k}={v!r:.80}" for k, v in ev.keys.items())
        which = "row with key" if ev is not rows[0] or len(rows) == 1 else "chunk starting at key"
        more = f" (and {len(changed) - 1} more warning(s))" if len(changed) > 1 else ""
        return ChangedValues(
            f"target {self.target.name}: {group.kind} into {quote_table(group.schema, group.table)} ({which} "
            f"{key}): {DATA_WARNINGS[code]}: ({code}) {message}{more}; rolled back. The target's column cannot "
            f"hold the source's value: widen it (type, length, character set, NULL), or map or exclude the "
            f"column in the pair, then start the pipeline again (it resumes at the acked position); "
            f"`skip_load_exception: true` sends such rows to the reject log instead",
            retryable=False,
        )

    def _load_error(
        self,
        group: StatementGroup | None,
        first: EventData | None,
        current: EventData | None,
        exc: BaseException,
        rows: int = 0,
    ) -> LoadError:
        where = f"{group.kind} into {quote_table(group.schema, group.table)}" if group else "loading"
        sent = isinstance(exc, (pymysql.Error, PacketTooLarge))
        at = first if sent else current  # a value that cannot be written names its own row
        key = ", ".join(f"{k}={v!r:.80}" for k, v in at.keys.items()) if at else "?"
        if isinstance(exc, PacketTooLarge):
            cause = (
                f"one row needs a statement of at least {exc.size} bytes but the server's "
                f"max_allowed_packet is {exc.limit}: raise max_allowed_packet on the target"
            )
        elif isinstance(exc, pymysql.Error):
            cause = server_message(exc)
        else:
            cause = f"{type(exc).__name__}: {exc}"
        what = "chunk starting at key" if sent and rows != 1 else "row with key"
        kind = {"retryable": False} if isinstance(exc, PacketTooLarge) else error_kwargs(exc)
        if error_code(exc) in (ER_DUP_ENTRY, 1586) and (self.conflicts is not None or self.pipeline.two_way):
            # a row the other side's application wrote between our check (or clearing) and our write: a
            # race a replay can win; only in one-way does a duplicate repeat on every replay
            kind = {"retryable": True, "transient": self.conflicts is not None}
        return LoadError(
            f"target {self.target.name}: {where} failed ({what} {key}); rolled back: {cause}", **kind
        )
