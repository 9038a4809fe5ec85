"""Back-query (``sync_consistency: media``): replace logged row images with the rows as they are now.

Loading the current row instead of an old image lets a lagging pipeline skip intermediate states, and is
how the two-way remedy makes the home side win. A row that no longer exists keeps its logged event, or
is dropped and written to the reject log when ``skip_no_row`` is set.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence

import attrs

from otter_core.contracts import RowReader
from otter_core.model import EventData, EventType, Hint
from otter_core.rejects import RejectLog

log = logging.getLogger("otter.extract")


def remedy(
    reader: RowReader, events: Sequence[EventData], threshold: float, now: float | None = None
) -> list[EventData]:
    """The single-direction loopback remedy: send back every row a remedy event touched, as home has it.

    A change younger than ``threshold`` seconds (``remedy_delay_threshold``, age = now minus its commit
    time at home) goes back with its logged image (BASE), written whole (every column, even in field
    mode); an older one is re-read from home (MEDIA): the whole current row as an INSERT (upsert), or a
    DELETE when the row is gone. A primary-key change re-reads (or deletes) the old key too, so the far
    side never keeps the old key's row.
    """
    now = time.time() if now is None else now
    stale: dict[tuple[str, str], list] = defaultdict(list)
    for event in events:
        if (
            Hint.REMEDY in event.hints
            and event.event_type is not EventType.DDL
            and now - event.execute_time > threshold
        ):
            stale[(event.schema, event.table)].append(event.keys)
            if event.pk_changed:
                stale[(event.schema, event.table)].append(event.old_keys)
    current = {table: reader.fetch(table[0], table[1], keys) for table, keys in stale.items()}
    out = []
    for event in events:
        if Hint.REMEDY not in event.hints or event.event_type is EventType.DDL:
            out.append(event)
        elif (event.schema, event.table) not in current or now - event.execute_time <= threshold:
            out.append(_whole_row(event))
        else:
            rows = current[(event.schema, event.table)]
            if event.old_keys is not None and event.pk_changed:
                out.append(_as_home_has_it(attrs.evolve(event, keys=event.old_keys, old_keys=None), rows))
            out.append(_as_home_has_it(event, rows))
    return out


def _whole_row(event: EventData) -> EventData:
    if event.event_type is EventType.UPDATE:
        return attrs.evolve(event, updated=frozenset(event.columns))
    return event


def _as_home_has_it(event: EventData, rows: dict[tuple, dict]) -> EventData:
    row = rows.get(tuple(event.keys.values()))
    hints = event.hints | {Hint.REREAD}
    if row is None:
        return attrs.evolve(
            event,
            event_type=EventType.DELETE,
            updated=frozenset(),
            old_keys=None,
            old_columns=None,
            hints=hints,
        )
    columns = {name: value for name, value in row.items() if name not in event.keys}
    return attrs.evolve(
        event,
        event_type=EventType.INSERT,
        columns=columns,
        old_keys=None,
        updated=frozenset(columns),
        old_columns=None,
        hints=hints,
    )


def back_query(
    reader: RowReader, events: Sequence[EventData], skip_no_row: bool, rejects: RejectLog | None
) -> list[EventData]:
    wanted: dict[tuple[str, str], list[EventData]] = defaultdict(list)
    for event in events:
        if event.event_type in (EventType.INSERT, EventType.UPDATE):
            wanted[(event.schema, event.table)].append(event)
    current: dict[tuple[str, str], dict[tuple, dict]] = {
        table: reader.fetch(table[0], table[1], [e.keys for e in table_events])
        for table, table_events in wanted.items()
    }
    out = []
    for event in events:
        if event.event_type not in (EventType.INSERT, EventType.UPDATE):
            out.append(event)
            continue
        row = current[(event.schema, event.table)].get(tuple(event.keys.values()))
        if row is None:
            if skip_no_row:
                log.info("skip_no_row: %s no longer exists on the source", event.describe())
                if rejects is not None:
                    rejects.write(event, "skip_no_row: the row no longer exists on the source")
                continue
            out.append(event)
            continue
        columns = {name: row[name] for name in event.columns if name in row}
        out.append(
            attrs.evolve(
                event,
                columns=columns,
                updated=frozenset(columns) if event.event_type is EventType.UPDATE else event.updated,
                hints=event.hints | {Hint.BACK_QUERY},
            )
        )
    return out
