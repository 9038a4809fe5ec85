"""Arbitrate mode ``rpc``: the ready signals travel node to node over gRPC; ZooKeeper keeps the rest.

As in otter 4, ZooKeeper still holds the permit, the elections, the processId counter, the epoch and the
acked positions; only the per-batch "batch ready" signals leave it. The Transform/Load stage serves a
``SignalInbox`` on its node's pipe server (same port and authentication as the pipes) and announces the
address in the ephemeral ``signal_target`` znode; the Select/Extract stage pushes every signal there
(``SignalSender``: in order, many per call). Acks are written to ``position`` in the background, and
the S/E side counts its batches in flight against the acked processId it watches there.

Failover: signals live only in the T/L node's memory. A T/L stage therefore starts a new epoch every time
it starts; S/E sees it, re-reads from the acked position and pushes to the new T/L. A signal lost with a
dead node is thus always re-sent as a re-read from the acked position (Load is idempotent).
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import TYPE_CHECKING

from kazoo.exceptions import NodeExistsError, NoNodeError

from otter_core.spi import ConfigError, NodeContext, ReadySignal
from otter_zookeeper.layout import decode, encode
from otter_zookeeper.signals import EpochSignals

if TYPE_CHECKING:  # otter-grpc is imported only when a pipeline uses it (see _grpc_signals)
    from otter_grpc.signals import InboxService, SignalInbox, SignalSender

log = logging.getLogger("otter.zookeeper.rpc")


def _grpc_signals():
    try:
        from otter_grpc import signals
    except ImportError:
        raise ConfigError(
            "arbitrate mode rpc sends the stage signals over gRPC: install plugins/otter-grpc on "
            "every node (or use arbitrate mode zookeeper)"
        ) from None
    return signals


class RpcSignals(EpochSignals):
    """Stage signals of one pipeline over gRPC; ``node`` is this node's network identity and secrets."""

    def __init__(self, *args, node: NodeContext, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.grpc = _grpc_signals()
        self.node = node
        self.target_path = self.layout.pipeline(self.channel, self.pipeline, "signal_target")
        self._target: str | None = None
        self._acked_id = -1
        self._published: collections.deque[int] = collections.deque()
        self._lock = threading.Lock()
        self._sender: SignalSender | None = None
        self._inbox: SignalInbox | None = None
        self._service: InboxService | None = None
        self.zk.DataWatch(self.target_path, self._on_target)
        self.zk.DataWatch(self.position_path, self._on_position)

    # -- watches --------------------------------------------------------------------------------------
    def _on_target(self, data: bytes | None, _stat: object) -> bool | None:
        self._target = decode(data, {}).get("address")
        return False if self._closed else None

    def _on_position(self, data: bytes | None, _stat: object) -> bool | None:
        self._acked_id = int(decode(data, {}).get("process_id", -1))
        return False if self._closed else None

    def _on_epoch(self, data: bytes | None, stat: object) -> bool | None:
        result = super()._on_epoch(data, stat)
        inbox = getattr(self, "_inbox", None)  # the first call comes from EpochSignals.__init__
        if inbox is not None:
            inbox.wake()
        return result

    def target(self) -> str | None:
        """The address of the pipe server of the node that runs Transform/Load (None: none announced)."""
        return self._target

    # -- Select/Extract side --------------------------------------------------------------------------
    def begin_epoch(self, reason: str) -> int:
        epoch = self._bump_epoch(reason)
        with self._lock:
            self._published.clear()
            if self._sender is not None:
                self._sender.reset()
        self.reload_position()
        return epoch

    def publish(self, signal: ReadySignal) -> None:
        with self._lock:
            if self._sender is None:
                self._sender = self.grpc.SignalSender(self.node, self.name, self.target)
            self._published.append(signal.process_id)
            self._sender.publish(signal)

    def in_flight(self) -> int:
        """S/E: batches published and not acked yet; T/L: signals waiting in the inbox."""
        with self._lock:
            while self._published and self._published[0] <= self._acked_id:
                self._published.popleft()
            waiting = len(self._published)
        return waiting + (len(self._inbox) if self._inbox is not None else 0)

    # -- Transform/Load side --------------------------------------------------------------------------
    def begin_load(self, reason: str) -> None:
        """T/L (re)starts: serve the inbox, announce it, and start a new epoch (signals sent to an earlier
        T/L are lost with it: S/E re-reads from the acked position)."""
        inbox, service = self._inbox, self._service
        if inbox is None:
            inbox = self.grpc.SignalInbox(self.name, self.epoch)
            service = self.grpc.InboxService(self.node, inbox)
            self._inbox, self._service = inbox, service
        if service is None:
            raise RuntimeError("begin_load() after close()")
        value = encode({"node": self.node_id, "address": service.address})
        try:
            self.zk.create(self.target_path, value, ephemeral=True)
        except NodeExistsError:  # left by an earlier session of a T/L, or by this one's earlier run
            self.zk.set(self.target_path, value)
        inbox.clear()
        epoch = self._bump_epoch(reason)
        log.info(
            "[%s] transform/load takes ready signals at %s (epoch %d)",
            self.name,
            service.address,
            epoch,
        )

    def upcoming(self, limit: int, timeout: float) -> list[ReadySignal]:
        if self._inbox is None:
            raise RuntimeError("upcoming() before begin_load()")
        return self._inbox.upcoming(limit, timeout)

    def done(self, signal: ReadySignal) -> None:
        """Acked in the background (the newest position wins); ``flush`` writes it at once."""
        if self._inbox is None:
            raise RuntimeError("done() before begin_load()")
        self._inbox.done(signal)
        self.ack(signal.process_id, signal.position)

    def close(self) -> None:
        super().close()
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()
        if self._service is not None:
            self._service.close()
            self._service = None
            try:
                data, _ = self.zk.get(self.target_path)
                if decode(data, {}).get("node") == self.node_id:
                    self.zk.delete(self.target_path)
            except NoNodeError:
                pass
            except Exception:  # the session is gone: the ephemeral znode goes with it
                log.debug("could not remove %s", self.target_path, exc_info=True)
