"""Stage signals of a split pipeline in ZooKeeper: ``ready/<processId>`` znodes from S/E to T/L.

S/E publishes one persistent znode per batch, in processId order, with the pipe key and the position;
T/L loads them in processId order and, in one ZooKeeper transaction, writes the acked position (versioned)
and deletes the znode. The ``epoch`` znode is the rollback generation: S/E starts a new one at every
(re)start, T/L starts one after a failed load; signals of an older epoch are void (and deleted).
"""
from __future__ import annotations

import logging
import threading

from kazoo.exceptions import BadVersionError, NoNodeError, NodeExistsError

from otter_core.model import Position
from otter_core.model.node import ReadySignal
from otter_zookeeper.arbitrator import ZooKeeperArbitrator
from otter_zookeeper.layout import decode, encode

log = logging.getLogger("otter.zookeeper.signals")


class ZooKeeperSignals(ZooKeeperArbitrator):
    """A ZooKeeper arbitrator that also carries the processId signals of split stages."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ready_path = self.layout.ready(self.channel, self.pipeline)
        self.epoch_path = self.layout.pipeline(self.channel, self.pipeline, "epoch")
        self.zk.ensure_path(self.ready_path)
        self.zk.ensure_path(self.epoch_path)
        self._changed = threading.Condition()
        self._children: list[str] = []
        self._epoch = 0
        self.zk.DataWatch(self.epoch_path, self._on_epoch)
        self.zk.ChildrenWatch(self.ready_path, self._on_children)

    def _on_epoch(self, data: bytes | None, _stat: object) -> None:
        with self._changed:
            self._epoch = int(decode(data, {"epoch": 0})["epoch"])
            self._changed.notify_all()

    def _on_children(self, children: list[str]) -> None:
        with self._changed:
            self._children = sorted(children)
            self._changed.notify_all()

    def epoch(self) -> int:
        return self._epoch

    def _bump_epoch(self, reason: str) -> int:
        while True:
            data, stat = self.zk.get(self.epoch_path)
            epoch = int(decode(data, {"epoch": 0})["epoch"]) + 1
            try:
                self.zk.set(self.epoch_path, encode({"epoch": epoch, "reason": reason, "node": self.node_id}),
                            version=stat.version)
            except BadVersionError:
                continue
            with self._changed:
                self._epoch = max(self._epoch, epoch)
                self._changed.notify_all()
            return epoch

    def begin_epoch(self, reason: str) -> int:
        epoch = self._bump_epoch(reason)
        for child in self.zk.get_children(self.ready_path):
            try:
                self.zk.delete(f"{self.ready_path}/{child}")
            except NoNodeError:
                pass
        self.reload_position()
        return epoch

    def rollback(self, reason: str) -> None:
        epoch = self._bump_epoch(reason)
        log.warning("[%s] rollback to the acked position (epoch %d): %s", self.name, epoch, reason)

    def publish(self, signal: ReadySignal) -> None:
        payload = encode({"key": signal.key, "position": signal.position.to_dict(), "size": signal.size,
                          "epoch": signal.epoch, "node": signal.node_id})
        try:
            self.zk.create(self.layout.ready(self.channel, self.pipeline, signal.process_id), payload)
        except NodeExistsError:  # a retry of the same create after a connection loss
            pass

    def in_flight(self) -> int:
        return len(self._children)

    def wait_changed(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def next_ready(self, timeout: float) -> ReadySignal | None:
        with self._changed:
            if not self._children:
                self._changed.wait(timeout)
            children = list(self._children)
        for child in children:
            path = f"{self.ready_path}/{child}"
            try:
                data, _ = self.zk.get(path)
            except NoNodeError:
                continue
            value = decode(data)
            signal = ReadySignal(int(child), value["key"], Position.from_dict(value["position"]),
                                 int(value.get("size", 0)), int(value["epoch"]), int(value.get("node", 0)))
            if signal.epoch == self._epoch:
                return signal
            if signal.epoch < self._epoch:  # void: its S/E run was rolled back
                try:
                    self.zk.delete(path)
                except NoNodeError:
                    pass
                continue
            return None  # from an epoch this process has not seen yet: the watch will catch up
        return None

    def done(self, signal: ReadySignal) -> None:
        path = self.layout.ready(self.channel, self.pipeline, signal.process_id)
        self._acked = signal.position
        self.write_position(signal.process_id, signal.position, lambda tx: tx.delete(path))
