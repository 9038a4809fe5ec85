"""otter's "freedom door": resync requests written to the source's ``retl.retl_buffer``.

A row inserted into ``retl_buffer(id, table_id, full_name, type, pk_data, gmt_create, gmt_modified)`` on the
source asks the pipelines reading that source to sync one row again. As in otter (FreedomExtractor):
only inserted or updated buffer rows count; ``full_name`` is ``schema.table`` (otter for Python has no
DataMedia ids, so ``table_id`` is not used and may be 0); ``pk_data`` holds the key values as text, joined
by ``CHAR(1)`` in key order; ``type`` ``I`` or ``U`` re-reads the row from the source and upserts it (or
deletes it on the target when it no longer exists), ``D`` deletes it on the target. A request for a table
no pair of this pipeline takes belongs to another pipeline and is ignored; a request that cannot be
understood goes to the reject log with the reason.

The request is read from the binlog (its row image), not from the table, so the requester may delete the
rows again at once. The re-read happens in Extract, like a back-query: the current row is loaded at the
request's position and every later change follows it, so the target converges.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence

from otter_core.contracts import TableReader
from otter_core.errors import OtterError
from otter_core.model import EventData, EventType, Hint, Pipeline
from otter_core.rejects import RejectLog

log = logging.getLogger("otter.extract")
BUFFER_SCHEMA, BUFFER_TABLE = "retl", "retl_buffer"
PK_SEPARATOR = "\x01"
_HINTS = frozenset({Hint.RESYNC})


def _text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def _has_requests(events: Sequence[EventData]) -> bool:
    """Whether a buffer row is among ``events`` (a run of one rows event's events is checked once: its
    events share their schema and table strings)."""
    schema = table = None
    for event in events:
        if event.table is table and event.schema is schema:
            continue
        schema, table = event.schema, event.table
        if table == BUFFER_TABLE and schema == BUFFER_SCHEMA:
            return True
    return False


class FreedomDoor:
    """Turns ``retl_buffer`` rows of a batch into events of the tables they name (in Extract)."""

    def __init__(
        self, pipeline: Pipeline, make_reader: Callable[[], TableReader], rejects: RejectLog | None = None
    ) -> None:
        self.pipeline = pipeline
        self.make_reader = make_reader
        self.rejects = rejects
        self._lock = threading.Lock()  # Extract runs in several threads; one reader at a time
        self.requests = 0

    def expand(self, events: Sequence[EventData]) -> Sequence[EventData]:
        """``events`` with every buffer row replaced by the event it asks for (dropped when not ours).
        The reader is opened per batch that carries requests (they are rare) and closed after it."""
        if not _has_requests(events):
            return events
        with self._lock:
            reader = self.make_reader()
            try:
                return self._expand(reader, events)
            finally:
                reader.close()

    def _expand(self, reader: TableReader, events: Sequence[EventData]) -> list[EventData]:
        wanted: dict[tuple[str, str], list[tuple[int, str, dict]]] = defaultdict(list)
        out: list[EventData | None] = []
        for event in events:
            if not (event.table == BUFFER_TABLE and event.schema == BUFFER_SCHEMA):
                out.append(event)
                continue
            out.append(None)
            if event.event_type not in (EventType.INSERT, EventType.UPDATE):
                continue  # removing a request asks for nothing
            request = self._parse(reader, event)
            if request is not None:
                schema, table, kind, keys = request
                wanted[(schema, table)].append((len(out) - 1, kind, keys))
        for (schema, table), requests in wanted.items():
            self._answer(reader, schema, table, requests, events, out)
        return [e for e in out if e is not None]

    def _parse(self, reader: TableReader, event: EventData) -> tuple[str, str, str, dict] | None:
        row = {name.lower(): value for name, value in {**event.keys, **event.columns}.items()}
        full_name, kind = _text(row.get("full_name")).strip(), _text(row.get("type")).strip().upper()
        if "." not in full_name:
            self._reject(
                event,
                f"full_name {full_name!r} is not schema.table (otter for Python names the "
                f"table by full_name; table_id is not used)",
            )
            return None
        schema, table = full_name.split(".", 1)
        if not self.pipeline.pair_for(schema, table):
            log.debug("resync request for %s: no pair of pipeline %s takes it", full_name, self.pipeline.name)
            return None
        if kind not in ("I", "U", "D"):
            if kind in ("C", "A", "E"):  # otter's create/alter/erase: a schema reload, nothing to sync
                return None
            self._reject(event, f"type {kind!r} of the resync request for {full_name} is not I, U or D")
            return None
        try:
            keys = reader.parse_key(schema, table, _text(row.get("pk_data")).split(PK_SEPARATOR))
        except OtterError as exc:
            self._reject(event, str(exc))
            return None
        self.requests += 1
        return schema, table, kind, keys

    def _reject(self, event: EventData, reason: str) -> None:
        log.warning("resync request ignored: %s", reason)
        if self.rejects is not None:
            self.rejects.write(event, f"resync request: {reason}")
        return None

    def _answer(
        self,
        reader: TableReader,
        schema: str,
        table: str,
        requests: list[tuple[int, str, dict]],
        events: Sequence[EventData],
        out: list[EventData | None],
    ) -> None:
        key = tuple(reader.key_columns(schema, table))
        columns = tuple(reader.columns(schema, table))
        reread = [tuple(keys[k] for k in key) for _, kind, keys in requests if kind != "D"]
        current = {}
        for row in reader.read_keys(schema, table, columns, key, reread) if reread else ():
            values = dict(zip(columns, row))
            current[tuple(values[k] for k in key)] = values
        key_set = set(key)
        for index, kind, keys in requests:
            origin = events[index]
            found = current.get(tuple(keys[k] for k in key)) if kind != "D" else None
            if found is None:
                out[index] = EventData(
                    schema,
                    table,
                    EventType.DELETE,
                    dict(keys),
                    {},
                    None,
                    frozenset(),
                    origin.execute_time,
                    origin.position,
                    1024,
                    None,
                    _HINTS,
                )
            else:
                out[index] = EventData(
                    schema,
                    table,
                    EventType.INSERT,
                    {k: found[k] for k in key},
                    {c: v for c, v in found.items() if c not in key_set},
                    None,
                    frozenset(),
                    origin.execute_time,
                    origin.position,
                    1024,
                    None,
                    _HINTS,
                )
        log.info(
            "resync of %d row(s) of %s.%s requested through %s.%s",
            len(requests),
            schema,
            table,
            BUFFER_SCHEMA,
            BUFFER_TABLE,
        )
