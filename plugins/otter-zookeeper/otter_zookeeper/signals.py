"""Stage signals of a split pipeline in ZooKeeper: ``ready/<processId>`` znodes from S/E to T/L.

S/E publishes one persistent znode per batch, in processId order, with the pipe key and the position;
T/L loads them in processId order and, in one ZooKeeper transaction, writes the acked position (versioned)
and deletes the znodes of the batches loaded since the last write. The ``epoch`` znode is the rollback
generation: S/E starts a new one at every (re)start, T/L starts one after a failed load; signals of an
older epoch are void (and deleted). ``EpochSignals`` is the part shared with arbitrate mode ``rpc``
(``rpc_signals.py``), where the signals themselves travel node to node.
"""

from __future__ import annotations

import abc
import logging
import threading
from typing import Any

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from otter_core.spi import Position, ReadySignal
from otter_zookeeper.arbitrator import ZooKeeperArbitrator
from otter_zookeeper.layout import decode, encode

log = logging.getLogger("otter.zookeeper.signals")


class EpochSignals(ZooKeeperArbitrator, abc.ABC):
    """A ZooKeeper arbitrator with the rollback generation (``epoch`` znode, watched) of split stages."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.epoch_path = self.layout.pipeline(self.channel, self.pipeline, "epoch")
        self.zk.ensure_path(self.epoch_path)
        self._changed = threading.Condition()
        self._epoch = 0
        self._closed = False
        self.zk.DataWatch(self.epoch_path, self._on_epoch)

    def _on_epoch(self, data: bytes | None, _stat: object) -> bool | None:
        with self._changed:
            self._epoch = int(decode(data, {"epoch": 0})["epoch"])
            self._changed.notify_all()
        return False if self._closed else None  # False: kazoo stops watching

    def epoch(self) -> int:
        return self._epoch

    def _bump_epoch(self, reason: str) -> int:
        while True:
            data, stat = self.zk.get(self.epoch_path)
            epoch = int(decode(data, {"epoch": 0})["epoch"]) + 1
            try:
                self.zk.set(
                    self.epoch_path,
                    encode({"epoch": epoch, "reason": reason, "node": self.node_id}),
                    version=stat.version,
                )
            except BadVersionError:
                continue
            with self._changed:
                self._epoch = max(self._epoch, epoch)
                self._changed.notify_all()
            return epoch

    def rollback(self, reason: str) -> None:
        epoch = self._bump_epoch(reason)
        log.warning("[%s] rollback to the acked position (epoch %d): %s", self.name, epoch, reason)

    def wait_changed(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def next_ready(self, timeout: float) -> ReadySignal | None:
        found = self.upcoming(1, timeout)
        return found[0] if found else None

    @abc.abstractmethod
    def upcoming(self, limit: int, timeout: float) -> list[ReadySignal]:
        """Up to ``limit`` ready signals of the current epoch, in processId order, waiting up to ``timeout``."""

    def close(self) -> None:
        """The stage ended: stop the watches of this object."""
        self._closed = True


def signal_from(process_id: int, value: dict[str, Any]) -> ReadySignal:
    return ReadySignal(
        process_id,
        value["key"],
        Position.from_dict(value["position"]),
        int(value.get("size", 0)),
        int(value["epoch"]),
        int(value.get("node", 0)),
    )


class ZooKeeperSignals(EpochSignals):
    """Arbitrate mode ``zookeeper``: the processId signals themselves are znodes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ready_path = self.layout.ready(self.channel, self.pipeline)
        self.zk.ensure_path(self.ready_path)
        self._children: list[str] = []
        self._cache: dict[str, ReadySignal] = {}  # T/L: signal data already read, by child name
        self._loaded: set[str] = set()  # T/L: loaded, the delete not yet written
        self._deletes: list[str] = []
        self.zk.ChildrenWatch(self.ready_path, self._on_children)

    def _on_children(self, children: list[str]) -> bool | None:
        with self._changed:
            self._children = sorted(children)
            present = set(children)
            for gone in [name for name in self._cache if name not in present]:
                del self._cache[gone]
            self._loaded &= present
            self._changed.notify_all()
        return False if self._closed else None

    def begin_epoch(self, reason: str) -> int:
        epoch = self._bump_epoch(reason)
        for child in self.zk.get_children(self.ready_path):
            try:
                self.zk.delete(f"{self.ready_path}/{child}")
            except NoNodeError:
                pass
        self.reload_position()
        return epoch

    def begin_load(self, reason: str) -> None:
        """T/L (re)starts: the ready znodes outlive a T/L node, nothing to do."""

    def publish(self, signal: ReadySignal) -> None:
        payload = encode(
            {
                "key": signal.key,
                "position": signal.position.to_dict(),
                "size": signal.size,
                "epoch": signal.epoch,
                "node": signal.node_id,
            }
        )
        try:
            self.zk.create(self.layout.ready(self.channel, self.pipeline, signal.process_id), payload)
        except NodeExistsError:  # a retry of the same create after a connection loss
            pass

    def in_flight(self) -> int:
        return len(self._children)

    def upcoming(self, limit: int, timeout: float) -> list[ReadySignal]:
        """Up to ``limit`` signals of the current epoch in processId order. Data not read yet is read with
        pipelined requests (one round trip for all of them); what was read once is kept."""
        with self._changed:
            if not [c for c in self._children if c not in self._loaded]:
                self._changed.wait(timeout)
            children = [c for c in self._children if c not in self._loaded]
            cached = dict(self._cache)
        epoch = self._epoch
        found: list[ReadySignal] = []
        while children and len(found) < limit:
            chunk, children = children[: limit - len(found)], children[limit - len(found) :]
            missing = {
                name: self.zk.get_async(f"{self.ready_path}/{name}") for name in chunk if name not in cached
            }
            for name, request in missing.items():
                try:
                    data, _ = request.get(timeout=30)
                except NoNodeError:
                    continue
                cached[name] = signal_from(int(name), decode(data))
            for name in chunk:
                signal = cached.get(name)
                if signal is None:
                    continue
                if signal.epoch > epoch:
                    return found  # from an epoch this process has not seen yet: the watch will catch up
                if signal.epoch < epoch:  # void: its S/E run was rolled back
                    self.zk.delete_async(f"{self.ready_path}/{name}")
                    continue
                found.append(signal)
        with self._changed:
            for signal in found:
                name = f"{signal.process_id:012d}"
                if name in self._children:
                    self._cache[name] = signal
        return found

    def done(self, signal: ReadySignal) -> None:
        """Ack the batch: the position and the znode's delete are written together, in the background (several
        loads in one transaction when ZooKeeper is far away); ``flush`` writes them at once."""
        name = f"{signal.process_id:012d}"
        with self._changed:
            self._loaded.add(name)
        with self._saving:
            self._deletes.append(f"{self.ready_path}/{name}")
        self.ack(signal.process_id, signal.position)

    def flush(self) -> None:
        with self._write_lock:
            with self._saving:
                unsaved, self._unsaved = self._unsaved, None
                deletes, self._deletes = self._deletes, []
            if unsaved is not None:
                applied = self.write_position(*unsaved, lambda tx: [tx.delete(path) for path in deletes])
                if not applied:  # a rollback deleted some of them already: delete the rest one by one
                    for path in deletes:
                        try:
                            self.zk.delete(path)
                        except NoNodeError:
                            pass
        if self._write_error is not None:
            raise self._write_error
