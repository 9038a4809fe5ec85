"""Transactions as the selector assembles them, and the raw hand-over between processes.

The selector collects a transaction as *chunks* ``(kind, schema, table, event type, time, payload)``:
decoded rows (WRITE/UPDATE/DELETE), a DDL statement (kind None), a reject marker ("rejected") or, when
decoding is deferred, a raw rows-event body ("raw"). ``build_events`` turns chunks into EventData.

Deferred decoding (``MySQLSelector.defer_decoding``, used by ``select_process``): pickling decoded
events costs ~10 us per row to dump and ~7 us to load (Decimal, datetime, dicts and an attrs object
per row), while the rows-event body is the most compact form there is and the compiled decoder reads
it in ~1 us. So the selector process sends ``Transaction.raw = (codecs, chunks, remedy)``: each new
table layout once as ``(ident, TableSchema, table-map columns)``, then raw chunks whose payload is
``(ident, kind, bitmap, bitmap2, body, binlog file, pos)``; the runner's ``RawExpander`` decodes them.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from otter_core.spi import EventData, EventType, Hint, Position, SourceError, Transaction
from otter_mysql import rowops
from otter_mysql.rowcodec import DELETE, UPDATE, WRITE, RowCodec

RAW, REJECTED = "raw", "rejected"
RUN = "run"  # Transaction.raw = (RUN, names, blob, count): a run the compiled binlog loop packed
PACK_ENV = "OTTER_HANDOVER_PACK"  # "0": the selector process sends each transaction as plain tuples
SCAN_RUNS_ENV = "OTTER_SCAN_RUNS"  # "0": the hand-over packs, but the binlog loop builds transactions
# a bigger transaction travels plain: its pickled bodies are what it costs, and packing would add a copy
# of them on each side (a 16 MB BLOB row: 16 MB more in each process while it crosses)
PACK_MAX_BYTES = 64 * 1024
_NO_UPDATE: frozenset[str] = frozenset()
_REMEDY = frozenset({Hint.REMEDY})
_RESOLUTION = frozenset({Hint.CONFLICT_RESOLUTION})
Chunk = tuple  # (kind, schema, table, etype, execute time, payload)
ROW_KINDS = (WRITE, UPDATE, DELETE)


def _native_layout() -> tuple | None:
    """``(descriptors, mid, tail, row_places, update_places)`` for the extension to build EventData slot
    by slot (attrs' generated __init__ was ~12 % of the runner's time) from defaults read once from an
    instance made by the real constructor, so fields others add keep theirs. None without the extension,
    or if a field has a validator or converter to honour."""
    if rowops.EXTENSION is None:
        return None
    fields: tuple[attrs.Attribute, ...] = attrs.fields(EventData)
    descriptors = tuple(getattr(EventData, f.name, None) for f in fields)
    if any(f.validator is not None or f.converter is not None for f in fields) or not all(
        type(d).__name__ == "member_descriptor" for d in descriptors
    ):
        return None
    index = {f.name: i for i, f in enumerate(fields)}
    row_places = (index["keys"], index["columns"], index["size"])
    update_places = (index["keys"], index["columns"], index["old_keys"], index["updated"], index["size"])
    # a default made by a factory must be one the rows replace, or instances would share it
    proto = EventData("", "", EventType.INSERT)
    defaults = [getattr(proto, f.name) for f in fields]
    shared = [
        f.name
        for f in fields
        if getattr(f.default, "factory", None) is not None and index[f.name] not in row_places
    ]
    head = [index[name] for name in ("schema", "table", "event_type", "execute_time", "position")]
    if shared or head != [0, 1, 2, 7, 8]:  # pragma: no cover - EventData changed: the constructor's way
        return None
    return descriptors, tuple(defaults[3:7]), tuple(defaults[9:]), row_places, update_places


def _native_builder(
    layout: tuple | None,
) -> Callable[[str, str, EventType, float, Position, list, bool], list] | None:
    """The EventData of one chunk's rows, built by the extension (None without it)."""
    if layout is None:
        return None
    descriptors, mid, tail, row_places, update_places = layout
    build = rowops.EXTENSION.build_events

    def events(
        schema: str, table: str, etype: EventType, ts: float, pos: Position, rows: list, update: bool
    ) -> list:
        template = (schema, table, etype, *mid, ts, pos, *tail)  # per chunk: OLTP has 4 chunks of 1 row
        return build(EventData, descriptors, template, rows, update_places if update else row_places)

    return events


def _native_transaction(layout: tuple | None) -> Callable[[dict, tuple, Position], tuple | None] | None:
    """A whole transaction's raw chunks decoded and built in one call of the extension, as the chunk by
    chunk path builds them (sysbench's OLTP transactions are four 1-row rows events: a Python call per
    chunk cost more than its row); None from it when a chunk needs that path. None without the extension."""
    expand_raw = getattr(rowops.EXTENSION, "expand_raw", None)  # None: an extension built before it
    if layout is None or expand_raw is None:
        return None
    descriptors, mid, tail, row_places, update_places = layout
    # the layout bound once: a call per transaction is then (decoders, chunks, position), in C
    return functools.partial(expand_raw, EventData, descriptors, mid, tail, row_places, update_places, RAW)


def _position_descriptors() -> tuple | None:
    """The member descriptors of ``Position``'s fields ``(file, pos, gtid, timestamp)`` for the extension
    to set them as attrs' __init__ does; None when a field has a validator or converter to honour."""
    fields: tuple[attrs.Attribute, ...] = attrs.fields(Position)
    pos_descriptors = tuple(getattr(Position, f.name, None) for f in fields)
    if (
        [f.name for f in fields] != ["file", "pos", "gtid", "timestamp"]
        or any(f.validator is not None or f.converter is not None for f in fields)
        or not all(type(d).__name__ == "member_descriptor" for d in pos_descriptors)
    ):
        return None  # pragma: no cover - Position changed: its constructor's way
    return pos_descriptors


def _native_transaction_at(layout: tuple | None) -> Callable[[dict, tuple, tuple], tuple | None] | None:
    """``_native_transaction`` taking the position as its field values ``(file, pos, gtid, timestamp)``:
    the extension builds the ``Position`` too (~0.3-0.6 us per transaction in Python). None without it,
    or when ``Position`` has a field the extension would not set as attrs does."""
    expand_raw_at = getattr(rowops.EXTENSION, "expand_raw_at", None)
    pos_descriptors = _position_descriptors()
    if layout is None or expand_raw_at is None or pos_descriptors is None:
        return None
    descriptors, mid, tail, row_places, update_places = layout
    return functools.partial(
        expand_raw_at,
        EventData,
        descriptors,
        mid,
        tail,
        row_places,
        update_places,
        RAW,
        Position,
        pos_descriptors,
    )


def _native_take_packed(layout: tuple | None) -> Callable[..., tuple] | None:
    """``take_packed(decoders, names, blob, offset, max_events, max_bytes)`` of the extension with the
    layouts bound (``_native/handover.c``); None without it."""
    take = getattr(rowops.EXTENSION, "take_packed", None)
    pos_descriptors = _position_descriptors()
    if layout is None or take is None or pos_descriptors is None:
        return None
    descriptors, mid, tail, row_places, update_places = layout
    return functools.partial(
        take, EventData, descriptors, mid, tail, row_places, update_places, Position, pos_descriptors
    )


_LAYOUT = _native_layout()
_NATIVE = _native_builder(_LAYOUT)
_NATIVE_TRANSACTION = _native_transaction(_LAYOUT)
_NATIVE_TRANSACTION_AT = _native_transaction_at(_LAYOUT)
_NATIVE_TAKE_PACKED = _native_take_packed(_LAYOUT)


def build_events(
    chunks: Iterable[Chunk],
    pos: Position,
    remedy: bool = False,
    decode_raw: Callable[[Chunk], Chunk] | None = None,
    fast: bool = True,
    before: bool = False,
    resolution: bool = False,
) -> list[EventData]:
    """The EventData of one transaction's chunks, in binlog order. ``remedy``: the home side sends the
    transaction back once (two-way), every event gets the REMEDY hint. ``fast``: row events built by
    the extension when it is there (False: by the constructor; the tests compare both). ``before``
    (conflict detection): UPDATE rows carry their before image, events get it as ``old_columns``.
    ``resolution``: an operator's conflict resolution, every event gets the RESOLUTION hint."""
    events: list[EventData] = []
    add = events.extend
    native = _NATIVE if fast and not before else None
    for chunk in chunks:
        if chunk[0] == RAW:
            if decode_raw is None:
                raise SourceError(
                    "a deferred rows event reached build_events without its decoder (decode_raw)"
                )
            chunk = decode_raw(chunk)
        kind, schema, table, etype, ts, rows = chunk
        if native is not None and kind in ROW_KINDS and type(rows) is list:
            add(native(schema, table, etype, ts, pos, rows, kind is UPDATE))
        elif kind is UPDATE and before:
            add(
                [
                    EventData(schema, table, etype, k, c, o, u, ts, pos, sz, old_columns=b)
                    for k, c, o, u, sz, b in rows
                ]
            )
        elif kind is DELETE and before:
            add(
                [
                    EventData(schema, table, etype, k, c, None, _NO_UPDATE, ts, pos, sz, old_columns=c)
                    for k, c, sz in rows
                ]
            )
        elif kind is UPDATE:
            add([EventData(schema, table, etype, k, c, o, u, ts, pos, sz) for k, c, o, u, sz in rows])
        elif kind is None:
            add([EventData(schema, table, EventType.DDL, execute_time=ts, position=pos, ddl_sql=rows)])
        elif kind == REJECTED:
            add(
                [
                    EventData(
                        schema,
                        table,
                        etype,
                        execute_time=ts,
                        position=pos,
                        hints=frozenset({Hint.SELECT_REJECTED.of(rows)}),
                    )
                ]
            )
        else:
            add([EventData(schema, table, etype, k, c, None, _NO_UPDATE, ts, pos, sz) for k, c, sz in rows])
    if remedy:
        events = [attrs.evolve(e, hints=e.hints | _REMEDY) for e in events]
    elif resolution:
        events = [attrs.evolve(e, hints=e.hints | _RESOLUTION) for e in events]
    return events


def decode_error(
    label: str, etype: EventType, schema: str, table: str, where: str, exc: BaseException
) -> str:
    return f"{label}: cannot decode a {etype.name} row of {schema}.{table} at {where}: {exc!r}"


class RawExpander:
    """The runner's half of deferred decoding: RowCodecs by ident, rebuilt from the declarations."""

    def __init__(self, label: str, skip_errors: bool, before: bool = False) -> None:
        self.label = label
        self.skip_errors = skip_errors
        self.before = before  # conflict detection: decode before images too
        self._codecs: dict[int, RowCodec] = {}
        # decoders by (ident, kind, bitmap, bitmap2): one dict lookup per rows event instead of a codec
        # lookup and a call of its cache (sysbench's OLTP transactions are 4 rows events of 1 row)
        self._decoders: dict[tuple, Callable[[bytes], list]] = {}
        # one call of the extension per transaction (no hints to add, no before images): what the chunk
        # by chunk path below builds, without a Python call per rows event (OLTP: 4 per transaction)
        self._whole = None if before else _NATIVE_TRANSACTION
        self._whole_at = None if before else _NATIVE_TRANSACTION_AT
        self._take_packed = None if before else _NATIVE_TAKE_PACKED

    def expand(self, txn: Transaction) -> Transaction:
        raw = txn.raw  # (codecs, chunks, remedy[, resolution])
        whole = self.row_events(raw, txn.position)
        if whole is not None:
            return Transaction(whole, txn.position, txn.size)
        resolution = len(raw) > 3 and bool(raw[3])
        events = build_events(
            raw[1], txn.position, raw[2], self._decode, before=self.before, resolution=resolution
        )
        return Transaction(tuple(events), txn.position, txn.size)

    def row_events(self, raw: tuple, pos: Position) -> tuple[EventData, ...] | None:
        """The row events of a deferred transaction at ``pos``, built in one call of the extension; None
        when ``expand`` must take it chunk by chunk (a chunk that is not raw, e.g. a DDL; a shape not
        seen before; a Python decoder; a body that does not decode: decoded again there, and named or
        rejected; a sent-back or resolved transaction; before images). Declares the codecs it carries
        either way (declaring them again is harmless)."""
        codecs = raw[0]
        if codecs:
            for ident, table, columns in codecs:
                self._codecs[ident] = RowCodec(table, columns)
            self._decoders.clear()  # an ident declared again (never today) must not keep its old decoder
        if self._whole is None or raw[2] or (len(raw) > 3 and raw[3]):
            return None
        return self._whole(self._decoders, raw[1], pos)

    def row_events_at(self, raw: tuple, at: tuple) -> tuple[EventData, ...] | None:
        """``row_events`` at ``Position(*at)``, built by the extension with the events (the hand-over's
        pipe carries positions as plain tuples; a ``Position`` each cost as much as decoding a row)."""
        whole_at = self._whole_at
        if whole_at is None or raw[0]:  # no extension, or codecs to declare first (once per table)
            return self.row_events(raw, Position(*at))
        if raw[2] or (len(raw) > 3 and raw[3]):
            return None
        return whole_at(self._decoders, raw[1], at)

    def take_packed(self, payload: tuple, offset: int, max_events: int, max_bytes: int) -> tuple:
        """``(events, end Position or None, size, offset, done)`` of a packed run's transactions from
        ``offset`` on (``select_process``'s ``take_ready``), decoded and built from the blob in one call;
        it stops before a transaction ``row_events`` would leave to ``expand`` (the same cases)."""
        take = self._take_packed
        if take is None:  # before images (conflict detection): each one as its plain tuple
            return [], None, 0, offset, False
        names, blob = payload
        return take(self._decoders, names, blob, offset, max_events, max_bytes)

    def _decode(self, chunk: Chunk) -> Chunk:
        _, schema, table, etype, ts, raw = chunk
        try:
            decode = self._decoders.get(raw[:4])
            if decode is None:
                ident, kind, bitmap, bitmap2 = raw[:4]
                decode = self._decoders[raw[:4]] = self._codecs[ident].decoder(
                    kind, bitmap, bitmap2, self.before
                )
            rows = decode(raw[4])
        except SourceError:
            raise
        except Exception as exc:
            message = decode_error(self.label, etype, schema, table, f"{raw[5]}:{raw[6]}", exc)
            if not self.skip_errors:
                raise SourceError(message, retryable=False) from exc
            return (REJECTED, schema, table, etype, ts, message)  # the engine reject-logs and drops it
        return (raw[1], schema, table, etype, ts, rows)


def declare_codecs(chunks: list[Chunk], codecs: dict[int, RowCodec], declared: set[int]) -> tuple:
    """``(ident, table, columns)`` of the raw chunks' codecs not yet sent to the runner (marked sent)."""
    out: list[tuple[int, Any, Any]] = []
    for chunk in chunks:
        if chunk[0] == RAW:
            ident = chunk[5][0]
            if ident not in declared:
                declared.add(ident)
                codec = codecs[ident]
                out.append((ident, codec.table, codec.columns))
    return tuple(out)


def raw_chunk(ev: Any, codec: RowCodec, kind: str, etype: EventType, body: bytes, log_file: str) -> Chunk:
    """The chunk of a rows event whose decoding is left to the runner."""
    raw = (
        codec.ident,
        kind,
        ev.columns_present_bitmap,
        getattr(ev, "columns_present_bitmap2", None),
        body,
        log_file,
        ev.packet.log_pos,
    )
    return (RAW, ev.schema, ev.table, etype, float(ev.timestamp), raw)


class DeferredDecoding:
    """The selector's side of deferred decoding (mixed into ``MySQLSelector``, which has ``label`` and
    ``pipeline``): codecs get idents, transactions carry raw chunks, and ``expand`` decodes them."""

    label: str
    pipeline: Any

    def _init_deferred(self) -> None:
        self._deferred = False
        self._idents = itertools.count(1)
        self._by_ident: dict[int, RowCodec] = {}
        self._declared: set[int] = set()
        self._expander: RawExpander | None = None
        self._scan_runs = False  # the compiled binlog loop packs plain transactions (see pack_handover)

    def defer_decoding(self) -> bool:
        """Called before ``start`` in the selector process: rows of matched tables travel to the runner
        as raw rows-event bodies in ``Transaction.raw``."""
        self._deferred = True
        return True

    def expand(self, txn: Transaction) -> Transaction:
        """In the runner, on a selector that was never started: decode a deferred transaction."""
        if txn.raw is None:
            return txn
        return self._runner_expander().expand(txn)

    def row_events(self, raw: tuple, pos: Position) -> tuple[EventData, ...] | None:
        """In the runner: the events of a deferred transaction's ``raw`` at ``pos`` when they are plain
        row events built in one call (the selector process's hand-over takes a chunk of such
        transactions without a ``Transaction`` each); None: ``expand`` a ``Transaction`` instead."""
        return self._runner_expander().row_events(raw, pos)

    def row_events_at(self, raw: tuple, at: tuple) -> tuple[EventData, ...] | None:
        """``row_events`` at ``Position(*at)`` (``at``: its field values), the Position built with the
        events; the selector process's hand-over calls this one when it is there."""
        return self._runner_expander().row_events_at(raw, at)

    def pack_handover(self, items: list, tag: str) -> list:
        """In the selector process (``otter_core.contracts.PackedHandover``): each run of plain raw
        transactions of at most ``PACK_MAX_BYTES`` in ``items`` packed into one blob by the extension
        (``_native/handover.c``), as ``(tag, (names, blob), 0)``: pickling their tuples cost ~3 us per
        OLTP transaction in each process. Unchanged without the extension, with conflict detection
        (before images), or with ``OTTER_HANDOVER_PACK=0``.

        The first call also has the compiled binlog loop pack plain transactions itself as it reads
        them (``binlog_reader``, ``_native/scanrun.c``; off with ``OTTER_SCAN_RUNS=0``): their runs
        reach ``items`` as ``Transaction.raw = (RUN, names, blob, count)`` and are sent as they are."""
        pack = getattr(rowops.EXTENSION, "pack_txns", None)
        if (
            pack is None
            or not self._deferred
            or self.pipeline.detects_conflicts
            or os.environ.get(PACK_ENV) == "0"
        ):
            return items
        self._scan_runs = os.environ.get(SCAN_RUNS_ENV) != "0"
        return pack(RAW, tag, items, PACK_MAX_BYTES, RUN)

    def take_packed(self, payload: tuple, offset: int, max_events: int, max_bytes: int) -> tuple:
        """In the runner: ``RawExpander.take_packed``."""
        return self._runner_expander().take_packed(payload, offset, max_events, max_bytes)

    def unpack_packed(self, payload: tuple, offset: int) -> tuple:
        """In the runner: ``(item, offset, done)``, the packed transaction at ``offset`` as the plain tuple
        it was packed from (for ``poll``'s way: a shape seen first, a body that does not decode)."""
        unpack = getattr(rowops.EXTENSION, "unpack_txn", None)
        if unpack is None:
            raise SourceError(
                f"{self.label}: the selector process packed transactions but this process has no compiled "
                f"otter_mysql._rowdecode to read them; reinstall otter-mysql, or set OTTER_HANDOVER_PACK=0"
            )
        names, blob = payload
        return unpack(RAW, names, blob, offset)

    def _runner_expander(self) -> RawExpander:
        if self._expander is None:
            self._expander = RawExpander(
                self.label, self.pipeline.parameters.skip_select_exception, self.pipeline.detects_conflicts
            )
        return self._expander

    def _register(self, codec: RowCodec | None) -> RowCodec | None:
        if codec is not None:
            codec.ident = next(self._idents)
            self._by_ident[codec.ident] = codec
        return codec

    def _deferred_transaction(
        self, chunks: list[Chunk], pos: Position, size: int, remedy: bool, resolution: bool = False
    ) -> Transaction:
        codecs = declare_codecs(chunks, self._by_ident, self._declared)
        return Transaction((), pos, size, (codecs, tuple(chunks), remedy, resolution))
