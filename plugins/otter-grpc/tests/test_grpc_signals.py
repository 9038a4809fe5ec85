"""Ready signals over gRPC (arbitrate mode rpc): a real server and sender on loopback, with the node token."""

import threading
import time

import attrs

from otter_core.spi import Position, ReadySignal
from otter_grpc.signals import InboxService, SignalInbox, SignalSender


def signal(process_id, epoch=1):
    return ReadySignal(
        process_id,
        f"rpc:h:1/p/{process_id}",
        Position("bin.000001", process_id * 10, timestamp=1700000000 + process_id),
        size=process_id * 100,
        epoch=epoch,
        node_id=1,
    )


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_inbox_gives_signals_in_process_id_order_of_the_current_epoch_and_ignores_repeats():
    epoch = {"now": 2}
    inbox = SignalInbox("ch/p1", lambda: epoch["now"])
    assert inbox.offer([signal(5, 2), signal(3, 2), signal(4, 1), signal(9, 3)]) == 3  # epoch 1 is void
    assert [s.process_id for s in inbox.upcoming(10, 0)] == [3, 5]  # epoch 3 waits for its epoch
    inbox.done(signal(3, 2))
    assert inbox.offer([signal(3, 2), signal(5, 2)]) == 0  # a re-sent burst: loaded and known ones ignored
    epoch["now"] = 3
    assert [s.process_id for s in inbox.upcoming(10, 0)] == [9]  # 5 of epoch 2 is dropped now
    assert len(inbox) == 1


def test_inbox_upcoming_waits_for_a_signal():
    inbox = SignalInbox("ch/p1", lambda: 1)
    threading.Timer(0.2, lambda: inbox.offer([signal(7)])).start()
    started = time.monotonic()
    assert [s.process_id for s in inbox.upcoming(1, 10)] == [7]
    assert time.monotonic() - started < 5
    assert inbox.upcoming(1, 0.05) == [signal(7)]


def test_sender_delivers_in_order_and_keeps_trying_until_the_inbox_is_served(node, tmp_path):
    inbox = SignalInbox("ch/p1", lambda: 1)
    receiver = attrs.evolve(node, node_id="loader", spool_dir=str(tmp_path / "loader"))
    target = {"address": None}
    sender = SignalSender(node, "ch/p1", lambda: target["address"])
    try:
        for pid in range(1, 6):
            sender.publish(signal(pid))
        wait_for(lambda: "no transform/load" in sender.last_error)  # its thread tried: nowhere to send yet
        assert sender.pending() == 5
        service = InboxService(receiver, inbox)
        other = InboxService(receiver, SignalInbox("ch/other", lambda: 1))  # same server, another pipeline
        target["address"] = service.address
        wait_for(lambda: len(inbox) == 5)
        got = inbox.upcoming(10, 0)
        assert got == [signal(pid) for pid in range(1, 6)]  # every field survives the trip
        assert got[0].position.timestamp == 1700000001
        for pid in range(6, 206):
            sender.publish(signal(pid))
        wait_for(lambda: sender.pending() == 0 and len(inbox) == 205)
        assert sender.calls < 100, "signals queued meanwhile travel in one call"
        assert [s.process_id for s in inbox.upcoming(300, 0)] == list(range(1, 206))
        other.close()
        service.close()
    finally:
        sender.close()


def test_a_pipeline_without_inbox_or_a_wrong_token_is_refused(node, tmp_path):
    receiver = attrs.evolve(node, node_id="loader", spool_dir=str(tmp_path / "loader"))
    inbox = SignalInbox("ch/p1", lambda: 1)
    service = InboxService(receiver, inbox)
    wrong_pipeline = SignalSender(node, "ch/nope", lambda: service.address)
    stranger = SignalSender(attrs.evolve(node, auth_token="not-the-token"), "ch/p1", lambda: service.address)
    try:
        wrong_pipeline.publish(signal(1))
        stranger.publish(signal(2))
        wait_for(lambda: wrong_pipeline.last_error and stranger.last_error)
        assert "no transform/load stage of pipeline 'ch/nope'" in wrong_pipeline.last_error
        assert "refused" in stranger.last_error and "not-the-token" not in stranger.last_error
        assert len(inbox) == 0 and wrong_pipeline.pending() == 1 and stranger.pending() == 1
        stranger.reset()  # a new epoch drops what was queued
        assert stranger.pending() == 0
    finally:
        wrong_pipeline.close()
        stranger.close()
        service.close()
