"""Acked positions survive a restart and are written atomically."""

import time

from otter_core.builtin.memory_arbitrator import MemoryArbitrator
from otter_core.model import Position
from otter_core.state import PositionStore


def test_flushed_ack_is_visible_to_a_new_arbitrator(tmp_path):
    first = MemoryArbitrator(PositionStore(tmp_path, "shop", "a-to-b"))
    first.ack(7, Position("mysql-bin.000003", 1234, "0-1-99", 1700000000))
    first.flush()
    again = MemoryArbitrator(PositionStore(tmp_path, "shop", "a-to-b"))
    assert again.acked_position() == Position("mysql-bin.000003", 1234, "0-1-99", 1700000000)


def test_no_temporary_file_is_left_behind(tmp_path):
    store = PositionStore(tmp_path, "shop", "a/b")
    store.save(Position("f", 4), 1)
    assert [p.name for p in store.path.parent.iterdir()] == ["a_b.position.json"]


def test_permit_closes_and_opens(tmp_path):
    arbitrator = MemoryArbitrator(PositionStore(tmp_path, "c", "p"))
    arbitrator.set_permit(False, "paused by operator")
    assert not arbitrator.permit() and arbitrator.reason == "paused by operator"
    arbitrator.set_permit(True)
    assert arbitrator.permit()


def test_flush_makes_the_newest_ack_durable_and_never_goes_back(tmp_path):
    store = PositionStore(tmp_path, "shop", "p")
    arbitrator = MemoryArbitrator(store)
    for pid in range(1, 50):
        arbitrator.ack(pid, Position("f", 100 + pid))
    arbitrator.flush()
    assert store.load() == Position("f", 149)
    arbitrator.ack(50, Position("f", 150))
    arbitrator.flush()
    assert MemoryArbitrator(PositionStore(tmp_path, "shop", "p")).acked_position() == Position("f", 150)


def test_the_ack_writer_ends_when_idle_and_a_new_ack_starts_it_again(tmp_path):
    store = PositionStore(tmp_path, "shop", "idle")
    arbitrator = MemoryArbitrator(store)
    arbitrator.writer_idle_s = 0.2
    arbitrator.ack(1, Position("f", 101))
    writer = arbitrator._writer
    writer.join(timeout=5)
    assert not writer.is_alive() and arbitrator._writer is None
    assert store.load() == Position("f", 101)  # written by the writer before it ended
    arbitrator.ack(2, Position("f", 102))
    deadline = time.monotonic() + 5
    while store.load() != Position("f", 102) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.load() == Position("f", 102)


def test_a_pinned_start_is_durable_and_its_origin_outlives_later_acks(tmp_path):
    first = MemoryArbitrator(PositionStore(tmp_path, "shop", "pin"))
    first.pin_start(Position("mysql-bin.000002", 500), {"kind": "current"})
    assert first.acked_position() == Position("mysql-bin.000002", 500)
    again = MemoryArbitrator(PositionStore(tmp_path, "shop", "pin"))  # written at once: no flush needed
    assert again.acked_position() == Position("mysql-bin.000002", 500)
    again.ack(1, Position("mysql-bin.000002", 900))
    again.flush()
    later = MemoryArbitrator(PositionStore(tmp_path, "shop", "pin"))
    assert later.acked_position() == Position("mysql-bin.000002", 900)
    assert later.saved_start() == {"kind": "current"}
