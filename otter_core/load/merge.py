"""Merge the events of one batch so that each table+key keeps exactly one event (otter's nine rules).

After merging, events on different keys are independent, so they can be loaded in any order and in
parallel. A primary-key change is first split into DELETE of the old key + INSERT of the new one.
"""
from __future__ import annotations

from typing import Iterable

import attrs

from otter_core.model import EventData, EventType

I, U, D = EventType.INSERT, EventType.UPDATE, EventType.DELETE

# (earlier, later) -> merged type.  I+I→I, I+U→I, I+D→D, U+I→I, U+U→U, U+D→D, D+I→I, D+U→U, D+D→D
MERGED_TYPE = {
    (I, I): I, (I, U): I, (I, D): D,
    (U, I): I, (U, U): U, (U, D): D,
    (D, I): I, (D, U): U, (D, D): D,
}


def split_key_change(event: EventData) -> list[EventData]:
    """An UPDATE that changed the key becomes DELETE(old key) + INSERT(new key, whole row)."""
    if event.event_type is not U or not event.pk_changed:
        return [event]
    delete = attrs.evolve(event, event_type=D, keys=dict(event.old_keys or {}), old_keys=None,
                          updated=frozenset())
    insert = attrs.evolve(event, event_type=I, old_keys=None, updated=frozenset())
    return [delete, insert]


def merge_pair(earlier: EventData, later: EventData) -> EventData:
    """Combine two events of the same table+key; the later image always wins."""
    merged_type = MERGED_TYPE[(earlier.event_type, later.event_type)]
    if merged_type is U and earlier.event_type is U:
        updated = earlier.updated | later.updated
    elif merged_type is U:  # D+U: the row was re-created outside our view; send every column
        updated = frozenset(later.columns)
    else:
        updated = frozenset()
    return attrs.evolve(later, event_type=merged_type, updated=updated, hints=earlier.hints | later.hints,
                        files=tuple(dict.fromkeys(earlier.files + later.files)))


def merge_events(events: Iterable[EventData]) -> list[EventData]:
    """Row events (no DDL) merged per (schema, table, key), in order of first appearance."""
    merged: dict[tuple, EventData] = {}
    for raw in events:
        for event in split_key_change(raw):
            ident = (event.schema, event.table, tuple(event.keys.values()))
            previous = merged.get(ident)
            merged[ident] = event if previous is None else merge_pair(previous, event)
    return list(merged.values())
