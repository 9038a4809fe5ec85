"""Transform: map source events onto target tables and columns (DataMediaPair, ColumnPair)."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import attrs

from otter_core.conflict_policy import policy_hint
from otter_core.engine.convert import convert_value
from otter_core.errors import DataError
from otter_core.model import DataMediaPair, EventData, EventType, Hint, Pipeline


def map_columns(pair: DataMediaPair, values: dict, event: EventData | None = None) -> dict:
    """Rename / include / exclude columns as the pair's ColumnPairs say, converting typed ones."""
    if not pair.column_pairs:
        return values
    if pair.column_mode == "exclude":
        excluded = {cp.source for cp in pair.column_pairs}
        return {k: v for k, v in values.items() if k not in excluded}
    out = {}
    for cp in pair.column_pairs:
        if cp.source not in values:
            continue
        value = values[cp.source]
        if cp.type is not None and event is not None:
            keys = ", ".join(f"{k}={v!r}" for k, v in event.keys.items())
            value = convert_value(cp.type, value, f"{event.full_name} ({keys}) column {cp.source}")
        out[cp.target] = value
    return out


def widen_to_groups(pair: DataMediaPair, updated: frozenset[str]) -> frozenset[str]:
    """ColumnGroups: when one column of a group changed, the whole group travels."""
    for group in pair.column_groups:
        if updated.intersection(group.columns):
            updated = updated | frozenset(group.columns)
    return updated


@functools.lru_cache(maxsize=4096)
def _target_name(pair: DataMediaPair, schema: str, table: str) -> tuple[str, str]:
    return pair.target_name(schema, table)


def transform_event(pair: DataMediaPair, event: EventData) -> EventData:
    if pair.column_groups and event.event_type is EventType.UPDATE:
        event = attrs.evolve(event, updated=widen_to_groups(pair, event.updated))
    schema, table = _target_name(pair, event.schema, event.table)
    if pair.conflict is not None and event.event_type is not EventType.DDL:  # the loader checks these rows
        event = attrs.evolve(event, hints=event.hints | {policy_hint(pair.conflict)})
    if event.event_type is EventType.DDL:
        renamed = (schema, table) != (event.schema, event.table)
        return attrs.evolve(
            event,
            schema=schema,
            table=table,
            hints=event.hints | ({Hint.RENAMED_FROM.of(event.full_name)} if renamed else set()),
        )
    if not pair.column_pairs and (schema, table) == (event.schema, event.table):
        return event
    keys = map_columns(pair, dict(event.keys), event)
    if len(keys) != len(event.keys):
        listed = {cp.source for cp in pair.column_pairs}
        lost = [k for k in event.keys if (k in listed) == (pair.column_mode == "exclude")]
        raise DataError(
            f"the columns of pair {pair.source} -> {pair.target} leave out key column(s) "
            f"{', '.join(lost)} of {event.full_name}: rows could not be identified on the target; "
            f"include every key column in the pair's columns",
            retryable=False,
        )
    columns = map_columns(pair, dict(event.columns), event)
    old_keys = map_columns(pair, dict(event.old_keys), event) if event.old_keys is not None else None
    updated = frozenset(map_columns(pair, {c: None for c in event.updated}))
    old_columns = map_columns(pair, dict(event.old_columns), event) if event.old_columns is not None else None
    return attrs.evolve(
        event,
        schema=schema,
        table=table,
        keys=keys,
        columns=columns,
        old_keys=old_keys,
        updated=updated,
        old_columns=old_columns,
    )


def transform(
    pipeline: Pipeline, extracted: Iterable[tuple[DataMediaPair, EventData]]
) -> list[tuple[str, int, EventData]]:
    """(target source name, push_weight, target event) for every extracted event.

    A row event of a pair that maps its table onto the same name without column pairs, groups or a
    conflict policy passes unchanged; that is decided once per pair and table of the batch (not per row: hashing the
    pair for the name cache cost more than the rest of Transform)."""
    out: list[tuple[str, int, EventData]] = []
    append = out.append
    ddl = EventType.DDL
    known: dict[tuple[int, str, str], tuple[str, int, bool]] = {}
    last_pair = last_schema = last_table = None  # a run of one rows event: recognised by identity
    target, weight, same = pipeline.target, 0, False
    for pair, event in extracted:
        if pair is not last_pair or event.schema is not last_schema or event.table is not last_table:
            last_pair, last_schema, last_table = pair, event.schema, event.table
            key = (id(pair), event.schema, event.table)
            info = known.get(key)
            if info is None:
                same = (
                    not pair.column_pairs
                    and not pair.column_groups
                    and pair.conflict is None
                    and _target_name(pair, event.schema, event.table) == (event.schema, event.table)
                )
                info = known[key] = (pair.target_source or pipeline.target, pair.push_weight, same)
            target, weight, same = info
        append(
            (target, weight, event if same and event.event_type is not ddl else transform_event(pair, event))
        )
    return out
