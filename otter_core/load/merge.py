"""Merge the events of one batch so that each table+key keeps exactly one event (otter's nine rules).

After merging, events on different keys are independent, so they can be loaded in any order and in
parallel. A primary-key change is first split into DELETE of the old key + INSERT of the new one.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

import attrs

from otter_core.model import EventData, EventType, Hint

I, U, D = EventType.INSERT, EventType.UPDATE, EventType.DELETE  # noqa: E741  -- the letters of the rule table below
# conflict detection (see ``Hint``): expects no row on the target / also accepts none
ABSENT_BEFORE, ABSENT_OK = Hint.ABSENT_BEFORE, Hint.ABSENT_OK
_FIELD_NAMES = tuple(f.name for f in attrs.fields(EventData))
_FIELDS = operator.attrgetter(*_FIELD_NAMES)  # every field, in the constructor's order, in one C call
_TYPE, _UPDATED, _HINTS, _FILES = map(_FIELD_NAMES.index, ("event_type", "updated", "hints", "files"))
# the constructor takes every field positionally, in order (else ``_with`` falls back to attrs.evolve)
_POSITIONAL = all(f.init and not f.kw_only for f in attrs.fields(EventData))

# (earlier, later) -> merged type.  I+I→I, I+U→I, I+D→D, U+I→I, U+U→U, U+D→D, D+I→I, D+U→U, D+D→D
MERGED_TYPE = {
    (I, I): I,
    (I, U): I,
    (I, D): D,
    (U, I): I,
    (U, U): U,
    (U, D): D,
    (D, I): I,
    (D, U): U,
    (D, D): D,
}


def split_key_change(event: EventData) -> list[EventData]:
    """An UPDATE that changed the key becomes DELETE(old key) + INSERT(new key, whole row)."""
    if event.event_type is not U or not event.pk_changed:
        return [event]
    delete = attrs.evolve(
        event, event_type=D, keys=dict(event.old_keys or {}), old_keys=None, updated=frozenset()
    )
    insert = attrs.evolve(event, event_type=I, old_keys=None, updated=frozenset(), old_columns=None)
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
    hints = earlier.hints | later.hints if earlier.hints else later.hints
    files = tuple(dict.fromkeys(earlier.files + later.files)) if earlier.files or later.files else ()
    if earlier.old_columns is not None or later.old_columns is not None:  # conflict detection is on
        return _expected_before(earlier, later, _with(later, merged_type, updated, hints, files))
    if merged_type is later.event_type and updated == later.updated and not files and hints == later.hints:
        # U+D, D+I, I+I, D+D (and U+U within the later's columns): the later event is the merged one as
        # it is (events are immutable), no copy; the OLTP chain U, U, D, I of one key builds one event
        return later
    return _with(later, merged_type, updated, hints, files)


def _with(
    event: EventData, event_type: EventType, updated: frozenset[str], hints: frozenset[str], files: tuple
) -> EventData:
    """``event`` with these fields replaced, built by the constructor with positional arguments (what
    ``attrs.evolve`` does after reading each field by name and passing them all as keywords, ~3x slower)."""
    if not _POSITIONAL:
        return attrs.evolve(event, event_type=event_type, updated=updated, hints=hints, files=files)
    values = list(_FIELDS(event))
    values[_TYPE], values[_UPDATED], values[_HINTS], values[_FILES] = event_type, updated, hints, files
    return EventData(*values)


def _expected_before(earlier: EventData, later: EventData, merged: EventData) -> EventData:
    """The target state the merged event expects: the one ``earlier`` expected, unless the source's row
    changed between the two outside this stream (a loopback write the selector dropped: the other side's
    version); then the one ``later`` expected."""
    continuous = _after(earlier) == _before(later)
    expected = _before(earlier) if continuous else _before(later)
    hints = merged.hints - {ABSENT_BEFORE, ABSENT_OK}
    if (continuous and (earlier.event_type is D or ABSENT_OK in earlier.hints)) or ABSENT_OK in later.hints:
        hints = hints | {ABSENT_OK}
    if expected is None:  # no row
        return attrs.evolve(
            merged, old_columns=None, hints=hints if merged.event_type is I else hints | {ABSENT_BEFORE}
        )
    return attrs.evolve(merged, old_columns=expected, hints=hints)


def _before(event: EventData) -> dict | None:
    """The row (non-key columns) ``event`` expects on the target before it; None: no row."""
    if ABSENT_BEFORE in event.hints or (event.event_type is I and event.old_columns is None):
        return None
    return dict(event.old_columns if event.old_columns is not None else event.columns)


def _after(event: EventData) -> dict | None:
    return None if event.event_type is D else dict(event.columns)


def merge_events(events: Iterable[EventData]) -> list[EventData]:
    """Row events (no DDL) merged per (schema, table, key), in order of first appearance."""
    merged: dict[tuple, EventData] = {}
    first = merged.setdefault  # one dict operation for a key's first event (the common case)
    for raw in events:
        if raw.old_keys is not None:  # a key change, maybe: split_key_change's list
            for event in split_key_change(raw):
                ident = (event.schema, event.table, *event.keys.values())
                previous = first(ident, event)
                if previous is not event:
                    merged[ident] = merge_pair(previous, event)
            continue
        ident = (raw.schema, raw.table, *raw.keys.values())
        previous = first(ident, raw)
        if previous is raw:
            continue
        if (
            raw.event_type is not U
            and not raw.updated
            and not previous.hints
            and not previous.files
            and not raw.files
            and previous.old_columns is None
            and raw.old_columns is None
        ):
            # an INSERT or DELETE after anything (sysbench's DELETE + INSERT of one id): merge_pair's
            # result is the later event as it is; without its call and rule lookup
            merged[ident] = raw
        else:
            merged[ident] = merge_pair(previous, raw)
    return list(merged.values())
