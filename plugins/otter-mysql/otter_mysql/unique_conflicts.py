"""Rows that stand in the way of an upsert on a UNIQUE key other than the one rows are identified by.

``INSERT … ON DUPLICATE KEY UPDATE`` fires on *any* unique key. Inside one batch a value of a secondary
UNIQUE key can move from one row to another (row 1 gives up code 5, row 2 takes it). Merging, grouping by
statement shape and loading partitions on several connections do not keep the source's order, so row 2's
insert can reach the target while row 1 still holds code 5: the server would then update row 1 with
row 2's values, and row 2 would be lost without an error.

Before such upserts the loader finds, under lock, the target rows that hold one of the batch's unique
values under another key, and deletes them: what MariaDB's own replica does in idempotent mode. Each
such row either has its own event in the batch (it is written again, whole, with its final values) or,
when a replay met a target that is ahead, gets it from the events that follow. On a two-way channel a
holder that the batch does not rewrite is a row written on this side: that is a conflict between the two
sides, and the load stops with an error that names both rows instead of deleting it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from otter_core.spi import EventData, LoadError
from otter_mysql.dialect import literal, literal_row, quote_ident, quote_table
from otter_mysql.load_plan import StatementGroup
from otter_mysql.target_schema import TargetTable, UniqueKey

log = logging.getLogger("otter.load")
CHUNK_ROWS = 1000


def clear_before_upserts(
    cur: Any, table_of: Callable[[str, str], TargetTable], groups: Sequence[StatementGroup], two_way: bool
) -> None:
    """Before a transaction's upserts: clear the holders of every group's unique values (``table_of``
    gives a target table's cached description). On a two-way channel the keys the transaction writes in
    a table are the ones whose holders may go."""
    for group in groups:
        if group.kind == "DELETE" or not group.events:
            continue
        table = table_of(group.schema, group.table)
        if not table.other_unique_keys(group.events[0].keys):
            continue
        rewritten = (
            {
                tuple(ev.keys.values())
                for g in groups
                if (g.schema, g.table) == (group.schema, group.table)
                for ev in g.events
            }
            if two_way
            else None
        )
        # an UPDATE join (it has a fallback) sets the changed columns only
        clear_unique_conflicts(cur, table, group.events, rewritten, changed_only=group.fallback is not None)


def clear_unique_conflicts(
    cur: Any,
    table: TargetTable,
    events: Sequence[EventData],
    rewritten: set[tuple] | None = None,
    changed_only: bool = False,
) -> int:
    """Delete the rows of ``table`` that hold a unique value of ``events`` (upserts of one table, one key
    shape) under another key; return how many. On a two-way channel ``rewritten`` holds the keys the
    transaction writes in that table: a holder outside it raises ``LoadError`` instead. ``changed_only``
    (an UPDATE join, which sets the changed columns only) looks at the events that change the key's
    columns: the others do not write it."""
    if not events:
        return 0
    key_names = list(events[0].keys)
    deleted = 0
    for unique in table.other_unique_keys(key_names):
        writers = events
        if changed_only:
            writers = [ev for ev in events if any(c.lower() in unique.names for c in ev.updated)]
        for start in range(0, len(writers), CHUNK_ROWS):
            chunk = writers[start : start + CHUNK_ROWS]
            holders = _holders(cur, table, unique, key_names, chunk)
            if not holders:
                continue
            if rewritten is not None:
                _refuse_foreign_holders(table, unique, key_names, rewritten, holders)
            where = ",".join(literal_row(row) for row in holders)
            cur.execute(
                f"DELETE FROM {quote_table(table.schema, table.name)} WHERE "
                f"({','.join(quote_ident(k) for k in key_names)}) IN ({where})"
            )
            deleted += len(holders)
            log.info(
                "%s.%s: deleted %d row(s) holding a value of unique key %s that this batch gives to "
                "another row (their own changes rewrite them)",
                table.schema,
                table.name,
                len(holders),
                unique.name,
            )
    return deleted


def _holders(
    cur: Any, table: TargetTable, unique: UniqueKey, key_names: list[str], events: Sequence[EventData]
) -> list[tuple]:
    """Keys of the target rows, locked, that hold one of ``events``' values of ``unique`` and are not
    the row that event writes with that very value. A value that only the server's collation calls
    equal (case, trailing spaces, a prefix) counts as held by another row: that row is deleted and,
    when it is one of ``events``, written again whole; never a wrong row, at worst one delete more."""
    if not events:
        return []
    columns = _value_columns(unique, events[0])
    if columns is None:
        return []  # a unique column the events do not carry: nothing to compare
    own: dict[tuple, tuple] = {}
    for ev in events:
        values = tuple(_value(ev, name) for name, _ in columns)
        if None not in values:  # NULL never conflicts
            own[tuple(ev.keys.values())] = values
    if not own:
        return []
    prefixed = any(prefix is not None for _, prefix in columns)
    if prefixed:
        values_in = ",".join(
            "(" + ",".join(_indexed(literal(v), p) for v, (_, p) in zip(values, columns)) + ")"
            for values in own.values()
        )
    else:
        values_in = ",".join(literal_row(values) for values in own.values())
    indexed = ",".join(_indexed(quote_ident(name), prefix) for name, prefix in columns)
    keys = ",".join(quote_ident(k) for k in key_names)
    cur.execute(
        f"SELECT {keys},{','.join(quote_ident(name) for name, _ in columns)} "
        f"FROM {quote_table(table.schema, table.name)} WHERE ({indexed}) IN ({values_in}) FOR UPDATE"
    )
    width = len(key_names)
    return [tuple(row[:width]) for row in cur.fetchall() if own.get(tuple(row[:width])) != tuple(row[width:])]


def _value_columns(unique: UniqueKey, ev: EventData) -> list[tuple[str, int | None]] | None:
    """The unique key's columns under the events' own spelling, or None when one is not carried."""
    carried = {name.lower(): name for name in (*ev.keys, *ev.columns)}
    columns = []
    for name, prefix in unique.columns:
        if name not in carried:
            return None
        columns.append((carried[name], prefix))
    return columns


def _value(ev: EventData, name: str) -> Any:
    return ev.columns[name] if name in ev.columns else ev.keys.get(name)


def _indexed(sql: str, prefix: int | None) -> str:
    """The part of a value a prefix index compares (``LEFT``), or the value."""
    return sql if prefix is None else f"LEFT({sql},{int(prefix)})"


def _refuse_foreign_holders(
    table: TargetTable, unique: UniqueKey, key_names: list[str], rewritten: set[tuple], holders: list[tuple]
) -> None:
    foreign = [h for h in holders if h not in rewritten]
    if foreign:
        shown = ", ".join(f"{k}={v!r:.80}" for k, v in zip(key_names, foreign[0]))
        raise LoadError(
            f"table {table.schema}.{table.name}: the row with {shown} on this side holds a value of unique "
            f"key {unique.name} that a row from the other side needs: both sides wrote the same unique "
            f"value under different keys. Change or delete one of the two rows on either side; the load "
            f"retries and goes on",
            retryable=True,
        )
