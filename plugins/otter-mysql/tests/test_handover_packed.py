"""The packed hand-over (``_native/handover.c``): runs of plain raw transactions packed into one blob by
the selector process, expanded from it by the runner into the events ``row_events_at`` builds, and given
back as the very plain tuples they were packed from wherever the Python path must take one."""

from __future__ import annotations

import pickle

import pytest
from test_handover_expand import DB, backlog  # noqa: F401  (the fixture: real rows events of two tables)

from otter_core.spi import EventType, Position, SourceError, Transaction
from otter_mysql import handover, rowops

pytestmark = pytest.mark.usefixtures("clean_databases")
PACKED = "packed"
EXT = rowops.EXTENSION


def numbered(backlog: tuple[tuple, tuple]) -> tuple[tuple, tuple]:
    """The fixture's codecs and chunks with int idents, as the selector gives them (``_register``)."""
    codecs, chunks = backlog
    ident = {name: i for i, (name, _, _) in enumerate(codecs, 1)}
    codecs = tuple((ident[name], table, columns) for name, table, columns in codecs)
    chunks = tuple((*c[:5], (ident[c[5][0]], *c[5][1:])) for c in chunks)
    return codecs, chunks


def item(chunks: tuple, n: int, codecs: tuple = (), remedy: bool = False) -> tuple:
    """A transaction as the selector process's pipe carries it (``select_process._plain``)."""
    at = ("bin.000001", 1000 + n, f"0-1-{n}", 1700000000 + n)
    return ((), at, 100 + n, (codecs, chunks, remedy, False))


def expander_knowing(codecs: tuple, chunks: tuple) -> handover.RawExpander:
    """A runner's expander that has every shape's decoder (as after the first transaction of each)."""
    expander = handover.RawExpander("p", skip_errors=False)
    expander.expand(Transaction((), Position("bin.000001", 1, None, 0), 1, (codecs, chunks, False, False)))
    return expander


def unpack_all(payload: tuple) -> list:
    out, offset, done = [], 0, False
    while not done:
        got, offset, done = EXT.unpack_txn(handover.RAW, *payload, offset)
        out.append(got)
    return out


def test_runs_of_plain_raw_transactions_are_packed_and_unpack_to_the_same_tuples(backlog) -> None:
    """Only plain raw transactions are packed, in runs, in order; codecs to declare, a sent-back one, a
    position-only one and a ``Transaction`` stay as they are; every packed one unpacks equal, value and
    type, after a trip through pickle as the pipe makes it."""
    codecs, chunks = numbered(backlog)
    first = item(chunks, 1, codecs)
    sent_back = item(chunks[:2], 4, remedy=True)
    empty = ((), ("bin.000001", 2000, "0-1-9", 0), 0, None)
    txn = Transaction((), Position("bin.000001", 3000, None, 0), 0)
    items = [first, item(chunks, 2), item(chunks[4:], 3), sent_back, item(chunks[:1], 5), empty, txn]
    packed = pickle.loads(
        pickle.dumps(EXT.pack_txns(handover.RAW, PACKED, items, 1 << 20), pickle.HIGHEST_PROTOCOL)
    )
    assert [type(x).__name__ if not isinstance(x, tuple) else len(x) for x in packed] == [
        4,
        3,
        4,
        3,
        4,
        "Transaction",
    ]
    assert packed[0] == first and packed[2] == sent_back and packed[4] == empty and packed[5] == txn
    assert packed[1][0] == PACKED and packed[1][2] == 0 and packed[3][2] == 0
    runs = unpack_all(packed[1][1]), unpack_all(packed[3][1])
    assert runs == ([items[1], items[2]], [items[4]])
    types = [type(v) for v in pickle.loads(pickle.dumps(runs))[0][0][3][1][0][5]]
    assert types == [int, str, bytes, bytes, bytes, str, int]
    big = item(chunks, 6)  # over max_size: travels plain (packing would add a copy of its bodies)
    assert EXT.pack_txns(handover.RAW, PACKED, [items[1], big], big[2] - 1)[1] is big
    names, _ = packed[1][1]  # each schema, table, type, file and shape once for the run
    assert sum(1 for n in names if n == DB) == 1 and len(names) < 4 * len(items[1][3][1])


def test_a_packed_run_expands_to_the_events_row_events_at_builds(backlog) -> None:
    """``take_packed`` decodes and builds the events from the blob: equal to ``row_events_at`` of each
    transaction, each transaction's events sharing its own ``Position``, the run's end the last one's,
    the sizes summed; it stops after the transaction that reaches ``max_events`` (or ``max_bytes``)
    and goes on from the offset it returns."""
    codecs, chunks = numbered(backlog)
    expander = expander_knowing(codecs, chunks)
    txns = [item(chunks, 1), item(chunks[4:], 2), item(chunks[:3], 3)]
    ((_, payload, _),) = EXT.pack_txns(handover.RAW, PACKED, txns, 1 << 20)
    expected = [expander.row_events_at(t[3], t[1]) for t in txns]
    assert all(e is not None for e in expected)

    events, end, size, offset, done = expander.take_packed(payload, 0, 10_000, 1 << 30)
    assert done and events == [e for run in expected for e in run]
    assert end == Position(*txns[-1][1]) and size == sum(t[2] for t in txns)
    starts = [0, len(expected[0]), len(expected[0]) + len(expected[1])]
    for start, t, run in zip(starts, txns, expected):
        built = events[start : start + len(run)]
        assert {id(e.position) for e in built} == {id(built[0].position)} and built[0].position == Position(
            *t[1]
        )
        assert [(type(v), repr(v)) for e in built for v in e.columns.values()] == [
            (type(v), repr(v)) for e in run for v in e.columns.values()
        ]

    events, end, size, offset, done = expander.take_packed(payload, 0, len(expected[0]), 1 << 30)
    assert events == list(expected[0]) and end == Position(*txns[0][1]) and size == txns[0][2] and not done
    events, end, size, offset, done = expander.take_packed(payload, offset, 1, 1 << 30)
    assert events == list(expected[1]) and not done
    events, end, size, offset, done = expander.take_packed(payload, offset, 10_000, 1)  # max_bytes: one
    assert events == list(expected[2]) and done and size == txns[2][2]


def test_a_transaction_the_python_path_must_take_stops_the_run_before_it(backlog) -> None:
    """A shape without a decoder yet, or a body that does not decode, stops ``take_packed`` before that
    transaction with nothing of it built; unpacked, it goes ``expand``'s way: the decoder is made, and
    the broken body is named with its table and binlog position as before."""
    codecs, chunks = numbered(backlog)
    sbtest_only = tuple(c for c in chunks if c[2] == "sbtest1")
    expander = expander_knowing(codecs, sbtest_only)  # no decoder for `prices` yet
    kind, schema, table, etype, ts, raw = chunks[0]
    broken = (kind, schema, table, etype, ts, (*raw[:4], raw[4][:-3], *raw[5:]))
    txns = [item(sbtest_only, 1), item(chunks, 2), item(sbtest_only, 3), item((chunks[1], broken), 4)]
    ((_, payload, _),) = EXT.pack_txns(handover.RAW, PACKED, txns, 1 << 20)

    events, end, size, offset, done = expander.take_packed(payload, 0, 10_000, 1 << 30)
    assert len(events) == len(sbtest_only) and end == Position(*txns[0][1]) and not done
    assert expander.take_packed(payload, offset, 10_000, 1 << 30)[:3] == ([], None, 0)  # still no decoder
    plain, offset, done = EXT.unpack_txn(handover.RAW, *payload, offset)
    assert plain == txns[1] and not done
    expanded = expander.expand(Transaction((), Position(*plain[1]), plain[2], plain[3]))  # makes it
    assert [e.table for e in expanded.events] == [c[2] for c in chunks]

    events, end, size, offset, done = expander.take_packed(payload, offset, 10_000, 1 << 30)
    assert len(events) == len(sbtest_only) and end == Position(*txns[2][1]) and not done
    assert expander.take_packed(payload, offset, 10_000, 1 << 30)[:3] == ([], None, 0)
    plain, _, done = EXT.unpack_txn(handover.RAW, *payload, offset)
    assert plain == txns[3] and done
    with pytest.raises(SourceError, match=rf"UPDATE row of {DB}\.sbtest1 at {raw[5]}:{raw[6]}"):
        expander.expand(Transaction((), Position(*plain[1]), plain[2], plain[3]))


def test_conflict_detection_takes_no_packed_run_and_a_damaged_blob_is_an_error(backlog) -> None:
    """With before images (conflict detection) every packed transaction goes the plain way; a blob cut
    short raises a ValueError that says so, never a wrong row."""
    codecs, chunks = numbered(backlog)
    detecting = handover.RawExpander("p", skip_errors=False, before=True)
    ((_, payload, _),) = EXT.pack_txns(handover.RAW, PACKED, [item(chunks, 1)], 1 << 20)
    assert detecting.take_packed(payload, 0, 10_000, 1 << 30) == ([], None, 0, 0, False)
    names, blob = payload
    expander = expander_knowing(codecs, chunks)
    for cut in (blob[:-1], blob[:20]):
        with pytest.raises(ValueError, match="packed hand-over from the selector process is damaged"):
            expander.take_packed((names, cut), 0, 10_000, 1 << 30)
        with pytest.raises(ValueError, match="damaged"):
            EXT.unpack_txn(handover.RAW, names, cut, 0)
    assert EXT.unpack_txn(handover.RAW, names, blob, 0)[0] == item(chunks, 1)
    assert [e.event_type for e in expander.take_packed(payload, 0, 10_000, 1 << 30)[0]][:4] == [
        EventType.UPDATE,
        EventType.UPDATE,
        EventType.DELETE,
        EventType.INSERT,
    ]
