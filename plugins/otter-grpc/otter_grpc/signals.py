"""Stage signals over gRPC (arbitrate mode ``rpc``): S/E pushes "batch ready" to T/L, node to node.

``SignalInbox`` is the Transform/Load side: the node's pipe server hands it the signals a peer sends, it
keeps them by processId and gives them out in processId order, the current epoch only. ``SignalSender``
is the Select/Extract side: a thread that sends what was published, in order, several signals per call,
and sends them again (repeats are ignored by the inbox) until they are accepted or the epoch ends.
Neither side keeps anything durable: a signal lost with a dead node is recovered by the epoch rule (the new
Transform/Load starts a new epoch, Select/Extract re-reads from the acked position in ZooKeeper).
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable

import grpc

from otter_core.spi import NodeContext, Position, ReadySignal
from otter_grpc import otter_pipe_pb2 as pb
from otter_grpc.client import PipeClient, pipe_error
from otter_grpc.server import NodeServer

log = logging.getLogger("otter.grpc.signals")
SEND_TIMEOUT_SECONDS = 30.0
MAX_SIGNALS_PER_CALL = 500
RETRY_SECONDS = (0.05, 0.2, 0.5, 1.0, 2.0)


def to_message(signal: ReadySignal) -> pb.ReadySignal:
    return pb.ReadySignal(
        process_id=signal.process_id,
        key=signal.key,
        position=json.dumps(signal.position.to_dict(), sort_keys=True),
        size=signal.size,
        epoch=signal.epoch,
        node_id=int(signal.node_id),
    )


def from_message(message: pb.ReadySignal) -> ReadySignal:
    return ReadySignal(
        message.process_id,
        message.key,
        Position.from_dict(json.loads(message.position)),
        message.size,
        message.epoch,
        message.node_id,
    )


class SignalInbox:
    """Ready signals of one pipeline on its Transform/Load node, in processId order.

    ``epoch()`` is the current epoch (the caller's ZooKeeper watch): older signals are dropped, newer ones
    wait until the epoch catches up. A processId already handed out is never accepted again."""

    def __init__(self, pipeline: str, epoch: Callable[[], int]) -> None:
        self.pipeline = pipeline
        self.epoch = epoch
        self._signals: dict[int, ReadySignal] = {}
        self._done_through = -1  # processIds up to here were loaded (or voided): repeats are ignored
        self._changed = threading.Condition()

    def offer(self, signals: Iterable[ReadySignal]) -> int:
        """Keep the signals not seen before; returns how many were new."""
        current = self.epoch()
        accepted = 0
        with self._changed:
            for signal in signals:
                if signal.epoch < current or signal.process_id <= self._done_through:
                    continue
                if signal.process_id not in self._signals:
                    self._signals[signal.process_id] = signal
                    accepted += 1
            if accepted:
                self._changed.notify_all()
        return accepted

    def wake(self) -> None:
        """The epoch changed: let a waiting ``upcoming`` look again."""
        with self._changed:
            self._changed.notify_all()

    def clear(self) -> None:
        with self._changed:
            self._signals.clear()
            self._changed.notify_all()

    def upcoming(self, limit: int, timeout: float) -> list[ReadySignal]:
        """Up to ``limit`` signals of the current epoch, lowest processId first (waits up to ``timeout``
        for the first one). Signals of older epochs are dropped on the way."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                current = self.epoch()
                found = []
                for process_id in sorted(self._signals):
                    signal = self._signals[process_id]
                    if signal.epoch < current:
                        del self._signals[process_id]
                    elif signal.epoch == current:
                        found.append(signal)
                        if len(found) >= limit:
                            break
                left = deadline - time.monotonic()
                if found or left <= 0:
                    return found
                self._changed.wait(left)

    def done(self, signal: ReadySignal) -> None:
        with self._changed:
            self._signals.pop(signal.process_id, None)
            self._done_through = max(self._done_through, signal.process_id)

    def __len__(self) -> int:
        return len(self._signals)


class InboxService:
    """Serve a ``SignalInbox`` on this node's pipe server (the one the pipes use: same port, same auth)."""

    def __init__(self, node: NodeContext, inbox: SignalInbox) -> None:
        self.inbox = inbox
        self.server = NodeServer.acquire(node)
        self.server.add_inbox(inbox.pipeline, inbox)

    @property
    def address(self) -> str:
        return self.server.address

    def close(self) -> None:
        self.server.remove_inbox(self.inbox.pipeline, self.inbox)


class SignalSender:
    """Sends the signals ``publish``ed to the address ``target()`` names (None: no T/L yet), in order.

    One thread; each call carries every signal queued meanwhile, so a 100 ms WAN costs one round trip per
    burst, not per batch. A refused or failed call is repeated (with the target looked up again) until it
    is accepted or ``reset`` drops the queue at a new epoch."""

    def __init__(self, node: NodeContext, pipeline: str, target: Callable[[], str | None]) -> None:
        self.node = node
        self.pipeline = pipeline
        self.target = target
        self._queue: collections.deque[ReadySignal] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._generation = 0
        self.calls = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._loop, name=f"signal-{pipeline}", daemon=True)
        self._thread.start()

    def publish(self, signal: ReadySignal) -> None:
        with self._cond:
            self._queue.append(signal)
            self._cond.notify_all()

    def reset(self) -> None:
        """A new epoch: the queued signals are void."""
        with self._cond:
            self._queue.clear()
            self._generation += 1
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _loop(self) -> None:
        failures = 0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return
                batch = list(self._queue)[:MAX_SIGNALS_PER_CALL]
                generation = self._generation
            try:
                self._send(batch)
            except Exception as exc:
                failures += 1
                self.last_error = str(exc)
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1]
                refused = getattr(exc, "retryable", True) is False  # a token or certificate the peer refuses
                level = (
                    logging.WARNING
                    if refused or failures % 50 == 0
                    else logging.INFO
                    if failures == 1
                    else logging.DEBUG
                )
                log.log(
                    level,
                    "[%s] %d ready signal(s) not delivered (%s): again in %.2fs",
                    self.pipeline,
                    len(batch),
                    exc,
                    delay,
                )
                with self._cond:
                    self._cond.wait_for(functools.partial(self._moved_on, generation), timeout=delay)
                continue
            failures = 0
            with self._cond:
                if self._generation == generation:  # else reset() already dropped them
                    for _ in batch:
                        self._queue.popleft()

    def _moved_on(self, generation: int) -> bool:
        """Closed, or reset() since ``generation``: stop waiting to send that batch again."""
        return self._closed or self._generation != generation

    def _send(self, batch: list[ReadySignal]) -> None:
        address = self.target()
        if not address:
            raise ConnectionError("no transform/load stage has announced itself yet")
        client = PipeClient(self.node, address)
        request = pb.SignalRequest(pipeline=self.pipeline, signals=[to_message(s) for s in batch])
        try:
            client.stub.Signal(request, metadata=client.metadata, timeout=SEND_TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            raise pipe_error(exc, f"{len(batch)} ready signal(s) of {self.pipeline}", address) from None
        self.calls += 1
