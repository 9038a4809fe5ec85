"""The batch codec: every shape and value type the engine carries survives, hostile bytes do not run code."""

import datetime as dt
import decimal
import pickle

import attrs
import msgpack
import pytest
from grpc_support import make_pipeline

from otter_core.spi import (
    EventData,
    EventType,
    FileAction,
    FileRef,
    PipeError,
    Position,
    RowBatch,
    Transaction,
)
from otter_grpc.codec import BatchCodec

PIPELINE = make_pipeline(files_root="/dst")
PAIR = PIPELINE.pairs[0]


def rich_event() -> EventData:
    columns = {
        "s": "text ü",
        "b": b"\x00\xff",
        "d": decimal.Decimal("-12.3400"),
        "f": 1.5,
        "n": None,
        "ts": dt.datetime(2024, 2, 29, 23, 59, 58, 123456),
        "day": dt.date(1999, 12, 31),
        "t": dt.time(1, 2, 3, 4),
        "span": dt.timedelta(hours=-838, seconds=1),
        "tags": {"a", "b"},
        "json": {"k": [1, 2, {"x": None}]},
        "big": 2**64 - 1,
        "huge": 2**70,
        "neg": -(2**63),
        "flag": True,
    }
    return EventData(
        "shop",
        "item",
        EventType.UPDATE,
        {"id": 7},
        columns,
        {"id": 6},
        frozenset({"s", "d"}),
        12.5,
        Position("mysql-bin.000003", 4567, "0-1-99", 1700000000),
        321,
        None,
        frozenset({"remedy"}),
        (
            FileRef("img/7.jpg", "/src", "/dst", 10, 20, "ab" * 32),
            FileRef("img/6.jpg", "/src", "/dst", action=FileAction.DELETE),
        ),
    )


@pytest.mark.parametrize(
    "batch",
    [
        [("dst", 5, rich_event())],
        [(PAIR, rich_event())],
        [rich_event(), EventData("shop", "item", EventType.DDL, ddl_sql="ALTER TABLE item ADD c INT")],
        RowBatch(9, (rich_event(),), Position("f", 1), Position("f", 0), 100),
        {"generic": (1, "two", rich_event()), "tx": Transaction((rich_event(),), Position("f", 2), 5)},
        [],
    ],
    ids=["after-transform", "after-extract", "events", "row-batch", "generic", "empty"],
)
def test_every_batch_shape_round_trips_exactly(batch):
    codec = BatchCodec(PIPELINE)
    assert codec.decode(codec.encode(batch)) == batch


def test_decoded_values_keep_their_types():
    codec = BatchCodec(PIPELINE)
    event = codec.decode(codec.encode([("dst", 5, rich_event())]))[0][2]
    types = {name: type(value) for name, value in event.columns.items()}
    assert types["d"] is decimal.Decimal and types["ts"] is dt.datetime and types["day"] is dt.date
    assert types["t"] is dt.time and types["span"] is dt.timedelta and types["tags"] is set
    assert types["b"] is bytes and event.columns["huge"] == 2**70 and event.event_type is EventType.UPDATE
    assert isinstance(event.files[0], FileRef) and event.files[1].action is FileAction.DELETE


def test_pickle_bytes_are_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with pytest.raises(PipeError, match="could not be decoded"):
        BatchCodec(PIPELINE).decode(pickle.dumps(Exploit()))
    assert not marker.exists()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        msgpack.packb([1, 0, msgpack.ExtType(99, b"x")]),
        msgpack.packb([1, 3, [(5, [])]]),
        msgpack.packb([1, 2, [["t", 1, ["x"]]]]),
    ],
    ids=["empty", "invalid", "unknown-ext", "pair-out-of-range", "malformed-event"],
)
def test_hostile_or_damaged_bytes_give_a_pipe_error(data):
    with pytest.raises(PipeError, match="pipeline 'p1'"):
        BatchCodec(PIPELINE).decode(data)


def test_another_encoding_version_is_refused_with_a_remedy():
    with pytest.raises(PipeError, match="same otter-grpc version") as info:
        BatchCodec(PIPELINE).decode(msgpack.packb([99, 0, []]))
    assert info.value.retryable is False


def test_an_object_the_pipe_cannot_carry_is_named():
    with pytest.raises(PipeError, match="holds a object"):
        BatchCodec(PIPELINE).encode({"x": object()})


@pytest.mark.parametrize("shape", ["after-transform", "generic"])
def test_hints_travel_as_their_plain_strings(shape):
    """``Hint`` is a str enum: on the wire and after decoding a hint is the string it always was."""
    from otter_core.spi import Hint

    hints = frozenset({Hint.REMEDY, Hint.RENAMED_FROM.of("shop.old"), "a-third-party-hint"})
    event = attrs.evolve(rich_event(), hints=hints)
    batch = [("dst", 5, event)] if shape == "after-transform" else {"generic": (event,)}
    codec = BatchCodec(PIPELINE)
    decoded = codec.decode(codec.encode(batch))
    back = decoded[0][2] if shape == "after-transform" else decoded["generic"][0]
    assert back.hints == {"loopback-remedy", "renamed-from:shop.old", "a-third-party-hint"}
    assert Hint.REMEDY in back.hints and all(type(hint) is str for hint in back.hints)
