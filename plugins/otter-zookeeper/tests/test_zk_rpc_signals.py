"""RpcSignals against a real ZooKeeper and real gRPC servers: signals node to node, acks and epoch in ZooKeeper."""

import secrets

import pytest
from zk_support import wait_for

from otter_core.spi import Arbitrator, NodeContext, Position, ReadySignal, StageSignals
from otter_zookeeper.layout import Layout, decode

pytest.importorskip("otter_grpc")
from otter_zookeeper.rpc_signals import RpcSignals


@pytest.fixture
def make(zk, zk_root, tmp_path):
    token = secrets.token_hex(16)
    made = []

    def build(node_id):
        node = NodeContext(node_id=node_id, auth_token=token, spool_dir=str(tmp_path / f"spool{node_id}"))
        signals = RpcSignals(zk, Layout(zk_root), "ch", "p1", node_id, node=node)
        made.append(signals)
        return signals

    yield build
    for signals in made:
        signals.close()


def batch(pid, epoch):
    return ReadySignal(pid, f"key-{pid}", Position("b.1", pid * 10), 1, epoch, 1)


def test_signals_go_node_to_node_and_acks_free_the_window(zk, zk_root, make):
    load_side = make(2)
    select_side = make(1)
    assert isinstance(load_side, Arbitrator) and isinstance(load_side, StageSignals)
    load_side.begin_load("test")
    target = decode(zk.get(Layout(zk_root).pipeline("ch", "p1", "signal_target"))[0])
    assert target["node"] == 2 and target["address"].startswith("127.0.0.1:")
    epoch = select_side.begin_epoch("test")
    for pid in (5, 6, 7):
        select_side.publish(batch(pid, epoch))
    assert select_side.in_flight() == 3
    wait_for(lambda: load_side.epoch() == epoch and len(load_side.upcoming(5, 0.2)) == 3, 10, "the signals")
    assert not zk.exists(Layout(zk_root).ready("ch", "p1"))  # nothing went through ready/ znodes
    for signal in load_side.upcoming(2, 0):
        load_side.done(signal)
    assert [s.process_id for s in load_side.upcoming(5, 0)] == [7]
    load_side.flush()
    assert select_side.reload_position() == Position("b.1", 60)
    wait_for(lambda: select_side.in_flight() == 1, 10, "the acked processId to free the window")


def test_a_new_load_stage_starts_a_new_epoch_so_lost_signals_are_read_again(zk, zk_root, make):
    first = make(2)
    select_side = make(1)
    first.begin_load("first T/L")
    epoch = select_side.begin_epoch("S/E")
    select_side.publish(batch(1, epoch))
    wait_for(lambda: first.epoch() == epoch and first.upcoming(1, 0.2), 10, "the first signal")
    first.close()  # the T/L node is gone with the signal it held
    second = make(3)
    second.begin_load("second T/L")
    wait_for(lambda: select_side.epoch() > epoch, 10, "S/E to see the new epoch (it re-reads from the ack)")
    assert second.upcoming(1, 0.3) == []  # the old epoch's signal is not re-delivered: it is re-read
    new_epoch = select_side.begin_epoch("S/E again")
    select_side.publish(batch(1001, new_epoch))
    signal = wait_for(lambda: second.upcoming(1, 0.2), 10, "a signal at the new T/L")[0]
    assert (signal.process_id, signal.epoch) == (1001, new_epoch)


def test_the_load_side_used_out_of_order_says_so(make):
    """done() before begin_load() and begin_load() after close() are named, not an AttributeError on None."""
    load_side = make(2)
    with pytest.raises(RuntimeError, match=r"done\(\) before begin_load\(\)"):
        load_side.done(batch(1, 0))
    load_side.begin_load("test")
    load_side.close()
    with pytest.raises(RuntimeError, match=r"begin_load\(\) after close\(\)"):
        load_side.begin_load("again")
