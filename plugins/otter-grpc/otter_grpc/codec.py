"""Encoding batches for the network: msgpack with an allow-list of otter's value types.

Why not pickle: a batch crosses a trust boundary, and unpickling runs whatever the bytes say. msgpack
decodes only data, and the ext types below map to a fixed list of constructors, so hostile bytes can at
worst produce a wrong value (and then fail validation), never run code. It is also smaller and, for the
plain values rows hold, about as fast. A ``DataMediaPair`` travels as its index in the pipeline's pairs:
both nodes load the same pipeline configuration.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections.abc import Mapping
from typing import Any

import msgpack

from otter_core.spi import (
    DataError,
    DataMediaPair,
    EventData,
    EventType,
    FileAction,
    FileRef,
    PipeError,
    Pipeline,
    Position,
    RowBatch,
    Transaction,
    check_all,
    check_received,
    target_roots,
)

VERSION = 1


class Shape(enum.IntEnum):
    GENERIC = 0
    EVENTS = 1
    TARGETED = 2  # (target source, push_weight, event): after Transform
    PAIRED = 3  # (pair, event): after Extract
    ROW_BATCH = 4


def _position_list(p: Position | None) -> list | None:
    return None if p is None else [p.file, p.pos, p.gtid, p.timestamp]


def _position(p: list) -> Position:
    return Position(p[0], p[1], p[2], p[3])


def _file_list(f: FileRef) -> list:
    return [f.path, f.source_root, f.target_root, f.size, f.mtime_ns, f.checksum, f.action.value]


def _event_list(e: EventData) -> list:
    return [
        e.schema,
        e.table,
        e.event_type.value,
        e.keys,
        e.columns,
        e.old_keys,
        list(e.updated),
        e.execute_time,
        _position_list(e.position),
        e.size,
        e.ddl_sql,
        list(e.hints),
        [_file_list(f) for f in e.files] if e.files else None,
    ]


_KINDS = {kind.value: kind for kind in EventType}
_EMPTY: frozenset = frozenset()


def _event(x: list, roots: frozenset[str] | None = None) -> EventData:
    files = (
        check_all((FileRef(f[0], f[1], f[2], f[3], f[4], f[5], FileAction(f[6])) for f in x[12]), roots)
        if x[12]
        else ()
    )
    p = x[8]
    return EventData(
        x[0],
        x[1],
        _KINDS[x[2]],
        x[3],
        x[4],
        x[5],
        frozenset(x[6]) if x[6] else _EMPTY,
        x[7],
        Position(p[0], p[1], p[2], p[3]),
        x[9],
        x[10],
        frozenset(x[11]) if x[11] else _EMPTY,
        files,
    )


class Ext(enum.IntEnum):
    EVENT = 1
    POSITION = 2
    ROW_BATCH = 3
    TRANSACTION = 4
    FILE_REF = 5
    TUPLE = 6
    FROZENSET = 7
    SET = 8
    DECIMAL = 9
    DATETIME = 10
    DATE = 11
    TIME = 12
    TIMEDELTA = 13
    PAIR = 14
    BIGINT = 15


class BatchCodec:
    """Encodes and decodes what a pipe carries for one pipeline.

    The batch shapes the engine hands a pipe (a RowBatch; a list of events; of ``(target, weight, event)``;
    of ``(pair, event)``) take a fast path: events become plain lists packed in one msgpack call, and only
    values msgpack lacks (decimals, dates, sets, big ints) become ext types. Any other shape goes through
    the generic path, where every allowed type is an ext type.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.pair_index = {pair: i for i, pair in enumerate(pipeline.pairs)}
        # Received file references are checked on decoding: paths relative, roots this node configures.
        self.roots = target_roots(pipeline)

    def encode(self, batch: Any) -> bytes:
        shape, payload = self._shape(batch)
        if shape == Shape.GENERIC:
            return msgpack.packb(
                [VERSION, shape, batch], default=self._default, use_bin_type=True, strict_types=True
            )
        return msgpack.packb([VERSION, shape, payload], default=self._value, use_bin_type=True)

    def decode(self, data: bytes) -> Any:
        try:
            version, shape, payload = msgpack.unpackb(
                data, ext_hook=self._ext, raw=False, strict_map_key=False, use_list=True
            )
            if version != VERSION:
                raise PipeError(
                    f"a batch of pipeline {self.pipeline.name!r} is in encoding version {version}, "
                    f"this node reads {VERSION}: run the same otter-grpc version on every node",
                    retryable=False,
                )
            return self._rebuild(shape, payload)
        except PipeError:
            raise
        except DataError as exc:
            raise PipeError(f"a batch of pipeline {self.pipeline.name!r}: {exc}", retryable=False) from exc
        except (
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            msgpack.ExtraData,
            msgpack.FormatError,
            msgpack.StackError,
        ) as exc:
            raise PipeError(
                f"a batch of pipeline {self.pipeline.name!r} could not be decoded: {exc!r}"
            ) from exc

    def _shape(self, batch: Any) -> tuple[int, Any]:
        if isinstance(batch, RowBatch):
            return Shape.ROW_BATCH, (
                batch.process_id,
                [_event_list(e) for e in batch.events],
                _position_list(batch.position),
                _position_list(batch.first_position),
                batch.size,
            )
        if not isinstance(batch, list):
            return Shape.GENERIC, None
        if all(isinstance(item, EventData) for item in batch):
            return Shape.EVENTS, [_event_list(e) for e in batch]
        if all(
            isinstance(item, tuple)
            and len(item) == 3
            and isinstance(item[2], EventData)
            and isinstance(item[0], str)
            and type(item[1]) is int
            for item in batch
        ):
            return Shape.TARGETED, [(t, w, _event_list(e)) for t, w, e in batch]
        if all(
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[1], EventData)
            and item[0] in self.pair_index
            for item in batch
        ):
            return Shape.PAIRED, [(self.pair_index[p], _event_list(e)) for p, e in batch]
        return Shape.GENERIC, None

    def _rebuild(self, shape: int, payload: Any) -> Any:
        if shape == Shape.GENERIC:
            return payload
        if shape == Shape.EVENTS:
            return [_event(e, self.roots) for e in payload]
        if shape == Shape.TARGETED:
            return [(t, w, _event(e, self.roots)) for t, w, e in payload]
        if shape == Shape.PAIRED:
            pairs = self.pipeline.pairs
            return [(pairs[p], _event(e, self.roots)) for p, e in payload]
        if shape == Shape.ROW_BATCH:
            process_id, events, position, first, size = payload
            return RowBatch(
                process_id,
                tuple(_event(e, self.roots) for e in events),
                _position(position),
                _position(first) if first is not None else None,
                size,
            )
        raise ValueError(f"unknown batch shape {shape}")

    def _value(self, obj: Any) -> msgpack.ExtType:
        """The fast path's default: values only (no otter objects inside row values)."""
        if isinstance(obj, tuple):
            return list(obj)
        return self._default(obj)

    def _pack(self, value: Any) -> bytes:
        return msgpack.packb(value, default=self._default, use_bin_type=True, strict_types=True)

    def _default(self, obj: Any) -> msgpack.ExtType:  # one branch per allowed type
        if isinstance(obj, EventData):
            return msgpack.ExtType(
                Ext.EVENT,
                self._pack(
                    (
                        obj.schema,
                        obj.table,
                        obj.event_type.value,
                        obj.keys,
                        obj.columns,
                        obj.old_keys,
                        list(obj.updated),
                        obj.execute_time,
                        obj.position,
                        obj.size,
                        obj.ddl_sql,
                        list(obj.hints),
                        list(obj.files),
                    )
                ),
            )
        if isinstance(obj, Position):
            return msgpack.ExtType(Ext.POSITION, self._pack((obj.file, obj.pos, obj.gtid, obj.timestamp)))
        if isinstance(obj, tuple):
            return msgpack.ExtType(Ext.TUPLE, self._pack(list(obj)))
        if isinstance(obj, FileRef):
            return msgpack.ExtType(
                Ext.FILE_REF,
                self._pack(
                    (
                        obj.path,
                        obj.source_root,
                        obj.target_root,
                        obj.size,
                        obj.mtime_ns,
                        obj.checksum,
                        obj.action.value,
                    )
                ),
            )
        if isinstance(obj, RowBatch):
            return msgpack.ExtType(
                Ext.ROW_BATCH,
                self._pack((obj.process_id, list(obj.events), obj.position, obj.first_position, obj.size)),
            )
        if isinstance(obj, Transaction):
            return msgpack.ExtType(Ext.TRANSACTION, self._pack((list(obj.events), obj.position, obj.size)))
        if isinstance(obj, frozenset):
            return msgpack.ExtType(Ext.FROZENSET, self._pack(list(obj)))
        if isinstance(obj, set):
            return msgpack.ExtType(Ext.SET, self._pack(list(obj)))
        if isinstance(obj, decimal.Decimal):
            return msgpack.ExtType(Ext.DECIMAL, str(obj).encode())
        if isinstance(obj, dt.datetime):  # before date: a datetime is a date
            return msgpack.ExtType(Ext.DATETIME, obj.isoformat().encode())
        if isinstance(obj, dt.date):
            return msgpack.ExtType(Ext.DATE, obj.isoformat().encode())
        if isinstance(obj, dt.time):
            return msgpack.ExtType(Ext.TIME, obj.isoformat().encode())
        if isinstance(obj, dt.timedelta):
            return msgpack.ExtType(Ext.TIMEDELTA, self._pack((obj.days, obj.seconds, obj.microseconds)))
        if isinstance(obj, DataMediaPair):
            if obj not in self.pair_index:
                raise PipeError(
                    f"pair {obj.source} -> {obj.target} is not a pair of pipeline {self.pipeline.name!r}"
                )
            return msgpack.ExtType(Ext.PAIR, self._pack(self.pair_index[obj]))
        if isinstance(obj, enum.Enum):
            return obj.value
        if isinstance(obj, int):  # beyond 64 bits, or an int subclass
            return msgpack.ExtType(Ext.BIGINT, str(int(obj)).encode())
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, Mapping):
            return dict(obj)
        if isinstance(obj, list):
            return list(obj)
        raise PipeError(
            f"a batch of pipeline {self.pipeline.name!r} holds a {type(obj).__name__}, which the "
            f"rpc pipe cannot carry (values must be plain data, decimals, dates or times)",
            retryable=False,
        )

    def _unpack(self, data: bytes) -> Any:
        return msgpack.unpackb(data, ext_hook=self._ext, raw=False, strict_map_key=False, use_list=True)

    def _ext(self, code: int, data: bytes) -> Any:  # one branch per allowed type
        if code == Ext.EVENT:
            (
                schema,
                table,
                kind,
                keys,
                columns,
                old_keys,
                updated,
                execute_time,
                position,
                size,
                ddl_sql,
                hints,
                files,
            ) = self._unpack(data)
            return EventData(
                schema,
                table,
                EventType(kind),
                keys,
                columns,
                old_keys,
                frozenset(updated),
                execute_time,
                position,
                size,
                ddl_sql,
                frozenset(hints),
                tuple(files),
            )
        if code == Ext.POSITION:
            return Position(*self._unpack(data))
        if code == Ext.TUPLE:
            return tuple(self._unpack(data))
        if code == Ext.FILE_REF:
            path, source_root, target_root, size, mtime_ns, checksum, action = self._unpack(data)
            ref = FileRef(path, source_root, target_root, size, mtime_ns, checksum, FileAction(action))
            return check_received(ref, self.roots)
        if code == Ext.ROW_BATCH:
            process_id, events, position, first_position, size = self._unpack(data)
            return RowBatch(process_id, tuple(events), position, first_position, size)
        if code == Ext.TRANSACTION:
            events, position, size = self._unpack(data)
            return Transaction(tuple(events), position, size)
        if code == Ext.FROZENSET:
            return frozenset(self._unpack(data))
        if code == Ext.SET:
            return set(self._unpack(data))
        if code == Ext.DECIMAL:
            return decimal.Decimal(data.decode())
        if code == Ext.DATETIME:
            return dt.datetime.fromisoformat(data.decode())
        if code == Ext.DATE:
            return dt.date.fromisoformat(data.decode())
        if code == Ext.TIME:
            return dt.time.fromisoformat(data.decode())
        if code == Ext.TIMEDELTA:
            return dt.timedelta(*self._unpack(data))
        if code == Ext.PAIR:
            return self.pipeline.pairs[self._unpack(data)]
        if code == Ext.BIGINT:
            return int(data.decode())
        raise ValueError(f"unknown ext type {code}")
