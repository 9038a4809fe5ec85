"""Back-query (``sync_consistency: media``): replace logged row images with the rows as they are now.

Loading the current row instead of an old image lets a lagging pipeline skip intermediate states, and is
how the two-way remedy makes the home side win. A row that no longer exists keeps its logged event, or
is dropped and written to the reject log when ``skip_no_row`` is set.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Sequence

import attrs

from otter_core.contracts import RowReader
from otter_core.model import EventData, EventType
from otter_core.rejects import RejectLog

log = logging.getLogger("otter.extract")


REMEDY = "loopback-remedy"  # two-way: a far-side change applied at home, sent back once (home wins)


def remedy(reader: RowReader, events: Sequence[EventData]) -> list[EventData]:
    """The single-direction loopback remedy: every row a remedy event touched is sent as home has it now,
    the whole row (INSERT, i.e. upsert) when it exists, a DELETE when it does not."""
    wanted: dict[tuple[str, str], list[EventData]] = defaultdict(list)
    for event in events:
        if REMEDY in event.hints and event.event_type is not EventType.DDL:
            wanted[(event.schema, event.table)].append(event)
    current = {table: reader.fetch(table[0], table[1], [e.keys for e in table_events])
               for table, table_events in wanted.items()}
    out = []
    for event in events:
        if REMEDY not in event.hints or event.event_type is EventType.DDL:
            out.append(event)
            continue
        row = current[(event.schema, event.table)].get(tuple(event.keys.values()))
        if row is None:
            out.append(attrs.evolve(event, event_type=EventType.DELETE, updated=frozenset(), old_keys=None))
        else:
            columns = {name: value for name, value in row.items() if name not in event.keys}
            out.append(attrs.evolve(event, event_type=EventType.INSERT, columns=columns, old_keys=None,
                                    updated=frozenset(columns)))
    return out


def back_query(reader: RowReader, events: Sequence[EventData], skip_no_row: bool,
               rejects: RejectLog | None) -> list[EventData]:
    wanted: dict[tuple[str, str], list[EventData]] = defaultdict(list)
    for event in events:
        if event.event_type in (EventType.INSERT, EventType.UPDATE):
            wanted[(event.schema, event.table)].append(event)
    current: dict[tuple[str, str], dict[tuple, dict]] = {
        table: reader.fetch(table[0], table[1], [e.keys for e in table_events])
        for table, table_events in wanted.items()}
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
        out.append(attrs.evolve(event, columns=columns, updated=frozenset(columns)
                                if event.event_type is EventType.UPDATE else event.updated,
                                hints=event.hints | {"back-query"}))
    return out
