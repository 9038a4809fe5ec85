"""The ZooKeeper arbitrator against a real ZooKeeper: processIds, permit, versioned acks, signals."""

import pytest
from zk_support import wait_for

from otter_core.spi import Arbitrator, Position, ReadySignal, StageSignals
from otter_zookeeper.arbitrator import OwnershipLost, ZooKeeperArbitrator
from otter_zookeeper.layout import Layout
from otter_zookeeper.signals import ZooKeeperSignals


def make(zk, root, cls=ZooKeeperArbitrator, node_id=1):
    return cls(zk, Layout(root), "ch", "p1", node_id)


def test_follows_the_arbitrator_contracts(zk, zk_root):
    arbitrator = make(zk, zk_root, ZooKeeperSignals)
    assert isinstance(arbitrator, Arbitrator) and isinstance(arbitrator, StageSignals)


def test_process_ids_increase_across_holders(zk, zk_root):
    first = make(zk, zk_root)
    ids = [first.next_process_id() for _ in range(5)]
    second = make(zk, zk_root)  # the next holder after a failover reserves a new block above
    later = [second.next_process_id() for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert min(later) > max(ids)


def test_every_holder_gets_a_higher_fencing_token(zk, zk_root):
    tokens = [
        make(zk, zk_root, cls, node_id=i).fencing_token
        for i, cls in enumerate((ZooKeeperArbitrator, ZooKeeperSignals, ZooKeeperArbitrator), 1)
    ]
    assert tokens == sorted(set(tokens)) and tokens[0] >= 1


def test_acked_position_survives_a_new_holder(zk, zk_root):
    first = make(zk, zk_root)
    assert first.acked_position() is None
    first.ack(7, Position("bin.000002", 1234, None, 99))
    first.flush()
    assert make(zk, zk_root).acked_position() == Position("bin.000002", 1234, None, 99)


def test_a_second_writer_is_fenced_off(zk, zk_root):
    first = make(zk, zk_root)
    second = make(zk, zk_root, node_id=2)
    second.ack(1, Position("bin.000001", 10))
    second.flush()
    first.ack(2, Position("bin.000001", 5))
    with pytest.raises(OwnershipLost):
        first.flush()
    assert make(zk, zk_root).acked_position() == Position("bin.000001", 10)


def test_permit_closes_for_every_holder(zk, zk_root):
    one, two = make(zk, zk_root), make(zk, zk_root)
    assert one.permit() and two.permit()
    one.set_permit(False, "paused by test")
    wait_for(lambda: not two.permit(), 10, "the permit to close on the other holder")
    assert two.reason == "paused by test"
    two.set_permit(True)
    wait_for(one.permit, 10, "the permit to open again")


def test_channel_state_pause_closes_the_permit(zk, zk_root):
    arbitrator = make(zk, zk_root)
    zk.set(Layout(zk_root).channel_state("ch"), b"PAUSE")
    wait_for(lambda: not arbitrator.permit(), 10, "PAUSE to close the permit")
    zk.set(Layout(zk_root).channel_state("ch"), b"START")
    wait_for(arbitrator.permit, 10, "START to open it")


def test_signals_flow_in_order_and_done_acks(zk, zk_root):
    select_side = make(zk, zk_root, ZooKeeperSignals, node_id=1)
    load_side = make(zk, zk_root, ZooKeeperSignals, node_id=2)
    epoch = select_side.begin_epoch("test")
    for pid in (3, 4, 5):
        select_side.publish(ReadySignal(pid, f"key-{pid}", Position("b.1", pid * 10), 1, epoch, 1))
    wait_for(lambda: load_side.epoch() == epoch and select_side.in_flight() == 3, 10, "signals")
    seen = []
    while len(seen) < 3:
        signal = load_side.next_ready(1.0)
        assert signal is not None
        seen.append(signal.process_id)
        load_side.done(signal)
    assert seen == [3, 4, 5]
    wait_for(lambda: select_side.in_flight() == 0, 10, "acks to clear the window")
    assert select_side.reload_position() == Position("b.1", 50)


def test_a_new_epoch_voids_older_signals(zk, zk_root):
    select_side = make(zk, zk_root, ZooKeeperSignals, node_id=1)
    load_side = make(zk, zk_root, ZooKeeperSignals, node_id=2)
    old = select_side.begin_epoch("first run")
    select_side.publish(ReadySignal(1, "old", Position("b.1", 1), 1, old, 1))
    load_side.rollback("load failed")
    wait_for(lambda: select_side.epoch() > old, 10, "the rollback to reach the select side")
    new = select_side.begin_epoch("second run")
    select_side.publish(ReadySignal(2, "new", Position("b.1", 1), 1, new, 1))
    wait_for(lambda: load_side.epoch() == new, 10, "the new epoch")
    signal = wait_for(lambda: load_side.next_ready(0.5), 10, "a signal of the new epoch")
    assert (signal.key, signal.epoch) == ("new", new)


def test_upcoming_reads_ahead_without_taking_and_done_acks_in_the_background(zk, zk_root):
    select_side = make(zk, zk_root, ZooKeeperSignals, node_id=1)
    load_side = make(zk, zk_root, ZooKeeperSignals, node_id=2)
    epoch = select_side.begin_epoch("test")
    for pid in range(10, 16):
        select_side.publish(ReadySignal(pid, f"key-{pid}", Position("b.1", pid * 10), 1, epoch, 1))
    wait_for(lambda: load_side.epoch() == epoch and len(load_side.upcoming(10, 0.2)) == 6, 10, "six signals")
    assert [s.process_id for s in load_side.upcoming(3, 0)] == [10, 11, 12]  # the lowest, not consumed
    for signal in load_side.upcoming(4, 0):
        load_side.done(signal)
    assert [s.process_id for s in load_side.upcoming(10, 0)] == [14, 15]  # done ones are never given again
    load_side.flush()  # what done() queued is in ZooKeeper now: the position and the deletes, together
    assert sorted(zk.get_children(load_side.ready_path)) == ["000000000014", "000000000015"]
    assert select_side.reload_position() == Position("b.1", 130)
    wait_for(lambda: select_side.in_flight() == 2, 10, "the window to see the deletes")
