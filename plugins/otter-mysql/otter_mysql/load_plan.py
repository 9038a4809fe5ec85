"""How the MySQL loader turns merged events into statements: groups of one statement shape each.

Deletes come first, then upserts, each group in first-seen order; a group's ``head``/``tail`` wrap the
comma-joined row literals of its events. Mixed into ``MySQLLoader`` (which has ``target``, ``field_mode``,
``update_join`` and ``_schemas``).

Field-mode UPDATEs of rows keyed by integer columns go to a MariaDB target as an UPDATE joined to a table
value constructor (``dialect.update_join_parts``): the target spends 30–40 % less CPU on it than on the
upsert (it parses the key and the changed columns only, and finds each row by key instead of failing an
insert first; ``bench/target_statements.py``). The upsert stays the group's ``fallback``: when the
UPDATE matches fewer rows than it carries (rows missing on the target), the chunk is upserted, so a
missing row is inserted whole, as before. Only for keys that are the target's primary key, of integer
columns: the join names the primary index (a scan of a small table would lock rows other load
connections write: deadlocks), and a join on strings of different collations may not use an index.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from attrs import define, field

from otter_core.spi import DataMediaSource, EventData, EventType, LoadError
from otter_mysql.bigrows import BIG_ROW_BYTES
from otter_mysql.conflicts import INSERT_ONLY
from otter_mysql.dialect import (
    build_delete,
    compiled,
    delete_parts,
    quote_ident,
    quote_table,
    update_join_parts,
    upsert_parts,
)
from otter_mysql.target_schema import TargetSchemaCache, TargetTable

log = logging.getLogger("otter.load")
statement_shapes = compiled("statement_shapes")  # the loop of ``_plan`` in C (None: not built)
MAX_SHAPES = 4096  # cached statement shapes (_group_for), all forgotten when more


@define
class StatementGroup:
    """Events sharing one statement shape; ``head``/``tail`` wrap the comma-joined row literals."""

    kind: str  # "UPSERT", "UPDATE" (a join, see the module docstring) or "DELETE"
    schema: str
    table: str
    columns: tuple[str, ...]
    head: str
    tail: str
    picks: tuple[int, ...] | None  # indices of the event values to write (None: all of them)
    events: list[EventData] = field(factory=list)
    fallback: StatementGroup | None = None  # UPDATE: the upsert for rows the join did not find


class StatementPlanning:
    """The loader's statement planning (mixed into ``MySQLLoader``)."""

    target: DataMediaSource
    field_mode: bool
    update_join: bool
    _schemas: TargetSchemaCache
    _shapes: dict[tuple, tuple[TargetTable, StatementGroup]]  # statement shape -> (table read, parts)

    def _plan(self, events: Sequence[EventData], conn: Any | None) -> list[StatementGroup]:
        """Group events by statement shape: deletes first, then upserts, in first-seen order."""
        field_mode = self.field_mode
        join = self.update_join and field_mode and conn is not None and _has_value_constructors(conn)
        if statement_shapes is not None:
            try:
                shapes = statement_shapes(
                    events,
                    field_mode,
                    join,
                    BIG_ROW_BYTES,
                    INSERT_ONLY,
                    EventType.DELETE,
                    EventType.INSERT,
                    EventType.UPDATE,
                )
            except ValueError:
                pass  # an event of another kind: the loop below names it
            else:
                made: tuple[list, list] = ([], [])  # upserts, deletes
                for is_delete, key, members in shapes:
                    made[is_delete].append(self._group_for(conn, key, members[0], members))
                return [*made[1], *made[0]]
        deletes: dict[tuple, StatementGroup] = {}
        upserts: dict[tuple, StatementGroup] = {}
        for ev in events:
            kind = ev.event_type
            if kind is EventType.DELETE:
                key = (ev.schema, ev.table, tuple(ev.keys))
                groups = deletes
            elif kind is EventType.INSERT or kind is EventType.UPDATE:
                upd = ev.updated if field_mode and kind is EventType.UPDATE else None
                insert_only = INSERT_ONLY in ev.hints
                key = (
                    ev.schema,
                    ev.table,
                    len(ev.keys),
                    (*ev.keys, *ev.columns),
                    upd,
                    insert_only,
                    join
                    and bool(upd)
                    and ev.old_keys is None
                    and not insert_only
                    and ev.size <= BIG_ROW_BYTES,
                )
                groups = upserts
            else:
                raise LoadError(
                    f"{ev.describe()}: a {kind.name} event cannot be loaded as a row; "
                    "DDL goes through apply_ddl"
                )
            found = groups.get(key)
            if found is None:
                found = groups[key] = self._group_for(conn, key, ev, [])
            found.events.append(ev)
        return [*deletes.values(), *upserts.values()]

    def _group_for(
        self, conn: Any | None, key: tuple, ev: EventData, events: list[EventData]
    ) -> StatementGroup:
        """A group of shape ``key`` holding ``events``; its statement parts made once per shape and target
        table description (``_shapes``): a merged OLTP batch gives each load a dozen groups, and making
        their parts again was half of ``_plan``'s time. A table read again (``TargetSchemaCache``: an
        unknown column, a refresh) is another object, and the parts are made again."""
        if conn is None:  # dry run: no target table
            group = self._make_group(conn, key, ev)
            group.events = events
            return group
        table = self._schemas.get(conn, ev.schema, ev.table)
        cached = self._shapes.get(key)
        if cached is None or cached[0] is not table:
            made = self._make_group(conn, key, ev)
            if len(self._shapes) >= MAX_SHAPES:
                self._shapes.clear()
            # the description after _make_group (it may refresh it): the one the parts were made from
            self._shapes[key] = cached = (self._schemas.get(conn, ev.schema, ev.table), made)
        t = cached[1]
        return StatementGroup(
            t.kind, t.schema, t.table, t.columns, t.head, t.tail, t.picks, events, t.fallback
        )

    def _make_group(self, conn: Any | None, key: tuple, ev: EventData) -> StatementGroup:
        keys = list(ev.keys)
        if ev.event_type is EventType.DELETE:
            if not keys:
                raise LoadError(
                    f"{ev.describe()}: DELETE without key columns cannot be applied; "
                    "give the table a primary key"
                )
            if conn is not None:
                self._check_columns(conn, ev, keys)
            head, tail = delete_parts(ev.schema, ev.table, keys)
            return StatementGroup("DELETE", ev.schema, ev.table, tuple(keys), head, tail, None)
        if key[6]:
            return self._update_join_group(conn, key, ev)
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

    def _update_join_group(self, conn: Any, key: tuple, ev: EventData) -> StatementGroup:
        """An UPDATE join of the key and the changed columns, the upsert as its fallback; the upsert
        alone unless the key is the target's primary key of integer columns and a writable column changed."""
        fallback = self._make_group(conn, key[:6] + (False,), ev)
        table = self._schemas.get(conn, ev.schema, ev.table)
        keys = list(ev.keys)
        update = [c for c in ev.columns if c in key[4] and c.lower() not in table.generated]
        if not update or {k.lower() for k in keys} != table.primary or not table.primary <= table.integers:
            return fallback
        names = [*keys, *ev.columns]
        picks = (*range(len(keys)), *(names.index(c) for c in update))
        head, tail = update_join_parts(ev.schema, ev.table, keys, update, table.narrow_charset, table.bits)
        return StatementGroup(
            "UPDATE", ev.schema, ev.table, (*keys, *update), head, tail, picks, fallback=fallback
        )

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
            raise LoadError(
                f"target table {name} does not exist on {self.target.name}: create it "
                f"(or replicate its DDL) or fix the pair's target name",
                retryable=False,
            )
        raise LoadError(
            f"target table {name} has no column {', '.join(map(quote_ident, missing))} "
            f"(needed by {ev.describe()}): add the column or map/exclude it in the pair",
            retryable=False,
        )

    def _log_dry_run(self, events: Sequence[EventData]) -> None:
        for group in self._plan(events, None):
            ev = group.events[0]
            if group.kind == "DELETE":
                sql, params = build_delete(
                    group.schema, group.table, group.columns, [tuple(ev.keys.values())]
                )
            else:
                sql = group.head + "(" + ",".join(["%s"] * len(group.columns)) + ")" + group.tail
                params = [*ev.keys.values(), *ev.columns.values()]
            log.info(
                "dry run: would %s %d row(s) on target %s, first key %s: %s",
                group.kind,
                len(group.events),
                self.target.name,
                dict(ev.keys),
                sql,
            )
            log.debug("dry run: first row parameters %r", params)


def _has_value_constructors(conn: Any) -> bool:
    """MariaDB 10.3.3+ (``VALUES (…),(…)`` after ``UNION ALL``); MySQL writes ``VALUES ROW(…)``."""
    return mariadb_version(conn) >= (10, 3, 3)


def mariadb_version(conn: Any) -> tuple[int, ...]:
    """The MariaDB server's version as ``(major, minor, patch)``; ``()`` for MySQL or what cannot be read."""
    version = getattr(conn, "server_version", "") or ""
    if "mariadb" not in version.lower():
        return ()
    if version.startswith("5.5.5-"):  # the prefix MariaDB before 11 sends to old replication clients
        version = version[6:]
    try:
        return tuple(int(p) for p in version.split("-")[0].split(".")[:3])
    except ValueError:
        return ()
