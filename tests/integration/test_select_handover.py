"""The selector process's hand-over to the Batcher (engine/select_process.py, ``take_ready``): received
plain row transactions go to the batch as a run, without a ``Transaction`` each, and the batches hold
what ``poll`` one transaction at a time gives. A real MariaDB source, the real child process."""

from __future__ import annotations

import pytest

from otter_core.config import load_config_text
from otter_core.engine import select_process
from otter_core.engine.select import Batcher
from otter_core.engine.select_process import ProcessSelector
from otter_core.model import EventType, PipelineParameters, Position
from otter_core.testing.harness import pipeline_yaml

pytestmark = pytest.mark.usefixtures("clean_databases")


def _before(pos: Position, end: tuple[str, int]) -> bool:
    return (pos.file, pos.pos) < end


def test_a_chunk_of_row_transactions_reaches_the_batch_as_one_run_as_poll_gives_them(
    mariadb_source, mariadb_target, tmp_path, monkeypatch
):
    """Row transactions, a two-statement one, a DDL, more rows: the Batcher's batches carry the same
    events (each with its own transaction's position) as the transactions ``poll`` returns, each batch
    ends at a transaction's end position, the DDL is a batch of its own, and the row transactions were
    not rebuilt as ``Transaction`` objects one by one."""
    mariadb_source.execute("CREATE DATABASE hand", "CREATE TABLE hand.t (id INT PRIMARY KEY, v INT)")
    config = load_config_text(pipeline_yaml(mariadb_source, mariadb_target, ["hand.t"]))
    pipeline = config.channels[0].pipelines[0]
    source = config.sources[pipeline.source]
    start = Position(*mariadb_source.binlog_position())
    mariadb_source.execute(*(f"INSERT INTO hand.t VALUES ({i}, {i})" for i in range(1, 41)))
    mariadb_source.execute(
        "BEGIN", "UPDATE hand.t SET v = 0 WHERE id = 1", "DELETE FROM hand.t WHERE id = 2", "COMMIT"
    )
    mariadb_source.execute("ALTER TABLE hand.t ADD COLUMN w INT")
    mariadb_source.execute(*(f"UPDATE hand.t SET w = {i} WHERE id = {i}" for i in range(3, 23)))
    end = mariadb_source.binlog_position()

    built = []
    rebuild = select_process._transaction
    monkeypatch.setattr(select_process, "_transaction", lambda item: built.append(item) or rebuild(item))
    batched, _ = _batches(pipeline, source, start, end)
    rebuilt = len(built)
    monkeypatch.setattr(select_process, "_transaction", rebuild)

    polled = []
    selector = ProcessSelector(pipeline, source)
    try:
        selector.start(start)
        for _ in range(20000):
            txn = selector.poll(0.1)
            if txn is not None:
                polled.append(txn)
                if not _before(txn.position, end):
                    break
    finally:
        selector.close()

    assert [e for events, _, _ in batched for e in events] == [e for txn in polled for e in txn.events]
    ends = {txn.position for txn in polled}
    assert all(position in ends for _, position, _ in batched)
    assert batched[-1][1] == polled[-1].position
    row_txns = [txn for txn in polled if txn.events and txn.events[0].event_type is not EventType.DDL]
    assert len(row_txns) == 61 and all(len({e.position for e in txn.events}) == 1 for txn in row_txns)
    ddl = [events for events, _, _ in batched if any(e.event_type is EventType.DDL for e in events)]
    assert len(ddl) == 1 and len(ddl[0]) == 1
    assert all(len(events) <= 16 for events, _, _ in batched)
    # the DDL (and whatever else ``poll`` takes one at a time) is rebuilt; the row transactions are not
    assert rebuilt < len(row_txns) // 2, rebuilt


def _batches(pipeline, source, start, end) -> tuple[list, int]:
    """The Batcher's batches from ``start`` to ``end``, and how many packed runs the pipe brought."""
    selector = ProcessSelector(pipeline, source)
    packed = 0
    receive = ProcessSelector._receive

    def counting(self) -> None:
        nonlocal packed
        received = len(self._pending)
        receive(self)
        packed += sum(1 for item in list(self._pending)[received:] if type(item) is tuple and len(item) == 3)

    batched = []
    try:
        ProcessSelector._receive = counting  # type: ignore[method-assign]
        selector.start(start)
        batcher = Batcher(selector, PipelineParameters(batch_size=16))
        for _ in range(2000):
            got = batcher.next_batch(lambda: False)
            if got is not None:
                batched.append(got)
                if not _before(got[1], end):
                    break
    finally:
        ProcessSelector._receive = receive  # type: ignore[method-assign]
        selector.close()
    return batched, packed


def test_packed_runs_reach_the_batches_as_the_plain_hand_over_gives_them(
    mariadb_source, mariadb_target, monkeypatch
):
    """The selector process packs runs of row transactions (``_native/handover.c``): the batches hold the
    same events at the same positions, in the same batches, as with every transaction sent as plain
    tuples (``OTTER_HANDOVER_PACK=0``), across a second table's first rows (its codec declared in a
    plain transaction), a DDL and a new layout after it."""
    mariadb_source.execute(
        "CREATE DATABASE hand",
        "CREATE TABLE hand.t (id INT PRIMARY KEY, v INT)",
        "CREATE TABLE hand.u (id INT PRIMARY KEY, s VARCHAR(20), d DECIMAL(8,2))",
    )
    config = load_config_text(pipeline_yaml(mariadb_source, mariadb_target, ["hand.t", "hand.u"]))
    pipeline = config.channels[0].pipelines[0]
    source = config.sources[pipeline.source]
    start = Position(*mariadb_source.binlog_position())
    mariadb_source.execute(*(f"INSERT INTO hand.t VALUES ({i}, {i})" for i in range(1, 31)))
    mariadb_source.execute(*(f"INSERT INTO hand.u VALUES ({i}, 'é{i}', {i}.25)" for i in range(1, 11)))
    mariadb_source.execute(*(f"UPDATE hand.t SET v = v + 1 WHERE id = {i}" for i in range(1, 21)))
    mariadb_source.execute("ALTER TABLE hand.u ADD COLUMN w INT")
    mariadb_source.execute(*(f"UPDATE hand.u SET w = {i} WHERE id = {i}" for i in range(1, 11)))
    mariadb_source.execute(*(f"DELETE FROM hand.t WHERE id = {i}" for i in range(1, 11)))
    end = mariadb_source.binlog_position()

    monkeypatch.setenv("OTTER_HANDOVER_PACK", "0")
    plain, none_packed = _batches(pipeline, source, start, end)
    monkeypatch.delenv("OTTER_HANDOVER_PACK")
    packed, runs = _batches(pipeline, source, start, end)

    assert none_packed == 0 and runs > 0
    events = [e for batch, _, _ in packed for e in batch]
    assert events == [e for batch, _, _ in plain for e in batch] and len(events) == 81
    assert [e.position for e in events] == [e for batch, _, _ in plain for e in (x.position for x in batch)]
    assert [(pos, size) for _, pos, size in packed] == [(pos, size) for _, pos, size in plain]
    assert {e.table for e in events} == {"t", "u"} and events[-11].columns.get("w") == 10
