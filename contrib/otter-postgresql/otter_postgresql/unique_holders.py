"""Rows that hold an upsert's value of another UNIQUE index under another key, deleted before the
upserts (the PostgreSQL loader's part of otter_mysql.unique_conflicts' rule)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from otter_core.spi import LoadError
from otter_postgresql import dialect
from otter_postgresql.groups import Group, TargetTable

log = logging.getLogger("otter.load.postgresql")


def clear_unique_conflicts(
    cur: Any,
    groups: Sequence[Group],
    table: Callable[[str, str], TargetTable],
    two_way: bool,
    chunk_rows: int,
) -> None:
    """Delete the rows that hold an upsert's value of another UNIQUE index under another key, before
    the upserts: ``ON CONFLICT (key)`` would fail on them, and inside a batch a unique value can move
    from one row to another in an order that grouping and the pool's connections do not keep (see
    otter_mysql.unique_conflicts). Each such row is written again by its own event of the batch, or by
    the events that follow a replay. On a two-way channel a holder not written by this transaction
    stops the load with an error instead."""
    for g in groups:
        if g.kind != "UPSERT" or not g.rows:
            continue
        info = table(g.schema, g.table)
        for index, unique in info.unique:
            if set(unique) == set(g.keys) or not set(unique) <= set(g.columns):
                continue
            at = [g.columns.index(c) for c in unique]
            key_at = [g.columns.index(k) for k in g.keys]
            per = max(1, min(chunk_rows, dialect.MAX_PARAMETERS // len(at)))
            for start in range(0, len(g.rows), per):
                pairs = [
                    (tuple(row[i] for i in at), tuple(row[i] for i in key_at))
                    for row in g.rows[start : start + per]
                ]
                pairs = [(u, k) for u, k in pairs if None not in u]  # NULL never clashes
                if pairs:
                    _delete_holders(cur, g, index, unique, pairs, groups, two_way)


def _delete_holders(
    cur: Any,
    g: Group,
    index: str,
    unique: tuple[str, ...],
    pairs: list[tuple],
    groups: Sequence[Group],
    two_way: bool,
) -> None:
    own = {k: u for u, k in pairs}
    cur.execute(
        dialect.unique_holders_sql(g.schema, g.table, unique, g.keys, len(own)),
        [v for u in own.values() for v in u],
    )
    width = len(g.keys)
    # a value only the collation calls equal counts as held by another row: one delete more, never a wrong row
    holders = [
        tuple(row[:width]) for row in cur.fetchall() if own.get(tuple(row[:width])) != tuple(row[width:])
    ]
    if not holders:
        return
    if two_way:
        rewritten = {
            tuple(row[o.columns.index(k)] for k in o.keys)
            for o in groups
            if (o.schema, o.table) == (g.schema, g.table) and o.kind == "UPSERT"
            for row in o.rows
        }
        foreign = [h for h in holders if h not in rewritten]
        if foreign:
            shown = ", ".join(f"{k}={v!r:.80}" for k, v in zip(g.keys, foreign[0]))
            raise LoadError(
                f"table {g.schema}.{g.table}: the row with {shown} on this side holds a value of "
                f"unique index {index} that a row from the other side needs: both sides wrote the "
                f"same unique value under different keys. Change or delete one of the two rows"
            )
    cur.execute(dialect.delete_sql(g.schema, g.table, g.keys, len(holders)), [v for h in holders for v in h])
    log.info(
        "%s.%s: deleted %d row(s) holding a value of unique index %s that this batch gives to another "
        "row (their own changes rewrite them)",
        g.schema,
        g.table,
        len(holders),
        index,
    )
