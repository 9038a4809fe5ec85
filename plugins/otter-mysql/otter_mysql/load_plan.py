"""How the MySQL loader turns merged events into statements: groups of one statement shape each.

Deletes come first, then upserts, each group in first-seen order; a group's ``head``/``tail`` wrap the
comma-joined row literals of its events. Mixed into ``MySQLLoader`` (which has ``target``, ``field_mode``
and ``_schemas``).
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

from attrs import define, field

from otter_core.errors import LoadError
from otter_core.model import DataMediaSource, EventData, EventType
from otter_mysql.conflicts import INSERT_ONLY
from otter_mysql.dialect import build_delete, delete_parts, quote_ident, quote_table, upsert_parts
from otter_mysql.target_schema import TargetSchemaCache, TargetTable

log = logging.getLogger("otter.load")


@define
class StatementGroup:
    """Events sharing one statement shape; ``head``/``tail`` wrap the comma-joined row literals."""

    kind: str                    # "UPSERT" or "DELETE"
    schema: str
    table: str
    columns: tuple[str, ...]
    head: str
    tail: str
    picks: tuple[int, ...] | None  # indices of the event values to write (None: all of them)
    events: list[EventData] = field(factory=list)


class StatementPlanning:
    """The loader's statement planning (mixed into ``MySQLLoader``)."""

    target: DataMediaSource
    field_mode: bool
    _schemas: TargetSchemaCache

    def _plan(self, events: Sequence[EventData], conn: Any | None) -> list[StatementGroup]:
        """Group events by statement shape: deletes first, then upserts, in first-seen order."""
        deletes: dict[tuple, StatementGroup] = {}
        upserts: dict[tuple, StatementGroup] = {}
        field_mode = self.field_mode
        for ev in events:
            kind = ev.event_type
            if kind is EventType.DELETE:
                key = (ev.schema, ev.table, tuple(ev.keys))
                groups = deletes
            elif kind is EventType.INSERT or kind is EventType.UPDATE:
                upd = ev.updated if field_mode and kind is EventType.UPDATE else None
                key = (ev.schema, ev.table, len(ev.keys), (*ev.keys, *ev.columns), upd, INSERT_ONLY in ev.hints)
                groups = upserts
            else:
                raise LoadError(f"{ev.describe()}: a {kind.name} event cannot be loaded as a row; "
                                "DDL goes through apply_ddl")
            group = groups.get(key)
            if group is None:
                group = groups[key] = self._make_group(conn, key, ev)
            group.events.append(ev)
        return [*deletes.values(), *upserts.values()]

    def _make_group(self, conn: Any | None, key: tuple, ev: EventData) -> StatementGroup:
        keys = list(ev.keys)
        if ev.event_type is EventType.DELETE:
            if not keys:
                raise LoadError(f"{ev.describe()}: DELETE without key columns cannot be applied; "
                                "give the table a primary key")
            if conn is not None:
                self._check_columns(conn, ev, keys)
            head, tail = delete_parts(ev.schema, ev.table, keys)
            return StatementGroup("DELETE", ev.schema, ev.table, tuple(keys), head, tail, None)
        columns = keys + list(ev.columns)
        picks = None
        if conn is not None:
            table = self._check_columns(conn, ev, columns)
            if table.generated:
                kept = [i for i, c in enumerate(columns) if c.lower() not in table.generated]
                if len(kept) != len(columns):
                    picks = tuple(kept)
                    columns = [columns[i] for i in kept]
                    keys = [k for k in keys if k.lower() not in table.generated]
        upd = key[4]
        key_set = set(keys)
        nonkey = [c for c in columns if c not in key_set]
        update = nonkey if upd is None else [c for c in nonkey if c in upd]
        head, tail = upsert_parts(ev.schema, ev.table, columns, keys, update)
        if key[5]:  # checked absent under READ COMMITTED: a row inserted since makes it fail (and retry)
            tail = ""
        return StatementGroup("UPSERT", ev.schema, ev.table, tuple(columns), head, tail, picks)

    def _check_columns(self, conn: Any, ev: EventData, columns: list[str]) -> TargetTable:
        """The target table; refreshed once when it seems to lack a column, then LoadError."""
        for refresh in (False, True):
            table = self._schemas.get(conn, ev.schema, ev.table, refresh=refresh)
            known = table.writable | table.generated
            missing = [c for c in columns if c.lower() not in known]
            if not missing:
                return table
        name = quote_table(ev.schema, ev.table)
        if not table.exists:
            raise LoadError(f"target table {name} does not exist on {self.target.name}: create it "
                            f"(or replicate its DDL) or fix the pair's target name")
        raise LoadError(
            f"target table {name} has no column {', '.join(map(quote_ident, missing))} "
            f"(needed by {ev.describe()}): add the column or map/exclude it in the pair")

    def _log_dry_run(self, events: Sequence[EventData]) -> None:
        for group in self._plan(events, None):
            ev = group.events[0]
            if group.kind == "DELETE":
                sql, params = build_delete(group.schema, group.table, group.columns,
                                           [tuple(ev.keys.values())])
            else:
                sql = group.head + "(" + ",".join(["%s"] * len(group.columns)) + ")" + group.tail
                params = [*ev.keys.values(), *ev.columns.values()]
            log.info("dry run: would %s %d row(s) on target %s, first key %s: %s",
                     group.kind, len(group.events), self.target.name, dict(ev.keys), sql)
            log.debug("dry run: first row parameters %r", params)
